#!/bin/sh
# Runs a libFuzzer session of the harness, then turns every crash, leak,
# timeout or out-of-memory input it found into a regression input under
# fuzz/regressions/ (for `make fuzz-regress` and `make test`), crashes
# minimized when the smaller input fails the same way.
#
# Usage: fuzz/run.sh BIN SECONDS CORPUS SEEDS ARTIFACTS [LIBFUZZER_OPTION...]
#   (from the repository root; `make fuzz` and `make fuzz-long` call it)
# With CI set in the environment, a session lasts at most 120 seconds.
# Exit status: 0 nothing found, 1 something found (see fuzz/regressions/),
# 2 the fuzzer could not run.
set -eu
LC_ALL=C
export LC_ALL

if [ $# -lt 5 ]; then
    echo "usage: $0 BIN SECONDS CORPUS SEEDS ARTIFACTS [OPTION...]" >&2
    exit 2
fi
bin=$1 secs=$2 corpus=$3 seeds=$4 artifacts=$5
shift 5
case "$secs" in
    ''|*[!0-9]*) echo "fuzz: FUZZ_SECONDS must be a number, not '$secs'" >&2; exit 2 ;;
esac
if [ -n "${CI-}" ] && [ "$secs" -gt 120 ]; then
    echo "fuzz: CI is set: $secs seconds cut to 120"
    secs=120
fi
if [ ! -x "$bin" ]; then
    echo "fuzz: $bin: no such executable" >&2
    exit 2
fi
mkdir -p "$corpus" "$artifacts" fuzz/regressions

# Artifacts of an earlier session are not this session's findings.
find "$artifacts" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' \
    -o -name 'timeout-*' -o -name 'oom-*' -o -name 'slow-unit-*' \) -delete

# One worker: the harness is single-threaded and CI machines are small.
# -timeout: a compile of at most 16 KiB that takes 25 s is a bug (it takes
# milliseconds); less gives false alarms on a loaded machine.
timeout=25
status=0
"$bin" -max_total_time="$secs" -dict=fuzz/tr.dict -timeout=$timeout \
    -rss_limit_mb=2048 -max_len=16384 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$@" "$corpus" "$seeds" || status=$?

# What a failing input reports: our own invariant message or the
# sanitizer's summary (file:line of the bug), to tell one bug from another.
signature() {
    "$bin" -runs=1 "$1" 2>&1 | sed -n 's/byte [0-9]*/byte N/; /^fuzz_compile: /{p;q}; /^SUMMARY: /{p;q}'
}

found=0
tmp_min=$artifacts/minimized.tmp
for f in "$artifacts"/crash-* "$artifacts"/leak-* "$artifacts"/timeout-* \
         "$artifacts"/oom-*; do
    [ -f "$f" ] || continue
    name=${f##*/}
    # A timeout that does not come back was the machine, not the input.
    case "$name" in
    timeout-*)
        if "$bin" -timeout=$timeout -runs=1 "$f" > /dev/null 2>&1; then
            echo "fuzz: $name ran in time when tried again: not kept (a loaded machine?)"
            continue
        fi
        ;;
    esac
    found=$((found + 1))
    dest=fuzz/regressions/$name
    cp "$f" "$dest"
    # A crash is kept minimized when the smaller input still fails the same
    # way: the minimizer takes any crash, and may drift to another bug.
    # Leaks, timeouts and out-of-memory are kept as found.
    case "$name" in
    crash-*)
        rm -f "$tmp_min"
        if "$bin" -minimize_crash=1 -max_total_time=60 -timeout=$timeout \
                -exact_artifact_path="$tmp_min" "$f" > /dev/null 2>&1; then :; fi
        if [ -s "$tmp_min" ] && [ "$(wc -c < "$tmp_min")" -lt "$(wc -c < "$f")" ] \
                && [ "$(signature "$tmp_min")" = "$(signature "$f")" ]; then
            cp "$tmp_min" "$dest"
        fi
        rm -f "$tmp_min"
        ;;
    esac
    echo "fuzz: found $name: kept as $dest ($(wc -c < "$dest") bytes)"
    signature "$dest" | sed 's/^/    /'
done
if [ "$found" -gt 0 ]; then
    echo "fuzz: $found finding(s): commit them from fuzz/regressions/ and fix the bug;"
    echo "      replay with 'make fuzz-regress' or '$bin FILE'"
    exit 1
fi
if [ "$status" -ne 0 ]; then
    echo "fuzz: the fuzzer exited with status $status and left no input" >&2
    exit 2
fi
echo "fuzz: nothing found in $secs seconds; corpus in $corpus"
