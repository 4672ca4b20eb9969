#!/bin/bash
# coexist.sh: the --coexist output shares a front with Docker and a host
# firewall, and loses nothing of theirs (doc/coexist.md).
#
# For each loader (iptables-nft, iptables-legacy, nft), in namespaces of
# its own, a front that runs:
#   - Docker-shaped rules: a bridge trc-dk0 (203.0.113.1/24) with two
#     "containers" (namespaces ctr 203.0.113.2 and ctr2 203.0.113.3); a
#     published port (192.0.2.1:8080 -> ctr:80, nat DOCKER chain), egress
#     masquerade, DOCKER-USER and DOCKER-ISOLATION-STAGE-1/2 chains and
#     FORWARD policy DROP (iptables loaders); for nft, the shape of
#     Docker's nftables backend (table ip docker-bridges);
#   - a host firewall: INPUT policy DROP, ssh (22) and replies allowed;
#     (iptables) forwarding to b1 allowed, as a host that routes to it;
#   - bridge-nf-call-iptables = 1 in the front (br_netfilter, as Docker
#     sets it): frames bridged between the containers pass the forward
#     hook.
# Controls first, without our rules: the published port, container
# egress, ICC between the containers, ssh, the dropped port 2222, and a
# client reaching b1 directly (1234 and 9999) must all do what they should,
# so that each check below can fail.
# Then the --coexist output is loaded four times (a load and three
# reloads; iptables: the file with iptables-restore --noflush and the
# --hooks script, in both orders, the script twice in a row once); for
# iptables, Docker's restart is mimicked (its jump to DOCKER-USER moved to
# the top of FORWARD) and the hooks run again; then:
#   - every foreign chain, rule and policy is unchanged, none duplicated
#     (save or `nft list ruleset` without our chains/table, before and
#     after);
#   - iptables: exactly one jump per hook, and the jump into TRC-FORWARD
#     is FORWARD's first rule; our chains, as saved, equal the file;
#     nft: our table as listed equals the file;
#   - the published port, container egress, ssh and ICC on an undeclared
#     port work; port 2222 is still dropped;
#   - the route balances 1:2 over b1 and b2 (chi-square) through Docker's
#     FORWARD DROP; a route to the container works;
#   - a client cannot reach b1:1234 (a declared server) directly, but
#     still reaches b1:9999 (not ours: left to the host);
#   - br_netfilter: ctr2 -> ctr:80 (a declared server, bridged) is
#     dropped like any direct connection to a server; with
#     bridge-nf-call-iptables = 0 it passes again.
# And for ip6tables-nft and ip6tables-legacy: the -t ip6tables file and
# hooks script, each run twice, give one jump per hook, first, and our
# chains as the file says.
#
# Usage: tests/kernel/coexist.sh [LOADER...]   (as root; from anywhere)
# Ends with "N passed, N failed, N skipped".
# Checks run in subshells (trc_spawn) and are called through "$@":
# shellcheck disable=SC2030,SC2031,SC2317
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
export LC_ALL=C

DK=203.0.113.1 CTR=203.0.113.2 CTR2=203.0.113.3
B1=$(trc_backend_addr 1)
DATA=$TRC_TMP   # the compiled files, for every run (trc_spawn moves TRC_TMP)

