#!/usr/bin/env python3
"""Traffic helpers for the kernel tests (python3 standard library only).

A NETNS below is the name of a namespace made by `ip netns add` (a file
under /run/netns); the helper enters it with setns(2) itself, so that one
process can serve, or probe from, several namespaces (faster than one
`ip netns exec` process each). An empty NETNS means the current one.

serve SPEC... [--ready FILE] [--lifetime S] [--say-port]
      [--hold-ports PORT,...]
    SPEC is NAME@NETNS:PORT[,PORT...]. TCP and UDP on 0.0.0.0:PORT and
    [::]:PORT (IPv6 only) inside NETNS; every connection or datagram is
    answered "NAME PEER-ADDRESS\\n" (the peer shows whether the front
    rewrote the source), "NAME PEER-ADDRESS LOCAL-PORT\\n" with --say-port
    (the port shows whether a port range kept the port), and TCP
    connections are closed right after, except on the --hold-ports: there
    the connection stays open and every line received is answered "NAME
    LINE". Writes FILE once all listen; exits after S seconds (default
    300) at the latest.
connect ADDR PORT [--netns NS] [--proto tcp|udp] [--count K]
        [--timeout S] [--sport-base B] [--max-timeouts M]
        [--sources ADDR...] [--flows F]
        [--mode random|roundrobin|spread|sticky|none --weights W...
         --peer ADDR [--port P] [--balanced-sources]]
    K (<= 1000) sequential connections or datagrams, each from its own
    source port B+i so that each is a new conntrack flow, each with a
    timeout; stops after M timeouts. ADDR may be IPv6. With --sources,
    connection i binds the address sources[i mod n] (clients of their
    own, for affinity). With --flows F (UDP), F sockets bound to ports
    B..B+F-1 each send K datagrams, taking turns: F flows of K datagrams
    (F * K <= 1000). Without --mode, prints JSON counts {"names": {NAME:
    n}, "peers": {ADDR: n}, "ports": {PORT: n}, "timeout": n, "refused":
    n, "error": n, "attempts": n} (and "by_source": {SOURCE: {NAME: n}}
    with --sources or --flows). With --mode, judges them instead (see
    judge()): prints the counts and any problem on one line, exit 1 when
    there is a problem.
probes [--timeout S] --probe LABEL NETNS PROTO ADDR:PORT BIND ...
    runs the probes side by side, one connection each (BIND is ADDR:PORT
    to bind first, or -; an IPv6 address may be bracketed, [ADDR]:PORT),
    and prints "LABEL RESULT" per probe, in order; RESULT is "answer NAME
    PEER", "timeout", "refused ..." or "error ...".
hold ADDR PORT --dir DIR [--netns NS] [--pings N] [--timeout S] [--wait W]
    opens one TCP connection to a --hold-ports server, reads its first
    line and writes it to DIR/ready; then, for k = 1..N, waits (W seconds
    at most) for the file DIR/go.k, sends "ping k" on the same connection
    and writes the answer to DIR/done.k ("answer NAME ping k", "timeout",
    "closed" or "error ..."). For checks that a connection survives a
    reload.
garp --netns NS ADDR@DEV...
    sends one gratuitous ARP request for each ADDR (an IPv4 address of NS)
    out of its DEV, as keepalived does when it takes an address: the
    neighbours that know ADDR learn DEV's hardware address.
chisq --observed N... --weights W...
    Pearson's chi-square of the counts against the weights; exit 0 when
    they fit at alpha 0.001, 1 when they do not.
"""

import argparse
import ctypes
import errno
import ipaddress
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


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def wildcard(addr):
    """The any-address of ADDR's family, to bind a source port."""
    return "::" if ":" in addr else "0.0.0.0"


