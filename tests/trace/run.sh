#!/bin/sh
# Compile every golden case and example to iptables and nft (and ip6tables
# when its expect file declares IPv6 routes) and trace each output against
# the expect file written from its source (--coexist cases through the jumps
# of their hooks script, with check.py --coexist); then prove the checker has teeth:
# broken copies of hand-written rulesets must be rejected, and lines outside
# the emitted subset must stop the tracer.
#   tests/trace/run.sh            (ends with "N passed, N failed"; exit 1 on failure)
# Environment: TCPROUTEC (default: tcproutec at the top of the repository);
# TRACE_KEEP=DIR keeps the compiled and broken files there for a look.
# The checks (check, nft, v4, v6) are called through want:
# shellcheck disable=SC2317
set -eu
LC_ALL=C
export LC_ALL
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=tests/lib.sh
. "$root/tests/lib.sh"
bin=$(trc_bin "$root")
self=$here/selftest
tab=$(printf '\t')
tmp=${TRACE_KEEP:-$(mktemp -d)}
[ -n "${TRACE_KEEP-}" ] || trap 'rm -rf "$tmp"' EXIT

# want STATUS NAME COMMAND...: COMMAND must exit with STATUS.
want() {
	st=$1 name=$2
	shift 2
	if "$@" >"$tmp/out" 2>&1; then rc=0; else rc=$?; fi
	if [ "$rc" -eq "$st" ]; then
		pass "$name"
	else
		fail "$name (exit $rc, wanted $st)"
		sed 's/^/    /' "$tmp/out"
	fi
}

# broken NAME SRC SED-SCRIPT (or -e SCRIPT...): write $tmp/NAME.EXT (EXT that
# of SRC), a copy of SRC edited by sed; an edit that changes nothing would
# make the test meaningless.
broken() {
	out=$tmp/$1.${2##*.} src=$2
	shift 2
	sed "$@" "$src" >"$out"
	if cmp -s "$src" "$out"; then
		echo "run.sh: edit '$*' did not change $src" >&2
		exit 1
	fi
}

# said NAME TEXT: the last command's output contains TEXT.
said() {
	if grep -qF "$2" "$tmp/out"; then
		pass "$1"
	else
		fail "$1 (no '$2' in:)"
		sed 's/^/    /' "$tmp/out"
	fi
}

check() { python3 "$here/check.py" "$@"; }

# compile SRC.tr ARGS TARGET OUT [OPTION]: tcproutec -t TARGET [OPTION] in the source's own
# directory on its base name, so that places read NAME.tr:LINE as in the
# expect files, with the case's extra arguments from ARGS (one per line,
# blank and # lines skipped, as tests/run-golden.sh reads NAME.args).
compile() {
	(
		cd "$(dirname "$1")"
		unset TCPROUTEC_PATH
		trc_exec_case "$2" "$(basename "$1")" "$bin" -t "$3" ${5:+"$5"}
	) >"$4" 2>"$tmp/compile.err"
}

# has6 EXPECT.json: the expect file declares IPv6 routes (servers of IPv6).
has6() {
	python3 -c 'import json, sys
e = json.load(open(sys.argv[1]))
sys.exit(0 if any(":" in s["addr"] for l in e["listeners"] for s in l["servers"]) else 1)' "$1"
}

# golden SRC.tr DIR: compile SRC to iptables and nft (and ip6tables when the
# expect file declares IPv6 routes) and check each against
# DIR/NAME.expect.json, and against nft (check.py --same-as).
golden() {
	name=$(basename "$1" .tr) exp=$2/$(basename "$1" .tr).expect.json
	label="golden ${1#"$root"/}"
	# --coexist: the iptables files are traced through the jumps of their
	# hooks script (--hooks), and checked for what sharing the host means
	# (check.py --coexist).
	coexist=
	if [ -f "$2/$name.args" ] && grep -qx -- '--coexist' "$2/$name.args"; then
		coexist=--coexist
	fi
	if [ ! -f "$exp" ]; then
		fail "$label: no ${exp#"$root"/} (write it from the source)"
		return 0
	fi
	targets="iptables nft"
	if has6 "$exp"; then targets="$targets ip6tables"; fi
	for target in $targets; do
		if ! compile "$1" "$2/$name.args" "$target" "$tmp/$name.$target"; then
			fail "$label: tcproutec -t $target failed:"
			sed 's/^/    /' "$tmp/compile.err"
			return 0
		fi
		if [ -n "$coexist" ] && [ "$target" != nft ] &&
			! compile "$1" "$2/$name.args" "$target" "$tmp/$name.$target.hooks" --hooks; then
			fail "$label: tcproutec -t $target --hooks failed:"
			sed 's/^/    /' "$tmp/compile.err"
			return 0
		fi
	done
	# (want sets $name: take the paths first)
	o4=$tmp/$name.iptables o6=$tmp/$name.ip6tables on=$tmp/$name.nft
	h4='' h6=''
	if [ -n "$coexist" ]; then
		h4="--hooks $o4.hooks" h6="--hooks $o6.hooks"
	fi
	# shellcheck disable=SC2086 # $coexist and $h4/$h6: none, or option and value
	want 0 "$label (iptables, nft, same shares)" check "$o4" $coexist $h4 --expect "$exp" --same-as "$on"
	case "$targets" in *ip6tables*)
		# shellcheck disable=SC2086
		want 0 "$label (ip6tables, nft, same shares)" check "$o6" --format ip6tables $coexist $h6 \
			--expect "$exp" --same-as "$on" ;;
	esac
}

