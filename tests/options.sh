#!/bin/sh
# Command-line options: every option documented everywhere, and values
# that are refused, and why.
#
# Documentation: the options `tcproutec --help` lists, those of OPTIONS in
# man/tcproutec.1 and those of the summary under "## Options" in README.md
# must be the same: an option missing from any one fails, both ways. The
# lists are read from the texts themselves (help and README: the words
# that start with '-' in the first column of each option line; man page:
# each `Fl` of an `.It` line of OPTIONS), so a new option needs no change
# here, only its three descriptions.
#
# --nft-table: the nft output deletes and recreates the table of its name
# in the ip, ip6 and inet families, so the names other tools on the host
# use for their tables are refused (exit 2, a message naming the option,
# nothing written). The names are those man/tcproutec.1 lists under
# --nft-table: every listed name must be refused, in any case; a name
# ending in '*' stands for its prefix followed by anything.
#
# --coexist --hooks: --hooks without --coexist, with -t nft, or with
# --explain/--graph is a usage error (exit 2, a message naming --hooks,
# nothing written).
#
# Usage: tests/options.sh (from the repository root). Ends "N passed, N failed".
# Environment: TCPROUTEC (default ./tcproutec).
set -u
LC_ALL=C
export LC_ALL
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"
trc_need_bin options
src=$root/examples/article.tr
man=$root/man/tcproutec.1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/trc-options.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP

# ---- every option in --help, the man page and the README -------------------

"$bin" --help | trc_summary_options > "$tmp/help"
# OPTIONS of the man page: "Fl t" is -t, "Fl -target" is --target.
awk '/^\.Sh / { in_opts = ($2 == "OPTIONS") }
     in_opts && /^\.It / { for (i = 2; i < NF; i++) if ($i == "Fl") print "-" $(i + 1) }' \
    "$man" | sort -u > "$tmp/man"
