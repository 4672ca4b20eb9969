#!/bin/bash
# scale.sh: PaaS-shaped files (tests/gen-paas.py: 1-8 servers, weights 1-9,
# drains, roundrobin, UDP, allow lists, affinity, three snat kinds) load at
# fleet sizes with nft -f, iptables-nft-restore and iptables-legacy-restore,
# and list or save back as written: roundtrip.sh run on the compiled files.
# Equal-weight files hid the nft "File exists" failure of weighted ones, and
# files of 20,000 apps the quadratic load of one map bound by thousands of
# chains (doc/nft-output.md).
#
# Usage: tests/kernel/scale.sh [N...]   (as root; default 1000 5000 20000;
# make scale-100k adds 100000: some minutes and about 5 GB for nft)
# Ends with roundtrip.sh's "N passed, N failed, N skipped".
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000 5000 20000)
files=()
for n in "${sizes[@]}"; do
    python3 "$root/tests/gen-paas.py" "$n" "$tmp/paas-$n.tr" || exit 1
    for t in iptables nft; do
        ext=v4
        [ "$t" = nft ] && ext=nft
        if ! "$root/tcproutec" -t "$t" -o "$tmp/paas-$n.$ext" "$tmp/paas-$n.tr"; then
            echo "FAIL: paas-$n.tr does not compile for -t $t"
            echo "0 passed, 1 failed, 0 skipped"
            exit 1
        fi
        files+=("$tmp/paas-$n.$ext")
    done
done
bash "$here/roundtrip.sh" "${files[@]}"
