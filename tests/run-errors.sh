#!/bin/sh
# Error tests: every tests/errors/NAME.tr is a bad input. Run as
#   cd tests/errors && tcproutec --color=never -o OUT [NAME.args] NAME.tr
# it must exit 1, print nothing on stdout, print exactly NAME.err on
# stderr, and write no output: OUT must not exist afterwards, no temp file
# may be left beside it, and an OUT that existed before must be left
# untouched byte for byte.
#
# NAME.args holds extra arguments, one per line (blank and # lines ignored).
# Helper files that are not cases live in tests/errors/inc/. The absolute
# path of the repository is written @ROOT@ in NAME.err.
#
# Usage: tests/run-errors.sh [--update]     (from the repository root)
#   --update writes NAME.err from what the compiler prints (review the diff).
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

trc_need_bin run-errors

root_re=$(printf '%s\n' "$root" | sed 's/[][\\.*^$|]/\\&/g')
tmp=$(mktemp -d "${TMPDIR:-/tmp}/trc-errors.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP PIPE

# compile BASE OUTDIR: compile tests/errors/BASE.tr with -o OUTDIR/out;
# leaves stdout, stderr and the exit status in $tmp/{stdout,stderr,status}.
compile() {
    c_base=$1 c_outdir=$2
    status=0
    (
        cd tests/errors
        trc_exec_case "$c_base.args" "$c_base.tr" "$bin" --color=never -o "$c_outdir/out"
    ) > "$tmp/stdout" 2> "$tmp/stderr.raw" < /dev/null || status=$?
    echo "$status" > "$tmp/status"
    # The checkout's place shows in some messages (the stdlib directory
    # in "searched: ..."): written as @ROOT@ so that .err files hold anywhere.
    sed "s|$root_re|@ROOT@|g" "$tmp/stderr.raw" > "$tmp/stderr"
}

# check_run LABEL OUTDIR: the checks common to both runs. Fails with the
# reason and returns 1 on the first one.
check_run() {
    k_label=$1 k_dir=$2
    k_status=$(cat "$tmp/status")
    if [ "$k_status" -ne 1 ]; then
        fail "$k_label: exit status $k_status, expected 1"
        sed 's/^/    /' "$tmp/stderr"
        return 1
    fi
    if [ -s "$tmp/stdout" ]; then
        fail "$k_label: printed on standard output:"
        sed 's/^/    /' "$tmp/stdout"
        return 1
    fi
    if [ ! -s "$tmp/stderr" ]; then
        fail "$k_label: no diagnostic on standard error"
        return 1
    fi
    # Anything but our own known file is a leftover (temp file, output).
    k_left=""
    for k_f in "$k_dir"/* "$k_dir"/.[!.]* "$k_dir"/..?*; do
        [ -e "$k_f" ] || [ -L "$k_f" ] || continue
        [ "$k_f" = "$k_dir/out" ] || k_left="$k_left ${k_f##*/}"
    done
    if [ -n "$k_left" ]; then
        fail "$k_label: left files beside the output:$k_left"
        return 1
    fi
    return 0
}

for tr in tests/errors/*.tr; do
    [ -e "$tr" ] || continue
    base=${tr##*/}
    base=${base%.tr}
    expected="tests/errors/$base.err"
    if [ "$update" -eq 0 ] && [ ! -f "$expected" ]; then
        fail "$tr: no expected file $expected"
        continue
    fi

    # Run 1: no output file before; none after.
    dir="$tmp/run1-$base"
    mkdir "$dir"
    compile "$base" "$dir"
    if ! check_run "$tr" "$dir"; then
        continue
    fi
    if [ -e "$dir/out" ]; then
        fail "$tr: wrote the output file despite the error"
        continue
    fi
    if [ "$update" -eq 1 ]; then
        if ! cmp -s "$tmp/stderr" "$expected" 2>/dev/null; then
            cp "$tmp/stderr" "$expected"
            echo "updated $expected"
        fi
    elif ! diff -u --label "$expected" --label "$tr (stderr)" \
            "$expected" "$tmp/stderr" > "$tmp/diff"; then
        fail "$tr: diagnostics differ from $expected"
        sed 's/^/    /' "$tmp/diff"
        continue
    fi
    cp "$tmp/stderr" "$tmp/stderr1"

    # Run 2: an existing output file is left exactly as it was.
    dir="$tmp/run2-$base"
    mkdir "$dir"
    printf 'known content: %s\n\001\377 no newline' "$base" > "$dir/out"
    cp "$dir/out" "$tmp/known"
    chmod 640 "$dir/out"
    compile "$base" "$dir"
    if ! check_run "$tr (existing output)" "$dir"; then
        continue
    fi
    if ! cmp -s "$dir/out" "$tmp/known"; then
        fail "$tr: changed an existing output file despite the error"
        continue
    fi
    if [ "$(stat -c %a "$dir/out")" != 640 ]; then
        fail "$tr: changed the mode of an existing output file"
        continue
    fi
    if ! cmp -s "$tmp/stderr" "$tmp/stderr1"; then
        fail "$tr: second run printed different diagnostics"
        continue
    fi
    pass
done

if [ $((passed + failed)) -eq 0 ]; then
    fail "no error cases found (run from the repository root)"
fi
finish
