#!/bin/bash
# breadth.sh: the language-breadth features in a real kernel: IPv6 and
# dual stack, allow from, affinity client-ip, port ranges, listen ... on
# IFACE, listen *:PORT, UDP per flow, and reloads (a changed file over an
# old one; a held TCP connection across reloads).
#
# Each case is a file under tests/kernel/cases/, compiled for every loader
# that applies and loaded into the front of a fresh topology (lib.sh):
#   iptables-nft     -t iptables / -t ip6tables, iptables-nft-restore /
#                    ip6tables-nft-restore (both files for dual stack)
#   iptables-legacy  the same with the legacy tools
#   nftables         -t nft (one table: ip, ip6 or inet), nft -f
# Every case loads its file, sends real traffic and judges it with
# nettool.py:
#   ipv6         1000 TCP connections to [2001:db8:c::1]:443, chi-square
#                (alpha 0.001) against weights 1 1 2, servers see the snat
#                address; UDP round robin exact; blocked: client -> server
#                directly, an undeclared port, the other protocol, a server
#                -> the client from its service port; the nft file is an
#                ip6 table.
#   dual-stack   one file with an IPv4 and an IPv6 route: the nft file is
#                one inet table, 1000 connections per family, chi-square;
#                rules.v4 and rules.v6 loaded together both balance.
#   allow-from   a second client (203.0.113.10, another interface of the
#                front): the listed client's connections spread over the
#                servers, the other's all fail; and the other way round on
#                a route allowing the standard library's test_net_3.
#   affinity     one client's 100 connections (100 source ports) reach one
#                server; 20 clients (addresses of their own) each keep one
#                server and spread over at least two, on a random and on a
#                roundrobin route (the hash decides, not the balance).
#   port-range   tcp and udp 192.0.2.1:8000-8010, servers without a port:
#                connections to 8000, 8005, 8010 reach a server on that
#                same port; 7999 and 8011 are not translated.
#   interface    a listener on trc-pub answers the first client and not
#                the second (on trc-pub2); one address:port routed to
#                different servers by the arriving interface.
#   any-address  *:9100 balances connections to four addresses of the
#                front (both clients); a server's address is not
#                translated.
#   udp-flow     12 flows of 20 datagrams (one source port each, taking
#                turns): each flow stays on one server, the flows spread;
#                1000 datagrams from fresh source ports: chi-square.
#   reload       reload-a.tr, then reload-a.tr again, then reload-b.tr:
#                after each load the save (or nft list ruleset) is exactly
#                the file just loaded (nothing of the old ruleset is left,
#                also when the nft table moves from ip to inet); a TCP
#                connection opened before the reloads still answers after
#                each, from the same server; the server removed in
#                reload-b.tr gets no new connection.
#
# One run per loader, the three side by side, each in namespaces of its own
# (trc-PID-LOADER-*): one topology (lib.sh: 3 backends, IPv6, a second
# client, 20 more client addresses) serves all the cases, loaded one after
# the other, each file replacing the previous ruleset. Before the first
# case, controls check that the paths the blocked probes use are open
# without rules. Reports are printed in a fixed order.
#
# Usage: tests/kernel/breadth.sh [CASE...]     (as root; from anywhere)
# Environment: TCPROUTEC (default ./tcproutec at the repository root);
# TRC_BREADTH_BREAK, a command run with the directory of the compiled files
# as its argument before anything is loaded: to check that the tests catch
# a broken ruleset (e.g. one with the affinity or allow rules deleted).
# Ends with "N passed, N failed, N skipped".
# Checks run in subshells (trc_spawn) and are called through "$@":
# shellcheck disable=SC2030,SC2031,SC2317
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
export LC_ALL=C



CASES=(ipv6 dual-stack allow-from affinity port-range interface any-address
       udp-flow reload)
LOADERS=(iptables-nft iptables-legacy nftables)

# case_families CASE: the address families of the case's routes (which
# iptables files to build: rules.v4, rules.v6 or both).
case_families() {
    case "$1" in
        ipv6) echo 6 ;;
        dual-stack) echo "4 6" ;;
        *) echo 4 ;;
    esac
}
# case_sources CASE: its route files (reload has two).
case_sources() {
    case "$1" in
        reload) echo reload-a reload-b ;;
        *) echo "$1" ;;
    esac
}

