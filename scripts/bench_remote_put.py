#!/usr/bin/env python3
"""`shardlog put --endpoint-url` vs a boto3 `put_records` loop (500 records per call) into `shardlog serve`.

Starts `shardlog serve` on a free 127.0.0.1 port over a scratch data directory, creates a 4-shard stream, and puts
the same records (100-byte lines, random partition keys) alternately with the CLI (standard input, wall time of the
process) and with a single-threaded boto3 loop of 500-record PutRecords calls (the usual way to batch with boto3),
REPEATS times each, with the CPU time per record of the client (the CLI process from wait4; the Python process for
boto3) and of the server (/proc/PID/stat) during each run. Prints one JSON document on stdout (for
scripts/results.py). Not a test.
Usage: bench_remote_put.py SHARDLOG_BIN [--records 200000] [--repeats 3]
"""
import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import tempfile
import time

import boto3
from botocore.config import Config

from benchlib import free_port, wait_up


def process_cpu_seconds(pid):
    """User + system CPU seconds of a running process so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def per_record(seconds, records):
    return round(seconds / records * 1e6, 2)


def spread(samples):
    ordered = sorted(samples)
    return {"median": ordered[len(ordered) // 2], "min": ordered[0], "max": ordered[-1], "samples": samples}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("bin")
    parser.add_argument("--records", type=int, default=200000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    record_bytes, shards, per_call = 100, 4, 500
    random.seed(13)
    # 100-byte records both ways (the CLI does not store the newline).
    lines = [("r%09d-" % i + "x" * record_bytes)[:record_bytes] for i in range(args.records)]
    payload = "".join(line + "\n" for line in lines).encode()
    # Random 64-bit hexadecimal keys, as the CLI makes without --key-field; made before the timed loop.
    keys = ["%016x" % random.getrandbits(64) for _ in range(args.records)]
    work = tempfile.mkdtemp(prefix="shardlog-bench-remote-put.")
    port = free_port()
    env = dict(os.environ, AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x", AWS_REGION="us-east-1")
    server = subprocess.Popen([args.bin, "--data-dir", work + "/data", "serve", "--host", "127.0.0.1",
                               "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    cli_rates, boto_rates = [], []
    cpu = {"cliClient": [], "cliServer": [], "botoClient": [], "botoServer": []}
    try:
        wait_up(port)
        k = boto3.client("kinesis", endpoint_url=url, region_name="us-east-1", aws_access_key_id="x",
                         aws_secret_access_key="x", config=Config(retries={"max_attempts": 10, "mode": "standard"}))
        for run in range(args.repeats):
            stream = f"cli{run}"
            k.create_stream(StreamName=stream, ShardCount=shards)
            server_before = process_cpu_seconds(server.pid)
            start = time.perf_counter()
            with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
                put = subprocess.Popen([args.bin, "put", stream, "--endpoint-url", url, "--json"],
                                       stdin=subprocess.PIPE, stdout=out, stderr=err, env=env)
                put.stdin.write(payload)
                put.stdin.close()
                _, status, usage = os.wait4(put.pid, 0)
                seconds = time.perf_counter() - start
                put.returncode = os.waitstatus_to_exitcode(status)
                out.seek(0)
                err.seek(0)
                stdout, stderr = out.read(), err.read()
            cpu["cliServer"].append(per_record(process_cpu_seconds(server.pid) - server_before, args.records))
            cpu["cliClient"].append(per_record(usage.ru_utime + usage.ru_stime, args.records))
            summary = json.loads(stdout or b"{}")
            if put.returncode != 0 or summary.get("records") != args.records:
                raise RuntimeError(f"shardlog put failed ({put.returncode}): {stderr.decode()[-500:]}")
            cli_rates.append(round(args.records / seconds))

            stream = f"boto{run}"
            k.create_stream(StreamName=stream, ShardCount=shards)
            server_before, client_before = process_cpu_seconds(server.pid), time.process_time()
            start = time.perf_counter()
            for first in range(0, args.records, per_call):
                entries = [{"Data": line.encode(), "PartitionKey": key}
                           for line, key in zip(lines[first:first + per_call], keys[first:first + per_call])]
                while entries:
                    answer = k.put_records(StreamName=stream, Records=entries)
                    entries = [e for e, r in zip(entries, answer["Records"]) if "ErrorCode" in r]
            seconds = time.perf_counter() - start
            cpu["botoClient"].append(per_record(time.process_time() - client_before, args.records))
            cpu["botoServer"].append(per_record(process_cpu_seconds(server.pid) - server_before, args.records))
            boto_rates.append(round(args.records / seconds))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({
        "command": f"scripts/bench_remote_put.py {os.path.basename(args.bin)} --records {args.records} "
                   f"--repeats {args.repeats}",
        "records": args.records, "recordBytes": record_bytes, "shards": shards, "recordsPerCall": per_call,
        "cli": {"recordsPerSecond": spread(cli_rates),
                "clientCPUMicrosecondsPerRecord": spread(cpu["cliClient"]),
                "serverCPUMicrosecondsPerRecord": spread(cpu["cliServer"])},
        "boto3": {"recordsPerSecond": spread(boto_rates),
                  "clientCPUMicrosecondsPerRecord": spread(cpu["botoClient"]),
                  "serverCPUMicrosecondsPerRecord": spread(cpu["botoServer"])},
    }, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
