#!/usr/bin/env bash
# End-to-end CLI ingest: `shardlog put --format jsonl --key-field user` of a JSONL file on stdin, 1 and 4 shards,
# 3 runs each. Prints a JSON array with one object per run on stdout (for scripts/results.py).
# Usage: scripts/bench_put.sh [BIN] [LINES]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# Python: the project's virtual environment (`make deps` creates .venv with awslambdaric, boto3, …) comes first.
if [[ -x .venv/bin/python3 ]]; then export PATH="$PWD/.venv/bin:$PATH" VIRTUAL_ENV="$PWD/.venv"; fi
BIN="${1:-.build/release/shardlog}"
LINES="${2:-1000000}"
work="$(mktemp -d /tmp/shardlog-bench-put.XXXXXX)"
trap 'rm -rf "$work"' EXIT
python3 - "$work/events.jsonl" "$LINES" <<'PY'
import random, sys
random.seed(7)
with open(sys.argv[1], "w") as f:
    for i in range(int(sys.argv[2])):
        f.write('{"user":"u%05d","event":"click","ts":%d,"amount":%.2f,"country":"FR","item":"sku-%06d"}\n'
                % (random.randrange(50000), 1700000000000 + i, random.random() * 500, random.randrange(999999)))
PY
bytes=$(stat -c %s "$work/events.jsonl")
for shards in 1 4; do
  for run in 1 2 3; do
    rm -rf "$work/data"
    "$BIN" --data-dir "$work/data" create-stream put-bench --shards "$shards" 2>/dev/null
    start=$(date +%s.%N)
    "$BIN" --data-dir "$work/data" put put-bench --format jsonl --key-field user --json < "$work/events.jsonl" \
      > "$work/summary.json" 2>/dev/null
    end=$(date +%s.%N)
    python3 - "$work/summary.json" "$shards" "$run" "$start" "$end" "$bytes" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
wall = float(sys.argv[5]) - float(sys.argv[4])
print(json.dumps({"shards": int(sys.argv[2]), "run": int(sys.argv[3]), "records": s["records"],
                  "rejected": s["rejected"], "wallSeconds": round(wall, 3),
                  "linesPerSecond": round(s["records"] / wall), "inputMBPerSecond": round(int(sys.argv[6]) / wall / 1e6, 1)}))
PY
  done
done > "$work/runs.jsonl"
python3 -c 'import json, sys; print(json.dumps([json.loads(l) for l in open(sys.argv[1])], indent=2))' "$work/runs.jsonl"
