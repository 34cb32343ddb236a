"""A handler that raises ValueError on any record whose JSON data has `"poison": true`
(a function error: awslambdaric posts to /error), and otherwise succeeds.

If the env var SHARDLOG_TEST_LOG names a file, each record handled successfully is appended to it
as one line `partitionKey sequenceNumber`, written with a single O_APPEND write (so several runtime
processes can share the file) before the next record is looked at. Records are handled in batch
order, so the records before a poison record in the same batch are logged (their side effect
happened) before the batch fails; retries then log them again, as at-least-once delivery does.
Tests read the file to check delivery, ordering per key and duplicates.
"""

import base64
import json
import os


def _log(line):
    path = os.environ.get("SHARDLOG_TEST_LOG")
    if not path:
        return
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def handler(event, context):
    records = (event or {}).get("Records") or []
    for record in records:
        kinesis = record["kinesis"]
        try:
            payload = json.loads(base64.b64decode(kinesis["data"]))
        except ValueError:
            payload = None
        if isinstance(payload, dict) and payload.get("poison") is True:
            raise ValueError(f"poison record {kinesis['sequenceNumber']} (key {kinesis['partitionKey']})")
        _log(f"{kinesis['partitionKey']} {kinesis['sequenceNumber']}\n")
    return {"batchItemFailures": []}
