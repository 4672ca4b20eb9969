#!/usr/bin/env python3
"""Per-connection cost through the front (standard library only).

serve --ports P... --ready FILE [--lifetime S]
    listens on 0.0.0.0:P (TCP) for each P, accepts and closes at once.
    Writes its PID to FILE once listening; exits after S seconds.
time --target NAME ADDR PORT [--target ...] --count K [--timeout S]
     [--sport-base B] [--deadline S] [--warmup W]
    K rounds; each round opens one new TCP connection to every target in
    turn, after W untimed ones each (interleaved, so that drift on a busy host hits all targets
    alike), each from its own source port B+i (a new conntrack flow, so the
    NAT rules are walked every time), and times connect(): SYN out to
    SYN-ACK back, which crosses the front's prerouting (DNAT) on the way
    in. The socket is then closed with RST (no TIME_WAIT). Prints JSON:
    {NAME: {"n", "fail", "median_us", "p10_us", "p90_us", "mean_us",
            "min_us"}, "_diff": {...}} where _diff holds, for the second
    and later targets, the median of the paired differences (target minus
    the first target, same round) and a bootstrap 95% interval of the
    difference of medians.
"""

import argparse
import json
import os
import random
import selectors
import socket
import statistics
import struct
import sys
import time


def serve(args):
    sel = selectors.DefaultSelector()
    socks = []
    for port in args.ports:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", port))
        s.listen(1024)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        socks.append(s)
    with open(args.ready + ".tmp", "w") as f:
        f.write("%d\n" % os.getpid())
    os.rename(args.ready + ".tmp", args.ready)
    deadline = time.monotonic() + args.lifetime
    while time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1.0):
            try:
                c, _ = key.fileobj.accept()
                c.close()
            except OSError:
                pass


def pct(v, p):
    v = sorted(v)
    if not v:
        return float("nan")
    k = (len(v) - 1) * p
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def one(addr, port, sport, timeout):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.settimeout(timeout)
    try:
        s.bind(("0.0.0.0", sport))
        t0 = time.perf_counter_ns()
        s.connect((addr, port))
        t1 = time.perf_counter_ns()
        return (t1 - t0) / 1000.0
    except OSError:
        return None
    finally:
        s.close()


def timing(args):
    targets = [(t[0], t[1], int(t[2])) for t in args.target]
    res = {name: [] for name, _, _ in targets}
    fails = {name: 0 for name, _, _ in targets}
    paired = {name: [] for name, _, _ in targets[1:]}
    sport = args.sport_base
    end = time.monotonic() + args.deadline
    for name, addr, port in targets * args.warmup:
        one(addr, port, sport, args.timeout)
        sport += 1
    for i in range(args.count):
        if time.monotonic() > end:
            break
        first = None
        # alternate which target goes first in a round
        order = targets if i % 2 == 0 else list(reversed(targets))
        got = {}
        for name, addr, port in order:
            us = one(addr, port, sport, args.timeout)
            sport += 1
            if sport > 60999:
                sport = args.sport_base
            if us is None:
                fails[name] += 1
            else:
                res[name].append(us)
                got[name] = us
        first = targets[0][0]
        for name in paired:
            if name in got and first in got:
                paired[name].append(got[name] - got[first])
    out = {}
    for name, _, _ in targets:
        v = res[name]
        out[name] = {
            "n": len(v), "fail": fails[name],
            "median_us": statistics.median(v) if v else None,
            "p10_us": pct(v, 0.1) if v else None,
            "p90_us": pct(v, 0.9) if v else None,
            "mean_us": statistics.fmean(v) if v else None,
            "min_us": min(v) if v else None,
        }
    diff = {}
    rnd = random.Random(1)
    base = res[targets[0][0]]
    for name in paired:
        v = res[name]
        if not v or not base:
            continue
        boots = []
        for _ in range(500):
            a = [base[rnd.randrange(len(base))] for _ in base]
            b = [v[rnd.randrange(len(v))] for _ in v]
            boots.append(statistics.median(b) - statistics.median(a))
        boots.sort()
        diff[name] = {
            "median_diff_us": statistics.median(v) - statistics.median(base),
            "paired_median_us": statistics.median(paired[name]) if paired[name] else None,
            "ci95_lo_us": boots[int(0.025 * len(boots))],
            "ci95_hi_us": boots[int(0.975 * len(boots)) - 1],
        }
    out["_diff"] = diff
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    print()


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--ports", type=int, nargs="+", required=True)
    s.add_argument("--ready", required=True)
    s.add_argument("--lifetime", type=float, default=300)
    t = sub.add_parser("time")
    t.add_argument("--target", nargs=3, action="append", required=True,
                   metavar=("NAME", "ADDR", "PORT"))
    t.add_argument("--count", type=int, default=1000)
    t.add_argument("--timeout", type=float, default=2.0)
    t.add_argument("--sport-base", type=int, default=30000)
    t.add_argument("--deadline", type=float, default=120.0)
    t.add_argument("--warmup", type=int, default=20,
                   help="untimed connections to each target first")
    args = ap.parse_args()
    if args.cmd == "serve":
        serve(args)
    else:
        timing(args)


if __name__ == "__main__":
    main()
