#!/bin/bash
# netbench.sh: what the compiled rulesets cost in a kernel, measured in
# network namespaces. Called by bench/run.sh; usage:
#
#   netbench.sh OUTDIR RESDIR RUNS_10K RUNS_50K CONN_COUNT
#
# OUTDIR holds uniform-{10000,50000}.{nft,iptables} (compiled by run.sh),
# the reference files bench/gen.py writes for the same routes: lean-N.nft
# (the leanest map table), lean-10000-FEATURE.nft (the same with one
# feature of our output each), kube-10000.iptables (kube-proxy's shape),
# RESDIR receives hyperfine JSON files, conn-*.json and lines "key<TAB>value"
# appended to RESDIR/metrics.tsv.
#
# Safety (the host's own firewall is never touched):
# - only namespaces created here, named trc-bench-<PID>-<role>, deleted by
#   the EXIT trap even after a failure or ^C;
# - every nft, iptables and sysctl command runs under `ip netns exec` in one
#   of them; veths are created inside them (ip -n ... peer netns ...);
# - addresses only from the documentation ranges 192.0.2.0/24 (listeners,
#   client), 198.51.100.0/24 and 203.0.113.0/24 (servers, front);
# - every loop is bounded and every network command has a timeout;
# - the only process started in the background (the servers) is recorded
#   by PID and killed by PID.
#
# Topology of the per-connection test:
#
#   cli 192.0.2.250 --- 192.0.2.254 fw 203.0.113.254 --- 203.0.113.253 srv
#                       (routes 192.0.2.0/24 of cli)      198.51.100.0/24 and
#                                                         203.0.113.0/25 are
#                                                         local (AnyIP) in srv
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
OUT=$1 RES=$2 RUNS10=${3:-7} RUNS50=${4:-3} CONN=${5:-1000}
# the lean-10000-VARIANT.nft files run.sh writes (bench/gen.py lean)
LEAN_VARIANTS=${LEAN_VARIANTS:-comments counters l4proto vmap type chains ours}
PY=$(python3 -c 'import sys; print(sys.executable)')
TAG="trc-bench-$$"
NETNS=()
PIDS=()
TMP=$(mktemp -d "${TMPDIR:-/tmp}/trc-bench.XXXXXX")
metric() { printf '%s\t%s\n' "$1" "$2" >> "$RES/metrics.tsv"; }
log() { echo "  $*" >&2; }

# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
    local p ns
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    for ns in "${NETNS[@]}"; do
        [ -e "/run/netns/$ns" ] && { ip netns del "$ns" || echo "warning: could not delete netns $ns" >&2; }
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

ns_add() {                     # ns_add ROLE: creates $TAG-ROLE with lo up
    local ns="$TAG-$1"
    NETNS+=("$ns")
    ip netns add "$ns" && ip -n "$ns" link set lo up
}
nsx() { local ns="$TAG-$1"; shift; timeout 300 ip netns exec "$ns" "$@"; }

skip_reason() {
    [ "$(id -u)" -eq 0 ] || { echo "not root"; return; }
    local t
    for t in ip nft iptables-nft-restore iptables-legacy-restore iptables-nft-save hyperfine timeout; do
        command -v "$t" > /dev/null || { echo "$t not found"; return; }
    done
    ns_add probe 2> "$TMP/err" || { echo "ip netns add failed: $(head -n 1 "$TMP/err")"; return; }
    ip netns del "$TAG-probe"
}

reason=$(skip_reason)
if [ -n "$reason" ]; then
    echo "SKIPPED: namespace benchmarks: $reason"
    metric net.skipped "$reason"
    exit 0
fi

for f in uniform-10000.nft uniform-50000.nft uniform-10000.iptables uniform-50000.iptables \
         lean-10000.nft lean-50000.nft kube-10000.iptables; do
    [ -s "$OUT/$f" ] || { echo "netbench: $OUT/$f missing" >&2; exit 1; }
done

# ------------------------------------------------------------ load times
# hf NAME RUNS PREPARE CMD: hyperfine of CMD, PREPARE before each run
hf() {
    local name=$1 runs=$2 prep=$3 cmd=$4
    log "load: $name ($runs runs)"
    if ! timeout 600 hyperfine --style none -w 0 -r "$runs" --prepare "$prep" \
            --export-json "$RES/load-$name.json" "$cmd" > "$TMP/hf.out" 2>&1; then
        cat "$TMP/hf.out" >&2
        metric "load.$name.error" "hyperfine failed"
        return 1
    fi
}

