#!/bin/bash
# traffic.sh: compile route files, load them into a front namespace with a
# real restore tool, send real connections, and check what the kernel does.
#
# For each case below and each loader (iptables-nft-restore,
# iptables-legacy-restore, and nft -f once the compiler has -t nft):
#   - controls, before any rule: a client reaches a server directly through
#     the front, and a server reaches the client from its service port (so
#     that "blocked" below means blocked by the rules, not by the topology);
#   - load the compiled file into the front;
#   - 1000 sequential connections (each a new flow, 2 s timeout each) to the
#     route's listener: no timeouts; every server sees the expected source
#     (the snat address, the front's address for masquerade, the client's
#     for snat none); drained servers get none; balance random fits the
#     declared weights (chi-square, alpha 0.001); balance roundrobin gives
#     exactly the declared proportion;
#   - probes that must fail: client -> server directly (through the front),
#     client -> an undeclared port of the front, client -> the listener on
#     the other protocol (when the route has one protocol), server -> client
#     from the server's service port;
#   - the front's own connections to a server are not source-NATed (its
#     source stays 198.51.100.1 whatever the route's snat);
#   - reload: loading the same file again leaves the same rules, and a new
#     batch of connections is balanced again.
#
# The loaders of one case run side by side, each in namespaces of its own
# (trc-PID-LOADER-*); their reports are printed in a fixed order.
#
# Usage: tests/kernel/traffic.sh [CASE...]     (as root; from anywhere)
# Environment: TCPROUTEC (default ./tcproutec at the repository root).
# Ends with "N passed, N failed, N skipped".
# Checks run in subshells (trc_spawn) and are called through "$@":
# shellcheck disable=SC2030,SC2031,SC2317
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
export LC_ALL=C



# ---------------------------------------------------------------- cases
# Each case sets:
#   SRC      the .tr file (from the repository root)
#   DEFS     -D overrides to documentation addresses
#   PROTOS   protocols of the route's listeners ("tcp", "udp", "tcp udp")
#   ADDR PORT  the listener; BPORT the servers' port
#   MODE     random | roundrobin
#   WEIGHTS  one per server line of the route, in order (0 = drain); server
#            I must be 198.51.100.(I+1)
#   PEER     the source address the servers must see
#   ROUTE_BACK  none (servers cannot reach the client net) | all
CASES=(article article-roundrobin iot-mqtt iot-coap weighted-random snat-range
       roundrobin-drain dns-none)

ARTICLE_DEFS=(-D public=192.0.2.1 -D private=198.51.100.1
              -D 'app={ 198.51.100.2, 198.51.100.3, 198.51.100.4 }')
IOT_DEFS=(-D public=192.0.2.1 -D private=198.51.100.1
          -D broker1=198.51.100.2 -D broker2=198.51.100.3
          -D broker3=198.51.100.4
          -D 'coap_gw={ 198.51.100.2, 198.51.100.3 }'
          -D 'amqp_node={ 203.0.113.31, 203.0.113.32, 203.0.113.33 }'
          -D 'mongos={ 203.0.113.41, 203.0.113.42 }'
          -D 'pgbouncer={ 203.0.113.51, 203.0.113.52 }'
          -D 'cache={ 203.0.113.61, 203.0.113.62 }')

set_case() {
    DEFS=() PROTOS=tcp ADDR=192.0.2.1 PEER=$TRC_FRONT_PRIV ROUTE_BACK=none EXTRA_ADDRS=""
    case "$1" in
        article)
            SRC=examples/article.tr DEFS=("${ARTICLE_DEFS[@]}")
            PORT=27017 BPORT=1234 MODE=random WEIGHTS=(1 1 1) ;;
        article-roundrobin)
            SRC=examples/article-roundrobin.tr DEFS=("${ARTICLE_DEFS[@]}")
            PORT=27017 BPORT=1234 MODE=roundrobin WEIGHTS=(1 1 1) ;;
        iot-mqtt)    # weight 2, weight 1, drained
            SRC=examples/iot-gateway.tr DEFS=("${IOT_DEFS[@]}")
            PORT=1883 BPORT=1883 MODE=roundrobin WEIGHTS=(2 1 0) ;;
        iot-coap)
            SRC=examples/iot-gateway.tr DEFS=("${IOT_DEFS[@]}")
            PROTOS=udp PORT=5683 BPORT=5683 MODE=random WEIGHTS=(1 1) ;;
        weighted-random)   # snat to the front's second address
            SRC=tests/kernel/cases/weighted-random.tr
            PORT=5432 BPORT=5432 MODE=random WEIGHTS=(1 2 3 4)
            PEER=$TRC_FRONT_PRIV2 ;;
        roundrobin-drain)  # masquerade
            SRC=tests/kernel/cases/roundrobin-drain.tr
            PORT=8080 BPORT=80 MODE=roundrobin WEIGHTS=(3 0 1 2) ;;
        snat-range)        # snat to four addresses of the front, at random ports
            SRC=tests/kernel/cases/snat-range.tr
            PORT=1883 BPORT=1883 MODE=random WEIGHTS=(1 1 1 1)
            PEER=198.51.100.250-198.51.100.253
            EXTRA_ADDRS="198.51.100.250 198.51.100.251 198.51.100.252 198.51.100.253" ;;
        dns-none)          # tcp and udp on one port, snat none
            SRC=tests/kernel/cases/dns-none.tr
            PROTOS="tcp udp" ADDR=192.0.2.53 PORT=53 BPORT=53
            MODE=roundrobin WEIGHTS=(1 1) PEER=$TRC_CLIENT ROUTE_BACK=all ;;
        *) return 1 ;;
    esac
}