# ---------------------------------------------------------------- loaders
# The compiled files of a source S are $FILES/S.v4, S.v6 and S.nft.
FILES="$TRC_TMP/files"
loader_tools() {
    local fam
    case "$1" in
        nftables) echo nft ;;
        iptables-*)
            for fam in $2; do
                case $fam in
                    4) echo "iptables-${1#iptables-}-restore" ;;
                    6) echo "ip6tables-${1#iptables-}-restore" ;;
                esac
            done ;;
    esac
}

# load LOADER SRC FAMILIES: load the compiled SRC into the front.
load() {
    local loader=$1 base="$FILES/$2" fam wait_opt=()
    case "$loader" in
        nftables) nsx front nft -f "$base.nft"; return ;;
        # -w: legacy's xtables lock is one file for all namespaces
        iptables-legacy) wait_opt=(-w 60) ;;
    esac
    for fam in $3; do
        case $fam in
            4) nsx front "iptables-${loader#iptables-}-restore" "${wait_opt[@]}" \
                   < "$base.v4" || return ;;
            6) nsx front "ip6tables-${loader#iptables-}-restore" "${wait_opt[@]}" \
                   < "$base.v6" || return ;;
        esac
    done
}

# check_exact LABEL LOADER SRC FAMILIES: the front's ruleset is exactly the
# compiled SRC (save per table block, or nft list ruleset, of the whole
# namespace: a table the file does not name is a difference too).
check_exact() {
    local label=$1 loader=$2 base="$FILES/$3" fam tool work
    work="$TRC_TMP/exact"
    rm -rf "$work"
    mkdir -p "$work"
    if [ "$loader" = nftables ]; then
        nft_body "$base.nft" > "$work/expected"
        nsx front nft list ruleset 2>&1 | nft_zero_counters > "$work/actual"
        if diff -u "$work/expected" "$work/actual" > "$work/diff"; then
            pass "$label"
        else
            fail "$label: nft list ruleset differs:"
            sed 's/^/    /' "$work/diff"
        fi
        return
    fi
    for fam in $4; do
        case $fam in
            4) tool="iptables-${loader#iptables-}" ;;
            6) tool="ip6tables-${loader#iptables-}" ;;
        esac
        split_blocks "$base.v$fam" "$work/expected$fam"
        nsx front "$tool-save" > "$work/save$fam" 2>&1
        split_blocks "$work/save$fam" "$work/actual$fam"
    done
    if (cd "$work" && for fam in $4; do
            diff -ruN "expected$fam" "actual$fam" || exit 1
        done) > "$work/diff"; then
        pass "$label"
    else
        fail "$label: save differs:"
        sed 's/^/    /' "$work/diff"
    fi
}

# ---------------------------------------------------------------- checks
# Source ports: each batch of a run takes the next COUNT ports, from 10000,
# below the kernel's ephemeral range (32768-60999: the probes and the held
# connection take theirs there) and above the clients' listener (7000).
SPORT=10000

# batch LABEL ROLE ADDR PORT COUNT [connect option...]: COUNT connections
# from the namespace ROLE to ADDR:PORT, judged by nettool.py connect.
batch() {
    local label=$1 role=$2 addr=$3 port=$4 count=$5 out
    shift 5
    [ $((SPORT + count)) -le 32000 ] || SPORT=10000
    if out=$(trc_nettool connect "$addr" "$port" --netns "$(trc_ns "$role")" \
            --count "$count" --timeout 2 --max-timeouts 5 \
            --sport-base "$SPORT" "$@"); then
        pass "$label: $out"
    else
        fail "$label: $out"
    fi
    SPORT=$((SPORT + count))
}

# nobatch LABEL ROLE ADDR PORT COUNT [option...]: COUNT connections that
# must all fail (refused, or timed out: 3 timeouts of 1 s end the batch).
nobatch() {
    local label=$1 role=$2 addr=$3 port=$4 count=$5
    shift 5
    batch "$label" "$role" "$addr" "$port" "$count" --mode none --weights 1 \
        --timeout 1 --max-timeouts 3 "$@"
}


