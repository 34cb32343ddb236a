#!/usr/bin/env python3
"""End-to-end test of `shardlog serve` in CBOR (`application/x-amz-cbor-1.1`), with requests built the way the AWS
SDK for Java v2 builds them: a CBOR map body (cbor2), blobs as byte strings, timestamps as tag 1 around an integer
of epoch milliseconds; responses, errors and SubscribeToShard event payloads decoded as CBOR.

Usage: kinesis_cbor_test.py --endpoint http://127.0.0.1:PORT [--subscription-seconds N]
Exits 0 when every check passes; otherwise prints each mismatch and exits 1.
"""
import argparse
import http.client
import struct
import sys
import time
import traceback
import urllib.parse
import zlib

import cbor2

CBOR = "application/x-amz-cbor-1.1"
FAILURES = []
CHECKS = 0


def check(name, condition, detail=""):
    global CHECKS
    CHECKS += 1
    if not condition:
        text = str(detail)
        if len(text) > 600:
            text = text[:600] + "..."
        FAILURES.append(f"{name}: {text}")
        print(f"FAIL {name}: {text}", flush=True)


class Millis:
    """A CBOR tag-1 timestamp as the Java SDK reads it: epoch milliseconds."""

    def __init__(self, ms):
        self.ms = ms

    def __repr__(self):
        return f"Millis({self.ms})"


def loads(data):
    # cbor2 reads tag 1 as RFC 8949 seconds; AWS (and this server) write epoch milliseconds there.
    # (cbor2 6 calls a semantic decoder with the tag's content, already decoded, and whether it is immutable.)
    return cbor2.loads(data, semantic_decoders={1: lambda value, immutable: Millis(value)})


class Client:
    def __init__(self, endpoint):
        u = urllib.parse.urlparse(endpoint)
        self.host, self.port = u.hostname, u.port

    def raw(self, target, body, content_type=CBOR):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        headers = {"Content-Type": content_type, "X-Amz-Target": f"Kinesis_20131202.{target}",
                   "Accept": content_type}
        conn.request("POST", "/", body=body, headers=headers)
        r = conn.getresponse()
        data = r.read()
        conn.close()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data

    def call(self, op, **members):
        """Sends op with members as a CBOR map; returns (status, decoded body, headers)."""
        status, headers, data = self.raw(op, cbor2.dumps(members))
        check(f"{op} content type", headers.get("content-type") == CBOR, headers)
        return status, (loads(data) if data else None), headers

    def ok(self, op, **members):
        status, body, _ = self.call(op, **members)
        check(f"{op} status", status == 200, f"{status} {body}")
        return body if body is not None else {}

    def error(self, name, code, op, message=None, **members):
        status, body, headers = self.call(op, **members)
        check(name, status == 400 and isinstance(body, dict) and body.get("__type") == code
              and headers.get("x-amzn-errortype") == code
              and (message is None or body.get("message", body.get("Message")) == message),
              f"expected {code}, got {status} {body}")
        return body


def event_messages(data):
    """Splits an application/vnd.amazon.eventstream body into (headers, payload), checking both CRCs."""
    out = []
    i = 0
    while i < len(data):
        total, header_length, prelude_crc = struct.unpack(">III", data[i:i + 12])
        check("prelude CRC", zlib.crc32(data[i:i + 8]) == prelude_crc)
        check("message CRC", zlib.crc32(data[i:i + total - 4]) == struct.unpack(">I", data[i + total - 4:i + total])[0])
        headers = {}
        j = i + 12
        end = j + header_length
        while j < end:
            n = data[j]
            name = data[j + 1:j + 1 + n].decode()
            j += 1 + n
            kind = data[j]
            check("header type", kind == 7, kind)
            length = struct.unpack(">H", data[j + 1:j + 3])[0]
            headers[name] = data[j + 3:j + 3 + length].decode()
            j += 3 + length
        out.append((headers, data[end:i + total - 4]))
        i += total
    return out


