#!/bin/bash
# stable.sh: the output changes only where the meaning changes
# (LANGUAGE.md). For every example, on every target: a comment and blank
# lines added at the top, and the route blocks in reverse order, give
# byte-identical output; and changing one server of one route changes no
# output line that names another route.
# Ends with "N passed, N failed".
set -uo pipefail
export LC_ALL=C
root=$(cd "$(dirname "$0")/.." && pwd)
tc="$root/tcproutec"
[ -x "$tc" ] || { echo "stable: $tc: no such executable (run make first)"; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/v"
passed=0 failed=0
pass() { passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }

# reverse_routes IN OUT: the same file with its route blocks reversed
# (each block from `route NAME {` to its closing `}` at column 1).
reverse_routes() {
    python3 - "$1" "$2" <<'PY'
import sys
lines = open(sys.argv[1]).read().split('\n')
head, blocks, cur = [], [], None
for l in lines:
    if cur is None and l.startswith('route '):
        cur = [l]
    elif cur is not None:
        cur.append(l)
        if l.startswith('}'):
            blocks.append(cur)
            cur = None
    else:
        head.append(l)
out = head + [l for b in reversed(blocks) for l in b]
open(sys.argv[2], 'w').write('\n'.join(out))
PY
}

for src in "$root"/examples/*.tr; do
    name=$(basename "$src" .tr)
    cp "$src" "$tmp/$name.tr"
    { printf '# a reviewer'"'"'s note\n\n\n'; cat "$src"; } > "$tmp/commented.tr"
    reverse_routes "$src" "$tmp/reversed.tr"
    for t in iptables ip6tables nft iptables_--coexist nft_--coexist; do
        t=$(echo "$t" | tr _ ' ')
        # shellcheck disable=SC2086 # "-t TARGET [--coexist]": words
        (cd "$tmp" && "$tc" -t $t "$name.tr") > "$tmp/base.out" 2>/dev/null
        for variant in commented reversed; do
            cp "$tmp/$variant.tr" "$tmp/v/$name.tr"
            # shellcheck disable=SC2086
            if (cd "$tmp/v" && "$tc" -t $t "$name.tr") > "$tmp/var.out" 2>/dev/null &&
               cmp -s "$tmp/base.out" "$tmp/var.out"; then
                pass
            else
                fail "$name.tr -t $t: $variant source changes the output"
                diff "$tmp/base.out" "$tmp/var.out" | head -5
            fi
        done
    done
done

# One route's server changes: every changed line names that route only.
for t in iptables nft iptables_--coexist nft_--coexist; do
    t=$(echo "$t" | tr _ ' ')
    src="$root/examples/iot-gateway.tr"
    sed 's/10\.0\.0\.22 }/10.0.0.23 }/' "$src" > "$tmp/v/iot-gateway.tr"
    cp "$src" "$tmp/iot-gateway.tr"
    # shellcheck disable=SC2086 # "-t TARGET [--coexist]": words
    (cd "$tmp" && "$tc" -t $t iot-gateway.tr) > "$tmp/a.out"
    # shellcheck disable=SC2086
    (cd "$tmp/v" && "$tc" -t $t iot-gateway.tr) > "$tmp/b.out"
    others=$(diff "$tmp/a.out" "$tmp/b.out" | grep '^[<>]' | grep -v 'route coap\b' || true)
    if cmp -s "$tmp/a.out" "$tmp/b.out"; then
        fail "iot-gateway.tr -t $t: changing a server of coap changed nothing"
    elif [ -n "$others" ]; then
        fail "iot-gateway.tr -t $t: an edit of route coap changed other lines:"
        echo "$others" | head -5
    else
        pass
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
