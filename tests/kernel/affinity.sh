#!/bin/bash
# affinity.sh: hash affinity (`affinity client-ip`) for a fleet of devices,
# in the kernel, for each loader: nft -f (-t nft), iptables-nft-restore and
# ip6tables-nft-restore, iptables-legacy-restore and ip6tables-legacy-restore
# (-t iptables, -t ip6tables). Case: tests/kernel/cases/affinity-hash.tr
# (one route per family, TCP and UDP, servers b1 b2 b3) and affinity-hash4.tr
# (the same with a fourth server, b4).
#
# Devices: 240 IPv4 addresses (203.0.113.10-249) and 600 IPv6 addresses
# (2001:db8:d::/64, spread interface identifiers) on the client's interface,
# routed by the front through the client's own address (one neighbour entry,
# not 840); every connection binds one of them (nettool.py connect
# --sources). For
# each loader, in namespaces of its own (the loaders run side by side):
#   - every device connects 3 times over TCP: each keeps one server; all
#     three servers get devices; b4 (not in the file) none;
#   - every device sends one UDP datagram: the same server as over TCP;
#   - reload (the same file loaded again), one TCP connection each: the same;
#   - the tracer (tests/trace/trace.py --each-src, reading the compiled
#     file) predicts the server of every device: equal to what it reached.
#     The tracer computes the hash itself, so this shows that its jhash /
#     HMARK equals the kernel's, through the slot table;
#   - the file with a fourth server: at most 1/4 + 5% of the devices of each
#     family move; the tracer predicts the new servers too;
#   - a second, fresh gateway (new namespaces, the same file loaded): every
#     device reaches the same server as through the first.
# Once, with nft -f: the whole hash (mod 2^32 - 1) of every device address,
# as nft jhash and as HMARK (iptables-nft and iptables-legacy) compute it,
# recorded by an nft set, equals trace.py's.
#
# Usage: tests/kernel/affinity.sh    (as root; from anywhere)
# Environment: TCPROUTEC (default ./tcproutec at the repository root).
# Ends with "N passed, N failed, N skipped".
# Checks run in subshells (trc_spawn) and are called through "$@":
# shellcheck disable=SC2030,SC2031,SC2317
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
export LC_ALL=C

CASE=$TRC_ROOT/tests/kernel/cases/affinity-hash
PORT=4443
TRACE=$TRC_ROOT/tests/trace/trace.py
N4=240 N6=600
MOVE_SLACK=5     # percent above 1/4 that may move when b4 joins
FILES=$TRC_TMP/files   # the compiled files (made before the loaders start)

# devices FAMILY: the device addresses, one a line.
devices() {
    if [ "$1" = 4 ]; then
        seq 10 $((9 + N4)) | sed 's/^/203.0.113./'
    else
        "$TRC_PY" -c '
import hashlib, ipaddress, sys
for i in range(int(sys.argv[1])):
    iid = int.from_bytes(hashlib.sha256(b"dev%d" % i).digest()[:8], "big") | 1
    print(ipaddress.ip_address((0x20010db8000d0000 << 64) | iid))' "$N6"
    fi
}

# net_up: the topology with four servers (b1-b4 answer on $PORT's target
# port 443), IPv6, and the device addresses on the client.
net_up() {
    trc_topology_up 4 && trc_topology_v6 || return 1
    {
        sed 's|.*|addr add &/32 dev trc-eth0|' "$TRC_TMP/dev4"
        sed 's|.*|addr add &/128 dev trc-eth0 nodad|' "$TRC_TMP/dev6"
    } | ip -n "$(trc_ns client)" -batch - &&
        ip -n "$(trc_ns front)" route add 203.0.113.0/24 via "$TRC_CLIENT" &&
        ip -n "$(trc_ns front)" route add 2001:db8:d::/64 via "$TRC_CLIENT6" &&
        trc_start_servers 443
}

