"""A handler that crashes its runtime: `os._exit(3)` as soon as a record's decoded data contains
the text "crash". The process dies mid-invocation, posting neither a response nor an error, so the
mapping must see a Runtime.ExitError (a function error) and restart the runtime process.
Otherwise it succeeds with an empty partial-failure list.
"""

import base64
import os
import sys


def handler(event, context):
    records = (event or {}).get("Records") or []
    for record in records:
        data = base64.b64decode(record["kinesis"]["data"])
        if b"crash" in data:
            print(f"crashing on {record['kinesis']['sequenceNumber']}", file=sys.stderr, flush=True)
            os._exit(3)
    return {"batchItemFailures": []}
