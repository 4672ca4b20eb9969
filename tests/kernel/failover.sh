#!/bin/bash
# failover.sh: a pair of fronts loaded with the same compiled file
# (cases/failover.tr), with contrib/gateway-pair's conntrackd.conf and
# tcproutec-notify.sh, fails over from front A to front B:
# - a TCP connection established through A answers from the same server
#   after the service address and the snat address moved to B, and so
#   does a UDP flow (CoAP-like, one client port);
# - B's copy of their conntrack entries, in its kernel before their next
#   packet, carries A's mark (the routed bit and the snat class) and snat
#   port;
# - B, promoted with its ruleset missing, loads it (notify script);
# - new connections through B work and are source-NATed to the address
#   that moved;
# - each device (client address) of an `affinity client-ip` route reaches
#   the same server through B as it did through A.
# Once with -t nft (nft -f) and once with -t iptables
# (iptables-nft-restore), side by side.
#
# Topology (one switch namespace, two bridges; all trc-<PID>-*):
#
#   client 192.0.2.10,      trc-brc ---+--- A trc-pub 192.0.2.2    (+ 192.0.2.1)
#   devices 192.0.2.100-119            +--- B trc-pub 192.0.2.3
#                                        A trc-sync 203.0.113.1 === B 203.0.113.2
#   b1..b3 198.51.100.2-4   trc-brs ---+--- A trc-priv 198.51.100.252 (+ .1)
#                                      +--- B trc-priv 198.51.100.253
#
# 192.0.2.1 (the service address) and 198.51.100.1 (the snat address)
# float: the test moves them itself, as keepalived would (address add, a
# gratuitous ARP, then the notify script), after taking A's links down.
# The servers have no route to the clients: a reply that is not
# source-NATed to 198.51.100.1 goes nowhere. conntrackd runs in A and B
# (FTFW over UDP on the sync link, its socket, lock and log in the test's
# temporary directory); it must be installed (tools/deps.txt), or the
# test says SKIPPED.
# Ends with "N passed, N failed" (", N skipped"); exits 1 on a failure.
# Checks run in subshells (trc_spawn) and are called through "$@":
# shellcheck disable=SC2030,SC2031,SC2317
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
export LC_ALL=C

reason=$(trc_skip_reason nft iptables-nft-restore iptables-nft-save \
    conntrack conntrackd)
if [ -n "$reason" ]; then
    skip "failover: $reason"
    finish
fi

CONTRIB="$TRC_ROOT/contrib/gateway-pair"
SERVICE=192.0.2.1
FLOAT=198.51.100.1
NDEV=20
DEVICES=()
for i in $(seq 100 $((99 + NDEV))); do DEVICES+=("192.0.2.$i"); done
FILES="$TRC_TMP/files"
mkdir -p "$FILES"
for t in nft iptables; do
    ext=nft
    [ "$t" = iptables ] && ext=v4
    if ! "$bin" -t "$t" -o "$FILES/failover.$ext" "$here/cases/failover.tr" \
        2> "$TRC_TMP/compile.err"; then
        fail "failover.tr does not compile for -t $t: $(cat "$TRC_TMP/compile.err")"
        finish
    fi
done

