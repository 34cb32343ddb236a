#!/usr/bin/env bash
# The ShardLog demo: create a 4-shard stream, pipe the fixture events in keyed by user, look at
# the stream, then drain it through an event source mapping into the sample Python Lambda handler
# (awslambdaric over ShardLog's Runtime API), with poison records reported as partial batch failures
# and, once retries are exhausted, sent to a file on-failure destination.
#
#   make demo                       # builds first
#   bash scripts/demo.sh            # uses an existing .build/debug/shardlog
# Env: SHARDLOG_BIN, SHARDLOG_DATA_DIR (default ./shardlog-data/demo; removed and recreated),
#      DEMO_EVENTS, DEMO_HANDLER, DEMO_HANDLER_DIR, DEMO_MAP_FLAGS.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# Python: the project's virtual environment (`make deps` creates .venv with awslambdaric, boto3, …) comes first.
if [[ -x .venv/bin/python3 ]]; then export PATH="$PWD/.venv/bin:$PATH" VIRTUAL_ENV="$PWD/.venv"; fi

BIN="${SHARDLOG_BIN:-.build/debug/shardlog}"
DATA="${SHARDLOG_DATA_DIR:-./shardlog-data/demo}"
STREAM=demo-events
# Only the well-formed events: Fixtures/events/bad.jsonl is for the CLI's error-path tests.
EVENTS="${DEMO_EVENTS:-Fixtures/events/orders.jsonl}"
# The handler, in one place: KIND:COMMAND, and the directory it runs in.
HANDLER="${DEMO_HANDLER:-runtime-api:python3 -m awslambdaric handler.handler}"
HANDLER_DIR="${DEMO_HANDLER_DIR:-Fixtures/handlers/python}"
# Bounded retries plus bisect, so exactly the 3 poison records are discarded to the on-failure file instead of
# blocking their shards forever (Lambda's default MaximumRetryAttempts is -1 = infinite).
MAP_FLAGS="${DEMO_MAP_FLAGS:---maximum-retry-attempts 2 --bisect-batch-on-function-error}"

step() { printf '\n==> %s\n' "$*" >&2; }

[[ -x "$BIN" ]] || { echo "demo: $BIN not found; run 'make build' (or 'make demo')" >&2; exit 1; }
case "$(realpath -m "$DATA")" in
    / | "$(realpath -m "$HOME")" | "$(pwd -P)") echo "demo: refusing to remove data dir $DATA" >&2; exit 1 ;;
esac
rm -rf "$DATA"
mkdir -p "$DATA"
export SHARDLOG_DATA_DIR="$DATA"
FAILURES="$DATA/failures.jsonl"

step "creating stream $STREAM with 4 shards (data dir $DATA)"
"$BIN" create-stream "$STREAM" --shards 4

step "putting $(wc -l <"$EVENTS") events from $EVENTS, partition key = .user"
"$BIN" put "$STREAM" --format jsonl --key-field user <"$EVENTS"

step "describing stream $STREAM"
"$BIN" describe-stream "$STREAM"

step "first 3 records"
"$BIN" get "$STREAM" --limit 3

step "mapping $STREAM -> $HANDLER (in $HANDLER_DIR), until idle"
# shellcheck disable=SC2086 # MAP_FLAGS is a list of flags
"$BIN" map "$STREAM" \
    --handler "$HANDLER" \
    --handler-dir "$HANDLER_DIR" \
    --batch-size 100 \
    --starting-position TRIM_HORIZON \
    --function-response-types ReportBatchItemFailures \
    $MAP_FLAGS \
    --on-failure "file:$FAILURES" \
    --mapping-name demo \
    --exit-when-idle

step "on-failure destination $FAILURES"
if [[ -f "$FAILURES" ]]; then
    echo "$(wc -l <"$FAILURES") failure record(s) in $FAILURES" >&2
else
    echo "0 failure records ($FAILURES was not written)" >&2
fi
