#!/usr/bin/env python3
"""Check a compiled ruleset against what its .tr source declares.

    check.py RULES --expect EXPECT.json [--format iptables|nft]
             [--same-as OTHER [--same-as-format iptables|nft]]

The expectations come from a side file written from the .tr source, never
from the compiler, so a compiler bug cannot agree with itself:

{
  "forward_policy": "drop",             # policy forward drop|accept
  "client": "192.168.1.2",              # source of every probe without "src"
  "listeners": [                        # one per (proto, addr, port)
    {"proto": "tcp", "addr": "192.168.1.1", "port": 27017,
     "src": "...",                      # optional: client for this listener
     "balance": "random",               # random | roundrobin
     "snat": "10.0.0.1",                # address | "masquerade" | null (none)
     "servers": [{"addr": "10.0.0.2", "port": 1234, "weight": 1,
                  "place": "article.tr:9"},  # optional: DNAT rule's FILE:LINE
                 {"addr": "10.0.0.4", "port": 1234, "drain": true}]}  # or "weight": 0
  ],
  "undeclared": [{"proto": "tcp", "dst": "192.168.1.1", "dport": 80,
                  "src": "..."}]        # optional src
}

A server's "port" may be null: the listener's port is kept.
Checks: the forward policy; per listener, every outcome is DNATed to an
active server, forwarded, and source-NATed as declared, and server i's share
is w_i/W: exactly for nft (integer slots) and for iptables roundrobin, within
n * 2^-31 for iptables random (n active servers: the kernel keeps each
probability in 31 bits). Undeclared probes (the listed ones, plus for each
listener: another port, another address, the other protocol, each backend
directly, a backend calling the client) must stay untranslated and without
SNAT, and be dropped under policy drop. Every dispatch and every DNAT in the
file (iptables: PREROUTING and DNAT rules; nft: map elements) must be used
by some declared listener: anything else is a listener or a server nobody
declared, such as a drained server left in an unreachable slot.

--same-as OTHER: check OTHER (by default in the other format) against the
same expect file, and require both to give every listener and probe the same
outcomes (destination, forward, snat, source place), with shares equal to
within n * 2^-31 where a random iptables share is involved, exactly otherwise.
Exit 0 all passed, 1 some check failed, 2 the rules or expect file are bad.
"""
import argparse
import importlib.util
import ipaddress
import json
import os
import sys
import traceback
from fractions import Fraction

sys.dont_write_bytecode = True  # keep tests/trace free of __pycache__

# Load the tracer beside this file by path: `import trace` could find the stdlib's.
_spec = importlib.util.spec_from_file_location(
    'tr', os.path.join(os.path.dirname(os.path.abspath(__file__)), 'trace.py'))
tr = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tr)

QUANTUM = Fraction(1, 2**31)
# Keys each object may have, and the ones it must have: a typo ("wieght")
# must not silently fall back to a default.
SCHEMA = {'top': ({'comment', 'forward_policy', 'client', 'listeners', 'undeclared'}, {'listeners'}),
          'listener': ({'proto', 'addr', 'port', 'src', 'balance', 'snat', 'servers'},
                       {'proto', 'addr', 'port', 'servers'}),
          'server': ({'addr', 'port', 'weight', 'drain', 'place'}, {'addr'}),
          'undeclared': ({'proto', 'src', 'dst', 'dport'}, {'proto', 'dst', 'dport'})}


def validate(exp):
    def keys(obj, kind):
        allowed, required = SCHEMA[kind]
        if not isinstance(obj, dict) or not required <= obj.keys() <= allowed:
            raise ValueError(f'bad {kind} entry {obj!r}: keys {sorted(required)} required, '
                             f'{sorted(allowed)} allowed')
    keys(exp, 'top')
    if exp.get('forward_policy', 'drop') not in ('drop', 'accept'):
        raise ValueError('forward_policy must be drop or accept')
    for l in exp['listeners']:
        keys(l, 'listener')
        if l['proto'] not in ('tcp', 'udp') or l.get('balance', 'random') not in ('random', 'roundrobin'):
            raise ValueError(f'bad proto or balance in {l!r}')
        for s in l['servers']:
            keys(s, 'server')
    for u in exp.get('undeclared', []):
        keys(u, 'undeclared')


