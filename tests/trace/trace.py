#!/usr/bin/env python3
"""Follow one NEW connection through a tcproutec ruleset, as the kernel would.

    trace.py FILE --proto tcp|udp --src ADDR --dst ADDR --dport PORT
             [--format iptables|ip6tables|nft] [--iface NAME] [--local ADDR]...
             [--any-client | --each-src FILE] [--json]
             [--coexist [--hooks SCRIPT]]

Path modelled: nat prerouting -> routing (always forward) -> filter forward
-> nat postrouting. Every reachable outcome is printed with its exact
probability (fractions.Fraction): for iptables the product of the
probabilities as printed in the file, for nft the number of map slots over
the numgen modulus.

The probe: --iface NAME is the interface the connection arrives on (`-i`,
`iifname`); without it, an interface the file does not name. --local ADDR
(repeatable) is an address of the host itself: it only tells `-m addrtype
--dst-type LOCAL` and `fib daddr type local` what is local (routing still
always forwards, so the forward chain is traced for every connection).

Affinity is a hash of the client address, as the kernel computes it:
iptables `-j HMARK` (xt_HMARK.c: with the one option set tcproutec emits,
the packet mark becomes reciprocal_scale(jhash_3words(0, SRC, 0, RND), MOD)
+ OFFSET, SRC the IPv4 address in host order, or for IPv6 the xor of its
four 32-bit words), then `-m mark --mark V/M` rules; nft `jhash ip saddr mod
MOD seed S [offset B]` as the last component of a map lookup (nft_hash.c:
reciprocal_scale(jhash(address bytes, 4 or 16, S), MOD) + B, jhash() the
byte-wise lookup3 of linux/jhash.h). A hash is a function of the source
address alone: the outcome of a client is certain (probability 1). With
--any-client the hash is instead drawn uniformly over its MOD values (as
numgen is): the outcomes are then the shares of the slot table, what a
large population of clients gets. --each-src FILE traces the flow once for
each source address in FILE (one a line) and prints "ADDR DESTINATION" per
line ("ADDR random" when the outcome is not certain, "ADDR none" when it is
not translated).

A file is read as one address family: iptables IPv4, ip6tables IPv6; nft
`table ip` IPv4, `table ip6` IPv6, `table inet` both. A connection of a
family the file does not see passes it untouched.

This is an independent oracle for tcproutec's output: it shares no code with
the compiler, and it accepts only the subset of iptables-save syntax described
in doc/iptables-output.md, or of `nft list ruleset` syntax described in
doc/nft-output.md. Anything else is a hard error (exit 2, with the line), so
a compiler change that emits something new cannot slip past a tracer that
silently ignores it. Exit 4: the tracer itself crashed.

--coexist (doc/coexist.md): the file shares the host. iptables: the file
holds only its own chains (a builtin chain declared in it is refused: under
`iptables-restore --noflush` it would set that chain's policy); the builtin
chains are the host's, and what reaches ours is the jumps the hooks script
(--hooks, of `tcproutec -t iptables --coexist --hooks`, read as emitted:
anything else in it is refused) installs as their first rules. What falls
off the end of our chains goes on to the host's own rules: forward "host".
nft: what falls off the table's forward chain (policy accept) is also
"host", left to the other tables; an explicit accept is "accept".

Each outcome also says whether our rules marked the connection (conntrack
or packet mark: "marked") and what becomes of its replies ("reply": the
forward verdict of a reply of a translated connection, traced through the
forward hook only, as conntrack sends it: state ESTABLISHED, the DNAT
status and the connection mark of the original).
"""
import argparse
import ipaddress
import json
import re
import sys
import traceback
from dataclasses import dataclass, field, replace
from fractions import Fraction

BUILTIN = {'filter': ('INPUT', 'FORWARD', 'OUTPUT'),
           'nat': ('PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING')}
# Hooks where the kernel lets each NAT target run (x_tables checks the hook
# mask of every rule reachable from a built-in chain).
TARGET_HOOKS = {'DNAT': {'PREROUTING', 'OUTPUT'},
                'SNAT': {'POSTROUTING', 'INPUT'},
                'MASQUERADE': {'POSTROUTING'}}
CTSTATES = {'INVALID', 'NEW', 'ESTABLISHED', 'RELATED', 'UNTRACKED', 'SNAT', 'DNAT'}
MAX_CHAIN = 28     # XT_EXTENSION_MAXNAMELEN - 1
MAX_COMMENT = 255  # XT_MAX_COMMENT_LEN - 1
# An interface name as tcproutec writes one (no `+` wildcard): IFNAMSIZ - 1.
IFNAME = r'[A-Za-z0-9_.-]{1,15}'
# -j HMARK: the one option set tcproutec emits (the whole source address,
# nothing else), as iptables-save prints it; RND, MOD and OFFSET vary.
HMARK_PREFIX = {4: '32', 6: '128'}
HMARK_FORM = ['--hmark-src-prefix', None, '--hmark-dst-prefix', '0', '--hmark-sport-mask', '0x0000',
              '--hmark-dport-mask', '0x0000', '--hmark-proto-mask', '0x00', '--hmark-rnd', None,
              '--hmark-mod', None, '--hmark-offset', None]
M32 = 0xffffffff
sys.set_int_max_str_digits(0)  # exact shares behind 1000 rules have ~18,000 digits


class ParseError(Exception):
    def __init__(self, line, msg):
        super().__init__(f'line {line}: {msg}')
        self.line, self.msg = line, msg

    def where(self, path):
        return f'{path}:{self.line}: error: {self.msg}'


class Quoted(str):
    """A token that was written in quotes: a value, never an option name."""


# ---------------------------------------------------------------------------
# The kernel's hashes (include/linux/jhash.h, net/netfilter/nft_hash.c,
# net/netfilter/xt_HMARK.c), on unsigned 32-bit values.

def _rol(x, k):
    return ((x << k) | (x >> (32 - k))) & M32


def _jhash_mix(a, b, c):
    a = (a - c) & M32; a ^= _rol(c, 4); c = (c + b) & M32      # noqa: E702
    b = (b - a) & M32; b ^= _rol(a, 6); a = (a + c) & M32      # noqa: E702
    c = (c - b) & M32; c ^= _rol(b, 8); b = (b + a) & M32      # noqa: E702
    a = (a - c) & M32; a ^= _rol(c, 16); c = (c + b) & M32     # noqa: E702
    b = (b - a) & M32; b ^= _rol(a, 19); a = (a + c) & M32     # noqa: E702
    c = (c - b) & M32; c ^= _rol(b, 4); b = (b + a) & M32      # noqa: E702
    return a, b, c


def _jhash_final(a, b, c):
    c ^= b; c = (c - _rol(b, 14)) & M32    # noqa: E702
    a ^= c; a = (a - _rol(c, 11)) & M32    # noqa: E702
    b ^= a; b = (b - _rol(a, 25)) & M32    # noqa: E702
    c ^= b; c = (c - _rol(b, 16)) & M32    # noqa: E702
    a ^= c; a = (a - _rol(c, 4)) & M32     # noqa: E702
    b ^= a; b = (b - _rol(a, 14)) & M32    # noqa: E702
    c ^= b; c = (c - _rol(b, 24)) & M32    # noqa: E702
    return c


def jhash(key, initval):
    """jhash(key, length, initval) of linux/jhash.h: lookup3 over bytes, the
    12-byte blocks read as little-endian words (__get_unaligned_cpu32 on
    x86), the tail added byte by byte (k[i] << 8 * (i % 4))."""
    n, k = len(key), 0
    a = b = c = (0xdeadbeef + n + initval) & M32
    while n > 12:
        a = (a + int.from_bytes(key[k:k + 4], 'little')) & M32
        b = (b + int.from_bytes(key[k + 4:k + 8], 'little')) & M32
        c = (c + int.from_bytes(key[k + 8:k + 12], 'little')) & M32
        a, b, c = _jhash_mix(a, b, c)
        n, k = n - 12, k + 12
    if n == 0:
        return c
    tail = key[k:] + bytes(12 - n)
    a = (a + int.from_bytes(tail[0:4], 'little')) & M32
    b = (b + int.from_bytes(tail[4:8], 'little')) & M32
    c = (c + int.from_bytes(tail[8:12], 'little')) & M32
    return _jhash_final(a, b, c)


def jhash_3words(a, b, c, initval):
    """jhash_3words of linux/jhash.h (__jhash_nwords)."""
    iv = (initval + 0xdeadbeef + (3 << 2)) & M32
    return _jhash_final((a + iv) & M32, (b + iv) & M32, (c + iv) & M32)


def reciprocal_scale(h, n):
    """linux/kernel.h: (u32)(((u64) h * n) >> 32)."""
    return (h * n) >> 32


def nft_jhash(a, seed, mod, offset=0):
    """nft `jhash ip saddr mod MOD seed SEED offset OFFSET` for address a:
    the address bytes in network order (the register), length 4 or 16."""
    return (reciprocal_scale(jhash(a.packed, seed), mod) + offset) & M32


def hmark(a, rnd, mod, offset=0):
    """The packet mark -j HMARK sets with the emitted option set (source
    prefix whole, destination prefix 0, port and protocol masks 0):
    t.src = the source (IPv6: the xor of its four 32-bit words), t.dst = 0,
    ports and proto 0; hmark_hash swaps src and dst when dst < src."""
    p = a.packed
    src = 0
    for i in range(0, len(p), 4):
        src ^= int.from_bytes(p[i:i + 4], 'big')    # ntohl of the xor = xor of the ntohl
    lo, hi = (0, src) if 0 < src else (src, 0)
    return (reciprocal_scale(jhash_3words(lo, hi, 0, rnd), mod) + offset) & M32


def tokenize(text, ln):
    """Split a rule line as iptables-save prints it: single spaces between
    tokens, a value may be "quoted" with \\" \\\\ \\' escapes (nothing else)."""
    toks, i, n = [], 0, len(text)
    while i < n:
        if text[i] == '"':
            i, buf = i + 1, []
            while True:
                if i >= n:
                    raise ParseError(ln, 'unterminated quoted value')
                c = text[i]
                if c == '"':
                    i += 1
                    break
                if c == '\\':
                    if i + 1 >= n or text[i + 1] not in '"\\\'':
                        raise ParseError(ln, 'bad escape in quoted value')
                    c, i = text[i + 1], i + 1
                buf.append(c)
                i += 1
            toks.append(Quoted(''.join(buf)))
            end = i
        else:
            end = text.find(' ', i)
            end = n if end < 0 else end
            tok = text[i:end]
            if not tok or '"' in tok or '\\' in tok:
                raise ParseError(ln, 'not in iptables-save form (spacing or quoting)')
            toks.append(tok)
        if end < n and (text[end] != ' ' or end + 1 == n):
            raise ParseError(ln, 'not in iptables-save form (spacing or quoting)')
        i = end + 1
    return toks