# ---------------------------------------------------------------- loaders
# LOADER: target option, restore command, save command (run in the front).
loader_target() { case "$1" in nftables) echo nft ;; *) echo iptables ;; esac; }
loader_load() {
    case "$1" in
        iptables-nft) nsx front iptables-nft-restore < "$2" ;;
        # -w: the xtables lock is one file for all namespaces; wait for it
        iptables-legacy) nsx front iptables-legacy-restore -w 60 < "$2" ;;
        nftables) nsx front nft -f "$2" ;;
    esac
}
# loader_save LOADER: the ruleset as the kernel holds it. The chain
# policies' packet counters ([N:M]) are zeroed: a stray packet between two
# saves must not read as a change of rules.
loader_save() {
    case "$1" in
        iptables-nft) nsx front iptables-nft-save | grep -v '^#' ;;
        iptables-legacy) nsx front iptables-legacy-save | grep -v '^#' ;;
        nftables) nsx front nft list ruleset | nft_zero_counters ;;
    esac | sed -E 's/^(:[^ ]+ [A-Z-]+) \[[0-9]+:[0-9]+\]$/\1 [0:0]/'
}
loader_tool() {
    case "$1" in
        iptables-nft) echo iptables-nft-restore ;;
        iptables-legacy) echo iptables-legacy-restore ;;
        nftables) echo nft ;;
    esac
}

# ---------------------------------------------------------------- checks
# batch LABEL PROTO COUNT SPORT_BASE: COUNT connections from the client to
# the listener, judged against the case.
batch() {
    local label=$1 proto=$2 count=$3 base=$4 out
    if out=$(trc_nettool connect "$ADDR" "$PORT" --netns "$(trc_ns client)" \
            --proto "$proto" --count "$count" --timeout 2 \
            --sport-base "$base" --max-timeouts 5 \
            --mode "$MODE" --weights "${WEIGHTS[@]}" --peer "$PEER"); then
        pass "$label: $out"
    else
        fail "$label: $out"
    fi
}

# batch_size N_WANTED: for round robin, the largest multiple of the slot
# count not above N_WANTED.
batch_size() {
    local w sum=0
    for w in "${WEIGHTS[@]}"; do sum=$((sum + w)); done
    if [ "$MODE" = roundrobin ]; then
        echo $(($1 / sum * sum))
    else
        echo "$1"
    fi
}


