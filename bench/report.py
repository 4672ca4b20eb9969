#!/usr/bin/env python3
"""Write bench/results.md from what bench/run.sh measured (stdlib only).

    report.py --res bench/out/res --out bench/results.md [--readme README.md]

Reads RES/metrics.tsv, the hyperfine JSON files, conn-*.json, the perf and
callgrind reports. Every number printed comes from those files; the goals
are those of issue 16, each a ratio of two figures measured side by side in
the same run. With --readme, the block between the markers
<!-- bench:begin --> and <!-- bench:end --> of README.md is replaced by a
summary (nothing else in the README is touched; without the markers the
README is left alone).
"""

import argparse
import glob
import json
import os
import re
import statistics
import sys

# issue 16
GOAL_FLOOR_X = 20.0       # compile within 20x `cat` of the input and output
GOAL_COMPILE_MIB = 128
GOAL_SCALE = 11.0         # "linear": 10x the routes in at most 11x the time
GOAL_FERM_X = 200.0
GOAL_NFT_LEAN_X = 1.2     # nft -f within 1.2x of the leanest map table
GOAL_NFT_SCALE = 5.5      # 50k "linear": 5x the routes in at most 5.5x
GOAL_IPT_KUBE_X = 1.3     # iptables-restore within 1.3x of kube-proxy's shape
FLOOR_INPUTS = ("uniform-100000", "mixed-10000", "distinct-20000")
LEAN_VARIANTS = (
    ("comments", "element comments (`comment \"FILE: route NAME\"` on each element)"),
    ("counters", "counters (`counter` on the map, each element `counter packets 0 bytes 0`)"),
    ("l4proto", "wider key (`ip daddr . meta l4proto . th dport`, one byte more per element)"),
    ("vmap", "two maps: a listener verdict map in front, `goto` a chain, then the slot map"),
    ("type", "as vmap, the verdict map declared by `type` instead of `typeof`"),
    ("chains", "as vmap, with a chain per route between the two maps (10,000 chains)"),
    ("ours", "comments + counters + wider key + two maps: the shape of our shared path"),
)
# "as fast": the last route's median within this much of the first's. A
# per-route chain costs about 0.2 ms at the 10,000th route (issue 8), so
# 10 us is 5% of the effect we are guarding against.
CONN_TOL_US = 10.0
CONN_TOL_FRAC = 0.05


class Res:
    def __init__(self, d):
        self.d = d
        self.m = {}
        p = os.path.join(d, "metrics.tsv")
        if os.path.exists(p):
            for line in open(p, encoding="utf-8"):
                if "\t" in line:
                    k, v = line.rstrip("\n").split("\t", 1)
                    self.m[k] = v

    def get(self, k, default=None):
        return self.m.get(k, default)

    def num(self, k):
        v = self.m.get(k)
        try:
            return float(v)
        except (TypeError, ValueError):
            return None

    def hf(self, name):
        """hyperfine result: median, mean, stddev, min, max, cpu (user+sys
        mean), runs; None when missing."""
        p = os.path.join(self.d, name + ".json")
        if not os.path.exists(p):
            return None
        try:
            r = json.load(open(p))["results"][0]
        except (ValueError, KeyError, IndexError):
            return None
        t = r["times"]
        return {"median": statistics.median(t), "mean": r["mean"],
                "stddev": r.get("stddev") or 0.0, "min": min(t),
                "max": max(t), "cpu": r["user"] + r["system"],
                "user": r["user"], "sys": r["system"], "runs": len(t)}

    def conn(self, name):
        p = os.path.join(self.d, "conn-%s.json" % name)
        if not os.path.exists(p):
            return None
        try:
            return json.load(open(p))
        except ValueError:
            return None


def fs(x, unit="s"):
    if x is None:
        return "n/a"
    if unit == "s":
        if x < 0.01:
            return "%.2f ms" % (x * 1000)
        if x < 1:
            return "%.0f ms" % (x * 1000)
        return "%.2f s" % x
    return "%s" % x


def mib(kib):
    return None if kib is None else kib / 1024.0


def verdict_le(val, goal, fmt):
    """MET / MISSED by how much, for a value that must be <= goal."""
    if val is None:
        return "NOT MEASURED"
    if val <= goal:
        return "**MET** (at %.0f%% of the limit)" % (100.0 * val / goal)
    return "**MISSED** by %s (%.1fx the limit)" % (fmt(val - goal), val / goal)


def verdict_ge(val, goal, fmt):
    """MET / MISSED by how much, for a value that must be >= goal."""
    if val is None:
        return "NOT MEASURED"
    if val >= goal:
        return "**MET** (%.1fx the goal)" % (val / goal)
    return "**MISSED**: %s instead of %s (%.0f%% of the goal)" % (
        fmt(val), fmt(goal), 100.0 * val / goal)


def table(rows, header):
    out = ["| " + " | ".join(header) + " |",
           "|" + "|".join("---" for _ in header) + "|"]
    for r in rows:
        out.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(out)