def net(tok, ln, family=4):
    # iptables-save always prints the prefix and never host bits.
    if '/' not in tok:
        raise ParseError(ln, f'address without /prefix: {tok}')
    try:
        n = ipaddress.ip_network(tok, strict=True)
    except ValueError as e:
        raise ParseError(ln, f'bad network {tok}: {e}')
    if n.version != family:
        raise ParseError(ln, f'IPv{n.version} network in an IPv{family} ruleset: {tok}')
    if str(n) != tok:
        raise ParseError(ln, f'network not in canonical form: {tok}')
    return n


def addr(tok, ln, family=None):
    """An address as the tools print it: canonical, of the given family."""
    try:
        a = ipaddress.ip_address(tok)
    except ValueError:
        raise ParseError(ln, f'bad address: {tok}')
    if family is not None and a.version != family:
        raise ParseError(ln, f'IPv{a.version} address where IPv{family} belongs: {tok}')
    if str(a) != tok:
        raise ParseError(ln, f'address not in canonical form: {tok}')
    return a


class SnatRange:
    """An snat range FIRST-LAST (first < last), printed as written."""
    def __init__(self, lo, hi):
        self.lo, self.hi, self.version = lo, hi, lo.version

    def __str__(self):
        return f'{self.lo}-{self.hi}'


def snat_to(tok, ln, family=None):
    """SNAT's address: A, A-B (iptables-save, nft) or A/N (nft lists an
    aligned range as a prefix); a range must end after it starts."""
    if '/' in tok:
        try:
            n = ipaddress.ip_network(tok, strict=True)
        except ValueError:
            raise ParseError(ln, f'bad snat prefix: {tok}')
        if family is not None and n.version != family:
            raise ParseError(ln, f'IPv{n.version} prefix where IPv{family} belongs: {tok}')
        if n.num_addresses == 1:
            raise ParseError(ln, f'a one-address snat prefix is printed as the address: {tok}')
        return SnatRange(n.network_address, n.broadcast_address)
    lo, dash, hi = tok.partition('-')
    a = addr(lo, ln, family)
    if not dash:
        return a
    b = addr(hi, ln, a.version)
    if int(b) <= int(a):
        raise ParseError(ln, f'snat range does not end after it starts: {tok}')
    return SnatRange(a, b)


def number(tok, ln, lo, hi, base=10):
    try:
        v = int(tok, base)
    except ValueError:
        raise ParseError(ln, f'bad number: {tok}')
    if not lo <= v <= hi:
        raise ParseError(ln, f'{tok} out of range {lo}-{hi}')
    return v


def mark(tok, ln):
    # Marks are printed as hex VALUE/MASK.
    m = re.fullmatch(r'(0x[0-9a-f]+)/(0x[0-9a-f]+)', tok)
    if not m:
        raise ParseError(ln, f'bad mark (want 0xVALUE/0xMASK): {tok}')
    return number(m[1], ln, 0, 2**32 - 1, 16), number(m[2], ln, 0, 2**32 - 1, 16)


def endpoint(a, port):
    """ADDR:PORT, [ADDR6]:PORT: how outcomes name a destination."""
    return f'[{a}]:{port}' if a.version == 6 else f'{a}:{port}'


@dataclass
class Rule:
    line: int
    src: tuple = None        # (network, negated)
    dst: tuple = None
    proto: tuple = None      # ('tcp', negated)
    dport: tuple = None      # (lo, hi) from -m tcp/udp
    iface: str = None        # -i NAME
    local: bool = False      # -m addrtype --dst-type LOCAL
    pmark: tuple = None      # -m mark: the packet mark (value, mask, negated)
    comment: str = None
    prob: Fraction = Fraction(1)   # statistic: chance that the rule matches
    connmark: tuple = None   # (value, mask, negated)
    ctstate: tuple = None    # ((frozenset, negated), ...): each -m conntrack --ctstate
    target: str = None
    to: tuple = None         # DNAT (addr, port|None); SNAT (addr, None)
    xmark: tuple = None      # CONNMARK (value, mask)
    hmark: tuple = None      # HMARK (rnd, mod, offset)

    def place(self):
        return place_of(self.comment)


def place_of(comment):
    """The FILE:LINE the compiler put at the front of a comment."""
    if comment is None:
        return None
    m = re.match(r'[^:\s]+:\d+', comment)
    return m[0] if m else comment


# Options only the nat table's rules carry (dispatch and affinity); anywhere
# else they are outside the emitted subset.
NAT_ONLY = {'-i', '-m addrtype', '-m mark'}


def parse_rule(toks, ln, family=4, table='nat'):
    r = Rule(ln)
    i, neg, module, seen = 0, False, None, set()

    def arg():
        nonlocal i
        if i + 1 >= len(toks):
            raise ParseError(ln, f'{toks[i]} needs a value')
        i += 1
        return toks[i]

    def once(key):
        if key in seen:
            raise ParseError(ln, f'{key} given twice')
        seen.add(key)

    while i < len(toks):
        t = toks[i]
        if t == '!':
            if neg or i + 1 >= len(toks) or toks[i + 1] not in ('-s', '-d', '-p', '--mark', '--ctstate'):
                raise ParseError(ln, 'unsupported use of !')
            neg = True
            i += 1
            continue
        if isinstance(t, Quoted):
            raise ParseError(ln, f'quoted token where an option belongs: {t}')
        if t != '-m':
            once(f'{module} {t}' if t == '--mark' else
                 f'{t} {len(r.ctstate or ())}' if t == '--ctstate' else t)
        if t in NAT_ONLY and table != 'nat':
            raise ParseError(ln, f'{t} outside the nat table')
        if t in ('-s', '-d'):
            setattr(r, 'src' if t == '-s' else 'dst', (net(arg(), ln, family), neg))
        elif t == '-i':
            name = arg()
            if isinstance(name, Quoted) or not re.fullmatch(IFNAME, name):
                raise ParseError(ln, f'bad interface name (no wildcard, 1-15 of [A-Za-z0-9_.-]): {name}')
            r.iface = name
        elif t == '-p':
            p = arg()
            if p not in ('tcp', 'udp'):
                raise ParseError(ln, f'unsupported protocol {p}')
            r.proto = (p, neg)
        elif t == '-m':
            module = arg()
            # --coexist's guard: -m conntrack --ctstate NEW -m conntrack ! --ctstate DNAT
            once('-m ' + module + (f' {len(r.ctstate or ())}' if module == 'conntrack' else ''))
            if '-m ' + module in NAT_ONLY and table != 'nat':
                raise ParseError(ln, f'-m {module} outside the nat table')
            # An nth counter counts every packet that reaches its match, so a
            # later match that rejects some would skew the shares.
            if '-m statistic' in seen and module not in ('comment', 'statistic'):
                raise ParseError(ln, f'-m {module} after -m statistic')
            if module not in ('tcp', 'udp', 'comment', 'statistic', 'connmark', 'conntrack',
                              'addrtype', 'mark'):
                raise ParseError(ln, f'unsupported match module {module}')
            # The kernel refuses -m tcp unless the rule says -p tcp.
            if module in ('tcp', 'udp') and r.proto != (module, False):
                raise ParseError(ln, f'-m {module} without -p {module}')
        elif t == '--dport' and module in ('tcp', 'udp'):
            lo, _, hi = arg().partition(':')
            r.dport = (number(lo, ln, 1, 65535), number(hi or lo, ln, 1, 65535))
            if r.dport[0] > r.dport[1]:
                raise ParseError(ln, 'empty port range')
        elif t == '--dst-type' and module == 'addrtype':
            if arg() != 'LOCAL':
                raise ParseError(ln, f'unsupported --dst-type {toks[i]} (only LOCAL)')
            r.local = True
        elif t == '--comment' and module == 'comment':
            r.comment = arg()
            if len(r.comment.encode()) > MAX_COMMENT:
                raise ParseError(ln, 'comment longer than the kernel keeps')
        elif t == '--mode' and module == 'statistic':
            mode = arg()
            if mode == 'random':
                i += 1
                if toks[i:i + 1] != ['--probability']:
                    raise ParseError(ln, '--mode random needs --probability')
                p = arg()
                if not re.fullmatch(r'[01]\.\d+', p) or not 0 <= Fraction(p) <= 1:
                    raise ParseError(ln, f'bad probability {p}')
                r.prob = Fraction(p)  # exactly as printed
            elif mode == 'nth':
                i += 1
                if toks[i:i + 1] != ['--every']:
                    raise ParseError(ln, '--mode nth needs --every')
                every = number(arg(), ln, 1, 2**31)
                i += 1
                if toks[i:i + 2] != ['--packet', '0']:
                    raise ParseError(ln, 'only --packet 0 is supported')
                i += 1
                # A per-rule counter: over a stream it matches 1/N of what reaches it.
                r.prob = Fraction(1, every)
            else:
                raise ParseError(ln, f'unsupported statistic mode {mode}')
        elif t == '--mark' and module == 'connmark':
            r.connmark = (*mark(arg(), ln), neg)
        elif t == '--mark' and module == 'mark':
            r.pmark = (*mark(arg(), ln), neg)
        elif t == '--ctstate' and module == 'conntrack':
            states = frozenset(arg().split(','))
            if not states <= CTSTATES:
                raise ParseError(ln, f'unknown ctstate in {sorted(states)}')
            r.ctstate = (r.ctstate or ()) + ((states, neg),)
        elif t == '-j':
            r.target = arg()
            i += 1
            return parse_target(r, toks[i:], ln, family)
        else:
            raise ParseError(ln, f'unsupported option {t}' + (f' after -m {module}' if module else ''))
        neg = False
        i += 1
    return r


