#!/usr/bin/env python3
"""Check a compiled ruleset against what its .tr source declares.

    check.py RULES --expect EXPECT.json [--format iptables|ip6tables|nft]
             [--same-as OTHER [--same-as-format iptables|ip6tables|nft]]

The expectations come from a side file written from the .tr source, never
from the compiler, so a compiler bug cannot agree with itself:

{
  "forward_policy": "drop",             # policy forward drop|accept
  "client": "192.168.1.2",              # IPv4 source of every probe without "src"
  "client6": "2001:db8:c::10",          # IPv6 source of every probe without "src"
  "local": ["192.0.2.1", "192.0.2.9"],  # the host's addresses: where `*` listens
  "listeners": [                        # one per `listen` line
    {"proto": "tcp", "addr": "192.168.1.1", "port": 27017,
     "route": "app",                    # optional: listeners of one route share affinity
     "src": "...",                      # optional: client for this listener
     "iface": "mgmt0",                  # optional: `on IFACE`
     "allow": ["203.0.113.0/24"],       # optional: `allow from`, as written
     "affinity": 10800,                 # optional: `affinity client-ip`, its timeout in seconds (no effect)
     "balance": "random",               # random | roundrobin
     "snat": "10.0.0.1",                # address | "masquerade" | null (none)
     "servers": [{"addr": "10.0.0.2", "port": 1234, "weight": 1,
                  "place": "article.tr:9"},  # optional: the DNAT rule's comment, "FILE: route NAME"
                 {"addr": "10.0.0.4", "port": 1234, "drain": true}]}  # or "weight": 0
  ],
  "affinity_seed": "0x74726331",        # optional: the seed of every affinity hash (this is the default)
  "undeclared": [{"proto": "tcp", "dst": "192.168.1.1", "dport": 80,
                  "src": "...", "iface": "..."}]   # optional src, iface
}

"addr" is an IPv4 or IPv6 address, or "*": any address in "local" of the
route's family (the family of its servers). "port" is a number or a range
"LO-HI"; a server's "port" may be null: the connection keeps its port.

Checks, per listener, for every probe of it (each of its addresses; a
range's first, middle and last port; from "src", else from the first and
last address of each "allow" entry, else from the client; arriving on
"iface"): every outcome is DNATed to an active server, forwarded, and
source-NATed as declared, and server i's share of new connections is w_i/W:
exactly for nft (integer slots) and for iptables roundrobin, within n *
2^-31 for iptables random (n active servers: the kernel keeps each
probability in 31 bits).

Affinity ("affinity": any timeout; it has no effect): the server is a hash
of the client address (iptables HMARK, nft jhash; trace.py computes them as
the kernel does). For each probe: from its source the outcome is certain
(one server, probability 1); over the whole hash range (trace.py's
anyhash, every slot once) server i's share is within 1/M of w_i/W (M the
hash's modulus in the file, the slot table's size: exact quotas) and
drained servers get no slot at all; every hash uses the declared seed
("affinity_seed", default 0x74726331). Per route (listeners with the same "route"), SAMPLE client
addresses (spread over the whole address space, or over the "allow"
entries) are traced on every probe of every listener: each gets one server,
the same on every listener, protocol, address and port of the route; over
the first listener's probe their shares are within 1/M + 4 sigma
(sqrt(w/W (1 - w/W) / SAMPLE)) of w_i/W, when the allow list holds at least
SAMPLE addresses.

Undeclared probes (the listed ones, plus for each listener: another port or
the ports around a range, another address (for `*`: one not local), the
other protocol, each backend directly, a backend calling the client; with
"iface": no interface the file names, and names next to it; with "allow":
sources just outside each entry) must stay untranslated and without SNAT,
and be dropped under policy drop. Every dispatch and every DNAT in the file
(iptables: PREROUTING, DNAT and -m mark rules; nft: map elements and dnat
rules) must be used by some declared flow: anything else is a listener
or a server nobody declared, such as a drained server left in an unreachable
slot.

An iptables file is checked against the IPv4 listeners and probes, an
ip6tables file against the IPv6 ones, an nft file against all.

--same-as OTHER: check OTHER (by default iptables <-> nft) against the
same expect file, and require both to give every declared and probed flow
the same outcomes (destination, forward, snat, source place), with shares
equal to within n * 2^-31 where a random iptables share is involved,
exactly otherwise (flows of a family one of the two files does not filter,
such as IPv6 past an nft `table ip`, are not compared). The server of one
client of an affinity route is not compared: HMARK's jhash_3words and nft's
jhash are different functions of the address, so an iptables gateway and an
nft gateway give a client different servers; their slot tables' shares are
compared, exactly.
--coexist (with --hooks SCRIPT for an iptables or ip6tables file: the
script of `--coexist --hooks`): the file shares the host (doc/coexist.md).
Declared flows are checked as above, and accepted by our chains. The file
itself drops nothing by policy. Undeclared probes must leave our chains
untouched (no DNAT, no SNAT, no mark, and no verdict: forward "host", the
host's rules decide), except new connections addressed to a declared
server endpoint (its address, protocol and port, or for a server that
keeps the port the listener's ports; drained servers too), which are
dropped under policy forward drop. In every mode, the replies of every
translated flow must be accepted (traced through the forward hook as
ESTABLISHED with the connection's DNAT status and mark). With --same-as,
a forward verdict of "accept" or "host" compares as "pass" under
--coexist: an accept in an nft table is not final, only a drop is.

Exit 0 all passed, 1 some check failed, 2 the rules or expect file are bad.
"""
import argparse
import hashlib
import importlib.util
import ipaddress
import json
import math
import os
import sys
import traceback
from dataclasses import dataclass
from fractions import Fraction

