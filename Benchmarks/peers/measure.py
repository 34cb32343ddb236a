#!/usr/bin/env python3
"""Measures one peer point and prints its KEY lines, re-measuring it while other work is busy.

Usage: measure.py NAME UNIT [--server-pid PID] [--pattern REGEX] -- COMMAND...

Runs COMMAND (which prints the figure: the first group of the last line matching REGEX, default a bare number) and
samples, around it, the busy CPU time of the whole machine (/proc/stat) and of this point's own processes (COMMAND
and its children, plus the server at --server-pid). Others' CPU = machine busy - own, in percent of one core. When it
exceeds --limit (20% of a core), the point is measured again, at most --retries (2) more times; the attempt with the
least interference is kept, and if every attempt was over the limit the point is flagged contended.
Prints: KEY: NAME VALUE UNIT, KEY: NAME_others_cpu PCT %, KEY: NAME_attempts N count, KEY: NAME_contended 0|1 flag.
"""
import argparse
import os
import re
import resource
import subprocess
import sys
import time

HZ = os.sysconf("SC_CLK_TCK")


def machine_busy():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / HZ  # user nice system irq softirq steal


def process_cpu(pid):
    if not pid:
        return 0.0
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / HZ
    except OSError:
        return 0.0


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def attempt(command, pattern, server_pid):
    own0, srv0, busy0, t0 = children_cpu(), process_cpu(server_pid), machine_busy(), time.monotonic()
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True)
    own1, srv1, busy1, t1 = children_cpu(), process_cpu(server_pid), machine_busy(), time.monotonic()
    own = (own1 - own0) + (srv1 - srv0)
    others = max(0.0, (busy1 - busy0) - own) / max(t1 - t0, 1e-9) * 100
    if done.returncode != 0:
        sys.exit(f"measure: {command[0]} exited with {done.returncode}")
    value = None
    for line in done.stdout.splitlines():
        m = re.search(pattern, line)
        if m:
            value = float(m.group(1))
    if value is None:
        sys.exit(f"measure: no figure in the output of {' '.join(command)!r}: {done.stdout[-300:]!r}")
    return value, others


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("name")
    parser.add_argument("unit")
    parser.add_argument("--server-pid", type=int, default=0)
    parser.add_argument("--pattern", default=r"^\s*([0-9]+(?:\.[0-9]+)?)\s*$")
    parser.add_argument("--limit", type=float, default=float(os.environ.get("PEERS_OTHERS_LIMIT", 20)))
    parser.add_argument("--retries", type=int, default=2)
    argv = sys.argv[1:]
    if "--" not in argv:
        sys.exit("usage: measure.py NAME UNIT [options] -- COMMAND...")
    split = argv.index("--")
    args, command = parser.parse_args(argv[:split]), argv[split + 1:]
    results = []
    for _ in range(1 + args.retries):
        results.append(attempt(command, args.pattern, args.server_pid))
        if results[-1][1] <= args.limit or len(results) > args.retries:
            break
        print(f"measure: {args.name}: others used {results[-1][1]:.0f}% of a core; measuring again", file=sys.stderr)
    value, others = min(results, key=lambda r: r[1])
    print(f"KEY: {args.name} {value:.0f} {args.unit}")
    print(f"KEY: {args.name}_others_cpu {others:.0f} %")
    print(f"KEY: {args.name}_attempts {len(results)} count")
    print(f"KEY: {args.name}_contended {1 if others > args.limit else 0} flag")


if __name__ == "__main__":
    main()
