#!/usr/bin/env python3
"""Time commands side by side, interleaved (standard library only).

    interleave.py --runs N --res DIR [--prepare CMD] NAME=CMD...

Round after round, runs each command once, in the order given (each
preceded by --prepare, untimed), so that a drift of the machine (another
job starting, the CPU clock changing) falls on every command alike; a
ratio of two of them is then a ratio measured side by side, which is what
the goals of issue 16 are. Writes DIR/load-NAME.json in hyperfine's format
(results[0]: times, mean, stddev, user, system: wall seconds of each run;
CPU seconds, user and system, as means), which bench/report.py reads like
any hyperfine result. Commands run through /bin/sh; a failing command or
prepare stops this script with status 1.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def run(cmd):
    """Wall seconds, user and system CPU seconds of `sh -c cmd`."""
    t0 = time.perf_counter()
    p = subprocess.Popen(["/bin/sh", "-c", cmd], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    err = p.stderr.read().decode(errors="replace")
    p.stderr.close()
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.exit("interleave: %r failed (%d): %s" % (cmd, p.returncode, err[:300]))
    return wall, ru.ru_utime, ru.ru_stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, required=True)
    ap.add_argument("--res", required=True)
    ap.add_argument("--prepare", default="")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("cmds", nargs="+")
    a = ap.parse_args()
    cmds = []
    for c in a.cmds:
        name, sep, cmd = c.partition("=")
        if not sep or not name or not cmd:
            sys.exit("interleave: NAME=CMD expected, not %r" % c)
        cmds.append((name, cmd))
    res = {name: [] for name, _ in cmds}
    for r in range(a.warmup + a.runs):
        for name, cmd in cmds:
            if a.prepare:
                run(a.prepare)
            t = run(cmd)
            if r >= a.warmup:
                res[name].append(t)
    for name, cmd in cmds:
        v = res[name]
        walls = [x[0] for x in v]
        out = {"results": [{
            "command": cmd,
            "times": walls,
            "mean": statistics.mean(walls),
            "stddev": statistics.stdev(walls) if len(walls) > 1 else 0.0,
            "median": statistics.median(walls),
            "user": statistics.mean(x[1] for x in v),
            "system": statistics.mean(x[2] for x in v),
            "min": min(walls),
            "max": max(walls),
            "interleaved_with": [n for n, _ in cmds if n != name],
        }]}
        path = os.path.join(a.res, "load-%s.json" % name)
        with open(path + ".tmp", "w") as f:
            json.dump(out, f, indent=1)
        os.replace(path + ".tmp", path)


if __name__ == "__main__":
    main()
