#!/bin/bash
# bench/delta.sh: what a --since delta costs against a full reload, at 10k
# routes (`make bench-delta`; run from the repository root as root, after
# `make tcproutec`). Writes bench/out/delta/ (inputs, outputs, hyperfine
# JSON) and bench/results-delta.md. About 5-10 minutes on 2 cores.
#
# Inputs: bench/gen.py uniform 10000 and mixed 10000 as old/routes.tr; as
# new/routes.tr the same with the first server of the middle route (r5000,
# m5000) moved to another address: a change of one server of one route.
# For each input:
#   - compile: the full output of NEW against the delta --since OLD, both
#     targets (hyperfine, -N, output to /dev/null);
#   - load, in a namespace, for nft -f, iptables-nft-restore and
#     iptables-legacy-restore: (a) a full load of NEW's output on a host
#     running OLD's, (b) the delta (--noflush for iptables) on a host running
#     OLD's. Before every run, untimed (hyperfine --prepare), the host is
#     reset to OLD: a full load of OLD's output (after a flush: nft's ruleset,
#     legacy's tables). Wall time: median of the runs; CPU time: mean of
#     user + system of the loader (hyperfine's figures of the child).
#   - once per loader, the host after the delta lists what a fresh load of
#     NEW lists (nft: blocks sorted; iptables: `#` lines and counters aside).
#   - the nft delta taken apart: its guard line alone, and the rest, each
#     timed the same way (where the time goes).
# Knobs: BENCH_DELTA_RUNS (runs per figure, default 10),
# BENCH_DELTA_SINCE_RUNS (runs of the --since compile, default 3: it takes
# tens of seconds at 10k routes today), BENCH_DELTA_RESULTS
# (the report, default bench/results-delta.md).
#
# Safety: only the namespace trc-bench-delta-<PID>, deleted by the EXIT
# trap; every loader runs under `ip netns exec` there; documentation
# addresses only (the inputs of gen.py, and 192.0.2.200 for the moved
# server); no traffic.
set -uo pipefail
export LC_ALL=C
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2
HERE=$ROOT/bench
OUT=$HERE/out/delta
BIN=$ROOT/tcproutec
RUNS=${BENCH_DELTA_RUNS:-10}
CRUNS=${BENCH_DELTA_SINCE_RUNS:-3}
RESULTS=${BENCH_DELTA_RESULTS:-$HERE/results-delta.md}
NS="trc-bench-delta-$$"
START=$SECONDS

step() { echo "== bench-delta: $* ($((SECONDS - START)) s)"; }
die() { echo "bench-delta: $*" >&2; exit 1; }
for t in python3 hyperfine ip nft iptables-nft-restore iptables-legacy-restore \
         iptables-nft-save iptables-legacy-save; do
    command -v "$t" > /dev/null || die "$t not found"
done
[ "$(id -u)" -eq 0 ] || die "not root (the load times are measured in a network namespace)"
[ -x "$BIN" ] || die "$BIN not built (make)"

# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() { [ -e "/run/netns/$NS" ] && ip netns del "$NS"; }
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
{ ip netns add "$NS" && ip -n "$NS" link set lo up; } || die "ip netns add failed"
nsx() { ip netns exec "$NS" "$@"; }

rm -rf "$OUT"
mkdir -p "$OUT/res"
RES=$OUT/res

# ------------------------------------------------------------- inputs
step "inputs"
INPUTS=(uniform mixed)
for kind in "${INPUTS[@]}"; do
    mkdir -p "$OUT/$kind/old" "$OUT/$kind/new"
    python3 "$HERE/gen.py" "$kind" 10000 "$OUT/$kind/old/routes.tr" || exit 1
    route=r5000
    [ "$kind" = mixed ] && route=m5000
    # the first server line of ROUTE moves to 192.0.2.200
    awk -v r="route $route {" '
        $0 == r { in_r = 1 }
        in_r && !done && $1 == "server" { sub(/server [0-9.]+:/, "server 192.0.2.200:"); done = 1 }
        { print }
        END { if (!done) exit 1 }' "$OUT/$kind/old/routes.tr" > "$OUT/$kind/new/routes.tr" ||
        die "$kind: route $route not found"
    [ "$(diff "$OUT/$kind/old/routes.tr" "$OUT/$kind/new/routes.tr" | grep -c '^[<>]')" = 2 ] ||
        die "$kind: the change is not one line"
    for t in nft iptables; do
        if ! { "$BIN" -t "$t" -o "$OUT/$kind/old.$t" "$OUT/$kind/old/routes.tr" &&
               "$BIN" -t "$t" -o "$OUT/$kind/new.$t" "$OUT/$kind/new/routes.tr" &&
               "$BIN" -t "$t" --since "$OUT/$kind/old/routes.tr" -o "$OUT/$kind/delta.$t" \
                   "$OUT/$kind/new/routes.tr"; }; then
            die "$kind: compiling -t $t failed"
        fi
    done
