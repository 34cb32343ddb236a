#!/usr/bin/env python3
"""Hostile HTTP clients for `shardlog serve`, driven by HostileRequestTests.swift.

Each subcommand attacks a running server (or, for `memory`, a `shardlog serve` child it starts itself) over real
loopback sockets, prints what it measured, and exits non-zero with a reason when the server misbehaves.

    crashers   requests whose numbers once trapped the server: each must get a 400 with AWS's error type, and
               /health must still answer afterwards
    replay     a signed PutRecord replayed with another body and the original X-Amz-Content-Sha256 is refused
               and nothing is stored (needs --key/--secret of a server started with credentials)
    early      unsigned / garbage-signed requests declaring a 9 MiB body are answered before any body is sent
    oversize   bodies declared over their operation's cap get 413 before any body is sent
    slowloris  request headers sent one byte per second: the server closes the connection within --within seconds
    slowbody   a body trickled one byte per second: the server answers 408 or closes within --within seconds
    framing    malformed chunked framing and a short body get 400, never 500
    memory     200 unfinished 8.5 MiB PutRecords bodies (its cap, for a 10 MiB record, is about 15.4 MiB)
               against a spawned `shardlog serve`: VmRSS stays bounded and falls back when they close
"""
import argparse
import base64
import hashlib
import http.client
import json
import os
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

TARGET = "Kinesis_20131202."
JSON_TYPE = "application/x-amz-json-1.1"


def fail(message):
    print("FAIL: " + message, flush=True)
    sys.exit(1)


def host_port(endpoint):
    u = urllib.parse.urlparse(endpoint)
    return u.hostname, u.port


def call(endpoint, operation, body_text, headers=None, timeout=10):
    """POSTs raw JSON text (so 1e400 can be sent as written); returns (status, parsed body or text)."""
    host, port = host_port(endpoint)
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    h = {"X-Amz-Target": TARGET + operation, "Content-Type": JSON_TYPE}
    h.update(headers or {})
    conn.request("POST", "/", body=body_text.encode(), headers=h)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    try:
        return r.status, json.loads(data) if data else {}
    except ValueError:
        return r.status, data.decode(errors="replace")


def health(endpoint):
    host, port = host_port(endpoint)
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.request("GET", "/health")
    status = conn.getresponse().status
    conn.close()
    return status


def forged_token(kind, fields, issued):
    text = "\x1f".join([kind, str(issued)] + fields).encode()
    return base64.b64encode(text + hashlib.sha256(text).digest()[:12]).decode()


