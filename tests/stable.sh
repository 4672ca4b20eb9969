#!/bin/bash
# stable.sh: the output changes only where the meaning changes
# (LANGUAGE.md, doc/hacking.md). Checked on every target (-t iptables,
# ip6tables, nft) and on --graph:
#
#   1. every example, edited without changing a route: a comment and blank
#      lines added at the top, the route blocks in reverse order, the
#      defines in reverse order, the listen lines of each route in reverse
#      order, other whitespace (tabs for spaces, comments at line ends):
#      the same bytes;
#   2. a file whose routes and defines live in include files: the includes
#      swapped, the routes of an included file reversed, its defines
#      reversed, comments added to it, a define moved to another file, the
#      members of an allow set reversed: the same bytes;
#   3. the options the header records: -D in any order, a -D value spaced
#      in any way, --nft-table and -t in any order, an option at its
#      default given or not, --nft-table on iptables, options that change
#      no output (-I, -W, --color): the same bytes (also for --explain and
#      --explain=json); a -D that repeats the source's value changes only
#      the header's "Compiled with" line (and --explain's lines about it);
#   4. the header's "Compiled with" line, run as it is, writes the same
#      bytes again: for every golden case with arguments, every example,
#      a file whose name starts with '-', and standard input;
#   5. changing one server of one route changes no output line that names
#      another route.
# Ends with "N passed, N failed".
set -uo pipefail
export LC_ALL=C
unset TCPROUTEC_PATH
root=$(cd "$(dirname "$0")/.." && pwd)
tc="$root/tcproutec"
[ -x "$tc" ] || { echo "stable: $tc: no such executable (run make first)"; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/v"
passed=0 failed=0
pass() { passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }

outputs=("-t iptables" "-t ip6tables" "-t nft" "--graph" "-t iptables --coexist" "-t nft --coexist")

# edit MODE IN OUT: IN edited in a way that changes no route.
#   routes   the route blocks (`route NAME {` to a `}` at column 1) reversed
#   defines  the one-line defines reversed, each in another's place
#   listens  the listen lines of each route reversed among themselves
#   blanks   indentation as tabs, and a comment at the end of each line
#            that opens or closes a block
edit() {
    python3 - "$@" <<'PY'
import re, sys
mode, src, dst = sys.argv[1:4]
lines = open(src).read().split('\n')
def reverse_at(idx):
    vals = [lines[i] for i in idx]
    for i, v in zip(idx, reversed(vals)):
        lines[i] = v
if mode == 'routes':
    head, blocks, cur = [], [], None
    for l in lines:
        if cur is None and l.startswith('route '):
            cur = [l]
        elif cur is not None:
            cur.append(l)
            if l.startswith('}'):
                blocks.append(cur)
                cur = None
        else:
            head.append(l)
    lines = head + [l for b in reversed(blocks) for l in b]
elif mode == 'defines':
    reverse_at([i for i, l in enumerate(lines) if l.startswith('define ')])
elif mode == 'listens':
    block = []
    for i, l in enumerate(lines):
        if l.startswith('route '):
            block = []
        elif l.lstrip().startswith('listen '):
            block.append(i)
        elif l.startswith('}'):
            reverse_at(block)
            block = []
elif mode == 'blanks':
    out = []
    for l in lines:
        l = re.sub(r'^    ', '\t', l)
        if re.search(r'[{}]\s*$', l):
            l += '    # a reviewer\'s note'
        out.append(l)
    lines = out
open(dst, 'w').write('\n'.join(lines))
PY
}

# same LABEL DIR_A DIR_B FILE OUTPUT [OPTION...]: FILE compiled in DIR_A
# and in DIR_B with the same options gives the same bytes.
same() {
    s_label=$1 s_a=$2 s_b=$3 s_file=$4 s_out=$5
    shift 5
    # shellcheck disable=SC2086 # $s_out is an option and its value
    if ! (cd "$s_a" && "$tc" $s_out "$@" "$s_file") > "$tmp/a.out" 2> "$tmp/a.err"; then
        fail "$s_label ($s_out): the unedited source does not compile:"
        head -5 "$tmp/a.err"
        return
    fi
    # shellcheck disable=SC2086
    if (cd "$s_b" && "$tc" $s_out "$@" "$s_file") > "$tmp/b.out" 2> "$tmp/b.err" &&
       cmp -s "$tmp/a.out" "$tmp/b.out"; then
        pass
    else
        fail "$s_label ($s_out): the edited source changes the output"
        head -5 "$tmp/b.err"
        diff "$tmp/a.out" "$tmp/b.out" | head -5
    fi
}

# ---- 1. the examples ---------------------------------------------------------

for src in "$root"/examples/*.tr; do
    name=$(basename "$src" .tr)
    rm -rf "$tmp/base" && mkdir -p "$tmp/base" && cp "$src" "$tmp/base/$name.tr"
    for variant in comment routes defines listens blanks; do
        rm -rf "$tmp/v" && mkdir -p "$tmp/v"
        if [ "$variant" = comment ]; then
            { printf '# a reviewer'"'"'s note\n\n\n'; cat "$src"; } > "$tmp/v/$name.tr"
        else
            edit "$variant" "$src" "$tmp/v/$name.tr"
        fi
        if cmp -s "$src" "$tmp/v/$name.tr" && [ "$variant" != listens ]; then
            fail "$name.tr: the '$variant' edit changed nothing: the test edits no longer fit the examples"
            continue
        fi
        for out in "${outputs[@]}"; do
            same "$name.tr, $variant" "$tmp/base" "$tmp/v" "$name.tr" "$out"
        done
    done
done

# ---- 2. include files --------------------------------------------------------

# A main file that only includes, an include of defines, an include of
# routes: the layout of a PaaS that generates one file per team.
inc_case() {
    d=$1
    mkdir -p "$d/teams"
    cat > "$d/main.tr" <<'EOF'
# the gateway: shared defines, then each team's routes
include "defs.tr"
include "teams/apps.tr"
define snat_to = 10.0.0.1
defaults {
    snat $snat_to
}
EOF
    cat > "$d/defs.tr" <<'EOF'
define public = 192.0.2.1
define office = { 198.51.100.0/25, 203.0.113.7, 198.51.100.128/25 }
define web = { 10.0.0.2, 10.0.0.3 }
define api = { 10.0.0.4, 10.0.0.5, 10.0.0.6 }
define ports = 9000-9009
EOF
    cat > "$d/teams/apps.tr" <<'EOF'
route web {
    listen tcp $public:80
    listen tcp $public:443
    listen udp $public:443
    server $web
}
route api {
    listen tcp $public:8080
    server $api:8080 weight 3
    allow from $office
    balance roundrobin
}
route admin {
    listen tcp $public:2222
    server 10.0.0.9:22
    allow from $office
    snat masquerade
    affinity client-ip timeout 1h
}
route batch {
    listen tcp $public:$ports
    server 10.0.0.10
}
EOF
}
rm -rf "$tmp/inc" && inc_case "$tmp/inc"
# inc_variant NAME: a copy of the include case, ready to edit.
inc_variant() {
    rm -rf "$tmp/iv" && cp -r "$tmp/inc" "$tmp/iv"
}
check_inc() {
    for out in "${outputs[@]}"; do
        same "include case, $1" "$tmp/inc" "$tmp/iv" main.tr "$out"
    done
}
inc_variant
sed -i -e 's|^include "defs.tr"|include "teams/apps.tr"|;t' -e 's|^include "teams/apps.tr"|include "defs.tr"|' "$tmp/iv/main.tr"
check_inc "the two includes swapped"
inc_variant && edit routes "$tmp/inc/teams/apps.tr" "$tmp/iv/teams/apps.tr"
check_inc "the routes of the included file reversed"
inc_variant && edit defines "$tmp/inc/defs.tr" "$tmp/iv/defs.tr"
check_inc "the defines of the included file reversed"
inc_variant && edit listens "$tmp/inc/teams/apps.tr" "$tmp/iv/teams/apps.tr"
check_inc "the listen lines of an included route reversed"
inc_variant && edit blanks "$tmp/inc/teams/apps.tr" "$tmp/iv/teams/apps.tr"
{ printf '\n# shared by every team\n\n'; cat "$tmp/inc/defs.tr"; } > "$tmp/iv/defs.tr"
check_inc "comments and whitespace in both included files"
inc_variant
grep -v '^define snat_to' "$tmp/inc/main.tr" > "$tmp/iv/main.tr"
echo 'define snat_to = 10.0.0.1' >> "$tmp/iv/defs.tr"
check_inc "a define moved from the main file to an included one"
inc_variant
sed -i 's|^define office = .*|define office = { 198.51.100.128/25, 203.0.113.7, 198.51.100.0/25 }|' "$tmp/iv/defs.tr"
check_inc "the members of an allow set reordered"

# ---- 3. options --------------------------------------------------------------

# opts_same LABEL OUTPUT "OPTIONS A" "OPTIONS B": the include case compiled
# with either set of options (words split on blanks; a word with a blank
# is written with @ for the blank) gives the same bytes.
opts_same() {
    o_label=$1 o_out=$2
    read -r -a o_a <<< "$3"
    read -r -a o_b <<< "$4"
    o_a=("${o_a[@]//@/ }") o_b=("${o_b[@]//@/ }")
    # shellcheck disable=SC2086
    if ! (cd "$tmp/inc" && "$tc" $o_out "${o_a[@]}" main.tr) > "$tmp/a.out" 2> "$tmp/a.err"; then
        fail "options, $o_label ($o_out): '$3' does not compile:"; head -5 "$tmp/a.err"
        return
    fi
    # shellcheck disable=SC2086
    if (cd "$tmp/inc" && "$tc" $o_out "${o_b[@]}" main.tr) > "$tmp/b.out" 2> "$tmp/b.err" &&
       cmp -s "$tmp/a.out" "$tmp/b.out"; then
        pass
    else
        fail "options, $o_label ($o_out): '$3' and '$4' give different bytes"
        head -5 "$tmp/b.err"
        diff "$tmp/a.out" "$tmp/b.out" | head -5
    fi
}
for out in "-t iptables" "-t nft" "--explain" "--explain=json" "--graph"; do
    opts_same "-D order" "$out" \
        "-D public=192.0.2.9 -D web={10.0.0.7,10.0.0.8} -D office=192.0.2.128/25" \
        "-D office=192.0.2.128/25 -D web={10.0.0.7,10.0.0.8} -D public=192.0.2.9"
    opts_same "-D spacing" "$out" \
        "-D web={10.0.0.7,10.0.0.8} -D ports=9100-9101" \
        "-D web=@{@@10.0.0.7@,10.0.0.8,@}@ -D ports=@9100@-@9101@"
    opts_same "options that change no output" "$out" \
        "-D public=192.0.2.9" \
        "-W no-unused-define -D public=192.0.2.9 -I $tmp --color=always -W error"
done
opts_same "-t and --nft-table in any order" "" \
    "-t nft --nft-table gw -D public=192.0.2.9" "--nft-table gw -D public=192.0.2.9 -t nft"
opts_same "--nft-table at its default" "" "-t nft" "-t nft --nft-table tcproutec"
opts_same "--nft-table on iptables changes nothing" "" "-t iptables" "-t iptables --nft-table gw"
opts_same "--nft-table on --explain changes nothing" "" "--explain=json" "--explain=json -t iptables --nft-table gw"

# A -D that repeats the source's value: only the record of it changes.
for out in "-t iptables" "-t ip6tables" "-t nft" "--graph" "--explain"; do
    # shellcheck disable=SC2086
    (cd "$tmp/inc" && "$tc" $out main.tr) > "$tmp/a.out"
    # shellcheck disable=SC2086
    (cd "$tmp/inc" && "$tc" $out -D public=192.0.2.1 main.tr) > "$tmp/b.out"
    changed=$(diff "$tmp/a.out" "$tmp/b.out" | grep '^[<>]')
    case $out in
        -t*) want="< # Compiled with: tcproutec $out main.tr
> # Compiled with: tcproutec $out -D public=192.0.2.1 main.tr" ;;
        --graph) want="< // Compiled with: tcproutec -t iptables main.tr
> // Compiled with: tcproutec -t iptables -D public=192.0.2.1 main.tr" ;;
        --explain) want="< compiled with: tcproutec -t iptables main.tr
> compiled with: tcproutec -t iptables -D public=192.0.2.1 main.tr
> overrides: 1
>   -D public=192.0.2.1 replaces 192.0.2.1 (defs.tr:1)" ;;
    esac
    if [ "$changed" = "$want" ]; then
        pass
    else
        fail "a -D with the source's own value ($out) changed more than its record:"
        echo "$changed" | head -8
    fi
done

# ---- 4. the header's command line writes the file again --------------------

# reproduce LABEL DIR FILE OUTPUT [OPTION...]: compile, run the "Compiled
# with" line of the result in DIR as sh would, compare.
reproduce() {
    r_label=$1 r_dir=$2 r_file=$3 r_out=$4
    shift 4
    # shellcheck disable=SC2086
    if ! (cd "$r_dir" && "$tc" $r_out "$@" -- "$r_file") > "$tmp/a.out" 2> "$tmp/a.err"; then
        fail "$r_label ($r_out): does not compile:"; head -5 "$tmp/a.err"
        return
    fi
    r_line=$(sed -n 's/^\(# \|\/\/ \)Compiled with: //p' "$tmp/a.out")
    if [ -z "$r_line" ] || [ "$(grep -c 'Compiled with: ' "$tmp/a.out")" -ne 1 ]; then
        fail "$r_label ($r_out): no single 'Compiled with' line in the header"
        return
    fi
    case $r_out in --graph) r_line="$r_line --graph" ;; esac
    if (cd "$r_dir" && PATH="$root:$PATH" sh -c "$r_line") > "$tmp/b.out" 2> "$tmp/b.err" &&
       cmp -s "$tmp/a.out" "$tmp/b.out"; then
        pass
    else
        fail "$r_label ($r_out): running '$r_line' gives other bytes"
        head -5 "$tmp/b.err"
        diff "$tmp/a.out" "$tmp/b.out" | head -5
    fi
}
for args in "$root"/tests/golden/*.args; do
    base=$(basename "$args" .args)
    set --
    while IFS= read -r line || [ -n "$line" ]; do
        case $line in ''|'#'*) continue ;; esac
        set -- "$@" "$line"
    done < "$args"
    for out in "-t iptables" "-t ip6tables" "-t nft" "--graph"; do
        reproduce "golden $base.tr" "$root/tests/golden" "$base.tr" "$out" "$@"
    done
done
for src in "$root"/examples/*.tr; do
    for out in "-t iptables" "-t nft"; do
        reproduce "$(basename "$src")" "$root/examples" "$(basename "$src")" "$out"
        reproduce "$(basename "$src") with options" "$root/examples" "$(basename "$src")" \
            "$out" --nft-table gw_1 -D 'public=192.0.2.77'
    done
done
cp "$root/examples/article.tr" "$tmp/-dash.tr"
for out in "-t iptables" "-t nft"; do
    reproduce "a file named -dash.tr" "$tmp" "-dash.tr" "$out"
done
# Standard input: the line names "-"; it reads the same file again.
"$tc" -t nft -D public=192.0.2.77 - < "$root/examples/article.tr" > "$tmp/a.out"
line=$(sed -n 's/^# Compiled with: //p' "$tmp/a.out")
if [ "$line" = "tcproutec -t nft -D public=192.0.2.77 -" ] &&
   (PATH="$root:$PATH" sh -c "$line") < "$root/examples/article.tr" > "$tmp/b.out" &&
   cmp -s "$tmp/a.out" "$tmp/b.out"; then
    pass
else
    fail "standard input: the header says '$line', which does not write the same bytes"
fi

# ---- 5. one route's edit changes no line of another --------------------------

# edit WHAT ROUTE SED: the routes other than ROUTE keep every line when
# SED edits the source (a server of coap; a new snat address for redis,
# lower than the one the others share: classes come from a hash of the
# address, not from their order, so the others keep their marks).
edit() {
    what=$1 route=$2 script=$3
    for t in iptables nft; do
        src="$root/examples/iot-gateway.tr"
        rm -rf "$tmp/v" "$tmp/base" && mkdir -p "$tmp/v" "$tmp/base"
        sed "$script" "$src" > "$tmp/v/iot-gateway.tr"
        cp "$src" "$tmp/base/iot-gateway.tr"
        (cd "$tmp/base" && "$tc" -t "$t" iot-gateway.tr) > "$tmp/a.out"
        (cd "$tmp/v" && "$tc" -t "$t" iot-gateway.tr) > "$tmp/b.out"
        # The contract: no changed line names another route. (Lines that
        # name none may change: the generation markers hash the whole
        # table, the snat rules and nft's shared chains name no route.)
        others=$(diff "$tmp/a.out" "$tmp/b.out" | grep '^[<>]' | grep 'route [A-Za-z_]' |
            grep -v "route $route\b" || true)
        if cmp -s "$tmp/a.out" "$tmp/b.out"; then
            fail "iot-gateway.tr -t $t: $what changed nothing"
        elif [ -n "$others" ]; then
            fail "iot-gateway.tr -t $t: $what changed lines of other routes:"
            echo "$others" | head -5
        else
            pass
        fi
    done
}
edit "changing a server of coap" coap 's/10\.0\.0\.22 }/10.0.0.23 }/'
edit "a new, lower snat address for redis" redis \
    '/^route redis {/,/^}/s/snat masquerade/snat 10.0.0.0/'
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
