#!/bin/sh
# Output handling: -o is all or nothing, never replaces a device or a
# link, and every write error is exit status 2 with a message.
# Usage: tests/output.sh (from the repository root). Ends "N passed, N failed".
set -u
LC_ALL=C
export LC_ALL
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"
bin=$(trc_bin "$(pwd)")
src=$(pwd)/examples/article.tr
tmp=$(mktemp -d "${TMPDIR:-/tmp}/trc-output.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# expect STATUS PATTERN DESCRIPTION -- COMMAND...: exit status and stderr.
expect() {
    want=$1 pat=$2 what=$3
    shift 4
    "$@" > "$tmp/out" 2> "$tmp/err"
    st=$?
    if [ "$st" -ne "$want" ]; then
        fail "$what: exit $st, expected $want"; sed 's/^/    /' "$tmp/err"
    elif [ -n "$pat" ] && ! grep -q -- "$pat" "$tmp/err"; then
        fail "$what: stderr lacks '$pat'"; sed 's/^/    /' "$tmp/err"
    else
        pass "$what"
    fi
}

"$bin" "$src" > "$tmp/want"

expect 2 'No space left on device' '-o /dev/full fails with exit 2' -- "$bin" -o /dev/full "$src"
[ -c /dev/full ] && pass '/dev/full is still a device' || fail '/dev/full was replaced'
expect 2 'No space left on device' 'stdout on /dev/full fails with exit 2' -- sh -c "exec \"$bin\" \"$src\" > /dev/full"
expect 0 '' '-o /dev/null writes into the device' -- "$bin" -o /dev/null "$src"
[ -c /dev/null ] && pass '/dev/null is still a device' || fail '/dev/null was replaced'
expect 2 'No such file or directory' '-o into a missing directory' -- "$bin" -o "$tmp/missing/x.v4" "$src"
expect 2 'is a directory' '-o onto a directory' -- "$bin" -o "$tmp" "$src"

# Through a symbolic link the target is written and the link stays.
ln -s "$tmp/target.v4" "$tmp/link.v4"
expect 0 '' '-o through a dangling link' -- "$bin" -o "$tmp/link.v4" "$src"
if [ -L "$tmp/link.v4" ] && cmp -s "$tmp/target.v4" "$tmp/want"; then
    pass 'the link is kept and its target written'
else
    fail 'the link was replaced or its target not written'
fi

# A failing compile leaves an existing file as it was.
printf 'keep me\n' > "$tmp/old.v4"
printf 'route broken {\n' > "$tmp/bad.tr"
expect 1 'never closed' 'a source error exits 1' -- "$bin" -o "$tmp/old.v4" "$tmp/bad.tr"
[ "$(cat "$tmp/old.v4")" = 'keep me' ] && pass 'the old file is untouched' || fail 'the old file changed'
[ -z "$(find "$tmp" -name '*.tmp*')" ] && pass 'no temporary file is left' || fail 'a temporary file was left'

# Permission denied, for a user who is not root (root bypasses modes).
if [ "$(id -u)" -eq 0 ] && command -v setpriv > /dev/null 2>&1; then
    mkdir "$tmp/ro" && chmod 555 "$tmp/ro" && chmod 755 "$tmp"
    cp "$src" "$tmp/src.tr" && chmod 644 "$tmp/src.tr"
    expect 2 'cannot create a temporary file for .*ro/x.v4: Permission denied' \
        '-o into a read-only directory' -- \
        setpriv --reuid=65534 --regid=65534 --clear-groups "$bin" -o "$tmp/ro/x.v4" "$tmp/src.tr"
else
    skip "permission test needs root and setpriv to become another user"
fi

# -W legacy-table-size: 80,000 PaaS-shaped apps make a nat table of about
# 551 MiB under iptables-legacy, past its 512 MiB. A warning, the file
# written; with -W error an error, nothing written (-o or standard output).
python3 "$(pwd)/tests/gen-paas.py" 80000 "$tmp/big.tr"
expect 0 'nat table .* takes 5[0-9][0-9] MiB .* over its limit of 512 MiB.*legacy-table-size' \
    'a table past the legacy limit: a warning' -- "$bin" -o "$tmp/big.v4" "$tmp/big.tr"
[ -s "$tmp/big.v4" ] && pass 'and the file is written' || fail 'the file was not written'
rm -f "$tmp/big.v4"
expect 1 'error: the nat table' 'with -W error: an error' -- \
    "$bin" -W error -o "$tmp/big.v4" "$tmp/big.tr"
[ ! -e "$tmp/big.v4" ] && pass 'and no file' || fail 'a file was written'
"$bin" -W error "$tmp/big.tr" > "$tmp/big.out" 2> /dev/null
[ ! -s "$tmp/big.out" ] && pass 'and nothing on standard output' ||
    fail 'standard output got the file'
"$bin" -W no-legacy-table-size "$tmp/big.tr" > /dev/null 2> "$tmp/err"
[ ! -s "$tmp/err" ] && pass '-W no-legacy-table-size: silent' || fail '-W no-legacy-table-size printed'
"$bin" -t nft "$tmp/big.tr" > /dev/null 2> "$tmp/err"
[ ! -s "$tmp/err" ] && pass '-t nft: no such warning' || fail '-t nft warned'

finish
