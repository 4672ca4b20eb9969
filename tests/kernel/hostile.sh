#!/bin/bash
# hostile.sh: text from the source can never change the structure of a
# loaded ruleset. A file whose route comment is made of everything that
# could break out of a quoted field or start a rule (COMMIT, *filter,
# -A FORWARD -j ACCEPT, '}', ';', '#', shell metacharacters, single
# quotes, 200 bytes of it) is compiled and loaded into a real kernel with
# each loader; its rules, once comments are removed, must equal those of
# the same file with a benign comment, and the hostile text must come back
# whole inside the comments. Characters that cannot be carried (a double
# quote, a backslash, control bytes) are refused by the compiler: the
# error cases test those.
#
# Usage: tests/kernel/hostile.sh (as root). Ends "N passed, N failed, N skipped".
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
export LC_ALL=C

reason=$(trc_skip_reason iptables-nft-restore iptables-legacy-restore nft)
if [ -n "$reason" ]; then
    skip "hostile comments: $reason"
    finish
fi

hostile="x COMMIT *filter -A FORWARD -j ACCEPT } ; table ip x { } # \$(reboot) \`id\` && | > ' -- 'it''s' :FORWARD ACCEPT [0:0]"
while [ ${#hostile} -lt 180 ]; do hostile="$hostile }{;#"; done

write_case() { # FILE COMMENT
    cat > "$1" <<TR
route app {
    listen tcp 192.0.2.1:80
    listen udp 192.0.2.1:53
    server 198.51.100.2:8080 weight 2
    server 198.51.100.3:8080
    allow from 203.0.113.0/24
    comment "$2"
}
route other {
    listen tcp 192.0.2.1:81
    server 198.51.100.4:81
    balance roundrobin
    comment "$2"
}
TR
}
# Same base name, so that only the comment text differs.
mkdir -p "$TRC_TMP/h" "$TRC_TMP/b"
write_case "$TRC_TMP/h/routes.tr" "$hostile"
write_case "$TRC_TMP/b/routes.tr" "benign"

# rules LOADER FILE: load FILE in a fresh namespace with LOADER
# (iptables-nft, iptables-legacy or nft) and print its rules as the kernel
# holds them, comments removed.
rules() {
    local loader=$1 file=$2 ns
    ns=$(trc_ns "h-$loader-$3")
    trc_ns_add "h-$loader-$3" || return 1
    case "$loader" in
        nft)
            ip netns exec "$ns" nft -f "$file" || return 1
            ip netns exec "$ns" nft list ruleset | sed -E 's/ comment "[^"]*"//g' ;;
        *)
            ip netns exec "$ns" "$loader-restore" -w 60 < "$file" || return 1
            ip netns exec "$ns" "$loader-save" | grep -v '^#' |
                sed -E 's/ -m comment --comment ("([^"\\]|\\.)*"|[^ ]+)//' ;;
    esac
}

for loader in iptables-nft iptables-legacy nft; do
    target=iptables
    [ "$loader" = nft ] && target=nft
    ok=1
    for which in hostile benign; do
        if ! "$bin" -t "$target" -o "$TRC_TMP/$which.$loader" \
                "$TRC_TMP/${which:0:1}/routes.tr" 2> "$TRC_TMP/err"; then
            fail "$loader: $which does not compile: $(cat "$TRC_TMP/err")"
            ok=0
        elif ! rules "$loader" "$TRC_TMP/$which.$loader" "$which" > "$TRC_TMP/$which.rules.$loader"; then
            fail "$loader: $which does not load"
            ok=0
        fi
    done
    [ "$ok" = 1 ] || continue
    if diff -u "$TRC_TMP/benign.rules.$loader" "$TRC_TMP/hostile.rules.$loader" > "$TRC_TMP/diff"; then
        pass "$loader: the hostile file loads the same rules as its benign twin ($(grep -c . "$TRC_TMP/benign.rules.$loader") lines)"
    else
        fail "$loader: the hostile comment changed the rules:"
        sed 's/^/    /' "$TRC_TMP/diff" | head -20
    fi
done

# The text survives whole where it is carried: the iptables rule comment,
# as iptables-save prints it back.
ns=$(trc_ns h-text)
trc_ns_add h-text
ip netns exec "$ns" iptables-nft-restore -w 60 < "$TRC_TMP/hostile.iptables-nft"
if ip netns exec "$ns" iptables-nft-save -t nat | grep -qF -- "${hostile//\'/\\\'}"; then
    pass "the hostile comment comes back whole from iptables-save"
else
    fail "the hostile comment does not come back whole from iptables-save"
fi
finish
