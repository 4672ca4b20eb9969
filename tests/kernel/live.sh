#!/bin/bash
# live.sh: --stats and --verify-live on a real host's listing.
#
# With each loader (nft, iptables-nft, iptables-legacy), in a fresh
# topology: load tests/live/gw.tr (a roundrobin route, a weighted random
# route with a drained server, an affinity route), add rules of another
# tool (a Docker-like chain, or another nft table), send connections, and
# take the listing (`nft list ruleset`, `iptables-*-save -c`). Then:
# - --stats=json reports, per server, exactly the connections the client
#   saw answered by that server (roundrobin: exactly N/3 each);
# - --verify-live on the untouched host prints nothing and exits 0;
# - a rule deleted by hand: --verify-live prints a diff with that rule and
#   exits 1, and --stats exits 1 saying the host drifted;
# - the host loaded with a server changed (-D b3=198.51.100.5): the diff
#   shows the old and the new server, exit 1.
#
# Usage: tests/kernel/live.sh [--record DIR]   (as root)
#   --record DIR also keeps the listings in DIR (how the fixtures of
#   tests/live/listings/ were made).
# Ends with "N passed, N failed", and ", N skipped" when any were.
# Checks run in subshells (trc_spawn) and are called through "$@":
# shellcheck disable=SC2030,SC2031,SC2317
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
export LC_ALL=C

record=
if [ "${1-}" = --record ]; then
    record=$(cd "$2" && pwd) || exit 2
fi
src="$TRC_ROOT/tests/live/gw.tr"

reason=$(trc_skip_reason nft iptables-nft-restore iptables-nft-save \
    iptables-legacy-restore iptables-legacy-save)
if [ -n "$reason" ]; then
    skip "live listings: $reason"
    finish
fi

# The server a backend name stands for: bI is 198.51.100.(I+1).
# counts_match STATS_JSON CLIENT_JSON ROUTE PORT: the route's servers were
# counted exactly as the client saw them answer.
counts_match() {
    python3 -S - "$@" <<'EOF'
import json, sys
stats, client, route, port = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3], sys.argv[4]
seen = {"198.51.100.%d:%s" % (int(n[1:]) + 1, port): k for n, k in client["names"].items()}
r = [r for r in stats["routes"] if r["name"] == route][0]
got = {s["server"]: s["connections"] for s in r["servers"] if s["connections"]}
if got != seen or r["connections"] != client["attempts"] or client["attempts"] != sum(seen.values()):
    print("kernel counted %s, the client saw %s (%d attempts)" % (got, seen, client["attempts"]))
    sys.exit(1)
print(" ".join("%s=%d" % kv for kv in sorted(got.items())))
EOF
}

# listing LOADER: what the host prints, with counters.
listing() {
    case "$1" in
        nft) nsx front nft list ruleset ;;
        *) nsx front "$1-save" -c ;;
    esac
}

load() {
    case "$1" in
        nft) nsx front nft -f "$2" ;;
        iptables-legacy) nsx front iptables-legacy-restore -w 60 < "$2" ;;
        *) nsx front "$1-restore" < "$2" ;;
    esac
}

# foreign LOADER: rules of another tool, which the comparison must not see.
foreign() {
    case "$1" in
        nft) nsx front nft -f - <<'EOF'
table inet trcother {
	chain input {
		type filter hook input priority filter; policy accept;
		tcp dport 22 counter accept comment "someone else's"
	}
}
EOF
            ;;
        *) nsx front "$1" -w 60 -t nat -N DOCKER &&
           nsx front "$1" -w 60 -t nat -I PREROUTING 1 -m addrtype --dst-type LOCAL -j DOCKER &&
           nsx front "$1" -w 60 -t filter -N DOCKER-USER &&
           nsx front "$1" -w 60 -t filter -I FORWARD 1 -j DOCKER-USER ;;
    esac
}

# delete_rule LOADER: one of our rules deleted by hand.
delete_rule() {
    local h
    case "$1" in
        nft) h=$(nsx front nft -a list chain ip tcproutec postrouting |
                     sed -n 's/.*snat to .* # handle \([0-9]*\)$/\1/p')
             [ -n "$h" ] && nsx front nft delete rule ip tcproutec postrouting handle "$h" ;;
        *) nsx front "$1" -w 60 -t nat -D TRC-rr 3 ;;
    esac
}

