"""Concurrency, idle processes, Event retries and request-body limits of ShardLog's Lambda API, driven by boto3.

usage: lambda_runtime_test.py ENDPOINT DATADIR WORKDIR PHASE

The server runs with --max-concurrency 2, a throttle wait of 0.3 s, --function-idle-timeout 1 and
--event-retry-delay 0.2 (LambdaRuntimeTests sets them).

PHASE concurrency: two slow invocations take both slots, a third synchronous one gets TooManyRequestsException;
  Put/Get/DeleteFunctionConcurrency (1 slot, then 0), Event invocations queue while the slots are busy.
PHASE idle: the warm process of an idle function is stopped (its pid is gone) and the next invoke starts another.
PHASE retries: a failing Event invocation is tried 3 times (default) or MaximumRetryAttempts + 1 times, each
  failure in the function log with its request id; one that succeeds on a retry is not reported as failed.
PHASE bodies: a body over Invoke's limit gets RequestEntityTooLargeException; bodies over the server's buffer
  budget get TooManyRequestsException while others are held.
Every step prints one line; an assertion failure exits non-zero.
"""

import io
import json
import os
import socket
import sys
import threading
import time
import zipfile

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT, DATA, WORK, PHASE = sys.argv[1:5]
CONFIG = Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=60, connect_timeout=10)
session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
lam = session.client("lambda", endpoint_url=ENDPOINT, config=CONFIG)

HANDLER = """
import json, os, time
def handler(event, context):
    if event.get("mark"):
        with open(event["mark"], "a") as f:
            f.write(context.aws_request_id + "\\n")
        with open(event["mark"]) as f:
            tries = sum(1 for line in f if line.strip() == context.aws_request_id)
        if tries <= event.get("fail_times", 0):
            raise RuntimeError("failing try %d of request %s" % (tries, context.aws_request_id))
    if event.get("sleep"):
        time.sleep(event["sleep"])
    return {"pid": os.getpid()}
"""


def step(text):
    print("ok:", text, flush=True)


def zipped(files):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def create(name):
    lam.create_function(FunctionName=name, Runtime="python3.11", Handler="app.handler", Role="r",
                        Code={"ZipFile": zipped({"app.py": HANDLER})}, Timeout=30)


def invoke(name, event, **extra):
    response = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode(), **extra)
    body = response["Payload"].read()
    return response, json.loads(body) if body else None


def throttled(name, event):
    try:
        invoke(name, event)
    except ClientError as error:
        assert error.response["Error"]["Code"] == "TooManyRequestsException", error.response
        assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 429, error.response
        return error.response
    raise AssertionError("expected TooManyRequestsException")