def parse_target(r, opts, ln, family=4):
    if r.target == 'HMARK':
        # Exactly what iptables-save prints for the emitted option set.
        form = list(HMARK_FORM)
        form[1] = HMARK_PREFIX[family]
        if len(opts) != len(form) or any(f is not None and o != f for o, f in zip(opts, form)) \
                or any(isinstance(o, Quoted) for o in opts):
            raise ParseError(ln, '-j HMARK outside the emitted option set (' + ' '.join(
                f or 'N' for f in form) + ')')
        if not re.fullmatch(r'0x[0-9a-f]{8}', opts[11]):
            raise ParseError(ln, f'--hmark-rnd not as iptables-save prints it (0x%08x): {opts[11]}')
        r.hmark = (int(opts[11], 16), number(opts[13], ln, 1, M32), number(opts[15], ln, 0, M32))
        return r
    want = {'DNAT': '--to-destination', 'SNAT': '--to-source',
            'CONNMARK': '--set-xmark'}.get(r.target)
    if want is None:
        if opts:
            raise ParseError(ln, f'unexpected {opts[0]} after -j {r.target}')
        return r
    # An SNAT range picks its ports at random (the emitted form).
    if r.target == 'SNAT' and len(opts) == 3 and opts[2] == '--random-fully':
        if '-' not in opts[1]:
            raise ParseError(ln, '--random-fully on a single snat address')
        opts = opts[:2]
    elif r.target == 'SNAT' and len(opts) == 2 and '-' in opts[1]:
        raise ParseError(ln, 'an snat range without --random-fully')
    if len(opts) != 2 or opts[0] != want:
        raise ParseError(ln, f'-j {r.target} takes exactly {want} VALUE')
    v = opts[1]
    if r.target == 'CONNMARK':
        r.xmark = mark(v, ln)
    elif r.target == 'SNAT':
        r.to = (snat_to(v, ln, family), None)
    else:
        # IPv4: A or A:P; IPv6: A6 or [A6]:P (iptables-save's forms).
        if family == 6:
            m = re.fullmatch(r'\[([^]]+)\]:(\d+)', v)
            a, port = (m[1], m[2]) if m else (v, None)
        else:
            a, colon, port = v.partition(':')
            port = port if colon else None
        r.to = (addr(a, ln, family), number(port, ln, 1, 65535) if port is not None else None)
        # "Need TCP, UDP, SCTP or DCCP with port specification"
        if port is not None and (r.proto is None or r.proto[1]):
            raise ParseError(ln, 'DNAT to a port needs -p tcp or -p udp')
    return r


@dataclass
class Chain:
    name: str
    policy: str    # ACCEPT / DROP for built-ins, None for user chains
    line: int
    rules: list = field(default_factory=list)


def parse(text, family=4, hooks=None):
    """Returns {table: {chain: Chain}}. Raises ParseError on anything outside
    the subset. hooks: the jumps of a --coexist hooks script (parse_hooks),
    added as the first rules of the builtin chains, which the file must
    not declare."""
    tables, cur = {}, None
    for ln, line in enumerate(text.split('\n'), 1):
        if line == '' or line.startswith('#'):
            continue
        if line.startswith('*'):
            name = line[1:]
            if cur is not None:
                raise ParseError(ln, 'table started before COMMIT')
            if name not in BUILTIN or name in tables:
                raise ParseError(ln, f'unsupported or repeated table {name}')
            cur = tables[name] = {}
            tname = name
        elif cur is None:
            raise ParseError(ln, 'outside a table block')
        elif line == 'COMMIT':
            cur = None
        elif line.startswith(':'):
            m = re.fullmatch(r':(\S+) (\S+) \[\d+:\d+\]', line)
            if not m:
                raise ParseError(ln, 'bad chain line')
            name, pol = m[1], m[2]
            builtin = name in BUILTIN[tname]
            # nat built-ins: ACCEPT only, as emitted (iptables refuses -j DROP in nat too).
            ok = (('ACCEPT', 'DROP') if tname == 'filter' else ('ACCEPT',)) if builtin else ('-',)
            if pol not in ok or name in cur or len(name) > MAX_CHAIN:
                raise ParseError(ln, f'bad chain declaration for {name}')
            cur[name] = Chain(name, pol if builtin else None, ln)
        elif line.startswith('-A '):
            toks = tokenize(line, ln)
            if len(toks) < 2 or toks[1] not in cur:
                raise ParseError(ln, '-A to an undeclared chain')
            cur[toks[1]].rules.append(parse_rule(toks[2:], ln, family, tname))
        else:
            raise ParseError(ln, 'unrecognised line')
    if cur is not None:
        raise ParseError(ln, 'missing COMMIT at end of file')
    if hooks is not None:
        add_hooks(tables, hooks)
    check(tables)
    return tables


# The hooks script of `tcproutec -t iptables|ip6tables --coexist --hooks`,
# as emitted: its two functions, word for word (`first` must insert the jump
# as rule 1 and delete every other copy), then `chain TABLE NAME` and
# `first TABLE BUILTIN TARGET` lines. Comments and blank lines aside,
# anything else is outside the subset.
HOOKS_HEAD = [
    'set -eu',
    None,   # ipt=${IPTABLES:-iptables} or ipt=${IP6TABLES:-ip6tables}
    'chain() {',
    '\t"$ipt" -w -t "$1" -N "$2" 2>/dev/null ||',
    '\t\t"$ipt" -w -t "$1" -n -L "$2" >/dev/null',
    '}',
    'first() {',
    '\tif [ "$("$ipt" -w -t "$1" -S "$2" 1 2>/dev/null)" = \\',
    '\t\t"-A $2 -m comment --comment tcproutec -j $3" ]; then',
    '\t\treturn 0',
    '\tfi',
    '\twhile "$ipt" -w -t "$1" -D "$2" -m comment --comment tcproutec \\',
    '\t\t-j "$3" 2>/dev/null; do :; done',
    '\t"$ipt" -w -t "$1" -I "$2" 1 -m comment --comment tcproutec -j "$3"',
    '}',
]
HOOKS_TOOL = {4: 'ipt=${IPTABLES:-iptables}', 6: 'ipt=${IP6TABLES:-ip6tables}'}


def parse_hooks(text, family=4):
    """[(line, table, builtin, target)] of the jumps the script installs,
    and the chains it creates: {(table, name)}."""
    lines = text.split('\n')
    if lines[:1] != ['#!/bin/sh']:
        raise ParseError(1, 'a hooks script starts with #!/bin/sh')
    body = [(ln, line) for ln, line in enumerate(lines, 1) if line and not line.startswith('#')]
    head = list(HOOKS_HEAD)
    head[1] = HOOKS_TOOL[family]
    for k, want in enumerate(head):
        if k >= len(body) or body[k][1] != want:
            ln = body[k][0] if k < len(body) else len(lines)
            raise ParseError(ln, f'not the hooks script as emitted: expected {want!r}')
    jumps, made = [], set()
    for ln, line in body[len(head):]:
        if (m := re.fullmatch(r'chain (nat|filter) (\S+)', line)):
            made.add((m[1], m[2]))
        elif (m := re.fullmatch(r'first (nat|filter) (\S+) (\S+)', line)):
            if m[2] not in BUILTIN[m[1]]:
                raise ParseError(ln, f'a hook from {m[2]}, not a builtin chain of {m[1]}')
            if (m[1], m[3]) not in made:
                raise ParseError(ln, f'a jump to {m[3]}, which the script does not create')
            if any((t, b) == (m[1], m[2]) for _, t, b, _ in jumps):
                raise ParseError(ln, f'a second hook from {m[1]} {m[2]}')
            jumps.append((ln, m[1], m[2], m[3]))
        else:
            raise ParseError(ln, 'unrecognised line in a hooks script')
    if not jumps:
        raise ParseError(len(lines), 'a hooks script that installs no jump')
    return jumps, made


def add_hooks(tables, hooks):
    """The host's builtin chains, as the hooks leave them: our jump first,
    then the host's own rules (not modelled: a flow that falls off our
    chains gets the policy 'HOST', left to the host). A chain the script
    creates and the file does not fill is empty."""
    jumps, made = hooks
    for tname, chains in tables.items():
        for c in chains.values():
            if c.policy is not None:
                raise ParseError(c.line, f'a --coexist file declares the builtin chain {c.name} '
                                 f'(iptables-restore --noflush would set its policy)')
    for tname, name in made:
        tables.setdefault(tname, {}).setdefault(name, Chain(name, None, 0))
    for ln, tname, builtin, target in jumps:
        c = tables.setdefault(tname, {}).setdefault(
            builtin, Chain(builtin, 'HOST' if tname == 'filter' else 'ACCEPT', -ln))
        # Hook lines are numbered below zero: hits never mix them with the file's.
        c.rules.insert(0, Rule(-ln, comment='tcproutec', target=target))


def check(tables):
    """What a real load would refuse and --test would not: jumps to missing or
    built-in chains, loops, NAT targets in the wrong table or hook, -i where
    no input interface exists."""
    for tname, chains in tables.items():
        for c in chains.values():
            for r in c.rules:
                t = r.target
                if t in ('ACCEPT', 'RETURN', None) or t in TARGET_HOOKS or t in ('CONNMARK', 'HMARK'):
                    if (t in TARGET_HOOKS or t == 'HMARK') and tname != 'nat':
                        raise ParseError(r.line, f'-j {t} outside the nat table')
                elif t == 'DROP':
                    if tname == 'nat':
                        raise ParseError(r.line, 'DROP in the nat table')
                elif t not in chains or chains[t].policy is not None:
                    raise ParseError(r.line, f'jump to missing or built-in chain {t}')

        def walk(c, hook, stack):
            if c.name in stack:
                raise ParseError(c.line, f'loop through chain {c.name}')
            for r in c.rules:
                if r.target in TARGET_HOOKS and hook not in TARGET_HOOKS[r.target]:
                    raise ParseError(r.line, f'-j {r.target} reachable from {hook}')
                if r.iface and hook in ('OUTPUT', 'POSTROUTING'):
                    raise ParseError(r.line, f'-i reachable from {hook}')
                if r.target in chains:
                    walk(chains[r.target], hook, stack + [c.name])
        for hook in BUILTIN[tname]:
            if hook in chains:
                walk(chains[hook], hook, [])


@dataclass(frozen=True)
class Conn:
    proto: str
    src: object              # ipaddress.IPv4Address or IPv6Address
    dst: object
    dport: int
    iface: str = None        # input interface; None: one the file does not name
    local: frozenset = frozenset()   # the host's own addresses (--local)
    anyhash: bool = False    # a hash of the source is drawn over its range (--any-client)
    mark: int = 0            # the conntrack mark
    pmark: int = 0           # the packet mark (-j HMARK, -m mark)
    dnat: tuple = None       # (addr, port) after DNAT
    place: str = None        # where the DNAT rule came from
    snat: str = None         # address or 'masquerade'
    state: str = 'new'       # 'new', or 'reply': a reply of an established connection

    @property
    def family(self):
        return self.src.version