# pair_up: the namespaces and links drawn above.
pair_up() {
    local i
    TRC_NB=3
    TRC_NETNS+=("$(trc_ns client)" "$(trc_ns sw)" "$(trc_ns fa)" "$(trc_ns fb)")
    for i in 1 2 3; do TRC_NETNS+=("$(trc_ns "b$i")"); done
    (
        set -e
        c=$(trc_ns client) s=$(trc_ns sw) a=$(trc_ns fa) b=$(trc_ns fb)
        for ns in "$c" "$s" "$a" "$b"; do ip netns add "$ns"; done
        for i in 1 2 3; do ip netns add "$(trc_ns "b$i")"; done
        ip -n "$s" -batch - <<EOF
link set lo up
link add trc-brc type bridge
link add trc-brs type bridge
link set trc-brc up
link set trc-brs up
EOF
        # front X (a or b): its public, private and sync links
        for x in a b; do
            f=$(trc_ns "f$x")
            n=2 && [ "$x" = b ] && n=3
            ip -n "$f" -batch - <<EOF
link set lo up
link add trc-pub type veth peer name trc-${x}p netns $s
link add trc-priv type veth peer name trc-${x}s netns $s
addr add 192.0.2.$n/24 dev trc-pub
addr add 198.51.100.$((250 + n))/24 dev trc-priv
link set trc-pub up
link set trc-priv up
EOF
            ip netns exec "$f" sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward'
            ip -n "$s" -batch - <<EOF
link set trc-${x}p master trc-brc
link set trc-${x}s master trc-brs
link set trc-${x}p up
link set trc-${x}s up
EOF
        done
        ip -n "$a" link add trc-sync type veth peer name trc-sync netns "$b"
        ip -n "$a" addr add 203.0.113.1/24 dev trc-sync
        ip -n "$b" addr add 203.0.113.2/24 dev trc-sync
        ip -n "$a" link set trc-sync up
        ip -n "$b" link set trc-sync up
        {
            echo "link set lo up"
            echo "link add trc-eth0 type veth peer name trc-c netns $s"
            echo "addr add $TRC_CLIENT/24 dev trc-eth0"
            for d in "${DEVICES[@]}"; do echo "addr add $d/24 dev trc-eth0"; done
            echo "link set trc-eth0 up"
        } | ip -n "$c" -batch -
        ip -n "$s" link set trc-c master trc-brc
        ip -n "$s" link set trc-c up
        for i in 1 2 3; do
            ip -n "$s" link add "trc-s$i" type veth peer name trc-eth0 \
                netns "$(trc_ns "b$i")"
            ip -n "$s" link set "trc-s$i" master trc-brs
            ip -n "$s" link set "trc-s$i" up
            ip -n "$(trc_ns "b$i")" -batch - <<EOF
link set lo up
addr add 198.51.100.$((i + 1))/24 dev trc-eth0
link set trc-eth0 up
EOF
        done
    ) || { echo "pair topology setup failed" >&2; return 1; }
}

# load LOADER FRONT: the compiled file into front FRONT (fa or fb).
load() {
    case "$1" in
        nft) nsx "$2" nft -f "$FILES/failover.nft" ;;
        iptables) nsx "$2" iptables-nft-restore < "$FILES/failover.v4" ;;
    esac
}

# unload LOADER FRONT: remove the ruleset (a standby that lost it).
unload() {
    case "$1" in
        nft) nsx "$2" nft delete table ip tcproutec ;;
        iptables) printf '*filter\nCOMMIT\n*nat\nCOMMIT\n' |
                      nsx "$2" iptables-nft-restore ;;
    esac
}

# take FRONT: the floating addresses onto FRONT, then a gratuitous ARP for
# each (what keepalived does before it runs notify_master).
take() {
    nsx "$1" ip addr add "$SERVICE/24" dev trc-pub &&
        nsx "$1" ip addr add "$FLOAT/24" dev trc-priv &&
        trc_nettool garp --netns "$(trc_ns "$1")" "$SERVICE@trc-pub" "$FLOAT@trc-priv"
}

# ctd_conf FRONT: contrib's conntrackd.conf for FRONT, with this test's
# interface and paths (its own socket, lock and log: the daemons of the
# two namespaces, and of the host, must not meet).
ctd_conf() {
    local dir="$TRC_TMP/$1" me=203.0.113.1 peer=203.0.113.2
    [ "$1" = fb ] && me=203.0.113.2 peer=203.0.113.1
    mkdir -p "$dir"
    sed -e "/^[[:space:]]*UDP {/,/}/{
                s/IPv4_address 203\.0\.113\.1\$/IPv4_address $me/
                s/IPv4_Destination_Address 203\.0\.113\.2\$/IPv4_Destination_Address $peer/
                s/Interface eth2\$/Interface trc-sync/
            }" \
        -e "s|LogFile on\$|LogFile $dir/conntrackd.log|" \
        -e "s|LockFile .*|LockFile $dir/conntrackd.lock|" \
        -e "s|Path /var/run/conntrackd.ctl|Path $dir/conntrackd.ctl|" \
        "$CONTRIB/conntrackd.conf" > "$dir/conntrackd.conf"
    if ! grep -q "IPv4_address $me\$" "$dir/conntrackd.conf" ||
        ! grep -q "Interface trc-sync" "$dir/conntrackd.conf" ||
        ! grep -q "Path $dir/conntrackd.ctl" "$dir/conntrackd.conf"; then
        echo "contrib/gateway-pair/conntrackd.conf changed shape: $1's copy is wrong"
        return 1
    fi
}

