#!/usr/bin/env python3
"""Traffic helpers for the kernel tests (python3 standard library only).

A NETNS below is the name of a namespace made by `ip netns add` (a file
under /run/netns); the helper enters it with setns(2) itself, so that one
process can serve, or probe from, several namespaces (faster than one
`ip netns exec` process each). An empty NETNS means the current one.

serve SPEC... [--ready FILE] [--lifetime S]
    SPEC is NAME@NETNS:PORT[,PORT...]. TCP and UDP on 0.0.0.0:PORT inside
    NETNS; every connection or datagram is answered "NAME PEER-ADDRESS\\n"
    (the peer shows whether the front rewrote the source), and TCP
    connections are closed right after. Writes FILE once all listen; exits
    after S seconds (default 300) at the latest.
connect ADDR PORT [--netns NS] [--proto tcp|udp] [--count K]
        [--timeout S] [--sport-base B] [--max-timeouts M]
        [--mode random|roundrobin --weights W... --peer ADDR]
    K (<= 1000) sequential connections or datagrams, each from its own
    source port B+i so that each is a new conntrack flow, each with a
    timeout; stops after M timeouts. Without --mode, prints JSON counts
    {"names": {NAME: n}, "peers": {ADDR: n}, "timeout": n, "refused": n,
    "error": n, "attempts": n}. With --mode, judges them instead (see
    judge()): prints the counts and any problem on one line, exit 1 when
    there is a problem.
probes [--timeout S] --probe LABEL NETNS PROTO ADDR:PORT BIND ...
    runs the probes side by side, one connection each (BIND is ADDR:PORT
    to bind first, or -), and prints "LABEL RESULT" per probe, in order;
    RESULT is "answer NAME PEER", "timeout", "refused ..." or "error ...".
chisq --observed N... --weights W...
    Pearson's chi-square of the counts against the weights; exit 0 when
    they fit at alpha 0.001, 1 when they do not.
"""

import argparse
import ctypes
import errno
import json
import os
import selectors
import socket
import sys
import threading
import time

# Critical values of chi-square at alpha = 0.001 for df = 1..9.
CHISQ_CRIT_0001 = [10.828, 13.816, 16.266, 18.467, 20.515, 22.458, 24.322,
                   26.124, 27.877]

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def enter_netns(name):
    """Move the calling thread into network namespace NAME (per thread)."""
    if not name:
        return
    fd = os.open(os.path.join("/run/netns", name), os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            e = ctypes.get_errno()
            raise OSError(e, "setns %s: %s" % (name, os.strerror(e)))
    finally:
        os.close(fd)


def parse_spec(spec):
    """NAME@NETNS:PORT,PORT -> (name, netns, [ports])."""
    name, _, rest = spec.partition("@")
    netns, _, ports = rest.rpartition(":")
    return name, netns, [int(p) for p in ports.split(",")]


def serve(args):
    sel = selectors.DefaultSelector()
    for spec in args.specs:
        name, netns, ports = parse_spec(spec)
        enter_netns(netns)      # sockets keep the namespace they are made in
        for port in ports:
            t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            # lets a probe bind this port to connect from it
            t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            t.bind(("0.0.0.0", port))
            t.listen(128)
            t.setblocking(False)
            sel.register(t, selectors.EVENT_READ, ("tcp", name))
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            u.bind(("0.0.0.0", port))
            u.setblocking(False)
            sel.register(u, selectors.EVENT_READ, ("udp", name))
    if args.ready:
        with open(args.ready + ".tmp", "w") as f:
            f.write("%d\n" % os.getpid())
        os.rename(args.ready + ".tmp", args.ready)
    deadline = time.monotonic() + args.lifetime
    while time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1.0):
            s = key.fileobj
            kind, name = key.data
            try:
                if kind == "tcp":
                    c, peer = s.accept()
                    c.settimeout(1.0)
                    try:
                        c.sendall(("%s %s\n" % (name, peer[0])).encode())
                    finally:
                        c.close()
                else:
                    _, peer = s.recvfrom(2048)
                    s.sendto(("%s %s\n" % (name, peer[0])).encode(), peer)
            except OSError:
                pass
    return 0