def matches(r, c):
    """Every match of r except statistic (which is the rule's probability)."""
    def neg(ok, inv):
        return ok != inv
    if r.src and not neg(c.src in r.src[0], r.src[1]):
        return False
    if r.dst and not neg(c.dst in r.dst[0], r.dst[1]):
        return False
    if r.iface is not None and c.iface != r.iface:
        return False
    if r.proto and not neg(c.proto == r.proto[0], r.proto[1]):
        return False
    if r.local and c.dst not in c.local:
        return False
    if r.dport and not r.dport[0] <= c.dport <= r.dport[1]:
        return False
    if r.connmark and not neg(c.mark & r.connmark[1] == r.connmark[0], r.connmark[2]):
        return False
    if r.ctstate:
        # A new connection is NEW; DNAT once PREROUTING translated it (a
        # status of the conntrack entry: its replies have it too).
        have = {'NEW' if c.state == 'new' else 'ESTABLISHED'} | ({'DNAT'} if c.dnat else set())
        if not all(neg(bool(have & st), inv) for st, inv in r.ctstate):
            return False
    if r.pmark and not neg(c.pmark & r.pmark[1] == r.pmark[0], r.pmark[2]):
        return False
    return True


def run(chains, name, conn, hits):
    """All ways through chain `name`: list of (prob, conn, verdict), verdict
    'ACCEPT', 'DROP' or None (fell off the end or RETURN). Adds to `hits` the
    ('rule', LINE) of every rule a flow takes with a probability above 0."""
    out, rules = [], chains[name].rules

    def go(i, c, p):
        while i < len(rules):
            r = rules[i]
            if matches(r, c) and r.prob > 0:
                take(i, r, c, p * r.prob)
                if r.prob == 1:
                    return
                p *= 1 - r.prob    # the complement falls through
            i += 1
        out.append((p, c, None))

    def take(i, r, c, p):
        hits.add(('rule', r.line))
        t = r.target
        if t is None:
            go(i + 1, c, p)
        elif t == 'CONNMARK':
            v, m = r.xmark
            go(i + 1, replace(c, mark=(c.mark & ~m & 0xffffffff) ^ v), p)
        elif t == 'HMARK':
            rnd, mod, off = r.hmark
            hits.add(('seed', rnd))
            hits.add(('slots', mod))
            if c.anyhash:       # every value of the hash, each 1/mod
                for v in range(mod):
                    go(i + 1, replace(c, pmark=(v + off) & M32), p / mod)
            else:
                go(i + 1, replace(c, pmark=hmark(c.src, rnd, mod, off)), p)
        elif t == 'RETURN':
            out.append((p, c, None))
        elif t in ('ACCEPT', 'DROP'):
            out.append((p, c, t))
        elif t == 'DNAT':
            a, port = r.to
            # NAT targets end the nat table's traversal for this hook.
            out.append((p, replace(c, dst=a, dport=port or c.dport, dnat=(a, port or c.dport),
                                   place=r.place()), 'ACCEPT'))
        elif t in ('SNAT', 'MASQUERADE'):
            out.append((p, replace(c, snat=str(r.to[0]) if r.to else 'masquerade'), 'ACCEPT'))
        else:
            for q, c2, v in run(chains, t, c, hits):
                if v is None:
                    go(i + 1, c2, p * q)
                else:
                    out.append((p * q, c2, v))

    go(0, conn, Fraction(1))
    return out


def hook(tables, table, name, flows, hits):
    """Run built-in chain table/name on each (prob, conn); apply its policy."""
    chains = tables.get(table, {})
    if name not in chains:   # table not in the file: nothing there, accept
        return [(p, c, 'ACCEPT') for p, c in flows]
    res = []
    for p, c in flows:
        for q, c2, v in run(chains, name, c, hits):
            res.append((p * q, c2, v or chains[name].policy))
    return res


REPLY_PORT = 40000   # the client's port, where a reply is addressed


def reply_verdict(run_hook, c):
    """The forward verdict of a reply of translated connection c: from the
    server to the client, ESTABLISHED, with c's DNAT status and conntrack
    mark (nat chains see only a connection's first packet)."""
    r = Conn(c.proto, c.dnat[0], c.src, REPLY_PORT, local=c.local, mark=c.mark,
             dnat=c.dnat, state='reply')
    verdicts = {v for _, _, v in run_hook('forward', [(Fraction(1), r)])}
    return verdicts.pop().lower() if len(verdicts) == 1 else 'mixed'


def follow(run_hook, conn):
    """The outcomes of one new connection, whatever the format:
    run_hook(HOOK, [(prob, conn)]) -> [(prob, conn, 'ACCEPT'|'DROP'|'HOST')]
    for HOOK prerouting, forward, postrouting. Outcomes with the same
    (destination, forward, snat, place, marked, reply) are added up."""
    outcomes = {}
    for p, c, v in run_hook('prerouting', [(Fraction(1), conn)]):
        assert v == 'ACCEPT'  # no drop in nat chains (refused by both parsers)
        for p2, c2, fv in run_hook('forward', [(p, c)]):
            # Only a forwarded packet reaches postrouting (and its SNAT);
            # one left to the host may be, when the host accepts it.
            post = run_hook('postrouting', [(p2, c2)]) if fv != 'DROP' else [(p2, c2, None)]
            for p3, c3, _ in post:
                reply = reply_verdict(run_hook, c3) if c3.dnat and fv != 'DROP' else None
                key = (endpoint(*c3.dnat) if c3.dnat else None, fv.lower(), c3.snat, c3.place,
                       bool(c3.mark or c3.pmark), reply)
                outcomes[key] = outcomes.get(key, 0) + p3
    return outcome_list(outcomes)


def outcome_list(outcomes):
    return [dict(probability=p, destination=k[0], forward=k[1], snat=k[2], place=k[3],
                 marked=k[4], reply=k[5])
            for k, p in sorted(outcomes.items(), key=lambda kv: tuple(str(x) for x in kv[0]))
            if p]


def trace(tables, conn, hits=None):
    """iptables: every outcome of one new connection (see follow)."""
    hits = set() if hits is None else hits
    where = {'prerouting': ('nat', 'PREROUTING'), 'forward': ('filter', 'FORWARD'),
             'postrouting': ('nat', 'POSTROUTING')}
    return follow(lambda h, flows: hook(tables, *where[h], flows, hits), conn)


# ---------------------------------------------------------------------------
# nft: the one-table file of doc/nft-output.md, in `nft list ruleset` form.
#
# The model: a map is a list of elements, each key a tuple of intervals
# (address, interface name, protocol number, port, slot), non-overlapping;
# only the last component may be a range. A lookup whose key ends in
# `numgen random|inc mod W [offset K]` does not pick one slot: it returns
# every element with (slots of it in K..K+W-1) / W, and the rest of the mass
# as a miss. A miss means the rule does not match and the next rule runs
# (nft's NFT_BREAK), exactly as for a real lookup. `numgen random` draws each
# slot with probability 1/W; `numgen inc` is a per-rule rotation, counted as
# 1/W a slot over one full cycle. (The kernel scales a 32-bit random number
# onto the W slots, so a slot's real chance is 1/W to within 2^-32: a
# property of the kernel, not of the file checked.)
# `ip ...` and `ip6 ...` expressions carry their family: in an inet table an
# `ip daddr` lookup does not match an IPv6 packet. A `dnat ip`/`snat ip` on a
# packet of the other family does nothing (nft_nat_inet_eval) and the next
# rule runs. A chain entered by goto that falls off its end or says `return`
# ends the base chain that started it: its policy applies.

NFT_NAME = r'[A-Za-z_.][A-Za-z0-9_./-]*'   # nft scanner.l "string" (identifiers)
NFT_NUM = r'(?:0|[1-9][0-9]*)'             # decimal, as nft prints it
NFT_MAXNAME = 255                          # NFT_{TABLE,CHAIN,SET}_MAXNAMELEN - 1
NFT_MAXCOMMENT = 128                       # NFTNL_UDATA_COMMENT_MAXLEN
PROTO_NUM = {'tcp': 6, 'udp': 17}
FAMILY_OF = {'ip': 4, 'ip6': 6}
TABLE_FAMILIES = {'ip': {4}, 'ip6': {6}, 'inet': {4, 6}}
# hook -> (chain type, priority, policies), the base chains tcproutec emits.
NFT_BASE = {'prerouting': ('nat', 'dstnat', ('accept',)),
            'postrouting': ('nat', 'srcnat', ('accept',)),
            'forward': ('filter', 'filter', ('accept', 'drop'))}
# Hooks where the kernel lets each NAT statement run (nft_nat_validate,
# nft_masq_validate), as TARGET_HOOKS for x_tables.
NFT_NAT_HOOKS = {'dnat': {'prerouting', 'output'}, 'dnatto': {'prerouting', 'output'},
                 'snat': {'postrouting', 'input'}, 'masquerade': {'postrouting'}}
# One component of a concatenation: its text and its nft datatype.
KEY_PART = re.compile(rf'iifname|ip daddr|ip6 daddr|meta l4proto|th dport'
                      rf'|numgen (random|inc) mod ({NFT_NUM})(?: offset ({NFT_NUM}))?'
                      rf'|jhash (ip|ip6) saddr mod ({NFT_NUM}) seed (0x(?:0|[1-9a-f][0-9a-f]{{0,7}}))'
                      rf'(?: offset ([1-9][0-9]*))?')
KEY_TYPE = {'iifname': 'ifname', 'ip daddr': 'ipv4_addr', 'ip6 daddr': 'ipv6_addr',
            'meta l4proto': 'inet_proto', 'th dport': 'inet_service'}
KEY_FAMILY = {'ip daddr': 4, 'ip6 daddr': 6}
# typeof data of a map -> (kind, family): verdict, address . port, or address
# alone (the port is kept).
MAP_DATA = {'verdict': ('verdict', None),
            'ip daddr . th dport': ('addrport', 4), 'ip6 daddr . th dport': ('addrport', 6),
            'ip daddr': ('addr', 4), 'ip6 daddr': ('addr', 6)}
HEX32 = r'(0x[0-9a-f]{8})'                 # nft prints marks as 0x%08x


