#!/usr/bin/env python3
"""Generate a PaaS-shaped route file (standard library only, seeded).

    gen-paas.py N OUT.tr [--seed S]

N apps as a platform team writes them: 1-8 servers an app, weights 1-9
(about half the apps weighted), drained servers, about 1 in 5 roundrobin,
UDP (CoAP) and TCP+UDP apps, allow lists, affinity, and the three snat
kinds next to a defaults block. The output is a pure function of the
arguments. Documentation ranges only: listeners on 192.0.2.0/24 and
198.51.100.0/24 (unique address and port per app), servers in
203.0.113.0/24.
"""
import random
import sys


def main():
    args = sys.argv[1:]
    seed = 1
    if '--seed' in args:
        i = args.index('--seed')
        seed = int(args[i + 1])
        del args[i:i + 2]
    if len(args) != 2:
        sys.exit(__doc__)
    n, out = int(args[0]), args[1]
    if not 1 <= n <= 500000:
        sys.exit('gen-paas.py: N must be 1..500000')
    rnd = random.Random(seed * 1000003 + n)
    w = open(out, 'w').write
    w('# PaaS-shaped gateway: %d apps (tests/gen-paas.py, seed %d)\n' % (n, seed))
    w('define front = 203.0.113.254\n')
    w('define office = { 198.51.100.0/25, 192.0.2.128/25 }\n')
    w('defaults {\n    snat $front\n}\n\n')
    for i in range(n):
        net = '192.0.2' if i % 2 == 0 else '198.51.100'
        addr = '%s.%d' % (net, 1 + (i // 2) % 250)
        port = 1024 + (i // 500)
        kind = rnd.random()
        protos = ['udp'] if kind < 0.15 else ['tcp', 'udp'] if kind < 0.25 else ['tcp']
        w('route app%d {\n' % i)
        for p in protos:
            w('    listen %s %s:%d\n' % (p, addr, port))
        nserv = rnd.randint(1, 8)
        weighted = rnd.random() < 0.5
        sport = rnd.choice([1883, 5683, 5432, 27017, 8080])
        drains = 0
        for k in range(nserv):
            line = '    server 203.0.113.%d:%d' % (1 + (i * 7 + k) % 250, sport)
            if weighted:
                line += ' weight %d' % rnd.randint(1, 9)
            if k > 0 and drains == 0 and rnd.random() < 0.05:
                line += ' drain'
                drains += 1
            w(line + '\n')
        r = rnd.random()
        if r < 0.2:
            w('    balance roundrobin\n')
        r = rnd.random()
        if r < 0.1:
            w('    snat none\n')
        elif r < 0.3:
            w('    snat masquerade\n')
        if rnd.random() < 0.1:
            w('    allow from $office\n')
        if rnd.random() < 0.05:
            w('    affinity client-ip timeout 30m\n')
        w('}\n')
    w('\npolicy forward drop\n')


main()