# blocked_probes TAG LABEL ROLE PROTO ADDR:PORT BIND ...: probes (1 s) that
# must all be blocked; LABEL says what the probe is.
blocked_probes() {
    local tag=$1 args=() labels=() i=0 l
    shift
    while [ $# -gt 0 ]; do
        i=$((i + 1))
        labels+=("$1")
        args+=("p$i" "$2" "$3" "$4" "$5")
        shift 5
    done
    probes 1 "${args[@]}"
    i=0
    for l in "${labels[@]}"; do
        i=$((i + 1))
        expect_blocked "$tag: $l" "$(result "p$i")"
    done
}

# controls TAG PROBE...: before any rule, every probe (ROLE PROTO
# ADDR:PORT BIND EXPECTED-NAME) gets an answer from EXPECTED-NAME; the
# servers route back through the front meanwhile. Returns 1 if not.
controls() {
    local tag=$1 args=() names=() what=() i=0 n r ok=0
    shift
    while [ $# -gt 0 ]; do
        i=$((i + 1))
        args+=("c$i" "$1" "$2" "$3" "$4")
        names+=("$5")
        what+=("$1 -> $3/$2")
        shift 5
    done
    for n in $(seq 1 "$TRC_NB"); do
        trc_route_back "$n" on
        trc_route_back6 "$n" on
    done
    probes 2 "${args[@]}"
    i=0
    for n in "${names[@]}"; do
        i=$((i + 1))
        r=$(result "c$i")
        case "$r" in
            "answer $n "*) ;;
            *) fail "$tag: control without rules: ${what[$((i - 1))]}: $r (expected an answer from $n)"
               ok=1 ;;
        esac
    done
    for n in $(seq 1 "$TRC_NB"); do
        trc_route_back "$n" off
        trc_route_back6 "$n" off
    done
    [ "$ok" != 0 ] || pass "$tag: controls: without rules, the ${#names[@]} probed paths are open"
    return "$ok"
}

# hold_ping K: ask the held connection (see nettool.py hold) to send ping
# K; prints the answer (5 s at most).
hold_ping() {
    local i
    touch "$TRC_TMP/hold/go.$1"
    for i in $(seq 1 100); do
        [ -e "$TRC_TMP/hold/done.$1" ] && { cat "$TRC_TMP/hold/done.$1"; return; }
        sleep 0.05
    done
    echo "no answer in 5 s"
}

# load_checked TAG LOADER SRC FAMILIES: load, or report the failure.
load_checked() {
    if ! load "$2" "$3" "$4" > "$TRC_TMP/load.out" 2>&1; then
        fail "$1: loading $3 failed: $(head -c 2000 "$TRC_TMP/load.out")"
        return 1
    fi
}

# ---------------------------------------------------------------- cases
# One topology per loader serves every case: 3 backends, IPv6, the second
# client, 20 more client addresses; the servers answer on all the ports
# below, with their port (--say-port); 7100 keeps its connections open.
SERVER_PORTS=(22 53 80 443 5683 7100 7999 8000 8005 8010 8011 9000 9001 9100)
B6=(2001:db8:b::2 2001:db8:b::3 2001:db8:b::4)

# run_CASE TAG LOADER FAMILIES: load the case's file over whatever the
# previous case left, then check it. The servers have no route back to
# the clients, except b1 during the blocked probes.

run_ipv6() {
    local tag=$1 loader=$2 fams=$3
    load_checked "$tag" "$loader" ipv6 "$fams" || return
    batch "$tag: tcp random 1:1:2 to [$TRC_FRONT_PUB6]:443" client \
        "$TRC_FRONT_PUB6" 443 1000 --mode random --weights 1 1 2 \
        --peer "$TRC_FRONT_PRIV6"
    batch "$tag: udp roundrobin to [$TRC_FRONT_PUB6]:53 (masquerade)" client \
        "$TRC_FRONT_PUB6" 53 120 --proto udp --mode roundrobin --weights 1 1 \
        --peer "$TRC_FRONT_PRIV6"
    trc_route_back6 1 on
    blocked_probes "$tag" \
        "client -> [${B6[0]}]:443 directly" client tcp "[${B6[0]}]:443" - \
        "client -> [${B6[0]}]:53/udp directly" client udp "[${B6[0]}]:53" - \
        "client -> undeclared [$TRC_FRONT_PUB6]:444" client tcp "[$TRC_FRONT_PUB6]:444" - \
        "client -> [$TRC_FRONT_PUB6]:443/udp (not declared)" client udp "[$TRC_FRONT_PUB6]:443" - \
        "b1:443 -> client (from the service port)" b1 tcp "[$TRC_CLIENT6]:$TRC_CLIENT_PORT" "[${B6[0]}]:443"
    trc_route_back6 1 off
}