@dataclass(frozen=True)
class KeyPart:
    what: str                 # 'ip daddr', 'iifname', ... 'numgen' or 'jhash'
    mode: str = None          # numgen: 'random' or 'inc'; jhash: 'ip' or 'ip6'
    mod: int = None
    offset: int = 0
    seed: int = None          # jhash

    @property
    def type(self):
        return KEY_TYPE.get(self.what, 'integer')


def key_expr(text, ln, allow_offset=True):
    """`ip daddr . meta l4proto . th dport . numgen random mod 3` -> [KeyPart].
    `jhash ip saddr mod M seed S [offset B]` as nft lists it: the seed in
    hex (without one nft draws a random seed at each load, and two gateways
    would disagree: refused), no `offset 0`."""
    parts = []
    for word in text.split(' . '):
        m = KEY_PART.fullmatch(word)
        if not m:
            raise ParseError(ln, f'unsupported expression in a concatenation: {word}')
        if m[1] is None and m[4] is None:
            parts.append(KeyPart(word))
            continue
        what = 'numgen' if m[1] else 'jhash'
        mod, off = (int(m[2]), int(m[3] or 0)) if m[1] else (int(m[5]), int(m[7] or 0))
        # nft_jhash_init: "modulus <= 1" is ERANGE; numgen takes 1.
        if not (1 if m[1] else 2) <= mod <= M32 or off + mod - 1 > M32:
            raise ParseError(ln, f'{what} modulus/offset out of range: {word}')
        if (m[3] or m[7]) is not None and not allow_offset:
            raise ParseError(ln, f'offset in a typeof: {word}')
        if m[1]:
            parts.append(KeyPart('numgen', m[1], mod, off))
        else:
            parts.append(KeyPart('jhash', m[4], mod, off, int(m[6], 16)))
    # A generator or hash anywhere but last is not emitted, and the lookup
    # model (one interval of slots against the last key component) needs it last.
    if any(p.what in ('numgen', 'jhash') for p in parts[:-1]):
        raise ParseError(ln, 'numgen and jhash are only supported as the last component of a key')
    if len({p.what for p in parts}) != len(parts):
        raise ParseError(ln, f'a component twice in {text}')
    return parts


def key_family(parts):
    fams = {KEY_FAMILY[p.what] for p in parts if p.what in KEY_FAMILY} \
        | {FAMILY_OF[p.mode] for p in parts if p.what == 'jhash'}
    return fams.pop() if fams else None


@dataclass
class Element:
    line: int
    key: tuple        # one (lo, hi) interval per component
    text: str         # the key as written, for messages
    comment: str
    data: tuple       # ('goto', CHAIN) or ('to', address, port or None)


@dataclass
class Map:
    name: str
    line: int
    key: list = None          # [KeyPart] from typeof
    data: tuple = None        # MAP_DATA value
    interval: bool = False
    counter: bool = False     # `counter`: every element has one
    elements: list = field(default_factory=list)
    index: dict = field(default_factory=dict)   # key[:-1] -> [Element]
    is_set: bool = False      # a set (--coexist's servers): keys, no data

    @property
    def verdict(self):
        return self.data[0] == 'verdict'


@dataclass
class NftRule:
    line: int
    protos: frozenset = None  # meta l4proto tcp | { tcp, udp }
    nfproto: int = None       # meta nfproto ipv4|ipv6
    fib: bool = False         # fib daddr type local
    notsaddr: tuple = None    # ip saddr != SET: (family, [(lo, hi)])
    mark: tuple = None        # ct mark & MASK == VALUE
    ctstate: frozenset = None
    ctdnat: bool = None       # ct status dnat: True; ct status ! dnat: False
    set: str = None           # KEY @SET: membership of a named set (--coexist guards)
    setkey: list = None
    stmt: str = None          # setmark vmap dnat dnatto snat masquerade accept drop return
    setmark: tuple = None     # ct mark set ct mark & AND | OR
    key: list = None          # vmap and dnat: the lookup key [KeyPart]
    map: str = None
    natfam: int = None        # dnat/snat ip|ip6 (None: the table's family)
    to: tuple = None          # dnatto (address, port or None); snat (address, None)
    family: int = None        # the family the rule's ip/ip6 expressions need
    comment: str = None
    counter: bool = False     # counter packets N bytes M (before dnat to)


@dataclass
class NftChain:
    name: str
    line: int
    hook: str = None          # base chains only
    type: str = None
    policy: str = None
    rules: list = field(default_factory=list)


@dataclass
class NftTable:
    name: str
    family: str = 'ip'
    maps: dict = field(default_factory=dict)
    chains: dict = field(default_factory=dict)
    base: dict = field(default_factory=dict)   # hook -> NftChain


def nft_comment(text, ln):
    if len(text.encode()) > NFT_MAXCOMMENT:
        raise ParseError(ln, f'comment longer than nft allows ({NFT_MAXCOMMENT} bytes)')
    return text


def nft_number(tok, ln, lo, hi):
    if not re.fullmatch(NFT_NUM, tok):
        raise ParseError(ln, f'bad number: {tok}')
    return number(tok, ln, lo, hi)


def element_part(tok, part, last, interval, ln):
    """One component of an element key -> (lo, hi), checked against its type."""
    t = part.type
    if t in ('ipv4_addr', 'ipv6_addr'):
        v = int(addr(tok, ln, 4 if t == 'ipv4_addr' else 6))
        return v, v
    if t == 'ifname':
        m = re.fullmatch(rf'"({IFNAME})"', tok)
        if not m:
            raise ParseError(ln, f'bad interface name {tok}')
        return m[1], m[1]
    if t == 'inet_proto':
        if tok not in PROTO_NUM:
            raise ParseError(ln, f'unsupported protocol {tok}')
        return PROTO_NUM[tok], PROTO_NUM[tok]
    hi_max = 65535 if t == 'inet_service' else 2**32 - 1
    lo_tok, dash, hi_tok = tok.partition('-')
    lo = nft_number(lo_tok, ln, 1 if t == 'inet_service' else 0, hi_max)
    if not dash:
        return lo, lo
    if not last:
        raise ParseError(ln, f'range only supported in the last component: {tok}')
    if not interval:
        raise ParseError(ln, f'range {tok} in a map without flags interval')
    hi = nft_number(hi_tok, ln, 0, hi_max)
    # nft lists a one-value interval as the value; lo > hi it refuses.
    if hi <= lo:
        raise ParseError(ln, f'bad range {tok}')
    return lo, hi


ELEM_PART = re.compile(r'"[^"]*"|[^ ",{}]+')
ELEM_COMMENT = re.compile(r' comment "([^"]*)"')
# A counter counts; it changes no path. nft lists its values.
COUNTER = re.compile(r'counter packets [0-9]+ bytes [0-9]+')
ELEM_GOTO = re.compile(rf'goto ({NFT_NAME})')
ELEM_TO = re.compile(rf'([0-9a-f.:]+)(?: \. ({NFT_NUM}))?')


def parse_elements(m, pieces):
    """`elements = { A, B,` then continuation lines `C }`: pieces is
    [(line, text)] of everything after `elements = { `. An element is
    KEY [comment "..."] : DATA, KEY components joined by ` . `."""
    for k, (ln, text) in enumerate(pieces):
        pos = 0
        while True:
            toks, start = [], pos
            while True:
                e = ELEM_PART.match(text, pos)
                if not e:
                    raise ParseError(ln, f'bad map element at: {text[pos:pos + 40]}')
                toks.append(e[0])
                pos = e.end()
                if not text.startswith(' . ', pos):
                    break
                pos += 3
            ktext = text[start:pos]
            if len(toks) != len(m.key):
                raise ParseError(ln, f'element {ktext} does not have the {len(m.key)} components of map {m.name}')
            key = tuple(element_part(t, p, i == len(toks) - 1, m.interval, ln)
                        for i, (t, p) in enumerate(zip(toks, m.key)))
            if m.counter:
                c = COUNTER.match(text, pos + 1) if text.startswith(' ', pos) else None
                if not c:
                    raise ParseError(ln, f'element {ktext} of map {m.name} (counter) without its counter')
                pos = c.end()
            comment = None
            c = ELEM_COMMENT.match(text, pos)
            if c:
                comment = nft_comment(c[1], ln)
                pos = c.end()
            if m.is_set:
                m.elements.append(Element(ln, key, ktext, comment, None))
            else:
                if not text.startswith(' : ', pos):
                    raise ParseError(ln, f'bad map element at: {text[start:start + 40]}')
                pos += 3
                kind, fam = m.data
                d = (ELEM_GOTO if kind == 'verdict' else ELEM_TO).match(text, pos)
                if not d or (kind != 'verdict' and (d[2] is not None) != (kind == 'addrport')):
                    raise ParseError(ln, f'element data does not fit map {m.name}: {text[pos:pos + 40]}')
                if kind == 'verdict':
                    data = ('goto', d[1])
                else:
                    data = ('to', addr(d[1], ln, fam), nft_number(d[2], ln, 1, 65535) if d[2] else None)
                m.elements.append(Element(ln, key, ktext, comment, data))
                pos = d.end()
            rest = text[pos:]
            if rest == ' }':
                if k != len(pieces) - 1:
                    raise ParseError(ln, 'text after the end of the elements')
                return
            if rest == ',':
                if k == len(pieces) - 1:
                    raise ParseError(ln, 'elements not closed with " }"')
                break
            if not rest.startswith(', '):
                raise ParseError(ln, f'bad separator after element: {rest[:20]!r}')
            pos += 2
    raise ParseError(pieces[-1][0], 'elements not closed with " }"')


def index_elements(m):
    """Group elements by all but the last key component (exact values) and
    refuse duplicates and overlapping ranges, which nft refuses to load."""
    for e in m.elements:
        m.index.setdefault(e.key[:-1], []).append(e)
    for es in m.index.values():
        es.sort(key=lambda e: e.key[-1])
        for a, b in zip(es, es[1:]):
            if b.key[-1][0] <= a.key[-1][1]:
                raise ParseError(b.line, f'element {b.text} overlaps {a.text} (line {a.line}) in map {m.name}')


