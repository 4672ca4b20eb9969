#!/bin/bash
# run.sh: the kernel suite: roundtrip.sh, then traffic.sh, then breadth.sh
# (IPv6, allow from, affinity, port ranges, interfaces, any address, UDP
# per flow, reloads), hostile.sh, coexist.sh (--coexist beside Docker-shaped
# rules and a host firewall), live.sh (--stats and --verify-live on a
# loaded host), scale.sh, failover.sh (a pair of fronts: conntrackd, the
# floating addresses, affinity across the pair), and affinity.sh (hash
# affinity for a fleet: devices keep their server across connections,
# reloads and gateways; a fourth server moves about 1/4; the tracer
# predicts each), and delta.sh (--since deltas: each kind of change reaches
# exactly NEW's listing with nft, iptables-nft and legacy, a wrong-base or
# repeated delta fails and changes nothing; an unchanged route answers
# through 20 deltas, an open TCP connection survives its server's removal,
# --conntrack-cleanup moves a pinned UDP flow).
# As root, in network namespaces it creates and deletes (see lib.sh). Where
# it cannot run (not root, no namespaces, no iptables tools), it says
# SKIPPED with the reason and counts it as skipped, never as passed.
# Ends with "N passed, N failed", and ", N skipped" when any were (the sum
# of the scripts); exits 1 when anything failed.
# Checks run in subshells (trc_spawn) and are called through "$@":
# shellcheck disable=SC2030,SC2031,SC2317
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
export LC_ALL=C

reason=$(trc_skip_reason iptables-nft-restore iptables-nft-save \
    iptables-legacy-restore iptables-legacy-save)
if [ -n "$reason" ]; then
    skip "kernel tests: $reason"
    finish
fi

status=0
for script in roundtrip.sh traffic.sh breadth.sh hostile.sh coexist.sh live.sh scale.sh failover.sh affinity.sh delta.sh; do
    echo "== tests/kernel/$script"
    start=$SECONDS
    bash "$here/$script" 2>&1 | tee "$TRC_TMP/out"
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$' "$TRC_TMP/out" | tail -n 1)
    if [ -z "$line" ]; then
        fail "tests/kernel/$script ended without its summary line"
        status=1
        continue
    fi
    read -r p _ f _ s _ <<< "$line"
    passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + ${s:-0}))
    echo "   ($script: $((SECONDS - start)) s)"
done
# A script that failed without counting a failure still fails the suite.
[ "$status" -eq 0 ] || [ "$failed" -gt 0 ] || fail "a kernel script exited non-zero"
finish
