"""HTTP/2 and TLS clients against `shardlog serve`, for HTTP2Tests.swift.

Each command prints one JSON object of what it saw; the Swift test asserts on it.

  h2c-operations ENDPOINT [--cafile PEM]  httpx over HTTP/2 (prior knowledge in the clear, ALPN h2 over TLS):
                                          CreateStream, ListStreams, PutRecord, GetShardIterator, GetRecords;
                                          then ListStreams from an HTTP/1.1-only httpx client on the same port.
  subscribe ENDPOINT [--cafile PEM]       SubscribeToShard as the AWS SDK for Java sends it: one HTTP/2 stream
                                          (raw `h2`), read as an event stream (botocore's decoder) while a record is
                                          put on another connection, until the server ends the stream.
  trickle ENDPOINT                        an HTTP/1.1 request, and the HTTP/2 preface then a ListStreams, each
                                          written one byte per send.
  early-answer ENDPOINT                   an oversized PutRecord body on one HTTP/2 stream (answered 413 before
                                          the body is read), then ListStreams on the same connection.
"""

import argparse
import json
import socket
import ssl
import sys
import time
import urllib.parse

import h2.config
import h2.connection
import h2.events
import httpx
from botocore.eventstream import EventStreamBuffer

TARGET = "Kinesis_20131202."
JSON_TYPE = "application/x-amz-json-1.1"


def kinesis(client, endpoint, operation, body):
    response = client.post(
        endpoint + "/",
        headers={"X-Amz-Target": TARGET + operation, "Content-Type": JSON_TYPE},
        content=json.dumps(body).encode(),
    )
    return response


def make_client(args, http1, http2):
    verify = args.cafile if args.cafile else True
    return httpx.Client(http1=http1, http2=http2, verify=verify, timeout=20)


def wait_active(client, endpoint, stream):
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        r = kinesis(client, endpoint, "DescribeStreamSummary", {"StreamName": stream})
        if r.status_code == 200 and r.json()["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE":
            return r.json()["StreamDescriptionSummary"]["StreamARN"]
        time.sleep(0.1)
    raise SystemExit(f"stream {stream} did not become ACTIVE")


def h2c_operations(args):
    out = {}
    with make_client(args, http1=False, http2=True) as client:
        e = args.endpoint
        r = kinesis(client, e, "CreateStream", {"StreamName": "h2s", "ShardCount": 1})
        out["create"] = [r.status_code, r.http_version]
        wait_active(client, e, "h2s")
        r = kinesis(client, e, "ListStreams", {})
        out["list"] = [r.status_code, r.http_version, r.json().get("StreamNames")]
        r = kinesis(client, e, "PutRecord", {"StreamName": "h2s", "PartitionKey": "k", "Data": "aGVsbG8gaDI="})
        out["put"] = [r.status_code, r.http_version, r.json().get("ShardId")]
        r = kinesis(
            client,
            e,
            "GetShardIterator",
            {"StreamName": "h2s", "ShardId": "shardId-000000000000", "ShardIteratorType": "TRIM_HORIZON"},
        )
        iterator = r.json()["ShardIterator"]
        r = kinesis(client, e, "GetRecords", {"ShardIterator": iterator})
        out["get"] = [r.status_code, r.http_version, [rec["Data"] for rec in r.json().get("Records", [])]]
        r = client.get(e + "/health")
        out["health"] = [r.status_code, r.http_version]
    with make_client(args, http1=True, http2=False) as client:
        r = kinesis(client, args.endpoint, "ListStreams", {})
        out["http1List"] = [r.status_code, r.http_version, r.json().get("StreamNames")]
    print(json.dumps(out))


class H2Client:
    """One HTTP/2 connection made with the `h2` library (prior knowledge, or TLS with ALPN)."""

    def __init__(self, endpoint, cafile):
        url = urllib.parse.urlparse(endpoint)
        self.scheme = url.scheme
        self.authority = url.netloc
        sock = socket.create_connection((url.hostname, url.port), timeout=20)
        self.alpn = None
        if url.scheme == "https":
            context = ssl.create_default_context(cafile=cafile)
            context.set_alpn_protocols(["h2", "http/1.1"])
            sock = context.wrap_socket(sock, server_hostname=url.hostname)
            self.alpn = sock.selected_alpn_protocol()
        self.sock = sock
        config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(config=config)
        self.conn.initiate_connection()
        self.flush()

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def start(self, operation, body, end_stream=True, content_length=None):
        stream_id = self.conn.get_next_available_stream_id()
        headers = [
            (":method", "POST"),
            (":path", "/"),
            (":scheme", self.scheme),
            (":authority", self.authority),
            ("content-type", JSON_TYPE),
            ("x-amz-target", TARGET + operation),
            ("content-length", str(content_length if content_length is not None else len(body))),
        ]
        self.conn.send_headers(stream_id, headers)
        self.conn.send_data(stream_id, body, end_stream=end_stream)
        self.flush()
        return stream_id

    def events(self, deadline):
        """Yields h2 events until `deadline` (monotonic seconds)."""
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.05, min(1.0, deadline - time.monotonic())))
            try:
                data = self.sock.recv(65536)
            except (socket.timeout, TimeoutError):
                continue
            if not data:
                yield None
                return
            for event in self.conn.receive_data(data):
                if isinstance(event, h2.events.DataReceived):
                    self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                yield event
            self.flush()

    def request(self, operation, body, timeout=20):
        stream_id = self.start(operation, json.dumps(body).encode())
        status, data = None, b""
        for event in self.events(time.monotonic() + timeout):
            if event is None:
                break
            if getattr(event, "stream_id", None) != stream_id:
                continue
            if isinstance(event, h2.events.ResponseReceived):
                status = int(dict(event.headers)[":status"])
            elif isinstance(event, h2.events.DataReceived):
                data += event.data
            elif isinstance(event, (h2.events.StreamEnded, h2.events.StreamReset)):
                break
        return status, json.loads(data) if data else None