run_dual_stack() {
    local tag=$1 loader=$2 fams=$3
    load_checked "$tag" "$loader" dual-stack "$fams" || return
    # The one inet table gets the chi-square; rules.v4 and rules.v6 loaded
    # side by side must both work (their balance is checked at 1000 by
    # the ipv6 case and traffic.sh).
    local count=1000 mode=random
    [ "$loader" = nftables ] || count=100 mode=spread
    batch "$tag: IPv4 tcp $mode 1:2 to 192.0.2.1:8080" client 192.0.2.1 8080 \
        "$count" --mode "$mode" --weights 1 2 --peer "$TRC_FRONT_PRIV"
    batch "$tag: IPv6 tcp $mode 2:1:1 to [$TRC_FRONT_PUB6]:8080" client \
        "$TRC_FRONT_PUB6" 8080 "$count" --mode "$mode" --weights 2 1 1 \
        --peer "$TRC_FRONT_PRIV6"
    trc_route_back 1 on
    trc_route_back6 1 on
    blocked_probes "$tag" \
        "client -> 198.51.100.2:80 directly" client tcp 198.51.100.2:80 - \
        "client -> [${B6[0]}]:80 directly" client tcp "[${B6[0]}]:80" - \
        "client -> undeclared 192.0.2.1:8081" client tcp 192.0.2.1:8081 - \
        "client -> undeclared [$TRC_FRONT_PUB6]:8081" client tcp "[$TRC_FRONT_PUB6]:8081" -
    trc_route_back 1 off
    trc_route_back6 1 off
}

run_allow_from() {
    local tag=$1 loader=$2 fams=$3
    load_checked "$tag" "$loader" allow-from "$fams" || return
    batch "$tag: client $TRC_CLIENT (allowed) -> route inner" client 192.0.2.1 \
        2222 100 --mode spread --weights 1 1 --peer "$TRC_FRONT_PRIV"
    nobatch "$tag: client2 $TRC_CLIENT2 (not allowed) -> route inner gets nothing" \
        client2 192.0.2.1 2222 20
    batch "$tag: client2 $TRC_CLIENT2 (allowed, test_net_3) -> route outer" \
        client2 192.0.2.1 2223 100 --mode spread --weights 1 1 \
        --peer "$TRC_FRONT_PRIV"
    nobatch "$tag: client $TRC_CLIENT (not allowed) -> route outer gets nothing" \
        client 192.0.2.1 2223 20
}

run_affinity() {
    local tag=$1 loader=$2 fams=$3 many=()
    mapfile -t many < <(seq -f '192.0.2.%g' 100 119)
    load_checked "$tag" "$loader" affinity "$fams" || return
    batch "$tag: random: one client, 100 connections, one server" client \
        192.0.2.1 4443 100 --sources "$TRC_CLIENT" --mode sticky \
        --weights 1 1 1 --peer "$TRC_FRONT_PRIV"
    batch "$tag: random: 20 clients x 5 connections, each keeps its server" \
        client 192.0.2.1 4443 100 --sources "${many[@]}" --mode sticky \
        --weights 1 1 1 --peer "$TRC_FRONT_PRIV"
    batch "$tag: roundrobin: one client, 100 connections, one server" client \
        192.0.2.1 4444 100 --sources "$TRC_CLIENT" --mode sticky \
        --weights 1 1 1 --peer "$TRC_FRONT_PRIV"
    # The client's address picks the server: balance roundrobin does not
    # rotate clients of an affinity route (tcproutec.tr(5)).
    batch "$tag: roundrobin: 20 clients x 5 connections, each keeps its server" \
        client 192.0.2.1 4444 100 --sources "${many[@]}" --mode sticky \
        --weights 1 1 1 --peer "$TRC_FRONT_PRIV"
}