done

# ------------------------------------------------------------- compile
step "compile times"
for kind in "${INPUTS[@]}"; do
    for t in nft iptables; do
        hyperfine --style none -N -w 2 -r "$RUNS" --export-json "$RES/compile-$kind-$t.json" \
            -n full "$BIN -t $t $OUT/$kind/new/routes.tr" \
            > /dev/null 2> "$RES/hf.err" || { cat "$RES/hf.err" >&2; die "hyperfine (compile) failed"; }
        # --since takes far longer than a full compile (see results-delta.md): fewer runs
        hyperfine --style none -N -w 0 -r "$CRUNS" --export-json "$RES/compile-since-$kind-$t.json" \
            -n since "$BIN -t $t --since $OUT/$kind/old/routes.tr $OUT/$kind/new/routes.tr" \
            > /dev/null 2> "$RES/hf.err" || { cat "$RES/hf.err" >&2; die "hyperfine (compile) failed"; }
    done
done

# ------------------------------------------------------------- loads
# Every command runs through `ip netns exec` (no shell: hyperfine -N).
# reset LOADER KIND: the commands that put OLD on the host.
reset_cmd() {
    case "$1" in
        nft) echo "ip netns exec $NS sh -c 'nft flush ruleset && nft -f $OUT/$2/old.nft'" ;;
        iptables-nft) echo "ip netns exec $NS sh -c 'nft flush ruleset && iptables-nft-restore $OUT/$2/old.iptables'" ;;
        # (the shell of sh -c expands $t, not this one)
        iptables-legacy) echo "ip netns exec $NS sh -c 'for t in filter nat; do iptables-legacy -w -t \$t -F; iptables-legacy -w -t \$t -X; done; iptables-legacy-restore -w 60 $OUT/$2/old.iptables'" ;;
    esac
}
full_cmd() {
    case "$1" in
        nft) echo "ip netns exec $NS nft -f $OUT/$2/new.nft" ;;
        iptables-legacy) echo "ip netns exec $NS iptables-legacy-restore -w 60 $OUT/$2/new.iptables" ;;
        *) echo "ip netns exec $NS $1-restore $OUT/$2/new.iptables" ;;
    esac
}
delta_cmd() {
    case "$1" in
        nft) echo "ip netns exec $NS nft -f ${3:-$OUT/$2/delta.nft}" ;;
        iptables-legacy) echo "ip netns exec $NS iptables-legacy-restore -w 60 --noflush $OUT/$2/delta.iptables" ;;
        *) echo "ip netns exec $NS $1-restore --noflush $OUT/$2/delta.iptables" ;;
    esac
}
clean_all() {
    nsx nft flush ruleset
    # shellcheck disable=SC2016 # expanded by the inner shell
    nsx sh -c 'for t in filter nat; do iptables-legacy -w -t $t -F; iptables-legacy -w -t $t -X; done' 2> /dev/null
}

listing() {
    case "$1" in
        nft) nsx nft list ruleset | sed -E 's/counter packets [0-9]+ bytes [0-9]+/counter packets 0 bytes 0/g' |
             python3 -S -c '
import sys
out, block = [], None
for line in sys.stdin.read().split("\n"):
    if block is not None:
        block.append(line)
        if line == "\t}":
            out.append("\n".join(block)); block = None
    elif line.startswith("\t") and line.endswith(" {"):
        block = [line]
    else:
        out.append(line)
print("\n".join(sorted(out)))' ;;
        *) nsx "$1-save" | grep -v '^#' | sed -E 's/^(:[^ ]+ [A-Z-]+) \[[0-9]+:[0-9]+\]$/\1 [0:0]/' ;;
    esac
}