# load LOADER FAMILY FILE
load() {
    case "$1/$2" in
        nftables/*) nsx front nft -f "$3" ;;
        iptables-nft/4) nsx front iptables-nft-restore < "$3" ;;
        iptables-nft/6) nsx front ip6tables-nft-restore < "$3" ;;
        # -w: the xtables lock is one file for all namespaces
        iptables-legacy/4) nsx front iptables-legacy-restore -w 60 < "$3" ;;
        iptables-legacy/6) nsx front ip6tables-legacy-restore -w 60 < "$3" ;;
    esac
}

# file LOADER FAMILY [4]: the compiled file (affinity-hash4 with 4).
file() {
    local t=iptables
    [ "$1" = nftables ] && t=nft
    [ "$1" != nftables ] && [ "$2" = 6 ] && t=ip6tables
    echo "$FILES/affinity-hash${3-}.$t"
}

# reach FAMILY PROTO TIMES OUT: every device connects TIMES times (TCP) or
# sends TIMES datagrams (UDP), at most 1000 a nettool call; OUT gets
# "DEVICE SERVER..." (each server that answered it, bI, once) per device,
# sorted, and "DEVICE -" for a device that got no answer.
reach() {
    local fam=$1 proto=$2 times=$3 out=$4 addr=$TRC_FRONT_PUB base per
    [ "$fam" = 6 ] && addr=$TRC_FRONT_PUB6
    per=$((1000 / times))
    # source ports: a fresh range for every call of a run (new flows)
    REACH_BASE=$((${REACH_BASE:-20000} + 1000))
    base=$REACH_BASE
    split -l "$per" "$TRC_TMP/dev$fam" "$TRC_TMP/chunk."
    for chunk in "$TRC_TMP"/chunk.*; do
        mapfile -t srcs < "$chunk"
        trc_nettool connect "$addr" "$PORT" --netns "$(trc_ns client)" \
            --proto "$proto" --count $((times * ${#srcs[@]})) --timeout 1 \
            --max-timeouts 20 --sport-base "$base" --sources "${srcs[@]}"
        base=$((base + 1000))
        REACH_BASE=$base
    done > "$TRC_TMP/reach.json"
    rm -f "$TRC_TMP"/chunk.*
    "$TRC_PY" -c '
import json, sys
got = {}
for line in open(sys.argv[1]):
    for src, names in json.loads(line).get("by_source", {}).items():
        got.setdefault(src, set()).update(names)
for src in open(sys.argv[2]).read().split():
    print(src, " ".join(sorted(got.get(src, ()))) or "-")' \
        "$TRC_TMP/reach.json" "$TRC_TMP/dev$fam" | sort > "$out"
}

# predict FAMILY FILE FORMAT OUT: the tracer's server (bI) of every device.
predict() {
    local dst=$TRC_FRONT_PUB
    [ "$1" = 6 ] && dst=$TRC_FRONT_PUB6
    "$TRC_PY" "$TRACE" "$2" --format "$3" --proto tcp --each-src "$TRC_TMP/dev$1" \
        --dst "$dst" --dport "$PORT" |
        sed -E 's/ 198\.51\.100\.([0-9]+):443$/ b\1/; s/ \[2001:db8:b::([0-9]+)\]:443$/ b\1/' |
        awk '$2 ~ /^b[0-9]+$/ { $2 = "b" (substr($2, 2) - 1) } { print }' | sort > "$4"
}

# same WHAT A B: files A and B say the same of every device.
same() {
    local n
    if cmp -s "$2" "$3"; then
        pass "$1 ($(wc -l < "$2") devices)"
    else
        n=$(diff "$2" "$3" | grep -c '^<')
        fail "$1: $n devices differ, e.g.: $(diff "$2" "$3" | grep '^[<>]' | head -n 4 | tr '\n' ' ')"
    fi
}

# check_kept WHAT FAMILY OUT: every device of OUT reached one server; all
# three of b1-b3 got devices, b4 none. Prints the counts per server.
check_kept() {
    local bad counts
    bad=$(awk 'NF != 2 || $2 == "-"' "$3" | head -n 3 | tr '\n' ' ')
    counts=$(awk '{ n[$2]++ } END { for (s in n) printf "%s=%d ", s, n[s] }' "$3" |
        tr ' ' '\n' | sort | tr '\n' ' ')
    if [ -n "$bad" ]; then
        fail "$1: devices without exactly one server: $bad(servers: $counts)"
    elif ! grep -q ' b1$' "$3" || ! grep -q ' b2$' "$3" || ! grep -q ' b3$' "$3" ||
            grep -q ' b4$' "$3"; then
        fail "$1: not spread over b1-b3 only: $counts"
    else
        pass "$1: each of $(wc -l < "$3") devices kept one server ($counts)"
    fi
}

# moved WHAT A B: at most 1/4 + MOVE_SLACK% of the devices differ.
moved() {
    local n total
    n=$(join "$2" "$3" | awk '$2 != $3' | wc -l)
    total=$(wc -l < "$2")
    if [ $((n * 100)) -le $((total * (25 + MOVE_SLACK))) ]; then
        pass "$1: $n of $total devices moved ($((n * 1000 / total / 10)).$((n * 1000 / total % 10))%, at most $((25 + MOVE_SLACK))%)"
    else
        fail "$1: $n of $total devices moved ($((n * 100 / total))%), more than $((25 + MOVE_SLACK))%"
    fi
    echo "   $1: moved to: $(join "$2" "$3" | awk '$2 != $3 { print $3 }' | sort | uniq -c | tr '\n' ' ')"
}

# run_one LOADER: the whole sequence for one loader (in its namespaces).
run_one() {
    local loader=$1 tag="affinity [$1]" fam fmt f
    devices 4 > "$TRC_TMP/dev4"
    devices 6 > "$TRC_TMP/dev6"
    net_up || { fail "$tag: topology setup failed"; return; }
    for fam in 4 6; do
        if ! load "$loader" "$fam" "$(file "$loader" "$fam")" > "$TRC_TMP/load.out" 2>&1; then
            fail "$tag: load of IPv$fam failed: $(head -c 1000 "$TRC_TMP/load.out")"
            return
        fi
    done
    for fam in 4 6; do
        f=$(file "$loader" "$fam")
        fmt=nft
        [ "$loader" != nftables ] && fmt=iptables && [ "$fam" = 6 ] && fmt=ip6tables
        reach "$fam" tcp 3 "$TRC_TMP/a$fam"
        check_kept "$tag IPv$fam: 3 TCP connections" "$fam" "$TRC_TMP/a$fam"
        reach "$fam" udp 1 "$TRC_TMP/u$fam"
        same "$tag IPv$fam: UDP reaches each device's TCP server" "$TRC_TMP/a$fam" "$TRC_TMP/u$fam"
        predict "$fam" "$f" "$fmt" "$TRC_TMP/p$fam"
        same "$tag IPv$fam: the tracer predicts every device's server" "$TRC_TMP/p$fam" "$TRC_TMP/a$fam"
    done
    for fam in 4 6; do
        load "$loader" "$fam" "$(file "$loader" "$fam")" > "$TRC_TMP/load.out" 2>&1 ||
            fail "$tag: reload of IPv$fam failed: $(head -c 1000 "$TRC_TMP/load.out")"
        reach "$fam" tcp 1 "$TRC_TMP/r$fam"
        same "$tag IPv$fam: after a reload, every device keeps its server" "$TRC_TMP/a$fam" "$TRC_TMP/r$fam"
    done
    for fam in 4 6; do
        f=$(file "$loader" "$fam" 4)
        fmt=nft
        [ "$loader" != nftables ] && fmt=iptables && [ "$fam" = 6 ] && fmt=ip6tables
        if ! load "$loader" "$fam" "$f" > "$TRC_TMP/load.out" 2>&1; then
            fail "$tag: load of the four-server IPv$fam file failed: $(head -c 1000 "$TRC_TMP/load.out")"
            continue
        fi
        reach "$fam" tcp 1 "$TRC_TMP/f$fam"
        moved "$tag IPv$fam: a fourth server" "$TRC_TMP/a$fam" "$TRC_TMP/f$fam"
        predict "$fam" "$f" "$fmt" "$TRC_TMP/q$fam"
        same "$tag IPv$fam: the tracer predicts every device's server (four servers)" \
            "$TRC_TMP/q$fam" "$TRC_TMP/f$fam"
    done
    # A second gateway: fresh namespaces, nothing shared but the file.
    trc_topology_down
    net_up || { fail "$tag: second topology setup failed"; return; }
    for fam in 4 6; do
        load "$loader" "$fam" "$(file "$loader" "$fam")" > "$TRC_TMP/load.out" 2>&1 ||
            fail "$tag: load into the second gateway failed: $(head -c 1000 "$TRC_TMP/load.out")"
        reach "$fam" tcp 1 "$TRC_TMP/g$fam"
        same "$tag IPv$fam: a second, fresh gateway gives every device the same server" \
            "$TRC_TMP/a$fam" "$TRC_TMP/g$fam"
    done
    [ "$loader" = nftables ] && whole_hash "$tag"
    trc_topology_down
    echo "$tag: done"
}

# whole_hash TAG: the kernel's whole hash of every device address (nft
# jhash; HMARK through iptables-nft and iptables-legacy, ip6tables too),
# recorded in nft sets in the front, against trace.py's (in the topology
# of run_one, its rules replaced by these).
whole_hash() {
    local seed=0x74726331 h t
    h="-j HMARK --hmark-dst-prefix 0 --hmark-sport-mask 0 --hmark-dport-mask 0"
    h="$h --hmark-proto-mask 0 --hmark-rnd $seed --hmark-mod 4294967295 --hmark-offset 0"
    nsx front nft -f - <<EOF || { fail "$1: whole hash: nft load failed"; return; }
table inet trc_hash {
	set h4 { typeof ip saddr . udp dport . meta mark; flags dynamic; size 65535; }
	set h6 { typeof ip6 saddr . udp dport . meta mark; flags dynamic; size 65535; }
	chain pre {
		type filter hook prerouting priority 0; policy accept;
		udp dport 9 meta mark set jhash ip saddr mod 4294967295 seed $seed
		udp dport 9 meta mark set jhash ip6 saddr mod 4294967295 seed $seed
		udp dport { 9, 10, 11 } add @h4 { ip saddr . udp dport . meta mark }
		udp dport { 9, 10, 11 } add @h6 { ip6 saddr . udp dport . meta mark }
		udp dport { 9, 10, 11 } drop
	}
}
EOF
    # shellcheck disable=SC2086 # $h: the options, split on purpose
    for t in iptables ip6tables; do
        local p=32
        [ "$t" = ip6tables ] && p=128
        if ! nsx front "$t-nft" -t mangle -A PREROUTING -p udp --dport 10 $h --hmark-src-prefix $p ||
                ! nsx front "$t-legacy" -w 60 -t mangle -A PREROUTING -p udp --dport 11 $h \
                    --hmark-src-prefix $p; then
            fail "$1: whole hash: HMARK rules refused"
            return
        fi
    done
    "$TRC_PY" - "$TRC_KDIR" "$(trc_ns client)" "$TRC_TMP/dev4" "$TRC_TMP/dev6" <<'EOF'
import socket, sys
sys.path.insert(0, sys.argv[1])
import nettool
nettool.enter_netns(sys.argv[2])
for path, fam, dst in ((sys.argv[3], socket.AF_INET, "192.0.2.1"), (sys.argv[4], socket.AF_INET6, "2001:db8:c::1")):
    for src in open(path).read().split():
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.bind((src, 0))
        for port in (9, 10, 11):
            s.sendto(b"hash\n", (dst, port))
        s.close()
EOF
    sleep 0.5
    nsx front nft -j list table inet trc_hash > "$TRC_TMP/hash.json" ||
        { fail "$1: whole hash: nft list failed"; return; }
    "$TRC_PY" - "$TRC_ROOT/tests/trace/trace.py" "$TRC_TMP/hash.json" "$seed" "$TRC_TMP/dev4" "$TRC_TMP/dev6" <<'EOF'
import importlib.util, ipaddress, json, sys
spec = importlib.util.spec_from_file_location("tr", sys.argv[1])
tr = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tr)
seed, mod = int(sys.argv[3], 16), 0xffffffff
got = {}
for item in json.load(open(sys.argv[2]))["nftables"]:
    for e in item.get("set", {}).get("elem", []):
        if "elem" in e:                 # an element with attributes
            e = e["elem"]["val"]
        a, port, mark = e["concat"]
        got[(a, port)] = mark
devs = open(sys.argv[4]).read().split() + open(sys.argv[5]).read().split()
how = {9: ("nft jhash", tr.nft_jhash), 10: ("HMARK (iptables-nft)", tr.hmark), 11: ("HMARK (iptables-legacy)", tr.hmark)}
for port, (what, fn) in sorted(how.items()):
    n = bad = missing = 0
    first = ""
    for d in devs:
        a = ipaddress.ip_address(d)
        k = (str(a), port)
        if k not in got:
            missing += 1
            continue
        n += 1
        if got[k] != fn(a, seed, mod):
            bad += 1
            first = first or "%s: kernel %#010x, trace.py %#010x" % (d, got[k], fn(a, seed, mod))
    if bad or missing:
        print("FAIL: whole hash (mod 2^32-1) %s: %d of %d differ, %d not recorded %s" % (what, bad, n, missing, first))
    else:
        print("ok: whole hash (mod 2^32-1) %s of %d device addresses equals trace.py's" % (what, n))
EOF
}

# ---------------------------------------------------------------- main
reason=$(trc_skip_reason ip nft)
if [ -n "$reason" ]; then
    skip "kernel affinity tests: $reason"
    finish
fi
if [ ! -x "$bin" ]; then
    fail "$bin: no such executable (run make first)"
    finish
fi
mkdir -p "$FILES"
for n in "" 4; do
    for t in nft iptables ip6tables; do
        if ! "$bin" --color=never -t "$t" -o "$FILES/affinity-hash$n.$t" \
                "$CASE$n.tr" 2> "$TRC_TMP/compile.err"; then
            fail "affinity-hash$n.tr: compile -t $t failed: $(head -c 1000 "$TRC_TMP/compile.err")"
            finish
        fi
    done
done
spawned=()
for loader in nftables iptables-nft iptables-legacy; do
    case "$loader" in
        nftables) tools="nft" ;;
        *) tools="$loader-restore ip6tables-${loader#iptables-}-restore" ;;
    esac
    missing=
    for tool in $tools; do
        command -v "$tool" > /dev/null 2>&1 || missing="$missing $tool"
    done
    if [ -n "$missing" ]; then
        skip "affinity [$loader]:$missing not found"
        continue
    fi
    trc_spawn "$loader" "$TRC_TMP/$loader.out" run_one "$loader"
    spawned+=("$loader")
done
trc_wait_all
for loader in "${spawned[@]}"; do
    out="$TRC_TMP/$loader.out"
    grep -v "^affinity \[$loader\]: done$" "$out"
    passed=$((passed + $(grep -c '^ok: ' "$out")))
    failed=$((failed + $(grep -c '^FAIL: ' "$out")))
    if ! grep -q "^affinity \[$loader\]: done$" "$out" && ! grep -q '^FAIL: ' "$out"; then
        fail "affinity [$loader]: the run ended early"
    fi
done
finish