ns_add load || exit 1
ns_add legacy || exit 1
L="$TAG-load" G="$TAG-legacy"
flush_nft="ip netns exec $L nft flush ruleset"
flush_legacy="ip netns exec $G sh -c 'for t in filter nat; do iptables-legacy -t \$t -F; iptables-legacy -t \$t -X; done'"

# il NAME RUNS PREPARE NAME=CMD...: the commands interleaved, round after
# round (bench/interleave.py), so that the ratios of the goals are measured
# side by side and a drift of the shared machine falls on both sides
il() {
    local name=$1 runs=$2 prep=$3
    shift 3
    log "load: $name, interleaved ($runs rounds): ${*%%=*}"
    if ! timeout 1200 "$PY" "$here/interleave.py" --runs "$runs" --res "$RES" \
            --prepare "$prep" "$@" > "$TMP/il.out" 2>&1; then
        cat "$TMP/il.out" >&2
        metric "load.$name.error" "interleave.py failed"
        return 1
    fi
}

for n in 10000 50000; do
    # 50k: the nft goal is linearity (ours and the lean table); the
    # iptables loaders once each
    runs=$RUNS10 more=$RUNS10
    [ "$n" = 50000 ] && runs=$RUNS50 more=1
    # ours and its floor, the leanest map table; at 10k also the lean
    # table with each feature of our output (what each costs the loader)
    # and ours without its element comments
    cmds=("nft-$n=ip netns exec $L nft -f $OUT/uniform-$n.nft"
          "lean-$n=ip netns exec $L nft -f $OUT/lean-$n.nft")
    if [ "$n" = 10000 ]; then
        for v in $LEAN_VARIANTS; do
            [ -s "$OUT/lean-$n-$v.nft" ] &&
                cmds+=("lean-$v-$n=ip netns exec $L nft -f $OUT/lean-$n-$v.nft")
        done
        [ -s "$OUT/uniform-$n-nocomment.nft" ] &&
            cmds+=("nft-nocomment-$n=ip netns exec $L nft -f $OUT/uniform-$n-nocomment.nft")
    fi
    il "nft-$n" "$runs" "$flush_nft" "${cmds[@]}"
    # the same file again over the loaded table: what an update costs
    nsx load nft flush ruleset && nsx load nft -f "$OUT/uniform-$n.nft"
    hf "nft-reload-$n" "$more" "true" "ip netns exec $L nft -f $OUT/uniform-$n.nft"
    if [ "$n" = 10000 ]; then
        # the listing is the file (doc/nft-output.md)
        # the file without its comments and the "table X / delete table X"
        # lines before the first table block, against the whole listing
        if diff <(grep -v '^#' "$OUT/uniform-$n.nft" | sed -n '/ {$/,$p') \
                <(nsx load nft list ruleset) > "$TMP/nftdiff" 2>&1; then
            metric "load.nft-$n.listing_identical" yes
        else
            metric "load.nft-$n.listing_identical" "no ($(wc -l < "$TMP/nftdiff") diff lines)"
        fi
        # ours and the kube-proxy shape, the floor of the iptables goal
        il "ipt-nft-$n" "$more" "$flush_nft" \
            "ipt-nft-$n=ip netns exec $L iptables-nft-restore $OUT/uniform-$n.iptables" \
            "kube-nft-$n=ip netns exec $L iptables-nft-restore $OUT/kube-$n.iptables"
        nsx load nft flush ruleset && nsx load iptables-nft-restore "$OUT/uniform-$n.iptables"
        nsx load iptables-nft-save > "$TMP/save" 2>/dev/null
        metric "load.ipt-nft-$n.forward_rules" "$(grep -c '^-A FORWARD ' "$TMP/save")"
        metric "load.ipt-nft-$n.postrouting_rules" "$(grep -c '^-A POSTROUTING ' "$TMP/save")"
        metric "load.ipt-nft-$n.prerouting_rules" "$(grep -c '^-A PREROUTING ' "$TMP/save")"
        il "ipt-legacy-$n" "$more" "$flush_legacy" \
            "ipt-legacy-$n=ip netns exec $G iptables-legacy-restore $OUT/uniform-$n.iptables" \
            "kube-legacy-$n=ip netns exec $G iptables-legacy-restore $OUT/kube-$n.iptables"
    else
        hf "ipt-nft-$n" "$more" "$flush_nft" "ip netns exec $L iptables-nft-restore $OUT/uniform-$n.iptables"
        hf "ipt-legacy-$n" "$more" "$flush_legacy" "ip netns exec $G iptables-legacy-restore $OUT/uniform-$n.iptables"
    fi
