#!/bin/sh
# Golden tests: every tests/golden/NAME.tr and every examples/NAME.tr must
# compile to bytes identical to its expected neighbours.
#
#   tests/golden/NAME.tr   ->  tests/golden/NAME.{v4,v6,nft,explain,json,dot,hooks,hooks6}
#   examples/NAME.tr       ->  tests/golden/examples/NAME.{v4,v6,nft,explain,json,dot}
#
# A case is compiled once for each expected file that exists (.v4 with
# -t iptables, .v6 with -t ip6tables, .nft with -t nft, .explain with
# --explain, .json with --explain=json, .dot with --graph, .hooks and
# .hooks6 with -t iptables/ip6tables --hooks, the script of --coexist
# --hooks). A case with no expected file at all fails; with --update it
# gets a .v4. Extra arguments, one per line (blank and # lines ignored),
# come from NAME.args beside the case (for examples: beside the expected
# files, so that examples/ holds only what users read).
#
# Each compile runs in the .tr's own directory with its base name, so that
# file names in the output are stable. The compile is run three times: to
# stdout, again to stdout in another locale and time zone (the output must
# not depend on them), and with -o FILE; all three must give the same bytes.
#
# Usage: tests/run-golden.sh [--update]     (from the repository root)
# Environment: TCPROUTEC (default ./tcproutec).
set -eu
LC_ALL=C
export LC_ALL
unset TCPROUTEC_PATH NO_COLOR 2>/dev/null || true
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

update=0
case "${1-}" in
    --update) update=1 ;;
    '') ;;
    *) echo "usage: $0 [--update]" >&2; exit 2 ;;
esac

trc_need_bin run-golden

tmp=$(mktemp -d "${TMPDIR:-/tmp}/trc-golden.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP PIPE

# target_args EXT: the options that select the output for an expected file.
target_args() {
    case "$1" in
        v4) echo "-t iptables" ;;
        v6) echo "-t ip6tables" ;;
        nft) echo "-t nft" ;;
        explain) echo "--explain" ;;
        json) echo "--explain=json" ;;
        dot) echo "--graph" ;;
        hooks) echo "-t iptables --hooks" ;;
        hooks6) echo "-t ip6tables --hooks" ;;
    esac
}

# compile DIR BASE ARGSFILE OUT ERR [OPTION...]: run the compiler in DIR on
# BASE.tr with the case's extra arguments and OPTIONs; stdout to OUT.
compile() {
    c_dir=$1 c_base=$2 c_args=$3 c_out=$4 c_err=$5
    shift 5
    (
        cd "$c_dir"
        trc_exec_case "$c_args" "$c_base.tr" "$bin" "$@"
    ) > "$c_out" 2> "$c_err"
}

# run_case SRC_DIR BASE EXPECTED_DIR LABEL
run_case() {
    r_dir=$1 r_base=$2 r_exp=$3 r_label=$4
    r_args="$root/$r_exp/$r_base.args"
    exts=""
    for ext in v4 v6 nft explain json dot hooks hooks6; do
        [ -f "$r_exp/$r_base.$ext" ] && exts="$exts $ext"
    done
    if [ -z "$exts" ]; then
        if [ "$update" -eq 0 ]; then
            fail "$r_label: no expected file ($r_exp/$r_base.v4, .v6, .nft, .explain, .json or .dot)"
            return 0
        fi
        exts=v4
    fi
    for ext in $exts; do
        expected="$r_exp/$r_base.$ext"
        out="$tmp/out" err="$tmp/err"
        # shellcheck disable=SC2046 # target_args is a fixed word list
        if ! compile "$r_dir" "$r_base" "$r_args" "$out" "$err" \
                --color=never $(target_args "$ext"); then
            fail "$r_label [$ext]: compile failed:"
            sed 's/^/    /' "$err"
            continue
        fi
        if [ "$update" -eq 1 ]; then
            if ! cmp -s "$out" "$expected" 2>/dev/null; then
                cp "$out" "$expected"
                echo "updated $expected"
            fi
        elif ! diff -u --label "$expected" --label "$r_label [$ext]" \
                "$expected" "$out" > "$tmp/diff"; then
            fail "$r_label [$ext]: output differs from $expected"
            sed 's/^/    /' "$tmp/diff"
            continue
        fi
        # Same input, same bytes: whatever the locale or time zone.
        # shellcheck disable=SC2046
        if ! LC_ALL=C.UTF-8 LANG=C.UTF-8 TZ=Pacific/Kiritimati \
                compile "$r_dir" "$r_base" "$r_args" "$tmp/out2" "$err" \
                --color=never $(target_args "$ext") \
                || ! cmp -s "$out" "$tmp/out2"; then
            fail "$r_label [$ext]: second compile gave different bytes"
            continue
        fi
        # -o writes the same bytes as stdout, and prints nothing.
        rm -f "$tmp/out3"
        # shellcheck disable=SC2046
        if ! compile "$r_dir" "$r_base" "$r_args" "$tmp/stdout3" "$err" \
                --color=never -o "$tmp/out3" $(target_args "$ext") \
                || ! cmp -s "$out" "$tmp/out3" || [ -s "$tmp/stdout3" ]; then
            fail "$r_label [$ext]: -o FILE differs from standard output"
            continue
        fi
        pass
    done
}

for tr in tests/golden/*.tr; do
    [ -e "$tr" ] || continue
    base=${tr##*/}
    base=${base%.tr}
    run_case tests/golden "$base" tests/golden "$tr"
done

for tr in examples/*.tr; do
    [ -e "$tr" ] || continue
    base=${tr##*/}
    base=${base%.tr}
    mkdir -p tests/golden/examples
    run_case examples "$base" tests/golden/examples "$tr"
done

if [ $((passed + failed)) -eq 0 ]; then
    fail "no golden cases found (run from the repository root)"
fi
finish
