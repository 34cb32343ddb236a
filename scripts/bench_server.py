#!/usr/bin/env python3
"""Kinesis API throughput: `shardlog serve` vs moto's server, in the same run (not a test).

For each server on 127.0.0.1: PutRecords (500 x 100 B per call) and draining with GetRecords, through unmodified
boto3 and through a thin client (http.client, pre-built JSON, no signing), plus the server's CPU time per record
from /proc. Prints one JSON document on stdout.
Usage: bench_server.py SHARDLOG_BIN [--seconds 5]
"""
import argparse
import base64
import http.client
import json
import os
import signal
import subprocess
import tempfile
import time
import uuid

import boto3
from botocore.config import Config

from benchlib import free_port, wait_up


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Thin:
    """A minimal Kinesis JSON client: one keep-alive connection, no SigV4 signature."""

    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port)

    def call(self, op, body):
        self.conn.request("POST", "/", body=body, headers={
            "X-Amz-Target": f"Kinesis_20131202.{op}", "Content-Type": "application/x-amz-json-1.1",
            # Unsigned, but with a credential scope: moto routes requests to a service by it.
            "Authorization": "AWS4-HMAC-SHA256 Credential=x/20260101/us-east-1/kinesis/aws4_request, "
                             "SignedHeaders=host, Signature=0"})
        r = self.conn.getresponse()
        data = r.read()
        if r.status != 200:
            raise RuntimeError(f"{op}: {r.status} {data[:200]}")
        return json.loads(data) if data else {}


def measure(port, pid, seconds):
    out = {}
    k = boto3.client("kinesis", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                     aws_access_key_id="x", aws_secret_access_key="x",
                     config=Config(retries={"total_max_attempts": 1}))
    thin = Thin(port)
    for client in ("boto3", "thin"):
        name = "bench-" + uuid.uuid4().hex[:8]
        k.create_stream(StreamName=name, ShardCount=1)
        for _ in range(100):
            if k.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE":
                break
            time.sleep(0.1)
        batch = [{"Data": b"x" * 100, "PartitionKey": f"k{i}"} for i in range(500)]
        body = json.dumps({"StreamName": name, "Records": [
            {"Data": base64.b64encode(b"x" * 100).decode(), "PartitionKey": f"k{i}"} for i in range(500)]})
        calls = 0
        cpu0 = cpu_seconds(pid)
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            if client == "boto3":
                assert k.put_records(StreamName=name, Records=batch)["FailedRecordCount"] == 0
            else:
                assert thin.call("PutRecords", body)["FailedRecordCount"] == 0
            calls += 1
        elapsed = time.perf_counter() - start
        put_cpu = cpu_seconds(pid) - cpu0
        written = calls * 500
        shard = k.list_shards(StreamName=name)["Shards"][0]["ShardId"]
        read = 0
        cpu0 = cpu_seconds(pid)
        start = time.perf_counter()
        it = k.get_shard_iterator(StreamName=name, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while it and read < written:
            if client == "boto3":
                r = k.get_records(ShardIterator=it, Limit=10000)
                it, n = r.get("NextShardIterator"), len(r["Records"])
            else:
                r = thin.call("GetRecords", json.dumps({"ShardIterator": it, "Limit": 10000}))
                it, n = r.get("NextShardIterator"), len(r["Records"])
            read += n
            if n == 0:
                break
        read_elapsed = time.perf_counter() - start
        read_cpu = cpu_seconds(pid) - cpu0
        out[client] = {
            "putRecordsPerSecond": round(written / elapsed),
            "putServerCPUMicrosecondsPerRecord": round(put_cpu / written * 1e6, 2),
            "getRecordsPerSecond": round(read / read_elapsed) if read_elapsed > 0 else 0,
            "getServerCPUMicrosecondsPerRecord": round(read_cpu / max(read, 1) * 1e6, 2),
            "recordsRead": read, "recordsWritten": written,
        }
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--seconds", type=float, default=5)
    args = ap.parse_args()
    result = {"command": f"scripts/bench_server.py {args.binary} --seconds {args.seconds:g}", "servers": {}}
    with tempfile.TemporaryDirectory(prefix="shardlog-bench-serve.") as data:
        servers = {
            "shardlog": [args.binary, "--data-dir", data, "serve", "--port", "{port}"],
            "moto": ["moto_server", "-H", "127.0.0.1", "-p", "{port}"],
        }
        for name, argv in servers.items():
            port = free_port()
            proc = subprocess.Popen([a.replace("{port}", str(port)) for a in argv], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, start_new_session=True)
            try:
                wait_up(port, deadline=20)
                result["servers"][name] = measure(port, proc.pid, args.seconds)
            finally:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
