#!/usr/bin/env bash
# `make bench`: builds shardlog in release mode, runs the peer baselines (Benchmarks/peers/run_all.sh) and ShardLog's
# own benchmarks back to back, and writes Benchmarks/RESULTS.md with scripts/results.py solely from the JSON files of
# this run, which go to Benchmarks/results/ (committed with RESULTS.md): run.json (commit, dirty flag, build
# configuration, machine, date, duration, steps), goals.json (a copy of Benchmarks/goals.json), peers.json and one
# file per benchmark. Logs and the HTML report go to .build/bench-results/. Budget: under 25 minutes on the
# project's 2-core machine (BENCH_QUICK=1 shrinks everything for a smoke test).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# Python: the project's virtual environment (`make deps` creates .venv with awslambdaric, boto3, …) comes first.
if [[ -x .venv/bin/python3 ]]; then export PATH="$PWD/.venv/bin:$PATH" VIRTUAL_ENV="$PWD/.venv"; fi
SWIFT="${SWIFT:-swift}"
PYTHON="${PYTHON:-python3}"
RESULTS="${BENCH_RESULTS:-Benchmarks/results}"   # the run's JSON (committed)
LOGS="${BENCH_OUT:-.build/bench-results}"         # logs and the HTML report (not committed)
RESULTS_MD="${RESULTS_MD:-Benchmarks/RESULTS.md}"
SCALING_SVG="${SCALING_SVG:-Benchmarks/scaling.svg}"
started="$(date +%s)"
started_at="$(date -u +%FT%TZ)"
# The tree as built: the commit and whether it had uncommitted changes (the results directory excluded: this run
# rewrites it).
commit="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
dirty=false
if [[ -n "$(git status --porcelain -- . ':!Benchmarks/results' ':!Benchmarks/RESULTS.md' ':!Benchmarks/scaling.svg' 2>/dev/null)" ]]; then
    dirty=true
fi

builds() { # Swift build processes (compilers included) running now
    ps -eo comm= |
        grep -cE '^(swift-build|swift-frontend|swift-driver|swift-test|swift-autolink|clang|clang-[0-9]+|ld|ld.lld|ld.gold)$' ||
        true
}

