#!/usr/bin/env python3
"""Kinesis API throughput: `shardlog serve` vs moto's server, in the same run (not a test).

For each server on 127.0.0.1: PutRecords (500 x 100 B per call) and draining with GetRecords, through unmodified
boto3 and through a thin client (http.client, pre-built JSON, no signing; it reads from a response only what it needs
-- the record count, the next iterator, FailedRecordCount -- so that the client, not the server, is not what a
GetRecords rate measures), plus the server's CPU time per record from /proc. `shardlog serve` is also measured with
the thin client in CBOR (`thin-cbor`: application/x-amz-cbor-1.1, bodies built as the AWS SDK for Java v2 builds
them: indefinite-length maps and arrays, blobs as byte strings). Prints one JSON document on stdout.
Usage: bench_server.py SHARDLOG_BIN [--seconds 5]
"""
import argparse
import base64
import http.client
import json
import os
import re
import signal
import subprocess
import tempfile
import time
import uuid

import boto3
from botocore.config import Config
import cbor2

from benchlib import free_port, wait_up


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Thin:
    """A minimal Kinesis client: one keep-alive connection, no SigV4 signature; JSON, or CBOR with `cbor=True`."""

    def __init__(self, port, cbor=False):
        self.conn = http.client.HTTPConnection("127.0.0.1", port)
        self.cbor = cbor

    def call(self, op, body):
        """Sends op with the pre-built body; returns the raw response body."""
        self.conn.request("POST", "/", body=body, headers={
            "X-Amz-Target": f"Kinesis_20131202.{op}",
            "Content-Type": "application/x-amz-cbor-1.1" if self.cbor else "application/x-amz-json-1.1",
            # Unsigned, but with a credential scope: moto routes requests to a service by it.
            "Authorization": "AWS4-HMAC-SHA256 Credential=x/20260101/us-east-1/kinesis/aws4_request, "
                             "SignedHeaders=host, Signature=0"})
        r = self.conn.getresponse()
        data = r.read()
        if r.status != 200:
            raise RuntimeError(f"{op}: {r.status} {data[:200]}")
        return data

    def put_records_body(self, stream, records):
        if not self.cbor:
            return json.dumps({"StreamName": stream, "Records": [
                {"Data": base64.b64encode(data).decode(), "PartitionKey": key} for data, key in records]})
        # As Jackson's CBOR generator in the Java SDK writes it: indefinite-length map and array (0xBF/0x9F ... 0xFF).
        entries = b"".join(b"\xbf" + cbor2.dumps("Data") + cbor2.dumps(data) + cbor2.dumps("PartitionKey")
                           + cbor2.dumps(key) + b"\xff" for data, key in records)
        return (b"\xbf" + cbor2.dumps("StreamName") + cbor2.dumps(stream) + cbor2.dumps("Records") + b"\x9f"
                + entries + b"\xff\xff")

    def put_records(self, body):
        """PutRecords: the number of failed records."""
        data = self.call("PutRecords", body)
        if self.cbor:
            return cbor2.loads(data)["FailedRecordCount"]
        return int(re.search(rb'"FailedRecordCount"\s*:\s*(\d+)', data).group(1))

    def get_records(self, iterator, limit):
        """GetRecords: (next iterator or None, number of records)."""
        if self.cbor:
            body = (b"\xbf" + cbor2.dumps("ShardIterator") + cbor2.dumps(iterator) + cbor2.dumps("Limit")
                    + cbor2.dumps(limit) + b"\xff")
            r = cbor2.loads(self.call("GetRecords", body), semantic_decoders={1: lambda value, immutable: value})
            return r.get("NextShardIterator"), len(r["Records"])
        data = self.call("GetRecords", json.dumps({"ShardIterator": iterator, "Limit": limit}))
        # Data is base64 and keys are k0..k499: each record has exactly one "SequenceNumber" member.
        found = re.search(rb'"NextShardIterator"\s*:\s*"([^"]*)"', data)
        return (found.group(1).decode() if found else None), data.count(b'"SequenceNumber"')


def measure(port, pid, seconds, clients):
    out = {}
    k = boto3.client("kinesis", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                     aws_access_key_id="x", aws_secret_access_key="x",
                     config=Config(retries={"total_max_attempts": 1}))
    for client in clients:
        thin = Thin(port, cbor=client == "thin-cbor")
        name = "bench-" + uuid.uuid4().hex[:8]
        k.create_stream(StreamName=name, ShardCount=1)
        for _ in range(100):
            if k.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE":
                break
            time.sleep(0.1)
        batch = [{"Data": b"x" * 100, "PartitionKey": f"k{i}"} for i in range(500)]
        body = thin.put_records_body(name, [(b"x" * 100, f"k{i}") for i in range(500)])
        calls = 0
        cpu0 = cpu_seconds(pid)
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            if client == "boto3":
                assert k.put_records(StreamName=name, Records=batch)["FailedRecordCount"] == 0
            else:
                assert thin.put_records(body) == 0
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
                it, n = thin.get_records(it, 10000)
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
            "shardlog": ([args.binary, "--data-dir", data, "serve", "--port", "{port}"], ("boto3", "thin", "thin-cbor")),
            "moto": (["moto_server", "-H", "127.0.0.1", "-p", "{port}"], ("boto3", "thin")),
        }
        for name, (argv, clients) in servers.items():
            port = free_port()
            proc = subprocess.Popen([a.replace("{port}", str(port)) for a in argv], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, start_new_session=True)
            try:
                wait_up(port, deadline=20)
                result["servers"][name] = measure(port, proc.pid, args.seconds, clients)
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
