# shellcheck shell=sh
# tests/lib.sh: what the test runners share, sourced by each of them
# (POSIX sh; the kernel tests source it from bash, through
# tests/kernel/lib.sh). Defines functions and the counters, runs nothing.
#
# Reporting. Every runner ends with one line, "N passed, N failed", with
# ", N skipped" when something was skipped, and exits 1 when anything
# failed. A skip says why; it never counts as a pass.
#   pass [WHAT]    a check passed; with WHAT, prints "ok: WHAT"
#   fail WHAT      a check failed: prints "FAIL: WHAT"
#   skip WHY       a check could not run: prints "SKIPPED: WHY"
#   finish         prints the summary line and exits with the verdict
#
# Cases. A golden or error case NAME.tr may have NAME.args beside it (or
# beside its expected files): extra arguments, one a line, blank lines and
# lines starting with # skipped.
#   trc_exec_case ARGS SRC CMD [ARG...]
#                  exec CMD ARG..., then the arguments of the file ARGS
#                  (none when ARGS is empty or no file), then SRC
#
# The compiler under test.
#   trc_bin ROOT   prints $TCPROUTEC, or ./tcproutec, made absolute from ROOT
#   trc_need_bin RUNNER
#                  sets root to the working directory (the repository root)
#                  and bin to trc_bin "$root"; exits 2 when bin cannot run

passed=0 failed=0 skipped=0
# shellcheck disable=SC2120 # the message is optional
pass() {
    [ $# -eq 0 ] || echo "ok: $*"
    passed=$((passed + 1))
}
fail() {
    echo "FAIL: $*"
    failed=$((failed + 1))
}
skip() {
    echo "SKIPPED: $*"
    skipped=$((skipped + 1))
}
finish() {
    if [ "$skipped" -gt 0 ]; then
        echo "$passed passed, $failed failed, $skipped skipped"
    else
        echo "$passed passed, $failed failed"
    fi
    [ "$failed" -eq 0 ]
    exit
}

trc_exec_case() {
    _tc_args=$1 _tc_src=$2
    shift 2
    if [ -n "$_tc_args" ] && [ -f "$_tc_args" ]; then
        while IFS= read -r _tc_line || [ -n "$_tc_line" ]; do
            case "$_tc_line" in
                ''|'#'*) continue ;;
            esac
            set -- "$@" "$_tc_line"
        done < "$_tc_args"
    fi
    exec "$@" "$_tc_src"
}

trc_bin() {
    case "${TCPROUTEC:-./tcproutec}" in
        /*) echo "${TCPROUTEC:-./tcproutec}" ;;
        *) echo "$1/${TCPROUTEC:-./tcproutec}" ;;
    esac
}

trc_need_bin() {
    root=$(pwd)
    bin=$(trc_bin "$root")
    if [ ! -x "$bin" ]; then
        echo "$1: $bin: no such executable (run make first)" >&2
        exit 2
    fi
}

# trc_summary_options: the options of an option summary on stdin (--help, the
# README block): a line whose first word, after at most six blanks, starts
# with '-' is an option line; its option column ends at the first two
# blanks; each word of it that starts with '-' is an option, cut before
# '=' or '[' (--explain[=FORMAT], --color=WHEN).
trc_summary_options() {
    awk '{
        match($0, /^ */)
        if (RLENGTH > 6 || substr($0, RLENGTH + 1, 1) != "-") next
        col = substr($0, RLENGTH + 1)
        if ((i = index(col, "  ")) > 0) col = substr(col, 1, i - 1)
        n = split(col, w, /[ ,]+/)
        for (j = 1; j <= n; j++)
            if (w[j] ~ /^-/) { sub(/[=[].*/, "", w[j]); print w[j] }
    }' | sort -u
}