mkdir -p "$RESULTS" "$LOGS"
LOGS="$(cd "$LOGS" && pwd)"   # absolute: run_all.sh writes there from its own directory
rm -f "$RESULTS"/*.json "$LOGS/steps.jsonl"
cp Benchmarks/goals.json "$RESULTS/goals.json"

# release (default); BENCH_CONFIGURATION=debug only for smoke tests of this script (figures are then meaningless).
CONFIGURATION="${BENCH_CONFIGURATION:-release}"
echo "bench: building shardlog ($CONFIGURATION)" >&2
BUILD_COMMAND=("$SWIFT" build -c "$CONFIGURATION" --product shardlog)
"${BUILD_COMMAND[@]}"
BIN="$("$SWIFT" build -c "$CONFIGURATION" --product shardlog --show-bin-path)/shardlog"
build_seconds=$(( $(date +%s) - started ))

if [[ "${BENCH_QUICK:-0}" == 1 ]]; then
    DURATION=0.3 REPEATS=1 SHARDS=1,2 FACTORS=1,10 READ_RECORDS=200000 BACKLOG=100000 RUNTIME_RECORDS=5000
    PUT_LINES=100000 REMOTE_PUT_RECORDS=20000 SERVER_SECONDS=1 IDLE_SECONDS=3 IDLE_SHARDS=4,64
else
    DURATION=1 REPEATS=3 SHARDS=1,2,4,8 FACTORS=1,2,5,10 READ_RECORDS=1000000 BACKLOG=500000 RUNTIME_RECORDS=30000
    PUT_LINES=3000000 REMOTE_PUT_RECORDS=200000 SERVER_SECONDS=5 IDLE_SECONDS=20 IDLE_SHARDS=64,1000
fi

# A point is measured again (at most twice) while other processes use more than this % of a core during it.
OTHERS_LIMIT="${BENCH_OTHERS_LIMIT:-20}"
export PEERS_OTHERS_LIMIT="$OTHERS_LIMIT"

failed=0
# step NAME SECONDS OUTPUT COMMAND...: runs one benchmark (bounded), its stdout to OUTPUT, and records the step
# (command, wall time, exit status, load and Swift builds at its start) for run.json.
step() {
    local name="$1" limit="$2" output="$3" status=0 t0 load n0; shift 3
    t0="$(date +%s.%N)"; load="$(cut -d' ' -f1 /proc/loadavg)"; n0="$(builds)"
    echo "bench: $name: $*" >&2
    timeout --signal=INT --kill-after=30 "$limit" "$@" >"$output" 2>>"$LOGS/$name.log" || status=$?
    if (( status != 0 )); then
        echo "bench: $name FAILED (exit $status; 124 = over its $limit s limit); see $LOGS/$name.log" >&2
        failed=1
    fi
    "$PYTHON" - "$name" "$t0" "$(date +%s.%N)" "$status" "$load" "$n0" "$*" >>"$LOGS/steps.jsonl" <<'PY'
import json, sys
name, t0, t1, status, load, builds, command = sys.argv[1:]
print(json.dumps({"name": name, "seconds": round(float(t1) - float(t0), 1), "exitStatus": int(status),
                  "loadAtStart": float(load), "swiftBuildsAtStart": int(builds), "command": command}))
PY
}

if [[ "${BENCH_SKIP_PEERS:-0}" == 1 ]]; then   # smoke tests of this script only
    echo "bench: peers not run (BENCH_SKIP_PEERS=1)" >&2
else
    step peers 600 "$LOGS/peers.log" env PEERS_OUT="$LOGS/peers.txt" bash Benchmarks/peers/run_all.sh
    "$PYTHON" scripts/results.py peers "$LOGS/peers.txt" "$RESULTS/peers.json"
fi

INGEST_PEERS=(); [[ -f "$RESULTS/peers.json" ]] && INGEST_PEERS=(--peers "$RESULTS/peers.json")
step ingest 300 "$RESULTS/ingest.json" "$BIN" bench ingest --others-limit "$OTHERS_LIMIT" --shards 1,2,4 --producers 1,2 --durability none,always \
    --duration "$DURATION" --repeats "$REPEATS" --json --report "$LOGS/ingest" "${INGEST_PEERS[@]}"
step ingest-explicit 300 "$RESULTS/ingest-explicit.json" "$BIN" bench ingest --others-limit "$OTHERS_LIMIT" --shards 1,4 --producers 2 \
    --hash-keys explicit --duration "$DURATION" --repeats "$REPEATS" --json
step read 300 "$RESULTS/read.json" "$BIN" bench read --shards 1,4 --readers 1,2 --records "$READ_RECORDS" \
    --repeats "$REPEATS" --json
step idle 400 "$RESULTS/idle.json" "$BIN" bench idle --others-limit "$OTHERS_LIMIT" --shards "$IDLE_SHARDS" --duration "$IDLE_SECONDS" \
    --repeats 1 --json
step runtime-api 300 "$RESULTS/runtime-api.json" "$BIN" bench runtime-api --parallelization-factors 1,2,4 \
    --records "$RUNTIME_RECORDS" --duration "$DURATION" --repeats "$REPEATS" --json
# `get --follow` in another process: put → seen latency at modest single-record rates (issue 10).
step follow 120 "$RESULTS/follow.json" "$BIN" bench follow --rates 1000,5000 --duration "$DURATION" \
    --repeats "$REPEATS" --json
step drain 300 "$RESULTS/drain.json" "$BIN" bench scaling --others-limit "$OTHERS_LIMIT" --shards 4 --parallelization-factors 1 \
    --handler-latency-ms 0 --batch-size 10000 --max-backlog 1000000 --duration "$DURATION" --repeats "$REPEATS" --json
step put 300 "$RESULTS/put.json" bash scripts/bench_put.sh "$BIN" "$PUT_LINES"
step server 300 "$RESULTS/server.json" python3 scripts/bench_server.py "$BIN" --seconds "$SERVER_SECONDS"
# (runtime-api above also measures a bare Runtime API loop with the same processes and event after each run.)
# The Lambda API's Invoke of a Python function: warm p50/p99 (thin client and boto3), cold starts, boto3 clients.
LAMBDA_INVOCATIONS=2000; [[ "${BENCH_QUICK:-0}" == 1 ]] && LAMBDA_INVOCATIONS=200
step lambda 400 "$RESULTS/lambda.json" "$BIN" bench lambda --invocations "$LAMBDA_INVOCATIONS" --clients 1,4 \
    --duration "$SERVER_SECONDS" --repeats "$REPEATS" --json
step remote-put 300 "$RESULTS/remote-put.json" python3 scripts/bench_remote_put.py "$BIN" --records "$REMOTE_PUT_RECORDS"
step scaling 720 "$RESULTS/scaling.json" "$BIN" bench scaling --others-limit "$OTHERS_LIMIT" --shards "$SHARDS" --parallelization-factors "$FACTORS" \
    --handler-latency-ms 10,0 --max-backlog "$BACKLOG" --duration "$DURATION" --repeats "$REPEATS" --json \
    --report "$LOGS/scaling"

# A failed step leaves no half-written JSON behind.
for f in "$RESULTS"/*.json; do "$PYTHON" -c 'import json, sys; json.load(open(sys.argv[1]))' "$f" 2>/dev/null || rm -f "$f"; done

"$PYTHON" - "$RESULTS/run.json" "$commit" "$dirty" "$started_at" "$started" "$build_seconds" \
    "$("$SWIFT" --version 2>/dev/null | head -1)" "${BUILD_COMMAND[*]}" "$LOGS/steps.jsonl" "${BENCH_QUICK:-0}" \
    "$OTHERS_LIMIT" <<'PY'
import json, os, platform, socket, sys, time
out, commit, dirty, started_at, started, build_seconds, swift, build, steps, quick, limit = sys.argv[1:]
model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
mem_kib = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal"))
now = time.time()
run = {
    "commit": commit, "dirty": dirty == "true", "buildConfiguration": build,
    "swiftVersion": swift, "buildSeconds": int(build_seconds), "othersLimitPercent": float(limit),
    "machine": {"cores": os.cpu_count(), "cpuModel": model, "memoryGiB": round(mem_kib / 1048576, 1),
                "kernel": platform.release(), "hostName": socket.gethostname()},
    "startedAt": started_at, "finishedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
    "durationSeconds": round(now - int(started)),
    "steps": [json.loads(line) for line in open(steps)] if os.path.exists(steps) else [],
}
if quick == "1":
    run["note"] = "BENCH_QUICK=1: a smoke test with shortened runs, not a measurement"
with open(out, "w") as f:
    json.dump(run, f, indent=2, sort_keys=True)
    f.write("\n")
PY

"$PYTHON" scripts/results.py --results "$RESULTS" --out "$RESULTS_MD" --svg "$SCALING_SVG" --report "$LOGS/scaling"
echo "bench: done in $(( $(date +%s) - started )) s; see $RESULTS_MD and $RESULTS/" >&2
exit "$failed"