sys.dont_write_bytecode = True  # keep tests/trace free of __pycache__

# Load the tracer beside this file by path: `import trace` could find the stdlib's.
_spec = importlib.util.spec_from_file_location(
    'tr', os.path.join(os.path.dirname(os.path.abspath(__file__)), 'trace.py'))
tr = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tr)

QUANTUM = Fraction(1, 2**31)
FORMATS = ('iptables', 'ip6tables', 'nft')
# Keys each object may have, and the ones it must have: a typo ("wieght")
# must not silently fall back to a default.
SCHEMA = {'top': ({'comment', 'forward_policy', 'client', 'client6', 'local', 'listeners', 'undeclared',
                   'affinity_seed'},
                  {'listeners'}),
          'listener': ({'proto', 'addr', 'port', 'route', 'src', 'iface', 'allow', 'affinity',
                        'balance', 'snat', 'servers'},
                       {'proto', 'addr', 'port', 'servers'}),
          'server': ({'addr', 'port', 'weight', 'drain', 'place'}, {'addr'}),
          'undeclared': ({'proto', 'src', 'dst', 'dport', 'iface'}, {'proto', 'dst', 'dport'})}
CLIENT = {4: '198.51.100.10', 6: '2001:db8:ffff:ffff::10'}
AFFINITY_SEED = 0x74726331  # tcproutec's documented default seed
SAMPLE = 2048               # client addresses traced per affinity route
SAMPLE_ALL = 256            # of them, traced on every probe of the route


def ip(text):
    return ipaddress.ip_address(text)