# run_one CASE LOADER FILE: one full run in a fresh topology.
run_one() {
    local loader=$2 file=$3 tag="$1 [$2]" n i proto other r base
    local b1 probe_args
    n=${#WEIGHTS[@]}
    b1=$(trc_backend_addr 1)
    if ! trc_topology_up "$n" || ! trc_start_servers "$BPORT"; then
        fail "$tag: could not set up the namespaces"
        trc_topology_down
        return
    fi
    if [ "$ROUTE_BACK" = all ]; then
        for i in $(seq 1 "$n"); do trc_route_back "$i" on; done
    fi
    # Addresses of the front that only source NAT uses (snat-range).
    for i in $EXTRA_ADDRS; do
        nsx front ip addr add "$i/24" dev trc-priv || {
            fail "$tag: could not add $i to the front"
            trc_topology_down
            return
        }
    done

    # Controls: without rules, the paths the probes use are open.
    trc_route_back 1 on
    probes 2 direct client tcp "$b1:$BPORT" - \
             back b1 tcp "$TRC_CLIENT:$TRC_CLIENT_PORT" "$b1:$BPORT"
    r=$(result direct)
    if [ "$r" != "answer b1 $TRC_CLIENT" ]; then
        fail "$tag: control: client -> b1 directly without rules: $r"
        trc_topology_down
        return
    fi
    r=$(result back)
    if [ "$r" != "answer client $b1" ]; then
        fail "$tag: control: b1:$BPORT -> client without rules: $r"
        trc_topology_down
        return
    fi
    [ "$ROUTE_BACK" = all ] || trc_route_back 1 off

    # Load.
    if ! loader_load "$loader" "$file" > "$TRC_TMP/load.out" 2>&1; then
        fail "$tag: load failed: $(head -c 2000 "$TRC_TMP/load.out")"
        trc_topology_down
        return
    fi
    loader_save "$loader" > "$TRC_TMP/save1"

    # Balance: 1000 connections (a multiple of the slots for round robin).
    base=20000
    for proto in $PROTOS; do
        batch "$tag: $proto $MODE" "$proto" "$(batch_size 1000)" "$base"
        base=$((base + 1000))
    done

    # Probes that must fail (each times out in 1 s), and the front's own
    # connection to a server, which must keep its source address.
    trc_route_back 1 on
    proto=${PROTOS%% *}
    other=""
    case "$PROTOS" in
        tcp) other=udp ;;
        udp) other=tcp ;;
    esac
    probe_args=(direct client "$proto" "$b1:$BPORT" -
                port client "$proto" "$ADDR:$((PORT + 1))" -
                back b1 tcp "$TRC_CLIENT:$TRC_CLIENT_PORT" "$b1:$BPORT"
                front front tcp "$b1:$BPORT" -)
    [ -z "$other" ] || probe_args+=(proto client "$other" "$ADDR:$PORT" -)
    probes 1 "${probe_args[@]}"
    expect_blocked "$tag: client -> $b1:$BPORT/$proto directly" "$(result direct)"
    expect_blocked "$tag: client -> undeclared $ADDR:$((PORT + 1))/$proto" "$(result port)"
    [ -z "$other" ] ||
        expect_blocked "$tag: client -> $ADDR:$PORT/$other (not declared)" "$(result proto)"
    expect_blocked "$tag: b1:$BPORT -> client (from the service port)" "$(result back)"
    r=$(result front)
    if [ "$r" = "answer b1 $TRC_FRONT_PRIV" ]; then
        pass "$tag: front -> b1 is not source-NATed"
    else
        fail "$tag: front -> b1 should keep source $TRC_FRONT_PRIV: $r"
    fi
    [ "$ROUTE_BACK" = all ] || trc_route_back 1 off

    # Reload: same rules, balanced again.
    if ! loader_load "$loader" "$file" > "$TRC_TMP/load.out" 2>&1; then
        fail "$tag: reload failed: $(head -c 2000 "$TRC_TMP/load.out")"
    else
        loader_save "$loader" > "$TRC_TMP/save2"
        if diff -u "$TRC_TMP/save1" "$TRC_TMP/save2" > "$TRC_TMP/save.diff"; then
            pass "$tag: reload leaves the same rules"
        else
            fail "$tag: reload changed the rules:"
            sed 's/^/    /' "$TRC_TMP/save.diff"
        fi
        base=30000
        for proto in $PROTOS; do
            batch "$tag: after reload: $proto $MODE" "$proto" \
                "$(batch_size 120)" "$base"
            base=$((base + 1000))
        done
    fi
    trc_topology_down
}

# ---------------------------------------------------------------- main
reason=$(trc_skip_reason ip)
if [ -n "$reason" ]; then
    skip "kernel traffic tests: $reason"
    finish
fi
if [ ! -x "$bin" ]; then
    fail "$bin: no such executable (run make first)"
    finish
fi

[ $# -gt 0 ] && CASES=("$@")
for name in "${CASES[@]}"; do
    if ! set_case "$name"; then
        fail "$name: no such case"
        continue
    fi
    if [ ! -f "$TRC_ROOT/$SRC" ]; then
        fail "$name: $SRC: no such file"
        continue
    fi
    spawned=()
    for loader in iptables-nft iptables-legacy nftables; do
        tool=$(loader_tool "$loader")
        if ! command -v "$tool" > /dev/null 2>&1; then
            skip "$name [$loader]: $tool not found"
            continue
        fi
        target=$(loader_target "$loader")
        file="$TRC_TMP/$name.$target"
        status=0
        (cd "$TRC_ROOT/$(dirname "$SRC")" &&
            exec "$bin" --color=never -t "$target" -I "$TRC_ROOT/stdlib" \
                "${DEFS[@]}" -o "$file" "$(basename "$SRC")") \
            2> "$TRC_TMP/compile.err" || status=$?
        if [ "$status" -eq 2 ] && [ "$target" = nft ]; then
            skip "$name [$loader]: no -t nft yet: $(head -n 1 "$TRC_TMP/compile.err")"
            continue
        fi
        if [ "$status" -ne 0 ]; then
            fail "$name [$loader]: compile failed (exit $status):"
            sed 's/^/    /' "$TRC_TMP/compile.err"
            continue
        fi
        # the loaders of one case run side by side, each in its namespaces
        trc_spawn "$loader" "$TRC_TMP/$loader.out" run_one "$name" "$loader" "$file"
        spawned+=("$loader")
    done
    trc_wait_all
    for loader in "${spawned[@]}"; do
        out="$TRC_TMP/$loader.out"
        cat "$out"
        passed=$((passed + $(grep -c '^ok: ' "$out")))
        failed=$((failed + $(grep -c '^FAIL: ' "$out")))
        skipped=$((skipped + $(grep -c '^SKIPPED: ' "$out")))
        if ! grep -q "^ok: $name \[$loader\]: reload leaves" "$out" &&
                ! grep -q '^FAIL: ' "$out"; then
            fail "$name [$loader]: the run ended early"
        fi
        rm -f "$out"
    done
done
finish
