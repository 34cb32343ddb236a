"""A plain Lambda handler for Kinesis events (no dependencies beyond the standard library).

Run it under the Lambda Runtime API with `python3 -m awslambdaric handler.handler` (cwd = this
directory), or call `handler(event, None)` directly.

Each record's base64 `data` is decoded as JSON. Records whose JSON has `"poison": true` are reported
as failed items in a partial batch response, so use it with FunctionResponseTypes
[ReportBatchItemFailures]. Records whose data is not JSON are counted and otherwise ignored.
Prints one summary line per invocation to stderr: `handled N records from shardId-...`.
"""

import base64
import json
import sys


def _shard_of(record):
    # eventID is "shardId-000000000000:<sequence number>".
    return record.get("eventID", "").split(":", 1)[0] or "unknown-shard"


def handler(event, context):
    records = (event or {}).get("Records") or []
    failures = []
    shards = []
    for record in records:
        kinesis = record["kinesis"]
        shard = _shard_of(record)
        if shard not in shards:
            shards.append(shard)
        try:
            payload = json.loads(base64.b64decode(kinesis["data"]))
        except ValueError:
            continue
        if isinstance(payload, dict) and payload.get("poison") is True:
            failures.append({"itemIdentifier": kinesis["sequenceNumber"]})
    summary = f"handled {len(records)} records from {','.join(shards) or 'no shard'}"
    if failures:
        summary += f" ({len(failures)} poison: {','.join(f['itemIdentifier'] for f in failures)})"
    print(summary, file=sys.stderr, flush=True)
    return {"batchItemFailures": failures}
