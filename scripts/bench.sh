#!/usr/bin/env bash
# `make bench`: builds shardlog in release mode, runs the peer baselines (Benchmarks/peers/run_all.sh) and
# ShardLog's own benchmarks back to back, and writes Benchmarks/RESULTS.md (+ Benchmarks/scaling.svg) with
# scripts/results.py. Raw JSON and the HTML report go to .build/bench-results/. Budget: under 15 minutes on the
# project's 2-core machine (the scaling grid is the long part; BENCH_QUICK=1 shrinks everything for a smoke test).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# Python: the project's virtual environment (`make deps` creates .venv with awslambdaric, boto3, …) comes first.
if [[ -x .venv/bin/python3 ]]; then export PATH="$PWD/.venv/bin:$PATH" VIRTUAL_ENV="$PWD/.venv"; fi
SWIFT="${SWIFT:-swift}"
PYTHON="${PYTHON:-python3}"
OUT="${BENCH_OUT:-.build/bench-results}"   # raw JSON, logs and the HTML report (regenerated, not committed)
RESULTS_MD="${RESULTS_MD:-Benchmarks/RESULTS.md}"
SCALING_SVG="${SCALING_SVG:-Benchmarks/scaling.svg}"
export PEERS_OUT="${PEERS_OUT:-$PWD/Benchmarks/peers/latest.txt}"  # read by run_all.sh
started="$(date +%s)"

builds() { # Swift build processes (compilers included) running now, as run_all.sh counts them
    ps -eo comm= |
        grep -cE '^(swift-build|swift-frontend|swift-driver|swift-test|swift-autolink|clang|clang-[0-9]+|ld|ld.lld|ld.gold)$' ||
        true
}
note() { echo "$*" >>"$OUT/contention.txt"; echo "bench: $*" >&2; }

mkdir -p "$OUT"
rm -f "$OUT/contention.txt"

echo "bench: building shardlog (release)" >&2
"$SWIFT" build -c release --product shardlog
BIN="$("$SWIFT" build -c release --product shardlog --show-bin-path)/shardlog"
note "release build finished after $(( $(date +%s) - started )) s"

if [[ "${BENCH_QUICK:-0}" == 1 ]]; then
    DURATION=0.3 REPEATS=1 SHARDS=1,2 FACTORS=1,10 READ_RECORDS=200000 BACKLOG=100000 RUNTIME_RECORDS=5000 PUT_LINES=100000 SERVER_SECONDS=1
else
    DURATION=1 REPEATS=3 SHARDS=1,2,4,8 FACTORS=1,2,5,10 READ_RECORDS=1000000 BACKLOG=500000 RUNTIME_RECORDS=30000 PUT_LINES=1000000 SERVER_SECONDS=5
fi

step() { # step NAME SECONDS COMMAND...: runs one of our benchmarks (bounded), recording what else was running
    local name="$1" limit="$2" status=0; shift 2
    note "$name: started $(date -u +%T), load $(cut -d' ' -f1-3 /proc/loadavg), Swift builds: $(builds)"
    timeout "$limit" "$@" >"$OUT/$name.json" || status=$?
    if (( status != 0 )); then
        note "$name: FAILED (exit $status; 124 = over its ${limit} s limit); its figures are missing"
        rm -f "$OUT/$name.json"
        failed=1
    fi
    note "$name: finished $(date -u +%T), load $(cut -d' ' -f1-3 /proc/loadavg), Swift builds: $(builds)"
}
failed=0

if [[ "${BENCH_SKIP_PEERS:-0}" == 1 ]]; then   # smoke tests of this script only: reuse $PEERS_OUT
    note "peers: not run (BENCH_SKIP_PEERS=1); figures from an earlier run of run_all.sh"
else
    echo "bench: peer baselines" >&2
    peers_status=0
    bash Benchmarks/peers/run_all.sh >"$OUT/peers.log" || peers_status=$?
    (( peers_status == 0 )) ||
        note "peers: run_all.sh exited with $peers_status (see $OUT/peers.log); their KEY lines are kept"
fi

step ingest 300 "$BIN" bench ingest --shards 1,2 --producers 1,2 --durability none,always \
    --duration "$DURATION" --repeats "$REPEATS" --json
step ingest-explicit 300 "$BIN" bench ingest --shards 1,2 --producers 2 --hash-keys explicit \
    --duration "$DURATION" --repeats "$REPEATS" --json
step read 300 "$BIN" bench read --shards 1,4 --readers 1,2 --records "$READ_RECORDS" --repeats "$REPEATS" --json
step runtime-api 300 "$BIN" bench runtime-api --parallelization-factors 1,2,4 --records "$RUNTIME_RECORDS" \
    --duration "$DURATION" --repeats "$REPEATS" --json
step drain 300 "$BIN" bench scaling --shards 4 --parallelization-factors 1 --handler-latency-ms 0 --batch-size 10000 \
    --max-backlog 1000000 --duration "$DURATION" --repeats "$REPEATS" --json
step put 300 bash scripts/bench_put.sh "$BIN" "$PUT_LINES"
step server 300 python3 scripts/bench_server.py "$BIN" --seconds "$SERVER_SECONDS"
step scaling 720 "$BIN" bench scaling --shards "$SHARDS" --parallelization-factors "$FACTORS" \
    --handler-latency-ms 10,0 --max-backlog "$BACKLOG" --duration "$DURATION" --repeats "$REPEATS" --json \
    --report "$OUT/scaling"

"$PYTHON" scripts/results.py --results "$OUT" --peers "$PEERS_OUT" --out "$RESULTS_MD" --svg "$SCALING_SVG" \
    --contention "$OUT/contention.txt" --elapsed "$(( $(date +%s) - started ))"
echo "bench: done in $(( $(date +%s) - started )) s; see $RESULTS_MD" >&2
exit "$failed"
