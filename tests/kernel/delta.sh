#!/bin/bash
# delta.sh: --since deltas on real hosts, with each loader: nft -f,
# iptables-nft-restore --noflush and iptables-legacy-restore --noflush.
#
# Listings. The sources are generated here (gen_tr below): a base file and,
# for each kind of change, the base with that change: route added, route
# removed, server added, server removed, drain, weight, snat, allow-list,
# an affinity route, a roundrobin route, a listener port, an IPv6 route
# appearing (nft: the table moves from ip to inet and is replaced whole;
# the iptables target leaves the route out). Each is compiled as
# old/routes.tr and new/routes.tr (the same base name, as in a deploy).
# For each kind and loader, in namespaces of its own:
#   - a host running OLD's full output loads the delta (exit 0), and then
#     lists exactly what a fresh load of NEW's full output lists in a second
#     namespace (nft: the top-level blocks of each table sorted, since nft
#     lists chains and maps in creation order; iptables-save: line for
#     line, per table, `#` lines and counters aside);
#   - the same delta loaded again fails and changes nothing;
#   - on a host running another file (same base name) and on an empty
#     host, the delta fails and changes nothing.
# The same with --coexist (foreign rules of another tool present on every
# host) for three kinds.
# Known: iptables-legacy-restore makes the filter table of an empty host
# (no rule, policies ACCEPT) even though the delta fails on its first
# line; that table alone is not counted as a change. With legacy, a delta
# also restarts every roundrobin counter (the kernel replaces the whole
# table), which no check here counts.
#
# Traffic, with each loader in turn, in a topology of lib.sh (4 servers):
#   - 20 successive deltas change other routes (weights, a route that comes
#     and goes) while a client opens TCP connections to a route that stays:
#     during each load, from before it starts to after it ends, one
#     connection every millisecond or so (0.9 s timeout each: below the 1 s
#     SYN retransmission, so a dropped SYN counts; 1000 at most per load);
#     every connection is answered, by the route's two servers; after the
#     20, the host lists as a fresh load of the last file;
#   - an established TCP connection to a server that a delta removes is not
#     cut: data sent after the delta is answered by that server, while a new
#     connection goes to the new server;
#   - --conntrack-cleanup: a UDP sender (one source port, a datagram every
#     200 ms) pinned by conntrack to a server that a delta removes keeps
#     reaching it for 2 s after the delta, and reaches the remaining server
#     within 2 s after `sh cleanup.sh` (run in the front), never the removed
#     one again.
#
# Usage: tests/kernel/delta.sh ["listings" | "traffic"]   (as root; both
# by default)
# Ends with "N passed, N failed", and ", N skipped" when any were.
# Checks run in subshells (trc_spawn) and are called through "$@":
# shellcheck disable=SC2030,SC2031,SC2317
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
export LC_ALL=C

reason=$(trc_skip_reason nft conntrack iptables-nft-restore iptables-nft-save \
    iptables-legacy-restore iptables-legacy-save)
if [ -n "$reason" ]; then
    skip "deltas: $reason"
    finish
fi

KINDS=(route-added route-removed server-added server-removed drain weight
       snat allow affinity roundrobin listener-port ipv6)
COEXIST_KINDS=(route-added server-removed allow)
LOADERS=(nft iptables-nft iptables-legacy)

