#!/bin/sh
# tests/delta.sh: --since deltas and --conntrack-cleanup, without a kernel
# (tests/kernel/delta.sh loads them).
#
# tests/delta/base.tr is the deployed source (OLD); each other NAME.tr in
# tests/delta is a NEW. Both are compiled as gw/routes.tr, as a deploy
# does (the host's rules carry the file's base name), and
#   tcproutec -t TARGET --since old/routes.tr new/routes.tr
# must print exactly tests/delta/NAME.TARGET.delta (TARGET: iptables, nft,
# nft-coexist, iptables-coexist), and the cleanup script of -t nft exactly
# NAME.cleanup. Then the properties no expected file shows: a delta from a
# file to itself is only the guard; the usage errors; a broken OLD gives
# exit 1 and writes nothing.
#
# Usage: tests/delta.sh [--update]    (from the repository root)
#   --update rewrites the expected files (review the diff).
set -u
LC_ALL=C
export LC_ALL
unset TCPROUTEC_PATH 2>/dev/null || true
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"
update=0
[ "${1-}" = --update ] && update=1
bin=$(trc_bin "$(pwd)")
dir=$(pwd)/tests/delta
tmp=$(mktemp -d "${TMPDIR:-/tmp}/trc-delta.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/old" "$tmp/new"
cp "$dir/base.tr" "$tmp/old/routes.tr"

# same WHAT EXPECTED GOT: compare (or write, with --update).
same() {
    if [ "$update" = 1 ]; then
        cp "$3" "$2"
        pass "$1 (updated)"
    elif cmp -s "$2" "$3"; then
        pass "$1"
    else
        fail "$1: differs from $(basename "$2"):"
        diff -u "$2" "$3" | sed 's/^/    /' | head -n 40
    fi
}

for new in "$dir"/*.tr; do
    name=$(basename "$new" .tr)
    [ "$name" = base ] && continue
    cp "$new" "$tmp/new/routes.tr"
    for t in iptables nft nft-coexist iptables-coexist; do
        set -- -t "${t%-coexist}"
        case $t in *-coexist) set -- "$@" --coexist ;; esac
        if (cd "$tmp" && "$bin" "$@" --since old/routes.tr new/routes.tr) \
            > "$tmp/got" 2> "$tmp/err"; then
            same "$name -t $t: the delta" "$dir/$name.$t.delta" "$tmp/got"
        else
            fail "$name -t $t: exit $?"
            sed 's/^/    /' "$tmp/err"
        fi
    done
    rm -f "$tmp/cleanup.sh"
    if (cd "$tmp" && "$bin" -t nft --since old/routes.tr --conntrack-cleanup cleanup.sh \
        new/routes.tr) > /dev/null 2> "$tmp/err" && [ -f "$tmp/cleanup.sh" ]; then
        same "$name: the cleanup script" "$dir/$name.cleanup" "$tmp/cleanup.sh"
        if sh -n "$tmp/cleanup.sh"; then
            pass "$name: the cleanup script is valid sh"
        else
            fail "$name: the cleanup script is not valid sh"
        fi
    else
        fail "$name: --conntrack-cleanup wrote no script"
        sed 's/^/    /' "$tmp/err"
    fi
done

# A delta from a file to itself: the guard and nothing else.
cp "$dir/base.tr" "$tmp/new/routes.tr"
for t in iptables nft; do
    (cd "$tmp" && "$bin" -t "$t" --since old/routes.tr new/routes.tr) > "$tmp/got" 2> /dev/null
    body=$(grep -v '^#' "$tmp/got" | grep -v -e '^\*' -e '^COMMIT$' |
        grep -v -e 'generation' || true)
    if [ -z "$body" ] && grep -q generation "$tmp/got"; then
        pass "no change -t $t: only the guard"
    else
        fail "no change -t $t: more than the guard:"
        printf '%s\n' "$body" | sed 's/^/    /' | head
    fi
done
# ... and its cleanup script ends nothing.
(cd "$tmp" && "$bin" -t nft --since old/routes.tr --conntrack-cleanup c.sh new/routes.tr) \
    > /dev/null 2>&1
if [ -f "$tmp/c.sh" ] && ! grep -q '^end_flows ' "$tmp/c.sh"; then
    pass "no change: the cleanup script ends no flow"
else
    fail "no change: the cleanup script ends flows"
fi

# expect STATUS PATTERN WHAT -- COMMAND...: exit status and stderr; the
# -o file out.nft must not exist afterwards.
expect() {
    want=$1 pat=$2 what=$3
    shift 4
    rm -f "$tmp/out.nft" "$tmp/ct.sh"
    (cd "$tmp" && "$@") > /dev/null 2> "$tmp/err"
    st=$?
    if [ "$st" -ne "$want" ]; then
        fail "$what: exit $st, expected $want"; sed 's/^/    /' "$tmp/err"
    elif ! grep -q -- "$pat" "$tmp/err"; then
        fail "$what: stderr lacks '$pat'"; sed 's/^/    /' "$tmp/err"
    elif [ -e "$tmp/out.nft" ] || [ -e "$tmp/ct.sh" ]; then
        fail "$what: a file was written"
    else
        pass "$what"
    fi
}
printf 'route broken {\n    listen tcp 192.0.2.1:80\n' > "$tmp/old/broken.tr"
expect 1 "broken.tr:.*error" "an OLD with errors: exit 1, located, nothing written" -- \
    "$bin" -t nft --since old/broken.tr -o out.nft new/routes.tr
expect 2 "cannot read" "an OLD that cannot be read: exit 2, nothing written" -- \
    "$bin" -t nft --since old/missing.tr -o out.nft new/routes.tr
expect 2 "needs --since" "--conntrack-cleanup without --since" -- \
    "$bin" -t nft --conntrack-cleanup ct.sh -o out.nft new/routes.tr
expect 2 "cannot be combined" "--since with --check" -- \
    "$bin" --check --since old/routes.tr new/routes.tr
expect 2 "cannot be combined" "--since with --explain" -- \
    "$bin" --explain --since old/routes.tr new/routes.tr
expect 2 "cannot be combined" "--since with --hooks" -- \
    "$bin" --coexist --hooks --since old/routes.tr new/routes.tr
expect 2 "both be standard input" "--since - with FILE -" -- \
    "$bin" --since - -
expect 2 "a file of its own" "--conntrack-cleanup to standard output" -- \
    "$bin" -t nft --since old/routes.tr --conntrack-cleanup - new/routes.tr
expect 2 "needs an argument" "--since without its file" -- \
    "$bin" new/routes.tr --since

finish