# ctd FRONT ARGS...: conntrackd's client, talking to FRONT's daemon.
ctd() {
    local f=$1
    shift
    nsx "$f" conntrackd -C "$TRC_TMP/$f/conntrackd.conf" "$@"
}

# ctd_start FRONT: conntrackd in FRONT, in the foreground (its PID is
# ours to kill); waits (5 s at most) until it answers.
ctd_start() {
    local i
    ctd_conf "$1" || return 1
    # not through nsx: $! must be conntrackd itself (ip netns exec execs
    # it), not a subshell whose death would leave it running
    ip netns exec "$(trc_ns "$1")" conntrackd -C "$TRC_TMP/$1/conntrackd.conf" \
        > "$TRC_TMP/$1/conntrackd.out" 2>&1 &
    TRC_PIDS+=("$!")
    for i in $(seq 1 50); do
        ctd "$1" -s > /dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "conntrackd did not start in $1: $(tail -n 5 "$TRC_TMP/$1/conntrackd.out" "$TRC_TMP/$1/conntrackd.log" 2>/dev/null)"
    return 1
}

# notify FRONT STATE: contrib's notify script in FRONT, on this test's
# conntrackd and compiled file; its messages go to $TRC_TMP/FRONT/notify.
notify() {
    nsx "$1" env TCPROUTEC_PAIR_DEFAULTS=/nonexistent TCPROUTEC_PAIR_SYSLOG=no \
        CONNTRACKD_CONFIG="$TRC_TMP/$1/conntrackd.conf" \
        CONNTRACKD_LOCK="$TRC_TMP/$1/conntrackd.lock" \
        TCPROUTEC_RULES="$RULES" \
        sh "$CONTRIB/tcproutec-notify.sh" "$2" > "$TRC_TMP/$1/notify" 2>&1
}

# ct_line FRONT PROTO PORT: FRONT's kernel conntrack entry of the flow to
# 192.0.2.1:PORT (the held connection, the UDP flow), one line.
ct_line() {
    nsx "$1" conntrack -L -p "$2" --orig-dst "$SERVICE" --orig-port-dst "$3" \
        2> /dev/null | head -n 1
}

# udp_flow: three datagrams of the UDP flow (client port 25000) to route
# coap; prints the server that answered all three, or what went wrong.
udp_flow() {
    trc_nettool connect "$SERVICE" 5683 --netns "$(trc_ns client)" --proto udp \
        --flows 1 --count 3 --timeout 2 --max-timeouts 2 --sport-base 25000 |
        "$TRC_PY" -S -c '
import json, sys
res = json.load(sys.stdin)
got = res.get("by_source", {}).get("sport 25000", {})
ok = len(got) == 1 and sum(got.values()) == 3 and res["peers"] == {sys.argv[1]: 3}
print(next(iter(got)) if ok else json.dumps(res, sort_keys=True))
' "$FLOAT"
}