# ---------------------------------------------------------------- sources
# gen_tr KIND: the base file (KIND base), with one change, or another file
# altogether (KIND other: different servers, listeners and addresses, so
# that both its iptables tables differ from the base's).
gen_tr() {
    local keep_srv="198.51.100.2:7100 198.51.100.3:7100"
    local web_srv="198.51.100.2:80 198.51.100.3:80 198.51.100.4:80"
    local web_port=7200 web_extra="" rr_srv="198.51.100.2:80 198.51.100.3:80 198.51.100.4:80"
    local sticky_srv="198.51.100.2:443 198.51.100.3:443" adm_allow="192.0.2.0/25"
    local adm=1 extra=0 v6=0 s
    case "$1" in
        base) ;;
        route-added) extra=1 ;;
        route-removed) adm=0 ;;
        server-added) web_srv="$web_srv 198.51.100.5:80" ;;
        server-removed) web_srv="198.51.100.2:80 198.51.100.4:80" ;;
        drain) web_srv="198.51.100.2:80 198.51.100.3:80@drain 198.51.100.4:80" ;;
        weight) web_srv="198.51.100.2:80 198.51.100.3:80@weight@3 198.51.100.4:80" ;;
        snat) web_extra="snat 198.51.100.254" ;;
        allow) adm_allow="192.0.2.0/25, 203.0.113.0/24" ;;
        affinity) sticky_srv="$sticky_srv 198.51.100.4:443" ;;
        roundrobin) rr_srv="198.51.100.2:80@weight@2 198.51.100.4:80" ;;
        listener-port) web_port=7201 ;;
        ipv6) v6=1 ;;
        other) keep_srv="198.51.100.6:7100 198.51.100.7:7100" adm=0 ;;
        *) return 1 ;;
    esac
    echo "# delta.sh: $1"
    echo "route keep {"
    echo "    listen tcp 192.0.2.1:7100"
    for s in $keep_srv; do echo "    server ${s//@/ }"; done
    echo "}"
    echo "route web {"
    echo "    listen tcp 192.0.2.1:$web_port"
    for s in $web_srv; do echo "    server ${s//@/ }"; done
    [ -n "$web_extra" ] && echo "    $web_extra"
    echo "}"
    echo "route rr {"
    echo "    listen tcp 192.0.2.1:7300"
    for s in $rr_srv; do echo "    server ${s//@/ }"; done
    echo "    balance roundrobin"
    echo "}"
    echo "route sticky {"
    echo "    listen tcp 192.0.2.1:7400"
    for s in $sticky_srv; do echo "    server ${s//@/ }"; done
    echo "    affinity client-ip"
    echo "}"
    if [ "$adm" = 1 ]; then
        echo "route adm {"
        echo "    listen tcp 192.0.2.1:7500"
        echo "    server 198.51.100.2:22"
        echo "    snat 198.51.100.1"
        echo "    allow from { $adm_allow }"
        echo "}"
    fi
    echo "route coap {"
    echo "    listen udp 192.0.2.1:5683"
    echo "    server 198.51.100.2:5683"
    echo "    server 198.51.100.3:5683"
    echo "}"
    if [ "$extra" = 1 ]; then
        echo "route extra {"
        echo "    listen tcp 192.0.2.53:7600"
        echo "    server 198.51.100.5:8080"
        echo "}"
    fi
    if [ "$v6" = 1 ]; then
        echo "route web6 {"
        echo "    listen tcp [2001:db8:c::1]:7200"
        echo "    server [2001:db8:b::2]:80"
        echo "}"
    fi
}

# ---------------------------------------------------------------- loaders
target_of() { case "$1" in nft) echo nft ;; *) echo iptables ;; esac; }

# load_full LOADER NS FILE [coexist]: a full load (coexist: iptables-restore
# --noflush, beside the foreign rules).
load_full() {
    local noflush=()
    [ "${4-}" = coexist ] && noflush=(--noflush)
    case "$1" in
        nft) nsx "$2" nft -f "$3" ;;
        iptables-nft) nsx "$2" iptables-nft-restore "${noflush[@]}" < "$3" ;;
        # -w: the xtables lock is one file for all namespaces
        iptables-legacy) nsx "$2" iptables-legacy-restore -w 60 "${noflush[@]}" < "$3" ;;
    esac
}

# load_delta LOADER NS FILE
load_delta() {
    case "$1" in
        nft) nsx "$2" nft -f "$3" ;;
        iptables-nft) nsx "$2" iptables-nft-restore --noflush < "$3" ;;
        iptables-legacy) nsx "$2" iptables-legacy-restore -w 60 --noflush < "$3" ;;
    esac
}

# foreign LOADER NS: rules of another tool (coexist), which no delta may touch.
foreign() {
    local ipt
    case "$1" in
        nft) nsx "$2" nft -f - <<'EOF'