write_sources() {
    cat > "$DATA/routes.tr" <<EOF
route app {
    listen tcp $TRC_FRONT_PUB:27017
    server $B1:1234
    server $(trc_backend_addr 2):1234 weight 2
    snat $TRC_FRONT_PRIV
}
# A container as a server, beside the port Docker publishes to it.
route web {
    listen tcp $TRC_FRONT_PUB:8081
    server $CTR:80
    snat masquerade
}
policy forward drop
EOF
    # Docker (iptables backend) and a host firewall, as iptables-save
    # prints them.
    cat > "$DATA/foreign.rules" <<EOF
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:DOCKER - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
-A POSTROUTING -s 203.0.113.0/24 ! -o trc-dk0 -j MASQUERADE
-A DOCKER -i trc-dk0 -j RETURN
-A DOCKER ! -i trc-dk0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination $CTR:80
COMMIT
*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:DOCKER - [0:0]
:DOCKER-ISOLATION-STAGE-1 - [0:0]
:DOCKER-ISOLATION-STAGE-2 - [0:0]
:DOCKER-USER - [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
-A FORWARD -j DOCKER-USER
-A FORWARD -j DOCKER-ISOLATION-STAGE-1
-A FORWARD -o trc-dk0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -o trc-dk0 -j DOCKER
-A FORWARD -i trc-dk0 ! -o trc-dk0 -j ACCEPT
-A FORWARD -i trc-dk0 -o trc-dk0 -j ACCEPT
-A FORWARD -d $B1/32 -j ACCEPT
-A FORWARD -s $B1/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A DOCKER -d $CTR/32 ! -i trc-dk0 -o trc-dk0 -p tcp -m tcp --dport 80 -j ACCEPT
-A DOCKER-ISOLATION-STAGE-1 -i trc-dk0 ! -o trc-dk0 -j DOCKER-ISOLATION-STAGE-2
-A DOCKER-ISOLATION-STAGE-1 -j RETURN
-A DOCKER-ISOLATION-STAGE-2 -o trc-dk0 -j DROP
-A DOCKER-ISOLATION-STAGE-2 -j RETURN
-A DOCKER-USER -j RETURN
COMMIT
EOF
    # Docker's nftables backend (its shape) and a host firewall in nft.
    cat > "$DATA/foreign.nft" <<EOF
table ip docker-bridges {
	chain nat-prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		fib daddr type local jump nat-prerouting-and-output
	}
	chain nat-prerouting-and-output {
		iifname != "trc-dk0" tcp dport 8080 dnat to $CTR:80
	}
	chain nat-postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		ip saddr 203.0.113.0/24 oifname != "trc-dk0" masquerade
	}
	chain filter-forward {
		type filter hook forward priority filter; policy accept;
		oifname "trc-dk0" ct state established,related accept
		iifname "trc-dk0" oifname "trc-dk0" accept
		oifname "trc-dk0" ip daddr $CTR tcp dport 80 accept
		oifname "trc-dk0" drop
	}
}
table inet hostfw {
	chain input {
		type filter hook input priority filter; policy drop;
		iif "lo" accept
		ct state established,related accept
		tcp dport 22 accept
	}
}
EOF
}