def subscribe(args):
    e = args.endpoint
    out = {}
    with make_client(args, http1=False, http2=True) as client:
        kinesis(client, e, "CreateStream", {"StreamName": "subs", "ShardCount": 1})
        arn = wait_active(client, e, "subs")
        r = kinesis(client, e, "RegisterStreamConsumer", {"StreamARN": arn, "ConsumerName": "java-like"})
        consumer = r.json()["Consumer"]["ConsumerARN"]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            r = kinesis(client, e, "DescribeStreamConsumer", {"ConsumerARN": consumer})
            if r.json()["ConsumerDescription"]["ConsumerStatus"] == "ACTIVE":
                break
            time.sleep(0.1)

        h2client = H2Client(e, args.cafile)
        out["alpn"] = h2client.alpn
        body = {"ConsumerARN": consumer, "ShardId": "shardId-000000000000", "StartingPosition": {"Type": "LATEST"}}
        started = time.monotonic()
        stream_id = h2client.start("SubscribeToShard", json.dumps(body).encode())
        buffer = EventStreamBuffer()
        events, status, content_type, ended, put = [], None, None, None, False
        for event in h2client.events(time.monotonic() + args.read_seconds):
            if event is None:
                ended = "connection closed"
                break
            if getattr(event, "stream_id", None) != stream_id:
                continue
            if isinstance(event, h2.events.ResponseReceived):
                headers = dict(event.headers)
                status, content_type = int(headers[":status"]), headers.get("content-type")
            elif isinstance(event, h2.events.DataReceived):
                buffer.add_data(event.data)
                for message in buffer:
                    headers = message.headers
                    payload = json.loads(message.payload) if message.payload else {}
                    events.append(
                        {
                            "type": headers.get(":event-type") or headers.get(":exception-type"),
                            "messageType": headers.get(":message-type"),
                            "records": [rec["Data"] for rec in payload.get("Records", [])],
                        }
                    )
                    if not put and headers.get(":event-type") == "initial-response":
                        # Put once the subscription is open (LATEST starts after what is already there).
                        r = kinesis(
                            client, e, "PutRecord", {"StreamName": "subs", "PartitionKey": "k", "Data": "ZXZlbnQ="}
                        )
                        put = r.status_code == 200
            elif isinstance(event, h2.events.StreamEnded):
                ended = "end stream"
                break
            elif isinstance(event, h2.events.StreamReset):
                ended = f"reset {event.error_code}"
                break
        out.update(
            {
                "status": status,
                "contentType": content_type,
                "put": put,
                "events": events,
                "ended": ended,
                "seconds": round(time.monotonic() - started, 2),
            }
        )
        # The connection still serves requests after the subscription's stream ended.
        out["after"] = h2client.request("ListStreams", {})[0]
    print(json.dumps(out))


def early_answer(args):
    h2client = H2Client(args.endpoint, args.cafile)
    # Declares 15,000,000 bytes (over PutRecord's cap, about 13.4 MiB) and sends only a little: the server answers at once.
    stream_id = h2client.start("PutRecord", b'{"StreamName": "', end_stream=False, content_length=15_000_000)
    status, data, reset, ended = None, b"", None, False
    for event in h2client.events(time.monotonic() + 20):
        if event is None or getattr(event, "stream_id", None) != stream_id:
            if event is None:
                break
            continue
        if isinstance(event, h2.events.ResponseReceived):
            headers = dict(event.headers)
            status = int(headers[":status"])
            connection_header = headers.get("connection")
        elif isinstance(event, h2.events.DataReceived):
            data += event.data
        elif isinstance(event, h2.events.StreamEnded):
            ended = True
        elif isinstance(event, h2.events.StreamReset):
            reset = event.error_code
            break
    after = h2client.request("ListStreams", {})
    print(
        json.dumps(
            {
                "status": status,
                "connectionHeader": connection_header if status else None,
                "body": json.loads(data) if data else None,
                "ended": ended,
                "reset": int(reset) if reset is not None else None,
                "after": after[0],
            }
        )
    )


def trickle(args):
    url = urllib.parse.urlparse(args.endpoint)
    out = {}
    sock = socket.create_connection((url.hostname, url.port), timeout=20)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for byte in b"GET /health HTTP/1.1\r\nHost: test\r\n\r\n":
        sock.sendall(bytes([byte]))
        time.sleep(0.002)
    response = b""
    while b"\r\n\r\n" not in response:
        chunk = sock.recv(4096)
        if not chunk:
            break
        response += chunk
    out["http1"] = response.split(b"\r\n", 1)[0].decode()
    sock.close()

    client = H2Client.__new__(H2Client)
    client.scheme, client.authority, client.alpn = url.scheme, url.netloc, None
    client.sock = socket.create_connection((url.hostname, url.port), timeout=20)
    client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client.conn = h2.connection.H2Connection(
        config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
    )
    client.conn.initiate_connection()
    for byte in client.conn.data_to_send():
        client.sock.sendall(bytes([byte]))
        time.sleep(0.002)
    out["http2"] = client.request("ListStreams", {})[0]
    print(json.dumps(out))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["h2c-operations", "subscribe", "early-answer", "trickle"])
    parser.add_argument("endpoint")
    parser.add_argument("--cafile")
    parser.add_argument("--read-seconds", type=float, default=30)
    args = parser.parse_args()
    {"h2c-operations": h2c_operations, "subscribe": subscribe, "early-answer": early_answer, "trickle": trickle}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