table inet trcother {
	chain input {
		type filter hook input priority filter; policy accept;
		tcp dport 22 accept comment "someone else's"
	}
}
EOF
            ;;
        *) ipt=$1
           nsx "$2" "$ipt" -w 60 -t nat -N DOCKER &&
           nsx "$2" "$ipt" -w 60 -t nat -I PREROUTING 1 -m addrtype --dst-type LOCAL -j DOCKER &&
           nsx "$2" "$ipt" -w 60 -t filter -N DOCKER-USER &&
           nsx "$2" "$ipt" -w 60 -t filter -I FORWARD 1 -j DOCKER-USER ;;
    esac
}

# listing LOADER NS: the host's ruleset, normalised: counters zeroed; nft:
# tables, and the top-level blocks (map, set, chain) of each table, sorted;
# iptables: `#` lines dropped, tables sorted, each table line for line.
listing() {
    case "$1" in
        nft) nsx "$2" nft list ruleset | nft_zero_counters | sort_nft ;;
        *) nsx "$2" "$1-save" | sort_ipt ;;
    esac
}

sort_nft() {
    "$TRC_PY" -S -c '
import sys
tables, cur, block = [], None, None
for line in sys.stdin.read().split("\n"):
    if cur is None:
        if line.startswith("table "):
            cur = {"head": line, "blocks": [], "other": []}
        elif line:
            print("outside a table: " + line)
        continue
    if block is not None:
        block.append(line)
        if line == "\t}":
            cur["blocks"].append("\n".join(block))
            block = None
    elif line == "}":
        tables.append(cur)
        cur = None
    elif line.startswith("\t") and line.endswith(" {"):
        block = [line]
    else:
        cur["other"].append(line)
for t in sorted(tables, key=lambda t: t["head"]):
    print(t["head"])
    for l in t["other"]:
        print(l)
    for b in sorted(t["blocks"]):
        print(b)
    print("}")
if cur is not None or block is not None:
    print("unterminated block")
'
}

sort_ipt() {
    "$TRC_PY" -S -c '
import re, sys
tables, cur = {}, None
for line in sys.stdin.read().split("\n"):
    if line.startswith("#") or not line:
        continue
    line = re.sub(r"^(:\S+ \S+) \[\d+:\d+\]$", r"\1 [0:0]", line)
    if line.startswith("*"):
        cur = tables.setdefault(line, [])
    elif cur is None:
        print("outside a table: " + line)
    else:
        cur.append(line)
for name in sorted(tables):
    print(name)
    print("\n".join(tables[name]))
'
}

# same LABEL A B: pass when the listings A and B are equal, else fail with
# the start of their diff.
same() {
    if cmp -s "$2" "$3"; then
        pass "$1"
    else
        fail "$1:"
        diff -u "$2" "$3" | head -n 30 | sed 's/^/    /'
    fi
}

# ---------------------------------------------------------------- listings
# compile DIR KIND TARGET [--coexist]: DIR/KIND/routes.tr and its full
# output DIR/KIND/full.
compile_full() {
    local d=$1/$2
    shift 2
    mkdir -p "$d"
    gen_tr "$(basename "$d")" > "$d/routes.tr" &&
        "$bin" "$@" -o "$d/full" "$d/routes.tr"
}