def crashers(args):
    e = args.endpoint
    stream = "hostile"
    status, body = call(e, "CreateStream", json.dumps({"StreamName": stream, "ShardCount": 1}))
    if status != 200:
        fail(f"CreateStream: {status} {body}")
    arn = f"arn:aws:kinesis:us-east-1:000000000000:stream/{stream}"
    status, body = call(e, "RegisterStreamConsumer", json.dumps({"StreamARN": arn, "ConsumerName": "c"}))
    if status != 200:
        fail(f"RegisterStreamConsumer: {status} {body}")
    consumer = body["Consumer"]["ConsumerARN"]
    shard = '"ShardId":"shardId-000000000000"'
    # The reproductions: each must be InvalidArgumentException.
    invalid = []
    for ts in ["1e16", "1e300", "-1e300", "1e400", '"1e400"', "-1e400"]:
        invalid.append(("GetShardIterator",
                        f'{{"StreamName":"{stream}",{shard},"ShardIteratorType":"AT_TIMESTAMP","Timestamp":{ts}}}'))
        for kind in ["AT_TIMESTAMP", "FROM_TIMESTAMP"]:
            invalid.append(("ListShards",
                            f'{{"StreamName":"{stream}","ShardFilter":{{"Type":"{kind}","Timestamp":{ts}}}}}'))
        invalid.append(("SubscribeToShard",
                        f'{{"ConsumerARN":"{consumer}",{shard},'
                        f'"StartingPosition":{{"Type":"AT_TIMESTAMP","Timestamp":{ts}}}}}'))
    for seq in ["49590338271490256608559692538361571095921575989136588898", "49" + "0" * 12 + "9" * 42]:
        for kind in ["AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"]:
            invalid.append(("GetShardIterator",
                            f'{{"StreamName":"{stream}",{shard},"ShardIteratorType":"{kind}",'
                            f'"StartingSequenceNumber":"{seq}"}}'))
            invalid.append(("SubscribeToShard",
                            f'{{"ConsumerARN":"{consumer}",{shard},'
                            f'"StartingPosition":{{"Type":"{kind}","SequenceNumber":"{seq}"}}}}'))
        invalid.append(("PutRecord",
                        f'{{"StreamName":"{stream}","Data":"eA==","PartitionKey":"k",'
                        f'"SequenceNumberForOrdering":"{seq}"}}'))
    # Other numbers and forged tokens: any 400 with an error type will do.
    other = [
        ("CreateStream", '{"StreamName":"n1","ShardCount":1e300}'),
        ("CreateStream", '{"StreamName":"n2","ShardCount":-1e300}'),
        ("CreateStream", '{"StreamName":"n3","ShardCount":1e400}'),
        ("CreateStream", '{"StreamName":"n4","ShardCount":9007199254740993}'),
        ("ListStreams", '{"Limit":1e400}'),
        ("ListShards", f'{{"StreamName":"{stream}","MaxResults":-1e300}}'),
        ("DescribeStream", f'{{"StreamName":"{stream}","Limit":1e19}}'),
        ("IncreaseStreamRetentionPeriod", f'{{"StreamName":"{stream}","RetentionPeriodHours":1e400}}'),
        ("DecreaseStreamRetentionPeriod", f'{{"StreamName":"{stream}","RetentionPeriodHours":-9.3e18}}'),
        ("UpdateShardCount", f'{{"StreamName":"{stream}","TargetShardCount":1e18,"ScalingType":"UNIFORM_SCALING"}}'),
        ("SplitShard", f'{{"StreamName":"{stream}","ShardToSplit":"shardId-000000000000",'
                       f'"NewStartingHashKey":"{"9" * 60}"}}'),
        ("GetRecords", '{"ShardIterator":"%s"}' % forged_token("it", [stream, "0", "0"], -2**63)),
        ("GetRecords", '{"ShardIterator":"%s"}' % forged_token("it", [stream, str(2**62), "0"], int(time.time() * 1000))),
        ("GetRecords", '{"ShardIterator":"%s"}' % forged_token("it", [stream, "0", str(2**64)], int(time.time() * 1000))),
        ("ListShards", '{"NextToken":"%s"}' % forged_token("sh", [stream, "", "AT_TIMESTAMP", "", str(2**63 - 1)],
                                                          int(time.time() * 1000))),
        ("ListStreams", '{"NextToken":"%s"}' % forged_token("ls", ["a"], -2**63)),
    ]
    checked = 0
    for expected, cases in [("InvalidArgumentException", invalid), (None, other)]:
        for op, text in cases:
            status, body = call(e, op, text)
            kind = body.get("__type") if isinstance(body, dict) else None
            if status != 400 or not kind or not (body.get("message") or body.get("Message")):
                fail(f"{op} {text}: expected 400 with __type and message (or Message), got {status} {body}")
            if expected and kind != expected:
                fail(f"{op} {text}: expected {expected}, got {kind}: {body.get('message')}")
            checked += 1
    if health(e) != 200:
        fail("/health does not answer after the hostile requests")
    print(f"crashers: {checked} requests answered 400 with an error type; /health 200", flush=True)


def signed_request(endpoint, key, secret, operation, body):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    request = AWSRequest(method="POST", url=endpoint + "/", data=body,
                         headers={"X-Amz-Target": TARGET + operation, "Content-Type": JSON_TYPE})
    SigV4Auth(Credentials(key, secret), "kinesis", "us-east-1").add_auth(request)
    return dict(request.headers.items())


def send_raw(endpoint, headers, body):
    host, port = host_port(endpoint)
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.request("POST", "/", body=body, headers=headers)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, json.loads(data) if data else {}


