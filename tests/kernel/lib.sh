# shellcheck shell=bash
# lib.sh: network-namespace topology and helpers for the kernel tests.
#
# Safety rules kept here, so that no test can break the host:
# - only namespaces this process creates, named trc-<PID>-<role> (or
#   trc-<PID>-<id>-<role> in a check run by trc_spawn), deleted by the EXIT
#   trap (even after a failure, ^C or kill);
# - interfaces are created inside those namespaces (ip -n ... peer netns),
#   never in the host's, and all are named trc-*;
# - addresses only from the documentation ranges 192.0.2.0/24 (public
#   side), 198.51.100.0/24 (servers), 203.0.113.0/24 (a second client
#   network), and 2001:db8::/32 for IPv6 (2001:db8:c::/64 clients,
#   2001:db8:b::/64 servers);
# - every iptables, nft or sysctl command runs under `ip netns exec`;
#   nettool.py enters our namespaces itself (setns), by their names;
# - processes are started here, recorded by PID, and killed by PID;
# - traffic is bounded: at most 1000 connections per check, each with a
#   timeout, and a check gives up after 5 timeouts.
#
# Topology (trc_topology_up N):
#
#   client 192.0.2.10 --- 192.0.2.1  front 198.51.100.1   --- sw (bridge)
#                         192.0.2.53       198.51.100.254      |-- b1 198.51.100.2
#                         (second addresses)                   |-- b2 198.51.100.3
#                                                              ...  bN
#
# The client has a route to 198.51.100.0/24 through the front (so that a
# direct connection to a server really reaches the front's FORWARD chain).
# Servers have no route to 192.0.2.0/24 unless trc_route_back adds one: a
# missing SNAT then shows as a hanging connection. nettool.py serves, in
# each backend bI, TCP and UDP on the given ports, answering "bI PEER"; and
# in the client, port $TRC_CLIENT_PORT for the probes that connect from a
# server to the client.
#
# Additions for the language-breadth tests (breadth.sh), each called after
# trc_topology_up:
#   trc_topology_v6      IPv6 on the same links: client 2001:db8:c::10,
#                        front 2001:db8:c::1 and 2001:db8:b::1, bI
#                        2001:db8:b::(I+1); added with nodad (no duplicate
#                        address detection delay); forwarding on.
#   trc_client2_up       a second client namespace on a second public
#                        interface of the front:
#                          client2 203.0.113.10 --- 203.0.113.1 front (trc-pub2)
#                        with routes to 192.0.2.0/24 and 198.51.100.0/24
#                        through the front.
#   trc_client_addrs N   N more addresses on the client, 192.0.2.100 on
#                        (clients of their own, for affinity).

# trc_spawn's subshells change the shared state for themselves, on purpose:
# shellcheck disable=SC2030,SC2031
TRC_KDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck disable=SC2034 # used by the scripts that source this file
TRC_ROOT=$(cd "$TRC_KDIR/../.." && pwd)
TRC_PY=${PYTHON:-python3}
# the interpreter itself, not a version manager's shim: faster to start,
# and its PID is the PID of the server we kill
TRC_PY=$("$TRC_PY" -c 'import sys; print(sys.executable)' 2>/dev/null || echo "$TRC_PY")
TRC_TAG="trc-$$"
TRC_CLIENT=192.0.2.10
TRC_FRONT_PUB=192.0.2.1
TRC_FRONT_PUB2=192.0.2.53
TRC_FRONT_PRIV=198.51.100.1
TRC_FRONT_PRIV2=198.51.100.254
TRC_CLIENT_PORT=7000
TRC_CLIENT6=2001:db8:c::10
TRC_FRONT_PUB6=2001:db8:c::1
TRC_FRONT_PRIV6=2001:db8:b::1
TRC_CLIENT2=203.0.113.10
TRC_FRONT_PUB3=203.0.113.1
TRC_HAS_CLIENT2=0
TRC_NETNS=()      # namespaces created by this process
TRC_PIDS=()       # processes started by this process
TRC_NB=0          # backends in the current topology
TRC_TMP=$(mktemp -d "${TMPDIR:-/tmp}/trc-kernel.XXXXXX")

# trc_ns ROLE: the full name of one of our namespaces.
trc_ns() { echo "$TRC_TAG-$1"; }

# nsx ROLE CMD...: run CMD inside our namespace ROLE.
nsx() {
    local ns
    ns=$(trc_ns "$1")
    shift
    ip netns exec "$ns" "$@"
}