def split_hostport(text):
    """ADDR:PORT or [ADDR]:PORT -> (addr, port)."""
    host, _, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def listen_sockets(port, v6_warned):
    """TCP and UDP sockets on PORT, IPv4 and (when the kernel has it) IPv6."""
    socks = []
    for fam, host in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        made = []
        try:
            for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                x = socket.socket(fam, kind)
                made.append(x)
                x.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if kind == socket.SOCK_STREAM:
                    # lets a probe bind this port to connect from it
                    x.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                if fam == socket.AF_INET6:
                    x.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                x.bind((host, port))
                if kind == socket.SOCK_STREAM:
                    x.listen(128)
                x.setblocking(False)
        except OSError as e:
            if fam == socket.AF_INET:
                raise
            for x in made:
                x.close()
            if not v6_warned:
                sys.stderr.write("serve: no IPv6 listeners: %s\n" % e)
                v6_warned.append(True)
            continue
        socks.extend(("tcp" if x.type == socket.SOCK_STREAM else "udp", x)
                     for x in made)
    return socks


def serve(args):
    sel = selectors.DefaultSelector()
    hold = {int(p) for p in args.hold_ports.split(",") if p}
    v6_warned = []

    def answer(name, peer, port):
        if args.say_port:
            return ("%s %s %d\n" % (name, peer, port)).encode()
        return ("%s %s\n" % (name, peer)).encode()

    for spec in args.specs:
        name, netns, ports = parse_spec(spec)
        enter_netns(netns)      # sockets keep the namespace they are made in
        for port in ports:
            for kind, x in listen_sockets(port, v6_warned):
                sel.register(x, selectors.EVENT_READ, (kind, name, port))
    if args.ready:
        with open(args.ready + ".tmp", "w") as f:
            f.write("%d\n" % os.getpid())
        os.rename(args.ready + ".tmp", args.ready)
    deadline = time.monotonic() + args.lifetime
    while time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1.0):
            s = key.fileobj
            kind, name, port = key.data
            try:
                if kind == "tcp":
                    c, peer = s.accept()
                    c.settimeout(1.0)
                    try:
                        c.sendall(answer(name, peer[0], port))
                    except OSError:
                        c.close()
                        continue
                    if port in hold:
                        c.setblocking(False)
                        sel.register(c, selectors.EVENT_READ,
                                     ("held", name, port))
                    else:
                        c.close()
                elif kind == "held":
                    data = s.recv(2048)
                    if not data:
                        sel.unregister(s)
                        s.close()
                    else:
                        line = data.decode("utf-8", "replace").strip()
                        s.setblocking(True)
                        s.settimeout(1.0)
                        s.sendall(("%s %s\n" % (name, line)).encode())
                        s.setblocking(False)
                else:
                    _, peer = s.recvfrom(2048)
                    s.sendto(answer(name, peer[0], port), peer)
            except BlockingIOError:
                pass
            except OSError:
                if kind == "held":
                    sel.unregister(s)
                    s.close()
    return 0


def classify(e):
    """An OSError from a connection attempt -> (kind, detail)."""
    if isinstance(e, socket.timeout):
        return ("timeout", "")
    if isinstance(e, ConnectionRefusedError):
        return ("refused", "")
    if e.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return ("refused", e.strerror)
    return ("error", str(e))


def one(addr, port, proto, timeout, bind=None):
    """One connection or datagram: ("answer", text) or (kind, detail)."""
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    s = socket.socket(family(addr), kind)
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
    except OSError as e:
        return classify(e)
    finally:
        s.close()