done
nsx load nft flush ruleset
ip netns del "$L" && ip netns del "$G"

# ------------------------------------------------- per-connection cost
log "connections: topology"
ns_add cli && ns_add fw && ns_add srv || exit 1
C="$TAG-cli" F="$TAG-fw" S="$TAG-srv"
(
    set -e
    ip -n "$F" link add trc-f0 type veth peer name trc-c0 netns "$C"
    ip -n "$F" link add trc-f1 type veth peer name trc-s0 netns "$S"
    ip -n "$C" addr add 192.0.2.250/32 dev trc-c0
    ip -n "$C" link set trc-c0 up
    ip -n "$C" route add 192.0.2.254/32 dev trc-c0
    ip -n "$C" route add 192.0.2.0/24 via 192.0.2.254
    ip -n "$F" addr add 192.0.2.254/32 dev trc-f0
    ip -n "$F" addr add 203.0.113.254/32 dev trc-f1
    ip -n "$F" link set trc-f0 up
    ip -n "$F" link set trc-f1 up
    ip -n "$F" route add 192.0.2.250/32 dev trc-f0
    ip -n "$F" route add 198.51.100.0/24 dev trc-f1
    ip -n "$F" route add 203.0.113.0/25 dev trc-f1
    ip netns exec "$F" sysctl -qw net.ipv4.ip_forward=1
    ip -n "$S" addr add 203.0.113.253/32 dev trc-s0
    ip -n "$S" link set trc-s0 up
    ip -n "$S" route add 203.0.113.254/32 dev trc-s0
    ip -n "$S" route add local 198.51.100.0/24 dev lo
    ip -n "$S" route add local 203.0.113.0/25 dev lo
    for ns in "$C" "$F" "$S"; do
        ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0
        ip netns exec "$ns" sysctl -qw net.ipv4.conf.default.rp_filter=0
    done
) || { echo "netbench: topology setup failed" >&2; exit 1; }

read -r a1 p1 s1 < <(python3 "$here/gen.py" addr 10000 0)
read -r a2 p2 s2 < <(python3 "$here/gen.py" addr 10000 9999)
metric conn.first "route r0: $a1:$p1 (servers on port $s1)"
metric conn.last "route r9999: $a2:$p2 (servers on port $s2)"

rm -f "$TMP/ready"
ip netns exec "$S" "$PY" "$here/conntime.py" serve --ports "$s1" "$s2" \
    --ready "$TMP/ready" --lifetime 600 > /dev/null 2> "$TMP/serve.err" &
PIDS+=("$!")
for _ in $(seq 100); do [ -e "$TMP/ready" ] && break; sleep 0.05; done
[ -e "$TMP/ready" ] || { echo "netbench: server did not start" >&2; cat "$TMP/serve.err" >&2; exit 1; }

# conn NAME SPORT_BASE: times CONN connections to the first and the last route
conn() {
    log "connections: $1 ($CONN each to the first and the last route)"
    nsx cli "$PY" "$here/conntime.py" time --target first "$a1" "$p1" \
        --target last "$a2" "$p2" --count "$CONN" --timeout 2 \
        --sport-base "$2" --deadline 240 > "$RES/conn-$1.json"
}

nsx fw nft -f "$OUT/uniform-10000.nft" && conn nft 20000
nsx fw nft flush ruleset
nsx fw iptables-nft-restore "$OUT/uniform-10000.iptables" && conn iptables-nft 30000
nsx fw nft flush ruleset
nsx fw iptables-legacy-restore "$OUT/uniform-10000.iptables" && conn iptables-legacy 40000
exit 0
