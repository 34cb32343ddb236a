#!/usr/bin/env python3
"""Quick throughput measurement (not a test): PutRecords (500 x 100 B) and GetRecords through boto3.

Usage: measure_throughput.py --endpoint http://127.0.0.1:PORT [--endpoint ...] [--seconds 10] [--shards 1]
Each endpoint gets a fresh stream; prints records/s for PutRecords and for draining it with GetRecords.
"""
import argparse
import time
import uuid

import boto3
from botocore.config import Config


def measure(endpoint, seconds, shards):
    k = boto3.client("kinesis", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x",
                     aws_secret_access_key="x", config=Config(retries={"total_max_attempts": 1}))
    name = "bench-" + uuid.uuid4().hex[:8]
    k.create_stream(StreamName=name, ShardCount=shards)
    for _ in range(100):
        if k.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE":
            break
        time.sleep(0.1)
    batch = [{"Data": b"x" * 100, "PartitionKey": f"k{i}"} for i in range(500)]
    k.put_records(StreamName=name, Records=batch)  # warm-up
    put = 500
    calls = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        res = k.put_records(StreamName=name, Records=batch)
        assert res["FailedRecordCount"] == 0, res["FailedRecordCount"]
        put += 500
        calls += 1
    put_rate = calls * 500 / (time.perf_counter() - start)
    shard_ids = [s["ShardId"] for s in k.list_shards(StreamName=name)["Shards"]]
    read = 0
    start = time.perf_counter()
    for shard in shard_ids:
        it = k.get_shard_iterator(StreamName=name, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while it:
            res = k.get_records(ShardIterator=it, Limit=10000)
            read += len(res["Records"])
            if not res["Records"]:
                break
            it = res.get("NextShardIterator")
    read_rate = read / (time.perf_counter() - start)
    return put_rate, read, read_rate, put


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", action="append", required=True)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--shards", type=int, default=1)
    args = ap.parse_args()
    for endpoint in args.endpoint:
        put_rate, read, read_rate, put = measure(endpoint, args.seconds, args.shards)
        print(f"{endpoint}: PutRecords {put_rate:,.0f} records/s (500 x 100 B per call); "
              f"GetRecords {read_rate:,.0f} records/s ({read} of {put} records read, Limit 10000)", flush=True)


if __name__ == "__main__":
    main()