# listing_case LOADER MODE KIND: one kind of change with one loader (MODE:
# own or coexist).
listing_case() {
    local loader=$1 mode=$2 kind=$3 target w opts st
    target=$(target_of "$loader")
    w="$TRC_TMP/$mode"
    opts=(-t "$target")
    [ "$mode" = coexist ] && opts+=(--coexist)
    local tag="[$loader${mode/own/}] $kind"
    tag=${tag/coexist/ --coexist}
    if ! "$bin" "${opts[@]}" --since "$w/base/routes.tr" -o "$w/$kind/delta" \
            "$w/$kind/routes.tr" 2> "$w/$kind/err"; then
        fail "$tag: --since failed: $(head -n 3 "$w/$kind/err")"
        return
    fi
    local host="$mode-$kind-h" ref="$mode-$kind-r"
    if ! { trc_ns_add "$host" && trc_ns_add "$ref"; }; then
        fail "$tag: namespaces"
        return
    fi
    if [ "$mode" = coexist ] && ! { foreign "$loader" "$host" && foreign "$loader" "$ref"; }; then
        fail "$tag: foreign rules"
        return
    fi
    if ! { load_full "$loader" "$host" "$w/base/full" "$mode" &&
           load_full "$loader" "$ref" "$w/$kind/full" "$mode"; }; then
        fail "$tag: full loads failed"
        return
    fi
    listing "$loader" "$ref" > "$w/$kind/l.ref"
    listing "$loader" "$host" > "$w/$kind/l.old"
    if ! load_delta "$loader" "$host" "$w/$kind/delta" 2> "$w/$kind/err"; then
        fail "$tag: the delta did not load on a host running OLD: $(head -n 3 "$w/$kind/err")"
        return
    fi
    listing "$loader" "$host" > "$w/$kind/l.new"
    same "$tag: the delta on OLD lists as a fresh load of NEW" "$w/$kind/l.ref" "$w/$kind/l.new"
    # The iptables target leaves the IPv6 route out: OLD and NEW write the
    # same tables, and the delta, which then swaps a marker for itself, may
    # load again (the host runs NEW).
    local noop=0
    [ "$kind" = ipv6 ] && [ "$target" = iptables ] && noop=1
    if cmp -s "$w/$kind/l.old" "$w/$kind/l.ref"; then
        [ "$noop" = 1 ] || fail "$tag: OLD and NEW list the same: the case changes nothing"
    elif [ "$noop" = 1 ]; then
        fail "$tag: the IPv6 route changed the iptables tables"
    fi
    st=0
    load_delta "$loader" "$host" "$w/$kind/delta" 2> "$w/$kind/err2" || st=$?
    listing "$loader" "$host" > "$w/$kind/l.again"
    if [ "$noop" = 1 ]; then
        same "$tag: the delta of an unchanged output loaded again (exit $st) changes nothing" \
            "$w/$kind/l.new" "$w/$kind/l.again"
    elif [ "$st" -ne 0 ]; then
        same "$tag: the same delta again fails (exit $st) and changes nothing" \
            "$w/$kind/l.new" "$w/$kind/l.again"
    else
        fail "$tag: the same delta loaded again succeeded"
    fi
    # the shared hosts: one running the other file, one empty
    local other what note
    for other in other empty; do
        what="another file" note=
        [ "$other" = empty ] && what=nothing
        listing "$loader" "$mode-$other" > "$w/$kind/l.$other.before"
        st=0
        load_delta "$loader" "$mode-$other" "$w/$kind/delta" 2> "$w/$kind/err3" || st=$?
        listing "$loader" "$mode-$other" > "$w/$kind/l.$other.after"
        # iptables-legacy-restore instantiates a table it opens, even when
        # the first command on it then fails: on an empty host the failed
        # delta leaves the filter table as the kernel makes it, without a
        # rule and with policies ACCEPT, which filters nothing. That table
        # alone, new, is not counted as a change.
        if [ "$loader" = iptables-legacy ] && [ "$other" = empty ] &&
                ! cmp -s "$w/$kind/l.$other.before" "$w/$kind/l.$other.after" &&
                [ "$(printf '%s\n' '*filter' ':INPUT ACCEPT [0:0]' ':FORWARD ACCEPT [0:0]' ':OUTPUT ACCEPT [0:0]' 'COMMIT' |
                     cat "$w/$kind/l.$other.before" - | sort_ipt)" = "$(cat "$w/$kind/l.$other.after")" ]; then
            cp "$w/$kind/l.$other.after" "$w/$kind/l.$other.before"
            note=" (iptables-legacy made the empty filter table, policies ACCEPT, no rule)"
        fi
        if [ "$st" -ne 0 ]; then
            same "$tag: on a host running $what, the delta fails (exit $st) and changes nothing$note" \
                "$w/$kind/l.$other.before" "$w/$kind/l.$other.after"
        else
            fail "$tag: the delta loaded on a host running $other"
            diff -u "$w/$kind/l.$other.before" "$w/$kind/l.$other.after" | head -n 20 | sed 's/^/    /'
        fi
    done
}

