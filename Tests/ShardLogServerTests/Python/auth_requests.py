#!/usr/bin/env python3
"""Sends SigV4 requests signed by botocore itself (header and presigned query-string forms), good and broken, to a
`shardlog serve --credentials` endpoint and prints one JSON object: case name -> [HTTP status, response body].

The expected answers live in the Swift test (AuthConformanceTests); this script only builds the requests, so the
server's verifier is checked against an independent signer.
"""

import argparse
import http.client
import json
import sys
import urllib.parse

from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

TARGET = "Kinesis_20131202.ListStreams"


def send(url, headers, body):
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    path = u.path or "/"
    if u.query:
        path += "?" + u.query
    conn.request("POST", path, body=body, headers=headers)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    try:
        parsed = json.loads(data)
    except ValueError:
        parsed = data.decode("utf-8", "replace")
    return [r.status, parsed]


def base_request(endpoint, body=b""):
    return AWSRequest(method="POST", url=endpoint + "/", data=body,
                      headers={"X-Amz-Target": TARGET, "Content-Type": "application/x-amz-json-1.1"})


def header_signed(endpoint, key, secret, region, body=b"{}"):
    req = base_request(endpoint, body)
    SigV4Auth(Credentials(key, secret), "kinesis", region).add_auth(req)
    p = req.prepare()
    return p.url, dict(p.headers), p.body


def presigned(endpoint, key, secret, region):
    # An empty body: botocore's query signer moves a JSON body into the query string, which Kinesis does not read.
    req = base_request(endpoint)
    SigV4QueryAuth(Credentials(key, secret), "kinesis", region, expires=300).add_auth(req)
    p = req.prepare()
    return p.url, dict(p.headers), p.body or b""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--secret", required=True)
    ap.add_argument("--region", default="us-west-2")
    a = ap.parse_args()
    e = a.endpoint
    out = {}
    plain = {"X-Amz-Target": TARGET, "Content-Type": "application/x-amz-json-1.1"}
    out["unsigned"] = send(e + "/", plain, b"{}")

    url, headers, body = header_signed(e, a.key, a.secret, a.region)
    out["good"] = send(url, headers, body)
    url, headers, body = header_signed(e, a.key, "wrong-secret", a.region)
    out["wrongSecret"] = send(url, headers, body)
    url, headers, body = header_signed(e, "AKIDUNKNOWN", a.secret, a.region)
    out["unknownKey"] = send(url, headers, body)

    url, headers, body = header_signed(e, a.key, a.secret, a.region)
    auth = headers["Authorization"]
    credential = auth.split("Credential=")[1].split(",")[0]
    headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=" + credential
    out["malformed"] = send(url, headers, body)
    out["malformedHeader"] = headers["Authorization"]

    url, headers, body = presigned(e, a.key, a.secret, a.region)
    out["presignedGood"] = send(url, headers, body)
    tampered = url[:-1] + ("0" if url[-1] != "0" else "1")
    out["presignedWrongSignature"] = send(tampered, headers, body)
    parts = urllib.parse.urlsplit(url)
    kept = "&".join(q for q in parts.query.split("&") if not q.startswith("X-Amz-Credential="))
    out["presignedIncomplete"] = send(urllib.parse.urlunsplit(parts._replace(query=kept)), headers, body)
    url, headers, body = presigned(e, "AKIDUNKNOWN", a.secret, a.region)
    out["presignedUnknownKey"] = send(url, headers, body)
    url, headers, body = presigned(e, a.key, a.secret, a.region)
    good_url, good_headers, _ = header_signed(e, a.key, a.secret, a.region, body=b"")
    headers["Authorization"] = good_headers["Authorization"]
    out["bothForms"] = send(url, headers, body)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