# same_entry PROTO LINE_A LINE_B: B'"'"'s entry has A'"'"'s mark (routed bit set)
# and snat port.
same_entry() {
    local mark_a mark_b port_a port_b
    mark_a=$(mark_of "$2") mark_b=$(mark_of "$3")
    port_a=$(reply_port_of "$2") port_b=$(reply_port_of "$3")
    if [ -n "$mark_a" ] && [ "$mark_b" = "$mark_a" ] &&
        [ $((mark_a & 0x00800000)) != 0 ] && [ -n "$port_a" ] && [ "$port_b" = "$port_a" ]; then
        pass "$tag: $1: B's kernel had the entry before the next packet, with A's mark $mark_a (routed, snat class $(((mark_a >> 16) & 0x7f))) and snat port $port_a"
    else
        fail "$tag: $1 conntrack entry: A: ${2:-none}; B, after notify primary: ${3:-none}"
    fi
}

# mark_of LINE: the mark of a conntrack -L line, in hex.
mark_of() {
    local m
    m=$(sed -n 's/.* mark=\([0-9]*\).*/\1/p' <<< "$1")
    [ -n "$m" ] && printf '0x%08x\n' "$m"
}

# reply_port_of LINE: the destination port of its reply tuple (the port
# the snat gave the connection toward its server).
reply_port_of() {
    awk '{ n = 0; for (i = 1; i <= NF; i++) if ($i ~ /^dport=/) { n++; if (n == 2) { sub(/dport=/, "", $i); print $i } } }' <<< "$1"
}

# devices FRONT-LABEL OUT: every device connects twice to the affinity
# route; OUT gets "DEVICE SERVER" per device (SERVER "split" when its two
# connections went to two servers, "none" when neither answered).
devices() {
    local json="$TRC_TMP/devices.$1.json"
    trc_nettool connect "$SERVICE" 4443 --netns "$(trc_ns client)" \
        --count $((2 * NDEV)) --timeout 2 --max-timeouts 5 \
        --sport-base "$3" --sources "${DEVICES[@]}" > "$json"
    "$TRC_PY" -S -c '
import json, sys
res = json.load(open(sys.argv[1]))
by = res.get("by_source", {})
for dev in sys.argv[2:]:
    got = by.get(dev, {})
    print(dev, next(iter(got)) if len(got) == 1 else ("split" if got else "none"))
' "$json" "${DEVICES[@]}" > "$2"
}

# hold_ping K: ask the held connection to send ping K; prints the answer
# (5 s at most).
hold_ping() {
    local i
    touch "$TRC_TMP/hold/go.$1"
    for i in $(seq 1 100); do
        [ -e "$TRC_TMP/hold/done.$1" ] && { cat "$TRC_TMP/hold/done.$1"; return; }
        sleep 0.05
    done
    echo "no answer in 5 s"
}