def saddr_set(text, fam, ln):
    """The right side of `ip saddr != ...` as nft lists an anonymous interval
    set: one element bare, several in braces; sorted, merged (no overlap, no
    neighbours), each a prefix where it is one, A-B where it is not, an
    address alone for one address -> [(lo, hi)]."""
    many = text.startswith('{ ')
    items = text[2:-2].split(', ') if many else [text]
    if many != (len(items) > 1) or (many and not text.endswith(' }')):
        raise ParseError(ln, f'not the form nft lists a set in: {text}')
    bits = 32 if fam == 4 else 128
    spans = []
    for it in items:
        if '/' in it:
            n = net(it, ln, fam)
            if n.prefixlen == bits:
                raise ParseError(ln, f'nft lists a one-address network bare: {it}')
            spans.append((int(n.network_address), int(n.broadcast_address)))
        elif '-' in it:
            lo, hi = (int(addr(x, ln, fam)) for x in it.split('-', 1))
            size = hi - lo + 1
            if hi <= lo or (size & (size - 1) == 0 and lo % size == 0):
                raise ParseError(ln, f'not the form nft lists a range in: {it}')
            spans.append((lo, hi))
        else:
            v = int(addr(it, ln, fam))
            spans.append((v, v))
    for a, b in zip(spans, spans[1:]):
        if b[0] <= a[1] + 1:
            raise ParseError(ln, f'set elements not sorted and merged as nft lists them: {text}')
    return spans


_KEY_WORD = (r'(?:iifname|ip6? daddr|meta l4proto|th dport|numgen \S+ mod \S+(?: offset \S+)?'
             r'|jhash \S+ saddr mod \S+ seed \S+(?: offset \S+)?)')
KEY_RE = rf'{_KEY_WORD}(?: \. {_KEY_WORD})*'
RULE_MATCHES = [
    ('protos', re.compile(r'meta l4proto (tcp|udp)')),
    ('protos', re.compile(r'meta l4proto \{ ((?:tcp|udp)(?:, (?:tcp|udp))*) \}')),
    ('nfproto', re.compile(r'meta nfproto (ipv4|ipv6)')),
    ('fib', re.compile(r'fib daddr type local')),
    ('notsaddr', re.compile(r'(ip|ip6) saddr != (\{ [^{}]+ \}|[0-9a-f.:/-]+)')),
    ('mark', re.compile(rf'ct mark & {HEX32} == {HEX32}')),
    ('ctstate', re.compile(r'ct state ((?:new|established|related|invalid|untracked)'
                           r'(?:,(?:new|established|related|invalid|untracked))*)')),
    ('ctdnat', re.compile(r'ct status (! )?dnat')),
    ('set', re.compile(rf'({KEY_RE}) @({NFT_NAME})')),
]
RULE_STMTS = [
    ('setmark', re.compile(rf'ct mark set ct mark & {HEX32} \| {HEX32}')),
    ('vmap', re.compile(rf'({KEY_RE}) vmap @({NFT_NAME})')),
    ('dnat', re.compile(rf'dnat (?:(ip|ip6) )?to ({KEY_RE}) map @({NFT_NAME})')),
    ('dnatto', re.compile(r'dnat (?:(ip|ip6) )?to (\[[0-9a-f:.]+\]:\d+|[0-9.]+:\d+|[0-9a-f:.]+)')),
    ('snat', re.compile(r'snat (?:(ip|ip6) )?to ([0-9a-f:.]+(?:/\d+|-[0-9a-f:.]+)?)( fully-random)?')),
    ('masquerade', re.compile(r'masquerade')),
    ('accept', re.compile(r'accept')),
    ('drop', re.compile(r'drop')),
    ('return', re.compile(r'return')),
]


def stmt_word(stmt):
    """A statement as the file spells it (a literal dnat is `dnat` too)."""
    return 'dnat' if stmt == 'dnatto' else stmt


def dnat_target(tok, ln):
    """`dnat to` A, A:P, A6 or [A6]:P -> (address, port or None)."""
    m = re.fullmatch(r'\[([^]]+)\]:(\d+)', tok)
    if m:
        return addr(m[1], ln, 6), nft_number(m[2], ln, 1, 65535)
    if '.' in tok and ':' in tok:
        a, p = tok.rsplit(':', 1)
        return addr(a, ln, 4), nft_number(p, ln, 1, 65535)
    return addr(tok, ln), None


def parse_nft_rule(text, ln):
    """MATCH... STATEMENT [comment "..."], each piece from the lists above."""
    r, pos, seen = NftRule(ln), 0, set()

    def eat(rx):
        nonlocal pos
        m = rx.match(text, pos)
        if not m or (m.end() < len(text) and text[m.end()] != ' '):
            return None
        pos = m.end() + 1 if m.end() < len(text) else m.end()
        if pos == len(text) and text.endswith(' '):
            raise ParseError(ln, 'trailing space')
        return m

    progress = True
    while progress and r.stmt is None:
        progress = False
        if not r.counter and eat(COUNTER):
            r.counter = progress = True
            continue
        for what, rx in RULE_MATCHES:
            m = eat(rx)
            if not m:
                continue
            if what in seen:
                raise ParseError(ln, f'{m[0]!r}: a second {what} match')
            seen.add(what)
            if what == 'protos':
                names = m[1].split(', ')
                if len(set(names)) != len(names):
                    raise ParseError(ln, 'protocol twice in a set')
                r.protos = frozenset(names)
            elif what == 'nfproto':
                r.nfproto = 4 if m[1] == 'ipv4' else 6
            elif what == 'fib':
                r.fib = True
            elif what == 'notsaddr':
                r.notsaddr = (FAMILY_OF[m[1]], saddr_set(m[2], FAMILY_OF[m[1]], ln))
            elif what == 'mark':
                r.mark = (int(m[1], 16), int(m[2], 16))
            elif what == 'ctstate':
                r.ctstate = frozenset(m[1].split(','))
            elif what == 'set':
                r.setkey, r.set = key_expr(m[1], ln, allow_offset=False), m[2]
                if any(p.what in ('numgen', 'jhash') for p in r.setkey):
                    raise ParseError(ln, 'a set lookup of a numgen or jhash')
            else:
                r.ctdnat = not m[1]
            progress = True
            break
        else:
            for what, rx in RULE_STMTS:
                m = eat(rx)
                if not m:
                    continue
                r.stmt = what
                if what == 'setmark':
                    r.setmark = (int(m[1], 16), int(m[2], 16))
                elif what == 'vmap':
                    r.key, r.map = key_expr(m[1], ln), m[2]
                elif what == 'dnat':
                    r.natfam, r.key, r.map = FAMILY_OF.get(m[1]), key_expr(m[2], ln), m[3]
                elif what == 'dnatto':
                    r.natfam, r.to = FAMILY_OF.get(m[1]), dnat_target(m[2], ln)
                elif what == 'snat':
                    r.natfam, r.to = FAMILY_OF.get(m[1]), (snat_to(m[2], ln), None)
                    if isinstance(r.to[0], SnatRange) != bool(m[3]):
                        raise ParseError(ln, 'fully-random belongs to an snat range, and only to it')
                break
    if r.stmt is None:
        raise ParseError(ln, f'unsupported rule at: {text[pos:pos + 40]}' if pos < len(text) else
                         'rule without a statement')
    m = eat(re.compile(r'comment "([^"]*)"'))
    if m:
        r.comment = nft_comment(m[1], ln)
    if pos != len(text):
        raise ParseError(ln, f'unsupported rule at: {text[pos:pos + 40]}')

    # The family the rule's expressions need (a lookup key's ip/ip6 daddr,
    # the ip/ip6 saddr of a match or a jhash, meta nfproto): one at most.
    fams = {f for f in (key_family(r.key or []), key_family(r.setkey or []), r.nfproto,
                        r.notsaddr and r.notsaddr[0]) if f}
    if len(fams) > 1:
        raise ParseError(ln, 'a rule that needs both ip and ip6')
    r.family = fams.pop() if fams else None
    # Only the combinations tcproutec emits.
    if (r.notsaddr is not None) != (r.stmt == 'return'):
        raise ParseError(ln, '`return` only after an `ip saddr != ...` match, and that match only before it')
    # A hash of the client picks a server: only in a dnat map lookup.
    if r.stmt != 'dnat' and any(p.what == 'jhash' for p in r.key or []):
        raise ParseError(ln, 'jhash outside a dnat map lookup')
    if r.fib and r.stmt != 'vmap' or r.nfproto and not r.fib:
        raise ParseError(ln, '`fib daddr type local` only before a vmap, `meta nfproto` only before fib')
    if r.counter and r.stmt != 'dnatto':
        raise ParseError(ln, '`counter` only before `dnat to`')
    # --coexist's guard: new, not translated, to a server of the set: drop.
    if r.set is not None and (r.stmt != 'drop' or r.ctdnat is not False or r.ctstate != {'new'}):
        raise ParseError(ln, 'a set lookup only in `ct state new ct status ! dnat KEY @SET drop`')
    if r.ctdnat is False and r.set is None:
        raise ParseError(ln, '`ct status ! dnat` only before a set lookup')
    return r


