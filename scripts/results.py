#!/usr/bin/env python3
"""Writes Benchmarks/RESULTS.md from the JSON files of one `make bench` run, and nothing else.

Every figure in the output is a value of those files (a measurement, a goal of goals.json, a fact of run.json) or a
ratio of two of them; the text around them holds no numbers of its own (the test in
Tests/ShardLogBenchTests/ResultsGeneratorTests.swift checks that on a fixture run). Standard library only.

Inputs, all in --results (Benchmarks/results/ by default, committed with RESULTS.md):
  run.json      commit, dirty flag, build configuration, machine, start, duration, steps (scripts/bench.sh)
  goals.json    the goals (a copy of Benchmarks/goals.json)
  peers.json    the peer baselines' KEY lines (Benchmarks/peers/run_all.sh, converted by `results.py peers`)
  ingest.json, ingest-explicit.json, read.json, idle.json, drain.json, scaling.json, runtime-api.json,
  follow.json   `shardlog bench ... --json`
  put.json      scripts/bench_put.sh;  server.json  scripts/bench_server.py
  lambda.json   `shardlog bench lambda --json` (the Lambda API's Invoke: warm latency, cold starts, invocations/s)
  remote-put.json  scripts/bench_remote_put.py (`put --endpoint-url` vs a boto3 put_records loop)
Usage: results.py [--results DIR] [--out RESULTS.md] [--svg scaling.svg]
       results.py peers KEY-LINES-FILE OUT.json
"""
import argparse
import json
import os
import shutil
import sys


def load(directory, name):
    path = os.path.join(directory, name)
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as error:
        sys.exit(f"results: cannot read {path}: {error}")


def peers_to_json(source, target):
    """`KEY: name value unit` lines and `# ` header lines -> {"header": [...], "keys": {name: {value, unit}}}."""
    keys, header = {}, []
    with open(source) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("# "):
                header.append(line[2:])
            elif line.startswith("KEY: "):
                parts = line[5:].split(" ")
                name, unit = parts[0], parts[-1] if len(parts) > 2 else ""
                raw = " ".join(parts[1:-1]) if len(parts) > 2 else " ".join(parts[1:])
                try:
                    value = float(raw)
                    value = int(value) if value.is_integer() else value
                except ValueError:
                    value = raw.strip('"')
                keys[name] = {"value": value, "unit": unit}
    with open(target, "w") as f:
        json.dump({"header": header, "keys": keys}, f, indent=2, sort_keys=True)
        f.write("\n")


def num(value, decimals=0):
    if value is None:
        return "n/a"
    return f"{value:,.{decimals}f}"


def ratio(a, b):
    if a is None or b is None or isinstance(b, str) or b == 0:
        return None
    return a / b


def rtext(value):
    return "n/a" if value is None else f"{value:.2f}×"


def spread(s, decimals=0):
    """A Spread (median, min, max, samples) as `median (min–max)`."""
    if s is None:
        return "n/a"
    if len(s.get("samples", [])) < 2:
        return num(s["median"], decimals)
    return f"{num(s['median'], decimals)} ({num(s['min'], decimals)}–{num(s['max'], decimals)})"


def find(points, **where):
    for point in points or []:
        if all(point.get(k) == v for k, v in where.items()):
            return point
    return None


def flag(point):
    """`contended` when every attempt of a point ran while other work exceeded the limit."""
    return " (contended)" if point.get("contended") else ""


class Peers:
    def __init__(self, document):
        self.keys = (document or {}).get("keys", {})
        self.header = (document or {}).get("header", [])

    def value(self, name):
        entry = self.keys.get(name)
        if entry is None or isinstance(entry["value"], str):
            return None
        return entry["value"]

    def names(self, prefix):
        return [k for k in self.keys if k.startswith(prefix) and not k.endswith(("_others_cpu", "_attempts",
                                                                                    "_contended"))]

    def best(self, prefix):
        names = [n for n in self.names(prefix) if self.value(n) is not None]
        if not names:
            return None, None
        name = max(names, key=self.value)
        return name, self.value(name)


def lambda_point(document, measurement, client, **where):
    return find((document or {}).get("points", []), measurement=measurement, client=client, **where)


def lambda_goal(goal, document):
    """The `lambda-warm-p50` goal: (value in ms, measured, reference) from lambda.json, or Nones."""
    p = lambda_point(document, "warm-invoke", "thin")
    if not p:
        return None, "n/a", "n/a"
    boto = lambda_point(document, "warm-invoke", "boto3")
    value = p["p50Microseconds"]["median"] / 1000
    reference = f"boto3 p50 {num(boto['p50Microseconds']['median'] / 1000, 2)} ms" if boto else "n/a"
    return value, f"{num(value, 2)} ms (p99 {num(p['p99Microseconds']['median'] / 1000, 2)} ms)", reference


