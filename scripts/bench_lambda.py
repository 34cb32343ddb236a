#!/usr/bin/env python3
"""The boto3 side of `shardlog bench lambda` (run by it with the project's .venv python).

usage: bench_lambda.py latency ENDPOINT FUNCTION INVOCATIONS WARMUP
       bench_lambda.py throughput ENDPOINT FUNCTION CLIENTS SECONDS

latency: one boto3 client invokes FUNCTION synchronously (payload {}) WARMUP times, then INVOCATIONS times, each
  timed around `invoke` + reading the payload; prints {"microseconds": [...]} (one value per invocation).
throughput: CLIENTS processes, each with its own boto3 client, invoke FUNCTION back to back for SECONDS after a
  common start (each warmed first); prints {"invocations": N, "seconds": S, "errors": E}.
Standard boto3, default retry settings off (one attempt), no signing credentials needed by the server.
"""
import json
import multiprocessing
import sys
import time

import boto3
from botocore.config import Config


def client(endpoint):
    session = boto3.session.Session(aws_access_key_id="bench", aws_secret_access_key="bench",
                                    region_name="us-east-1")
    return session.client("lambda", endpoint_url=endpoint,
                          config=Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=60,
                                        max_pool_connections=4))


def latency(endpoint, function, invocations, warmup):
    lam = client(endpoint)
    for _ in range(warmup):
        lam.invoke(FunctionName=function, Payload=b"{}")["Payload"].read()
    samples = []
    clock = time.perf_counter_ns
    for _ in range(invocations):
        start = clock()
        response = lam.invoke(FunctionName=function, Payload=b"{}")
        response["Payload"].read()
        samples.append((clock() - start) / 1000)
        if "FunctionError" in response:
            sys.exit(f"bench_lambda: {function} failed: {response}")
    print(json.dumps({"microseconds": samples}))


def worker(endpoint, function, start_at, seconds, results):
    lam = client(endpoint)
    for _ in range(3):
        lam.invoke(FunctionName=function, Payload=b"{}")["Payload"].read()
    while time.time() < start_at:
        time.sleep(0.001)
    end = start_at + seconds
    count = errors = 0
    while time.time() < end:
        try:
            response = lam.invoke(FunctionName=function, Payload=b"{}")
            response["Payload"].read()
            if "FunctionError" in response:
                errors += 1
            else:
                count += 1
        except Exception:  # throttled or refused: counted, not fatal
            errors += 1
    results.put((count, errors, time.time() - start_at))


def throughput(endpoint, function, clients, seconds):
    results = multiprocessing.Queue()
    start_at = time.time() + 2 + 0.5 * clients  # every client created and warmed by then
    workers = [multiprocessing.Process(target=worker, args=(endpoint, function, start_at, seconds, results))
               for _ in range(clients)]
    for w in workers:
        w.start()
    got = [results.get(timeout=seconds + 120) for _ in workers]
    for w in workers:
        w.join()
    print(json.dumps({"invocations": sum(g[0] for g in got), "errors": sum(g[1] for g in got),
                      "seconds": max(g[2] for g in got)}))


if __name__ == "__main__":
    mode, endpoint, function = sys.argv[1:4]
    if mode == "latency":
        latency(endpoint, function, int(sys.argv[4]), int(sys.argv[5]))
    elif mode == "throughput":
        throughput(endpoint, function, int(sys.argv[4]), float(sys.argv[5]))
    else:
        sys.exit(f"bench_lambda: unknown mode {mode}")