# listings LOADER MODE KIND...
listings() {
    local loader=$1 mode=$2 target kind w opts=()
    shift 2
    target=$(target_of "$loader")
    w="$TRC_TMP/$mode"
    opts=(-t "$target")
    [ "$mode" = coexist ] && opts+=(--coexist)
    for kind in base other "$@"; do
        compile_full "$w" "$kind" "${opts[@]}" 2> "$w.err" ||
            { fail "[$loader] $mode: compiling $kind: $(head -n 3 "$w.err")"; return; }
    done
    # the host running the other file, and the empty one (with the foreign
    # rules in coexist mode)
    if ! { trc_ns_add "$mode-other" && trc_ns_add "$mode-empty"; }; then
        fail "[$loader] namespaces"
        return
    fi
    if [ "$mode" = coexist ] && ! { foreign "$loader" "$mode-other" && foreign "$loader" "$mode-empty"; }; then
        fail "[$loader] foreign rules"
        return
    fi
    load_full "$loader" "$mode-other" "$w/other/full" "$mode" ||
        { fail "[$loader] loading the other file"; return; }
    for kind in "$@"; do
        listing_case "$loader" "$mode" "$kind"
        ip netns del "$(trc_ns "$mode-$kind-h")" 2>/dev/null
        ip netns del "$(trc_ns "$mode-$kind-r")" 2>/dev/null
    done
}

# ---------------------------------------------------------------- traffic
# gen_traffic K: the sources of the traffic checks. keep (b1, b2) never
# changes; web and flap change with K (0..20); hold (b3, port 7300) and coap
# (b1, b2, udp 5683) as in the base. K hold: hold moves to b4. K coap-bN:
# bN leaves coap.
gen_traffic() {
    local k=$1 w1=1 w2=1 flap=0 hold=198.51.100.4:7300
    local coap="198.51.100.2:5683 198.51.100.3:5683"
    case "$k" in
        hold) hold=198.51.100.5:7300 ;;
        coap-b1) hold=198.51.100.5:7300 coap=198.51.100.3:5683 ;;
        coap-b2) hold=198.51.100.5:7300 coap=198.51.100.2:5683 ;;
        *) w1=$((k % 4 + 1)) w2=$((k % 3 + 1)); [ $((k % 2)) = 1 ] && flap=1 ;;
    esac
    cat <<EOF
route keep {
    listen tcp 192.0.2.1:7100
    server 198.51.100.2:7100
    server 198.51.100.3:7100
    balance roundrobin
}
route web {
    listen tcp 192.0.2.1:7200
    server 198.51.100.2:7100 weight $w1
    server 198.51.100.4:7100 weight $w2
}
route hold {
    listen tcp 192.0.2.1:7300
    server $hold
}
route coap {
    listen udp 192.0.2.1:5683
    server ${coap// /
    server }
}
EOF
    if [ "$flap" = 1 ]; then
        printf 'route flap%s {\n    listen tcp 192.0.2.1:%s\n    server 198.51.100.5:7100\n}\n' "$k" $((7400 + k))
    fi
}

# udp_sender OUT STOP: from the client, one socket (source port 40000), a
# datagram to 192.0.2.1:5683 every 200 ms; one line per datagram, "TIME
# ANSWER" (wall clock, the server's name or "timeout"), until STOP exists
# (30 s at most).
udp_sender() {
    nsx client "$TRC_PY" -S -c '
import socket, sys, time, os
out, stop = sys.argv[1:3]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 40000))
s.connect(("192.0.2.1", 5683))
s.settimeout(0.15)
end = time.time() + 30
with open(out, "w") as f:
    while time.time() < end and not os.path.exists(stop):
        t = time.time()
        try:
            s.send(b"hello\n")
            a = s.recv(2048).decode().split()[0]
        except OSError:
            a = "timeout"
        f.write("%.3f %s\n" % (t, a))
        f.flush()
        time.sleep(max(0, 0.2 - (time.time() - t)))
' "$@" &
    TRC_PIDS+=("$!")
}

