#!/bin/bash
# bench/run.sh: the measurements of `make bench` (see bench/bench.mk).
# Run from the repository root after `make tcproutec bench-prof`.
#
# Writes bench/out/res/ (hyperfine JSON, profiles, metrics.tsv: one
# "key<TAB>value" a line) and then bench/results.md with bench/report.py.
# Every figure in results.md comes from this run; nothing is hard-coded.
set -uo pipefail
export LC_ALL=C
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2
HERE=$ROOT/bench
OUT=$HERE/out
RES=$OUT/res
BIN=$ROOT/tcproutec
PROF_BIN=$OUT/prof/tcproutec

RUNS_SMALL=${BENCH_RUNS_SMALL:-7}
RUNS_BIG=${BENCH_RUNS_BIG:-3}
FERM_RUNS=${BENCH_FERM_RUNS:-3}
LOAD10=${BENCH_LOAD_RUNS_10K:-5}
LOAD50=${BENCH_LOAD_RUNS_50K:-3}
CONN=${BENCH_CONN:-1000}
CALLGRIND=${BENCH_CALLGRIND:-1}
README_UPDATE=${BENCH_README:-1}
RESULTS=${BENCH_RESULTS:-$HERE/results.md}

START=$SECONDS
mkdir -p "$OUT" "$RES"
rm -f "$RES"/*
metric() { printf '%s\t%s\n' "$1" "$2" >> "$RES/metrics.tsv"; }
step() { echo "== bench: $* ($((SECONDS - START)) s)"; }
loadavg() {
    metric "loadavg.$1" "$(cut -d' ' -f1-3 /proc/loadavg)"
    [ -r /proc/pressure/cpu ] &&
        metric "psi.$1" "$(sed -n 's/^some avg10=[0-9.]* avg60=\([0-9.]*\).*/\1/p' /proc/pressure/cpu)"
}
have() { command -v "$1" > /dev/null 2>&1; }