def parse_nft(text):
    """Returns an NftTable. Raises ParseError on anything outside the subset.

    Layout, as `nft list ruleset` prints it: a tab per level, a blank line
    between blocks, `#` lines only before the first line."""
    lines = text.split('\n')
    if lines[-1] != '':
        raise ParseError(len(lines), 'no newline at end of file')
    lines.pop()
    ln = 0
    while ln < len(lines) and lines[ln].startswith('#'):
        ln += 1
    # The preamble: `table FAMILY NAME` + `delete table FAMILY NAME` pairs
    # (make sure it exists, delete it), then `table FAMILY NAME {`. The pair
    # of the table's own family is what makes the load replace our table;
    # pairs for the other families only remove same-named tables there (a
    # table that moved from ip to inet), which adds no behaviour to trace.
    name, families = None, []
    while True:
        line = lines[ln] if ln < len(lines) else ''
        m = re.fullmatch(rf'table (ip|ip6|inet) ({NFT_NAME})( {{)?', line)
        if not m or (name or m[2]) != m[2] or len(m[2]) > NFT_MAXNAME:
            raise ParseError(ln + 1, 'expected "table FAMILY NAME" or "table FAMILY NAME {"')
        name = m[2]
        if m[3]:
            if m[1] not in families:
                raise ParseError(ln + 1, f'"table {m[1]} {name} {{" without "delete table {m[1]} {name}" before it')
            break
        want = f'delete table {m[1]} {name}'
        if m[1] in families or ln + 1 >= len(lines) or lines[ln + 1] != want:
            raise ParseError(ln + 2, f'expected "{want}", once')
        families.append(m[1])
        ln += 2
    t = NftTable(name, m[1])
    ln += 1

    block, pieces, prev = None, None, None
    for ln in range(ln + 1, len(lines) + 1):
        line = lines[ln - 1]
        if pieces is not None:            # inside a multi-line `elements = {`
            if not line.startswith('\t\t\t     ') or line[8:9] == ' ':
                raise ParseError(ln, 'expected a continuation line of elements')
            pieces.append((ln, line[8:]))
            if not line.endswith(','):
                parse_elements(block, pieces)
                pieces = None
            continue
        if block is None:
            if line == '' and prev == '\t}':
                pass
            elif line == '}':
                if ln != len(lines):
                    raise ParseError(ln + 1, 'text after the end of the table')
                break
            elif (m := re.fullmatch(rf'\t(map|set|chain) ({NFT_NAME}) {{', line)):
                kind, bname = m[1], m[2]
                where = t.chains if kind == 'chain' else t.maps
                if bname in where or len(bname) > NFT_MAXNAME:
                    raise ParseError(ln, f'{kind} {bname} declared twice or name too long')
                block = where[bname] = {'map': Map, 'set': Map, 'chain': NftChain}[kind](bname, ln)
                if kind != 'chain':
                    block.is_set = kind == 'set'
            else:
                raise ParseError(ln, 'unrecognised line')
        elif line == '\t}':
            if isinstance(block, Map):
                if block.key is None:
                    raise ParseError(ln, f'map {block.name} without typeof')
                index_elements(block)
            block = None
        elif not line.startswith('\t\t') or line[2:3] in ('\t', ' ', ''):
            raise ParseError(ln, 'unrecognised line')
        elif isinstance(block, Map):
            body = line[2:]
            if block.is_set and (m := re.fullmatch(r'typeof (.+)', body)) and ' : ' not in body \
                    and block.key is None and ln == block.line + 1:
                block.key = key_expr(m[1], ln, allow_offset=False)
                if any(p.what in ('numgen', 'jhash') for p in block.key):
                    raise ParseError(ln, 'a set of numgen or jhash values')
                block.data = ('set', None)
            elif not block.is_set and (m := re.fullmatch(r'typeof (.+?) : (.+)', body)) \
                    and block.key is None and ln == block.line + 1:
                block.key = key_expr(m[1], ln, allow_offset=False)
                if m[2] not in MAP_DATA:
                    raise ParseError(ln, f'unsupported map data {m[2]}')
                block.data = MAP_DATA[m[2]]
            elif body == 'flags interval' and block.key is not None and not block.interval and not block.elements \
                    and not block.counter:
                block.interval = True
            elif body == 'counter' and not block.is_set and block.key is not None and not block.counter \
                    and not block.elements:
                block.counter = True
            elif body.startswith('elements = { ') and block.key is not None and not block.elements:
                pieces = [(ln, body[len('elements = { '):])]
                if not body.endswith(','):
                    parse_elements(block, pieces)
                    pieces = None
            else:
                raise ParseError(ln, 'unrecognised line in a map')
        else:
            body = line[2:]
            if body.startswith('type '):
                m = re.fullmatch(r'type (\w+) hook (\w+) priority (\w+); policy (\w+);', body)
                if not m or ln != block.line + 1:
                    raise ParseError(ln, 'bad base chain line (must come first)')
                typ, hk, prio, pol = m.groups()
                if hk not in NFT_BASE or NFT_BASE[hk][:2] != (typ, prio) or pol not in NFT_BASE[hk][2]:
                    raise ParseError(ln, f'unsupported base chain: type {typ} hook {hk} priority {prio} policy {pol}')
                if hk in t.base:
                    raise ParseError(ln, f'a second base chain on hook {hk}')
                block.hook, block.type, block.policy = hk, typ, pol
                t.base[hk] = block
            else:
                block.rules.append(parse_nft_rule(body, ln))
        prev = line
    else:
        raise ParseError(len(lines), 'table not closed with "}"')
    nft_check(t)
    return t


def nft_check(t):
    """What a real load would refuse and `nft -c` might not: lookups in
    missing maps, or of another type, gotos to missing or base
    chains, loops, NAT statements outside their hooks or in filter chains,
    ip6 expressions in an ip table, a NAT statement without its family in an
    inet table."""
    fams = TABLE_FAMILIES[t.family]

    def family(f, ln, what):
        if f is not None and f not in fams:
            raise ParseError(ln, f'{what} of IPv{f} in table {t.family}')

    for m in t.maps.values():
        if m.key is None:
            raise ParseError(m.line, f'{"set" if m.is_set else "map"} {m.name} without typeof')
        family(key_family(m.key), m.line, f'map {m.name}')
        family(m.data[1], m.line, f'map {m.name}')
    for c in t.chains.values():
        for r in c.rules:
            family(r.family, r.line, 'a match')
            if r.set is not None:
                st = t.maps.get(r.set)
                if st is None or not st.is_set:
                    raise ParseError(r.line, f'lookup in a missing set @{r.set}')
                if [p.type for p in r.setkey] != [p.type for p in st.key]:
                    raise ParseError(r.line, f'key does not have the type of set @{r.set} (line {st.line})')
            if r.stmt in ('dnat', 'dnatto', 'snat'):
                if r.natfam is None:
                    if t.family == 'inet':
                        raise ParseError(r.line, f'{stmt_word(r.stmt)} in an inet table needs ip or ip6')
                    r.natfam = FAMILY_OF[t.family]
                family(r.natfam, r.line, r.stmt)
                if r.to and r.to[0].version != r.natfam:
                    raise ParseError(r.line, f'IPv{r.to[0].version} address in a {stmt_word(r.stmt)} of IPv{r.natfam}')
            if r.map is None:
                if r.stmt == 'dnatto' and r.to[1] is not None and not r.protos:
                    raise ParseError(r.line, 'dnat to a port needs a meta l4proto match before it')
                continue
            m = t.maps.get(r.map)
            if m is None or m.is_set:
                raise ParseError(r.line, f'lookup in a missing map @{r.map}')
            if [p.type for p in r.key] != [p.type for p in m.key]:
                raise ParseError(r.line, f'key does not have the type of map @{r.map} (line {m.line})')
            if m.verdict != (r.stmt == 'vmap'):
                raise ParseError(r.line, f'map @{r.map} holds {"verdicts" if m.verdict else "addresses"}')
            if r.stmt == 'dnat':
                if m.data[1] != r.natfam:
                    raise ParseError(r.line, f'map @{r.map} holds IPv{m.data[1]} addresses, the dnat is IPv{r.natfam}')
                # "transport protocol mapping is only valid after transport protocol match"
                if m.data[0] == 'addrport' and not r.protos:
                    raise ParseError(r.line, 'dnat to a port needs a meta l4proto match before it')
    for m in t.maps.values():
        for e in m.elements:
            if not m.is_set and m.verdict:
                target = t.chains.get(e.data[1])
                if target is None or target.hook is not None:
                    raise ParseError(e.line, f'goto a missing or base chain {e.data[1]}')

    def walk(c, hook, typ, stack):
        if c.name in stack:
            raise ParseError(c.line, f'loop through chain {c.name}')
        for r in c.rules:
            if r.stmt in NFT_NAT_HOOKS and (typ != 'nat' or hook not in NFT_NAT_HOOKS[r.stmt]):
                raise ParseError(r.line, f'{stmt_word(r.stmt)} reachable from {typ} hook {hook}')
            # The tracer (like iptables' nat table) knows no drop before routing.
            if r.stmt == 'drop' and typ == 'nat':
                raise ParseError(r.line, 'drop in a nat chain')
            if r.stmt == 'vmap':
                for e in t.maps[r.map].elements:
                    walk(t.chains[e.data[1]], hook, typ, stack + [c.name])
    for hk, c in t.base.items():
        walk(c, hk, c.type, [])


def nft_lookup(m, key, c, hits):
    """[(prob, Element or None)]: where the lookup of `key` for conn c goes.
    The last component may be a numgen: every slot of it is one 1/mod; or a
    jhash: the slot of the client's address, or with c.anyhash every slot,
    each 1/mod."""
    fixed = []
    for p in key[:-1]:
        fixed.append(nft_value(p, c))
    last = key[-1]
    if last.what == 'jhash':
        hits.add(('seed', last.seed))
        hits.add(('slots', last.mod))
    if last.what == 'numgen' or (last.what == 'jhash' and c.anyhash):
        lo, hi = last.offset, last.offset + last.mod - 1
    else:
        lo = hi = nft_value(last, c)
    n = hi - lo + 1
    out, found = [], 0
    for e in m.index.get(tuple((v, v) for v in fixed), []):
        elo, ehi = e.key[-1]
        k = min(hi, ehi) - max(lo, elo) + 1
        if k > 0:
            out.append((Fraction(k, n), e))
            found += k
    if found < n:
        out.append((Fraction(n - found, n), None))
    return out


def nft_value(p, c):
    if p.what in ('ip daddr', 'ip6 daddr'):
        return int(c.dst)          # the rule's family matched the packet's
    if p.what == 'iifname':
        return c.iface             # None: no element names it
    if p.what == 'meta l4proto':
        return PROTO_NUM[c.proto]
    if p.what == 'th dport':
        return c.dport
    if p.what == 'jhash':          # the rule's family matched the packet's
        return nft_jhash(c.src, p.seed, p.mod, p.offset)
    raise AssertionError('numgen not last (refused by key_expr)')


def nft_matches(t, r, c):
    if r.family is not None and r.family != c.family:
        return False
    if r.fib and c.dst not in c.local:
        return False
    if r.notsaddr and any(lo <= int(c.src) <= hi for lo, hi in r.notsaddr[1]):
        return False
    if r.protos is not None and c.proto not in r.protos:
        return False
    if r.mark and c.mark & r.mark[0] != r.mark[1]:
        return False
    # A traced connection is new, or a reply (established); `ct status
    # dnat` once prerouting translated it.
    if r.ctstate is not None and ('new' if c.state == 'new' else 'established') not in r.ctstate:
        return False
    if r.ctdnat is not None and r.ctdnat != bool(c.dnat):
        return False
    if r.set is not None and not nft_member(t.maps[r.set], r.setkey, c):
        return False
    return True


def nft_member(st, key, c):
    """Whether conn c's KEY is an element of set st (the last component may
    be a range)."""
    vals = [nft_value(p, c) for p in key]
    return any(e.key[-1][0] <= vals[-1] <= e.key[-1][1]
               for e in st.index.get(tuple((v, v) for v in vals[:-1]), []))


