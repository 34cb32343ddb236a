#!/usr/bin/env bash
# The ShardLog demo, deployed the AWS way: `shardlog serve`, then only `aws kinesis …` and `aws lambda …` against it.
# A Python function from Fixtures/handlers/python is deployed from a zip, invoked once, then attached to a 2-shard
# stream with create-event-source-mapping (ReportBatchItemFailures, bisect, 2 retries, an on-failure stream);
# the fixture events are put with the AWS CLI, and the function's log is printed with `shardlog logs`.
#
#   make demo                            # runs it after scripts/demo.sh; or:
#   bash scripts/demo-lambda.sh          # uses an existing .build/debug/shardlog
# Env: SHARDLOG_BIN, SHARDLOG_DATA_DIR (default ./shardlog-data/demo-lambda; removed and recreated), DEMO_PORT.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ -x .venv/bin/python3 ]]; then export PATH="$PWD/.venv/bin:$PATH" VIRTUAL_ENV="$PWD/.venv"; fi

BIN="${SHARDLOG_BIN:-.build/debug/shardlog}"
DATA="${SHARDLOG_DATA_DIR:-./shardlog-data/demo-lambda}"
PORT="${DEMO_PORT:-4590}"
EVENTS=Fixtures/events/orders.jsonl
export AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_DEFAULT_REGION=us-east-1 AWS_PAGER=""
AWS=(aws --endpoint-url "http://127.0.0.1:$PORT" --output json)

step() { printf '\n==> %s\n' "$*" >&2; }

[[ -x "$BIN" ]] || { echo "demo: $BIN not found; run 'make build'" >&2; exit 1; }
case "$(realpath -m "$DATA")" in
    / | "$(realpath -m "$HOME")" | "$(pwd -P)") echo "demo: refusing to remove data dir $DATA" >&2; exit 1 ;;
esac
rm -rf "$DATA"
mkdir -p "$DATA"
WORK="$(mktemp -d)"

step "shardlog serve --port $PORT --data-dir $DATA"
"$BIN" serve --port "$PORT" --data-dir "$DATA" 2>"$DATA/serve.log" &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null; wait "$SERVER" 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done

step "zipping Fixtures/handlers/python and deploying it: aws lambda create-function"
(cd Fixtures/handlers/python && python3 -m zipfile -c "$WORK/function.zip" ./*.py)
"${AWS[@]}" lambda create-function --function-name orders --runtime python3.11 --handler handler.handler \
    --role arn:aws:iam::000000000000:role/demo --zip-file "fileb://$WORK/function.zip" \
    --query '{FunctionArn: FunctionArn, Runtime: Runtime, State: State}'

step "aws lambda invoke (an empty Kinesis event) --log-type Tail"
echo '{"Records": []}' >"$WORK/event.json"
"${AWS[@]}" lambda invoke --function-name orders --payload "fileb://$WORK/event.json" --log-type Tail \
    "$WORK/out.json" --query 'LogResult' --output text | base64 -d
echo "response: $(cat "$WORK/out.json")"

step "aws kinesis create-stream orders (2 shards) and orders-failed (1 shard)"
"${AWS[@]}" kinesis create-stream --stream-name orders --shard-count 2
"${AWS[@]}" kinesis create-stream --stream-name orders-failed --shard-count 1

step "aws lambda create-event-source-mapping (bisect, 2 retries, ReportBatchItemFailures, on-failure stream)"
"${AWS[@]}" lambda create-event-source-mapping --function-name orders \
    --event-source-arn arn:aws:kinesis:us-east-1:000000000000:stream/orders \
    --starting-position TRIM_HORIZON --batch-size 100 --parallelization-factor 2 \
    --bisect-batch-on-function-error --maximum-retry-attempts 2 \
    --function-response-types ReportBatchItemFailures \
    --destination-config '{"OnFailure":{"Destination":"arn:aws:kinesis:us-east-1:000000000000:stream/orders-failed"}}' \
    --query '{UUID: UUID, State: State}'

step "putting $(wc -l <"$EVENTS") events with aws kinesis put-records"
python3 - "$EVENTS" "http://127.0.0.1:$PORT" <<'PY'
import json, sys, boto3
lines = [l for l in open(sys.argv[1]) if l.strip()]
kinesis = boto3.client("kinesis", endpoint_url=sys.argv[2])
for start in range(0, len(lines), 500):
    chunk = lines[start:start + 500]
    kinesis.put_records(StreamName="orders", Records=[
        {"Data": l.encode(), "PartitionKey": str(json.loads(l).get("user", "none"))} for l in chunk])
print(f"put {len(lines)} records")
PY

step "waiting for the mapping to drain (LastProcessingResult)"
for _ in $(seq 60); do
    sleep 1
    RESULT=$("${AWS[@]}" lambda list-event-source-mappings --function-name orders \
        --query 'EventSourceMappings[0].LastProcessingResult' --output text)
    [[ "$RESULT" != "No records processed" ]] && break
done
"${AWS[@]}" lambda list-event-source-mappings --function-name orders \
    --query 'EventSourceMappings[0].{State: State, BatchSize: BatchSize, LastProcessingResult: LastProcessingResult}'

step "shardlog logs orders --since 10m (last 15 lines)"
"$BIN" logs --data-dir "$DATA" orders --since 10m | tail -15

step "done: the same aws lambda / aws kinesis commands deploy to AWS without --endpoint-url"
