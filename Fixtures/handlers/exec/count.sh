#!/usr/bin/env bash
# An `exec` handler: one process per batch. Reads the Lambda Kinesis event JSON on stdin, prints
# "count.sh: N records" to stderr, writes {"batchItemFailures":[]} to stdout and exits 0.
# If any record's base64-decoded data is JSON with "poison": true, it prints which and exits 1
# (a function error: the whole batch failed). Needs python3 (jq may be absent).
set -euo pipefail

python3 -c '
import base64, json, sys
event = json.load(sys.stdin) or {}
records = event.get("Records") or []
poison = []
for r in records:
    k = r["kinesis"]
    try:
        payload = json.loads(base64.b64decode(k["data"]))
    except ValueError:
        continue
    if isinstance(payload, dict) and payload.get("poison") is True:
        poison.append(k["sequenceNumber"])
print(f"count.sh: {len(records)} records", file=sys.stderr)
if poison:
    print("count.sh: poison record(s) " + ",".join(poison), file=sys.stderr)
    sys.exit(1)
sys.stdout.write("{\"batchItemFailures\":[]}\n")
'