# The fenced block(s) of the README's "## Options" section.
awk '/^## / { in_sec = ($0 == "## Options") }
     in_sec && /^```/ { in_code = !in_code; next }
     in_sec && in_code' "$root/README.md" | trc_summary_options > "$tmp/readme"

for list in help man readme; do
    if [ "$(wc -l < "$tmp/$list")" -lt 5 ]; then
        fail "found only $(wc -l < "$tmp/$list") options in the $list text: is it still in the form this test reads?"
    fi
done
# same A B WHERE-A WHERE-B: every option of A is in B.
same() {
    s_missing=$(comm -23 "$tmp/$1" "$tmp/$2" | tr '\n' ' ')
    if [ -n "$s_missing" ]; then
        fail "in $3 but not in $4: $s_missing"
    else
        pass "every option of $3 is in $4"
    fi
}
same help man "tcproutec --help" "man/tcproutec.1 (OPTIONS)"
same help readme "tcproutec --help" "README.md (## Options)"
same man help "man/tcproutec.1 (OPTIONS)" "tcproutec --help"
same readme help "README.md (## Options)" "tcproutec --help"

# ---- --nft-table -----------------------------------------------------------

# The refused names, from the .It Cm lines of the list under --nft-table.
sed -n '/^\.It Fl -nft-table/,/^\.It Fl o /p' "$man" |
    sed -n 's/^\.It Cm //p' | sed 's/ , / /g' | tr ' ' '\n' | sed '/^$/d' > "$tmp/refused"
# The names the brief for this check requires at the least: iptables-nft's
# tables and the host firewalls most often met.
for must in filter nat mangle raw security firewalld docker-bridges \
            libvirt_network kube-proxy f2b-table nm-shared-*; do
    if grep -qxF -- "$must" "$tmp/refused"; then
        pass "tcproutec(1) lists '$must' as refused"
    else
        fail "tcproutec(1) does not list '$must' under --nft-table"
    fi
done

# refused NAME: -t nft --nft-table NAME exits 2, says why, writes nothing.
refused() {
    rm -f "$tmp/out.nft"
    "$bin" -t nft --nft-table "$1" -o "$tmp/out.nft" "$src" > "$tmp/stdout" 2> "$tmp/err"
    r_st=$?
    if [ "$r_st" -ne 2 ]; then
        fail "--nft-table '$1': exit $r_st, expected 2"
    elif ! grep -q -- "--nft-table '$1' is refused" "$tmp/err"; then
        fail "--nft-table '$1': no message saying it is refused:"
        sed 's/^/    /' "$tmp/err"
    elif [ -e "$tmp/out.nft" ] || [ -s "$tmp/stdout" ]; then
        fail "--nft-table '$1': wrote output despite refusing the name"
    else
        pass "--nft-table '$1' is refused"
    fi
}
while IFS= read -r name; do
    case $name in
        *'*') name=${name%'*'}eth1 ;;
    esac
    refused "$name"
    refused "$(echo "$name" | tr '[:lower:]' '[:upper:]')"
done < "$tmp/refused"

# ---- --coexist and --hooks ---------------------------------------------------

# misuse WHY ARG...: exit 2, a message about --hooks, no output file.
misuse() {
    m_why=$1
    shift
    rm -f "$tmp/out.hooks"
    "$bin" "$@" -o "$tmp/out.hooks" "$src" > "$tmp/stdout" 2> "$tmp/err"
    m_st=$?
    if [ "$m_st" -ne 2 ]; then
        fail "$m_why ($*): exit $m_st, expected 2"
    elif ! grep -q -- "--hooks" "$tmp/err"; then
        fail "$m_why ($*): the message does not name --hooks:"
        sed 's/^/    /' "$tmp/err"
    elif [ -e "$tmp/out.hooks" ] || [ -s "$tmp/stdout" ]; then
        fail "$m_why ($*): wrote output despite the usage error"
    else
        pass "$m_why is refused: $(head -n 1 "$tmp/err")"
    fi
}
misuse "--hooks without --coexist" --hooks
misuse "--hooks without --coexist" -t ip6tables --hooks
misuse "--hooks with -t nft" -t nft --coexist --hooks
misuse "--hooks with --explain" --coexist --hooks --explain
misuse "--hooks with --graph" --coexist --hooks --graph
misuse "--hooks with --verify-live" --coexist --hooks --verify-live /dev/null
# Both orders of the options, and -t ip6tables: a script, not a ruleset.
for args in "--coexist --hooks" "--hooks --coexist" "-t ip6tables --hooks --coexist"; do
    # shellcheck disable=SC2086 # a fixed word list
    if "$bin" $args "$src" > "$tmp/out" 2> "$tmp/err" &&
       [ "$(head -n 1 "$tmp/out")" = "#!/bin/sh" ] && sh -n "$tmp/out"; then
        pass "$args writes a sh script"
    else
        fail "$args did not write a sh script:"
        sed 's/^/    /' "$tmp/err"
    fi
done

# accepted NAME: compiles, the table is NAME in every line that names it,
# and the header records the option (not when NAME is the default).
accepted() {
    if [ "$1" = tcproutec ]; then a_cmd="tcproutec -t nft article.tr"
    else a_cmd="tcproutec -t nft --nft-table $1 article.tr"; fi
    if "$bin" -t nft --nft-table "$1" "$src" > "$tmp/out" 2> "$tmp/err" &&
       [ "$(grep -v '^#' "$tmp/out" | sed -n 1p)" = "table ip $1" ] &&
       grep -qx "delete table inet $1" "$tmp/out" &&
       grep -qxF "# Compiled with: $a_cmd" "$tmp/out"; then
        pass "--nft-table '$1' is accepted"
    else
        fail "--nft-table '$1' was not accepted as a table name:"
        sed 's/^/    /' "$tmp/err"
    fi
}
# Names that only look like the refused ones.
for name in tcproutec routes filter2 my-nat nat_lb nm-shared docker kube-proxy-lb; do
    accepted "$name"
done

# ---- values that are refused -----------------------------------------------

# bad WHAT PATTERN ARG...: exit 2, a message matching PATTERN that shows no
# control character, a pointer to --help, and nothing written: neither on
# standard output nor to -o.
esc=$(printf '\033')
tab=$(printf '\t')
cr=$(printf '\r')
nl='
'
bad() {
    b_what=$1 b_pat=$2
    shift 2
    rm -f "$tmp/out.v4"
    "$bin" -o "$tmp/out.v4" "$@" > "$tmp/stdout" 2> "$tmp/err"
    b_st=$?
    if [ "$b_st" -ne 2 ]; then
        fail "$b_what: exit $b_st, expected 2"
        sed 's/^/    /' "$tmp/err"
    elif ! grep -q -- "$b_pat" "$tmp/err" ||
         ! grep -q -- "Try 'tcproutec --help'" "$tmp/err"; then
        fail "$b_what: the message does not say '$b_pat':"
        sed 's/^/    /' "$tmp/err"
    elif LC_ALL=C grep -q '[[:cntrl:]]' "$tmp/err"; then
        fail "$b_what: the message carries a control character to the terminal"
    elif [ -e "$tmp/out.v4" ] || [ -s "$tmp/stdout" ]; then
        fail "$b_what: wrote output"
    else
        pass "$b_what is refused"
    fi
}
bad "-t bogus" "unknown target 'bogus'" -t bogus "$src"
bad "--explain=xml" "--explain wants text or json" --explain=xml "$src"
bad "--color=sometimes" "--color wants auto, always or never" --color=sometimes "$src"
bad "-W bogus" "unknown warning option" -W bogus "$src"
bad "--affinity-seed -1" "--affinity-seed wants a number from 0 to 4294967295" \
    --affinity-seed -1 "$src"
bad "--affinity-seed 2^32" "--affinity-seed wants a number" --affinity-seed 4294967296 "$src"
bad "--affinity-seed 12abc" "--affinity-seed wants a number" --affinity-seed 12abc "$src"
bad "--nft-table with a blank" "--nft-table wants a name" -t nft --nft-table 'a b' "$src"
bad "--nft-table empty" "--nft-table wants a name" -t nft --nft-table '' "$src"
bad "-D without =" "-D wants NAME=VALUE" -D public "$src"
bad "-D with a bad name" "-D wants NAME=VALUE with a valid name" -D '1x=1' "$src"
bad "-D with an escape in the name" "-D wants NAME=VALUE with a valid name, not 'a?\[31m=1'" \
    -D "a${esc}[31m=1" "$src"
# A -D value is one define on one line, and the header that records it
# stays one comment line: no newline, no other control character.
bad "-D value with a newline" "may not contain a control character" \
    -D "public=192.0.2.1${nl}route evil { listen tcp 192.0.2.9:1
server 198.51.100.9:1 }" "$src"
bad "-D value with a carriage return" "may not contain a control character" \
    -D "public=192.0.2.1$cr" "$src"
bad "-D value with a tab" "may not contain a control character" -D "public=${tab}192.0.2.1" "$src"
bad "-D value with an escape" "control character (newline, tab, escape, ...): 'public=?\[2J'" \
    -D "public=${esc}[2J" "$src"
bad "-D value with ';'" "may not contain ';' or '#'" -D 'public=192.0.2.1; policy forward accept' "$src"
bad "-D value with '#'" "may not contain ';' or '#'" -D 'public=192.0.2.1 # x' "$src"

finish