@dataclass
class Listener:
    """One listener of the expect file, its probes worked out."""
    raw: dict
    proto: str
    family: int
    addr: object          # address, or None for `*`
    lo: int
    hi: int
    iface: str
    allow: list           # [network] or None
    affinity: bool        # affinity client-ip
    route: str
    balance: str
    snat: str
    servers: list         # [(raw server dict, address)]
    srcs: list            # probe sources
    dsts: list            # probe destinations

    @property
    def name(self):
        a = '*' if self.addr is None else str(self.addr)
        a = f'[{a}]' if self.family == 6 else a
        port = f'{self.lo}' if self.lo == self.hi else f'{self.lo}-{self.hi}'
        return f'{self.proto} {a}:{port}' + (f' on {self.iface}' if self.iface else '')

    @property
    def ports(self):
        return [self.lo] if self.lo == self.hi else sorted({self.lo, (self.lo + self.hi) // 2, self.hi})

    def dest(self, s, dport):
        raw, a = s
        return tr.endpoint(a, raw.get('port') or dport)

    def active(self):
        return [s for s in self.servers if s[0].get('weight', 1) > 0 and not s[0].get('drain')]

    def shares(self, dport):
        """The declared share of each active server, by destination."""
        act = self.active()
        total = sum(s[0].get('weight', 1) for s in act)
        return {self.dest(s, dport): Fraction(s[0].get('weight', 1), total) for s in act}

    def covers(self, proto, src, dst, dport, iface, local):
        src, dst = ip(src), ip(dst)
        return (proto == self.proto and dst.version == self.family
                and (dst == self.addr if self.addr is not None else dst in local)
                and self.lo <= dport <= self.hi
                and (self.iface is None or iface == self.iface)
                and (self.allow is None or any(src in n for n in self.allow)))


def listener(l, exp, local):
    keys(l, 'listener')
    if l['proto'] not in ('tcp', 'udp') or l.get('balance', 'random') not in ('random', 'roundrobin'):
        raise ValueError(f'bad proto or balance in {l!r}')
    servers = []
    for s in l['servers']:
        keys(s, 'server')
        servers.append((s, ip(s['addr'])))
    if not servers:
        raise ValueError(f'a listener without servers: {l!r}')
    family = servers[0][1].version
    a = None if l['addr'] == '*' else ip(l['addr'])
    port = l['port']
    if isinstance(port, int):
        lo = hi = port
    else:
        lo_t, _, hi_t = str(port).partition('-')
        lo, hi = int(lo_t), int(hi_t)
        if not lo < hi:
            raise ValueError(f'bad port range {port}')
    if not 1 <= lo <= hi <= 65535:
        raise ValueError(f'bad port {port}')
    allow = None
    if 'allow' in l:
        allow = [ipaddress.ip_network(n, strict=True) for n in l['allow']]
    snat = l.get('snat')
    fams = {x.version for _, x in servers} | ({a.version} if a else set()) \
        | {n.version for n in allow or []} | ({ip(snat.split('-')[0]).version} if snat not in (None, 'masquerade') else set())
    if fams != {family}:
        raise ValueError(f'a listener of two address families: {l!r}')
    if lo != hi and any(s.get('port') for s, _ in servers):
        raise ValueError(f'servers of a port range keep the port (no "port"): {l!r}')
    if 'src' in l:
        srcs = [l['src']]
    elif allow:
        srcs = list(dict.fromkeys(str(x) for n in allow for x in (n.network_address, n.broadcast_address)))
    else:
        srcs = [exp.get('client6' if family == 6 else 'client', CLIENT[family])]
    dsts = [str(a)] if a else [str(x) for x in local if x.version == family]
    if not dsts:
        raise ValueError(f'a `*` listener and no "local" address of IPv{family}: {l!r}')
    aff = l.get('affinity', 0)
    if not isinstance(aff, int) or aff < 0:
        raise ValueError(f'affinity is a timeout in seconds: {l!r}')
    aff = aff > 0
    return Listener(l, l['proto'], family, a, lo, hi, l.get('iface'), allow, aff, l.get('route'),
                    l.get('balance', 'random'), snat, servers, srcs, dsts)


def keys(obj, kind):
    allowed, required = SCHEMA[kind]
    if not isinstance(obj, dict) or not required <= obj.keys() <= allowed:
        raise ValueError(f'bad {kind} entry {obj!r}: keys {sorted(required)} required, '
                         f'{sorted(allowed)} allowed')


def load_expect(exp):
    keys(exp, 'top')
    if exp.get('forward_policy', 'drop') not in ('drop', 'accept'):
        raise ValueError('forward_policy must be drop or accept')
    local = [ip(a) for a in exp.get('local', [])]
    ls = [listener(l, exp, local) for l in exp['listeners']]
    for u in exp.get('undeclared', []):
        keys(u, 'undeclared')
    int(exp.get('affinity_seed', '0x0'), 16)
    return ls, frozenset(local)


def probe(proto, src, dst, dport, iface=None, **more):
    return dict(proto=proto, src=str(src), dst=str(dst), dport=dport, iface=iface, **more)


def step(a, delta):
    """a + delta, or None past either end of the address space."""
    try:
        return a + delta
    except ipaddress.AddressValueError:
        return None


def near(a, local=()):
    """An address next to a (of its family), not local."""
    for delta in (d for k in range(1, len(local) + 2) for d in (k, -k)):
        b = step(a, delta)
        if b is not None and b not in local:
            return b
    raise AssertionError('unreachable')


def auto_probes(ls, exp, local):
    """Flows nobody declared: near misses of each listener."""
    probes = []
    for l in ls:
        src, dst, port = l.srcs[0], l.dsts[0], l.lo
        cands = [probe(l.proto, src, dst, l.hi + 1 if l.hi < 65535 else l.lo - 1, l.iface)]
        if l.lo != l.hi and l.lo > 1:
            cands.append(probe(l.proto, src, dst, l.lo - 1, l.iface))
        cands.append(probe(l.proto, src, near(ip(dst), local), port, l.iface))
        cands.append(probe('udp' if l.proto == 'tcp' else 'tcp', src, dst, port, l.iface))
        if l.addr is None:   # `*` of one family: a local address of the other
            other = 4 if l.family == 6 else 6
            for a in local:
                if a.version == other:
                    cands.append(probe(l.proto, exp.get('client6' if other == 6 else 'client', CLIENT[other]),
                                       a, port, l.iface))
        if l.iface:
            cands.append(probe(l.proto, src, dst, port, None))
            if len(l.iface) > 1:
                cands.append(probe(l.proto, src, dst, port, l.iface[:-1]))
            if len(l.iface) < 15:
                cands.append(probe(l.proto, src, dst, port, l.iface + '0'))
        for n in l.allow or []:
            for a in (step(n.network_address, -1), step(n.broadcast_address, 1)):
                if a is not None:
                    cands.append(probe(l.proto, a, dst, port, l.iface))
        for s in l.servers:
            sport = s[0].get('port') or port
            cands.append(probe(l.proto, src, s[1], sport, l.iface))      # backend directly
            cands.append(probe(l.proto, s[1], src, sport, l.iface))      # backend opens to client
        probes += cands
    return probes


def covered(ls, local, p):
    return any(l.covers(p['proto'], p['src'], p['dst'], p['dport'], p['iface'], local) for l in ls)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('rules')
    ap.add_argument('--expect', required=True)
    ap.add_argument('--format', choices=FORMATS, default='iptables')
    ap.add_argument('--same-as', metavar='OTHER')
    ap.add_argument('--same-as-format', choices=FORMATS)
    ap.add_argument('--coexist', action='store_true')
    ap.add_argument('--hooks', metavar='SCRIPT')
    a = ap.parse_args()
    other_fmt = a.same_as_format or ('iptables' if a.format == 'nft' else 'nft')
    try:
        path = a.rules
        def hooks(fmt):
            return a.hooks if fmt != 'nft' else None
        rules = tr.load(path, a.format, a.coexist, hooks(a.format))
        other = None
        if a.same_as:
            path = a.same_as
            other = tr.load(path, other_fmt, a.coexist, hooks(other_fmt))
        with open(a.expect, encoding='utf-8') as f:
            exp = json.load(f)
        ls, local = load_expect(exp)
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

    flows = check(rules, a.format, exp, ls, local, expect, tag=f'{a.format}: ' if other else '')
    if other is not None:
        check(other, other_fmt, exp, ls, local, expect, tag=f'{other_fmt}: ')
        same_as(rules, a.format, other, other_fmt, flows, local, expect, a.coexist)

    failed = results.count(False)
    print(f'check.py: {a.rules}' + (f' and {a.same_as}' if other else '')
          + f': {len(results)} checks, {failed} failed')
    sys.exit(1 if failed else 0)


def tolerance(fmt, l, n):
    """How far a share may be from w_i/W: only iptables random shares are
    quantized (n * 2^-31, n active servers); nft slots are integers; the
    slots of an affinity route compare exactly between targets."""
    random = l is not None and l.balance == 'random' and not l.affinity
    return n * QUANTUM if fmt in ('iptables', 'ip6tables') and random else 0


def sample_clients(l, k):
    """k client addresses for listener l (fewer when its allow list holds
    fewer), spread by a hash of their index over the whole address space of
    its family or over its allow entries; and whether there were k."""
    nets = l.allow or [ipaddress.ip_network('0.0.0.0/0' if l.family == 4 else '::/0')]
    total = sum(n.num_addresses for n in nets)
    out = []
    for i in range(min(k, total)):
        x = i if total <= k else int.from_bytes(hashlib.sha256(b'%d' % i).digest()[:16], 'big') % total
        for n in nets:
            if x < n.num_addresses:
                out.append(str(n.network_address + x))
                break
            x -= n.num_addresses
    return list(dict.fromkeys(out)), total >= k


def host(dest):
    """The address of an outcome's destination (ADDR:PORT, [ADDR6]:PORT)."""
    return dest.rsplit(':', 1)[0].strip('[]') if dest else None


def flow_name(p):
    s = f"{p['proto']} {p['src']} -> {tr.endpoint(ip(p['dst']), p['dport'])}"
    if p.get('iface'):
        s += f" on {p['iface']}"
    if p.get('anyhash'):
        s += ' (any client: every hash slot)'
    return s


def check(rules, fmt, exp, ls, local, expect, tag=''):
    """All checks of one ruleset against the expect file. Returns the flows
    traced: (listener or None, active servers, probe)."""
    policy = exp.get('forward_policy', 'drop')
    have = rules.forward_policy()
    if rules.coexist:
        expect(have != 'drop', f'{tag}--coexist: forward policy is drop (a foreign packet would be dropped)')
    else:
        expect(have == policy, f'{tag}forward policy is {have}, declared {policy}')
    used = set()      # what the declared listeners' flows went through
    flows = []

    def run(p, hits=None):
        return rules.trace(**p, hits=used if hits is None else hits, local=local)

    def declared(l, p):
        """Trace probe p of listener l: every outcome must be an active
        server, forwarded, source-NATed as declared, with the declared
        shares (affinity: over every hash slot, within 1/M)."""
        n = len(l.active())
        flows.append((l, n, p))
        mine = set()
        outs = run(p, mine)
        used.update(mine)
        # The slot table's size, M, as the file hashes onto it.
        slots = min((k[1] for k in mine if k[0] == 'slots'), default=1)
        name = f'{tag}{flow_name(p)}'
        servers = {l.dest(s, p['dport']): s[0] for s in l.servers}
        tol = tolerance(fmt, l, n)
        want = l.shares(p['dport'])
        shares = dict.fromkeys(servers.keys() | want.keys(), Fraction(0))
        for o in outs:
            what = f"{name}: {tr.short(o['probability'])} of flows -> {o['destination'] or 'not translated'}"
            outcome_ok(l, o, what, servers, want)
            if o['destination'] in shares:
                shares[o['destination']] += o['probability']
        for k, got in sorted(shares.items()):
            w = want.get(k, 0)
            if l.affinity:
                expect(abs(got - w) < Fraction(1, slots) if w else got == 0,
                       f'{name}: {k} gets {float(got):.12f} ({tr.short(got)}) of the {slots} hash slots, '
                       f'declared {float(w):.12f} ({w})' + (f' +- 1/{slots}' if w else ' exactly'))
                continue
            expect(abs(got - w) <= (tol if w else 0),
                   f'{name}: {k} gets {float(got):.12f} ({tr.short(got)}), declared {float(w):.12f} ({w})'
                   + (f' +- {n} * 2^-31' if tol and w else ' exactly'))

    def outcome_ok(l, o, what, servers, want):
        expect(o['destination'] in want, f'{what}: not an active server')
        ok = ('accept', 'host') if rules.coexist and fmt == 'nft' else ('accept',)
        expect(o['forward'] in ok, f'{what}: forward {o["forward"]}')
        expect(o['reply'] in ok, f'{what}: its replies: forward {o["reply"]}')
        expect(o['snat'] == l.snat, f'{what}: snat {o["snat"] or "none"}, declared {l.snat or "none"}')
        s = servers.get(o['destination'])
        if s and s.get('place'):
            expect(o['place'] == s['place'], f"{what}: DNAT from {o['place']}, declared {s['place']}")

    def certain(l, p, problems):
        """The one server (address) of client p['src'] on listener l, or
        None after adding to problems why there is not one."""
        outs = run(p)
        if len(outs) != 1 or outs[0]['probability'] != 1:
            problems.append(f'{flow_name(p)}: not a function of the client address: ' + ', '.join(
                f"{tr.short(o['probability'])} -> {o['destination'] or 'not translated'}" for o in outs))
            return None
        o = outs[0]
        servers = {l.dest(s, p['dport']): s[0] for s in l.servers}
        want = l.shares(p['dport'])
        ok = (o['destination'] in want and o['forward'] == 'accept' and o['snat'] == l.snat
              and (not servers[o['destination']].get('place')
                   or o['place'] == servers[o['destination']]['place']))
        if not ok:
            problems.append(f"{flow_name(p)}: -> {o['destination'] or 'not translated'} forward "
                            f"{o['forward']} snat {o['snat'] or 'none'} from {o['place'] or '-'}")
            return None
        return host(o['destination'])

    def undeclared(p):
        flows.append((None, 0, p))
        outs = run(p)
        for o in outs or []:
            what = f"{tag}undeclared {flow_name(p)}: {tr.short(o['probability'])} of flows"
            expect(o['destination'] is None, f"{what} DNATed to {o['destination']}")
            expect(o['snat'] is None, f"{what} source-NATed ({o['snat']})")
            if rules.coexist:
                expect(not o['marked'], f"{what} marked")
                if not handles(rules, ip(p['src']).version):
                    continue
                guarded = policy == 'drop' and to_server(ls, p)
                want = 'drop' if guarded else 'host'
                expect(o['forward'] == want, f"{what}: forward {o['forward']}, wanted {want} ("
                       + ('a new connection straight to a declared server' if guarded
                          else 'neither a listener nor a declared server: left to the host') + ')')
            elif policy == 'drop' and handles(rules, ip(p['src']).version):
                expect(o['forward'] == 'drop', f'{what} forwarded under policy drop')

    mine = [l for l in ls if rules.sees(l.family)]
    for l in mine:
        for dst in l.dsts:
            for port in l.ports:
                for src in l.srcs:
                    p = probe(l.proto, src, dst, port, l.iface)
                    if l.affinity:
                        declared(l, dict(p, anyhash=True))
                        problems = []
                        flows.append((l, len(l.active()), p))
                        certain(l, p, problems)
                        expect(not problems, f'{tag}' + '; '.join(problems))
                    else:
                        declared(l, p)

    # Affinity: a client's server is a function of its address, the same on
    # every listener, protocol, address and port of the route; over many
    # clients the shares follow the weights.
    groups = {}
    for l in mine:
        if l.affinity:
            groups.setdefault(l.route or id(l), []).append(l)
    for group in groups.values():
        first = group[0]
        srcs, enough = sample_clients(first, SAMPLE)
        problems, owner = [], {}
        for k, src in enumerate(srcs):
            p = probe(first.proto, src, first.dsts[0], first.ports[0], first.iface)
            owner[src] = certain(first, p, problems)
            if k >= SAMPLE_ALL:
                continue
            for x in group:
                for dst in x.dsts:
                    for port in x.ports:
                        if (x, dst, port) == (first, first.dsts[0], first.ports[0]):
                            continue
                        px = probe(x.proto, src, dst, port, x.iface)
                        got = certain(x, px, problems)
                        if got is not None and owner[src] is not None and got != owner[src]:
                            problems.append(f'{flow_name(px)}: server {got}, but {owner[src]} on '
                                            f'{flow_name(p)} (the same route)')
        name = f'{tag}route {first.route or first.name}: {len(srcs)} clients'
        expect(not problems, f'{name}: {len(problems)} problems, the first: ' + '; '.join(problems[:5]))
        slots = min((k[1] for k in used if k[0] == 'slots'), default=1)
        if enough and not problems:
            for dest, w in first.shares(first.ports[0]).items():
                got = sum(1 for o in owner.values() if o == host(dest)) / len(srcs)
                slack = 1 / slots + 4 * math.sqrt(w * (1 - w) / len(srcs))
                expect(abs(got - w) <= slack, f'{name}: {dest} got {got:.4f} of them, declared '
                       f'{float(w):.4f} +- {slack:.4f}')
    if groups:
        seeds = {k[1] for k in used if k[0] == 'seed'}
        want_seed = int(exp.get('affinity_seed', hex(AFFINITY_SEED)), 16)
        expect(seeds == {want_seed}, f'{tag}affinity hash seeds {sorted(hex(x) for x in seeds)}, '
               f'declared {hex(want_seed)}')

    # A dispatch or DNAT no declared flow reaches is a listener or a server
    # nobody declared (even in a slot no flow can draw today).
    for key, what in sorted(rules.translators().items(), key=lambda kv: kv[1]):
        expect(key in used, f'{tag}{what}: used by no declared listener')

    probes = [probe(u['proto'], u.get('src', exp.get('client6' if ip(u['dst']).version == 6 else 'client',
                                                      CLIENT[ip(u['dst']).version])),
                    u['dst'], u['dport'], u.get('iface')) for u in exp.get('undeclared', [])]
    for p in probes + [p for p in auto_probes(ls, exp, local) if not covered(ls, local, p)]:
        if rules.sees(ip(p['src']).version):
            undeclared(p)
    return flows


def to_server(ls, p):
    """Whether probe p is addressed to a declared server endpoint: its
    address, the listener's protocol, and its port, or the listener's ports
    when it keeps the port (drained servers too)."""
    for l in ls:
        for raw, a in l.servers:
            if a == ip(p['dst']) and p['proto'] == l.proto:
                lo, hi = (raw['port'], raw['port']) if raw.get('port') else (l.lo, l.hi)
                if lo <= p['dport'] <= hi:
                    return True
    return False


def handles(rules, family):
    """Whether the file filters connections of the family at all (an nft
    table of family ip does not see IPv6)."""
    if rules.format == 'nft':
        return family in tr.TABLE_FAMILIES[rules.rules.family]
    return rules.sees(family)


def same_as(rules, fmt, other, other_fmt, flows, local, expect, coexist=False):
    """Both targets must agree on every traced flow: the same outcomes, and
    shares equal to within the quantization either side may have."""
    have = (rules.forward_policy(), other.forward_policy())
    if coexist:     # neither decides what it leaves to the host
        have = tuple('pass' if h in ('accept', 'host') else h for h in have)
    expect(have[0] == have[1], f'forward policy: {fmt} {have[0]}, {other_fmt} {have[1]}')
    for l, n, p in flows:
        # A family one file does not filter at all (IPv6 past a `table ip`)
        # has nothing to compare.
        if not (handles(rules, ip(p['src']).version) and handles(other, ip(p['src']).version)):
            continue
        # One client's server depends on the target's hash (see above).
        if l is not None and l.affinity and not p.get('anyhash'):
            continue
        tol = max(tolerance(fmt, l, n), tolerance(other_fmt, l, n))
        name = flow_name(p)

        def outcomes(rs):
            res = rs.trace(**p, local=local)
            out = {}
            for o in res:
                fwd = o['forward']
                if coexist and fwd in ('accept', 'host'):
                    fwd = 'pass'
                k = (o['destination'], fwd, o['snat'], o['place'])
                out[k] = out.get(k, 0) + o['probability']
            return out
        mine, theirs = outcomes(rules), outcomes(other)
        for k in sorted(mine.keys() | theirs.keys(), key=str):
            a, b = mine.get(k, 0), theirs.get(k, 0)
            dest, fwd, snat, place = k
            expect(abs(a - b) <= tol and (a > 0) == (b > 0),
                   f'{name}: dest {dest or "not translated"} forward {fwd} snat {snat or "none"} from {place or "-"}:'
                   f' {fmt} {float(a):.12f} ({tr.short(a)}), {other_fmt} {float(b):.12f} ({tr.short(b)})'
                   + (f', allowed difference {n} * 2^-31' if tol else ', must be equal'))


if __name__ == '__main__':
    try:
        main()
    except Exception:   # a crash must not look like exit 1, "a check failed"
        traceback.print_exc()
        sys.exit(4)