def judge(res, args, count):
    """Checks connect's counts against the route; (summary, problems).

    Every mode but none: no timeouts or errors; answers only from b1..bN
    (server I is the I-th server line, weight W[I]); weight 0 (drained or
    not a server of this route) gets none; every server saw PEER as the
    source, and PORT as its own port when --port is given; COUNT answers.
    random: the shares fit the weights (chi-square, alpha 0.001).
    roundrobin: exactly in proportion.
    spread: every server of weight > 0 got at least one answer.
    sticky: every source (--sources address, --flows port) got all its
    answers from one server; with several sources, at least two servers
    were seen and none got every source; with --balanced-sources, the
    servers' counts of sources differ by at most one (round robin).
    none: no answer at all (every attempt timed out or was refused)."""
    names = ["b%d" % (i + 1) for i in range(len(args.weights))]
    counts = [res["names"].get(n, 0) for n in names]
    summary = " ".join("%s=%d" % (n, c) for n, c in zip(names, counts))
    problems = []
    answered = sum(res["names"].values())
    if args.mode == "none":
        summary = "attempts=%d timeout=%d refused=%d" % (
            res["attempts"], res["timeout"], res["refused"])
        if answered:
            problems.append("%d answered: %s" % (answered, ", ".join(
                "%s (%d)" % kv for kv in sorted(res["names"].items()))))
        if res.get("error"):
            problems.append("%d error: %s" % (
                res["error"], "; ".join(res.get("errors", []))))
        return summary, problems
    for kind in ("timeout", "refused", "error"):
        if res.get(kind):
            problems.append("%d %s" % (res[kind], kind))
    if res.get("errors"):
        problems.append("errors: %s" % "; ".join(res["errors"]))
    extra = sorted(set(res["names"]) - set(names))
    if extra:
        problems.append("answers from %s" % ", ".join(
            "%s (%d)" % (n, res["names"][n]) for n in extra))
    # --peer A-B: an snat range; every source in it, and more than one
    # used when the connections went to several servers.
    if "-" in args.peer:
        lo, hi = (ipaddress.ip_address(x) for x in args.peer.split("-", 1))
        wrong = {p: n for p, n in res["peers"].items()
                 if p == "?" or not lo <= ipaddress.ip_address(p) <= hi}
        used = sorted(p for p in res["peers"] if p not in wrong)
        summary += " snat sources: %s" % ", ".join(used)
        if len(used) < 2 and len([n for n in res["names"].values() if n]) > 1:
            problems.append("one snat source for several servers: %s" % used)
    else:
        wrong = {p: n for p, n in res["peers"].items() if p != args.peer}
    if wrong:
        problems.append("servers saw sources %s, expected only %s" % (
            ", ".join("%s (%d)" % kv for kv in sorted(wrong.items())),
            args.peer))
    if args.port_expect is not None:
        summary += " port=%d" % args.port_expect
        wrongp = {p: n for p, n in res["ports"].items()
                  if p != str(args.port_expect)}
        if wrongp or not res["ports"]:
            problems.append("servers answered on ports %s, expected %d" % (
                ", ".join("%s (%d)" % kv for kv in sorted(wrongp.items()))
                or "(none said)", args.port_expect))
    for n, c, w in zip(names, counts, args.weights):
        if w == 0 and c:
            problems.append("%s (weight 0) got %d" % (n, c))
    active = [(n, c, w) for n, c, w in zip(names, counts, args.weights)
              if w > 0]
    total = sum(c for _, c, _ in active)
    wsum = sum(w for _, _, w in active)
    if args.mode == "roundrobin" and total:
        if total % wsum:
            problems.append("%d answers is not a multiple of %d slots"
                            % (total, wsum))
        elif [c for _, c, _ in active] != [total // wsum * w
                                           for _, _, w in active]:
            problems.append("round robin: expected %s" % " ".join(
                "%s=%d" % (n, total // wsum * w) for n, _, w in active))
    elif args.mode == "random" and len(active) > 1 and total:
        stat = sum((c - total * w / wsum) ** 2 / (total * w / wsum)
                   for _, c, w in active)
        df = len(active) - 1
        crit = CHISQ_CRIT_0001[df - 1]
        summary += " chi2=%.2f df=%d crit=%.3f" % (stat, df, crit)
        if stat > crit:
            problems.append("shares do not fit the weights %s "
                            "(chi2 %.2f > %.3f)" % (args.weights, stat, crit))
    elif args.mode == "spread":
        none = [n for n, c, _ in active if c == 0]
        if none and answered:
            problems.append("no answer from %s" % ", ".join(none))
    elif args.mode == "sticky":
        by_source = res.get("by_source", {})
        owner = {}
        for src, got in sorted(by_source.items()):
            if len(got) > 1:
                problems.append("source %s went to %s" % (src, ", ".join(
                    "%s (%d)" % kv for kv in sorted(got.items()))))
            elif got:
                owner[src] = next(iter(got))
        per_server = {n: sum(1 for o in owner.values() if o == n)
                      for n, _, _ in active}
        summary += " sources: " + " ".join(
            "%s=%d" % kv for kv in sorted(per_server.items()))
        if len(by_source) > 1 and owner:
            if len(set(owner.values())) < 2:
                problems.append("all %d sources went to one server"
                                % len(owner))
            if args.balanced_sources and per_server and (
                    max(per_server.values()) - min(per_server.values()) > 1):
                problems.append("sources not spread in turn")
    if answered != count:
        problems.append("%d answers of %d connections" % (answered, count))
    return summary, problems


def record(res, by_source, source, kind, text, errors):
    res["attempts"] += 1
    if kind == "answer":
        parts = text.split()
        name = parts[0]
        peer = parts[1] if len(parts) > 1 else "?"
        res["names"][name] = res["names"].get(name, 0) + 1
        res["peers"][peer] = res["peers"].get(peer, 0) + 1
        if len(parts) > 2:
            res["ports"][parts[2]] = res["ports"].get(parts[2], 0) + 1
        if by_source is not None:
            got = by_source.setdefault(source, {})
            got[name] = got.get(name, 0) + 1
    else:
        res[kind] += 1
        if kind == "error" and len(errors) < 3:
            errors.append(text)


def flows(args, res, by_source, errors):
    """F UDP sockets (one flow each) take turns sending K datagrams."""
    socks = []
    try:
        for f in range(args.flows):
            s = socket.socket(family(args.addr), socket.SOCK_DGRAM)
            socks.append(s)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((wildcard(args.addr), args.sport_base + f))
            s.settimeout(args.timeout)
            s.connect((args.addr, args.port))
        for _ in range(args.count):
            for f, s in enumerate(socks):
                try:
                    s.send(b"hello\n")
                    text = s.recv(2048).decode("utf-8", "replace").strip()
                    kind = "answer" if text else "error"
                    text = text or "empty answer"
                except OSError as e:
                    kind, text = classify(e)
                record(res, by_source, "sport %d" % (args.sport_base + f),
                       kind, text, errors)
                if res["timeout"] >= args.max_timeouts:
                    return
    finally:
        for s in socks:
            s.close()


def connect(args):
    count = args.count * (args.flows or 1)
    if count > 1000:
        print("connect: at most 1000 connections per check")
        return 2
    if args.flows and args.proto != "udp":
        print("connect: --flows is for udp")
        return 2
    if args.mode and (not args.weights or (args.mode != "none"
                                           and not args.peer)):
        print("connect: --mode needs --weights and --peer")
        return 2
    enter_netns(args.netns)

    def sample(sport_base):
        res = {"names": {}, "peers": {}, "ports": {}, "timeout": 0,
               "refused": 0, "error": 0, "attempts": 0}
        by_source = {} if (args.sources or args.flows) else None
        errors = []
        if args.flows:
            flows(args, res, by_source, errors)
        else:
            for i in range(args.count):
                src = (args.sources[i % len(args.sources)] if args.sources
                       else wildcard(args.addr))
                kind, text = one(args.addr, args.port, args.proto,
                                 args.timeout, (src, sport_base + i))
                record(res, by_source, src, kind, text, errors)
                if res["timeout"] >= args.max_timeouts:
                    break
        if errors:
            res["errors"] = errors
        if by_source is not None:
            res["by_source"] = by_source
        return res

    res = sample(args.sport_base)
    if not args.mode:
        json.dump(res, sys.stdout, sort_keys=True)
        sys.stdout.write("\n")
        return 0
    summary, problems = judge(res, args, count)
    # A suite of some 30 chi-square checks at alpha 0.001 would fail a
    # correct ruleset in about one run of 30. A misfit alone (nothing else
    # wrong) is therefore tested once more on a fresh sample, from other
    # source ports: correct rules then fail a check with probability
    # 1e-6, while wrong shares fail both samples. The ports are 30000 above
    # the first ones, clear of the ranges the scripts hand out.
    if (args.mode == "random" and not args.flows and len(problems) == 1
            and problems[0].startswith("shares do not fit")):
        first = summary
        res = sample(args.sport_base + 30000)
        summary, problems = judge(res, args, count)
        summary = "%s; misfit, second sample: %s" % (first, summary)
    print(summary + ("; " + "; ".join(problems) if problems else ""))
    return 1 if problems else 0


def probes(args):
    results = [None] * len(args.probe)

    def run(i, netns, proto, target, bind):
        try:
            enter_netns(netns)
            host, port = split_hostport(target)
            b = None
            if bind != "-":
                b = split_hostport(bind)
            kind, text = one(host, port, proto, args.timeout, b)
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


def write_atomic(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text + "\n")
    os.rename(path + ".tmp", path)


def hold(args):
    enter_netns(args.netns)
    s = socket.socket(family(args.addr), socket.SOCK_STREAM)
    buf = b""

    def line():
        nonlocal buf
        deadline = time.monotonic() + args.timeout
        while b"\n" not in buf:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = s.recv(2048)
            if not chunk:
                return None
            buf += chunk
        text, _, buf = buf.partition(b"\n")
        return text.decode("utf-8", "replace").strip()

    try:
        s.settimeout(args.timeout)
        s.connect((args.addr, args.port))
        first = line()
    except OSError as e:
        write_atomic(os.path.join(args.dir, "ready"), " ".join(classify(e)))
        s.close()
        return 1
    write_atomic(os.path.join(args.dir, "ready"),
                 "answer %s" % first if first else "closed")
    for k in range(1, args.pings + 1):
        go = os.path.join(args.dir, "go.%d" % k)
        deadline = time.monotonic() + args.wait
        while not os.path.exists(go) and time.monotonic() < deadline:
            time.sleep(0.02)
        if not os.path.exists(go):
            break
        try:
            s.sendall(b"ping %d\n" % k)
            text = line()
            result = "answer %s" % text if text is not None else "closed"
        except OSError as e:
            result = " ".join(classify(e)).strip()
        write_atomic(os.path.join(args.dir, "done.%d" % k), result)
    s.close()
    return 0


def garp(args):
    enter_netns(args.netns)
    for spec in args.specs:
        addr, _, dev = spec.partition("@")
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        try:
            s.bind((dev, 0))
            mac = s.getsockname()[4]
            ip = socket.inet_aton(addr)
            # Ethernet broadcast, ARP request (Ethernet/IPv4) whose sender
            # and target address are both ADDR: Linux neighbours then
            # override the entry they have (is_garp), whatever its lock
            # time.
            frame = (b"\xff" * 6 + mac + b"\x08\x06"
                     + b"\x00\x01\x08\x00\x06\x04\x00\x01"
                     + mac + ip + b"\x00" * 6 + ip)
            s.send(frame)
        finally:
            s.close()
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
    s.add_argument("--say-port", action="store_true")
    s.add_argument("--hold-ports", default="")
    c = sub.add_parser("connect")
    c.add_argument("addr")
    c.add_argument("port", type=int)
    c.add_argument("--netns", default="")
    c.add_argument("--proto", choices=["tcp", "udp"], default="tcp")
    c.add_argument("--count", type=int, default=1000)
    c.add_argument("--timeout", type=float, default=2.0)
    c.add_argument("--sport-base", type=int, default=20000)
    c.add_argument("--max-timeouts", type=int, default=5)
    c.add_argument("--sources", nargs="+")
    c.add_argument("--flows", type=int, default=0)
    c.add_argument("--mode", choices=["random", "roundrobin", "spread",
                                      "sticky", "none"])
    c.add_argument("--weights", type=int, nargs="+")
    c.add_argument("--peer")
    c.add_argument("--port", type=int, dest="port_expect")
    c.add_argument("--balanced-sources", action="store_true")
    h = sub.add_parser("hold")
    h.add_argument("addr")
    h.add_argument("port", type=int)
    h.add_argument("--netns", default="")
    h.add_argument("--dir", required=True)
    h.add_argument("--pings", type=int, default=1)
    h.add_argument("--timeout", type=float, default=2.0)
    h.add_argument("--wait", type=float, default=60.0)
    r = sub.add_parser("probes")
    r.add_argument("--timeout", type=float, default=1.0)
    r.add_argument("--probe", nargs=5, action="append", required=True,
                   metavar=("LABEL", "NETNS", "PROTO", "ADDR:PORT", "BIND"))
    g = sub.add_parser("garp")
    g.add_argument("specs", nargs="+", metavar="ADDR@DEV")
    g.add_argument("--netns", default="")
    q = sub.add_parser("chisq")
    q.add_argument("--observed", type=int, nargs="+", required=True)
    q.add_argument("--weights", type=float, nargs="+", required=True)
    args = p.parse_args()
    return {"serve": serve, "connect": connect, "probes": probes,
            "hold": hold, "garp": garp, "chisq": chisq}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