def auto_probes(exp, client):
    """Flows nobody declared: near misses of each listener."""
    declared = {(l['proto'], l['addr'], l['port']) for l in exp['listeners']}
    probes = []
    for l in exp['listeners']:
        proto, a, port = l['proto'], l['addr'], l['port']
        src = l.get('src', client)
        other = ipaddress.IPv4Address(a) + (1 if a != '255.255.255.255' else -1)
        cands = [(proto, src, a, port + 1 if port < 65535 else port - 1),
                 (proto, src, str(other), port),
                 ('udp' if proto == 'tcp' else 'tcp', src, a, port)]
        for s in l['servers']:
            sport = s.get('port') or port
            cands.append((proto, src, s['addr'], sport))          # backend directly
            cands.append((proto, s['addr'], src, sport))          # backend opens to client
        probes += [c for c in cands if (c[0], c[2], c[3]) not in declared]
    return probes


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('rules')
    ap.add_argument('--expect', required=True)
    ap.add_argument('--format', choices=('iptables', 'nft'), default='iptables')
    ap.add_argument('--same-as', metavar='OTHER')
    ap.add_argument('--same-as-format', choices=('iptables', 'nft'))
    a = ap.parse_args()
    other_fmt = a.same_as_format or ('nft' if a.format == 'iptables' else 'iptables')
    try:
        path = a.rules
        rules = tr.load(path, a.format)
        other = None
        if a.same_as:
            path = a.same_as
            other = tr.load(path, other_fmt)
        with open(a.expect, encoding='utf-8') as f:
            exp = json.load(f)
        validate(exp)
    except tr.ParseError as e:
        print(e.where(path), file=sys.stderr)
        sys.exit(2)
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as e:
        print(f'check.py: {e!r}', file=sys.stderr)
        sys.exit(2)

    results = []

    def expect(ok, msg):
        results.append(ok)
        if not ok:
            print(f'FAIL: {msg}')

    flows = check(rules, a.format, exp, expect, tag=f'{a.format}: ' if other else '')
    if other is not None:
        check(other, other_fmt, exp, expect, tag=f'{other_fmt}: ')
        same_as(rules, a.format, other, other_fmt, flows, expect)

    failed = results.count(False)
    print(f'check.py: {a.rules}' + (f' and {a.same_as}' if other else '')
          + f': {len(results)} checks, {failed} failed')
    sys.exit(1 if failed else 0)


def tolerance(fmt, l, n):
    """How far a share may be from w_i/W: only iptables random shares are
    quantized (n * 2^-31, n active servers); nft slots are integers."""
    random = l is not None and l.get('balance', 'random') == 'random'
    return n * QUANTUM if fmt == 'iptables' and random else 0