def replay(args):
    e, key, secret = args.endpoint, args.key, args.secret
    stream = "replayed"
    create = json.dumps({"StreamName": stream, "ShardCount": 1}).encode()
    status, body = send_raw(e, signed_request(e, key, secret, "CreateStream", create), create)
    if status != 200:
        fail(f"signed CreateStream: {status} {body}")
    original = json.dumps({"StreamName": stream, "Data": base64.b64encode(b"original").decode(),
                           "PartitionKey": "k"}).encode()
    tampered = json.dumps({"StreamName": stream, "Data": base64.b64encode(b"TAMPERED").decode(),
                           "PartitionKey": "k"}).encode()
    original_hash = hashlib.sha256(original).hexdigest()
    headers = signed_request(e, key, secret, "PutRecord", original)
    status, body = send_raw(e, headers, original)
    if status != 200:
        fail(f"signed PutRecord: {status} {body}")
    refused = 0
    # 1: the captured request replayed with another body plus the original body's hash (unsigned header).
    replayed = dict(headers)
    replayed["X-Amz-Content-Sha256"] = original_hash
    # 2: the same, but the signature itself covered X-Amz-Content-Sha256 (as S3-style signers do).
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    request = AWSRequest(method="POST", url=e + "/", data=original,
                         headers={"X-Amz-Target": TARGET + "PutRecord", "Content-Type": JSON_TYPE,
                                  "X-Amz-Content-Sha256": original_hash})
    SigV4Auth(Credentials(key, secret), "kinesis", "us-east-1").add_auth(request)
    covered = dict(request.headers.items())
    if "x-amz-content-sha256" not in covered["Authorization"]:
        fail("botocore did not sign X-Amz-Content-Sha256; the second replay would test nothing")
    status, body = send_raw(e, covered, original)
    if status != 200:
        fail(f"signed PutRecord with X-Amz-Content-Sha256: {status} {body}")
    for attempt in [replayed, covered]:
        status, body = send_raw(e, attempt, tampered)
        if status != 400 or body.get("__type") != "InvalidSignatureException":
            fail(f"tampered replay answered {status} {body}")
        refused += 1
    # Nothing tampered was stored: read the shard with signed calls.
    it_body = json.dumps({"StreamName": stream, "ShardId": "shardId-000000000000",
                          "ShardIteratorType": "TRIM_HORIZON"}).encode()
    status, body = send_raw(e, signed_request(e, key, secret, "GetShardIterator", it_body), it_body)
    if status != 200:
        fail(f"GetShardIterator: {status} {body}")
    get_body = json.dumps({"ShardIterator": body["ShardIterator"]}).encode()
    status, body = send_raw(e, signed_request(e, key, secret, "GetRecords", get_body), get_body)
    if status != 200:
        fail(f"GetRecords: {status} {body}")
    data = [base64.b64decode(r["Data"]) for r in body["Records"]]
    if data != [b"original", b"original"]:
        fail(f"stored records are {data}, expected the two signed originals only")
    print(f"replay: {refused} tampered replays refused with InvalidSignatureException; stored {data}", flush=True)


def read_response(sock, timeout):
    """Reads until the end of headers (and a small body) or close; returns (status or None, seconds, closed)."""
    sock.settimeout(timeout)
    start = time.monotonic()
    data = b""
    closed = False
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                closed = True
                break
            data += chunk
    except (socket.timeout, TimeoutError):
        pass
    except (ConnectionResetError, BrokenPipeError):
        closed = True
    elapsed = time.monotonic() - start
    status = None
    if data.startswith(b"HTTP/1.1 "):
        status = int(data[9:12])
    return status, elapsed, closed, data


def early(args):
    host, port = host_port(args.endpoint)
    cases = {
        "unsigned": "",
        "garbage": "Authorization: garbage\r\n",
        "unknown key": "Authorization: AWS4-HMAC-SHA256 Credential=NOPE/20240101/us-east-1/kinesis/aws4_request, "
                       "SignedHeaders=host, Signature=00\r\nX-Amz-Date: 20240101T000000Z\r\n",
        "stale date": "Authorization: AWS4-HMAC-SHA256 Credential=%s/20000101/us-east-1/kinesis/aws4_request, "
                      "SignedHeaders=host, Signature=00\r\nX-Amz-Date: 20000101T000000Z\r\n" % args.key,
    }
    for name, auth in cases.items():
        sock = socket.create_connection((host, port))
        sock.sendall(("POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: Kinesis_20131202.PutRecord\r\n"
                      f"Content-Type: {JSON_TYPE}\r\n{auth}Content-Length: {9 << 20}\r\n\r\n").encode())
        status, elapsed, closed, data = read_response(sock, args.within)
        sock.close()
        if status is None or status < 400 or status >= 500:
            fail(f"{name}: no 4xx answer within {args.within} s before the body (status {status}, closed {closed})")
        if b"__type" not in data and b"x-amzn-ErrorType" not in data:
            fail(f"{name}: the answer carries no error type: {data[:300]!r}")
        print(f"early: {name} answered {status} after {elapsed:.3f} s with no body sent", flush=True)