trc_kill_pids() {
    local pid
    for pid in "${TRC_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${TRC_PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    TRC_PIDS=()
}

trc_del_netns() {
    local ns
    for ns in "${TRC_NETNS[@]}"; do
        if [ -e "/run/netns/$ns" ]; then
            ip netns del "$ns" 2>/dev/null || echo "warning: could not delete netns $ns" >&2
        fi
    done
    TRC_NETNS=()
}

trc_cleanup() {
    trc_kill_pids
    trc_del_netns
    rm -rf "$TRC_TMP"
}
trap trc_cleanup EXIT
trap 'exit 130' INT TERM HUP

# trc_skip_reason [TOOL...]: prints why the kernel tests cannot run here
# (nothing when they can).
trc_skip_reason() {
    local tool ns
    if [ "$(id -u)" -ne 0 ]; then
        echo "not root (the kernel tests need network namespaces)"
        return
    fi
    for tool in ip "$TRC_PY" "$@"; do
        if ! command -v "$tool" > /dev/null 2>&1; then
            echo "$tool not found"
            return
        fi
    done
    ns=$(trc_ns probe)
    TRC_NETNS+=("$ns")
    if ! ip netns add "$ns" 2> "$TRC_TMP/netns.err"; then
        echo "ip netns add failed: $(head -n 1 "$TRC_TMP/netns.err")"
        return
    fi
    ip netns del "$ns"
}

# trc_ns_add ROLE: create our namespace ROLE with lo up.
trc_ns_add() {
    local ns
    ns=$(trc_ns "$1")
    TRC_NETNS+=("$ns")
    ip netns add "$ns" && ip -n "$ns" link set lo up
}

# trc_topology_up N: client, front, switch and N backends (N <= 10).
trc_topology_up() {
    local n=$1 i
    TRC_NB=$n
    # recorded first, so that the EXIT trap deletes what a failed setup made
    TRC_NETNS+=("$(trc_ns client)" "$(trc_ns front)" "$(trc_ns sw)")
    for i in $(seq 1 "$n"); do
        TRC_NETNS+=("$(trc_ns "b$i")")
    done
    # One `ip -batch` per namespace: far fewer processes than one per step.
    (
        set -e
        c=$(trc_ns client) f=$(trc_ns front) s=$(trc_ns sw)
        for ns in "$c" "$f" "$s"; do ip netns add "$ns"; done
        for i in $(seq 1 "$n"); do ip netns add "$(trc_ns "b$i")"; done
        ip -n "$f" -batch - <<EOF
link set lo up
link add trc-pub type veth peer name trc-eth0 netns $c
link add trc-priv type veth peer name trc-up netns $s
addr add $TRC_FRONT_PUB/24 dev trc-pub
addr add $TRC_FRONT_PUB2/24 dev trc-pub
addr add $TRC_FRONT_PRIV/24 dev trc-priv
addr add $TRC_FRONT_PRIV2/24 dev trc-priv
link set trc-pub up
link set trc-priv up
EOF
        ip netns exec "$f" sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward'
        ip -n "$c" -batch - <<EOF
link set lo up
addr add $TRC_CLIENT/24 dev trc-eth0
link set trc-eth0 up
route add 198.51.100.0/24 via $TRC_FRONT_PUB
EOF
        {
            echo "link set lo up"
            echo "link add trc-br type bridge"
            echo "link set trc-up master trc-br"
            echo "link set trc-up up"
            echo "link set trc-br up"
            for i in $(seq 1 "$n"); do
                echo "link add trc-p$i type veth peer name trc-eth0 netns $(trc_ns "b$i")"
                echo "link set trc-p$i master trc-br"
                echo "link set trc-p$i up"
            done
        } | ip -n "$s" -batch -
        for i in $(seq 1 "$n"); do
            ip -n "$(trc_ns "b$i")" -batch - <<EOF
link set lo up
addr add 198.51.100.$((i + 1))/24 dev trc-eth0
link set trc-eth0 up
EOF
        done
    ) || { echo "topology setup failed" >&2; return 1; }
}

trc_topology_down() {
    trc_kill_pids
    trc_del_netns
    TRC_NB=0
    TRC_HAS_CLIENT2=0
}

# trc_backend_addr I: the address of backend bI.
trc_backend_addr() { echo "198.51.100.$(($1 + 1))"; }
# trc_backend_addr6 I: the IPv6 address of backend bI.
trc_backend_addr6() { echo "2001:db8:b::$(($1 + 1))"; }