# pair LOADER: the whole failover, with one loader.
pair() {
    local loader=$1 tag="[$1]" first server line_a line_b udp_a udp_b
    local uline_a uline_b i r moved kept ext
    RULES="$FILES/failover.nft"
    [ "$loader" = iptables ] && RULES="$FILES/failover.v4"
    pair_up || { fail "$tag: topology setup failed"; return; }
    for f in fa fb; do
        load "$loader" "$f" > "$TRC_TMP/load.$f" 2>&1 ||
            { fail "$tag: loading into $f failed: $(head -c 1000 "$TRC_TMP/load.$f")"; return; }
    done
    trc_start_servers --hold-ports 7100 7100 443 5683 || { fail "$tag: servers did not start"; return; }
    # (not in $( ): ctd_start records the daemon's PID in TRC_PIDS)
    for f in fa fb; do
        ctd_start "$f" > "$TRC_TMP/ctd_start" ||
            { fail "$tag: $(cat "$TRC_TMP/ctd_start")"; return; }
    done
    take fa || { fail "$tag: could not give A the floating addresses"; return; }
    # keepalived's start: A becomes primary, B backup
    if notify fa primary && ! grep -q . "$TRC_TMP/fa/notify"; then
        pass "$tag: notify primary on A (file loaded): no error, no reload"
    else
        fail "$tag: notify primary on A: $(cat "$TRC_TMP/fa/notify")"
    fi
    notify fb backup || fail "$tag: notify backup on B: $(cat "$TRC_TMP/fb/notify")"

    # the connection that must survive, opened through A
    rm -rf "$TRC_TMP/hold"
    mkdir -p "$TRC_TMP/hold"
    "$TRC_PY" -S "$TRC_KDIR/nettool.py" hold "$SERVICE" 7100 --netns "$(trc_ns client)" \
        --dir "$TRC_TMP/hold" --pings 2 --timeout 3 --wait 40 > /dev/null 2>&1 &
    TRC_PIDS+=("$!")
    for i in $(seq 1 100); do
        [ -e "$TRC_TMP/hold/ready" ] && break
        sleep 0.05
    done
    first=$(cat "$TRC_TMP/hold/ready" 2>/dev/null)
    case "$first" in
        "answer b"[123]" $FLOAT") pass "$tag: connection through A opened: $first" ;;
        *) fail "$tag: connection through A: ${first:-no answer in 5 s} (expected bI $FLOAT)"; return ;;
    esac
    server=$(awk '{ print $2 }' <<< "$first")
    r=$(hold_ping 1)
    if [ "$r" = "answer $server ping 1" ]; then
        pass "$tag: held connection answers through A: $r"
    else
        fail "$tag: held connection through A: $r (expected $server)"
    fi

    udp_a=$(udp_flow)
    case "$udp_a" in
        b[123]) pass "$tag: UDP flow through A: 3 datagrams answered by $udp_a, source $FLOAT" ;;
        *) fail "$tag: UDP flow through A: $udp_a" ;;
    esac

    devices a "$TRC_TMP/dev.a" 30000
    r=$(awk '$2 !~ /^b[123]$/' "$TRC_TMP/dev.a" | head -n 5 | tr '\n' ' ')
    if [ -z "$r" ]; then
        pass "$tag: through A, each of $NDEV devices kept one server over 2 connections ($(awk '{ print $2 }' "$TRC_TMP/dev.a" | sort | uniq -c | tr -s ' \n' ' '))"
    else
        fail "$tag: through A, devices without one server: $r"
    fi

    # B's conntrackd must hold the connection (its external cache) before
    # A fails: wait 5 s at most
    line_a=$(ct_line fa tcp 7100) uline_a=$(ct_line fa udp 5683)
    # (the dump goes to a file first: with pipefail, grep -q on the pipe
    # would fail the pipeline by conntrackd's SIGPIPE)
    for i in $(seq 1 50); do
        ctd fb -e ct > "$TRC_TMP/ext" 2> /dev/null
        r=$(grep -F " dst=$SERVICE " "$TRC_TMP/ext" | grep -F " dport=7100 ")
        ext=$(grep -F " dst=$SERVICE " "$TRC_TMP/ext" | grep -F " dport=5683 ")
        [[ "$r" = *ESTABLISHED* ]] && [ -n "$ext" ] && break
        sleep 0.1
    done
    if [[ "$r" = *ESTABLISHED* ]] && [ -n "$ext" ]; then
        pass "$tag: B's conntrackd received the TCP connection and the UDP flow from A: $r; $ext"
    else
        fail "$tag: B's conntrackd has not the connection after 5 s; A's internal cache: $(ctd fa -i ct 2>&1 | grep 'dport=7100' | head -n 2); A's kernel: $line_a; A's log: $(tail -n 5 "$TRC_TMP/fa/conntrackd.log"); B's log: $(tail -n 5 "$TRC_TMP/fb/conntrackd.log")"
    fi

    # A fails; B takes the addresses (its ruleset lost meanwhile: the
    # notify script must load it), then notify primary.
    for l in trc-pub trc-priv trc-sync; do nsx fa ip link set "$l" down; done
    unload "$loader" fb > "$TRC_TMP/unload" 2>&1 ||
        fail "$tag: could not remove B's ruleset: $(cat "$TRC_TMP/unload")"
    take fb || { fail "$tag: could not give B the floating addresses"; return; }
    if notify fb primary && grep -q "^tcproutec-notify: loaded $RULES" "$TRC_TMP/fb/notify" &&
        [ "$(grep -c . "$TRC_TMP/fb/notify")" = 1 ]; then
        pass "$tag: notify primary on B: connections committed, missing ruleset loaded"
    else
        fail "$tag: notify primary on B: $(cat "$TRC_TMP/fb/notify")"
    fi

    # The entry must be in B's kernel table before the connection's next
    # packet: one made by that packet (a mid-stream pickup, DNATed anew)
    # could reach the same server by chance, and keep the port.
    line_b=$(ct_line fb tcp 7100) uline_b=$(ct_line fb udp 5683)
    r=$(hold_ping 2)
    if [ "$r" = "answer $server ping 2" ]; then
        pass "$tag: the connection opened through A answers through B, same server: $r"
    else
        fail "$tag: the connection opened through A, after the failover to B: $r (expected $server)"
    fi
    same_entry TCP "$line_a" "$line_b"
    udp_b=$(udp_flow)
    if [ "$udp_b" = "$udp_a" ]; then
        pass "$tag: the UDP flow goes on through B to the same server: $udp_b"
    else
        fail "$tag: the UDP flow after the failover to B: $udp_b (expected $udp_a)"
    fi
    same_entry UDP "$uline_a" "$uline_b"

    if r=$(trc_nettool connect "$SERVICE" 4443 --netns "$(trc_ns client)" --count 10 \
        --sport-base 32000 --sources "$TRC_CLIENT" --mode sticky \
        --weights 1 1 1 --peer "$FLOAT"); then
        pass "$tag: new connections through B, snat $FLOAT: $r"
    else
        fail "$tag: new connections through B: $r"
    fi

    # the same devices, now through B
    devices b "$TRC_TMP/dev.b" 34000
    moved=$(join "$TRC_TMP/dev.a" "$TRC_TMP/dev.b" | awk '$2 != $3' | wc -l)
    kept=$((NDEV - moved))
    if [ "$moved" = 0 ]; then
        pass "$tag: after the failover, all $NDEV devices reach the server they had through A"
    else
        fail "$tag: after the failover, $moved of $NDEV devices reach another server than through A ($kept kept theirs): $(join "$TRC_TMP/dev.a" "$TRC_TMP/dev.b" | awk '$2 != $3 { printf "%s %s->%s; ", $1, $2, $3 }' | head -c 300)"
    fi
}