def run(args):
    c = Client(args.endpoint)
    stream = "cbor-stream"

    # Streams.
    c.ok("CreateStream", StreamName=stream, ShardCount=2)
    c.error("CreateStream twice", "ResourceInUseException", "CreateStream", StreamName=stream, ShardCount=1)
    listed = c.ok("ListStreams")
    check("ListStreams", stream in listed.get("StreamNames", []), listed)
    summaries = listed.get("StreamSummaries", [])
    check("ListStreams StreamCreationTimestamp is tag 1 ms",
          any(isinstance(s.get("StreamCreationTimestamp"), Millis)
              and abs(s["StreamCreationTimestamp"].ms - time.time() * 1000) < 600_000 for s in summaries), summaries)
    d = c.ok("DescribeStream", StreamName=stream)["StreamDescription"]
    arn = d["StreamARN"]
    check("DescribeStream", d["StreamStatus"] == "ACTIVE" and len(d["Shards"]) == 2, d)
    created = d["StreamCreationTimestamp"]
    check("DescribeStream StreamCreationTimestamp", isinstance(created, Millis) and isinstance(created.ms, int),
          created)
    s = c.ok("DescribeStreamSummary", StreamARN=arn)["StreamDescriptionSummary"]
    check("DescribeStreamSummary", s["OpenShardCount"] == 2 and s["StreamName"] == stream, s)
    shards = c.ok("ListShards", StreamName=stream)["Shards"]
    check("ListShards", [x["ShardId"] for x in shards] == ["shardId-000000000000", "shardId-000000000001"], shards)
    filtered = c.ok("ListShards", StreamName=stream,
                    ShardFilter={"Type": "FROM_TIMESTAMP", "Timestamp": cbor2.CBORTag(1, created.ms)})
    check("ListShards FROM_TIMESTAMP (tag 1 ms)", len(filtered.get("Shards", [])) == 2, filtered)

    # Records: binary data, byte strings both ways.
    blobs = [bytes(range(256)), b"\x00\xff\x80", b"x" * 1000]
    put = c.ok("PutRecord", StreamName=stream, Data=blobs[0], PartitionKey="k0")
    check("PutRecord", put["ShardId"].startswith("shardId-") and put["SequenceNumber"].isdigit()
          and put["EncryptionType"] == "NONE", put)
    batch = c.ok("PutRecords", StreamName=stream,
                 Records=[{"Data": b, "PartitionKey": f"k{i}"} for i, b in enumerate(blobs[1:], 1)]
                 + [{"Data": b"explicit", "PartitionKey": "p", "ExplicitHashKey": "0"}])
    check("PutRecords", batch["FailedRecordCount"] == 0 and len(batch["Records"]) == 3
          and all("SequenceNumber" in r for r in batch["Records"]), batch)
    c.error("PutRecords with a text Data", "SerializationException", "PutRecords", StreamName=stream,
            Records=[{"Data": 5, "PartitionKey": "k"}])
    c.error("PutRecord 1 MiB + 1", "ValidationException", "PutRecord", StreamName=stream,
            Data=b"\x00" * (1024 * 1024 + 1), PartitionKey="k")
    before_ms = int(time.time() * 1000) - 60_000
    got = []
    for shard in shards:
        it = c.ok("GetShardIterator", StreamName=stream, ShardId=shard["ShardId"],
                  ShardIteratorType="AT_TIMESTAMP", Timestamp=cbor2.CBORTag(1, before_ms))["ShardIterator"]
        r = c.ok("GetRecords", ShardIterator=it, Limit=100)
        check("GetRecords NextShardIterator", isinstance(r.get("NextShardIterator"), str), r)
        check("GetRecords MillisBehindLatest", isinstance(r.get("MillisBehindLatest"), int), r)
        got.extend(r["Records"])
    datas = sorted(bytes(r["Data"]) for r in got)
    check("GetRecords data round trip (byte strings)", datas == sorted(blobs + [b"explicit"]),
          [x[:8] for x in datas])
    now_ms = time.time() * 1000
    check("GetRecords ApproximateArrivalTimestamp is tag 1 ms",
          all(isinstance(r["ApproximateArrivalTimestamp"], Millis) and isinstance(r["ApproximateArrivalTimestamp"].ms, int)
              and abs(r["ApproximateArrivalTimestamp"].ms - now_ms) < 600_000 for r in got),
          [r["ApproximateArrivalTimestamp"] for r in got])
    check("GetRecords PartitionKey", sorted(r["PartitionKey"] for r in got) == ["k0", "k1", "k2", "p"], got)
    future = int(time.time() * 1000) + 3_600_000
    c.error("AT_TIMESTAMP in the future", "InvalidArgumentException", "GetShardIterator", StreamName=stream,
            ShardId="shardId-000000000000", ShardIteratorType="AT_TIMESTAMP", Timestamp=cbor2.CBORTag(1, future))
    it = c.ok("GetShardIterator", StreamName=stream, ShardId="shardId-000000000000",
              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    c.error("GetRecords Limit 0", "ValidationException", "GetRecords", ShardIterator=it, Limit=0)
    c.error("GetRecords bad iterator", "InvalidArgumentException", "GetRecords", ShardIterator="nope")

    # Errors in CBOR.
    c.error("DescribeStream unknown", "ResourceNotFoundException", "DescribeStream", StreamName="nope",
            message="Stream nope under account 000000000000 not found.")
    c.error("DescribeStream wrong type", "SerializationException", "DescribeStream", StreamName=5)
    status, headers, data = c.raw("DescribeStream", b"\xbf\x61")
    body = loads(data)
    check("malformed CBOR", status == 400 and body.get("__type") == "SerializationException"
          and "CBOR" in body.get("Message", ""), f"{status} {body}")
    status, headers, data = c.raw("DescribeStream", b"\x5b\xff\xff\xff\xff\xff\xff\xff\xff")
    check("hostile byte-string length", status == 400 and loads(data).get("__type") == "SerializationException",
          f"{status} {data[:200]}")
    status, headers, data = c.raw("ListStreams", b"\x81" * 100000 + b"\x00")
    check("hostile nesting", status == 400 and loads(data).get("__type") == "SerializationException",
          f"{status} {data[:200]}")
    status, headers, data = c.raw("ListStreams", b"")
    check("empty CBOR body", status == 200 and "StreamNames" in loads(data), f"{status} {data[:200]}")
    status, headers, data = c.raw("Nope", cbor2.dumps({}))
    check("unknown operation in CBOR", status == 400 and loads(data).get("__type") == "UnknownOperationException",
          f"{status} {data[:200]}")

    # Resharding, retention, tags, monitoring.
    c.ok("SplitShard", StreamName=stream, ShardToSplit="shardId-000000000000",
         NewStartingHashKey=str(2 ** 126 // 2))
    c.ok("MergeShards", StreamName=stream, ShardToMerge="shardId-000000000002",
         AdjacentShardToMerge="shardId-000000000003")
    c.ok("UpdateShardCount", StreamName=stream, TargetShardCount=2, ScalingType="UNIFORM_SCALING")
    c.ok("IncreaseStreamRetentionPeriod", StreamName=stream, RetentionPeriodHours=48)
    c.ok("DecreaseStreamRetentionPeriod", StreamName=stream, RetentionPeriodHours=24)
    c.ok("AddTagsToStream", StreamName=stream, Tags={"a": "1", "b": "2"})
    c.ok("RemoveTagsFromStream", StreamName=stream, TagKeys=["b"])
    tags = c.ok("ListTagsForStream", StreamName=stream)
    check("ListTagsForStream", tags["Tags"] == [{"Key": "a", "Value": "1"}], tags)
    c.ok("TagResource", ResourceARN=arn, Tags={"c": "3"})
    c.ok("UntagResource", ResourceARN=arn, TagKeys=["a"])
    tags = c.ok("ListTagsForResource", ResourceARN=arn)
    check("ListTagsForResource", tags["Tags"] == [{"Key": "c", "Value": "3"}], tags)
    m = c.ok("EnableEnhancedMonitoring", StreamName=stream, ShardLevelMetrics=["IncomingBytes"])
    check("EnableEnhancedMonitoring", m["DesiredShardLevelMetrics"] == ["IncomingBytes"], m)
    c.ok("DisableEnhancedMonitoring", StreamName=stream, ShardLevelMetrics=["ALL"])

    # Settings operations.
    c.ok("StartStreamEncryption", StreamName=stream, EncryptionType="KMS", KeyId="alias/aws/kinesis")
    c.ok("StopStreamEncryption", StreamName=stream, EncryptionType="KMS", KeyId="alias/aws/kinesis")
    c.ok("UpdateStreamMode", StreamARN=arn, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    c.ok("UpdateStreamMode", StreamARN=arn, StreamModeDetails={"StreamMode": "PROVISIONED"})
    limits = c.ok("DescribeLimits")
    check("DescribeLimits", isinstance(limits.get("ShardLimit"), int), limits)
    policy = '{"Version":"2012-10-17","Statement":[]}'
    c.ok("PutResourcePolicy", ResourceARN=arn, Policy=policy)
    check("GetResourcePolicy", c.ok("GetResourcePolicy", ResourceARN=arn).get("Policy") == policy)
    c.ok("DeleteResourcePolicy", ResourceARN=arn)
    c.ok("DescribeAccountSettings")
    c.ok("UpdateAccountSettings", MinimumThroughputBillingCommitment={"Status": "DISABLED"})
    c.ok("UpdateMaxRecordSize", StreamARN=arn, MaxRecordSizeInKiB=1024)
    c.ok("UpdateStreamWarmThroughput", StreamARN=arn, WarmThroughputMiBps=0)

    # Consumers and SubscribeToShard with CBOR event payloads.
    consumer = c.ok("RegisterStreamConsumer", StreamARN=arn, ConsumerName="cbor-consumer")["Consumer"]
    carn = consumer["ConsumerARN"]
    check("RegisterStreamConsumer timestamp", isinstance(consumer.get("ConsumerCreationTimestamp"), Millis), consumer)
    dc = c.ok("DescribeStreamConsumer", ConsumerARN=carn)["ConsumerDescription"]
    check("DescribeStreamConsumer", dc["ConsumerName"] == "cbor-consumer", dc)
    lc = c.ok("ListStreamConsumers", StreamARN=arn)["Consumers"]
    check("ListStreamConsumers", [x["ConsumerName"] for x in lc] == ["cbor-consumer"], lc)
    open_shards = [x["ShardId"] for x in c.ok("ListShards", StreamName=stream)["Shards"]
                   if "EndingSequenceNumber" not in x["SequenceNumberRange"]]
    shard = open_shards[0]
    c.ok("PutRecord", StreamName=stream, Data=b"\x01\x02sub", PartitionKey="s",
         ExplicitHashKey=[x for x in c.ok("ListShards", StreamName=stream)["Shards"] if x["ShardId"] == shard][0]
         ["HashKeyRange"]["StartingHashKey"])
    for _ in range(50):
        if c.ok("DescribeStreamConsumer", ConsumerARN=carn)["ConsumerDescription"]["ConsumerStatus"] == "ACTIVE":
            break
        time.sleep(0.1)
    start = time.time()
    status, headers, data = c.raw("SubscribeToShard", cbor2.dumps(
        {"ConsumerARN": carn, "ShardId": shard,
         "StartingPosition": {"Type": "AT_TIMESTAMP", "Timestamp": cbor2.CBORTag(1, before_ms)}}))
    check("SubscribeToShard status", status == 200 and headers.get("content-type") == "application/vnd.amazon.eventstream",
          f"{status} {headers} {data[:300]}")
    check("SubscribeToShard ends by its limit", time.time() - start < args.subscription_seconds + 10)
    messages = event_messages(data) if status == 200 else []
    check("initial-response", messages and messages[0][0].get(":event-type") == "initial-response"
          and loads(messages[0][1]) == {}, messages[:1])
    events = [loads(p) for h, p in messages[1:] if h.get(":event-type") == "SubscribeToShardEvent"]
    check("event payload content type", all(h.get(":content-type") == CBOR for h, _ in messages), messages[:2])
    records = [r for e in events for r in e["Records"]]
    check("SubscribeToShard records (byte strings, tag 1 ms)",
          any(bytes(r["Data"]) == b"\x01\x02sub" and isinstance(r["ApproximateArrivalTimestamp"], Millis)
              for r in records), records)
    check("SubscribeToShard ContinuationSequenceNumber", events and all(
        isinstance(e.get("ContinuationSequenceNumber"), str) for e in events), events[:2])
    c.error("SubscribeToShard unknown consumer", "ResourceNotFoundException", "SubscribeToShard",
            ConsumerARN=carn.replace("cbor-consumer", "nobody"), ShardId=shard, StartingPosition={"Type": "LATEST"})
    c.ok("DeregisterStreamConsumer", ConsumerARN=carn)

    # A JSON request on the same server is still answered in JSON.
    status, headers, data = c.raw("ListStreams", b"{}", content_type="application/x-amz-json-1.1")
    check("JSON still JSON", status == 200 and headers.get("content-type") == "application/x-amz-json-1.1"
          and data.startswith(b"{"), f"{status} {headers} {data[:100]}")

    c.ok("DeleteStream", StreamName=stream, EnforceConsumerDeletion=True)
    c.error("DescribeStream after delete", "ResourceNotFoundException", "DescribeStream", StreamName=stream)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--subscription-seconds", type=float, default=3)
    args = parser.parse_args()
    try:
        run(args)
    except Exception:
        traceback.print_exc()
        FAILURES.append("exception: " + traceback.format_exc().splitlines()[-1])
    print(f"{CHECKS - len(FAILURES)} passed, {len(FAILURES)} failed")
    sys.exit(1 if FAILURES else 0)


if __name__ == "__main__":
    main()