# trc_topology_v6: IPv6 addresses on the links of trc_topology_up (see the
# top of this file). `nodad`: a fresh address would otherwise stay
# tentative (unusable) for about 1.5 s.
trc_topology_v6() {
    (
        set -e
        f=$(trc_ns front) c=$(trc_ns client)
        ip -n "$f" -batch - <<EOF
addr add $TRC_FRONT_PUB6/64 dev trc-pub nodad
addr add $TRC_FRONT_PRIV6/64 dev trc-priv nodad
EOF
        ip netns exec "$f" sh -c 'echo 1 > /proc/sys/net/ipv6/conf/all/forwarding'
        ip -n "$c" -batch - <<EOF
addr add $TRC_CLIENT6/64 dev trc-eth0 nodad
route add 2001:db8:b::/64 via $TRC_FRONT_PUB6
EOF
        for i in $(seq 1 "$TRC_NB"); do
            ip -n "$(trc_ns "b$i")" addr add "$(trc_backend_addr6 "$i")/64" \
                dev trc-eth0 nodad
        done
    ) || { echo "IPv6 setup failed" >&2; return 1; }
}

# trc_client2_up: the second client (see the top of this file).
trc_client2_up() {
    local c2 f
    c2=$(trc_ns client2) f=$(trc_ns front)
    TRC_NETNS+=("$c2")
    (
        set -e
        ip netns add "$c2"
        ip -n "$f" -batch - <<EOF
link add trc-pub2 type veth peer name trc-eth0 netns $c2
addr add $TRC_FRONT_PUB3/24 dev trc-pub2
link set trc-pub2 up
EOF
        ip -n "$c2" -batch - <<EOF
link set lo up
addr add $TRC_CLIENT2/24 dev trc-eth0
link set trc-eth0 up
route add 192.0.2.0/24 via $TRC_FRONT_PUB3
route add 198.51.100.0/24 via $TRC_FRONT_PUB3
EOF
    ) || { echo "second client setup failed" >&2; return 1; }
    TRC_HAS_CLIENT2=1
}

# trc_client_addrs N: addresses 192.0.2.100 .. 192.0.2.(99+N) on the
# client (N <= 100).
trc_client_addrs() {
    local i
    for i in $(seq 100 $((99 + $1))); do
        echo "addr add 192.0.2.$i/24 dev trc-eth0"
    done | ip -n "$(trc_ns client)" -batch - ||
        { echo "client addresses setup failed" >&2; return 1; }
}

# trc_route_back I on|off: give backend bI a default route through the
# front (or take it away).
trc_route_back() {
    if [ "$2" = on ]; then
        ip -n "$(trc_ns "b$1")" route replace default via "$TRC_FRONT_PRIV"
    else
        ip -n "$(trc_ns "b$1")" route del default 2>/dev/null || true
    fi
}

# trc_route_back6 I on|off: the same for IPv6.
trc_route_back6() {
    if [ "$2" = on ]; then
        ip -6 -n "$(trc_ns "b$1")" route replace default via "$TRC_FRONT_PRIV6"
    else
        ip -6 -n "$(trc_ns "b$1")" route del default 2>/dev/null || true
    fi
}

# trc_start_servers [OPTION...] PORT...: one process serving, in their
# namespaces, bI on every backend (TCP and UDP on each PORT, IPv4 and
# IPv6) and the clients' listener on $TRC_CLIENT_PORT; waits (5 s at
# most) until all listen. OPTIONs (--say-port, --hold-ports P) go to
# nettool.py serve.
trc_start_servers() {
    local i ports specs opts=() ready="$TRC_TMP/ready"
    while [ $# -gt 0 ]; do
        case "$1" in
            --hold-ports) opts+=("$1" "$2"); shift 2 ;;
            --*) opts+=("$1"); shift ;;
            *) break ;;
        esac
    done
    ports=$(IFS=,; echo "$*")
    specs=("client@$(trc_ns client):$TRC_CLIENT_PORT")
    [ "$TRC_HAS_CLIENT2" = 1 ] &&
        specs+=("client2@$(trc_ns client2):$TRC_CLIENT_PORT")
    for i in $(seq 1 "$TRC_NB"); do
        specs+=("b$i@$(trc_ns "b$i"):$ports")
    done
    rm -f "$ready"
    "$TRC_PY" -S "$TRC_KDIR/nettool.py" serve "${specs[@]}" --ready "$ready" \
        --lifetime 300 "${opts[@]}" > /dev/null 2> "$TRC_TMP/serve.err" &
    TRC_PIDS+=("$!")
    for i in $(seq 1 100); do
        [ -e "$ready" ] && return 0
        sleep 0.05
    done
    echo "the test servers did not start:" >&2
    cat "$TRC_TMP/serve.err" >&2
    return 1
}