# pair_job LOADER: pair, then the line that says it ended.
pair_job() {
    pair "$1"
    echo "end: [$1]"
}

# contrib's keepalived.conf parses (keepalived -t), in a namespace that
# has its two interfaces under this test's names.
if command -v keepalived > /dev/null 2>&1; then
    sed -e 's/\beth0\b/trc-pub/g' -e 's/\beth1\b/trc-priv/g' \
        "$CONTRIB/keepalived.conf" > "$TRC_TMP/keepalived.conf"
    if trc_ns_add kcheck &&
        nsx kcheck ip link add trc-pub type veth peer name trc-priv &&
        nsx kcheck keepalived -t -f "$TRC_TMP/keepalived.conf" > "$TRC_TMP/keepalived.out" 2>&1; then
        pass "contrib/gateway-pair/keepalived.conf: keepalived -t accepts it"
    else
        fail "contrib/gateway-pair/keepalived.conf: keepalived -t: $(cat "$TRC_TMP/keepalived.out")"
    fi
else
    skip "contrib/gateway-pair/keepalived.conf not checked: keepalived not found"
fi

echo "failover: a pair of fronts, -t nft and -t iptables side by side"
for loader in nft iptables; do
    trc_spawn "$loader" "$TRC_TMP/out.$loader" pair_job "$loader"
done
trc_wait_all
for loader in nft iptables; do
    out="$TRC_TMP/out.$loader"
    grep -v '^end: ' "$out"
    passed=$((passed + $(grep -c '^ok: ' "$out")))
    failed=$((failed + $(grep -c '^FAIL: ' "$out")))
    grep -qxF "end: [$loader]" "$out" || fail "[$loader]: the run ended early"
done
finish
