#!/bin/bash
# run.sh: the kernel suite: roundtrip.sh, then traffic.sh, then breadth.sh
# (IPv6, allow from, affinity, port ranges, interfaces, any address, UDP
# per flow, reloads).
# As root, in network namespaces it creates and deletes (see lib.sh). Where
# it cannot run (not root, no namespaces, no iptables tools), it says
# SKIPPED with the reason and counts it as skipped, never as passed.
# Ends with "N passed, N failed, N skipped" (the sum of the scripts);
# exits 1 when anything failed.
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
    echo "SKIPPED: kernel tests: $reason"
    echo "0 passed, 0 failed, 1 skipped"
    exit 0
fi

total_p=0 total_f=0 total_s=0 status=0
for script in roundtrip.sh traffic.sh breadth.sh hostile.sh scale.sh; do
    echo "== tests/kernel/$script"
    start=$SECONDS
    bash "$here/$script" 2>&1 | tee "$TRC_TMP/out"
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$TRC_TMP/out" | tail -n 1)
    if [ -z "$line" ]; then
        echo "FAIL: tests/kernel/$script ended without its summary line"
        total_f=$((total_f + 1))
        status=1
        continue
    fi
    read -r p _ f _ s _ <<< "$line"
    total_p=$((total_p + p)) total_f=$((total_f + f)) total_s=$((total_s + s))
    echo "   ($script: $((SECONDS - start)) s)"
done
echo "$total_p passed, $total_f failed, $total_s skipped"
exit "$status"