run_port_range() {
    local tag=$1 loader=$2 fams=$3 p
    load_checked "$tag" "$loader" port-range "$fams" || return
    for p in 8000 8005 8010; do
        batch "$tag: tcp 192.0.2.1:$p keeps its port" client 192.0.2.1 "$p" \
            100 --mode spread --weights 1 1 --peer "$TRC_FRONT_PRIV" --port "$p"
    done
    batch "$tag: udp 192.0.2.1:8005 keeps its port" client 192.0.2.1 8005 \
        100 --proto udp --mode spread --weights 1 1 --peer "$TRC_FRONT_PRIV" \
        --port 8005
    trc_route_back 1 on
    blocked_probes "$tag" \
        "client -> 192.0.2.1:8011 (above the range)" client tcp 192.0.2.1:8011 - \
        "client -> 192.0.2.1:7999 (below the range)" client tcp 192.0.2.1:7999 - \
        "client -> 192.0.2.1:8011/udp (above the range)" client udp 192.0.2.1:8011 - \
        "client -> 198.51.100.2:8005 directly" client tcp 198.51.100.2:8005 -
    trc_route_back 1 off
}

run_interface() {
    local tag=$1 loader=$2 fams=$3
    load_checked "$tag" "$loader" interface "$fams" || return
    batch "$tag: client (on trc-pub) -> 192.0.2.1:9000 on trc-pub" client \
        192.0.2.1 9000 100 --mode spread --weights 1 1 --peer "$TRC_FRONT_PRIV"
    nobatch "$tag: client2 (on trc-pub2) -> 192.0.2.1:9000 on trc-pub gets nothing" \
        client2 192.0.2.1 9000 20
    batch "$tag: client (on trc-pub) -> 192.0.2.1:9001: route split-pub, b1 only" \
        client 192.0.2.1 9001 50 --mode spread --weights 1 0 \
        --peer "$TRC_FRONT_PRIV"
    batch "$tag: client2 (on trc-pub2) -> 192.0.2.1:9001: route split-pub2, b2 only" \
        client2 192.0.2.1 9001 50 --mode spread --weights 0 1 \
        --peer "$TRC_FRONT_PRIV"
}

run_any_address() {
    local tag=$1 loader=$2 fams=$3 a
    load_checked "$tag" "$loader" any-address "$fams" || return
    for a in "$TRC_FRONT_PUB" "$TRC_FRONT_PUB2" "$TRC_FRONT_PRIV"; do
        batch "$tag: client -> $a:9100 (a front address)" client "$a" 9100 \
            100 --mode spread --weights 1 1 --peer "$TRC_FRONT_PRIV2"
    done
    batch "$tag: client2 -> $TRC_FRONT_PUB3:9100 (a front address on trc-pub2)" \
        client2 "$TRC_FRONT_PUB3" 9100 100 --mode spread --weights 1 1 \
        --peer "$TRC_FRONT_PRIV2"
    trc_route_back 1 on
    blocked_probes "$tag" \
        "client -> 198.51.100.2:9100 (a server's address, not the front's)" client tcp 198.51.100.2:9100 - \
        "client -> 192.0.2.1:9100/udp (not declared)" client udp 192.0.2.1:9100 - \
        "client -> undeclared 192.0.2.1:9101" client tcp 192.0.2.1:9101 -
    trc_route_back 1 off
}

run_udp_flow() {
    local tag=$1 loader=$2 fams=$3
    load_checked "$tag" "$loader" udp-flow "$fams" || return
    batch "$tag: 12 flows x 20 datagrams: each flow keeps one server" client \
        192.0.2.1 5683 20 --proto udp --flows 12 --mode sticky \
        --weights 1 1 2 --peer "$TRC_FRONT_PRIV"
    batch "$tag: 1000 datagrams from fresh source ports, random 1:1:2" client \
        192.0.2.1 5683 1000 --proto udp --mode random --weights 1 1 2 \
        --peer "$TRC_FRONT_PRIV"
    trc_route_back 1 on
    blocked_probes "$tag" \
        "client -> 198.51.100.2:5683/udp directly" client udp 198.51.100.2:5683 - \
        "client -> 192.0.2.1:5683/tcp (not declared)" client tcp 192.0.2.1:5683 -
    trc_route_back 1 off
}