need=()
for t in python3 hyperfine /usr/bin/time; do have "$t" || need+=("$t"); done
if [ ${#need[@]} -gt 0 ]; then
    echo "bench: missing ${need[*]} (apt-get install hyperfine time python3)" >&2
    exit 2
fi
[ -x "$BIN" ] || { echo "bench: $BIN not built (make)" >&2; exit 2; }

# ------------------------------------------------------------- machine
step "machine"
metric machine.nproc "$(nproc)"
metric machine.cpu "$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
metric machine.mem "$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
metric machine.kernel "$(uname -sr)"
# shellcheck disable=SC1091
metric machine.os "$( (. /etc/os-release && echo "$PRETTY_NAME") 2>/dev/null || echo unknown)"
metric machine.date "$(date -u '+%Y-%m-%d %H:%M UTC')"
metric tool.tcproutec "$("$BIN" --version 2>&1 | head -n 1)"
metric tool.git "$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo none)"
metric tool.cc "$(${CC:-cc} --version 2>/dev/null | head -n 1)"
metric tool.hyperfine "$(hyperfine --version | head -n 1)"
metric tool.python "$(python3 --version 2>&1)"
have nft && metric tool.nft "$(nft --version | head -n 1)"
have iptables && metric tool.iptables "$(iptables --version | head -n 1)"
have ferm && metric tool.ferm "$(ferm --version 2>&1 | head -n 1)"
have perf && metric tool.perf "$(perf --version 2>&1 | head -n 1)"
have valgrind && metric tool.valgrind "$(valgrind --version 2>&1 | head -n 1)"
metric bench.runs "small=$RUNS_SMALL big=$RUNS_BIG ferm=$FERM_RUNS load10k=$LOAD10 load50k=$LOAD50 conn=$CONN"
loadavg start
top -b -n 1 -o %CPU 2>/dev/null | sed -n '8,12p' | awk '$9 + 0 > 20 {print $12 " " $9 "%"}' \
    | paste -sd, - | { read -r busy; metric machine.busy_at_start "${busy:-none}"; }

# ------------------------------------------------------------- inputs
step "generating inputs"
FILES=(uniform-1000 uniform-10000 uniform-50000 uniform-100000 mixed-1000 mixed-10000
       distinct-20000 wide-10000)
for f in "${FILES[@]}"; do
    kind=${f%-*} n=${f##*-}
    [ "$kind" = wide ] && kind=wide
    python3 "$HERE/gen.py" "$kind" "$n" "$OUT/$f.tr" || exit 1
    metric "input.$f.bytes" "$(stat -c %s "$OUT/$f.tr")"
    metric "input.$f.servers" "$(grep -c '^    server ' "$OUT/$f.tr")"
done
python3 "$HERE/gen.py" ferm 10000 "$OUT/uniform-10000.ferm" || exit 1
# the floors of the load goals (issue 16): the leanest nft map table and a
# kube-proxy-shaped iptables file for the same routes, and the lean table
# with one feature of our output each (bench/netbench.sh loads them)
for n in 10000 50000; do
    python3 "$HERE/gen.py" lean "$n" "$OUT/lean-$n.nft" || exit 1
done
for v in comments counters l4proto vmap type chains; do
    python3 "$HERE/gen.py" lean 10000 "$OUT/lean-10000-$v.nft" "$v" || exit 1
done
# every feature of our shared path at once
python3 "$HERE/gen.py" lean 10000 "$OUT/lean-10000-ours.nft" comments,counters,l4proto,vmap || exit 1
python3 "$HERE/gen.py" kube 10000 "$OUT/kube-10000.iptables" || exit 1

# ------------------------------------------------------------- compiling
# Every output is produced once with -o (and checked), then timed on
# stdout to /dev/null (what hyperfine does with it), so that the figure is
# the compiler's own and not the disk's fsync.
step "compiling"
for f in "${FILES[@]}"; do
    for t in iptables nft; do
        o="$OUT/$f.$t"
        if ! "$BIN" -t "$t" -o "$o" "$OUT/$f.tr" 2> "$RES/compile-$f-$t.err"; then
            echo "bench: tcproutec -t $t $f.tr failed:" >&2
            head -n 5 "$RES/compile-$f-$t.err" >&2
            metric "compile.$f.$t.error" "$(head -n 1 "$RES/compile-$f-$t.err")"
            continue
        fi
        metric "compile.$f.$t.out_bytes" "$(stat -c %s "$o")"
        metric "compile.$f.$t.out_lines" "$(wc -l < "$o")"
        if [ "$t" = iptables ]; then
            metric "compile.$f.iptables.forward_rules" "$(grep -c '^-A FORWARD ' "$o")"
            metric "compile.$f.iptables.postrouting_rules" "$(grep -c '^-A POSTROUTING ' "$o")"
            metric "compile.$f.iptables.prerouting_rules" "$(grep -c '^-A PREROUTING ' "$o")"
            metric "compile.$f.iptables.rules" "$(grep -c '^-A ' "$o")"
        fi
        case $f in mixed-1000|uniform-50000) continue ;; esac   # outputs only
        metric "compile.$f.$t.timed" yes
        runs=$RUNS_SMALL warm=2
        case $f in
            uniform-1000) runs=$((RUNS_SMALL * 2)) ;;
            uniform-100000) runs=$RUNS_BIG warm=1 ;;
        esac
        echo "   $f -t $t: $runs runs, and the floor"
        hyperfine --style none -N -w "$warm" -r "$runs" \
            --export-json "$RES/compile-$f-$t.json" \
            "$BIN -t $t $OUT/$f.tr" > /dev/null 2> "$RES/hf.err" ||
            { cat "$RES/hf.err" >&2; metric "compile.$f.$t.error" "hyperfine failed"; }
        # The floor (issue 16), right after, on the same files: reading
        # the input and the output with cat (to /dev/null, as hyperfine
        # discards the output of both).
        hyperfine --style none -N -w 2 -r $((runs < 5 ? 5 : runs)) \
            --export-json "$RES/floor-$f-$t.json" \
            "cat $OUT/$f.tr $o" > /dev/null 2> "$RES/hf.err" ||
            { cat "$RES/hf.err" >&2; metric "floor.$f.$t.error" "hyperfine failed"; }
        # peak memory: max RSS in KiB (it hardly varies between runs: the
        # largest of 2)
        rss=0
        for _ in 1 2; do
            r=$( { /usr/bin/time -f '%M' "$BIN" -t "$t" "$OUT/$f.tr" > /dev/null; } 2>&1 | tail -n 1)
            [ "$r" -gt "$rss" ] 2> /dev/null && rss=$r
        done
        metric "compile.$f.$t.maxrss_kib" "$rss"
    done
done
# The front end alone (--check: read, parse, check; nothing emitted):
# what of the time and memory above comes before any output.
for f in uniform-10000 uniform-100000; do
    runs=$RUNS_SMALL warm=2
    [ "$f" = uniform-100000 ] && runs=$RUNS_BIG warm=1
    echo "   $f --check: $runs runs"
    hyperfine --style none -N -w "$warm" -r "$runs" \
        --export-json "$RES/compile-$f-check.json" \
        "$BIN --check $OUT/$f.tr" > /dev/null 2> "$RES/hf.err" ||
        { cat "$RES/hf.err" >&2; metric "compile.$f.check.error" "hyperfine failed"; }
    r=$( { /usr/bin/time -f '%M' "$BIN" --check "$OUT/$f.tr" > /dev/null; } 2>&1 | tail -n 1)
    metric "compile.$f.check.maxrss_kib" "$r"
