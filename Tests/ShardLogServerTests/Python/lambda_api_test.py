"""Drives ShardLog's Lambda API with the unmodified AWS CLI and boto3.

usage: lambda_api_test.py ENDPOINT WORKDIR PHASE

PHASE functions: create-function (Python, Node, bash bootstrap) from fileb:// zips, invoke (result, function error,
  --log-type Tail, Event, DryRun), get/list/update/delete, zip-slip and oversize refused.
PHASE mappings: a mapping with ParallelizationFactor, bisect, retries, ReportBatchItemFailures and an on-failure
  stream; 1,000 records put with boto3 all handled but a poison record, which ends in the destination;
  list/get/update/disable/enable. Leaves the mapping for the restart.
PHASE resume: after a restart of the server, the mapping processes new records; then it is deleted.
Every step prints one line; an assertion failure exits non-zero.
"""

import base64
import io
import json
import os
import subprocess
import sys
import time
import zipfile

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT, WORK, PHASE = sys.argv[1], sys.argv[2], sys.argv[3]
ENV = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION="us-east-1",
           AWS_PAGER="")
for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
    ENV.pop(key, None)
CONFIG = Config(retries={"max_attempts": 1}, read_timeout=60, connect_timeout=10)
session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
lam = session.client("lambda", endpoint_url=ENDPOINT, config=CONFIG)
kin = session.client("kinesis", endpoint_url=ENDPOINT, config=CONFIG)
OUT = os.path.join(WORK, "handled.txt")


def step(text):
    print("ok:", text, flush=True)


def aws(*args, check=True):
    result = subprocess.run(["aws", "--endpoint-url", ENDPOINT, "--region", "us-east-1", "--output", "json", *args],
                            env=ENV, capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"aws {' '.join(args)} failed ({result.returncode}): {result.stderr}")
    return result


def write_zip(name, files, modes=None):
    path = os.path.join(WORK, name)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry, text in files.items():
            info = zipfile.ZipInfo(entry)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = ((modes or {}).get(entry, 0o644) | 0o100000) << 16
            archive.writestr(info, text)
    return path


PY_HANDLER = """
import json, os
def handler(event, context):
    print("hello from python", context.aws_request_id)
    if isinstance(event, dict) and event.get("fail"):
        raise ValueError("asked to fail")
    return {"echo": event, "greeting": os.environ.get("GREETING"), "name": os.environ["AWS_LAMBDA_FUNCTION_NAME"],
            "memory": os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "root": os.environ["LAMBDA_TASK_ROOT"]}
"""

NODE_HANDLER = """
exports.handler = async (event, context) => {
  console.log('hello from node', context.awsRequestId);
  if (event.fail) throw new TypeError('node was asked to fail');
  return { echo: event, runtime: 'node', fn: context.functionName };
};
exports.callback = (event, context, callback) => {
  setTimeout(() => callback(null, { echo: event, style: 'callback' }), 5);
};
"""

BOOTSTRAP = """#!/bin/bash
set -euo pipefail
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation"
while true; do
  HEADERS="$(mktemp)"
  EVENT=$(curl -sS -D "$HEADERS" "$API/next")
  ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  echo "bash got $EVENT" >&2
  curl -sS -X POST "$API/$ID/response" -d "{\\"bash\\": $EVENT, \\"handler\\": \\"$_HANDLER\\"}" > /dev/null
done
"""

CONSUMER = """
import base64, json, os
def handler(event, context):
    failures = []
    lines = []
    for record in event["Records"]:
        data = base64.b64decode(record["kinesis"]["data"]).decode()
        if data == "poison":
            failures.append({"itemIdentifier": record["kinesis"]["sequenceNumber"]})
        else:
            lines.append(data + "\\n")
    with open(os.environ["OUT"], "a") as out:
        out.write("".join(lines))
    return {"batchItemFailures": failures}
"""