# tcp_client DIR N: from the client, N bursts of TCP connections to keep
# (192.0.2.1:7100). Burst K starts when DIR/go.K exists: connections one
# after another, 1 ms apart, each with a 0.9 s timeout (below the 1 s SYN
# retransmission: a dropped SYN fails); DIR/ready.K once the first has
# been answered; it ends when DIR/end.K exists, or after 1000 connections
# (the most a check may open at a time). (Without the 1 ms, a connection
# takes some 0.2 ms here, and one load of a delta, mostly the loader's
# start, some 200 ms: 1000 connections would not cover it.) Per burst, a line "burst K N b1=N
# b2=N fail=N max=MS ended|limit" (MS: the slowest), and a line per
# failure. 60 s at most in all.
tcp_client() {
    nsx client "$TRC_PY" -S -c '
import socket, sys, time, os
d, bursts = sys.argv[1], int(sys.argv[2])
end = time.time() + 60
def one():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(0.9)
    try:
        s.connect(("192.0.2.1", 7100))
        data = b""
        while not data.endswith(b"\n"):
            c = s.recv(2048)
            if not c:
                break
            data += c
        return data.decode().split()[0] if data.strip() else "empty"
    except OSError as e:
        return "error " + str(e)
    finally:
        s.close()
with open(os.path.join(d, "client.out"), "w") as f:
    for k in range(1, bursts + 1):
        while not os.path.exists(os.path.join(d, "go.%d" % k)) and time.time() < end:
            time.sleep(0.005)
        if time.time() >= end:
            break
        n, got, fails, worst, how = 0, {"b1": 0, "b2": 0}, 0, 0.0, "limit"
        while n < 1000 and time.time() < end:
            if os.path.exists(os.path.join(d, "end.%d" % k)):
                how = "ended"
                break
            n += 1
            t = time.time()
            name = one()
            worst = max(worst, time.time() - t)
            if name in got:
                got[name] += 1
            else:
                fails += 1
                f.write("connection %d of burst %d: %s\n" % (n, k, name))
            if n == 1:
                open(os.path.join(d, "ready.%d" % k), "w").close()
            time.sleep(0.001)
        f.write("burst %d %d b1=%d b2=%d fail=%d max=%d %s\n" % (
            k, n, got["b1"], got["b2"], fails, worst * 1000, how))
        f.flush()
' "$@" &
    TRC_PIDS+=("$!")
}

# answers FILE FROM [TO]: the answers of udp_sender's lines with FROM <=
# TIME < TO, counted by answer, "b1=5 timeout=1".
answers() {
    awk -v from="$2" -v to="${3:-1e12}" '$1 >= from && $1 < to { n[$2]++ }
        END { for (a in n) printf "%s=%d\n", a, n[a] }' "$1" | sort | paste -sd' ' -
}

# served FILE FROM [TO]: the same without the timeouts.
served() { answers "$@" | sed -E 's/ ?timeout=[0-9]+//; s/^ //'; }

now() { date +%s.%N; }

