#!/bin/sh
# Compile every golden case and example to both targets and trace each output
# against the expect file written from its source; then prove the checker has
# teeth: broken copies of hand-written rulesets must be rejected, and lines
# outside the emitted subset must stop the tracer.
#   tests/trace/run.sh            (ends with "N passed, N failed"; exit 1 on failure)
# Environment: TCPROUTEC (default: tcproutec at the top of the repository);
# TRACE_KEEP=DIR keeps the compiled and broken files there for a look.
set -eu
LC_ALL=C
export LC_ALL
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${TCPROUTEC:-$root/tcproutec}
self=$here/selftest
tab=$(printf '\t')
tmp=${TRACE_KEEP:-$(mktemp -d)}
[ -n "${TRACE_KEEP-}" ] || trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0

# want STATUS NAME COMMAND...: COMMAND must exit with STATUS.
want() {
	st=$1 name=$2
	shift 2
	if "$@" >"$tmp/out" 2>&1; then rc=0; else rc=$?; fi
	if [ "$rc" -eq "$st" ]; then
		pass=$((pass + 1))
		echo "PASS: $name"
	else
		fail=$((fail + 1))
		echo "FAIL: $name (exit $rc, wanted $st)"
		sed 's/^/    /' "$tmp/out"
	fi
}

# broken NAME SRC SED-SCRIPT: write $tmp/NAME.EXT (EXT that of SRC), a copy
# of SRC edited by SED-SCRIPT; an edit that changes nothing would make the
# test meaningless.
broken() {
	sed "$3" "$2" >"$tmp/$1.${2##*.}"
	if cmp -s "$2" "$tmp/$1.${2##*.}"; then
		echo "run.sh: edit '$3' did not change $2" >&2
		exit 1
	fi
}

# said NAME TEXT: the last command's output contains TEXT.
said() {
	if grep -qF "$2" "$tmp/out"; then
		pass=$((pass + 1))
		echo "PASS: $1"
	else
		fail=$((fail + 1))
		echo "FAIL: $1 (no '$2' in:)"
		sed 's/^/    /' "$tmp/out"
	fi
}

check() { python3 "$here/check.py" "$@"; }

# compile SRC.tr ARGS TARGET OUT: tcproutec -t TARGET in the source's own
# directory on its base name, so that places read NAME.tr:LINE as in the
# expect files, with the case's extra arguments from ARGS (one per line,
# blank and # lines skipped, as tests/run-golden.sh reads NAME.args).
compile() {
	(
		cd "$(dirname "$1")"
		set -- "$(basename "$1")" "$2" "$3"
		src=$1 args=$2 target=$3
		set -- -t "$target"
		if [ -f "$args" ]; then
			while IFS= read -r line || [ -n "$line" ]; do
				case "$line" in '' | '#'*) continue ;; esac
				set -- "$@" "$line"
			done <"$args"
		fi
		unset TCPROUTEC_PATH
		exec "$bin" "$@" "$src"
	) >"$4" 2>"$tmp/compile.err"
}

# golden SRC.tr DIR: compile SRC to both targets and check both against
# DIR/NAME.expect.json, and against each other (check.py --same-as).
golden() {
	name=$(basename "$1" .tr) exp=$2/$(basename "$1" .tr).expect.json
	label="golden ${1#"$root"/}"
	if [ ! -f "$exp" ]; then
		fail=$((fail + 1))
		echo "FAIL: $label: no ${exp#"$root"/} (write it from the source)"
		return 0
	fi
	for target in iptables nft; do
		if ! compile "$1" "$2/$name.args" "$target" "$tmp/$name.$target"; then
			fail=$((fail + 1))
			echo "FAIL: $label: tcproutec -t $target failed:"
			sed 's/^/    /' "$tmp/compile.err"
			return 0
		fi
	done
	want 0 "$label (iptables, nft, same shares)" check "$tmp/$name.iptables" \
		--expect "$exp" --same-as "$tmp/$name.nft"
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
	fail=$((fail + 1))
	echo "FAIL: $bin: no such executable (run make first)"
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

# 3. The tracer's exact arithmetic, checked by hand once.
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
want 2 "refuse unknown option -i" check "$tmp/iface.v4" --expect "$artx"
broken recent "$art" 's/-m comment --comment "article.tr:7: route app"/-m recent --set/'
want 2 "refuse unknown match module" check "$tmp/recent.v4" --expect "$artx"
broken snatpre "$art" '/-j TRC-app$/a -A PREROUTING -j SNAT --to-source 10.0.0.1'
want 2 "refuse SNAT in PREROUTING" check "$tmp/snatpre.v4" --expect "$artx"
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
broken nnomap "$artn" 's/map @random_3$/map @random_4/'
want 2 "nft: refuse a lookup in a missing map" nft "$tmp/nnomap.nft" --expect "$artx"
broken nmaptype "$artn" 's/vmap @listeners$/vmap @random_3/'
want 2 "nft: refuse a lookup in a map of another type" nft "$tmp/nmaptype.nft" --expect "$artx"
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

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
