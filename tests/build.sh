#!/bin/sh
# The build: every object is rebuilt when a value baked into the binary
# changes. VERSION and DATADIR reach the code as -D flags (TRC_VERSION,
# TRC_STDLIB_DIR), and several files use them (main.c, report.c,
# explain.c, graph.c): a rebuild with another VERSION must show it in
# --version and in every output header, not only where main.o says it.
#
# Works on a copy of the sources in a temporary directory, so the tree's
# own build is left alone: builds once with the default VERSION, then
# again with VERSION=9.9.9 (and back), and checks each binary.
# Usage: tests/build.sh (from the repository root). Ends "N passed, N failed".
set -u
LC_ALL=C
export LC_ALL
root=$(pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/trc-build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP
# shellcheck source=tests/lib.sh
. "$root/tests/lib.sh"

for d in Makefile mk compiler grammar stdlib examples tools; do
    cp -R "$root/$d" "$tmp/$d" || { fail "cannot copy $d"; exit 1; }
done
default=$(sed -n 's/^VERSION *:= *//p' "$root/Makefile")
[ -n "$default" ] || fail "no VERSION in the Makefile"

# build VERSION: make in the copy (-O0: only the rebuild logic is tested).
build() {
    if make -C "$tmp" -j2 VERSION="$1" CFLAGS=-O0 tcproutec > "$tmp/make.log" 2>&1; then
        return 0
    fi
    fail "make VERSION=$1 failed:"
    sed 's/^/    /' "$tmp/make.log"
    return 1
}

# check VERSION: --version and the first line of each output name VERSION.
check() {
    b_want=$1
    b_got=$("$tmp/tcproutec" --version)
    if [ "$b_got" = "tcproutec $b_want" ]; then
        pass "VERSION=$b_want: --version says $b_want"
    else
        fail "VERSION=$b_want: --version says '$b_got'"
    fi
    for b_mode in "-t iptables" "-t nft" "--explain" "--graph"; do
        # shellcheck disable=SC2086 # the mode is two fixed words
        b_head=$("$tmp/tcproutec" $b_mode "$tmp/examples/article.tr" | head -n 1)
        case $b_head in
            *"tcproutec $b_want "*) pass "VERSION=$b_want: $b_mode header says $b_want" ;;
            *) fail "VERSION=$b_want: $b_mode header is '$b_head'" ;;
        esac
    done
}

if build "$default"; then check "$default"; fi
if build 9.9.9; then check 9.9.9; fi
# Nothing changed: nothing is compiled again.
if build 9.9.9; then
    if grep -q -- ' -c -o ' "$tmp/make.log"; then
        fail "a second make VERSION=9.9.9 compiled again:"
        sed 's/^/    /' "$tmp/make.log"
    else
        pass "a second make VERSION=9.9.9 compiles nothing"
    fi
fi
if build "$default"; then check "$default"; fi

finish