def oversize(args):
    """Bodies declared over their operation's cap get 413 from the headers alone (no body byte is sent)."""
    host, port = host_port(args.endpoint)
    for operation, size in [("PutRecords", 16 << 20), ("PutRecord", 14 << 20), ("ListStreams", 2 << 20),
                            ("NoSuchOperation", 100 << 20)]:
        sock = socket.create_connection((host, port))
        sock.sendall((f"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: Kinesis_20131202.{operation}\r\n"
                      f"Content-Type: {JSON_TYPE}\r\nContent-Length: {size}\r\n\r\n").encode())
        status, elapsed, closed, data = read_response(sock, args.within)
        sock.close()
        if status != 413:
            fail(f"{operation} declaring {size} bytes: expected 413 within {args.within} s, got {status}")
        print(f"oversize: {operation} declaring {size} bytes answered 413 after {elapsed:.3f} s", flush=True)


def slowloris(args):
    host, port = host_port(args.endpoint)
    sock = socket.create_connection((host, port))
    sock.settimeout(1.0)
    request = b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: Kinesis_20131202.ListStreams\r\nContent-Length: 2\r\n"
    start = time.monotonic()
    sent = 0
    closed_after = None
    while time.monotonic() - start < args.within:
        try:
            sock.send(request[sent % len(request):sent % len(request) + 1])
            sent += 1
            r, _, _ = select.select([sock], [], [], 1.0)
            if r and not sock.recv(4096):
                closed_after = time.monotonic() - start
                break
        except (ConnectionResetError, BrokenPipeError, OSError):
            closed_after = time.monotonic() - start
            break
    sock.close()
    if closed_after is None:
        fail(f"a connection sending headers one byte per second was still open after {args.within} s")
    print(f"slowloris: closed after {closed_after:.1f} s and {sent} header bytes", flush=True)


def slowbody(args):
    host, port = host_port(args.endpoint)
    sock = socket.create_connection((host, port))
    sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: Kinesis_20131202.ListStreams\r\n"
                 b"Content-Type: application/x-amz-json-1.1\r\nContent-Length: 100000\r\n\r\n")
    start = time.monotonic()
    status = None
    outcome = None
    while time.monotonic() - start < args.within:
        try:
            sock.send(b" ")
        except OSError:
            outcome = "closed"
            break
        r, _, _ = select.select([sock], [], [], 0.5)
        if r:
            status, _, closed, _ = read_response(sock, 2)
            outcome = f"answered {status}" if status else "closed"
            break
    elapsed = time.monotonic() - start
    sock.close()
    if outcome is None:
        fail(f"a body trickled one byte per half second was still being read after {args.within} s")
    if status is not None and status != 408:
        fail(f"a trickled body was answered {status}, expected 408")
    print(f"slowbody: {outcome} after {elapsed:.1f} s", flush=True)