def invoke_cli(function, payload, extra=()):
    payload_path = os.path.join(WORK, "payload.json")
    with open(payload_path, "w") as f:
        json.dump(payload, f)
    out_path = os.path.join(WORK, "out.json")
    result = aws("lambda", "invoke", "--function-name", function, "--payload", "fileb://" + payload_path,
                 *extra, out_path)
    with open(out_path) as f:
        return json.loads(result.stdout), json.load(f)


def expect_error(call, code, contains=""):
    try:
        call()
    except ClientError as error:
        got = error.response["Error"]["Code"]
        message = error.response["Error"]["Message"]
        assert got == code, f"expected {code}, got {got}: {message}"
        assert contains in message, f"expected {contains!r} in {message!r}"
        return message
    raise AssertionError(f"expected {code}")


def functions_phase():
    py_zip = write_zip("py.zip", {"app.py": PY_HANDLER})
    created = json.loads(aws("lambda", "create-function", "--function-name", "py", "--runtime", "python3.11",
                             "--handler", "app.handler", "--role", "arn:aws:iam::000000000000:role/x",
                             "--zip-file", "fileb://" + py_zip, "--environment",
                             "Variables={GREETING=hi}", "--memory-size", "256").stdout)
    # As Lambda: Pending while being created, Active from the next call on.
    assert created["FunctionName"] == "py" and created["State"] == "Pending", created
    assert created["StateReasonCode"] == "Creating" and "LastUpdateStatus" not in created, created
    assert created["EphemeralStorage"] == {"Size": 512} and created["TracingConfig"] == {"Mode": "PassThrough"}, created
    assert lam.get_function(FunctionName="py")["Configuration"]["State"] == "Active"
    assert created["FunctionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:py", created
    step("create-function python")
    again = aws("lambda", "create-function", "--function-name", "py", "--runtime", "python3.11", "--handler",
                "app.handler", "--role", "r", "--zip-file", "fileb://" + py_zip, check=False)
    assert again.returncode != 0 and "ResourceConflictException" in again.stderr, again.stderr
    assert "Function already exist: py" in again.stderr, again.stderr
    step("create-function twice: ResourceConflictException")

    py_arn = created["FunctionArn"]
    lam.tag_resource(Resource=py_arn, Tags={"team": "data", "env": "dev"})
    lam.untag_resource(Resource=py_arn, TagKeys=["env"])
    assert lam.list_tags(Resource=py_arn)["Tags"] == {"team": "data"}
    assert lam.get_function(FunctionName="py")["Tags"] == {"team": "data"}
    expect_error(lambda: lam.list_tags(Resource=py_arn.replace(":py", ":nosuch")), "ResourceNotFoundException",
                 "Function not found")
    step("tag-resource, untag-resource, list-tags, get-function Tags")

    meta, body = invoke_cli("py", {"x": 1}, ["--log-type", "Tail"])
    assert meta["StatusCode"] == 200 and "FunctionError" not in meta, meta
    assert body["echo"] == {"x": 1} and body["greeting"] == "hi" and body["name"] == "py", body
    assert body["memory"] == "256" and body["root"].endswith("/functions/py/code"), body
    log = base64.b64decode(meta["LogResult"]).decode()
    assert "hello from python" in log and "START RequestId" in log and "REPORT RequestId" in log, log
    step("invoke python: result and --log-type Tail")

    meta, body = invoke_cli("py", {"fail": True})
    assert meta.get("FunctionError") == "Unhandled", meta
    assert body["errorType"] == "ValueError" and body["errorMessage"] == "asked to fail", body
    assert isinstance(body.get("stackTrace"), list), body
    step("invoke python: function error payload")

    response = lam.invoke(FunctionName="py", InvocationType="DryRun", Payload=b"{}")
    assert response["StatusCode"] == 204, response
    response = lam.invoke(FunctionName="py", InvocationType="Event", Payload=b'{"async": true}')
    assert response["StatusCode"] == 202, response
    step("invoke DryRun and Event")

    expect_error(lambda: lam.invoke(FunctionName="nosuch", Payload=b"{}"), "ResourceNotFoundException",
                 "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nosuch")
    step("invoke unknown function: ResourceNotFoundException")

    node_zip = write_zip("node.zip", {"index.js": NODE_HANDLER})
    lam.create_function(FunctionName="node", Runtime="nodejs20.x", Handler="index.handler", Role="r",
                        Code={"ZipFile": open(node_zip, "rb").read()})
    result = lam.invoke(FunctionName="node", Payload=b'{"n": 2}', LogType="Tail")
    body = json.loads(result["Payload"].read())
    assert body == {"echo": {"n": 2}, "runtime": "node", "fn": "node"}, body
    assert "hello from node" in base64.b64decode(result["LogResult"]).decode()
    result = lam.invoke(FunctionName="node", Payload=b'{"fail": true}')
    body = json.loads(result["Payload"].read())
    assert result.get("FunctionError") == "Unhandled" and body["errorType"] == "TypeError", (result, body)
    lam.update_function_configuration(FunctionName="node", Handler="index.callback")
    body = json.loads(lam.invoke(FunctionName="node", Payload=b'{"n": 3}')["Payload"].read())
    assert body == {"echo": {"n": 3}, "style": "callback"}, body
    step("node: async handler, error, callback handler after update-function-configuration")

    bash_zip = write_zip("bash.zip", {"bootstrap": BOOTSTRAP}, {"bootstrap": 0o755})
    aws("lambda", "create-function", "--function-name", "bash", "--runtime", "provided.al2023", "--handler",
        "my.handler", "--role", "r", "--zip-file", "fileb://" + bash_zip)
    meta, body = invoke_cli("bash", {"b": 1})
    assert body == {"bash": {"b": 1}, "handler": "my.handler"}, body
    step("provided.al2023: bash bootstrap")

    new_zip = write_zip("py2.zip", {"app.py": "def handler(event, context):\n    return 'v2'\n"})
    updated = json.loads(aws("lambda", "update-function-code", "--function-name", "py", "--zip-file",
                             "fileb://" + new_zip).stdout)
    assert updated["CodeSize"] == os.path.getsize(new_zip), updated
    assert json.loads(lam.invoke(FunctionName="py", Payload=b"{}")["Payload"].read()) == "v2"
    step("update-function-code")

    config = lam.get_function_configuration(FunctionName="py")
    assert config["Runtime"] == "python3.11" and config["MemorySize"] == 256, config
    got = lam.get_function(FunctionName="arn:aws:lambda:us-east-1:000000000000:function:node")
    assert got["Configuration"]["Handler"] == "index.callback", got
    first = lam.list_functions(MaxItems=2)
    assert [f["FunctionName"] for f in first["Functions"]] == ["bash", "node"], first
    second = lam.list_functions(MaxItems=2, Marker=first["NextMarker"])
    assert [f["FunctionName"] for f in second["Functions"]] == ["py"] and "NextMarker" not in second, second
    step("get-function, get-function-configuration, list-functions with Marker")

    evil = os.path.join(WORK, "slip.zip")
    with zipfile.ZipFile(evil, "w") as archive:
        archive.writestr("ok.py", "x = 1\n")
        archive.writestr("../../escaped.txt", "gotcha\n")
    result = aws("lambda", "create-function", "--function-name", "slip", "--runtime", "python3.11", "--handler",
                 "ok.handler", "--role", "r", "--zip-file", "fileb://" + evil, check=False)
    assert result.returncode != 0 and "InvalidParameterValueException" in result.stderr, result.stderr
    assert "'..'" in result.stderr, result.stderr
    absolute = os.path.join(WORK, "absolute.zip")
    with zipfile.ZipFile(absolute, "w") as archive:
        archive.writestr(zipfile.ZipInfo("/tmp/x-shardlog-escape.txt"), "gotcha\n")
    data = open(absolute, "rb").read()
    assert b"/tmp/x-shardlog-escape.txt" in data
    expect_error(lambda: lam.create_function(FunctionName="slip", Runtime="python3.11", Handler="a.b", Role="r",
                                             Code={"ZipFile": data}),
                 "InvalidParameterValueException", "absolute path")
    assert not os.path.exists("/tmp/x-shardlog-escape.txt")
    expect_error(lambda: lam.get_function(FunctionName="slip"), "ResourceNotFoundException")
    step("zip-slip refused (.. and absolute paths), nothing created")

    big = os.path.join(WORK, "big.zip")
    with zipfile.ZipFile(big, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("zeros.bin", "w", force_zip64=True) as f:
            chunk = b"\0" * (1 << 20)
            for _ in range(251):
                f.write(chunk)
    expect_error(lambda: lam.create_function(FunctionName="big", Runtime="python3.11", Handler="a.b", Role="r",
                                             Code={"ZipFile": open(big, "rb").read()}),
                 "InvalidParameterValueException", "Unzipped size must be smaller than 262144000 bytes")
    expect_error(lambda: lam.create_function(FunctionName="junk", Runtime="python3.11", Handler="a.b", Role="r",
                                             Code={"ZipFile": b"not a zip"}),
                 "InvalidParameterValueException", "Could not unzip uploaded file")
    step("oversize and broken zips refused")

    aws("lambda", "delete-function", "--function-name", "bash")
    expect_error(lambda: lam.get_function(FunctionName="bash"), "ResourceNotFoundException",
                 "Function not found: arn:aws:lambda:us-east-1:000000000000:function:bash")
    step("delete-function")


def wait_for(condition, what, timeout=90):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def handled():
    if not os.path.exists(OUT):
        return []
    with open(OUT) as f:
        return [line for line in f.read().splitlines() if line]


def mappings_phase():
    kin.create_stream(StreamName="src", ShardCount=2)
    kin.create_stream(StreamName="dlq", ShardCount=1)
    src_arn = "arn:aws:kinesis:us-east-1:000000000000:stream/src"
    dlq_arn = "arn:aws:kinesis:us-east-1:000000000000:stream/dlq"
    zip_path = write_zip("consumer.zip", {"consumer.py": CONSUMER})
    lam.create_function(FunctionName="consumer", Runtime="python3.11", Handler="consumer.handler", Role="r",
                        Code={"ZipFile": open(zip_path, "rb").read()}, Environment={"Variables": {"OUT": OUT}})
    expect_error(lambda: lam.create_event_source_mapping(
        FunctionName="consumer", EventSourceArn=src_arn, StartingPosition="TRIM_HORIZON",
        FunctionResponseTypes=["Bogus"]),
        "ValidationException", "at 'functionResponseTypes' failed to satisfy constraint")
    expect_error(lambda: lam.create_event_source_mapping(
        FunctionName="consumer", EventSourceArn=src_arn, StartingPosition="TRIM_HORIZON",
        MaximumRecordAgeInSeconds=30),
        "InvalidParameterValueException", "MaximumRecordAgeInSeconds must be either -1 (forever) or between 60")
    expect_error(lambda: lam.create_event_source_mapping(FunctionName="consumer", EventSourceArn=src_arn),
                 "InvalidParameterValueException", "StartingPosition is required")
    expect_error(lambda: lam.create_event_source_mapping(
        FunctionName="consumer", EventSourceArn=src_arn, StartingPosition="TRIM_HORIZON",
        DestinationConfig={"OnFailure": {"Destination": "arn:aws:sqs:us-east-1:000000000000:q"}}),
        "InvalidParameterValueException", "Kinesis stream ARN of this server")
    expect_error(lambda: lam.create_event_source_mapping(
        FunctionName="nosuch", EventSourceArn=src_arn, StartingPosition="TRIM_HORIZON"),
        "InvalidParameterValueException", "Function does not exist")
    expect_error(lambda: lam.create_event_source_mapping(
        FunctionName="consumer", EventSourceArn=src_arn, StartingPosition="TRIM_HORIZON",
        DestinationConfig={"OnSuccess": {"Destination": dlq_arn}}),
        "InvalidParameterValueException", "Unsupported DestinationConfig parameter for given event source mapping type.")
    expect_error(lambda: lam.create_event_source_mapping(
        FunctionName="consumer", EventSourceArn=src_arn, StartingPosition="TRIM_HORIZON",
        MetricsConfig={"Metrics": ["Bogus"]}),
        "ValidationException", "at 'metricsConfig.metrics' failed to satisfy constraint")
    expect_error(lambda: lam.create_event_source_mapping(
        FunctionName="consumer", EventSourceArn=src_arn, StartingPosition="TRIM_HORIZON",
        KMSKeyArn="not-an-arn"),
        "ValidationException", "at 'kMSKeyArn' failed to satisfy constraint")
    step("create-event-source-mapping validation")

    created = json.loads(aws(
        "lambda", "create-event-source-mapping", "--function-name", "consumer", "--event-source-arn", src_arn,
        "--starting-position", "TRIM_HORIZON", "--batch-size", "50", "--parallelization-factor", "2",
        "--bisect-batch-on-function-error", "--maximum-retry-attempts", "1",
        "--function-response-types", "ReportBatchItemFailures",
        "--destination-config", json.dumps({"OnFailure": {"Destination": dlq_arn}})).stdout)
    uuid = created["UUID"]
    assert created["State"] == "Creating" and created["ParallelizationFactor"] == 2, created
    assert created["FunctionArn"].endswith(":function:consumer"), created
    step("create-event-source-mapping with the AWS CLI")
    expect_error(lambda: lam.create_event_source_mapping(
        FunctionName="consumer", EventSourceArn=src_arn, StartingPosition="LATEST"),
        "ResourceConflictException",
        f'The event source arn (" {src_arn} ") and function (" consumer ") provided mapping already exists. '
        f"Please update or delete the existing mapping with UUID {uuid}")
    step("a second mapping of the same function and stream: ResourceConflictException")
    mapping_arn = created["EventSourceMappingArn"]
    lam.tag_resource(Resource=mapping_arn, Tags={"owner": "billing"})
    assert lam.list_tags(Resource=mapping_arn)["Tags"] == {"owner": "billing"}
    step("tags of an event source mapping")
    consumer_arn = kin.register_stream_consumer(StreamARN=dlq_arn, ConsumerName="efo")["Consumer"]["ConsumerARN"]
    efo = lam.create_event_source_mapping(FunctionName="consumer", EventSourceArn=consumer_arn,
                                          StartingPosition="LATEST")
    assert efo["EventSourceArn"] == consumer_arn, efo
    lam.delete_event_source_mapping(UUID=efo["UUID"])
    step("a stream consumer's ARN as the event source")

    records = [{"Data": f"r{i}".encode(), "PartitionKey": f"k{i % 17}"} for i in range(1000)]
    records[500] = {"Data": b"poison", "PartitionKey": "k3"}
    for start in range(0, 1000, 250):
        response = kin.put_records(StreamName="src", Records=records[start:start + 250])
        assert response["FailedRecordCount"] == 0, response
    expected = {f"r{i}" for i in range(1000) if i != 500}
    wait_for(lambda: expected <= set(handled()), "999 records handled")
    assert "poison" not in handled()
    step("1,000 records put with boto3: 999 handled")

    def dlq_entries():
        shard = kin.list_shards(StreamName="dlq")["Shards"][0]["ShardId"]
        iterator = kin.get_shard_iterator(StreamName="dlq", ShardId=shard,
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        return [json.loads(r["Data"]) for r in kin.get_records(ShardIterator=iterator)["Records"]]

    entries = wait_for(dlq_entries, "the poison record in the destination stream")
    datas = [base64.b64decode(r["kinesis"]["data"]).decode() for e in entries for r in e.get("records", [])]
    assert "poison" in datas, entries
    assert entries[0]["requestContext"]["condition"] == "RetryAttemptsExhausted", entries[0]
    # Lambda's on-failure record names the function and the source stream (of the mapping's region).
    assert entries[0]["requestContext"]["functionArn"] == \
        "arn:aws:lambda:us-east-1:000000000000:function:consumer", entries[0]
    assert entries[0]["KinesisBatchInfo"]["streamArn"] == src_arn, entries[0]
    assert "functionError" in entries[0]["responseContext"], entries[0]
    step("the poison record ended in the on-failure stream")

    got = lam.get_event_source_mapping(UUID=uuid)
    assert got["State"] == "Enabled" and got["BatchSize"] == 50, got
    assert got["LastProcessingResult"] in ("OK", "PROBLEM: Function call failed") or got["LastProcessingResult"]
    listed = lam.list_event_source_mappings(FunctionName="consumer")["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [uuid], listed
    assert lam.list_event_source_mappings(EventSourceArn=dlq_arn)["EventSourceMappings"] == []
    step("get and list event source mappings")

    updated = lam.update_event_source_mapping(UUID=uuid, BatchSize=20)
    assert updated["BatchSize"] == 20 and updated["State"] == "Updating", updated
    disabled = lam.update_event_source_mapping(UUID=uuid, Enabled=False)
    assert disabled["State"] == "Disabling", disabled
    wait_for(lambda: lam.get_event_source_mapping(UUID=uuid)["State"] == "Disabled", "Disabled")
    kin.put_record(StreamName="src", Data=b"while-disabled", PartitionKey="k")
    time.sleep(1.5)
    assert "while-disabled" not in handled(), "a disabled mapping handled a record"
    enabled = lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    assert enabled["State"] == "Enabling", enabled
    wait_for(lambda: "while-disabled" in handled(), "the record put while disabled, after enabling")
    assert lam.get_event_source_mapping(UUID=uuid)["BatchSize"] == 20
    step("update batch size, disable (checkpoint kept), enable")
    kms = "arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    assert "MetricsConfig" not in got and "KMSKeyArn" not in got, got
    updated = lam.update_event_source_mapping(UUID=uuid, MetricsConfig={"Metrics": ["EventCount"]}, KMSKeyArn=kms)
    assert updated["MetricsConfig"] == {"Metrics": ["EventCount"]} and updated["KMSKeyArn"] == kms, updated
    got = lam.get_event_source_mapping(UUID=uuid)
    assert got["MetricsConfig"] == {"Metrics": ["EventCount"]} and got["KMSKeyArn"] == kms, got
    assert got["BatchSize"] == 20, got
    step("MetricsConfig and KMSKeyArn are kept and reported")
    with open(os.path.join(WORK, "uuid"), "w") as f:
        f.write(uuid)


def resume_phase():
    uuid = open(os.path.join(WORK, "uuid")).read()
    got = lam.get_event_source_mapping(UUID=uuid)
    assert got["BatchSize"] == 20 and got["FunctionResponseTypes"] == ["ReportBatchItemFailures"], got
    before = len(handled())
    kin.put_record(StreamName="src", Data=b"after-restart", PartitionKey="k")
    wait_for(lambda: "after-restart" in handled(), "a record put after the restart")
    # Resumed from the checkpoint: what was handled before is not handled again wholesale.
    assert len(handled()) < before + 100, (before, len(handled()))
    assert lam.invoke(FunctionName="consumer", Payload=json.dumps({"Records": []}).encode())["StatusCode"] == 200
    step("restart: functions and the mapping survive, processing resumes from the checkpoint")
    deleted = lam.delete_event_source_mapping(UUID=uuid)
    assert deleted["State"] == "Deleting", deleted
    expect_error(lambda: lam.get_event_source_mapping(UUID=uuid), "ResourceNotFoundException")
    step("delete-event-source-mapping")


{"functions": functions_phase, "mappings": mappings_phase, "resume": resume_phase}[PHASE]()
print("PASS", PHASE, flush=True)
