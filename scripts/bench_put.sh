#!/usr/bin/env bash
# End-to-end CLI ingest: `shardlog put --format jsonl --key-field user` of a JSONL file on stdin, 1 and 4 shards,
# 3 runs each: wall time of the process and its CPU time (user + system, from wait4), per line too; then
# `shardlog get` of every record into a file, timed the same way. At ~2 M lines/s
# a 1 M-line run lasts 0.5 s and process start-up shows in the wall time, hence 3 M lines by default.
# Prints a JSON array with one object per run on stdout (for scripts/results.py).
# Usage: scripts/bench_put.sh [BIN] [LINES]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# Python: the project's virtual environment (`make deps` creates .venv with awslambdaric, boto3, …) comes first.
if [[ -x .venv/bin/python3 ]]; then export PATH="$PWD/.venv/bin:$PATH" VIRTUAL_ENV="$PWD/.venv"; fi
BIN="${1:-.build/release/shardlog}"
LINES="${2:-3000000}"
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
    python3 - "$BIN" "$work" "$shards" "$run" "$bytes" <<'PY'
import json, os, subprocess, sys, time
binary, work, shards, run, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
with open(work + "/events.jsonl", "rb") as events, open(work + "/summary.json", "wb") as out:
    start = time.perf_counter()
    process = subprocess.Popen([binary, "--data-dir", work + "/data", "put", "put-bench", "--format", "jsonl",
                                "--key-field", "user", "--json"], stdin=events, stdout=out,
                               stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
if status != 0:
    sys.exit(f"shardlog put exited with status {status}")
s = json.load(open(work + "/summary.json"))
cpu = usage.ru_utime + usage.ru_stime
# Then read them all back: `shardlog get` prints every record as a JSON line (to a file, so the reader's speed
# does not limit it), timed the same way.
with open(work + "/get.out", "wb") as lines:
    start = time.perf_counter()
    process = subprocess.Popen([binary, "--data-dir", work + "/data", "get", "put-bench",
                                "--limit", str(s["records"])], stdout=lines, stderr=subprocess.DEVNULL)
    _, get_status, get_usage = os.wait4(process.pid, 0)
    get_wall = time.perf_counter() - start
if get_status != 0:
    sys.exit(f"shardlog get exited with status {get_status}")
with open(work + "/get.out", "rb") as lines:
    printed = sum(1 for _ in lines)
os.remove(work + "/get.out")
if printed != s["records"]:
    sys.exit(f"shardlog get printed {printed} lines for {s['records']} records")
get_cpu = get_usage.ru_utime + get_usage.ru_stime
print(json.dumps({"shards": shards, "run": run, "records": s["records"], "rejected": s["rejected"],
                  "wallSeconds": round(wall, 3), "linesPerSecond": round(s["records"] / wall),
                  "inputMBPerSecond": round(size / wall / 1e6, 1), "cpuSeconds": round(cpu, 3),
                  "cpuNanosecondsPerLine": round(cpu / max(s["records"], 1) * 1e9),
                  "getWallSeconds": round(get_wall, 3), "getLinesPerSecond": round(printed / get_wall),
                  "getCpuNanosecondsPerLine": round(get_cpu / max(printed, 1) * 1e9)}))
PY
  done
done > "$work/runs.jsonl"
python3 -c 'import json, sys; print(json.dumps([json.loads(l) for l in open(sys.argv[1])], indent=2))' "$work/runs.jsonl"