run_reload() {
    local tag=$1 loader=$2 fams=$3 first r hold_pid _
    load_checked "$tag" "$loader" reload-a "$fams" || return
    check_exact "$tag: reload-a over the previous case: exactly reload-a" \
        "$loader" reload-a "$fams"
    batch "$tag: reload-a: route web, roundrobin over 3" client 192.0.2.1 7200 \
        120 --mode roundrobin --weights 1 1 1 --peer "$TRC_FRONT_PRIV"

    # A connection to route keep, held open across the reloads.
    rm -rf "$TRC_TMP/hold"
    mkdir -p "$TRC_TMP/hold"
    trc_nettool hold 192.0.2.1 7100 --netns "$(trc_ns client)" \
        --dir "$TRC_TMP/hold" --pings 2 --wait 60 > /dev/null 2>&1 &
    hold_pid=$!
    TRC_PIDS+=("$hold_pid")
    for _ in $(seq 1 100); do
        [ -e "$TRC_TMP/hold/ready" ] && break
        sleep 0.05
    done
    first=$(cat "$TRC_TMP/hold/ready" 2>/dev/null)
    case "$first" in
        "answer b1 $TRC_FRONT_PRIV "*|"answer b2 $TRC_FRONT_PRIV "*)
            pass "$tag: held connection to route keep opened: $first" ;;
        *) fail "$tag: held connection to route keep: ${first:-no answer}" ;;
    esac
    first=$(echo "$first" | awk '{ print $2 }')

    load_checked "$tag" "$loader" reload-a "$fams" &&
        check_exact "$tag: reload-a again: exactly reload-a" "$loader" reload-a "$fams"
    r=$(hold_ping 1)
    if [ "$r" = "answer $first ping 1" ]; then
        pass "$tag: held connection works after reloading the same file: $r"
    else
        fail "$tag: held connection after reloading the same file: $r (expected $first)"
    fi

    load_checked "$tag" "$loader" reload-b "$fams" &&
        check_exact "$tag: reload-b over reload-a: exactly reload-b" "$loader" reload-b "$fams"
    r=$(hold_ping 2)
    if [ "$r" = "answer $first ping 2" ]; then
        pass "$tag: held connection works after loading a changed file: $r"
    else
        fail "$tag: held connection after loading a changed file: $r (expected $first)"
    fi
    batch "$tag: reload-b: route web, 198.51.100.4 removed gets nothing" \
        client 192.0.2.1 7200 120 --mode roundrobin --weights 1 1 0 \
        --peer "$TRC_FRONT_PRIV"
    batch "$tag: reload-b: new route web2" client 192.0.2.1 7300 30 \
        --mode spread --weights 0 0 1 --peer "$TRC_FRONT_PRIV"
    wait "$hold_pid" 2>/dev/null
}

# job LOADER CASE...: one topology, the cases one after the other; after
# each case, the line that says it ended.
job() {
    local loader=$1 name fn ok=0
    shift
    trc_topology_up 3 && trc_topology_v6 && trc_client2_up &&
        trc_client_addrs 20 &&
        trc_start_servers --say-port --hold-ports 7100 "${SERVER_PORTS[@]}" ||
        ok=1
    # Controls: without rules, the paths the blocked probes use are open
    # (so that "blocked" means blocked by the rules).
    [ "$ok" = 0 ] && controls "[$loader]" \
        client tcp 198.51.100.2:80 - b1 \
        client udp 198.51.100.2:5683 - b1 \
        client tcp "[${B6[0]}]:80" - b1 \
        client2 tcp 198.51.100.2:80 - b1 \
        b1 tcp "$TRC_CLIENT:$TRC_CLIENT_PORT" 198.51.100.2:443 client \
        b1 tcp "[$TRC_CLIENT6]:$TRC_CLIENT_PORT" "[${B6[0]}]:443" client ||
        ok=1
    for name in "$@"; do
        if [ "$ok" = 0 ]; then
            fn=run_${name//-/_}
            "$fn" "$name [$loader]" "$loader" "$(case_families "$name")"
        else
            fail "$name [$loader]: not run: the namespaces could not be set up, or a control failed"
        fi
        echo "end: $name [$loader]"
    done
    trc_topology_down
}

# ---------------------------------------------------------------- main
reason=$(trc_skip_reason ip)
if [ -n "$reason" ]; then
    skip "kernel breadth tests: $reason"
    finish
fi
if [ ! -x "$bin" ]; then
    fail "$bin: no such executable (run make first)"
    finish
fi

[ $# -gt 0 ] && CASES=("$@")
mkdir -p "$FILES"
# compile SRC TARGET EXT: $FILES/SRC.EXT, errors in $FILES/SRC.EXT.err;
# -W error: a case file compiles without a warning.
compile() {
    (cd "$TRC_KDIR/cases" &&
        exec "$bin" --color=never -W error -t "$2" -o "$FILES/$1.$3" "$1.tr") \
        > "$FILES/$1.$3.err" 2>&1 || echo "exit status $?" >> "$FILES/$1.$3.err"
}
# Every source of every case for every target it needs, side by side.
for name in "${CASES[@]}"; do
    declare -F "run_${name//-/_}" > /dev/null || continue
    for src in $(case_sources "$name"); do
        for fam in nft $(case_families "$name"); do
            case $fam in
                4) compile "$src" iptables v4 & ;;
                6) compile "$src" ip6tables v6 & ;;
                nft) compile "$src" nft nft & ;;
            esac
        done
    done