LOADERS=(nft iptables-nft iptables-legacy)
for kind in "${INPUTS[@]}"; do
    for l in "${LOADERS[@]}"; do
        step "$kind: $l"
        clean_all
        # the delta is exact (a figure for a wrong delta would be worthless)
        sh -c "$(full_cmd "$l" "$kind")" > /dev/null || die "$kind $l: full load of NEW failed"
        listing "$l" > "$RES/$kind-$l.ref"
        clean_all
        if ! { sh -c "$(reset_cmd "$l" "$kind")" && sh -c "$(delta_cmd "$l" "$kind")"; }; then
            die "$kind $l: the delta does not load on a host running OLD"
        fi
        listing "$l" > "$RES/$kind-$l.after"
        if cmp -s "$RES/$kind-$l.ref" "$RES/$kind-$l.after"; then
            echo "$kind $l: exact" >> "$RES/exact.txt"
        else
            echo "$kind $l: DIFFERS ($(diff "$RES/$kind-$l.ref" "$RES/$kind-$l.after" | grep -c '^[<>]') lines)" >> "$RES/exact.txt"
        fi
        clean_all
        hyperfine --style none -N -w 1 -r "$RUNS" --prepare "$(reset_cmd "$l" "$kind")" \
            --export-json "$RES/load-$kind-$l.json" \
            -n full "$(full_cmd "$l" "$kind")" -n delta "$(delta_cmd "$l" "$kind")" \
            > /dev/null 2> "$RES/hf.err" || { cat "$RES/hf.err" >&2; die "hyperfine ($kind $l) failed"; }
        clean_all
    done
    # the nft delta taken apart: the guard line alone (the generation
    # marker deleted), then everything but the guard, on a host running OLD
    grep -m1 '^delete chain .* generation_' "$OUT/$kind/delta.nft" > "$OUT/$kind/delta-guard.nft"
    grep -v '^delete chain .* generation_' "$OUT/$kind/delta.nft" > "$OUT/$kind/delta-noguard.nft"
    printf 'table ip tcproutec {\n}\n' > "$OUT/$kind/empty-table.nft"
    hyperfine --style none -N -w 1 -r "$RUNS" --prepare "$(reset_cmd nft "$kind")" \
        --export-json "$RES/parts-$kind.json" \
        -n guard "$(delta_cmd nft "$kind" "$OUT/$kind/delta-guard.nft")" \
        -n noguard "$(delta_cmd nft "$kind" "$OUT/$kind/delta-noguard.nft")" \
        -n empty-table "$(delta_cmd nft "$kind" "$OUT/$kind/empty-table.nft")" \
        -n list-table "ip netns exec $NS nft list table ip tcproutec" \
        > /dev/null 2> "$RES/hf.err" || { cat "$RES/hf.err" >&2; echo "bench-delta: the nft parts failed" >&2; }
    clean_all
done

# ------------------------------------------------------------- report
step "report"
{
    echo "machine: $(nproc) cores, $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(uname -sr)"
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'), load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "tools: $("$BIN" --version 2>&1 | head -n 1) ($(git -C "$ROOT" describe --always --dirty 2>/dev/null)), $(nft --version), $(iptables --version), $(hyperfine --version)"
    echo "runs: $RUNS per figure"
    echo "since_runs: $CRUNS"
    for kind in "${INPUTS[@]}"; do
        echo "sizes.$kind: $(wc -l < "$OUT/$kind/new.nft") $(wc -l < "$OUT/$kind/delta.nft") $(wc -l < "$OUT/$kind/new.iptables") $(wc -l < "$OUT/$kind/delta.iptables")"
    done
} > "$RES/meta.txt"
python3 - "$RES" "$RESULTS" <<'EOF'
import json, os, statistics, sys
res, out = sys.argv[1], sys.argv[2]
meta = dict(l.split(": ", 1) for l in open(os.path.join(res, "meta.txt")).read().splitlines())
exact = open(os.path.join(res, "exact.txt")).read().split("\n")

def fig(path):
    """name -> (median wall s, mean cpu s, min wall, max wall)"""
    d = json.load(open(path))["results"]
    return {r["command"]: (statistics.median(r["times"]), r["user"] + r["system"],
                           min(r["times"]), max(r["times"])) for r in d}

def ms(x):
    return "%.1f" % (x * 1000) if x < 10 else "%.0f" % (x * 1000)

