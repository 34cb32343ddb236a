"""A Lambda tumbling-window handler for Kinesis events (standard library only).

Run it under the Lambda Runtime API with `python3 -m awslambdaric tumbling_handler.handler` (cwd = this
directory), with a mapping that sets TumblingWindowInSeconds. Each record's base64 `data` is decoded as JSON;
the handler counts the records of the window and sums their `"i"` fields into the state it returns:
`{"state": {"count": N, "sum": S}}`. When `TUMBLING_LOG` names a file, it appends one JSON line per invocation
with the event's window fields, the state it received, the number of records and the state it returns.
"""

import base64
import json
import os


def handler(event, context):
    state = dict(event.get("state") or {})
    records = event.get("Records") or []
    count = state.get("count", 0)
    total = state.get("sum", 0)
    for record in records:
        try:
            payload = json.loads(base64.b64decode(record["kinesis"]["data"]))
        except ValueError:
            payload = {}
        count += 1
        if isinstance(payload, dict) and isinstance(payload.get("i"), int):
            total += payload["i"]
    new_state = {"count": count, "sum": total}
    log = os.environ.get("TUMBLING_LOG")
    if log:
        line = {
            "window": event.get("window"),
            "stateIn": event.get("state"),
            "stateOut": new_state,
            "records": len(records),
            "shardId": event.get("shardId"),
            "eventSourceARN": event.get("eventSourceARN"),
            "isFinalInvokeForWindow": event.get("isFinalInvokeForWindow"),
            "isWindowTerminatedEarly": event.get("isWindowTerminatedEarly"),
        }
        with open(log, "a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\n")
    return {"state": new_state, "batchItemFailures": []}