# trc_nettool ARGS...: run nettool.py (it enters namespaces itself). -S:
# the standard library is enough, and the start is faster without site.
trc_nettool() {
    "$TRC_PY" -S "$TRC_KDIR/nettool.py" "$@"
}

# trc_spawn ID OUT CMD...: run CMD in the background, in a subshell with
# namespaces of its own (trc-<PID>-ID-*), its own temporary directory and
# its own cleanup; its output goes to OUT. Its PID joins TRC_PIDS, so that
# the EXIT trap here stops it (by PID), and its own EXIT trap then deletes
# what it made. Used to run independent checks side by side: most of a
# check is waiting (namespace setup, timeouts).
trc_spawn() {
    local id=$1 out=$2
    shift 2
    (
        TRC_TAG="trc-$$-$id" TRC_TMP="$TRC_TMP/$id" TRC_PIDS=() TRC_NETNS=()
        mkdir -p "$TRC_TMP"
        trap 'trc_kill_pids; trc_del_netns' EXIT
        trap 'exit 130' INT TERM HUP
        "$@"
    ) > "$out" 2>&1 &
    TRC_PIDS+=("$!")
}

# trc_wait_all: wait for everything trc_spawn started.
trc_wait_all() {
    local pid
    for pid in "${TRC_PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    TRC_PIDS=()
}

# trc_wait_slots N: wait until fewer than N spawned checks run.
trc_wait_slots() {
    while [ "$(jobs -rp | wc -l)" -ge "$1" ]; do
        wait -n 2>/dev/null || true
    done
}

# split_blocks FILE DIR: one file per table in DIR (named after the table),
# from its `*table` line to its COMMIT; `#` lines dropped. Lines outside any
# block go to DIR/outside-blocks, so that they show in a diff. (The save
# tools print tables in an order that varies: compare block by block.)
split_blocks() {
    mkdir -p "$2"
    # Chain policy counters are zeroed: a stray packet after the load must
    # not read as a difference (the compiled files all say [0:0]).
    awk -v dir="$2" '
        /^#/ { next }
        /^:/ { sub(/\[[0-9]+:[0-9]+\]$/, "[0:0]") }
        /^\*/ { out = dir "/" substr($0, 2) }
        { print >> (out != "" ? out : dir "/outside-blocks") }
        /^COMMIT$/ { close(out); out = "" }
    ' "$1"
}

# nft_zero_counters: a listing on stdin with every counter value read as
# zero, as the file writes it (and --verify-live reads it): the server
# maps count connections, and traffic must not read as a difference.
nft_zero_counters() {
    sed -E 's/counter packets [0-9]+ bytes [0-9]+/counter packets 0 bytes 0/g'
}

# nft_body FILE: the part of an nft file that `nft list ruleset` prints.
nft_body() {
    awk '
        /^[ \t]*#/ { next }
        !started && /^table .*\{$/ { started = 1 }
        started { print }
    ' "$1"
}

# ---- reporting and the compiler under test: tests/lib.sh ------------------
# Each script ends with finish: "N passed, N failed" (", N skipped" when any
# were), and exit 1 when anything failed. A skip says why; it is never
# counted as a pass. bin: $TCPROUTEC, or the tree's ./tcproutec.
# shellcheck source=tests/lib.sh
. "$TRC_ROOT/tests/lib.sh"
bin=$(trc_bin "$TRC_ROOT")

# probes TIMEOUT LABEL ROLE PROTO ADDR:PORT BIND ...: run the probes side by
# side; result of probe LABEL with: result LABEL.
probes() {
    local timeout=$1 args=()
    shift
    while [ $# -gt 0 ]; do
        args+=(--probe "$1" "$(trc_ns "$2")" "$3" "$4" "$5")
        shift 5
    done
    trc_nettool probes --timeout "$timeout" "${args[@]}" > "$TRC_TMP/probes"
}
result() { sed -n "s/^$1 //p" "$TRC_TMP/probes"; }

# expect_blocked LABEL RESULT: a probe that must not get an answer.
expect_blocked() {
    case "$2" in
        answer*) fail "$1: not blocked: $2" ;;
        timeout*|refused*) pass "$1: blocked ($2)" ;;
        *) fail "$1: probe failed to run: $2" ;;
    esac
}