def one(addr, port, proto, timeout, bind=None):
    """One connection or datagram: ("answer", text) or (kind, detail)."""
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    s = socket.socket(socket.AF_INET, kind)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if bind is not None:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            s.bind(bind)
        s.settimeout(timeout)
        deadline = time.monotonic() + timeout
        s.connect((addr, port))
        if proto == "udp":
            s.send(b"hello\n")
            data = s.recv(2048)
        else:
            data = b""
            while not data.endswith(b"\n"):
                s.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = s.recv(2048)
                if not chunk:
                    break
                data += chunk
        text = data.decode("utf-8", "replace").strip()
        if not text:
            return ("error", "empty answer")
        return ("answer", text)
    except socket.timeout:
        return ("timeout", "")
    except ConnectionRefusedError:
        return ("refused", "")
    except OSError as e:
        if e.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            return ("refused", e.strerror)
        return ("error", str(e))
    finally:
        s.close()


def judge(res, mode, weights, peer, count):
    """Checks connect's counts against the route; (summary, problems).

    No timeouts or errors; answers only from b1..bN (server I is the I-th
    server line); weight 0 (drained) gets none; every server saw PEER as
    the source; round robin exactly in proportion; random fitting the
    weights (chi-square at alpha 0.001)."""
    names = ["b%d" % (i + 1) for i in range(len(weights))]
    counts = [res["names"].get(n, 0) for n in names]
    summary = " ".join("%s=%d" % (n, c) for n, c in zip(names, counts))
    problems = []
    for kind in ("timeout", "refused", "error"):
        if res.get(kind):
            problems.append("%d %s" % (res[kind], kind))
    if res.get("errors"):
        problems.append("errors: %s" % "; ".join(res["errors"]))
    extra = sorted(set(res["names"]) - set(names))
    if extra:
        problems.append("answers from %s" % ", ".join(
            "%s (%d)" % (n, res["names"][n]) for n in extra))
    wrong = {p: n for p, n in res["peers"].items() if p != peer}
    if wrong:
        problems.append("servers saw sources %s, expected only %s" % (
            ", ".join("%s (%d)" % kv for kv in sorted(wrong.items())), peer))
    for n, c, w in zip(names, counts, weights):
        if w == 0 and c:
            problems.append("drained %s got %d" % (n, c))
    active = [(n, c, w) for n, c, w in zip(names, counts, weights) if w > 0]
    total = sum(c for _, c, _ in active)
    wsum = sum(w for _, _, w in active)
    if mode == "roundrobin" and total:
        if total % wsum:
            problems.append("%d answers is not a multiple of %d slots"
                            % (total, wsum))
        elif [c for _, c, _ in active] != [total // wsum * w
                                           for _, _, w in active]:
            problems.append("round robin: expected %s" % " ".join(
                "%s=%d" % (n, total // wsum * w) for n, _, w in active))
    elif mode == "random" and len(active) > 1 and total:
        stat = sum((c - total * w / wsum) ** 2 / (total * w / wsum)
                   for _, c, w in active)
        df = len(active) - 1
        crit = CHISQ_CRIT_0001[df - 1]
        summary += " chi2=%.2f df=%d crit=%.3f" % (stat, df, crit)
        if stat > crit:
            problems.append("shares do not fit the weights %s "
                            "(chi2 %.2f > %.3f)" % (weights, stat, crit))
    answered = sum(res["names"].values())
    if answered != count:
        problems.append("%d answers of %d connections" % (answered, count))
    return summary, problems


def connect(args):
    if args.count > 1000:
        print("connect: at most 1000 connections per check")
        return 2
    if args.mode and (not args.weights or not args.peer):
        print("connect: --mode needs --weights and --peer")
        return 2
    enter_netns(args.netns)
    res = {"names": {}, "peers": {}, "timeout": 0, "refused": 0, "error": 0,
           "attempts": 0}
    errors = []
    for i in range(args.count):
        kind, text = one(args.addr, args.port, args.proto, args.timeout,
                         ("0.0.0.0", args.sport_base + i))
        res["attempts"] += 1
        if kind == "answer":
            parts = text.split()
            name = parts[0]
            peer = parts[1] if len(parts) > 1 else "?"
            res["names"][name] = res["names"].get(name, 0) + 1
            res["peers"][peer] = res["peers"].get(peer, 0) + 1
        else:
            res[kind] += 1
            if kind == "error" and len(errors) < 3:
                errors.append(text)
            if res["timeout"] >= args.max_timeouts:
                break
    if errors:
        res["errors"] = errors
    if not args.mode:
        json.dump(res, sys.stdout, sort_keys=True)
        sys.stdout.write("\n")
        return 0
    summary, problems = judge(res, args.mode, args.weights, args.peer,
                              args.count)
    print(summary + ("; " + "; ".join(problems) if problems else ""))
    return 1 if problems else 0


def probes(args):
    results = [None] * len(args.probe)

    def run(i, netns, proto, target, bind):
        try:
            enter_netns(netns)
            host, _, port = target.rpartition(":")
            b = None
            if bind != "-":
                bhost, _, bport = bind.rpartition(":")
                b = (bhost, int(bport))
            kind, text = one(host, int(port), proto, args.timeout, b)
        except Exception as e:  # reported, not raised: the caller judges
            kind, text = "error", str(e)
        results[i] = ("%s %s" % (kind, text)).strip()

    threads = []
    for i, (_, netns, proto, target, bind) in enumerate(args.probe):
        t = threading.Thread(target=run, args=(i, netns, proto, target, bind))
        t.start()
        threads.append(t)
    for t in threads:
        t.join(args.timeout + 5)
    for (label, *_), r in zip(args.probe, results):
        print("%s %s" % (label, r or "error probe did not finish"))
    return 0


def chisq(args):
    obs, w = args.observed, args.weights
    if len(obs) != len(w) or not 2 <= len(obs) <= len(CHISQ_CRIT_0001) + 1:
        print("chisq: need 2 to 10 counts, one per weight")
        return 2
    n, total = sum(obs), sum(w)
    stat = sum((o - n * wi / total) ** 2 / (n * wi / total)
               for o, wi in zip(obs, w))
    df = len(obs) - 1
    crit = CHISQ_CRIT_0001[df - 1]
    ok = stat <= crit
    print("chi2=%.3f df=%d critical(0.001)=%.3f %s"
          % (stat, df, crit, "fits" if ok else "REJECTED"))
    return 0 if ok else 1


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("specs", nargs="+", metavar="NAME@NETNS:PORT[,PORT]")
    s.add_argument("--ready")
    s.add_argument("--lifetime", type=float, default=300.0)
    c = sub.add_parser("connect")
    c.add_argument("addr")
    c.add_argument("port", type=int)
    c.add_argument("--netns", default="")
    c.add_argument("--proto", choices=["tcp", "udp"], default="tcp")
    c.add_argument("--count", type=int, default=1000)
    c.add_argument("--timeout", type=float, default=2.0)
    c.add_argument("--sport-base", type=int, default=20000)
    c.add_argument("--max-timeouts", type=int, default=5)
    c.add_argument("--mode", choices=["random", "roundrobin"])
    c.add_argument("--weights", type=int, nargs="+")
    c.add_argument("--peer")
    r = sub.add_parser("probes")
    r.add_argument("--timeout", type=float, default=1.0)
    r.add_argument("--probe", nargs=5, action="append", required=True,
                   metavar=("LABEL", "NETNS", "PROTO", "ADDR:PORT", "BIND"))
    q = sub.add_parser("chisq")
    q.add_argument("--observed", type=int, nargs="+", required=True)
    q.add_argument("--weights", type=float, nargs="+", required=True)
    args = p.parse_args()
    return {"serve": serve, "connect": connect, "probes": probes,
            "chisq": chisq}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