done
loadavg compile

# ------------------------------------------------------------- ferm
step "ferm"
if have ferm; then
    metric ferm.version "$(ferm --version 2>&1 | head -n 1)"
    # ferm --remote only prints; the namespace is a second fence.
    fns="trc-bench-$$-ferm"
    fexec=()
    if [ "$(id -u)" -eq 0 ] && ip netns add "$fns" 2> /dev/null; then
        trap 'ip netns del "$fns" 2>/dev/null' EXIT
        fexec=(ip netns exec "$fns")
    fi
    if "${fexec[@]}" timeout 300 ferm --remote "$OUT/uniform-10000.ferm" > "$OUT/uniform-10000.ferm.out" 2> "$RES/ferm.err"; then
        metric ferm.rules "$(grep -c '^-A ' "$OUT/uniform-10000.ferm.out")"
        echo "   ferm --remote uniform-10000.ferm: $FERM_RUNS runs"
        hyperfine --style none -w 0 -r "$FERM_RUNS" --export-json "$RES/ferm-10000.json" \
            "${fexec[*]} ferm --remote $OUT/uniform-10000.ferm" > /dev/null 2> "$RES/hf.err" ||
            { cat "$RES/hf.err" >&2; metric ferm.error "hyperfine failed"; }
    else
        metric ferm.error "$(head -n 1 "$RES/ferm.err")"
    fi
    [ ${#fexec[@]} -gt 0 ] && { ip netns del "$fns"; trap - EXIT; }
else
    metric ferm.skipped "ferm not installed (apt-get install ferm)"
fi
loadavg ferm

# ------------------------------------------------------------- namespaces
step "namespaces: load times and per-connection cost"
# The same 10k nft file with the element comments taken out: how much of
# the load time the comments cost (a measurement, not the product).
sed -E 's/ comment "[^"]*" :/ :/' "$OUT/uniform-10000.nft" > "$OUT/uniform-10000-nocomment.nft"
bash "$HERE/netbench.sh" "$OUT" "$RES" "$LOAD10" "$LOAD50" "$CONN" ||
    metric net.error "netbench.sh failed (see the make output)"
loadavg net

# ------------------------------------------------------------- profile
step "profiling"
if have perf && [ -x "$PROF_BIN" ]; then
    for t in nft iptables; do
        if perf record -q -F 1999 -g -o "$RES/perf-$t.data" \
                "$PROF_BIN" -t "$t" "$OUT/uniform-100000.tr" > /dev/null 2> "$RES/perf-$t.err"; then
            perf report -i "$RES/perf-$t.data" --stdio --no-children -g none \
                --sort symbol --percent-limit 0.7 2> /dev/null > "$RES/perf-$t-self.txt"
            perf report -i "$RES/perf-$t.data" --stdio --children -g none \
                --sort symbol --percent-limit 3 2> /dev/null > "$RES/perf-$t-children.txt"
        else
            metric "perf.$t.error" "$(head -n 1 "$RES/perf-$t.err")"
        fi
    done
else
    metric perf.skipped "perf or the profiling build missing"
fi
if [ "$CALLGRIND" = 1 ] && have valgrind && have callgrind_annotate; then
    for t in nft iptables; do
        echo "   callgrind -t $t uniform-10000"
        if valgrind --tool=callgrind --callgrind-out-file="$RES/callgrind-$t.out" \
                "$BIN" -t "$t" "$OUT/uniform-10000.tr" > /dev/null 2> "$RES/callgrind-$t.err"; then
            callgrind_annotate --inclusive=yes "$RES/callgrind-$t.out" 2> /dev/null \
                > "$RES/callgrind-$t-incl.txt"
            callgrind_annotate "$RES/callgrind-$t.out" 2> /dev/null > "$RES/callgrind-$t-self.txt"
        fi
    done
else
    metric callgrind.skipped "BENCH_CALLGRIND=0 or valgrind missing"
fi
loadavg end
metric bench.seconds "$((SECONDS - START))"

# ------------------------------------------------------------- report
step "writing $RESULTS"
readme=()
[ "$README_UPDATE" = 1 ] && readme=(--readme "$ROOT/README.md")
python3 "$HERE/report.py" --res "$RES" --out "$RESULTS" "${readme[@]}" || exit 1
step "done"
