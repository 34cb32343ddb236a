import Foundation
import Subprocess
import SystemPackage

/// Python that runs moto's server with its Kinesis shards' `put_record` serialised: moto reads a shard's highest
/// sequence number and adds one without a lock ("not safe for concurrency", moto/kinesis/models.py), so two
/// PutRecords requests into one shard at once can overwrite each other's record, which a client with several requests
/// in flight (`shardlog put --endpoint-url`) makes likely.
private let motoServer = """
    import sys, threading
    import moto.kinesis.models as models
    from moto.server import main
    lock = threading.Lock()
    unsafe = models.Shard.put_record
    def put_record(self, *args, **kwargs):
        with lock:
            return unsafe(self, *args, **kwargs)
    models.Shard.put_record = put_record
    sys.exit(main(sys.argv[1:]))
    """

/// Python that starts moto's server (``motoServer``) on a free loopback port, waits until it answers, prints the
/// port, and stops it (its whole process group) when standard input closes.
private let motoLauncher = """
    import os, signal, socket, subprocess, sys, time, urllib.request
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
    moto = subprocess.Popen([sys.executable, "-c", sys.argv[1], "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/"); break
            except Exception:
                time.sleep(0.1)
        print(port, flush=True)
        sys.stdin.read()
    finally:
        os.killpg(moto.pid, signal.SIGTERM)
        try:
            moto.wait(timeout=3)
        except subprocess.TimeoutExpired:
            os.killpg(moto.pid, signal.SIGKILL); moto.wait()
    """

/// Python lines that make `k`, a boto3 Kinesis client of the moto (or other) endpoint on the port given as the
/// script's first argument, with dummy credentials in us-east-1. Prefix a test's script with it.
public let boto3KinesisClientPython = """
    import base64, boto3, json, sys
    endpoint = f"http://127.0.0.1:{sys.argv[1]}"
    k = boto3.client("kinesis", endpoint_url=endpoint, region_name="us-east-1",
                     aws_access_key_id="x", aws_secret_access_key="x")

    def create(stream, shards):
        k.create_stream(StreamName=stream, ShardCount=shards)
        k.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 0.1})

    def read_all(stream):
        # Every record of every shard from the trim horizon, each with its ShardId.
        rows = []
        for shard in k.list_shards(StreamName=stream)["Shards"]:
            it = k.get_shard_iterator(StreamName=stream, ShardId=shard["ShardId"],
                                      ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            while it:
                r = k.get_records(ShardIterator=it, Limit=10000)
                rows += [dict(x, ShardId=shard["ShardId"]) for x in r["Records"]]
                if not r["Records"]: break
                it = r.get("NextShardIterator")
        return rows

    """

/// Runs `body` with the port of a fresh `moto_server` (from the project's venv) on 127.0.0.1, stopped afterwards.
///
/// The launcher runs through swift-subprocess for the duration of `body`; closing its standard input at the end
/// stops it and moto (if `body` throws, the launcher's group is torn down instead).
/// - Throws: ``TestFailure`` when moto does not start; what `body` throws.
public func withMoto<R: Sendable>(_ body: (Int) async throws -> R) async throws -> R {
    let result = try await Subprocess.run(
        .path(FilePath(projectPython)),
        arguments: ["-c", motoLauncher, motoServer],
        platformOptions: processGroupOptions,
        input: .inputWriter,
        output: .sequence,
        error: .discarded
    ) { execution -> R in
        var line = ""
        for try await text in execution.standardOutput.strings() {
            line = text
            break
        }
        guard let port = Int(line) else { throw TestFailure("moto did not start: '\(line)'") }
        return try await body(port)
    }
    return result.closureResult
}

/// Runs a boto3 script (``boto3KinesisClientPython`` is put before it) against the endpoint on `port`, with
/// `arguments` after the port, and returns the JSON value of the last line it prints.
/// - Throws: ``TestFailure`` with the script's output when it fails or prints no JSON.
public func runBoto3(
    _ script: String, port: Int, arguments: [String] = [], timeout: Duration = .seconds(120)
) async throws -> Any {
    let r = try await runProcess(
        projectPython, ["-c", boto3KinesisClientPython + script, String(port)] + arguments, timeout: timeout)
    guard r.status == 0, let last = r.stdout.split(separator: "\n").last,
        let value = try? JSONSerialization.jsonObject(with: Data(last.utf8), options: [.fragmentsAllowed])
    else {
        throw TestFailure("boto3 script failed (\(r.status)): \(r.stdout) \(r.stderr)")
    }
    return value
}