traffic() {
    local loader=$1 target w k st out tag t0 t1 pid i
    target=$(target_of "$loader")
    tag="[$loader]"
    w="$TRC_TMP/traffic"
    mkdir -p "$w"
    for k in $(seq 0 20) hold coap-b1 coap-b2; do
        mkdir -p "$w/$k"
        gen_traffic "$k" > "$w/$k/routes.tr"
        "$bin" -t "$target" -o "$w/$k/full" "$w/$k/routes.tr" 2> "$w/err" ||
            { fail "$tag compiling traffic $k: $(head -n 3 "$w/err")"; return; }
    done
    for k in $(seq 1 20); do
        "$bin" -t "$target" --since "$w/$((k - 1))/routes.tr" -o "$w/$k/delta" \
            "$w/$k/routes.tr" 2> "$w/err" ||
            { fail "$tag --since for step $k: $(head -n 3 "$w/err")"; return; }
    done
    "$bin" -t "$target" --since "$w/20/routes.tr" -o "$w/hold/delta" "$w/hold/routes.tr" ||
        { fail "$tag --since for hold"; return; }
    if ! trc_topology_up 4 || ! trc_start_servers --hold-ports 7300 7100 7300 5683; then
        fail "$tag could not set up the namespaces"
        return
    fi
    load_full "$loader" front "$w/0/full" || { fail "$tag loading the first file"; return; }

    # an established connection to hold's server (b3), to be removed
    mkdir -p "$w/held"
    trc_nettool hold 192.0.2.1 7300 --netns "$(trc_ns client)" --dir "$w/held" \
        --pings 2 --timeout 2 --wait 60 > /dev/null 2>&1 &
    TRC_PIDS+=("$!")

    # A client on keep, through 20 deltas to other routes: for each, a burst
    # of connections without pause that starts before the load and ends
    # after it.
    local b
    mkdir -p "$w/keep"
    tcp_client "$w/keep" 20
    pid=$!
    t0=$(now)
    st=0
    for k in $(seq 1 20); do
        touch "$w/keep/go.$k"
        for i in $(seq 1 100); do [ -e "$w/keep/ready.$k" ] && break; sleep 0.05; done
        if ! load_delta "$loader" front "$w/$k/delta" 2> "$w/err"; then
            st=$k
        fi
        touch "$w/keep/end.$k"
        [ "$st" = 0 ] || break
    done
    t1=$(now)
    if [ "$st" -ne 0 ]; then
        fail "$tag delta $st of 20 did not load: $(head -n 3 "$w/err")"
    else
        pass "$tag 20 successive deltas loaded (in $(awk -v a="$t1" -v b="$t0" 'BEGIN { printf "%.2f", a - b }') s)"
    fi
    wait "$pid"
    # every burst ended by its end file, with answers only, from b1 and b2
    out=$(awk '/^burst / { n++; c += $3; if ($6 != "fail=0" || $8 != "ended" || $4 == "b1=0" && $5 == "b2=0") bad++;
                           split($7, m, "="); if (m[2] > max) max = m[2] }
               !/^burst / { bad++ }
               END { printf "%d bursts, %d connections, slowest %d ms%s", n, c, max, bad ? ", " bad " bad lines" : "" }' "$w/keep/client.out")
    b=$(grep -c '^burst .* fail=0 max=[0-9]* ended$' "$w/keep/client.out")
    if [ "$b" = 20 ] && [ "$(wc -l < "$w/keep/client.out")" = 20 ]; then
        pass "$tag the unchanged route answered every connection opened during the 20 loads ($out)"
    else
        fail "$tag the client on the unchanged route during the loads: $out"
        grep -v 'fail=0 max=[0-9]* ended$' "$w/keep/client.out" | head -n 5 | sed 's/^/    /'
    fi
    listing "$loader" front > "$w/l.after20"
    { trc_ns_add ref20 && load_full "$loader" ref20 "$w/20/full"; } ||
        fail "$tag loading the last file in a fresh namespace"
    listing "$loader" ref20 > "$w/l.ref20"
    same "$tag after 20 successive deltas the host lists as a fresh load of the last file" \
        "$w/l.ref20" "$w/l.after20"

    # the established connection, across the delta that removes its server
    for i in $(seq 1 100); do [ -e "$w/held/ready" ] && break; sleep 0.05; done
    out=$(cat "$w/held/ready" 2>/dev/null)
    case "$out" in
        "answer b3 "*) ;;
        *) fail "$tag the held connection did not reach b3: ${out:-no answer}"; return ;;
    esac
    touch "$w/held/go.1"
    for i in $(seq 1 60); do [ -e "$w/held/done.1" ] && break; sleep 0.05; done
    if ! load_delta "$loader" front "$w/hold/delta" 2> "$w/err"; then
        fail "$tag the delta removing b3 did not load: $(head -n 3 "$w/err")"
        return
    fi
    touch "$w/held/go.2"
    for i in $(seq 1 60); do [ -e "$w/held/done.2" ] && break; sleep 0.05; done
    out="$(cat "$w/held/done.1" 2>/dev/null) / $(cat "$w/held/done.2" 2>/dev/null)"
    if [ "$out" = "answer b3 ping 1 / answer b3 ping 2" ]; then
        pass "$tag a TCP connection established to a server the delta removed still works after it ($out)"
    else
        fail "$tag the TCP connection to the removed server: $out"
    fi
    probes 2 new client tcp 192.0.2.1:7300 -
    out=$(result new)
    case "$out" in
        "answer b4 "*) pass "$tag a new connection after that delta goes to the new server ($out)" ;;
        *) fail "$tag a new connection after the delta: $out" ;;
    esac

    # the UDP flow: pinned, removed, cleaned up
    local pinned td tc a1 a2 first rest
    udp_sender "$w/udp" "$w/udp.stop"
    for i in $(seq 1 50); do
        [ -e "$w/udp" ] && [ "$(grep -c ' b[12]$' "$w/udp")" -ge 5 ] && break
        sleep 0.1
    done
    # (a timeout: an answer later than 150 ms on a busy machine, not counted)
    a1=$(served "$w/udp" 0)
    case "$a1" in
        b1=*[0-9]) pinned=b1 ;;
        b2=*[0-9]) pinned=b2 ;;
        *) fail "$tag the UDP sender is not pinned to one server: ${a1:-no answers}"; return ;;
    esac
    case "$a1" in *" "*) fail "$tag the UDP sender is not pinned to one server: $a1"; return ;; esac
    "$bin" -t "$target" --since "$w/hold/routes.tr" --conntrack-cleanup "$w/cleanup.sh" \
        -o "$w/coap-$pinned/delta" "$w/coap-$pinned/routes.tr" 2> "$w/err" ||
        { fail "$tag --since with --conntrack-cleanup: $(head -n 3 "$w/err")"; return; }
    if ! load_delta "$loader" front "$w/coap-$pinned/delta" 2> "$w/err"; then
        fail "$tag the delta removing $pinned from coap did not load: $(head -n 3 "$w/err")"
        return
    fi
    td=$(now)
    sleep 2.2
    a2=$(served "$w/udp" "$td")
    if [[ "$a2" =~ ^$pinned=([0-9]+)$ ]] && [ "${BASH_REMATCH[1]}" -ge 3 ]; then
        pass "$tag without the cleanup script, the UDP flow keeps reaching the removed $pinned ($a2 in 2.2 s)"
    else
        fail "$tag after the delta, before the cleanup, the UDP flow got: ${a2:-nothing} (expected only $pinned)"
    fi
    tc=$(now)
    if ! nsx front sh "$w/cleanup.sh" > "$w/cleanup.out" 2>&1; then
        fail "$tag sh cleanup.sh failed: $(head -n 3 "$w/cleanup.out")"
    fi
    sleep 2.5
    touch "$w/udp.stop"
    # the first answer from the remaining server, and everything after it
    first=$(awk -v from="$tc" -v p="$pinned" '$1 >= from && $2 != p && $2 != "timeout" { print $1; exit }' "$w/udp")
    if [ -z "$first" ]; then
        fail "$tag after sh cleanup.sh, the UDP flow never reached another server: $(answers "$w/udp" "$tc")"
    else
        rest=$(served "$w/udp" "$first")
        if awk -v a="$first" -v b="$tc" 'BEGIN { exit !(a - b <= 2) }' &&
                [[ ! "$rest" =~ $pinned= ]]; then
            pass "$tag after sh cleanup.sh the UDP flow reached the remaining server in $(awk -v a="$first" -v b="$tc" 'BEGIN { printf "%.2f", a - b }') s, and only it after ($rest)"
        else
            fail "$tag after sh cleanup.sh: first other answer after $(awk -v a="$first" -v b="$tc" 'BEGIN { printf "%.2f", a - b }') s, then $rest"
        fi
    fi
}