def check(rules, fmt, exp, expect, tag=''):
    """All checks of one ruleset against the expect file. Returns the flows
    traced, (listener or None, proto, src, dst, dport, active servers)."""
    policy = exp.get('forward_policy', 'drop')
    have = rules.forward_policy()
    expect(have == policy, f'{tag}forward policy is {have}, declared {policy}')
    client = exp.get('client', '198.51.100.10')
    used = set()      # what the declared listeners' flows went through
    flows = []

    for l in exp['listeners']:
        name = f"{tag}{l['proto']} {l['addr']}:{l['port']}"
        src = l.get('src', client)
        outs = rules.trace(l['proto'], src, l['addr'], l['port'], hits=used)
        servers = {f"{s['addr']}:{s.get('port') or l['port']}": s for s in l['servers']}
        active = [k for k, s in servers.items() if s.get('weight', 1) > 0 and not s.get('drain')]
        flows.append((l, l['proto'], src, l['addr'], l['port'], len(active)))
        total = sum(servers[k].get('weight', 1) for k in active)
        snat = l.get('snat')
        shares = dict.fromkeys(servers, Fraction(0))
        for o in outs:
            what = f"{name}: {tr.short(o['probability'])} of flows -> {o['destination'] or 'not translated'}"
            expect(o['destination'] in active, f'{what}: not an active server')
            expect(o['forward'] == 'accept', f'{what}: forward {o["forward"]}')
            expect(o['snat'] == snat, f'{what}: snat {o["snat"] or "none"}, declared {snat or "none"}')
            s = servers.get(o['destination'])
            if s and s.get('place'):
                expect(o['place'] == s['place'], f"{what}: DNAT from {o['place']}, declared {s['place']}")
            if s:
                shares[o['destination']] += o['probability']
        tol = tolerance(fmt, l, len(active))
        for k, got in shares.items():
            want = Fraction(servers[k].get('weight', 1), total) if k in active else 0
            expect(abs(got - want) <= (tol if want else 0),
                   f'{name}: {k} gets {float(got):.12f} ({tr.short(got)}), declared {float(want):.12f} ({want})'
                   + (f' +- {len(active)} * 2^-31' if tol else ' exactly'))

    # A dispatch or DNAT no declared listener reaches is a listener or a
    # server nobody declared (even in a slot no flow can draw today).
    for key, what in sorted(rules.translators().items(), key=lambda kv: kv[1]):
        expect(key in used, f'{tag}{what}: used by no declared listener')

    probes = [(u['proto'], u.get('src', client), u['dst'], u['dport']) for u in exp.get('undeclared', [])]
    for proto, src, dst, dport in probes + auto_probes(exp, client):
        flows.append((None, proto, src, dst, dport, 0))
        for o in rules.trace(proto, src, dst, dport):
            what = f"{tag}undeclared {proto} {src} -> {dst}:{dport}: {tr.short(o['probability'])} of flows"
            expect(o['destination'] is None, f"{what} DNATed to {o['destination']}")
            expect(o['snat'] is None, f"{what} source-NATed ({o['snat']})")
            if policy == 'drop':
                expect(o['forward'] == 'drop', f'{what} forwarded under policy drop')
    return flows


def same_as(rules, fmt, other, other_fmt, flows, expect):
    """Both targets must agree on every traced flow: the same outcomes, and
    shares equal to within the quantization either side may have."""
    have = (rules.forward_policy(), other.forward_policy())
    expect(have[0] == have[1], f'forward policy: {fmt} {have[0]}, {other_fmt} {have[1]}')
    for l, proto, src, dst, dport, n in flows:
        tol = max(tolerance(fmt, l, n), tolerance(other_fmt, l, n))
        name = f'{proto} {src} -> {dst}:{dport}'

        def outcomes(rs):
            return {(o['destination'], o['forward'], o['snat'], o['place']): o['probability']
                    for o in rs.trace(proto, src, dst, dport)}
        mine, theirs = outcomes(rules), outcomes(other)
        for k in sorted(mine.keys() | theirs.keys(), key=str):
            p, q = mine.get(k, 0), theirs.get(k, 0)
            dest, fwd, snat, place = k
            expect(abs(p - q) <= tol and (p > 0) == (q > 0),
                   f'{name}: dest {dest or "not translated"} forward {fwd} snat {snat or "none"} from {place or "-"}:'
                   f' {fmt} {float(p):.12f} ({tr.short(p)}), {other_fmt} {float(q):.12f} ({tr.short(q)})'
                   + (f', allowed difference {n} * 2^-31' if tol else ', must be equal'))


if __name__ == '__main__':
    try:
        main()
    except Exception:   # a crash must not look like exit 1, "a check failed"
        traceback.print_exc()
        sys.exit(4)
