#!/bin/sh
# make install: an installed tcproutec finds its installed stdlib from any
# directory, and DESTDIR stages every file under the given root.
# Usage: tests/install.sh (from the repository root; rebuilds ./tcproutec
# for the default PREFIX at the end). Ends with "N passed, N failed".
set -u
LC_ALL=C
export LC_ALL
root=$(pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/trc-install.XXXXXX")
trap 'rm -rf "$tmp"; make -s -C "$root" > /dev/null' EXIT
# shellcheck source=tests/lib.sh
. "$root/tests/lib.sh"

if make -s install PREFIX="$tmp/usr" > "$tmp/log" 2>&1; then
    pass "make install PREFIX=$tmp/usr"
else
    fail "make install PREFIX=...: $(cat "$tmp/log")"
fi
# From another directory, with the source tree out of reach of the binary.
if (cd / && "$tmp/usr/bin/tcproutec" "$root/examples/iot-gateway.tr") > "$tmp/out" 2> "$tmp/err" &&
   cmp -s "$tmp/out" "$root/tests/golden/examples/iot-gateway.v4"; then
    pass "the installed binary finds services.tr in $tmp/usr/share/tcproutec"
else
    fail "the installed binary: $(cat "$tmp/err")"
fi

if make -s install DESTDIR="$tmp/stage" PREFIX=/usr > "$tmp/log" 2>&1; then
    pass "make install DESTDIR=... PREFIX=/usr"
else
    fail "make install DESTDIR: $(cat "$tmp/log")"
fi
for f in usr/bin/tcproutec usr/share/tcproutec/services.tr \
         usr/share/tcproutec/networks.tr usr/share/man/man1/tcproutec.1 \
         usr/share/man/man5/tcproutec.tr.5; do
    if [ -f "$tmp/stage/$f" ]; then pass "staged $f"; else fail "not staged: $f"; fi
done
# The staged binary looks for the stdlib where it will be, not in DESTDIR.
if strings "$tmp/stage/usr/bin/tcproutec" | grep -qx '/usr/share/tcproutec'; then
    pass "the staged binary will look in /usr/share/tcproutec"
else
    fail "the staged binary does not name /usr/share/tcproutec"
fi

finish