# ---------------------------------------------------------------- run
run_listings() {
    local loader=$1
    listings "$loader" own "${KINDS[@]}"
    listings "$loader" coexist "${COEXIST_KINDS[@]}"
}

parts=${1-listings traffic}
jobs_out=()
case " $parts " in *" listings "*)
    for loader in "${LOADERS[@]}"; do
        trc_spawn "l-$loader" "$TRC_TMP/l-$loader.out" run_listings "$loader"
        jobs_out+=("$TRC_TMP/l-$loader.out")
    done
    trc_wait_all ;;
esac
# One loader at a time: the client takes a core, and on a busy machine
# three of them slow the deltas down (and the client must outlast them).
case " $parts " in *" traffic "*)
    for loader in "${LOADERS[@]}"; do
        trc_spawn "t-$loader" "$TRC_TMP/t-$loader.out" traffic "$loader"
        jobs_out+=("$TRC_TMP/t-$loader.out")
        trc_wait_all
    done ;;
esac
[ ${#jobs_out[@]} -gt 0 ] || fail "nothing to run: the argument is listings, traffic or both"
for out in "${jobs_out[@]}"; do
    cat "$out"
    passed=$((passed + $(grep -c '^ok: ' "$out")))
    failed=$((failed + $(grep -c '^FAIL: ' "$out")))
    grep -qE '^(ok|FAIL): ' "$out" || fail "a check ended without a verdict ($out)"
done
finish