done
wait
runnable=()
for name in "${CASES[@]}"; do
    if ! declare -F "run_${name//-/_}" > /dev/null; then
        fail "$name: no such case"
        continue
    fi
    compiled=1
    for src in $(case_sources "$name"); do
        for ext in nft $(case_families "$name" | sed 's/\([46]\)/v\1/g'); do
            if [ -s "$FILES/$src.$ext.err" ] || [ ! -s "$FILES/$src.$ext" ]; then
                fail "$name: $src.tr ($ext) did not compile cleanly:"
                sed 's/^/    /' "$FILES/$src.$ext.err"
                compiled=0
            fi
        done
    done
    [ $compiled = 1 ] || continue
    # The nft table's family follows the routes' families.
    case "$name" in
        ipv6) want="table ip6 tcproutec {" ;;
        dual-stack) want="table inet tcproutec {" ;;
        reload) want="" ;;
        *) want="table ip tcproutec {" ;;
    esac
    if [ -n "$want" ]; then
        got=$(grep -m 1 '^table .* {$' "$FILES/$name.nft")
        if [ "$got" = "$want" ]; then
            pass "$name: -t nft makes one table: $got"
        else
            fail "$name: -t nft: expected '$want', got '$got'"
        fi
    fi
    runnable+=("$name")
done

if [ -n "${TRC_BREADTH_BREAK:-}" ]; then
    echo "note: TRC_BREADTH_BREAK: $TRC_BREADTH_BREAK $FILES"
    sh -c "$TRC_BREADTH_BREAK \"\$1\"" sh "$FILES" ||
        fail "TRC_BREADTH_BREAK failed"
fi

# One run per loader, side by side, each in namespaces of its own; the
# cases of a run go one after the other.
spawned=()
declare -A jobcases
for loader in "${LOADERS[@]}"; do
    cases=()
    for name in "${runnable[@]}"; do
        missing=""
        for tool in $(loader_tools "$loader" "$(case_families "$name")"); do
            command -v "$tool" > /dev/null 2>&1 || missing="$missing $tool"
        done
        if [ -n "$missing" ]; then
            skip "$name [$loader]: not found:$missing"
        else
            cases+=("$name")
        fi
    done
    [ ${#cases[@]} -gt 0 ] || continue
    jobcases[$loader]="${cases[*]}"
    trc_spawn "$loader" "$TRC_TMP/$loader.out" job "$loader" "${cases[@]}"
    spawned+=("$loader")
done
trc_wait_all
for loader in "${spawned[@]}"; do
    out="$TRC_TMP/$loader.out"
    grep -v '^end: ' "$out"
    passed=$((passed + $(grep -c '^ok: ' "$out")))
    failed=$((failed + $(grep -c '^FAIL: ' "$out")))
    skipped=$((skipped + $(grep -c '^SKIPPED: ' "$out")))
    for name in ${jobcases[$loader]}; do
        grep -qxF "end: $name [$loader]" "$out" ||
            fail "$name [$loader]: the run ended early"
    done
done
finish