def perf_top(path, n):
    """(percent, symbol) lines of a perf report --stdio -g none."""
    rows = []
    if not os.path.exists(path):
        return rows
    for line in open(path, encoding="utf-8", errors="replace"):
        m = re.match(r"\s+([\d.]+)%\s+(?:([\d.]+)%\s+)?\[([.k])\]\s+(\S+)", line)
        if not m:
            continue
        if m.group(2) is not None:      # --children: children, self
            rows.append((float(m.group(1)), float(m.group(2)), m.group(3), m.group(4)))
        else:
            rows.append((float(m.group(1)), None, m.group(3), m.group(4)))
        if len(rows) >= n:
            break
    return rows


def callgrind_top(path, n, root):
    rows = []
    if not os.path.exists(path):
        return rows, None
    total = None
    for line in open(path, encoding="utf-8", errors="replace"):
        m = re.match(r"\s*([\d,]+)\s+\(\s*([\d.]+)%\)\s+(\S.*)$", line)
        if not m:
            continue
        what = m.group(3)
        if "PROGRAM TOTALS" in what:
            total = int(m.group(1).replace(",", ""))
            continue
        # drop the process start frames that hold everything
        if re.search(r"ld-linux|\(below main\)|libc-start|libc_start_call_main", what):
            continue
        # a recursive function's deeper levels ('2) count their callers'
        # cost again: only the outermost level is a true inclusive cost
        if re.search(r"'\d+(\s|$)", what):
            continue
        what = re.sub(r"\s*\[[^\]]*\]$", "", what)
        what = what.replace(root + "/", "")
        what = re.sub(r"^\./[^:]*/", "libc:", what)
        row = (int(m.group(1).replace(",", "")), float(m.group(2)), what)
        # callgrind_annotate lists a function once per object and once for
        # its inlined copies: keep one line of each
        if rows and rows[-1][0] == row[0] and rows[-1][2] == row[2]:
            continue
        if any(r[2] == row[2] for r in rows):
            continue
        rows.append(row)
        if len(rows) >= n:
            break
    return rows, total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--res", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--readme")
    args = ap.parse_args()
    R = Res(args.res)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    nproc = int(R.num("machine.nproc") or 1)
    L = []
    w = L.append

    w("# tcproutec benchmarks")
    w("")
    w("Written by `make bench` (bench/run.sh, bench/report.py) on %s. Every "
      "figure below was measured by that run; rerun `make bench` to refresh "
      "this file. Goals are those of issue 16." % R.get("machine.date", "?"))
    w("")

    # ---------------------------------------------------------- machine
    w("## Machine")
    w("")
    rows = [("CPUs (nproc)", R.get("machine.nproc")),
            ("CPU model", R.get("machine.cpu")),
            ("memory", R.get("machine.mem")),
            ("kernel", R.get("machine.kernel")),
            ("system", R.get("machine.os"))]
    for k in ("tcproutec", "git", "cc", "hyperfine", "nft", "iptables",
              "ferm", "perf", "valgrind", "python"):
        if R.get("tool." + k):
            rows.append((k if k != "git" else "source (git describe)",
                         R.get("tool." + k)))
    rows.append(("runs", R.get("bench.runs")))
    rows.append(("whole `make bench`", "%s s" % R.get("bench.seconds", "?")))
    w(table(rows, ["", ""]))
    w("")
    loads = [(k.split(".", 1)[1], R.get(k)) for k in
             ("loadavg.start", "loadavg.compile", "loadavg.ferm",
              "loadavg.net", "loadavg.end") if R.get(k)]
    busy = False
    for _, v in loads:
        try:
            if float(v.split()[0]) > nproc:
                busy = True
        except (ValueError, IndexError):
            pass
    w("Load average (1, 5, 15 min) after each section: " +
      "; ".join("%s %s" % x for x in loads) + ". Other busy processes at "
      "the start: %s." % R.get("machine.busy_at_start", "?"))
    psi = [(k.split(".", 1)[1], R.get(k)) for k in
           ("psi.start", "psi.compile", "psi.ferm", "psi.net", "psi.end") if R.get(k)]
    if psi:
        w("")
        w("CPU pressure (/proc/pressure/cpu, share of the last 60 s in which "
          "some runnable task waited for a CPU): " +
          "; ".join("%s %s%%" % x for x in psi) + ".")
        for _, v in psi:
            try:
                if float(v) > 50:
                    busy = True
            except ValueError:
                pass
    if busy:
        w("")
        w("**The machine was shared during this run** (load average above "
          "its %d CPUs): wall-clock times include time spent waiting for a "
          "CPU. The tables give CPU time (user + system) beside every wall "
          "time; CPU time is what the program itself costs, and the goal "
          "verdicts below are on it." % nproc)
    w("")

    # ---------------------------------------------------------- data
    C = {}
    FL = {}
    for f in ("uniform-1000", "uniform-10000", "uniform-100000",
              "mixed-10000", "distinct-20000", "wide-10000"):
        for t in ("iptables", "nft"):
            C[f, t] = R.hf("compile-%s-%s" % (f, t))
            FL[f, t] = R.hf("floor-%s-%s" % (f, t))
    ferm = R.hf("ferm-10000")
    LD = {}
    for name in ("nft-10000", "nft-reload-10000", "ipt-nft-10000",
                 "ipt-legacy-10000", "nft-50000", "nft-reload-50000",
                 "ipt-nft-50000", "ipt-legacy-50000", "nft-nocomment-10000",
                 "lean-10000", "lean-50000", "kube-nft-10000", "kube-legacy-10000"):
        LD[name] = R.hf("load-" + name)
    for v, _ in LEAN_VARIANTS:
        LD["lean-%s-10000" % v] = R.hf("load-lean-%s-10000" % v)
    CN = {n: R.conn(n) for n in ("nft", "iptables-nft", "iptables-legacy")}

    # ---------------------------------------------------------- goals
    goals = []
    notes = []

    def cpu_note(val_cpu, goal):
        if val_cpu is None:
            return ""
        return "; on CPU time (%s) %s" % (fs(val_cpu), "it would be MET" if val_cpu <= goal
                                          else "MISSED as well")

    def x(v):
        return "%.1fx" % v

    def ratio(a, b, key="median"):
        return a[key] / b[key] if a and b and b[key] else None

    # The basis of the verdicts: wall-clock medians, as the goals are
    # written; CPU time (user + system) when other jobs shared the machine,
    # as waiting for a CPU then falls unevenly on the two sides of a ratio.
    K = "cpu" if busy else "median"
    basis = "CPU time" if busy else "wall clock"

    # (a) compile within 20x the floor, memory, linearity
    for f in FLOOR_INPUTS:
        for t in ("iptables", "nft"):
            h, fl = C[f, t], FL[f, t]
            r, rc = ratio(h, fl), ratio(h, fl, "cpu")
            rk = ratio(h, fl, K)
            v = verdict_le(rk, GOAL_FLOOR_X, x)
            if rk and rk > GOAL_FLOOR_X:
                v += "; the goal needs <= %s" % fs(fl[K] * GOAL_FLOOR_X)
            goals.append(("%s compiles within 20x the floor (-t %s)" % (f, t),
                          "wall %s / floor %s = %s; CPU %s / %s = %s" % (
                              fs(h and h["median"]), fs(fl and fl["median"]),
                              x(r) if r else "n/a", fs(h and h["cpu"]),
                              fs(fl and fl["cpu"]), x(rc) if rc else "n/a"), v))
    mem = []
    for f in FLOOR_INPUTS:
        for t in ("iptables", "nft"):
            k = R.num("compile.%s.%s.maxrss_kib" % (f, t))
            if k:
                mem.append((f, t, mib(k)))
    worst = max((m[2] for m in mem), default=None)
    goals.append(("peak memory <= 128 MiB (100k, mixed, distinct; both targets)",
                  "; ".join("%s -t %s %.0f MiB" % m for m in mem) or "n/a",
                  verdict_le(worst, GOAL_COMPILE_MIB, lambda v: "%.0f MiB" % v)))
    for t in ("iptables", "nft"):
        a, b, c = C["uniform-1000", t], C["uniform-10000", t], C["uniform-100000", t]
        r1, r2 = ratio(b, a), ratio(c, b)
        c1, c2 = ratio(b, a, "cpu"), ratio(c, b, "cpu")
        k1, k2 = ratio(b, a, K), ratio(c, b, K)
        worst = max(k1, k2) if k1 and k2 else None
        goals.append(("linear from 1k to 100k: each 10x the routes <= 11x the time (-t %s)" % t,
                      "10k/1k %s, 100k/10k %s (CPU %s, %s)" % (
                          x(r1) if r1 else "n/a", x(r2) if r2 else "n/a",
                          x(c1) if c1 else "n/a", x(c2) if c2 else "n/a"),
                      verdict_le(worst, GOAL_SCALE, x)))
    # (b) ferm
    if ferm:
        for t in ("iptables", "nft"):
            h = C["uniform-10000", t]
            r = ferm["median"] / h["median"] if h else None
            rc = ferm["cpu"] / h["cpu"] if h and h["cpu"] else None
            rk = ratio(ferm, h, K)
            goals.append(("10k routes compile >= 200x faster than ferm (-t %s)" % t,
                          "wall: ferm %s / tcproutec %s = %.0fx; CPU: %s / %s = %s" % (
                              fs(ferm["median"]), fs(h and h["median"]), r or 0,
                              fs(ferm["cpu"]), fs(h and h["cpu"]),
                              "%.0fx" % rc if rc else "n/a"),
                          verdict_ge(rk, GOAL_FERM_X, lambda v: "%.0fx" % v) +
                          (" (tcproutec would need <= %s)" % fs(ferm[K] / GOAL_FERM_X)
                           if rk and rk < GOAL_FERM_X else "")))
    else:
        goals.append(("10k routes compile >= 200x faster than ferm",
                      R.get("ferm.skipped") or R.get("ferm.error") or "no data",
                      "SKIPPED"))
    # (c), (d) loading
    if R.get("net.skipped"):
        goals.append(("load goals (nft within 1.2x lean, iptables within 1.3x kube-proxy)",
                      R.get("net.skipped"), "SKIPPED"))
    else:
        a, b = LD["nft-10000"], LD["lean-10000"]
        r, rc, rk = ratio(a, b), ratio(a, b, "cpu"), ratio(a, b, K)
        goals.append(("`nft -f` of 10k routes within 1.2x the leanest map table",
                      "wall %s / lean %s = %s; CPU %s / %s = %s" % (
                          fs(a and a["median"]), fs(b and b["median"]),
                          x(r) if r else "n/a", fs(a and a["cpu"]), fs(b and b["cpu"]),
                          x(rc) if rc else "n/a"),
                      verdict_le(rk, GOAL_NFT_LEAN_X, x) +
                      ("; the goal needs <= %s" % fs(b[K] * GOAL_NFT_LEAN_X)
                       if rk and rk > GOAL_NFT_LEAN_X else "")))
        a50, b50 = LD["nft-50000"], LD["lean-50000"]
        r, rl = ratio(a50, a), ratio(b50, b)
        rc, rlc = ratio(a50, a, "cpu"), ratio(b50, b, "cpu")
        goals.append(("`nft -f` linear to 50k: 5x the routes <= 5.5x the time",
                      "ours 50k/10k: wall %s (%s / %s), CPU %s; lean table: wall %s, CPU %s" % (
                          x(r) if r else "n/a", fs(a50 and a50["median"]),
                          fs(a and a["median"]), x(rc) if rc else "n/a",
                          x(rl) if rl else "n/a", x(rlc) if rlc else "n/a"),
                      verdict_le(ratio(a50, a, K), GOAL_NFT_SCALE, x)))
        for ours, kube, label in (("ipt-nft-10000", "kube-nft-10000", "iptables-nft-restore"),
                                  ("ipt-legacy-10000", "kube-legacy-10000",
                                   "iptables-legacy-restore")):
            a, b = LD[ours], LD[kube]
            r, rc, rk = ratio(a, b), ratio(a, b, "cpu"), ratio(a, b, K)
            goals.append(("`%s` of 10k routes within 1.3x kube-proxy's shape" % label,
                          "wall %s / kube %s = %s; CPU %s / %s = %s" % (
                              fs(a and a["median"]), fs(b and b["median"]),
                              x(r) if r else "n/a", fs(a and a["cpu"]),
                              fs(b and b["cpu"]), x(rc) if rc else "n/a"),
                          verdict_le(rk, GOAL_IPT_KUBE_X, x) +
                          ("; the goal needs <= %s" % fs(b[K] * GOAL_IPT_KUBE_X)
                           if rk and rk > GOAL_IPT_KUBE_X else "")))
    # kept from issue 8, for the sections below
    loaded = (R.get("load.ipt-nft-10000.forward_rules"),
              R.get("load.ipt-nft-10000.postrouting_rules"))

    w("## Goals")
    w("")
    w(table(goals, ["goal (issue 16)", "measured", "verdict"]))
    w("")
    w("Every goal is a ratio of two figures measured side by side in this run, "
      "wall-clock medians and mean CPU time (user + system) both given; the "
      "verdicts are on **%s**%s. The floor "
      "of a compile is `cat INPUT OUTPUT` (to /dev/null), timed by hyperfine "
      "right after the compile of the same files; the floor of an `nft -f` "
      "load is the leanest map table for the same routes (bench/gen.py "
      "lean: one concatenated map `typeof ip daddr . tcp dport . numgen "
      "random mod 3 : ip daddr . tcp dport`, no comments, one rule); the "
      "floor of an iptables-restore load is a kube-proxy-shaped file for the "
      "same routes (bench/gen.py kube: one jump per service in a dispatch "
      "chain, a chain per service with statistic rules)." % (
          basis, " (the machine was shared: waiting for a CPU falls unevenly "
          "on the two sides of a ratio)" if busy else ""))
    w("")

    # ---------------------------------------------------------- compile
    w("## Compiling")
    w("")
    w("`tcproutec -t TARGET FILE.tr` with the output going to /dev/null, "
      "timed by hyperfine (warm-up runs first, median of the runs); peak "
      "memory is the larger max RSS (`/usr/bin/time -f %M`) of 2 runs. "
      "Inputs by bench/gen.py: `uniform-N` is N routes x 3 servers (one "
      "listener each, balance random); `mixed-10000` has 1..8 servers per "
      "route, weights 1..10, about 20% roundrobin, 10% udp, three snat "
      "kinds; `distinct-20000` has 20,000 routes of 2..4 servers whose "
      "weights sum to 1,000 distinct slot totals (1,000 shared nft maps and "
      "chains); `wide-10000` is one route with 10,000 servers. The floor is "
      "`cat INPUT OUTPUT` timed the same way right after; x floor is the "
      "ratio of the medians.")
    w("")
    rows = []
    for f in ("uniform-1000", "uniform-10000", "uniform-100000",
              "mixed-10000", "distinct-20000", "wide-10000"):
        for t in ("iptables", "nft"):
            h = C[f, t]
            fl = FL[f, t]
            err = R.get("compile.%s.%s.error" % (f, t))
            rss = R.num("compile.%s.%s.maxrss_kib" % (f, t))
            ob = R.num("compile.%s.%s.out_bytes" % (f, t))
            rows.append((f, R.get("input.%s.servers" % f, "?"), t,
                         err if err else fs(h and h["median"]),
                         "%s ± %s" % (fs(h["mean"]), fs(h["stddev"])) if h else "n/a",
                         fs(h and h["min"]),
                         fs(h and h["cpu"]), h and h["runs"],
                         "%.1f" % mib(rss) if rss else "n/a",
                         "%.2f" % (ob / 1048576) if ob else "n/a",
                         R.get("compile.%s.%s.out_lines" % (f, t), "n/a"),
                         fs(fl and fl["median"]),
                         "%.1fx" % (h["median"] / fl["median"]) if h and fl else "n/a"))
    for f in ("uniform-10000", "uniform-100000"):
        h = R.hf("compile-%s-check" % f)
        if h:
            rss = R.num("compile.%s.check.maxrss_kib" % f)
            rows.append((f, R.get("input.%s.servers" % f, "?"), "`--check` (no output)",
                         fs(h["median"]), "%s ± %s" % (fs(h["mean"]), fs(h["stddev"])),
                         fs(h["min"]), fs(h["cpu"]), h["runs"],
                         "%.1f" % mib(rss) if rss else "n/a", "", "", "", ""))
    w(table(rows, ["input", "servers", "target", "median", "mean ± sd", "min",
                   "CPU (user+sys, mean)", "runs", "peak MiB", "output MiB",
                   "output lines", "floor", "x floor"]))
    w("")
    for t in ("iptables", "nft"):
        a, b = C["uniform-1000", t], C["uniform-10000", t]
        c = C["uniform-100000", t]
        if a and b and c:
            w("Scaling (-t %s): 10k/1k = %.1fx, 100k/10k = %.1fx (wall medians); "
              "%.1fx and %.1fx on CPU time. Per route at 100k: %.1f us, %.1f KiB of peak memory." % (
                  t, b["median"] / a["median"], c["median"] / b["median"],
                  b["cpu"] / a["cpu"], c["cpu"] / b["cpu"],
                  c["median"] / 100000 * 1e6,
                  (R.num("compile.uniform-100000.%s.maxrss_kib" % t) or 0) / 100000))
            w("")

    # ---------------------------------------------------------- ferm
    w("## ferm")
    w("")
    if ferm:
        h = C["uniform-10000", "iptables"]
        w("`ferm --remote uniform-10000.ferm` (%s): bench/gen.py writes the ferm "
          "source for exactly the ruleset tcproutec emits for uniform-10000.tr "
          "(same chains, matches, comments; ferm printed %s rules, tcproutec "
          "%s). `--remote` only prints an iptables-restore file, and it runs "
          "inside a throwaway network namespace as well." % (
              R.get("ferm.version", "ferm"), R.get("ferm.rules", "?"),
              R.get("compile.uniform-10000.iptables.rules", "?")))
        w("")
        w(table([("ferm --remote", fs(ferm["median"]), fs(ferm["min"]),
                  fs(ferm["cpu"]), ferm["runs"]),
                 ("tcproutec -t iptables", fs(h and h["median"]), fs(h and h["min"]),
                  fs(h and h["cpu"]), h and h["runs"]),
                 ("tcproutec -t nft", fs(C["uniform-10000", "nft"] and C["uniform-10000", "nft"]["median"]),
                  fs(C["uniform-10000", "nft"] and C["uniform-10000", "nft"]["min"]),
                  fs(C["uniform-10000", "nft"] and C["uniform-10000", "nft"]["cpu"]),
                  C["uniform-10000", "nft"] and C["uniform-10000", "nft"]["runs"])],
                ["10k routes x 3 servers", "median", "min", "CPU", "runs"]))
    else:
        w("SKIPPED: %s" % (R.get("ferm.skipped") or R.get("ferm.error") or "no data"))
    w("")

    # ---------------------------------------------------------- loading
    w("## Loading the output (network namespace)")
    w("")
    if R.get("net.skipped"):
        w("SKIPPED: %s" % R.get("net.skipped"))
    else:
        w("In a fresh namespace (trc-bench-PID-load, deleted afterwards), "
          "emptied before each run (`nft flush ruleset`, or flush and delete "
          "of the legacy tables); \"reload\" loads the same file over the "
          "loaded table, which is what an update costs. Wall clock of `ip "
          "netns exec NS LOADER FILE`. A file and its floor (the lean nft "
          "table and its variants; the kube-proxy-shaped iptables file) are "
          "timed interleaved, round after round (bench/interleave.py), so "
          "that their ratio is measured side by side; the other rows by "
          "hyperfine.")
        w("")
        rows = []
        for name, label in (
                ("nft-10000", "`nft -f`, 10k routes"),
                ("nft-reload-10000", "`nft -f` reload, 10k routes"),
                ("nft-nocomment-10000", "`nft -f`, 10k routes, element comments removed (not the product; what the comments cost)"),
                ("lean-10000", "`nft -f`, the leanest map table for the same 10k routes (the floor)"),
                ("ipt-nft-10000", "`iptables-nft-restore`, 10k routes"),
                ("kube-nft-10000", "`iptables-nft-restore`, kube-proxy shape, same 10k routes (the floor)"),
                ("ipt-legacy-10000", "`iptables-legacy-restore`, 10k routes"),
                ("kube-legacy-10000", "`iptables-legacy-restore`, kube-proxy shape, same 10k routes (the floor)"),
                ("nft-50000", "`nft -f`, 50k routes"),
                ("lean-50000", "`nft -f`, the leanest map table for the same 50k routes"),
                ("nft-reload-50000", "`nft -f` reload, 50k routes"),
                ("ipt-nft-50000", "`iptables-nft-restore`, 50k routes"),
                ("ipt-legacy-50000", "`iptables-legacy-restore`, 50k routes")):
            h = LD[name]
            if h is None and R.get("load.%s.error" % name) is None:
                continue
            rows.append((label, fs(h and h["median"]), fs(h and h["min"]),
                         fs(h and h["max"]), fs(h and h["cpu"]),
                         h and h["runs"]))
        w(table(rows, ["load", "median", "min", "max", "CPU (user+sys)", "runs"]))
        w("")
        base = LD["lean-10000"]
        if base:
            w("### What each feature of our nft output costs the loader")
            w("")
            w("The leanest table for the 10k routes (30,000 elements), then "
              "the same with one feature of our output each (bench/gen.py "
              "lean N FILE FEATURE), loaded the same way. `type` cannot "
              "declare the numgen part of a key (nft refuses: datatype "
              "mismatch, integer), so type vs typeof is measured on the "
              "listener verdict map. Our output adds, besides: a `ct mark "
              "set` rule per chain, the header comment lines, and the "
              "`table`/`delete table` lines of three families.")
            w("")
            rows = [("lean (the floor)", fs(base["median"]), fs(base["cpu"]),
                     "1.00x", "")]
            for v, label in LEAN_VARIANTS:
                h = LD["lean-%s-10000" % v]
                if not h:
                    continue
                rows.append((label, fs(h["median"]), fs(h["cpu"]),
                             "%.2fx" % (h[K] / base[K]),
                             "%+.0f ms" % ((h[K] - base[K]) * 1000)))
            h = LD["nft-10000"]
            if h:
                rows.append(("our output (uniform-10000.nft)", fs(h["median"]), fs(h["cpu"]),
                             "%.2fx" % (h[K] / base[K]),
                             "%+.0f ms" % ((h[K] - base[K]) * 1000)))
            w(table(rows, ["file (10k routes)", "median", "CPU",
                           "x lean (%s)" % basis, "added (%s)" % basis]))
            w("")
        li = R.get("load.nft-10000.listing_identical")
        if li:
            w("After loading, `nft list ruleset` equals the 10k file (without "
              "its comment lines and the `table`/`delete table` lines): %s." % li)
            w("")

    # ---------------------------------------------------------- connections
    w("## Cost of a new connection, first vs last of 10k routes")
    w("")
    if any(CN.values()):
        w("Three namespaces: client 192.0.2.250, front (the ruleset loaded, "
          "forwarding on), servers (198.51.100.0/24 and 203.0.113.0/25 "
          "local). The client opens new TCP connections, each from its own "
          "source port (a new conntrack entry, so the NAT rules are walked "
          "every time), alternating between the first route (%s) and the "
          "last (%s), and times connect() (SYN to SYN-ACK), then resets "
          "the connection. Median and 10th-90th percentile in microseconds; "
          "the difference of medians has a bootstrap 95%% interval; "
          "\"paired\" is the median of last-minus-first within a round." % (
              R.get("conn.first", "?"), R.get("conn.last", "?")))
        w("")
        rows = []
        for name, label in (("nft", "nft -f (the nft target)"),
                            ("iptables-nft", "iptables-nft-restore"),
                            ("iptables-legacy", "iptables-legacy-restore")):
            c = CN[name]
            if not c:
                continue
            f1, l1 = c["first"], c["last"]
            d = c.get("_diff", {}).get("last", {})
            rows.append((label, "%d (%d failed)" % (f1["n"], f1["fail"] + l1["fail"]),
                         "%.1f (%.1f-%.1f)" % (f1["median_us"], f1["p10_us"], f1["p90_us"]),
                         "%.1f (%.1f-%.1f)" % (l1["median_us"], l1["p10_us"], l1["p90_us"]),
                         "%+.1f [%+.1f, %+.1f]" % (d.get("median_diff_us", 0), d.get("ci95_lo_us", 0), d.get("ci95_hi_us", 0)),
                         "%+.1f" % d["paired_median_us"] if d.get("paired_median_us") is not None else "n/a"))
        w(table(rows, ["ruleset (10k routes)", "connections per route",
                       "first route, us", "last route, us",
                       "last - first (95% CI), us", "paired, us"]))
        w("")
        w("The iptables rows are the contrast the issue describes: "
          "PREROUTING holds one rule per listener, so the last route's "
          "connections walk 10,000 rules; the nft target looks the listener "
          "up in one verdict map.")
    else:
        w("SKIPPED: %s" % (R.get("net.skipped") or R.get("net.error") or "no data"))
    w("")

    # ---------------------------------------------------------- counts
    w("## Rules that do not grow with routes (iptables target)")
    w("")
    rows = []
    for f in ("uniform-1000", "uniform-10000", "uniform-100000", "mixed-1000", "mixed-10000"):
        if R.get("compile.%s.iptables.forward_rules" % f) is None:
            continue
        rows.append((f, R.get("compile.%s.iptables.prerouting_rules" % f),
                     R.get("compile.%s.iptables.forward_rules" % f),
                     R.get("compile.%s.iptables.postrouting_rules" % f),
                     R.get("compile.%s.iptables.rules" % f)))
    if loaded[0]:
        rows.append(("uniform-10000 loaded, counted by iptables-nft-save",
                     R.get("load.ipt-nft-10000.prerouting_rules"), loaded[0], loaded[1], ""))
    w(table(rows, ["file", "PREROUTING", "FORWARD", "POSTROUTING", "all rules"]))
    w("")
    w("PREROUTING grows by one rule per listener by design (the dispatch); "
      "FORWARD and POSTROUTING hold one rule per policy statement and per "
      "snat class in use.")
    w("")

    # ---------------------------------------------------------- profile
    w("## Profile of the compiler")
    w("")
    anyprof = False
    for t in ("nft", "iptables"):
        selfp = perf_top(os.path.join(args.res, "perf-%s-self.txt" % t), 18)
        chil = perf_top(os.path.join(args.res, "perf-%s-children.txt" % t), 30)
        if not selfp:
            continue
        anyprof = True
        w("### perf, -t %s, uniform-100000 (frame-pointer build of the same sources)" % t)
        w("")
        w("Self time (`perf report --no-children`), [k] = kernel:")
        w("")
        w(table([("%.1f%%" % r[0], "`%s`%s" % (r[3], " [k]" if r[2] == "k" else ""))
                 for r in selfp], ["self", "function"]))
        w("")
        w("Inclusive time (`perf report --children`), tcproutec functions:")
        w("")
        rows = [("%.1f%%" % r[0], "%.1f%%" % r[1], "`%s`" % r[3]) for r in chil
                if r[2] == "." and not re.match(r"^(0x)?[0-9a-f]+$", r[3])
                and not r[3].startswith("_start") and "libc_start" not in r[3]][:16]
        w(table(rows, ["inclusive", "self", "function"]))
        w("")
    for t in ("nft", "iptables"):
        rows, total = callgrind_top(os.path.join(args.res, "callgrind-%s-incl.txt" % t), 22, root)
        if not rows:
            continue
        anyprof = True
        selfrows, _ = callgrind_top(os.path.join(args.res, "callgrind-%s-self.txt" % t), 12, root)
        w("### callgrind, -t %s, uniform-10000 (instructions)" % t)
        w("")
        w("Total: %s instructions. Inclusive (the function and what it calls):" % (
            "{:,}".format(total) if total else "?"))
        w("")
        w(table([("{:,}".format(r[0]), "%.1f%%" % r[1], "`%s`" % r[2]) for r in rows],
                ["instructions", "share", "file:function"]))
        w("")
        if selfrows:
            w("Self (the function's own instructions):")
            w("")
            w(table([("{:,}".format(r[0]), "%.1f%%" % r[1], "`%s`" % r[2]) for r in selfrows],
                    ["instructions", "share", "file:function"]))
            w("")
    if not anyprof:
        w("SKIPPED: %s" % (R.get("perf.skipped") or "no profile data"))
        w("")

    # ---------------------------------------------------------- analysis
    w("## Where the misses come from")
    w("")
    w("Figures from this run that explain the verdicts above:")
    w("")
    chk = R.hf("compile-uniform-100000-check")
    chk_rss = R.num("compile.uniform-100000.check.maxrss_kib")
    inb = R.num("input.uniform-100000.bytes")
    if chk and chk_rss:
        full = C["uniform-100000", "nft"]
        full_rss = R.num("compile.uniform-100000.nft.maxrss_kib")
        share = ""
        if full and full_rss:
            share = (": %.0f%% of the CPU time and %.0f%% of the peak memory "
                     "of `-t nft` are spent before any output is written" % (
                         100 * chk["cpu"] / full["cpu"], 100 * chk_rss / full_rss))
        w("- The front end alone (`--check` at 100k: read, parse, check, "
          "emit nothing) takes %s (CPU %s) and %.0f MiB, %.1f KiB per route, "
          "for a %.1f MiB input%s." % (
              fs(chk["median"]), fs(chk["cpu"]), chk_rss / 1024,
              chk_rss / 100000, (inb or 0) / 1048576, share))
    for t in ("iptables", "nft"):
        rss = R.num("compile.uniform-100000.%s.maxrss_kib" % t)
        ob = R.num("compile.uniform-100000.%s.out_bytes" % t)
        h = C["uniform-100000", t]
        if rss and ob and chk and chk_rss and h:
            w("- -t %s at 100k: emitting adds %s of CPU time (wall %s) and "
              "%.0f MiB of peak memory for a %.1f MiB output (peak %.0f MiB "
              "in all)." % (
                  t, fs(h["cpu"] - chk["cpu"]), fs(h["median"] - chk["median"]),
                  (rss - chk_rss) / 1024, ob / 1048576, rss / 1024))
    selfp = perf_top(os.path.join(args.res, "perf-nft-self.txt"), 40)
    if selfp:
        k = sum(r[0] for r in selfp if r[2] == "k")
        ms = sum(r[0] for r in selfp if "memset" in r[3])
        pr = sum(r[0] for r in selfp if re.search(r"printf|_IO_|itoa|strchrnul", r[3]))
        lx = sum(r[0] for r in selfp if re.search(r"yylex|yyparse", r[3]))
        srt = sum(r[0] for r in selfp if re.search(r"cmp_|msort|qsort", r[3]))
        w("- Compile time, -t nft at 100k (perf self time): %.0f%% in the "
          "kernel (page faults and clearing of fresh pages, reading the "
          "input), %.0f%% in the scanner and parser, %.0f%% sorting, %.0f%% "
          "in memset, %.0f%% in printf-family formatting." % (k, lx, srt, ms, pr))
    cg, cgt = callgrind_top(os.path.join(args.res, "callgrind-nft-incl.txt"), 400, root)
    vs = [r for r in cg if r[2].endswith("__vsnprintf_internal")]
    ad = [r for r in cg if r[2].endswith(":model_addr_str")]
    rh = [r for r in cg if r[2].endswith(":report_header")]
    if vs and vs[0][1] >= 1.0:
        w("- Instructions, -t nft at 10k (callgrind): %.0f%% under vsnprintf%s%s." % (
              vs[0][1],
              "; model_addr_str (an address to text with snprintf) %.0f%%" % ad[0][1] if ad else "",
              "; the `#` route header lines %.0f%%" % rh[0][1] if rh else ""))
    fl100 = FL["uniform-100000", "nft"]
    if chk and fl100:
        w("- Against the floor (%s): the front end alone (`--check` at 100k, "
          "no output at all) is %.0fx the floor of `-t nft` (%s / %s); the "
          "20x goal would leave %s for reading, scanning, parsing and "
          "checking 100,000 routes, and emitting." % (
              basis, chk[K] / fl100[K], fs(chk[K]),
              fs(fl100[K]), fs(fl100[K] * GOAL_FLOOR_X)))
    chk10 = R.hf("compile-uniform-10000-check")
    if ferm and chk10:
        w("- ferm (%s): 200x needs tcproutec <= %s at 10k routes; the front "
          "end alone (`--check`) takes %s there, and compiling 1,000 routes "
          "(`uniform-1000`, -t nft) %s." % (
              basis, fs(ferm[K] / GOAL_FERM_X), fs(chk10[K]),
              fs(C["uniform-1000", "nft"] and C["uniform-1000", "nft"][K])))
    base = LD["lean-10000"]
    if base:
        cost = []
        for v, label in LEAN_VARIANTS:
            h = LD["lean-%s-10000" % v]
            if h and v not in ("ours", "type"):
                cost.append((h[K] - base[K], v))
        cost.sort(reverse=True)
        if cost:
            w("- `nft -f` against the lean table (%s; the feature table above, "
              "each feature alone on the lean table): %s." % (basis, "; ".join(
                  "%s %+.0f ms" % (v, d * 1000) for d, v in cost)))
    ldn = LD["nft-10000"]
    ldc = LD["nft-nocomment-10000"]
    if ldn:
        nsv = int(R.num("input.uniform-10000.servers") or 0)
        w("- `nft -f` of 10k routes: %s wall, %s CPU, of which %s in user "
          "space (nft parsing and evaluating %s map elements: 10,000 "
          "listeners and %s servers) and %s in the kernel.%s" % (
              fs(ldn["median"]), fs(ldn["cpu"]), fs(ldn["user"]),
              "{:,}".format(10000 + nsv), "{:,}".format(nsv),
              fs(ldn["sys"]),
              (" Without the element comments it takes %s (CPU %s)." % (
                  fs(ldc["median"]), fs(ldc["cpu"]))) if ldc else ""))
    w("")

    text = "\n".join(L).rstrip() + "\n"
    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, args.out)
    print("bench: wrote %s" % args.out)

    if args.readme:
        update_readme(args.readme, goals, R, C, LD, CN)


def update_readme(path, goals, R, C, LD, CN):
    try:
        text = open(path, encoding="utf-8").read()
    except OSError:
        return
    b, e = "<!-- bench:begin -->", "<!-- bench:end -->"
    if b not in text or e not in text:
        print("bench: %s has no %s ... %s block; left alone" % (path, b, e))
        return
    L = ["", "Measured by `make bench` on %s (%s, %s CPUs, %s); the full "
         "tables, the profile and the method are in "
         "[bench/results.md](bench/results.md)." % (
             R.get("machine.date", "?"), R.get("machine.cpu", "?"),
             R.get("machine.nproc", "?"), R.get("machine.kernel", "?")), ""]
    rows = []
    for g in goals:
        rows.append((g[0], g[1], g[2]))
    L.append(table(rows, ["goal", "measured", "verdict"]))
    L.append("")
    new = text[:text.index(b) + len(b)] + "\n" + "\n".join(L) + "\n" + text[text.index(e):]
    if new != text:
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(new)
        os.replace(tmp, path)
        print("bench: updated the Performance block of %s" % path)


if __name__ == "__main__":
    main()