def framing(args):
    host, port = host_port(args.endpoint)
    head = ("POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: Kinesis_20131202.ListStreams\r\n"
            f"Content-Type: {JSON_TYPE}\r\n")
    chunked = head + "Transfer-Encoding: chunked\r\n\r\n"
    cases = {
        "chunk size zz": (chunked + "zz\r\n{}\r\n0\r\n\r\n", False),
        "chunk size 2^72": (chunked + "%x\r\n{}\r\n0\r\n\r\n" % (2 ** 72), False),
        "missing CRLF after chunk": (chunked + "2\r\n{}XX0\r\n\r\n", False),
        "short body": (head + "Content-Length: 100\r\n\r\n{}", True),
        "short chunked body": (chunked + "64\r\n{}", True),
    }
    for name, (text, half_close) in cases.items():
        sock = socket.create_connection((host, port))
        sock.sendall(text.encode())
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        status, elapsed, closed, data = read_response(sock, 10)
        sock.close()
        if status != 400:
            fail(f"{name}: expected 400, got {status} ({data[:200]!r})")
        print(f"framing: {name} answered 400 after {elapsed:.3f} s", flush=True)
    if health(args.endpoint) != 200:
        fail("/health does not answer after the framing errors")


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def memory(args):
    data_dir = tempfile.mkdtemp(prefix="shardlog-memory-")
    serve = [args.shardlog, "serve", "--data-dir", data_dir, "--port", "0"] + args.serve_args
    child = subprocess.Popen(serve, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        while True:
            line = child.stderr.readline()
            lines.append(line)
            if not line or "listening on" in line:
                break
        if "listening on" not in line:
            fail(f"serve did not start: {''.join(lines)}")
        port = int(line.strip().rsplit(":", 1)[1])
        threading.Thread(target=lambda: child.stderr.read(), daemon=True).start()
        endpoint = f"http://127.0.0.1:{port}"
        if health(endpoint) != 200:
            fail("/health does not answer")
        before = rss_mib(child.pid)
        size = int(args.mib * (1 << 20))
        body = b" " * (size - 1)
        counts = {"accepted": 0, "refused": 0}
        lock = threading.Lock()
        sockets = []

        def attack():
            sock = socket.create_connection(("127.0.0.1", port))
            framing = (f"Transfer-Encoding: chunked\r\n\r\n{size:x}\r\n" if args.chunked
                       else f"Content-Length: {size}\r\n\r\n")
            sock.sendall(("POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: Kinesis_20131202.PutRecords\r\n"
                          f"Content-Type: {JSON_TYPE}\r\n{framing}").encode())
            r, _, _ = select.select([sock], [], [], 0.5)
            refused = bool(r)
            if not refused:
                try:
                    sock.sendall(body)
                except OSError:
                    refused = True
            with lock:
                counts["refused" if refused else "accepted"] += 1
                sockets.append(sock)

        threads = [threading.Thread(target=attack) for _ in range(args.connections)]
        start = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        time.sleep(1)
        peak = rss_mib(child.pid)
        sent = time.monotonic() - start
        for s in sockets:
            s.close()
        after = peak
        for _ in range(40):
            time.sleep(0.25)
            after = rss_mib(child.pid)
            if after < before + args.fallback_mib:
                break
        if health(endpoint) != 200:
            fail("/health does not answer after the attack")
        print(f"memory: VmRSS {before:.0f} MiB before, {peak:.0f} MiB with {args.connections} unfinished"
              f" {args.mib} MiB {'chunked' if args.chunked else 'Content-Length'} bodies ({counts['accepted']} being received, {counts['refused']} refused, {sent:.1f} s),"
              f" {after:.0f} MiB after they closed", flush=True)
        if peak > args.max_mib:
            fail(f"VmRSS reached {peak:.0f} MiB, more than {args.max_mib} MiB")
        if after >= before + args.fallback_mib:
            fail(f"VmRSS stayed at {after:.0f} MiB after the connections closed (before: {before:.0f} MiB)")
    finally:
        child.terminate()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
        subprocess.run(["rm", "-rf", data_dir])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["crashers", "replay", "early", "oversize", "slowloris", "slowbody",
                                            "framing", "memory"])
    parser.add_argument("--endpoint")
    parser.add_argument("--key", default="AKIDSHARDLOGTEST")
    parser.add_argument("--secret", default="shardlog-secret")
    parser.add_argument("--within", type=float, default=10.0)
    parser.add_argument("--shardlog")
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--mib", type=float, default=8.5)
    parser.add_argument("--chunked", action="store_true")
    parser.add_argument("--max-mib", type=float, default=400)
    parser.add_argument("--fallback-mib", type=float, default=100)
    parser.add_argument("--serve-arg", dest="serve_args", action="append", default=[])
    args = parser.parse_args()
    globals()[args.command](args)


if __name__ == "__main__":
    main()