# ---------------------------------------------------------------- loaders
tool_of() {   # LOADER: the binary name prefix
    case "$1" in
        iptables-nft) echo iptables-nft ;;
        iptables-legacy) echo iptables-legacy ;;
        nftables) echo nft ;;
    esac
}
restore() {   # LOADER ARGS... < FILE
    local l=$1
    shift
    case "$l" in
        iptables-nft) nsx front iptables-nft-restore "$@" ;;
        # -w: the xtables lock is one file for all namespaces
        iptables-legacy) nsx front iptables-legacy-restore -w 60 "$@" ;;
    esac
}
save() {      # LOADER: the ruleset, counters zeroed, no comment lines
    case "$1" in
        iptables-nft) nsx front iptables-nft-save | grep -v '^#' ;;
        iptables-legacy) nsx front iptables-legacy-save | grep -v '^#' ;;
        nftables) nsx front nft list ruleset ;;
    esac | sed -E 's/^(:[^ ]+ [A-Z-]+) \[[0-9]+:[0-9]+\]$/\1 [0:0]/'
}
# foreign LOADER DIR: what belongs to others, one file per table.
foreign() {
    local t
    rm -rf "$2"
    save "$1" > "$TRC_TMP/save.all"
    if [ "$1" = nftables ]; then
        mkdir -p "$2"
        awk '/^table ip tcproutec \{$/ { skip = 1 }
             !skip { print }
             skip && /^\}$/ { skip = 0 }' "$TRC_TMP/save.all" > "$2/ruleset"
        return
    fi
    split_blocks "$TRC_TMP/save.all" "$2"
    for t in "$2"/*; do
        grep -v 'TRC-' "$t" > "$t.f"
        mv "$t.f" "$t"
    done
}
# ours LOADER: our chains as saved, in the file's form (iptables), or our
# table as listed (nft).
ours() {
    local t
    if [ "$1" = nftables ]; then
        nsx front nft list table ip tcproutec
        return
    fi
    rm -rf "$TRC_TMP/ours"
    save "$1" > "$TRC_TMP/save.ours"
    split_blocks "$TRC_TMP/save.ours" "$TRC_TMP/ours"
    for t in filter nat; do
        grep -E '^(\*|COMMIT$|:TRC-|-A TRC-)' "$TRC_TMP/ours/$t"
    done
}
# load_ours LOADER ROUND: the --coexist output, in a different order each
# round (iptables: file and hooks script).
load_ours() {
    local l=$1 round=$2 step
    if [ "$l" = nftables ]; then
        nsx front nft -f "$DATA/routes.nft"
        return
    fi
    local steps
    case "$round" in
        1) steps="hooks file" ;;
        2) steps="file hooks" ;;
        3) steps="hooks hooks file" ;;
        4) steps="file hooks file" ;;
        *) steps="hooks" ;;
    esac
    for step in $steps; do
        if [ "$step" = hooks ]; then
            nsx front env IPTABLES="$(tool_of "$l")" sh "$DATA/routes.hooks" || return 1
        else
            restore "$l" --noflush < "$DATA/routes.v4" || return 1
        fi
    done
}

# ---------------------------------------------------------------- topology
# containers_up: the bridge trc-dk0 in the front, ctr and ctr2 on it.
containers_up() {
    local c i=2 f
    f=$(trc_ns front)
    TRC_NETNS+=("$(trc_ns ctr)" "$(trc_ns ctr2)")
    (
        set -e
        ip -n "$f" link add trc-dk0 type bridge
        ip -n "$f" addr add "$DK/24" dev trc-dk0
        ip -n "$f" link set trc-dk0 up
        for c in ctr ctr2; do
            ip netns add "$(trc_ns "$c")"
            ip -n "$f" link add "trc-v$c" type veth peer name trc-eth0 netns "$(trc_ns "$c")"
            ip -n "$f" link set "trc-v$c" master trc-dk0
            ip -n "$f" link set "trc-v$c" up
            ip -n "$(trc_ns "$c")" -batch - <<EOF
link set lo up
addr add 203.0.113.$i/24 dev trc-eth0
link set trc-eth0 up
route add default via $DK
EOF
            i=$((i + 1))
        done
        ip netns exec "$f" sh -c 'echo 1 > /proc/sys/net/bridge/bridge-nf-call-iptables'
    ) || { echo "container setup failed" >&2; return 1; }
}

start_servers() {
    local ready="$TRC_TMP/ready" i
    rm -f "$ready"
    trc_nettool serve "client@$(trc_ns client):$TRC_CLIENT_PORT" \
        "front@$(trc_ns front):22,2222" "ctr@$(trc_ns ctr):80,81" \
        "b1@$(trc_ns b1):1234,9999" "b2@$(trc_ns b2):1234,9999" \
        --ready "$ready" --lifetime 300 > /dev/null 2> "$TRC_TMP/serve.err" &
    TRC_PIDS+=("$!")
    for i in $(seq 1 100); do
        [ -e "$ready" ] && return 0
        sleep 0.05
    done
    echo "the test servers did not start:" >&2
    cat "$TRC_TMP/serve.err" >&2
    return 1
}

# expect LABEL RESULT WANT: RESULT must be WANT ("answer NAME PEER").
expect() {
    if [ "$2" = "$3" ]; then
        pass "$1: $2"
    else
        fail "$1: got '$2', expected '$3'"
    fi
}

# the_probes: every probe of the checks, side by side.
the_probes() {
    probes 2 published client tcp "$TRC_FRONT_PUB:8080" - \
             egress ctr tcp "$TRC_CLIENT:$TRC_CLIENT_PORT" - \
             ssh client tcp "$TRC_FRONT_PUB:22" - \
             closed client tcp "$TRC_FRONT_PUB:2222" - \
             direct client tcp "$B1:1234" - \
             other client tcp "$B1:9999" - \
             icc ctr2 tcp "$CTR:81" - \
             icc_srv ctr2 tcp "$CTR:80" -
}

# ---------------------------------------------------------------- one run
run_one() {
    local l=$1 tag="coexist [$1]" round r
    if ! trc_topology_up 2 || ! containers_up || ! start_servers; then
        fail "$tag: could not set up the namespaces"
        return
    fi
    trc_route_back 1 on
    if [ "$l" = nftables ]; then
        nsx front nft -f "$DATA/foreign.nft" > "$TRC_TMP/load.out" 2>&1
    else
        restore "$l" < "$DATA/foreign.rules" > "$TRC_TMP/load.out" 2>&1
    fi || { fail "$tag: the foreign rules do not load: $(head -c 500 "$TRC_TMP/load.out")"; return; }

    # Controls: what the host does without us.
    the_probes
    r=$(result published); [ "$r" = "answer ctr $TRC_CLIENT" ] || { fail "$tag: control: published port: $r"; return; }
    r=$(result egress); [ "$r" = "answer client $TRC_FRONT_PUB" ] || { fail "$tag: control: container egress: $r"; return; }
    r=$(result ssh); [ "$r" = "answer front $TRC_CLIENT" ] || { fail "$tag: control: ssh: $r"; return; }
    r=$(result closed); case "$r" in timeout*) ;; *) fail "$tag: control: port 2222 not dropped by the host firewall: $r"; return ;; esac
    r=$(result direct); [ "$r" = "answer b1 $TRC_CLIENT" ] || { fail "$tag: control: client -> b1:1234 directly: $r"; return; }
    r=$(result other); [ "$r" = "answer b1 $TRC_CLIENT" ] || { fail "$tag: control: client -> b1:9999 directly: $r"; return; }
    r=$(result icc_srv); [ "$r" = "answer ctr $CTR2" ] || { fail "$tag: control: ctr2 -> ctr:80 (bridged): $r"; return; }
    pass "$tag: controls without our rules (published port, egress, ssh, 2222 dropped, direct paths, ICC)"
    foreign "$l" "$TRC_TMP/before"

    # A load and three reloads.
    for round in 1 2 3 4; do
        if ! load_ours "$l" "$round" > "$TRC_TMP/load.out" 2>&1; then
            fail "$tag: load $round failed: $(head -c 2000 "$TRC_TMP/load.out")"
            return
        fi
    done
    pass "$tag: loaded four times"
    if [ "$l" != nftables ]; then
        # Docker (re)starts: it moves its jump to DOCKER-USER to the top
        # of FORWARD (moby's ensureJumpRule); the hooks move ours back.
        nsx front "$(tool_of "$l")" -w -D FORWARD -j DOCKER-USER &&
            nsx front "$(tool_of "$l")" -w -I FORWARD -j DOCKER-USER
        r=$(nsx front "$(tool_of "$l")" -w -S FORWARD 1)
        expect "$tag: after Docker's restart, FORWARD's first rule" "$r" "-A FORWARD -j DOCKER-USER"
        if ! load_ours "$l" 5 > "$TRC_TMP/load.out" 2>&1; then
            fail "$tag: hooks after Docker's restart failed: $(head -c 2000 "$TRC_TMP/load.out")"
        fi
    fi

    foreign "$l" "$TRC_TMP/after"
    if diff -ru "$TRC_TMP/before" "$TRC_TMP/after" > "$TRC_TMP/foreign.diff"; then
        pass "$tag: every foreign chain, rule and policy unchanged, none duplicated ($(cat "$TRC_TMP/before"/* | wc -l) lines)"
    else
        fail "$tag: foreign rules changed:"
        sed 's/^/    /' "$TRC_TMP/foreign.diff"
    fi
    if [ "$l" = nftables ]; then
        nft_body "$DATA/routes.nft" > "$TRC_TMP/expected"
    else
        grep -v '^#' "$DATA/routes.v4" > "$TRC_TMP/expected"
        local hook chain n
        for hook in nat:PREROUTING nat:POSTROUTING filter:FORWARD; do
            chain=${hook#*:}
            n=$(grep -c -- "^-A $chain -m comment --comment tcproutec -j TRC-$chain\$" \
                "$TRC_TMP/save.all")
            if [ "$n" -eq 1 ]; then
                pass "$tag: one jump from $chain to TRC-$chain"
            else
                fail "$tag: $n jumps from $chain to TRC-$chain"
            fi
        done
        r=$(grep -m 1 '^-A FORWARD ' "$TRC_TMP/save.all")
        expect "$tag: FORWARD's first rule" "$r" "-A FORWARD -m comment --comment tcproutec -j TRC-FORWARD"
    fi
    if ours "$l" | diff -u "$TRC_TMP/expected" - > "$TRC_TMP/ours.diff"; then
        pass "$tag: our rules as the kernel holds them equal the file"
    else
        fail "$tag: our rules differ from the file:"
        sed 's/^/    /' "$TRC_TMP/ours.diff"
    fi

    # What the host does with us.
    the_probes
    expect "$tag: published port" "$(result published)" "answer ctr $TRC_CLIENT"
    expect "$tag: container egress" "$(result egress)" "answer client $TRC_FRONT_PUB"
    expect "$tag: ssh" "$(result ssh)" "answer front $TRC_CLIENT"
    expect_blocked "$tag: port 2222 (the host firewall drops it)" "$(result closed)"
    expect_blocked "$tag: client -> $B1:1234 (a server) directly" "$(result direct)"
    expect "$tag: client -> $B1:9999 (not ours) directly" "$(result other)" "answer b1 $TRC_CLIENT"
    expect "$tag: ctr2 -> ctr:81 bridged (ICC)" "$(result icc)" "answer ctr $CTR2"
    expect_blocked "$tag: ctr2 -> ctr:80 bridged, a declared server (br_netfilter)" "$(result icc_srv)"

    if r=$(trc_nettool connect "$TRC_FRONT_PUB" 27017 --netns "$(trc_ns client)" \
            --count 600 --timeout 2 --sport-base 20000 --max-timeouts 5 \
            --mode random --weights 1 2 --peer "$TRC_FRONT_PRIV"); then
        pass "$tag: route app 1:2 through the foreign forward rules: $r"
    else
        fail "$tag: route app: $r"
    fi
    probes 2 web client tcp "$TRC_FRONT_PUB:8081" -
    expect "$tag: route web to the container" "$(result web)" "answer ctr $DK"

    # Without br_netfilter the bridged frame never meets the forward hook.
    nsx front sh -c 'echo 0 > /proc/sys/net/bridge/bridge-nf-call-iptables'
    probes 2 icc_srv ctr2 tcp "$CTR:80" -
    expect "$tag: ctr2 -> ctr:80 bridged, bridge-nf-call-iptables=0" "$(result icc_srv)" "answer ctr $CTR2"
    trc_topology_down
}

# v6 TOOL: the ip6tables file and hooks script (IP6TABLES=TOOL), each run
# twice in a namespace of its own: one jump per hook, first in its chain,
# our chains as the file says.
v6() {
    local tool=$1 hook n r tag="coexist ip6tables [$1]"
    local w=()
    [ "$tool" = ip6tables-legacy ] && w=(-w 60)
    trc_ns_add v6 || { fail "$tag: could not create a namespace"; return; }
    for r in 1 2; do
        if ! nsx v6 env IP6TABLES="$tool" sh "$DATA/routes6.hooks" ||
                ! nsx v6 "$tool-restore" "${w[@]}" --noflush < "$DATA/routes.v6"; then
            fail "$tag: load $r failed"
            return
        fi
    done
    nsx v6 "$tool-save" | grep -v '^#' > "$TRC_TMP/save6"
    for hook in PREROUTING POSTROUTING FORWARD; do
        n=$(grep -c -- "^-A $hook -m comment --comment tcproutec -j TRC-$hook\$" "$TRC_TMP/save6")
        r=$(grep -m 1 -- "^-A $hook " "$TRC_TMP/save6")
        if [ "$n" -eq 1 ] && [ "$r" = "-A $hook -m comment --comment tcproutec -j TRC-$hook" ]; then
            pass "$tag: one jump from $hook, first"
        else
            fail "$tag: $n jumps from $hook; first rule: $r"
        fi
    done
    if grep -E '^(-A TRC-|:TRC-)' "$TRC_TMP/save6" |
            diff -u <(grep -E '^(-A TRC-|:TRC-)' "$DATA/routes.v6") - > "$TRC_TMP/v6.diff"; then
        pass "$tag: our chains equal the file"
    else
        fail "$tag: our chains differ from the file:"
        sed 's/^/    /' "$TRC_TMP/v6.diff"
    fi
    trc_del_netns
}

# ---------------------------------------------------------------- main
reason=$(trc_skip_reason ip)
if [ -n "$reason" ]; then
    skip "coexist: $reason"
    finish
fi
if [ ! -x "$bin" ]; then
    fail "$bin: no such executable (run make first)"
    finish
fi
if [ ! -e /proc/sys/net/bridge/bridge-nf-call-iptables ]; then
    skip "coexist: no br_netfilter (/proc/sys/net/bridge): load the module"
    finish
fi
write_sources
for target in iptables:v4 nft:nft; do
    if ! "$bin" --color=never -t "${target%%:*}" --coexist -o "$TRC_TMP/routes.${target#*:}" \
            "$DATA/routes.tr" 2> "$TRC_TMP/compile.err"; then
        fail "compile -t ${target%%:*} --coexist: $(cat "$TRC_TMP/compile.err")"
        finish
    fi
done
"$bin" -t iptables --coexist --hooks -o "$DATA/routes.hooks" "$DATA/routes.tr" ||
    { fail "compile --hooks"; finish; }
cat > "$DATA/routes6.tr" <<EOF
route web6 {
    listen tcp [$TRC_FRONT_PUB6]:80
    server [$(trc_backend_addr6 1)]:8080
    server [$(trc_backend_addr6 2)]:8080
}
EOF
{ "$bin" -t ip6tables --coexist -o "$DATA/routes.v6" "$DATA/routes6.tr" &&
    "$bin" -t ip6tables --coexist --hooks -o "$DATA/routes6.hooks" "$DATA/routes6.tr"; } ||
    { fail "compile -t ip6tables --coexist"; finish; }

loaders=(iptables-nft iptables-legacy nftables)
[ $# -gt 0 ] && loaders=("$@")
spawned=()
for l in "${loaders[@]}"; do
    case "$l" in
        nftables) need=(nft) ;;
        *) need=("$l-restore" "$l-save" "$l") ;;
    esac
    missing=""
    for t in "${need[@]}"; do
        command -v "$t" > /dev/null 2>&1 || missing=$t
    done
    if [ -n "$missing" ]; then
        skip "coexist [$l]: $missing not found"
        continue
    fi
    trc_spawn "$l" "$TRC_TMP/$l.out" run_one "$l"
    spawned+=("$l")
done
for t in ip6tables-nft ip6tables-legacy; do
    if command -v "$t-restore" > /dev/null 2>&1; then
        trc_spawn "$t" "$TRC_TMP/$t.out" v6 "$t"
        spawned+=("$t")
    else
        skip "coexist ip6tables [$t]: $t-restore not found"
    fi
done
trc_wait_all
for l in "${spawned[@]}"; do
    out="$TRC_TMP/$l.out"
    cat "$out"
    passed=$((passed + $(grep -c '^ok: ' "$out")))
    failed=$((failed + $(grep -c '^FAIL: ' "$out")))
    case "$l" in
        ip6tables-*) want="^ok: coexist ip6tables \[$l\]: our chains" ;;
        *) want="^ok: coexist \[$l\]: .*bridge-nf-call-iptables=0" ;;
    esac
    if ! grep -q "$want" "$out" &&
            ! grep -q '^FAIL: ' "$out"; then
        fail "coexist [$l]: the run ended early"
    fi
done
finish