# 1. Every golden case and example, compiled now: a case without an expect
# file fails, so none can drop out of the trace unnoticed.
if [ -x "$bin" ]; then
	for f in "$root"/tests/golden/*.tr; do
		golden "$f" "$root/tests/golden"
	done
	for f in "$root"/examples/*.tr; do
		golden "$f" "$root/tests/golden/examples"
	done
else
	fail "$bin: no such executable (run make first)"
fi

# 2. The hand-written rulesets (doc/iptables-output.md and doc/nft-output.md
# form) pass, and agree with each other.
art=$self/article.v4 artx=$self/article.expect.json
gw=$self/gateway.v4 gwx=$self/gateway.expect.json
artn=$self/article.nft gwn=$self/gateway.nft
want 0 "selftest article" check "$art" --expect "$artx"
want 0 "selftest gateway" check "$gw" --expect "$gwx"
want 0 "selftest article nft" check "$artn" --format nft --expect "$artx"
want 0 "selftest gateway nft" check "$gwn" --format nft --expect "$gwx"
want 0 "selftest article iptables = nft" check "$art" --expect "$artx" --same-as "$artn"
want 0 "selftest gateway iptables = nft" check "$gw" --expect "$gwx" --same-as "$gwn"

# 3. The tracer's exact arithmetic, checked by hand once; its kernel hashes
# against values measured in a kernel.
want 0 "trace.py's jhash and HMARK equal the kernel's" python3 "$here/hashtest.py"
python3 "$here/trace.py" "$art" --proto tcp --src 192.168.1.2 --dst 192.168.1.1 \
	--dport 27017 >"$tmp/article.trace" 2>&1 || true
want 0 "trace article shares" diff -u "$self/article.trace" "$tmp/article.trace"
python3 "$here/trace.py" "$gwn" --format nft --proto udp --src 198.51.100.7 \
	--dst 192.168.1.1 --dport 1883 >"$tmp/gateway-nft.trace" 2>&1 || true
want 0 "trace gateway nft roundrobin shares" diff -u "$self/gateway-nft.trace" "$tmp/gateway-nft.trace"

# 4. Broken copies must fail the check (exit 1, not a parse error).
broken wrongprob "$art" 's/--probability 0.33333333349/--probability 0.33000000007/'
want 1 "reject wrong probability" check "$tmp/wrongprob.v4" --expect "$artx"
broken wrongevery "$gw" 's/--every 3 /--every 4 /'
want 1 "reject wrong roundrobin slot" check "$tmp/wrongevery.v4" --expect "$gwx"
broken nosnat "$art" '/-j SNAT/d'
want 1 "reject missing SNAT rule" check "$tmp/nosnat.v4" --expect "$artx"
broken wrongsnat "$art" 's/--to-source 10.0.0.1/--to-source 10.0.0.9/'
want 1 "reject wrong SNAT address" check "$tmp/wrongsnat.v4" --expect "$artx"
broken nomasq "$gw" '/-j MASQUERADE/d'
want 1 "reject missing MASQUERADE rule" check "$tmp/nomasq.v4" --expect "$gwx"
broken acceptall "$art" '/routed connections/a -A FORWARD -j ACCEPT'
want 1 "reject accept-all FORWARD" check "$tmp/acceptall.v4" --expect "$artx"
broken articlefwd "$art" '/routed connections/a -A FORWARD -d 10.0.0.2/32 -p tcp -m tcp --dport 1234 -j ACCEPT'
want 1 "reject the article's per-backend FORWARD accept" check "$tmp/articlefwd.v4" --expect "$artx"
broken policyaccept "$art" 's/^:FORWARD DROP /:FORWARD ACCEPT /'
want 1 "reject FORWARD policy ACCEPT" check "$tmp/policyaccept.v4" --expect "$artx"
broken nolast "$art" '/--to-destination 10.0.0.4:1234$/d'
want 1 "reject a chain without a last catch-all DNAT" check "$tmp/nolast.v4" --expect "$artx"
broken drained "$gw" 's/-j DNAT --to-destination 10.0.0.3:1883/-j DNAT --to-destination 10.0.0.4:1883/'
want 1 "reject traffic to a drained server" check "$tmp/drained.v4" --expect "$gwx"

# 5. Lines outside the emitted subset, or that a real load refuses: exit 2.
broken iface "$art" '/routed connections/a -A FORWARD -i eth0 -j ACCEPT'
want 2 "refuse -i outside the nat table" check "$tmp/iface.v4" --expect "$artx"
broken recent "$art" 's/-m comment --comment "article.tr:7: route app"/-m recent --set --name x --mask 255.255.255.255 --rsource/'
want 2 "refuse -m recent (affinity keeps no state)" check "$tmp/recent.v4" --expect "$artx"
broken limit "$art" 's/-m comment --comment "article.tr:7: route app"/-m limit --limit 1\/sec/'
want 2 "refuse unknown match module" check "$tmp/limit.v4" --expect "$artx"
broken snatpre "$art" '/-j TRC-app$/a -A PREROUTING -j SNAT --to-source 10.0.0.1'
want 2 "refuse SNAT in PREROUTING" check "$tmp/snatpre.v4" --expect "$artx"
sr=$root/tests/golden/snat-range srx=$root/tests/golden/snat-range.expect.json
broken snatnorandom "$sr.v4" 's/ --random-fully$//'
want 2 "refuse an snat range without --random-fully" check "$tmp/snatnorandom.v4" --expect "$srx"
broken snatreverse "$sr.v4" 's/--to-source 203.0.113.10-203.0.113.13/--to-source 203.0.113.13-203.0.113.10/'
want 2 "refuse an snat range that ends before it starts" check "$tmp/snatreverse.v4" --expect "$srx"
broken nochain "$art" 's/-j TRC-app$/-j TRC-apq/'
want 2 "refuse jump to a missing chain" check "$tmp/nochain.v4" --expect "$artx"
broken noproto "$art" 's/^-A TRC-app -p tcp \(.*10.0.0.4:1234\)$/-A TRC-app \1/'
want 2 "refuse DNAT to a port without -p" check "$tmp/noproto.v4" --expect "$artx"
broken noprefix "$art" 's|-d 192.168.1.1/32|-d 192.168.1.1|'
want 2 "refuse address without /prefix" check "$tmp/noprefix.v4" --expect "$artx"
broken escape "$art" 's/"article.tr:8: route app"/"article.tr:8: \\q"/'
want 2 "refuse a bad escape in a quoted value" check "$tmp/escape.v4" --expect "$artx"
# shellcheck disable=SC2016 # sed's $ (last line), not the shell's
broken nocommit "$art" '$d'
want 2 "refuse a missing COMMIT" check "$tmp/nocommit.v4" --expect "$artx"
broken garbage "$art" '12s/^/hello /'
want 2 "refuse garbage" python3 "$here/trace.py" "$tmp/garbage.v4" \
	--proto tcp --src 192.168.1.2 --dst 192.168.1.1 --dport 27017
said "garbage names its line" 'garbage.v4:12: error: unrecognised line'

# 6. Broken copies of the nft rulesets must fail the check (exit 1).
nft() { check "$@" --format nft; }
broken nwrongmod "$artn" 's/numgen random mod 3 map/numgen random mod 4 map/'
want 1 "nft: reject a wrong slot count (random)" nft "$tmp/nwrongmod.nft" --expect "$artx"
broken nwrongrr "$gwn" '/meta l4proto tcp dnat/s/numgen inc mod 3/numgen inc mod 2/'
want 1 "nft: reject a wrong slot count (roundrobin)" nft "$tmp/nwrongrr.nft" --expect "$gwx"
broken nhole "$gwn" 's/{ 0-1 comment/{ 0 comment/'
want 1 "nft: reject a range that leaves a slot empty" nft "$tmp/nhole.nft" --expect "$gwx"
broken nshift "$gwn" 's/{ 0-1 \(comment "[^"]*" : 10.0.0.2 . 1883\), 2 /{ 0 \1, 1-2 /'
want 1 "nft: reject ranges that swap the weights" nft "$tmp/nshift.nft" --expect "$gwx"
broken nnosnat "$artn" '/snat to 10.0.0.1/d'
want 1 "nft: reject a missing snat rule" nft "$tmp/nnosnat.nft" --expect "$artx"
broken nwrongsnat "$artn" 's/snat to 10.0.0.1/snat to 10.0.0.9/'
want 1 "nft: reject a wrong snat address" nft "$tmp/nwrongsnat.nft" --expect "$artx"
broken nnomasq "$gwn" '/ masquerade comment/d'
want 1 "nft: reject a missing masquerade rule" nft "$tmp/nnomasq.nft" --expect "$gwx"
broken nnomark "$artn" '/ct mark set/d'
want 1 "nft: reject a route chain that does not mark" nft "$tmp/nnomark.nft" --expect "$artx"
broken nclass "$gwn" 's/0xff81ffff | 0x00810000/0xff82ffff | 0x00820000/'
want 1 "nft: reject a wrong snat class in the mark" nft "$tmp/nclass.nft" --expect "$gwx"
broken npolicy "$artn" 's/priority filter; policy drop;/priority filter; policy accept;/'
want 1 "nft: reject forward policy accept" nft "$tmp/npolicy.nft" --expect "$artx"
broken nacceptall "$artn" '/routed connections"$/s/$/\n\t\taccept/'
want 1 "nft: reject an accept rule without conditions" nft "$tmp/nacceptall.nft" --expect "$artx"
broken ndrained "$gwn" 's/: 10.0.0.3 . 1883 }/: 10.0.0.4 . 1883 }/'
want 1 "nft: reject a drained server in a slot" nft "$tmp/ndrained.nft" --expect "$gwx"
broken ndeadslot "$gwn" 's/: 10.0.0.3 . 1883 }/: 10.0.0.3 . 1883, 3 comment "gateway.tr:21: route mqtt" : 10.0.0.4 . 1883 }/'
want 1 "nft: reject a drained server left in an unreachable slot" nft "$tmp/ndeadslot.nft" --expect "$gwx"
broken nnolistener "$gwn" '/192.168.1.1 . udp . 1883 comment/d'
want 1 "nft: reject a missing listener" nft "$tmp/nnolistener.nft" --expect "$gwx"
broken nextra "$artn" 's/: goto random_3_c2 }/: goto random_3_c2, 192.168.1.1 . tcp . 2222 comment "x" : goto random_3_c2 }/'
want 1 "nft: reject an undeclared listener" nft "$tmp/nextra.nft" --expect "$artx"
want 1 "reject iptables and nft that disagree" check "$art" --expect "$artx" --same-as "$tmp/nwrongmod.nft"

# 7. nft lines outside the emitted subset, or that a real load refuses: exit 2.
broken nperbackend "$artn" '/routed connections"$/s/$/\n\t\tip daddr 10.0.0.2 tcp dport 1234 accept/'
want 2 "nft: refuse a rule outside the subset (the article's per-backend accept)" \
	nft "$tmp/nperbackend.nft" --expect "$artx"
broken nnochain "$artn" 's/: goto random_3_c2 }/: goto random_3_c9 }/'
want 2 "nft: refuse goto a missing chain" nft "$tmp/nnochain.nft" --expect "$artx"
broken ngotobase "$artn" 's/: goto random_3_c2 }/: goto forward }/'
want 2 "nft: refuse goto a base chain" nft "$tmp/ngotobase.nft" --expect "$artx"
broken nsnatpre "$artn" '/vmap @listeners$/s/$/\n\t\tsnat to 10.0.0.1/'
want 2 "nft: refuse snat in prerouting" nft "$tmp/nsnatpre.nft" --expect "$artx"
broken ndroppre "$artn" '/vmap @listeners$/s/$/\n\t\tdrop/'
want 2 "nft: refuse drop in a nat chain" nft "$tmp/ndroppre.nft" --expect "$artx"
broken nnoproto "$artn" 's/meta l4proto { tcp, udp } dnat/dnat/'
want 2 "nft: refuse dnat to a port without a protocol match" nft "$tmp/nnoproto.nft" --expect "$artx"
broken ninterval "$gwn" '/flags interval/d'
want 2 "nft: refuse a range without flags interval" nft "$tmp/ninterval.nft" --expect "$gwx"
broken noverlap "$gwn" 's/{ 0-1 comment/{ 0-2 comment/'
want 2 "nft: refuse overlapping elements" nft "$tmp/noverlap.nft" --expect "$gwx"
# Counters (--stats reads them) change no path: a map with `counter` and
# counted elements traces as before; an element without its counter, or a
# counter before anything but `dnat to`, is outside the subset.
broken ncounted "$artn" -e '12s/$/\n\t\tcounter/' \
	-e '13,15s/\( \. [0-9]\) comment/\1 counter packets 7 bytes 420 comment/'
want 0 "nft: a counted map traces as before" nft "$tmp/ncounted.nft" --expect "$artx"
broken nnocount "$artn" '12s/$/\n\t\tcounter/'
want 2 "nft: refuse an element without the counter of its map" nft "$tmp/nnocount.nft" --expect "$artx"
broken ncountmark "$artn" 's/^\(\t\t\)ct mark set/\1counter packets 0 bytes 0 ct mark set/'
want 2 "nft: refuse a counter before anything but dnat to" nft "$tmp/ncountmark.nft" --expect "$artx"
broken nnomap "$artn" 's/map @random_3$/map @random_4/'
want 2 "nft: refuse a lookup in a missing map" nft "$tmp/nnomap.nft" --expect "$artx"
broken nmaptype "$artn" 's/vmap @listeners$/vmap @random_3/'
want 2 "nft: refuse a lookup in a map of another type" nft "$tmp/nmaptype.nft" --expect "$artx"
# 7b. --coexist (tests/golden/coexist.tr): broken copies of its outputs must
# fail the check (exit 1), or be refused (exit 2).
cgx=$root/tests/golden/coexist.expect.json
if (cd "$root/tests/golden" && "$bin" -t iptables --coexist coexist.tr >"$tmp/cg.v4" &&
	"$bin" -t iptables --coexist --hooks coexist.tr >"$tmp/cg.hooks" &&
	"$bin" -t nft --coexist coexist.tr >"$tmp/cg.nft"); then
	co() { check "$1" --coexist --hooks "${2:-$tmp/cg.hooks}" --expect "$cgx"; }
	con() { check "$1" --format nft --coexist --expect "$cgx"; }
	want 0 "coexist: the compiled outputs pass" co "$tmp/cg.v4"
	want 0 "coexist: the compiled nft passes" con "$tmp/cg.nft"
	broken cdropall "$tmp/cg.v4" '0,/ -d 198.51.100.2\/32 -p tcp -m tcp --dport 1234 -m conntrack/s// -m conntrack/'
	want 1 "coexist: reject a guard that drops every new connection not translated" co "$tmp/cdropall.v4"
	said "coexist: a foreign packet is dropped" 'undeclared tcp 198.51.100.10 -> 203.0.113.99:80: 1 of flows: forward drop, wanted host'
	broken cacceptall "$tmp/cg.v4" '/: replies of routed connections" -j ACCEPT$/a -A TRC-FORWARD -j ACCEPT'
	want 1 "coexist: reject a TRC-FORWARD that accepts foreign traffic" co "$tmp/cacceptall.v4"
	broken cnoguard "$tmp/cg.v4" '/route app-b" -j DROP$/d; /route app" -j DROP$/d'
	want 1 "coexist: reject a server reachable directly" co "$tmp/cnoguard.v4"
	# (a reply has the DNAT status too: the "routed connections" rule alone
	# accepts it; without both accepts, routed flows and replies are the host's)
	broken cnoreply "$tmp/cg.v4" '/ routed connections" -j ACCEPT$/d'
	want 1 "coexist: reject routed flows and replies left to the host" co "$tmp/cnoreply.v4"
	said "coexist: the replies are named" 'its replies: forward host'
	broken cmark "$tmp/cg.v4" '/-j TRC-app$/i -A TRC-PREROUTING -m comment --comment "coexist.tr: x" -j CONNMARK --set-xmark 0x1/0x1'
	want 1 "coexist: reject a mark on foreign traffic" co "$tmp/cmark.v4"
	broken cnohook "$tmp/cg.hooks" '/^first filter FORWARD TRC-FORWARD$/d'
	want 1 "coexist: reject hooks without the FORWARD jump" co "$tmp/cg.v4" "$tmp/cnohook.hooks"
	# shellcheck disable=SC2016 # the script's own $2, not the shell's
	broken chooklast "$tmp/cg.hooks" 's/-I "$2" 1 -m comment/-A "$2" -m comment/'
	want 2 "coexist: refuse a hooks script that appends its jump" co "$tmp/cg.v4" "$tmp/chooklast.hooks"
	broken cpolicy "$tmp/cg.v4" 's/^\*filter$/*filter\n:FORWARD DROP [0:0]/'
	want 2 "coexist: refuse a file that sets the FORWARD policy" co "$tmp/cpolicy.v4"
	broken cndropall "$tmp/cg.nft" '/servers only through routes"$/s/$/\n\t\tdrop/'
	want 1 "coexist nft: reject a forward chain that drops everything" con "$tmp/cndropall.nft"
	broken cnpolicy "$tmp/cg.nft" 's/priority filter; policy accept;/priority filter; policy drop;/'
	want 1 "coexist nft: reject forward policy drop" con "$tmp/cnpolicy.nft"
	broken cnguard "$tmp/cg.nft" '/servers only through routes"$/d'
	want 1 "coexist nft: reject a server reachable directly" con "$tmp/cnguard.nft"
	broken cnset "$tmp/cg.nft" 's/198.51.100.2 . tcp . 1234 comment/198.51.100.2 . tcp . 1235 comment/'
	want 1 "coexist nft: reject a guard set with a wrong port" con "$tmp/cnset.nft"
else
	fail "coexist: tcproutec failed on tests/golden/coexist.tr"
fi

long=$(printf '%0120d' 0)
broken ncomment "$artn" "s/\"article.tr:8: route app\"/\"article.tr:8: route app $long\"/"
want 2 "nft: refuse a comment longer than nft keeps" nft "$tmp/ncomment.nft" --expect "$artx"
broken nnodelete "$artn" '/^delete table/d'
want 2 "nft: refuse a table not replaced (no delete)" nft "$tmp/nnodelete.nft" --expect "$artx"
# shellcheck disable=SC2016 # sed's $ (last line), not the shell's
broken nnoclose "$artn" '$d'
want 2 "nft: refuse a table not closed" nft "$tmp/nnoclose.nft" --expect "$artx"
broken nspaces "$artn" "s/^$tab${tab}ct mark set/        ct mark set/"
want 2 "nft: refuse spaces where nft prints tabs" nft "$tmp/nspaces.nft" --expect "$artx"
broken ngarbage "$artn" '7s/^/hello /'
want 2 "nft: refuse garbage" python3 "$here/trace.py" "$tmp/ngarbage.nft" --format nft \
	--proto tcp --src 192.168.1.2 --dst 192.168.1.1 --dport 27017
said "nft garbage names its line" 'ngarbage.nft:7: error: unrecognised line'
want 2 "nft: refuse an iptables file" python3 "$here/trace.py" "$art" --format nft \
	--proto tcp --src 192.168.1.2 --dst 192.168.1.1 --dport 27017
want 2 "iptables: refuse an nft file" python3 "$here/trace.py" "$artn" \
	--proto tcp --src 192.168.1.2 --dst 192.168.1.1 --dport 27017

# 8. The newer language features (selftest/features.tr: allow from, hash
# affinity, a port range, `on IFACE`, `*`, IPv6), written by hand for each
# target from doc/*-output.md (the slot tables: any table with exact quotas).
ft=$self/features ftx=$self/features.expect.json
want 0 "selftest features iptables = nft" check "$ft.v4" --expect "$ftx" --same-as "$ft.nft"
want 0 "selftest features ip6tables = nft" check "$ft.v6" --format ip6tables --expect "$ftx" \
	--same-as "$ft.nft"
{
	t() { python3 "$here/trace.py" "$@" 2>&1 || true; }
	t "$ft.v4" --proto tcp --src 192.0.2.200 --dst 192.0.2.9 --dport 8080 --local 192.0.2.9
	t "$ft.v4" --proto udp --src 192.0.2.200 --dst 192.0.2.1 --dport 8080 --local 192.0.2.1 --any-client
	t "$ft.nft" --format nft --proto tcp --src 192.0.2.200 --dst 192.0.2.9 --dport 8080 --local 192.0.2.9
	t "$ft.nft" --format nft --proto udp --src 192.0.2.7 --dst 192.0.2.9 --dport 8080 --local 192.0.2.9 \
		--any-client
	t "$ft.v6" --format ip6tables --proto tcp --src 2001:db8:c::10 --dst 2001:db8::1 --dport 443
	t "$ft.nft" --format nft --proto tcp --src 2001:db8:c::10 --dst 2001:db8::1 --dport 443
	t "$ft.nft" --format nft --proto udp --src 192.0.2.200 --dst 192.0.2.1 --dport 27015
	t "$ft.nft" --format nft --proto tcp --src 203.0.114.1 --dst 192.0.2.1 --dport 2222 --iface mgmt0
	t "$ft.v4" --proto tcp --src 203.0.113.77 --dst 192.0.2.1 --dport 2222 --iface mgmt0
	printf '%s\n' 192.0.2.200 203.0.113.7 198.51.100.1 0.0.0.1 255.255.255.255 10.1.2.3 172.16.0.1 100.64.0.1 >"$tmp/srcs"
	t "$ft.v4" --proto tcp --each-src "$tmp/srcs" --dst 192.0.2.9 --dport 8080 --local 192.0.2.9
	t "$ft.nft" --format nft --proto tcp --each-src "$tmp/srcs" --dst 192.0.2.9 --dport 8080 --local 192.0.2.9
} >"$tmp/features.trace"
want 0 "trace features: affinity, port range, allow, interface" diff -u "$self/features.trace" "$tmp/features.trace"

# 9. Broken copies of the features rulesets must fail the check (exit 1).
v4() { check "$@"; }
v6() { check "$@" --format ip6tables; }
broken fallow "$ft.v4" 's/^-A PREROUTING -s 203.0.113.0\/24 /-A PREROUTING /'
want 1 "reject an allow list that lets everyone in" v4 "$tmp/fallow.v4" --expect "$ftx"
broken fallow6 "$ft.v6" 's/^-A PREROUTING -s 2001:db8:c::\/48 /-A PREROUTING /'
want 1 "ip6tables: reject an allow list that lets everyone in" v6 "$tmp/fallow6.v6" --expect "$ftx"
broken nfallow "$ft.nft" '/ip saddr != .* return/d'
want 1 "nft: reject an allow list that lets everyone in" nft "$tmp/nfallow.nft" --expect "$ftx"
broken nfallow6 "$ft.nft" 's/ip6 saddr != 2001:db8:c::\/48 return/ip6 saddr != 2001:db8::\/32 return/'
want 1 "nft: reject an IPv6 allow list that lets more in" nft "$tmp/nfallow6.nft" --expect "$ftx"
broken fnarrow "$ft.v4" '/-s 198.51.100.7\/32 /d'
want 1 "reject an allow list that leaves a listed client out" v4 "$tmp/fnarrow.v4" --expect "$ftx"
broken faff "$ft.v4" '0,/-m mark --mark \(.*\) -j TRC-web.s0$/s//-m mark --mark \1 -j TRC-web.s1/'
want 1 "reject a slot table that moves a slot to another server" v4 "$tmp/faff.v4" --expect "$ftx"
broken faffhole "$ft.v6" '0,/-m mark --mark 0x[0-9a-f]*\/0xff /{//d}'
want 1 "ip6tables: reject a slot table with a hole" v6 "$tmp/faffhole.v6" --expect "$ftx"
broken faffmod "$ft.v4" 's/--hmark-mod 256 /--hmark-mod 128 /'
want 1 "reject a hash onto half the slots" v4 "$tmp/faffmod.v4" --expect "$ftx"
broken faffseed "$ft.v4" 's/--hmark-rnd 0x74726331 /--hmark-rnd 0x74726332 /'
want 1 "reject an affinity seed other than declared" v4 "$tmp/faffseed.v4" --expect "$ftx"
broken faffrandom "$ft.v4" '/-j HMARK /d; s/-m mark --mark \([^ ]*\) -m comment --comment "\([^"]*\)" -j TRC-web.s0$/-m comment --comment "\2" -m statistic --mode random --probability 0.00390625000 -j TRC-web.s0/; s/-m mark --mark [^ ]* //'
want 1 "reject affinity that draws at random (not a function of the address)" v4 "$tmp/faffrandom.v4" --expect "$ftx"
broken faffdrain "$ft.v4" '0,/-j TRC-web.s1$/s//-j TRC-ssh/'
want 1 "reject a slot that goes to another route's server" v4 "$tmp/faffdrain.v4" --expect "$ftx"
broken nfaff "$ft.nft" '0,/: 10.0.0.2 . 80,/s//: 10.0.0.3 . 80,/'
want 1 "nft: reject a slot table that moves a slot to another server" nft "$tmp/nfaff.nft" --expect "$ftx"
broken nfaffoff "$ft.nft" 's/seed 0x74726331 offset 1 map @slots/seed 0x74726331 offset 2 map @slots/'
want 1 "nft: reject a hash that misses its base offset" nft "$tmp/nfaffoff.nft" --expect "$ftx"
broken nfaffproto "$ft.nft" 's/^\(\t\tmeta l4proto \){ tcp, udp } \(dnat ip to jhash ip saddr mod 256 seed \)0x74726331\( .*\)$/\1tcp \20x74726331\3\n\1udp \20x5\3/'
want 1 "nft: reject a route whose protocols hash a client apart" nft "$tmp/nfaffproto.nft" --expect "$ftx"
said "nft: the route's protocols disagree on a client" ', but 10.0.0.'
broken nfaffrandom "$ft.nft" 's/jhash ip6 saddr mod 256 seed 0x74726331 map/numgen random mod 256 map/'
want 1 "nft: reject affinity that draws at random (not a function of the address)" nft "$tmp/nfaffrandom.nft" --expect "$ftx"
broken frange "$ft.v4" 's/--to-destination 10.0.0.31$/--to-destination 10.0.0.31:27000/'
want 1 "reject a port range DNAT that rewrites the port" v4 "$tmp/frange.v4" --expect "$ftx"
broken nfrange "$ft.nft" -e 's/typeof numgen random mod 2 : ip daddr$/typeof numgen random mod 2 : ip daddr . th dport/' \
	-e 's/: 10.0.0.31, 1 comment/: 10.0.0.31 . 27000, 1 comment/' -e 's/: 10.0.0.32 }/: 10.0.0.32 . 27000 }/'
want 1 "nft: reject a port range DNAT that rewrites the port" nft "$tmp/nfrange.nft" --expect "$ftx"
broken frangecut "$ft.v4" 's/--dport 27000:27015 /--dport 27000:27014 /'
want 1 "reject a port range cut short" v4 "$tmp/frangecut.v4" --expect "$ftx"
broken nfrangecut "$ft.nft" 's/udp \. 27000-27015 /udp . 27001-27015 /'
want 1 "nft: reject a port range cut short" nft "$tmp/nfrangecut.nft" --expect "$ftx"
broken fnoif "$ft.v4" 's/ -i mgmt0 / /'
want 1 "reject a listener that forgets its interface" v4 "$tmp/fnoif.v4" --expect "$ftx"
broken nfwrongif "$ft.nft" 's/"mgmt0" \. /"mgmt1" . /'
want 1 "nft: reject a listener on another interface" nft "$tmp/nfwrongif.nft" --expect "$ftx"
broken fnolocal "$ft.v4" 's/ -m addrtype --dst-type LOCAL//'
want 1 "reject a * listener that takes any address" v4 "$tmp/fnolocal.v4" --expect "$ftx"
broken nfnofib "$ft.nft" 's/meta nfproto ipv4 fib daddr type local meta l4proto/meta l4proto/'
want 1 "nft: reject a * listener that takes any address" nft "$tmp/nfnofib.nft" --expect "$ftx"

# 10. Feature lines outside the emitted subset, or that a real load refuses: exit 2.
broken fhmarkport "$ft.v4" 's/--hmark-sport-mask 0x0000 /--hmark-sport-mask 0xffff /'
want 2 "refuse HMARK that hashes the source port" v4 "$tmp/fhmarkport.v4" --expect "$ftx"
broken fhmarkpfx "$ft.v6" 's/--hmark-src-prefix 128 /--hmark-src-prefix 64 /'
want 2 "ip6tables: refuse HMARK on part of the client address" v6 "$tmp/fhmarkpfx.v6" --expect "$ftx"
broken fhmarkrnd "$ft.v4" 's/--hmark-rnd 0x74726331 /--hmark-rnd 0x7472633 /'
want 2 "refuse an HMARK seed not as iptables-save prints it" v4 "$tmp/fhmarkrnd.v4" --expect "$ftx"
broken fhmarkfilter "$ft.v4" '/routed connections/a -A FORWARD -j HMARK --hmark-src-prefix 32 --hmark-dst-prefix 0 --hmark-sport-mask 0x0000 --hmark-dport-mask 0x0000 --hmark-proto-mask 0x00 --hmark-rnd 0x74726331 --hmark-mod 256 --hmark-offset 0'
want 2 "refuse HMARK outside the nat table" v4 "$tmp/fhmarkfilter.v4" --expect "$ftx"
broken fwild "$ft.v4" '0,/ -i mgmt0 /s// -i mgmt+ /'
want 2 "refuse an interface wildcard" v4 "$tmp/fwild.v4" --expect "$ftx"
broken fdsttype "$ft.v4" 's/--dst-type LOCAL/--dst-type UNICAST/'
want 2 "refuse an addrtype other than LOCAL" v4 "$tmp/fdsttype.v4" --expect "$ftx"
want 2 "iptables: refuse an ip6tables file" v4 "$ft.v6" --expect "$ftx"
want 2 "ip6tables: refuse an iptables file" v6 "$ft.v4" --expect "$ftx"
broken nfnoseed "$ft.nft" 's/ seed 0x74726331 offset 1 map/ offset 1 map/'
want 2 "nft: refuse a jhash without a seed (random at each load)" nft "$tmp/nfnoseed.nft" --expect "$ftx"
broken nfoff0 "$ft.nft" 's/seed 0x74726331 map @slots6/seed 0x74726331 offset 0 map @slots6/'
want 2 "nft: refuse an offset 0 nft would not print" nft "$tmp/nfoff0.nft" --expect "$ftx"
broken nfdaddr "$ft.nft" 's/jhash ip saddr mod 256/jhash ip daddr mod 256/'
want 2 "nft: refuse a hash of anything but the client address" nft "$tmp/nfdaddr.nft" --expect "$ftx"
broken nfhashfam "$ft.nft" 's/jhash ip6 saddr mod 256 seed 0x74726331 map @slots6/jhash ip saddr mod 256 seed 0x74726331 map @slots6/'
want 1 "nft: reject an IPv6 route that hashes an IPv4 source (it never matches)" nft "$tmp/nfhashfam.nft" --expect "$ftx"
broken nfunsorted "$ft.nft" 's/{ 198.51.100.7, 203.0.113.0\/24 }/{ 203.0.113.0\/24, 198.51.100.7 }/'
want 2 "nft: refuse an allow set not as nft lists it" nft "$tmp/nfunsorted.nft" --expect "$ftx"
broken nfnofam "$ft.nft" 's/dnat ip to jhash ip saddr/dnat to jhash ip saddr/'
want 2 "nft: refuse a dnat without its family in an inet table" nft "$tmp/nfnofam.nft" --expect "$ftx"
broken nfwrongfam "$ft.nft" 's/dnat ip6 to jhash ip6/dnat ip to jhash ip6/'
want 2 "nft: refuse a dnat ip through a map of IPv6 addresses" nft "$tmp/nfwrongfam.nft" --expect "$ftx"
broken nfreturn "$ft.nft" '/dnat ip to jhash/s/^/\t\treturn\n/'
want 2 "nft: refuse a return without its allow match" nft "$tmp/nfreturn.nft" --expect "$ftx"
broken nfnodel "$ft.nft" '/^delete table inet /d'
want 2 "nft: refuse an inet table not replaced (no delete)" nft "$tmp/nfnodel.nft" --expect "$ftx"
broken snatnofr "$sr.nft" 's/ fully-random comment/ comment/'
want 2 "nft: refuse an snat range without fully-random" nft "$tmp/snatnofr.nft" --expect "$srx"

finish
