#!/bin/sh
# tests/live/run.sh: --stats and --verify-live on recorded host listings.
#
# Every tests/live/cases/NAME.args is a case: its lines (blank and # lines
# skipped) are the arguments, run from tests/live as
#   tcproutec --color=never ARGS...     (standard input: NAME.stdin if any)
# and NAME.expect must hold exactly what it printed: standard output, then
# a line "--- stderr", standard error, then "--- exit N".
# A case with --stats runs again with -o FILE: on exit 2 FILE must not
# exist, else it must hold what standard output held.
# The listings are in tests/live/listings/ (see its README.md).
#
# Then contrib/tcproutec-stats-textfile (the Prometheus textfile exporter)
# turns the --stats=json of listings/gw.nft.live into exactly
# tests/live/exporter.expect, and refuses a document of another schema
# without touching its output file.
#
# Usage: tests/live/run.sh [--update]     (from the repository root)
#   --update writes NAME.expect from what the compiler prints (review the
#   diff).
# Environment: TCPROUTEC (default ./tcproutec).
set -eu
LC_ALL=C
export LC_ALL
unset TCPROUTEC_PATH NO_COLOR 2>/dev/null || true
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

update=0
case "${1-}" in
    --update) update=1 ;;
    '') ;;
    *) echo "usage: $0 [--update]" >&2; exit 2 ;;
esac
trc_need_bin live

tmp=$(mktemp -d "${TMPDIR:-/tmp}/trc-live.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP

# run ARGS_FILE STDIN [EXTRA...]: the case, from tests/live; output in
# $tmp/stdout, $tmp/stderr, exit status in $st.
run() {
    r_args=$1 r_in=$2
    shift 2
    st=0
    (
        cd tests/live
        set -- "$bin" --color=never "$@"
        while IFS= read -r line || [ -n "$line" ]; do
            case "$line" in ''|'#'*) continue ;; esac
            set -- "$@" "$line"
        done < "$r_args"
        exec "$@" < "$r_in"
    ) > "$tmp/stdout" 2> "$tmp/stderr" || st=$?
}

n=0
for args in tests/live/cases/*.args; do
    name=${args%.args}
    base=${name##*/}
    n=$((n + 1))
    in=/dev/null
    [ -f "$name.stdin" ] && in=$root/$name.stdin
    run "$root/$args" "$in"
    {
        cat "$tmp/stdout"
        echo "--- stderr"
        cat "$tmp/stderr"
        echo "--- exit $st"
    } > "$tmp/got"
    if [ "$update" = 1 ]; then
        if ! cmp -s "$tmp/got" "$name.expect" 2> /dev/null; then
            cp "$tmp/got" "$name.expect"
            echo "updated $name.expect"
        fi
    fi
    if [ ! -f "$name.expect" ]; then
        fail "$base: no $name.expect (run with --update and review it)"
        continue
    fi
    if ! diff -u "$name.expect" "$tmp/got" > "$tmp/diff"; then
        fail "$base: output differs:"
        sed 's/^/    /' "$tmp/diff"
        continue
    fi
    if grep -q '^--stats' "$args"; then
        cp "$tmp/stdout" "$tmp/want"
        rm -f "$tmp/report"
        run "$root/$args" "$in" -o "$tmp/report"
        if [ "$st" -eq 2 ] && [ -e "$tmp/report" ]; then
            fail "$base: with -o, exit 2 but the report was written"
            continue
        fi
        if [ "$st" -ne 2 ] && ! cmp -s "$tmp/want" "$tmp/report"; then
            fail "$base: with -o, the report differs from standard output"
            continue
        fi
        if [ -s "$tmp/stdout" ]; then
            fail "$base: with -o, printed on standard output"
            continue
        fi
    fi
    pass "$base"
done
[ "$n" -gt 0 ] || fail "no cases in tests/live/cases"

# ---- the exporter recipe of contrib/ ----------------------------------------
exporter=$root/contrib/tcproutec-stats-textfile
if ! command -v python3 > /dev/null 2>&1; then
    skip "contrib/tcproutec-stats-textfile: python3 not found"
else
    st=0
    (cd tests/live && "$bin" -t nft --stats=json listings/gw.nft.live gw.tr) |
        python3 "$exporter" "$tmp/metrics.prom" || st=$?
    if [ "$update" = 1 ] && [ -f "$tmp/metrics.prom" ] &&
       ! cmp -s "$tmp/metrics.prom" tests/live/exporter.expect; then
        cp "$tmp/metrics.prom" tests/live/exporter.expect
        echo "updated tests/live/exporter.expect"
    fi
    if [ "$st" -ne 0 ]; then
        fail "exporter: exit $st"
    elif ! diff -u tests/live/exporter.expect "$tmp/metrics.prom" > "$tmp/diff"; then
        fail "exporter: the metrics differ:"
        sed 's/^/    /' "$tmp/diff"
    else
        pass "exporter: the metrics of gw.nft.live"
    fi
    st=0
    echo '{"schema": "tcproutec-stats/2"}' | python3 "$exporter" "$tmp/metrics.prom" \
        2> "$tmp/stderr" || st=$?
    if [ "$st" -eq 1 ] && cmp -s tests/live/exporter.expect "$tmp/metrics.prom" &&
       grep -q 'left as it was' "$tmp/stderr"; then
        pass "exporter: another schema is refused, the metrics file kept"
    else
        fail "exporter: another schema: exit $st, or the file changed"
    fi
fi
finish