def delivery_latency_goal(goal, document):
    """The `put-to-handler-p99` goal: the worst pooled put → handler p99 (ms) over every point of scaling.json
    with the goal's handler latency (0 ms) and offered rate; (value, measured, reference) or Nones."""
    points = [p for p in (document or {}).get("points", [])
              if p.get("handlerLatencyMilliseconds") == goal["handlerLatencyMilliseconds"]
              and p.get("latencyOfferedRecordsPerSecond") == goal["offeredRecordsPerSecond"]]
    if not points:
        return None, "n/a", "n/a"
    worst = max(points, key=lambda p: p["latency"]["p99Microseconds"])
    best = min(points, key=lambda p: p["latency"]["p99Microseconds"])
    value = worst["latency"]["p99Microseconds"] / 1000
    measured = (f"worst of {len(points)}: S={worst['shards']}, P={worst['parallelizationFactor']}, p99 "
                f"{num(value, 2)} ms (p50 {num(worst['latency']['p50Microseconds'] / 1000, 2)} ms){flag(worst)}")
    reference = (f"best: S={best['shards']}, P={best['parallelizationFactor']}, p99 "
                 f"{num(best['latency']['p99Microseconds'] / 1000, 2)} ms")
    return value, measured, reference


def lambda_section(w, document):
    """`shardlog bench lambda` (issue 11): warm Invoke latency, cold starts, invocations/s with boto3 clients."""
    points = (document or {}).get("points", [])
    if not points:
        return
    w("## Lambda API: Invoke of a Python function (`shardlog bench lambda`)")
    w("")
    w(f"Command: `{document['command']}`")
    w("")
    for note in document.get("notes", []):
        w(f"- {note}")
    w("")
    w("| measurement | client | clients | p50 µs (min–max) | p99 µs (min–max) | cold start ms (min–max) | "
      "invocations/s (min–max) | others CPU % |")
    w("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for p in points:
        what = p["measurement"] + (f" after {p['after']}" if p.get("after") else "")
        w(f"| {what} | {p['client']} | {num(p['clients'])} | {spread(p.get('p50Microseconds'))} | "
          f"{spread(p.get('p99Microseconds'))} | {spread(p.get('coldStartMilliseconds'), 1)} | "
          f"{spread(p.get('invocationsPerSecond'))} | {num(p['othersCPUPercent']['median'])} |")
def follow_goal(follow):
    """(value in ms, measured, reference) of the goal `follow-p99`: the worst p99 of follow.json's rates."""
    points = (follow or {}).get("points", [])
    if not points:
        return None, "n/a", "n/a"
    worst = max(points, key=lambda p: p["latency"]["p99Microseconds"])
    value = worst["latency"]["p99Microseconds"] / 1000
    return (value, f"worst of {len(points)} rates: {num(worst['offeredRecordsPerSecond'])} records/s offered, "
            f"p50 {num(worst['latency']['p50Microseconds'])} µs, p99.9 {num(worst['latency']['p999Microseconds'])} µs "
            f"({num(worst['latency']['count'])} records){flag(worst)}",
            "put → line read from `shardlog get --follow`'s standard output")


def follow_section(w, follow):
    """`shardlog bench follow`: put → seen latency of a `get --follow` process."""
    points = (follow or {}).get("points", [])
    if not points:
        return
    w("## `get --follow` in another process (`shardlog bench follow`)")
    w("")
    w(f"Command: `{follow['command']}`")
    w("")
    for note in follow.get("notes", []):
        w(f"- {note}")
    w("")
    w("| offered records/s | put records/s | records | p50 µs | p99 µs | p99 µs per run (min–max) | p99.9 µs | "
      "max µs | follower CPU % | others CPU % |")
    w("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for p in points:
        lat = p["latency"]
        w(f"| {num(p['offeredRecordsPerSecond'])} | {num(p['putRecordsPerSecond']['median'])} | {num(lat['count'])} | "
          f"{num(lat['p50Microseconds'])} | {num(lat['p99Microseconds'])} | {spread(p['p99Microseconds'])} | "
          f"{num(lat['p999Microseconds'])} | {num(lat['maxMicroseconds'])} | "
          f"{num(p['followerCPUPercent']['median'])} | {num(p['othersCPUPercent']['median'])} |")
    w("")


def runtime_goal(runtime):
    """(value in %, measured, reference) of the goal `runtime-api-vs-bare`: the worst point of runtime-api.json."""
    points = [p for p in (runtime or {}).get("points", []) if p.get("fractionOfBare") is not None]
    if not points:
        return None, "n/a", "n/a"
    worst = min(points, key=lambda p: p["fractionOfBare"])
    return (worst["fractionOfBare"] * 100,
            f"worst of {len(points)}: S={worst['shards']}, P={worst['parallelizationFactor']}, "
            f"{num(worst['invocationsPerSecond']['median'])} invocations/s{flag(worst)}",
            f"bare Runtime API loop {num(worst['bareInvocationsPerSecond']['median'])} invocations/s")


def remote_put_goal(remote):
    """(value, measured, reference) of the goal `remote-put-vs-boto3` from remote-put.json."""
    if not remote:
        return None, "n/a", "n/a"
    cli, boto = remote["cli"]["recordsPerSecond"]["median"], remote["boto3"]["recordsPerSecond"]["median"]
    return (ratio(cli, boto), f"{num(cli)} records/s (`put --endpoint-url`)",
            f"{num(boto)} records/s (boto3 `put_records` loop)")


def remote_put_section(w, remote):
    """`shardlog put --endpoint-url` vs boto3, from remote-put.json."""
    if not remote:
        return
    cli, boto = remote["cli"]["recordsPerSecond"], remote["boto3"]["recordsPerSecond"]
    w("## `shardlog put --endpoint-url` vs a boto3 `put_records` loop (into `shardlog serve`)")
    w("")
    w(f"Command: `{remote['command']}`: {num(remote['records'])} records of {num(remote['recordBytes'])} bytes with "
      f"random partition keys into {num(remote['shards'])} shards of one `shardlog serve`, by the CLI (standard "
      f"input, wall time of the process) and by one boto3 loop of {num(remote['recordsPerCall'])}-record "
      "PutRecords calls, taking turns; CPU time per record of the client process and of the server during each "
      "run.")
    w("")
    w(f"| client | records/s (min–max) | × boto3 ({num(boto['median'])} records/s) | client CPU µs/record | "
      "server CPU µs/record |")
    w("| --- | --- | --- | --- | --- |")
    for name, side, versus in (("`shardlog put --endpoint-url`", remote["cli"], ratio(cli["median"], boto["median"])),
                               ("boto3 `put_records` loop", remote["boto3"], None)):
        w(f"| {name} | {spread(side['recordsPerSecond'])} | {rtext(versus) if versus else ''} | "
          f"{spread(side.get('clientCPUMicrosecondsPerRecord'), 2)} | "
          f"{spread(side.get('serverCPUMicrosecondsPerRecord'), 2)} |")
    w("")


def server_goal(goal, server):
    """A goal on scripts/bench_server.py's figures (`shardlog serve` vs moto): (value, measured, reference, unit).

    `server-put-cpu`/`server-get-cpu`: server CPU µs per record with the thin client; `server-get-vs-moto`: the thin
    client's GetRecords rate against moto's; `server-cbor-put`/`server-cbor-get`: CPU per record in CBOR as a multiple
    of JSON's (at most 1: CBOR not slower)."""
    servers = (server or {}).get("servers", {})
    ours, moto = servers.get("shardlog", {}), servers.get("moto", {})
    thin, cbor = ours.get("thin"), ours.get("thin-cbor")
    gid = goal["id"]
    if gid in ("server-put-cpu", "server-get-cpu"):
        key = "putServerCPUMicrosecondsPerRecord" if gid == "server-put-cpu" else "getServerCPUMicrosecondsPerRecord"
        if not thin:
            return None, "n/a", "n/a", " µs"
        return (thin[key], f"{num(thin[key], 2)} µs of server CPU per record (thin client, JSON)",
                "`shardlog serve` CPU from /proc/PID/stat", " µs")
    if gid == "server-get-vs-moto":
        theirs = moto.get("thin")
        if not thin or not theirs:
            return None, "n/a", "n/a", "×"
        return (ratio(thin["getRecordsPerSecond"], theirs["getRecordsPerSecond"]),
                f"{num(thin['getRecordsPerSecond'])} records/s (thin client)",
                f"moto {num(theirs['getRecordsPerSecond'])} records/s (same client)", "×")
    if gid in ("server-cbor-put", "server-cbor-get"):
        key = "putServerCPUMicrosecondsPerRecord" if gid == "server-cbor-put" else "getServerCPUMicrosecondsPerRecord"
        if not thin or not cbor:
            return None, "n/a", "n/a", "×"
        return (ratio(cbor[key], thin[key]), f"{num(cbor[key], 2)} µs per record in CBOR",
                f"{num(thin[key], 2)} µs per record in JSON", "×")
    return None, "n/a", "n/a", "×"


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "peers":
        peers_to_json(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--results", default="Benchmarks/results")
    parser.add_argument("--out", default="Benchmarks/RESULTS.md")
    parser.add_argument("--svg", default=None, help="copy the delivery chart of the run's report here")
    parser.add_argument("--report", default=None, help="the run's HTML report directory (for --svg)")
    args = parser.parse_args()
    d = args.results
    run = load(d, "run.json") or {}
    goals = load(d, "goals.json") or {}
    peers = Peers(load(d, "peers.json"))
    ingest, explicit, read = load(d, "ingest.json"), load(d, "ingest-explicit.json"), load(d, "read.json")
    idle, drain, scaling = load(d, "idle.json"), load(d, "drain.json"), load(d, "scaling.json")
    runtime, put, server = load(d, "runtime-api.json"), load(d, "put.json"), load(d, "server.json")
    lambda_results = load(d, "lambda.json")
    follow = load(d, "follow.json")
    remote = load(d, "remote-put.json")

    out = []
    w = out.append
    w("# ShardLog benchmark results")
    w("")
    w("Generated by `make bench` (`scripts/bench.sh` → `scripts/results.py`) solely from the JSON files of one run, "
      "committed beside this file in `Benchmarks/results/`; do not edit by hand. ShardLog's benchmarks and the peers "
      "ran back to back on the same machine. MB/s = million bytes of record data per second. Figures are medians over "
      "repeated runs, with (min–max) where there were several.")
    w("")

    # The run.
    w("## The run")
    w("")
    machine = run.get("machine", {})
    w(f"- commit `{run.get('commit', 'unknown')}`"
      + (" **with uncommitted changes (dirty tree)**" if run.get("dirty") else " (clean tree)"))
    w(f"- build: `{run.get('buildConfiguration', 'unknown')}`; {run.get('swiftVersion', 'Swift version unknown')}")
    w(f"- machine: {machine.get('cores', '?')} cores, {machine.get('cpuModel', 'unknown CPU')}, "
      f"{num(machine.get('memoryGiB'), 1)} GiB memory, kernel {machine.get('kernel', '?')}, host "
      f"`{machine.get('hostName', '?')}`")
    w(f"- started {run.get('startedAt', '?')}, finished {run.get('finishedAt', '?')}: "
      f"{num(run.get('durationSeconds'))} s in total (the build included)")
    if run.get("note"):
        w(f"- {run['note']}")
    w("")

    # Goals.
    w("## Goals")
    w("")
    w("| goal | measured | reference | ratio | target | met? |")
    w("| --- | --- | --- | --- | --- | --- |")
    ingest_points = (ingest or {}).get("points", [])
    redis_name, redis_best = peers.best("redis_xadd_")
    nats_async = peers.value("nats_js_file_async_w256")

    def verdict(value, goal, higher_is_better=True):
        if value is None:
            return "n/a"
        met = value >= goal["target"] if higher_is_better else value <= goal["target"]
        text = "**met**" if met else "**missed**"
        if met and goal.get("stretch") is not None:
            stretch = value >= goal["stretch"] if higher_is_better else value <= goal["stretch"]
            text += " (stretch met)" if stretch else " (stretch missed)"
        return text

    def target_text(goal, unit):
        text = f"{'≥' if goal.get('higherIsBetter', True) else '≤'} {num(goal['target'], goal.get('decimals', 0))}{unit}"
        if goal.get("stretch") is not None:
            text += f" (stretch {num(goal['stretch'], goal.get('decimals', 0))}{unit})"
        return text

    for goal in goals.get("goals", []):
        gid = goal["id"]
        measured = reference = "n/a"
        value = None
        unit = "×"
        if gid == "ingest-vs-redis":
            p = find(ingest_points, shards=goal["shards"], producers=goal["producers"], durability="none")
            if p:
                value = ratio(p["recordsPerSecond"]["median"], redis_best)
                measured = f"{num(p['recordsPerSecond']['median'])} records/s{flag(p)}"
                reference = f"{num(redis_best)} ops/s (`{redis_name}`)"
        elif gid == "ingest-shard-scaling":
            one = find(ingest_points, shards=1, producers=goal["producers"], durability="none")
            many = find(ingest_points, shards=goal["shards"], producers=goal["producers"], durability="none")
            unit = "%"
            if one and many:
                value = ratio(many["recordsPerSecond"]["median"], one["recordsPerSecond"]["median"]) * 100
                measured = f"{num(many['recordsPerSecond']['median'])} records/s on {many['shards']} shards{flag(many)}"
                reference = f"{num(one['recordsPerSecond']['median'])} records/s on {one['shards']} shard{flag(one)}"
        elif gid == "put-vs-redis":
            runs = [r for r in (put or []) if r.get("shards") == goal["shards"]]
            if runs:
                rates = sorted(r["linesPerSecond"] for r in runs)
                median = rates[len(rates) // 2]
                value = ratio(median, redis_best)
                measured = f"{num(median)} lines/s"
                reference = f"{num(redis_best)} ops/s (`{redis_name}`)"
        elif gid == "durable-vs-jetstream":
            p = find(ingest_points, shards=goal["shards"], producers=goal["producers"], durability="always")
            if p:
                value = ratio(p["recordsPerSecond"]["median"], nats_async)
                measured = f"{num(p['recordsPerSecond']['median'])} records/s{flag(p)}"
                reference = f"{num(nats_async)} msg/s (`nats_js_file_async_w256`, Go client)"
        elif gid.startswith("idle-"):
            unit = "%"
            p = find((idle or {}).get("points", []), shards=goal["shards"])
            if p:
                value = p["cpuPercentOfCore"]["median"]
                measured = f"{num(value, 2)}% of a core over {num(goal['shards'])} shards{flag(p)}"
                reference = "CPU of the idle `shardlog map` process (/proc/PID/stat)"
        elif gid.startswith("delivery-"):
            unit = "%"
            bound = goal["maxShardsTimesFactor"]
            low = goal.get("minShardsTimesFactor", 0)
            points = [p for p in (scaling or {}).get("points", []) if p.get("handlerLatencyMilliseconds") == 10
                      and low <= p["shards"] * p["parallelizationFactor"] <= bound
                      and p.get("fractionOfIdeal") is not None]
            if points:
                worst = min(points, key=lambda p: p["fractionOfIdeal"])
                value = worst["fractionOfIdeal"] * 100
                measured = (f"worst of {len(points)}: S={worst['shards']}, P={worst['parallelizationFactor']}, "
                            f"{num(worst['deliveryRecordsPerSecond']['median'])} records/s{flag(worst)}")
                reference = f"ideal {num(worst['idealRecordsPerSecond'])} records/s"
        elif gid == "drain-vs-read":
            unit = "%"
            p = ((drain or {}).get("points") or [None])[0]
            raw = find((read or {}).get("points", []), shards=goal["shards"], readers=goal["readers"])
            if p and raw:
                value = ratio(p["deliveryRecordsPerSecond"]["median"], raw["recordsPerSecond"]["median"]) * 100
                measured = f"{num(p['deliveryRecordsPerSecond']['median'])} records/s delivered{flag(p)}"
                reference = f"{num(raw['recordsPerSecond']['median'])} records/s raw read"
        elif gid == "put-to-handler-p99":
            value, measured, reference = delivery_latency_goal(goal, scaling)
            unit = " ms"
        elif gid == "lambda-warm-p50":
            value, measured, reference = lambda_goal(goal, lambda_results)
            unit = " ms"
        elif gid == "remote-put-vs-boto3":
            value, measured, reference = remote_put_goal(remote)
        elif gid.startswith("server-"):
            value, measured, reference, unit = server_goal(goal, server)
        elif gid == "follow-p99":
            value, measured, reference = follow_goal(follow)
            unit = " ms"
        elif gid == "runtime-api-vs-bare":
            value, measured, reference = runtime_goal(runtime)
            unit = "%"
        else:
            continue
        shown = "n/a" if value is None else (rtext(value) if unit == "×" else f"{value:.0f}%")
        if unit in (" ms", " µs") and value is not None:
            shown = f"{value:.2f}{unit}"
        if gid.startswith("idle-") and value is not None:
            shown = f"{value:.2f}%"
        w(f"| {goal['text']} | {measured} | {reference} | {shown} | {target_text(goal, unit)} | "
          f"{verdict(value, goal, goal.get('higherIsBetter', True))} |")
    w("")

    # Contention.
    w("## Contention")
    w("")
    w("The machine may be shared. Every point records the CPU other processes used while it ran (machine busy time "
      "from /proc/stat minus the point's own processes, percent of one core) and is measured again, at most twice, "
      f"while that exceeds {num(run.get('othersLimitPercent', goals.get('othersLimitPercent')))}% of a core; a point whose every attempt exceeded it "
      "is marked contended.")
    w("")
    contended = []
    for name, document in (("ingest", ingest), ("ingest-explicit", explicit), ("read", read), ("idle", idle),
                           ("drain", drain), ("scaling", scaling), ("runtime-api", runtime),
                           ("lambda", lambda_results), ("follow", follow)):
        points = (document or {}).get("points", [])
        if not points:
            continue
        values = [p["othersCPUPercent"]["median"] for p in points]
        retried = sum(1 for p in points if p.get("attempts", 1) > 1)
        busy = [p for p in points if p.get("contended")]
        contended += [(name, p) for p in busy]
        w(f"- `{name}`: others used at most {num(max(values))}% of a core (median of a point's runs); "
          f"{num(retried)} of {num(len(points))} points re-measured, {num(len(busy))} contended")
    peer_flags = [n[: -len("_contended")] for n, e in peers.keys.items() if n.endswith("_contended") and e["value"]]
    w(f"- peers: {num(len(peer_flags))} contended points" + (": " + ", ".join(f"`{n}`" for n in peer_flags)
                                                             if peer_flags else ""))
    for step in run.get("steps", []):
        w(f"- step `{step['name']}`: {num(step.get('seconds'))} s, exit {step.get('exitStatus')}, load "
          f"{num(step.get('loadAtStart'), 2)} at start, {num(step.get('swiftBuildsAtStart'))} Swift build processes "
          "at start")
    w("")

    # Ingest.
    if ingest:
        w("## Ingest (library API, `DataStream.putRecords`)")
        w("")
        w(f"Command: `{ingest['command']}`")
        w("")
        w(f"| shards | producers | durability | records/s (min–max) | MB/s | CPU % | others CPU % | × best Redis "
          f"XADD ({num(redis_best)} ops/s) | × JetStream async acked ({num(nats_async)} msg/s) |")
        w("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for p in ingest_points:
            rate = p["recordsPerSecond"]["median"]
            w(f"| {p['shards']} | {p['producers']} | {p['durability']} | {spread(p['recordsPerSecond'])}{flag(p)} | "
              f"{num(p['megabytesPerSecond']['median'], 1)} | {num(p['cpuPercent']['median'])} | "
              f"{num(p['othersCPUPercent']['median'])} | {rtext(ratio(rate, redis_best))} | "
              f"{rtext(ratio(rate, nats_async))} |")
        w("")
        if explicit:
            w(f"With precomputed ExplicitHashKeys (`{explicit['command']}`):")
            w("")
            w("| shards | producers | records/s (min–max) | others CPU % |")
            w("| --- | --- | --- | --- |")
            for p in explicit["points"]:
                w(f"| {p['shards']} | {p['producers']} | {spread(p['recordsPerSecond'])}{flag(p)} | "
                  f"{num(p['othersCPUPercent']['median'])} |")
            w("")

    # Peers.
    if peers.keys:
        w("## Peers (same run)")
        w("")
        w(f"Redis Streams `XADD` of a {num(peers.value('redis_value_bytes'))}-byte value through `redis-benchmark`, "
          f"and NATS JetStream file-store publish of {num(peers.value('nats_message_bytes'))}-byte messages through "
          "the Go client (nats.go), on the loopback interface. Each point: its figure, the CPU other work used "
          "meanwhile, attempts, contended or not.")
        w("")
        w("| peer point | figure | others CPU % | attempts | contended |")
        w("| --- | --- | --- | --- | --- |")
        for name in peers.names("redis_ping") + peers.names("redis_xadd_") + peers.names("nats_js_"):
            entry = peers.keys[name]
            if isinstance(entry["value"], str):
                continue
            w(f"| `{name}` | {num(entry['value'])} {entry['unit']} | {num(peers.value(name + '_others_cpu'))} | "
              f"{num(peers.value(name + '_attempts'))} | "
              f"{'yes' if peers.value(name + '_contended') else 'no'} |")
        w("")
        w("Physical limits measured in the same run:")
        w("")
        w("| key | value | unit |")
        w("| --- | --- | --- |")
        for name in peers.names("memcpy_") + peers.names("fio_") + peers.names("lz4_"):
            entry = peers.keys[name]
            if name.endswith(("_seconds", "_during_swift_build")) or isinstance(entry["value"], str):
                continue
            w(f"| `{name}` | {num(entry['value'], 2 if entry['value'] < 100 else 0)} | {entry['unit']} |")
        w("")
        if peers.header:
            w("Peer run: " + "; ".join(f"`{line}`" for line in peers.header))
            w("")

    # Read.
    if read:
        w("## Read (`ShardIterator.next`, page cache warm)")
        w("")
        w(f"Command: `{read['command']}`")
        w("")
        w("| shards | readers | records/s (min–max) | MB/s | CPU % | others CPU % |")
        w("| --- | --- | --- | --- | --- | --- |")
        for p in read["points"]:
            w(f"| {p['shards']} | {p['readers']} | {spread(p['recordsPerSecond'])}{flag(p)} | "
              f"{num(p['megabytesPerSecond']['median'], 1)} | {num(p['cpuPercent']['median'])} | "
              f"{num(p['othersCPUPercent']['median'])} |")
        w("")

    # Idle.
    if idle:
        w("## Idle mapping (`shardlog bench idle`)")
        w("")
        w(f"Command: `{idle['command']}`")
        w("")
        for note in idle.get("notes", []):
            w(f"- {note}")
        w("")
        w("| shards | CPU % of a core (min–max) | others CPU % | attempts |")
        w("| --- | --- | --- | --- |")
        for p in idle["points"]:
            w(f"| {num(p['shards'])} | {spread(p['cpuPercentOfCore'], 2)}{flag(p)} | "
              f"{num(p['othersCPUPercent']['median'])} | {num(p.get('attempts', 1))} |")
        w("")

    # Delivery.
    if scaling:
        w("## Delivery through the event source mapping (`shardlog bench scaling`)")
        w("")
        w(f"Command: `{scaling['command']}`")
        w("")
        for note in scaling.get("notes", []):
            w(f"- {note}")
        w("")
        if args.svg:
            w(f"![delivery throughput vs shards]({os.path.basename(args.svg)})")
            w("")
        w("Per point also: records per invocation (below BatchSize: lanes ran partial batches); the handler's "
          "measured sleep per invocation and a lane's cycle, from the start of one batch to the start of its next "
          "(lanes × window / invocations: the handler's time plus the engine's between batches); this process's CPU "
          "per invocation and per record while the mapping delivered; and, for a sleeping handler, what a bare loop "
          "of its sleeps (one task per lane, no mapping) reaches, as a share of the ideal.")
        w("")
        w("| shards | P | handler ms | delivered records/s (min–max) | ideal | % of ideal | sleep loop % of ideal | "
          "records/invocation | "
          "handler sleep ms | lane cycle ms | CPU µs/invocation | CPU ns/record | p50 µs | p99 µs | p99.9 µs | "
          "others CPU % |")
        w("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")

        def median(p, key, decimals):
            return num(p[key]["median"], decimals) if p.get(key) else "-"

        for p in scaling["points"]:
            fraction = p.get("fractionOfIdeal")
            ideal = p.get("idealRecordsPerSecond")
            sleeps = median(p, "meanHandlerMilliseconds", 2) if p["handlerLatencyMilliseconds"] > 0 else "-"
            w(f"| {p['shards']} | {p['parallelizationFactor']} | {num(p['handlerLatencyMilliseconds'])} | "
              f"{spread(p['deliveryRecordsPerSecond'])}{flag(p)} | {num(ideal) if ideal else '-'} | "
              f"{f'{fraction * 100:.0f}%' if fraction is not None else '-'} | "
              f"{num(p['sleepLoopFractionOfIdeal']['median'] * 100) + '%' if p.get('sleepLoopFractionOfIdeal') else '-'} | "
              f"{median(p, 'meanBatchSize', 1)} | {sleeps} | {median(p, 'laneCycleMilliseconds', 2)} | "
              f"{median(p, 'cpuMicrosecondsPerInvocation', 1)} | {median(p, 'cpuNanosecondsPerRecord', 0)} | "
              f"{num(p['latency']['p50Microseconds'])} | {num(p['latency']['p99Microseconds'])} | "
              f"{num(p['latency']['p999Microseconds'])} | {num(p['othersCPUPercent']['median'])} |")
        w("")
    if drain and drain.get("points"):
        p = drain["points"][0]
        w("## Draining with a no-op in-process handler")
        w("")
        w(f"Command: `{drain['command']}`")
        w("")
        w(f"- delivered: **{spread(p['deliveryRecordsPerSecond'])} records/s**{flag(p)}, BatchSize "
          f"{num(p['batchSize'])}, ParallelizationFactor {num(p['parallelizationFactor'])}")
        w("")

    # CLI ingest.
    if put:
        w("## `shardlog put` end to end (JSONL on stdin, `--key-field user`)")
        w("")
        w(f"Command: `scripts/bench_put.sh` (`shardlog put STREAM --format jsonl --key-field user --json < "
          f"events.jsonl` of {num(put[0]['records'])} lines; lines/s by wall time of the process, CPU time (user + "
          "system, all threads) per line from its resource usage)")
        w("")
        w(f"| shards | lines/s (runs) | input MB/s (median) | CPU ns/line (median, min–max) | "
          f"× best Redis XADD ({num(redis_best)} ops/s) |")
        w("| --- | --- | --- | --- | --- |")
        for shards in sorted({r["shards"] for r in put}):
            runs = [r for r in put if r["shards"] == shards]
            rates = sorted(r["linesPerSecond"] for r in runs)
            median = rates[len(rates) // 2]
            mb = sorted(r["inputMBPerSecond"] for r in runs)[len(runs) // 2]
            cpu = sorted(r["cpuNanosecondsPerLine"] for r in runs if "cpuNanosecondsPerLine" in r)
            cpu_text = f"{num(cpu[len(cpu) // 2])} ({num(cpu[0])}–{num(cpu[-1])})" if cpu else "n/a"
            w(f"| {shards} | {num(median)} ({', '.join(num(x) for x in rates)}) | {num(mb, 1)} | {cpu_text} | "
              f"{rtext(ratio(median, redis_best))} |")
        w("")
        gets = [r for r in put if "getLinesPerSecond" in r]
        if gets:
            w("Reading them back: `shardlog get STREAM --limit N > file` after each put run (every record as a JSON "
              "line, data in base64), timed the same way; the reference is the same run's `put` of those lines.")
            w("")
            w("| shards | get lines/s (runs) | CPU ns/line (median, min–max) | × put lines/s |")
            w("| --- | --- | --- | --- |")
            for shards in sorted({r["shards"] for r in gets}):
                runs = [r for r in gets if r["shards"] == shards]
                rates = sorted(r["getLinesPerSecond"] for r in runs)
                median = rates[len(rates) // 2]
                cpu = sorted(r["getCpuNanosecondsPerLine"] for r in runs)
                puts = sorted(r["linesPerSecond"] for r in runs)
                w(f"| {shards} | {num(median)} ({', '.join(num(x) for x in rates)}) | "
                  f"{num(cpu[len(cpu) // 2])} ({num(cpu[0])}–{num(cpu[-1])}) | "
                  f"{rtext(ratio(median, puts[len(puts) // 2]))} |")
            w("")

    remote_put_section(w, remote)

    # Kinesis API server vs moto.
    if server and server.get("servers"):
        ours, moto = server["servers"].get("shardlog", {}), server["servers"].get("moto", {})
        w("## Kinesis API: `shardlog serve` vs moto's server (same run)")
        w("")
        w(f"Command: `{server['command']}`")
        w("")
        w("The thin client reads only what it needs from a response (record count, next iterator, failures), so its "
          "rates show the server's speed rather than the client's JSON parsing; `thin-cbor` is the same client "
          "speaking CBOR, with bodies built as the AWS SDK for Java builds them (moto is measured in JSON only).")
        w("")
        w("| client | server | PutRecords records/s | server CPU µs/record (put) | GetRecords records/s | "
          "server CPU µs/record (get) | × moto (put) | × moto (get) |")
        w("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for client in ("boto3", "thin", "thin-cbor"):
            for name, figures in (("shardlog", ours), ("moto", moto)):
                f = figures.get(client)
                if f:
                    theirs = moto.get(client) or {}
                    put_versus = put_versus_text = get_versus_text = "n/a"
                    if theirs:
                        put_versus = ratio(f["putRecordsPerSecond"], theirs.get("putRecordsPerSecond"))
                        put_versus_text = f"{rtext(put_versus)} of {num(theirs.get('putRecordsPerSecond'))}"
                        get_versus = ratio(f["getRecordsPerSecond"], theirs.get("getRecordsPerSecond"))
                        get_versus_text = f"{rtext(get_versus)} of {num(theirs.get('getRecordsPerSecond'))}"
                    w(f"| {client} | {name} | {num(f['putRecordsPerSecond'])} | "
                      f"{num(f['putServerCPUMicrosecondsPerRecord'], 2)} | {num(f['getRecordsPerSecond'])} | "
                      f"{num(f['getServerCPUMicrosecondsPerRecord'], 2)} | {put_versus_text} | {get_versus_text} |")
        w("")

    # Runtime API.
    if runtime:
        w("## Runtime API handler processes (`shardlog bench runtime-api`)")
        w("")
        w(f"Command: `{runtime['command']}`")
        w("")
        for note in runtime.get("notes", []):
            w(f"- {note}")
        w("")
        w("| shards | P | processes | BatchSize | invocations/s (min–max) | records/s | CPU % | others CPU % | "
          "bare loop invocations/s (min–max) | bare loop CPU % | % of bare |")
        w("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for p in runtime["points"]:
            fraction = p.get("fractionOfBare")
            bare_cpu = p.get("bareCPUPercent")
            w(f"| {p['shards']} | {p['parallelizationFactor']} | {p['processes']} | {p['batchSize']} | "
              f"{spread(p['invocationsPerSecond'])}{flag(p)} | {num(p['recordsPerSecond']['median'])} | "
              f"{num(p['cpuPercent']['median'])} | {num(p['othersCPUPercent']['median'])} | "
              f"{spread(p.get('bareInvocationsPerSecond'))} | {num(bare_cpu['median']) if bare_cpu else 'n/a'} | "
              f"{f'{fraction * 100:.0f}%' if fraction is not None else 'n/a'} |")
        w("")
    follow_section(w, follow)

    lambda_section(w, lambda_results)

    w("## Steps of the run")
    w("")
    for step in run.get("steps", []):
        w(f"- `{step['name']}`: `{step.get('command', '')}`")
    w("")

    with open(args.out, "w") as f:
        f.write("\n".join(out))
    if args.svg and args.report:
        svg = os.path.join(args.report, "delivery-10ms.svg")
        if os.path.exists(svg):
            shutil.copyfile(svg, args.svg)
    print(f"results: wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
