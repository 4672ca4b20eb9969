#!/bin/sh
# tcproutec-notify.sh primary|backup|fault: keepalived's notify script for
# a pair of tcproutec fronts (contrib/gateway-pair/keepalived.conf). It is
# Debian's conntrackd primary-backup.sh (conntrack-tools examples) plus one
# step: on becoming primary it makes sure the compiled ruleset is the one
# in the kernel, and loads it when it is not.
#
#   primary  commit the peer's connections (conntrackd's external cache)
#            into the kernel table first, so that the next packet of every
#            synced connection finds its NAT and its mark; then check the
#            ruleset and load it if it is missing or differs from the
#            file; then flush conntrackd's caches, resync the internal one
#            from the kernel and send it all to the peer;
#   backup   start conntrackd if it does not answer, shorten the kernel
#            timers of the entries this host made (they expire unless
#            traffic comes back) and ask the peer for a full resync;
#   fault    shorten the kernel timers.
#
# Settings: /etc/default/tcproutec-pair (or the file named by
# $TCPROUTEC_PAIR_DEFAULTS), shell assignments; the environment overrides:
#   TCPROUTEC_RULES     the compiled files, blank-separated; *.nft loads
#                       with nft -f, *.v6 with ip6tables-restore, anything
#                       else with iptables-restore
#                       (default /etc/iptables/rules.v4)
#   CONNTRACKD_CONFIG   default /etc/conntrackd/conntrackd.conf
#   CONNTRACKD_LOCK     default /var/lock/conntrack.lock (the LockFile of
#                       that config)
#   CONNTRACKD          default conntrackd
#   TCPROUTEC_PAIR_SYSLOG  "no": messages only on standard error
# keepalived ignores the exit status; it is 1 when a step failed (for
# tests and for running it by hand).

defaults=${TCPROUTEC_PAIR_DEFAULTS:-/etc/default/tcproutec-pair}
if [ -r "$defaults" ]; then
    # shellcheck disable=SC1090 # the site's file
    . "$defaults"
fi
TCPROUTEC_RULES=${TCPROUTEC_RULES:-/etc/iptables/rules.v4}
CONNTRACKD_CONFIG=${CONNTRACKD_CONFIG:-/etc/conntrackd/conntrackd.conf}
CONNTRACKD_LOCK=${CONNTRACKD_LOCK:-/var/lock/conntrack.lock}
CONNTRACKD=${CONNTRACKD:-conntrackd}
status=0

say() {
    echo "tcproutec-notify: $*" >&2
    if [ "${TCPROUTEC_PAIR_SYSLOG:-yes}" != no ] && command -v logger > /dev/null 2>&1; then
        logger -t tcproutec-notify -- "$*" 2> /dev/null || true
    fi
}

# ctd OPTION WHAT: one conntrackd command; a failure is logged and counted.
ctd() {
    if ! "$CONNTRACKD" -C "$CONNTRACKD_CONFIG" "$1" > /dev/null; then
        say "ERROR: conntrackd $1 ($2) failed"
        status=1
    fi
}

# body FILE: the part of a compiled file that the kernel lists back (the
# nft table block, or one iptables table block given as $2).
nft_body() {
    grep -v '^[[:space:]]*#' "$1" | sed -n '/^table [a-z0-9]* [^ ]* {$/,$p'
}
ipt_block() {
    sed -n "/^\*$2\$/,/^COMMIT\$/p" "$1" | grep -v '^#' |
        sed '/^:/s/\[[0-9]*:[0-9]*\]$/[0:0]/'
}

# loaded FILE: true when the kernel holds exactly what FILE says.
loaded() {
    case "$1" in
        *.nft)
            # the last "table FAMILY NAME {" line names the table the file builds
            table=$(sed -n 's/^table \([a-z0-9]*\) \([^ ]*\) {$/\1 \2/p' "$1" | tail -n 1)
            [ -n "$table" ] || return 1
            # shellcheck disable=SC2086 # two words: family and name
            nft list table $table > "$tmp/have" 2> /dev/null || return 1
            nft_body "$1" | cmp -s - "$tmp/have"
            ;;
        *)
            save=iptables-save
            case "$1" in *.v6) save=ip6tables-save ;; esac
            # table names are single words (filter, nat, ...)
            # shellcheck disable=SC2013
            for t in $(sed -n 's/^\*//p' "$1"); do
                "$save" -t "$t" 2> /dev/null | grep -v '^#' |
                    sed '/^:/s/\[[0-9]*:[0-9]*\]$/[0:0]/' > "$tmp/have" || return 1
                ipt_block "$1" "$t" | cmp -s - "$tmp/have" || return 1
            done
            ;;
    esac
}

load() {
    case "$1" in
        *.nft) nft -f "$1" ;;
        *.v6) ip6tables-restore < "$1" ;;
        *) iptables-restore < "$1" ;;
    esac
}

ensure_rules() {
    tmp=$(mktemp -d) || { say "ERROR: mktemp failed"; status=1; return; }
    for f in $TCPROUTEC_RULES; do
        if [ ! -r "$f" ]; then
            say "ERROR: $f: not readable; the ruleset is not checked"
            status=1
        elif loaded "$f"; then
            :
        elif load "$f"; then
            say "loaded $f (it was missing or differed from the file)"
        else
            say "ERROR: loading $f failed"
            status=1
        fi
    done
    rm -rf "$tmp"
}

case "$1" in
    primary)
        ctd -c "commit the external cache into the kernel table"
        ensure_rules
        ctd -f "flush the internal and external caches"
        ctd -R "resync the internal cache with the kernel table"
        ctd -B "bulk send to the backup"
        ;;
    backup)
        if ! "$CONNTRACKD" -C "$CONNTRACKD_CONFIG" -s > /dev/null 2>&1; then
            if [ -f "$CONNTRACKD_LOCK" ]; then
                say "WARNING: conntrackd was not cleanly stopped; removing $CONNTRACKD_LOCK"
                rm -f "$CONNTRACKD_LOCK"
            fi
            if ! "$CONNTRACKD" -C "$CONNTRACKD_CONFIG" -d; then
                say "ERROR: cannot start conntrackd"
                exit 1
            fi
        fi
        ctd -t "shorten the kernel timers"
        ctd -n "request a resync from the primary"
        ;;
    fault)
        ctd -t "shorten the kernel timers"
        ;;
    *)
        echo "usage: tcproutec-notify.sh primary|backup|fault" >&2
        exit 2
        ;;
esac
exit "$status"
