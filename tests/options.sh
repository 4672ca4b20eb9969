#!/bin/sh
# Command-line options: values that are refused, and why.
#
# --nft-table: the nft output deletes and recreates the table of its name
# in the ip, ip6 and inet families, so the names other tools on the host
# use for their tables are refused (exit 2, a message naming the option,
# nothing written). The names are those man/tcproutec.1 lists under
# --nft-table: every listed name must be refused, in any case; a name
# ending in '*' stands for its prefix followed by anything.
#
# Usage: tests/options.sh (from the repository root). Ends "N passed, N failed".
# Environment: TCPROUTEC (default ./tcproutec).
set -u
LC_ALL=C
export LC_ALL
root=$(pwd)
bin=${TCPROUTEC:-./tcproutec}
case "$bin" in /*) ;; *) bin="$root/$bin" ;; esac
if [ ! -x "$bin" ]; then
    echo "options: $bin: no such executable (run make first)" >&2
    exit 2
fi
src=$root/examples/article.tr
man=$root/man/tcproutec.1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/trc-options.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP
passed=0 failed=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
no() { echo "FAIL: $*"; failed=$((failed + 1)); }

# ---- --nft-table -----------------------------------------------------------

# The refused names, from the .It Cm lines of the list under --nft-table.
sed -n '/^\.It Fl -nft-table/,/^\.It Fl o /p' "$man" |
    sed -n 's/^\.It Cm //p' | sed 's/ , / /g' | tr ' ' '\n' | sed '/^$/d' > "$tmp/refused"
# The names the brief for this check requires at the least: iptables-nft's
# tables and the host firewalls most often met.
for must in filter nat mangle raw security firewalld docker-bridges \
            libvirt_network kube-proxy f2b-table nm-shared-*; do
    if grep -qxF -- "$must" "$tmp/refused"; then
        ok "tcproutec(1) lists '$must' as refused"
    else
        no "tcproutec(1) does not list '$must' under --nft-table"
    fi
done

# refused NAME: -t nft --nft-table NAME exits 2, says why, writes nothing.
refused() {
    rm -f "$tmp/out.nft"
    "$bin" -t nft --nft-table "$1" -o "$tmp/out.nft" "$src" > "$tmp/stdout" 2> "$tmp/err"
    r_st=$?
    if [ "$r_st" -ne 2 ]; then
        no "--nft-table '$1': exit $r_st, expected 2"
    elif ! grep -q -- "--nft-table '$1' is refused" "$tmp/err"; then
        no "--nft-table '$1': no message saying it is refused:"
        sed 's/^/    /' "$tmp/err"
    elif [ -e "$tmp/out.nft" ] || [ -s "$tmp/stdout" ]; then
        no "--nft-table '$1': wrote output despite refusing the name"
    else
        ok "--nft-table '$1' is refused"
    fi
}
while IFS= read -r name; do
    case $name in
        *'*') name=${name%'*'}eth1 ;;
    esac
    refused "$name"
    refused "$(echo "$name" | tr '[:lower:]' '[:upper:]')"
done < "$tmp/refused"

# accepted NAME: compiles, and the table is NAME in every line that names it.
accepted() {
    if "$bin" -t nft --nft-table "$1" "$src" > "$tmp/out" 2> "$tmp/err" &&
       [ "$(sed -n 4p "$tmp/out")" = "table ip $1" ] &&
       grep -qx "delete table inet $1" "$tmp/out"; then
        ok "--nft-table '$1' is accepted"
    else
        no "--nft-table '$1' was not accepted as a table name:"
        sed 's/^/    /' "$tmp/err"
    fi
}
# Names that only look like the refused ones.
for name in tcproutec routes filter2 my-nat nat_lb nm-shared docker kube-proxy-lb; do
    accepted "$name"
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