def wait_until(condition, what, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def log_text(name):
    with open(os.path.join(DATA, "functions", name, "log")) as f:
        return f.read()


def busy(name, count, seconds):
    """Starts `count` invocations that sleep `seconds` and waits until they run (their marks appear)."""
    threads = []
    marks = []
    for i in range(count):
        mark = os.path.join(WORK, f"busy-{name}-{time.time_ns()}-{i}")
        marks.append(mark)
        thread = threading.Thread(target=invoke, args=(name, {"sleep": seconds, "mark": mark}))
        thread.start()
        threads.append(thread)
    # The mark is written when the handler starts, before it sleeps.
    wait_until(lambda: all(os.path.exists(m) for m in marks), f"{count} busy invocations of {name}")
    return threads


def concurrency_phase():
    create("slow")
    invoke("slow", {})  # warm
    threads = busy("slow", 2, 3)
    response = throttled("slow", {})
    assert response["Error"]["Message"] == "Rate Exceeded.", response
    assert response.get("Reason") == "ConcurrentInvocationLimitExceeded", response
    step("a third synchronous invoke with 2 slots busy: TooManyRequestsException (Rate Exceeded.)")
    mark = os.path.join(WORK, "queued-event")
    assert lam.invoke(FunctionName="slow", InvocationType="Event",
                      Payload=json.dumps({"mark": mark}).encode())["StatusCode"] == 202
    assert not os.path.exists(mark)
    for thread in threads:
        thread.join()
    wait_until(lambda: os.path.exists(mark), "the queued Event invocation")
    step("an Event invoke with every slot busy is queued and runs once a slot frees")

    assert lam.get_function_concurrency(FunctionName="slow").get("ReservedConcurrentExecutions") is None
    put = lam.put_function_concurrency(FunctionName="slow", ReservedConcurrentExecutions=1)
    assert put["ReservedConcurrentExecutions"] == 1, put
    assert lam.get_function_concurrency(FunctionName="slow")["ReservedConcurrentExecutions"] == 1
    assert lam.get_function(FunctionName="slow")["Concurrency"] == {"ReservedConcurrentExecutions": 1}
    threads = busy("slow", 1, 2)
    response = throttled("slow", {})
    assert response.get("Reason") == "ReservedFunctionConcurrentInvocationLimitExceeded", response
    for thread in threads:
        thread.join()
    assert invoke("slow", {})[0]["StatusCode"] == 200
    step("put-function-concurrency 1: one busy invocation throttles the next (ReservedFunctionConcurrent…)")

    lam.put_function_concurrency(FunctionName="slow", ReservedConcurrentExecutions=0)
    response = throttled("slow", {})
    assert response.get("Reason") == "ReservedFunctionConcurrentInvocationLimitExceeded", response
    lam.delete_function_concurrency(FunctionName="slow")
    assert lam.get_function_concurrency(FunctionName="slow").get("ReservedConcurrentExecutions") is None
    assert "Concurrency" not in lam.get_function(FunctionName="slow")
    assert invoke("slow", {})[0]["StatusCode"] == 200
    step("reserved concurrency 0 throttles every invoke; delete-function-concurrency restores --max-concurrency")

    for bad in (-1, 1001):
        try:
            lam.put_function_concurrency(FunctionName="slow", ReservedConcurrentExecutions=bad)
        except ClientError as error:
            assert error.response["Error"]["Code"] in ("ValidationException", "ParamValidationError"), error
        except Exception as error:  # botocore refuses -1 client-side
            assert "ReservedConcurrentExecutions" in str(error), error
        else:
            raise AssertionError(f"ReservedConcurrentExecutions {bad} accepted")
    try:
        lam.put_function_concurrency(FunctionName="nosuch", ReservedConcurrentExecutions=1)
        raise AssertionError("accepted for an unknown function")
    except ClientError as error:
        assert error.response["Error"]["Code"] == "ResourceNotFoundException", error.response
    step("out-of-range and unknown-function put-function-concurrency refused")


def alive(pid):
    return os.path.exists(f"/proc/{pid}") and "zombie" not in open(f"/proc/{pid}/status").read().lower()


def idle_phase():
    create("sleepy")
    first = invoke("sleepy", {})[1]["pid"]
    assert alive(first), first
    wait_until(lambda: not alive(first), f"the idle process {first} to stop", seconds=30)
    second = invoke("sleepy", {})[1]["pid"]
    assert second != first and alive(second), (first, second)
    wait_until(lambda: "stopped after 1 s idle" in log_text("sleepy"), "the log line of the idle stop")
    step(f"idle process {first} stopped after the idle timeout; the next invoke cold-started {second}")


def retries_phase():
    create("flaky")
    mark = os.path.join(WORK, "always-fails")
    response = lam.invoke(FunctionName="flaky", InvocationType="Event",
                          Payload=json.dumps({"mark": mark, "fail_times": 99}).encode())
    request_id = response["ResponseMetadata"]["RequestId"]
    wait_until(lambda: f"Event invocation RequestId: {request_id} failed after 3 attempts" in log_text("flaky"),
               "three failed attempts in the log")
    with open(mark) as f:
        assert [line.strip() for line in f] == [request_id] * 3
    text = log_text("flaky")
    assert text.count(f"[ERROR] RequestId: {request_id} errorType: RuntimeError") == 3, text
    step("a failing Event invocation is tried 3 times, each failure and the drop logged with its request id")

    config = lam.put_function_event_invoke_config(FunctionName="flaky", MaximumRetryAttempts=1)
    assert config["MaximumRetryAttempts"] == 1 and config["FunctionArn"].endswith("function:flaky:$LATEST"), config
    got = lam.get_function_event_invoke_config(FunctionName="flaky")
    assert got["MaximumRetryAttempts"] == 1 and "MaximumEventAgeInSeconds" not in got, got
    updated = lam.update_function_event_invoke_config(FunctionName="flaky", MaximumEventAgeInSeconds=3600)
    assert updated["MaximumRetryAttempts"] == 1 and updated["MaximumEventAgeInSeconds"] == 3600, updated
    mark = os.path.join(WORK, "fails-twice")
    response = lam.invoke(FunctionName="flaky", InvocationType="Event",
                          Payload=json.dumps({"mark": mark, "fail_times": 99}).encode())
    request_id = response["ResponseMetadata"]["RequestId"]
    wait_until(lambda: f"Event invocation RequestId: {request_id} failed after 2 attempts" in log_text("flaky"),
               "two failed attempts in the log")
    time.sleep(1)
    with open(mark) as f:
        assert [line.strip() for line in f] == [request_id] * 2
    step("MaximumRetryAttempts 1: tried twice (put/get/update-function-event-invoke-config)")

    mark = os.path.join(WORK, "fails-once")
    response = lam.invoke(FunctionName="flaky", InvocationType="Event",
                          Payload=json.dumps({"mark": mark, "fail_times": 1}).encode())
    request_id = response["ResponseMetadata"]["RequestId"]
    wait_until(lambda: os.path.exists(mark) and open(mark).read().count(request_id) == 2, "the retry")
    time.sleep(1)
    text = log_text("flaky")
    assert f"Event invocation RequestId: {request_id} attempt 1 of 2 failed" in text, text
    assert f"Event invocation RequestId: {request_id} failed after" not in text, text
    step("an Event invocation that succeeds on its retry is not reported as failed")

    for bad in ({"MaximumRetryAttempts": 3}, {"MaximumEventAgeInSeconds": 10}):
        try:
            lam.put_function_event_invoke_config(FunctionName="flaky", **bad)
        except ClientError as error:
            assert error.response["Error"]["Code"] == "ValidationException", error.response
        except Exception as error:  # botocore's own range check
            assert list(bad)[0] in str(error), error
        else:
            raise AssertionError(f"{bad} accepted")
    try:
        lam.put_function_event_invoke_config(
            FunctionName="flaky", DestinationConfig={"OnFailure": {"Destination": "arn:aws:sqs:us-east-1:1:q"}})
        raise AssertionError("DestinationConfig accepted")
    except ClientError as error:
        assert error.response["Error"]["Code"] == "InvalidParameterValueException", error.response
        assert "not supported by ShardLog" in error.response["Error"]["Message"], error.response
    lam.delete_function_event_invoke_config(FunctionName="flaky")
    try:
        lam.get_function_event_invoke_config(FunctionName="flaky")
        raise AssertionError("config still there")
    except ClientError as error:
        assert error.response["Error"]["Code"] == "ResourceNotFoundException", error.response
        assert "doesn't have an EventInvokeConfig" in error.response["Error"]["Message"], error.response
    step("bad event invoke configs refused; delete-function-event-invoke-config")


def raw(request_head, body=b"", read=True):
    host, port = ENDPOINT.split("//")[1].split(":")
    connection = socket.create_connection((host, int(port)), timeout=30)
    connection.sendall(request_head.encode() + body)
    if not read:
        return connection, b""
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = connection.recv(65536)
        if not chunk:
            break
        answer += chunk
    head, _, rest = answer.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(rest) < length:
        chunk = connection.recv(65536)
        if not chunk:
            break
        rest += chunk
    return connection, head + b"\r\n\r\n" + rest


def bodies_phase():
    create("echo")
    # A declared body over Invoke's 6 MB limit is answered at once, without reading it.
    connection, answer = raw(
        "POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 7000000\r\n\r\n")
    connection.close()
    assert b" 413 " in answer.split(b"\r\n")[0], answer[:300]
    assert b"RequestEntityTooLargeException" in answer, answer[:500]
    assert b"Request must be smaller than 6291456 bytes for the InvokeFunction operation" in answer, answer[:500]
    step("a 7 MB Invoke body: RequestEntityTooLargeException (Request must be smaller than … InvokeFunction)")

    # The server's budget (LambdaRuntimeTests: 1 MiB): a held 700 kB upload leaves no room for a second one.
    head = ("PUT /2015-03-31/functions/echo/code HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Content-Length: 700000\r\n\r\n")
    held, _ = raw(head, b'{"ZipFile": "', read=False)
    time.sleep(0.3)
    second, answer = raw(head)
    second.close()
    assert b" 429 " in answer.split(b"\r\n")[0], answer[:300]
    assert b"TooManyRequestsException" in answer and b"serve --max-buffered-mib" in answer, answer[:600]
    held.close()
    # Once the held request is gone, its reservation is returned and invocations go through.
    wait_until(lambda: invoke("echo", {})[0]["StatusCode"] == 200, "an invoke after the held upload closed")
    step("a second large upload while one is held: TooManyRequestsException (the buffer budget)")


{"concurrency": concurrency_phase, "idle": idle_phase, "retries": retries_phase, "bodies": bodies_phase}[PHASE]()
print(f"PASS {PHASE}", flush=True)