def nft_run(t, chain, conn, hits):
    """All ways through `chain`: [(prob, conn, 'ACCEPT'|'DROP'|None)], None
    when a flow falls off the end or returns. Adds ('element', MAP, LINE,
    KEY) of every map element and ('rule', LINE) of every dnat rule a flow
    takes to `hits`, and ('seed', SEED), ('slots', MOD) of every jhash it
    computes."""
    out = []
    p, c = Fraction(1), conn
    for r in chain.rules:
        if not nft_matches(t, r, c):
            continue
        s = r.stmt
        if s == 'setmark':
            c = replace(c, mark=(c.mark & r.setmark[0]) | r.setmark[1])
            continue
        if s in ('accept', 'drop'):
            out.append((p, c, s.upper()))
            return out
        if s == 'return':
            out.append((p, c, None))
            return out
        if s in ('dnat', 'dnatto', 'snat') and r.natfam != c.family:
            continue                      # a NAT of the other family does nothing
        if s in ('snat', 'masquerade'):   # NAT statements end the chain: NF_ACCEPT
            out.append((p, replace(c, snat=str(r.to[0]) if s == 'snat' else 'masquerade'), 'ACCEPT'))
            return out
        if s == 'dnatto':
            hits.add(('rule', r.line))
            a, port = r.to[0], r.to[1] or c.dport
            out.append((p, replace(c, dst=a, dport=port, dnat=(a, port), place=place_of(r.comment)), 'ACCEPT'))
            return out
        miss = 0
        for q, e in nft_lookup(t.maps[r.map], r.key, c, hits):
            if e is None:
                miss = q
                continue
            hits.add(('element', r.map, e.line, e.text))
            if s == 'vmap':
                # goto: the target's fall-through returns past this chain too.
                out += [(p * q * q2, c2, v) for q2, c2, v in nft_run(t, t.chains[e.data[1]], c, hits)]
            else:
                a, port = e.data[1], e.data[2] or c.dport
                out.append((p * q, replace(c, dst=a, dport=port, dnat=(a, port),
                                           place=place_of(e.comment or r.comment)), 'ACCEPT'))
        if not miss:
            return out
        p *= miss         # the lookup missed: the rule did not match
    out.append((p, c, None))
    return out


def trace_nft(t, conn, hits=None, coexist=False):
    """nft: every outcome of one new connection (see follow). With coexist,
    a flow that our forward chain neither accepts nor drops (it falls to
    the policy accept, or there is no forward chain) is left to the other
    tables: 'HOST'."""
    hits = set() if hits is None else hits
    seen = conn.family in TABLE_FAMILIES[t.family]

    def run_hook(hk, flows):
        chain = t.base.get(hk) if seen else None
        untouched = 'HOST' if coexist and hk == 'forward' else 'ACCEPT'
        if chain is None:           # no base chain on the hook: nothing to stop it
            return [(p, c, untouched) for p, c in flows]
        policy = untouched if chain.policy == 'accept' else chain.policy.upper()
        return [(p * q, c2, v or policy)
                for p, c in flows for q, c2, v in nft_run(t, chain, c, hits)]
    return follow(run_hook, conn)


# ---------------------------------------------------------------------------
# One face for check.py, whatever the format.

FORMAT_FAMILY = {'iptables': 4, 'ip6tables': 6}


def make_conn(proto, src, dst, dport, iface=None, local=(), anyhash=False):
    s, d = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    if s.version != d.version:
        raise ValueError(f'source {src} and destination {dst} are of two families')
    return Conn(proto, s, d, dport, iface=iface, anyhash=anyhash,
                local=frozenset(ipaddress.ip_address(a) for a in local))


class Ruleset:
    """A loaded file: trace(), forward_policy(), sees(), and translators():
    what dispatches or translates (iptables: PREROUTING, DNAT and -m mark
    rules; nft: map elements and dnat rules), by the id trace() adds to its
    `hits` when a flow uses it."""

    def __init__(self, fmt, rules, coexist=False):
        self.format, self.rules, self.coexist = fmt, rules, coexist

    def dispatch(self):
        """iptables: the chains that dispatch listeners: PREROUTING, or
        under --coexist the chain the hooks jump to from it."""
        pre = self.rules.get('nat', {}).get('PREROUTING')
        names = ['PREROUTING']
        if pre and self.coexist:
            names += [r.target for r in pre.rules if r.line < 0]
        return [self.rules['nat'][n] for n in names if n in self.rules.get('nat', {})]

    def sees(self, family):
        """Whether this file is meant to handle connections of the family."""
        return FORMAT_FAMILY.get(self.format, family) == family

    def _trace(self, conn, hits):
        if self.format == 'nft':
            return trace_nft(self.rules, conn, hits, self.coexist)
        if conn.family != FORMAT_FAMILY[self.format]:
            return trace({}, conn, hits)      # the other family's tables
        mine = set()
        res = trace(self.rules, conn, mine)
        # iptables allow lists are one dispatch rule per entry, unmerged: an
        # entry inside an earlier one (203.0.113.9/32 after 203.0.113.0/24)
        # is never taken. A dispatch rule that the flow matches and that
        # jumps where the rule that took it jumps counts as used too.
        for pre in self.dispatch():
            taken = {r.target for r in pre.rules if ('rule', r.line) in mine}
            mine |= {('rule', r.line) for r in pre.rules if r.target in taken and matches(r, conn)}
        hits |= mine
        return res

    def trace(self, proto, src, dst, dport, hits=None, iface=None, local=(), anyhash=False):
        """Outcomes of a new connection; with anyhash, a hash of the source
        address is drawn uniformly over its range instead of computed."""
        hits = set() if hits is None else hits
        return self._trace(make_conn(proto, src, dst, dport, iface, local, anyhash), hits)

    def forward_policy(self):
        """accept or drop; under --coexist, 'host' where the file leaves
        what its chains do not decide to the host (iptables: the builtin
        chains are not the file's)."""
        if self.format != 'nft':
            fwd = self.rules.get('filter', {}).get('FORWARD')
            return fwd.policy.lower() if fwd else ('host' if self.coexist else 'accept')
        fwd = self.rules.base.get('forward')
        return fwd.policy if fwd else 'accept'

    def translators(self):
        if self.format != 'nft':
            nat = self.rules.get('nat', {})
            dispatch = {c.name for c in self.dispatch()}
            return {('rule', r.line): f'line {r.line}: -A {c.name} ... -j {r.target}'
                    for c in nat.values() for r in c.rules
                    if r.line > 0 and (c.name in dispatch or r.target == 'DNAT' or r.pmark)}
        out = {('element', m.name, e.line, e.text): f'line {e.line}: element {e.text} of map {m.name}'
               for m in self.rules.maps.values() if not m.is_set for e in m.elements}
        out.update({('rule', r.line): f'line {r.line}: {stmt_word(r.stmt)} in chain {c.name}'
                    for c in self.rules.chains.values() for r in c.rules
                    if r.stmt == 'dnatto'})
        return out


def short(p):
    """The exact fraction, unless it is too long to read (--json has it all)."""
    s = str(p)
    return s if len(s) <= 40 else f'~{float(p):.6g} ({len(s)} chars)'


def load(path, fmt='iptables', coexist=False, hooks=None):
    """A Ruleset. coexist: a --coexist output; for iptables and ip6tables
    hooks is then the path of its hooks script (required)."""
    with open(path, encoding='utf-8') as f:
        text = f.read()
    if fmt == 'nft':
        return Ruleset(fmt, parse_nft(text), coexist)
    jumps = None
    if coexist:
        if hooks is None:
            raise ValueError(f'{path}: a --coexist {fmt} file is traced with its hooks script (--hooks)')
        with open(hooks, encoding='utf-8') as f:
            try:
                jumps = parse_hooks(f.read(), FORMAT_FAMILY[fmt])
            except ParseError as e:
                raise ValueError(e.where(hooks)) from None
    return Ruleset(fmt, parse(text, FORMAT_FAMILY[fmt], jumps), coexist)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('file')
    ap.add_argument('--proto', choices=('tcp', 'udp'), required=True)
    ap.add_argument('--src')
    ap.add_argument('--dst', required=True)
    ap.add_argument('--dport', type=int, required=True)
    ap.add_argument('--format', choices=('iptables', 'ip6tables', 'nft'), default='iptables')
    ap.add_argument('--iface', metavar='NAME')
    ap.add_argument('--local', metavar='ADDR', action='append', default=[])
    how = ap.add_mutually_exclusive_group()
    how.add_argument('--any-client', action='store_true')
    how.add_argument('--each-src', metavar='FILE')
    ap.add_argument('--json', action='store_true')
    ap.add_argument('--coexist', action='store_true')
    ap.add_argument('--hooks', metavar='SCRIPT')
    a = ap.parse_args()
    if a.hooks and not a.coexist:
        ap.error('--hooks goes with --coexist')
    if not 1 <= a.dport <= 65535:
        ap.error('--dport must be 1-65535')
    if (a.src is None) == (a.each_src is None):
        ap.error('give --src or --each-src')
    try:
        rules = load(a.file, a.format, a.coexist, a.hooks)
        if a.each_src:
            with open(a.each_src, encoding='utf-8') as f:
                srcs = f.read().split()
            for src in srcs:
                res = rules.trace(a.proto, src, a.dst, a.dport, iface=a.iface, local=a.local)
                dest = res[0]['destination'] or 'none' if len(res) == 1 else 'random'
                print(f'{src} {dest}')
            return
        res = rules.trace(a.proto, a.src, a.dst, a.dport, iface=a.iface, local=a.local,
                          anyhash=a.any_client)
    except ParseError as e:
        print(e.where(a.file), file=sys.stderr)
        sys.exit(2)
    except (OSError, ValueError) as e:
        print(f'trace.py: {e}', file=sys.stderr)
        sys.exit(2)
    if a.json:
        print(json.dumps([dict(o, probability=str(o['probability'])) for o in res], indent=1))
        return
    print(f'{a.proto} {"any client" if a.any_client else a.src} -> '
          f'{endpoint(ipaddress.ip_address(a.dst), a.dport)}' + (f' on {a.iface}' if a.iface else ''))
    for o in res:
        p = o['probability']
        print(f'  {short(p):>29} ({float(p):.12f})  dest {o["destination"] or "not translated"}'
              f'  forward {o["forward"]}  snat {o["snat"] or "none"}'
              f'  from {o["place"] or "-"}' + (f'  marked {o["marked"]}  reply {o["reply"]}' if a.coexist else ''))


if __name__ == '__main__':
    sys.setrecursionlimit(20000)
    try:
        main()
    except Exception:   # a crash must not look like a result or a parse error
        traceback.print_exc()
        sys.exit(4)