check() {
    local loader=$1 target=iptables ext=v4 work="$TRC_TMP/work" out st n
    [ "$loader" = nft ] && target=nft ext=nft
    mkdir -p "$work"
    "$bin" -t "$target" -o "$work/gw.$ext" "$src" || { fail "[$loader] compile"; return; }
    "$bin" -t "$target" -D b3=198.51.100.5 -o "$work/gw-b3.$ext" "$src" ||
        { fail "[$loader] compile with -D"; return; }
    if ! trc_topology_up 3 || ! trc_start_servers 8001 8002 8003; then
        fail "[$loader] could not set up the namespaces"
        return
    fi
    if ! load "$loader" "$work/gw.$ext" || ! foreign "$loader"; then
        fail "[$loader] could not load the rules"
        return
    fi
    n=0
    for route in rr:8001:60 rnd:8002:90 sticky:8003:30; do
        IFS=: read -r name port count <<< "$route"
        trc_nettool connect 192.0.2.1 "$port" --netns "$(trc_ns client)" --count "$count" \
            --timeout 2 --max-timeouts 3 --sport-base $((20000 + n)) > "$work/client-$name.json"
        n=$((n + 1000))
    done
    listing "$loader" > "$work/live"
    [ -n "$record" ] && cp "$work/live" "$record/gw.$loader.live"

    if "$bin" -t "$target" --stats=json "$work/live" "$src" > "$work/stats.json" 2> "$work/err"; then
        for route in rr:8001 rnd:8002 sticky:8003; do
            IFS=: read -r name port <<< "$route"
            if out=$(counts_match "$work/stats.json" "$work/client-$name.json" "$name" "$port"); then
                pass "[$loader] --stats counts route $name as the client saw it: $out"
            else
                fail "[$loader] --stats, route $name: $out"
            fi
        done
    else
        fail "[$loader] --stats=json on the untouched host exited $?: $(cat "$work/err")"
    fi

    st=0
    "$bin" -t "$target" --verify-live "$work/live" "$src" > "$work/out" 2>&1 || st=$?
    if [ "$st" -eq 0 ] && [ ! -s "$work/out" ]; then
        pass "[$loader] --verify-live on the untouched host (foreign rules present): silent, exit 0"
    else
        fail "[$loader] --verify-live on the untouched host: exit $st:"
        sed 's/^/    /' "$work/out"
    fi

    if ! delete_rule "$loader"; then
        fail "[$loader] could not delete a rule"
        return
    fi
    listing "$loader" > "$work/live-deleted"
    [ -n "$record" ] && cp "$work/live-deleted" "$record/gw.$loader.deleted.live"
    st=0
    "$bin" -t "$target" --verify-live "$work/live-deleted" "$src" > "$work/out" 2> "$work/err" || st=$?
    # The deleted rule comes back as the one "+" line.
    if [ "$st" -eq 1 ] && [ "$(grep -c '^+[^+]' "$work/out")" -eq 1 ] &&
       grep -qE '^\+.*(snat to 198.51.100.1|--every 2 .*198.51.100.3:8001)' "$work/out" &&
       ! grep -q '^-[^-]' "$work/out" && grep -q 'has drifted' "$work/err"; then
        pass "[$loader] --verify-live after a rule deleted by hand: exit 1, the rule in the diff"
    else
        fail "[$loader] --verify-live after a rule deleted by hand: exit $st:"
        sed 's/^/    /' "$work/out" "$work/err"
    fi
    st=0
    "$bin" -t "$target" --stats "$work/live-deleted" "$src" > "$work/out" 2> "$work/err" || st=$?
    if [ "$st" -eq 1 ] && grep -q '^# DRIFT' "$work/out" && grep -q 'has drifted' "$work/err"; then
        pass "[$loader] --stats on the drifted host: exit 1, says so"
    else
        fail "[$loader] --stats on the drifted host: exit $st"
        sed 's/^/    /' "$work/out" "$work/err"
    fi

    if ! load "$loader" "$work/gw-b3.$ext"; then
        fail "[$loader] could not load the changed file"
        return
    fi
    listing "$loader" > "$work/live-b3"
    [ -n "$record" ] && cp "$work/live-b3" "$record/gw.$loader.b3.live"
    st=0
    "$bin" -t "$target" --verify-live "$work/live-b3" "$src" > "$work/out" 2> "$work/err" || st=$?
    if [ "$st" -eq 1 ] && grep -q '^-.*198\.51\.100\.5' "$work/out" &&
       grep -q '^+.*198\.51\.100\.4' "$work/out"; then
        pass "[$loader] --verify-live after a server changed: exit 1, old and new server in the diff"
    else
        fail "[$loader] --verify-live after a server changed: exit $st:"
        sed 's/^/    /' "$work/out" "$work/err"
    fi
}

jobs_out=()
for loader in nft iptables-nft iptables-legacy; do
    trc_spawn "$loader" "$TRC_TMP/$loader.out" check "$loader"
    jobs_out+=("$TRC_TMP/$loader.out")
done
trc_wait_all
for out in "${jobs_out[@]}"; do
    cat "$out"
    passed=$((passed + $(grep -c '^ok: ' "$out")))
    failed=$((failed + $(grep -c '^FAIL: ' "$out")))
    grep -qE '^(ok|FAIL): ' "$out" || fail "a check ended without a verdict ($out)"
done
finish