L = []
w = L.append
w("# --since deltas against full reloads, at 10k routes")
w("")
w("Measured by `make bench-delta` (bench/delta.sh); every figure below comes")
w("from that run. " + meta["machine"] + "; " + meta["date"] + ".")
w("Tools: " + meta["tools"] + ". " + meta["runs"] + ".")
w("")
w("Inputs: `bench/gen.py uniform 10000` and `mixed 10000` as OLD; NEW moves the")
w("first server of route r5000 (m5000) to another address: one server of one")
w("route. Goals (issue 12): a delta loads in at most 5% of a full reload with")
w("nft, 20% with iptables; compiling it costs no more than a full compile.")
w("")
w("Output sizes (lines): " + "; ".join(
    "%s: nft full %s, delta %s; iptables full %s, delta %s" % ((k,) + tuple(meta["sizes." + k].split()))
    for k in ("uniform", "mixed")) + ".")
w("")
w("## Loading, on a host running OLD")
w("")
w("Wall: median of the runs (min-max); CPU: mean user+system of the loader")
w("process. Each run starts from a host reset to OLD (untimed).")
w("")
w("| input | loader | full reload wall ms | delta wall ms | delta/full wall | full CPU ms | delta CPU ms | delta/full CPU | goal |")
w("|---|---|---|---|---|---|---|---|---|")
for k in ("uniform", "mixed"):
    for l in ("nft", "iptables-nft", "iptables-legacy"):
        p = os.path.join(res, "load-%s-%s.json" % (k, l))
        if not os.path.exists(p):
            w("| %s | %s | (not measured) |||||||" % (k, l))
            continue
        f = fig(p)
        fw, fc, fmin, fmax = f["full"]
        dw, dc, dmin, dmax = f["delta"]
        goal = 0.05 if l == "nft" else 0.20
        ok = "met" if dw / fw <= goal else "**missed**"
        w("| %s | %s | %s (%s-%s) | %s (%s-%s) | %.1f%% | %s | %s | %.1f%% | %d%%: %s |" % (
            k, l, ms(fw), ms(fmin), ms(fmax), ms(dw), ms(dmin), ms(dmax), 100 * dw / fw,
            ms(fc), ms(dc), 100 * dc / fc, int(goal * 100), ok))
w("")
w("The delta is exact before it is timed: after it, the host lists what a")
w("fresh load of NEW lists: " + "; ".join(e for e in exact if e) + ".")
w("")
w("## Where an nft delta's time goes")
w("")
w("The delta taken apart, each part loaded alone with `nft -f` on a host")
w("running OLD (wall, median): its guard line (`delete chain ... generation_`),")
w("everything but the guard, an empty `table ip tcproutec {}` block, and")
w("`nft list table` of the loaded table for scale.")
w("")
w("| input | guard alone ms | delta without guard ms | empty table block ms | list table ms | whole delta ms |")
w("|---|---|---|---|---|---|")
for k in ("uniform", "mixed"):
    p = os.path.join(res, "parts-%s.json" % k)
    q = os.path.join(res, "load-%s-nft.json" % k)
    if not os.path.exists(p) or not os.path.exists(q):
        continue
    f, g = fig(p), fig(q)
    w("| %s | %s | %s | %s | %s | %s |" % (k, ms(f["guard"][0]), ms(f["noguard"][0]),
      ms(f["empty-table"][0]), ms(f["list-table"][0]), ms(g["delta"][0])))
w("")
w("## Compiling")
w("")
w("Wall, median (full: %s runs; --since: %s runs); NEW's full output against" % (meta["runs"].split()[0], meta["since_runs"]))
w("the delta `--since OLD` (which compiles both files). Goal: since/full <= 1.")
w("")
w("| input | target | full compile ms | --since ms | since/full |")
w("|---|---|---|---|---|")
for k in ("uniform", "mixed"):
    for t in ("nft", "iptables"):
        f = fig(os.path.join(res, "compile-%s-%s.json" % (k, t)))
        f.update(fig(os.path.join(res, "compile-since-%s-%s.json" % (k, t))))
        w("| %s | %s | %s | %s | %.1f |" % (k, t, ms(f["full"][0]), ms(f["since"][0]),
                                           f["since"][0] / f["full"][0]))
open(out, "w").write("\n".join(L) + "\n")
EOF
step "done: $RESULTS"
