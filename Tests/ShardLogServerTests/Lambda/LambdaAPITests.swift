import Foundation
import ShardLog
import ShardLogTestSupport
import Testing

@testable import ShardLogServer

/// The Lambda API of `shardlog serve`, driven by the unmodified AWS CLI and boto3 (`Python/lambda_api_test.py`)
/// against a real server on 127.0.0.1: functions in Python, Node and a bash `bootstrap`, event source mappings, a
/// restart of the server in between.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct LambdaAPITests {
    private func drive(_ phase: String, port: Int, work: String) async throws -> String {
        let result = try await runProcess(
            [projectPython, pythonScriptPath("lambda_api_test.py"), "http://127.0.0.1:\(port)", work, phase],
            environment: ["PATH": repositoryRoot + "/.venv/bin:" + (ProcessInfo.processInfo.environment["PATH"] ?? "")],
            timeout: .seconds(300))
        #expect(result.status == 0, "\(phase) phase failed:\n\(result.output)")
        #expect(result.output.contains("PASS \(phase)"), "\(result.output)")
        return result.output
    }

    @Test("functions: create, invoke (result, error, Tail, Event, DryRun), update, list, delete; unsafe zips refused")
    func functions() async throws {
        try await withTemporaryDirectory { work in
            let data = work + "/data"
            try await withServer(directory: data) { port in
                _ = try await drive("functions", port: port, work: work)
            }
            // Nothing escaped the function directories.
            #expect(!FileManager.default.fileExists(atPath: data + "/escaped.txt"))
            #expect(!FileManager.default.fileExists(atPath: data + "/functions/escaped.txt"))
            // The log has the output and the failed invocation's error with its request id and stack trace.
            let log = try String(contentsOfFile: data + "/functions/py/log", encoding: .utf8)
            #expect(log.contains("hello from python"))
            #expect(log.contains("errorType: ValueError errorMessage: asked to fail"))
            #expect(log.contains("stackTrace:"))
            let printed = try await runShardlog(["logs", "--data-dir", data, "py", "--since", "1h"])
            #expect(printed.status == 0, "\(printed.stderr)")
            #expect(printed.stdout.contains("ValueError"))
            let missing = try await runShardlog(["logs", "--data-dir", data, "nosuch"])
            #expect(missing.status != 0 && missing.stderr.contains("no log"))
        }
    }

    @Test("event source mappings through the API: 1,000 records, a poison record in the destination, restart")
    func mappings() async throws {
        try await withTemporaryDirectory { work in
            let data = work + "/data"
            try await withServer(directory: data) { port in
                _ = try await drive("mappings", port: port, work: work)
            }
            // The API's mapping is stored as every mapping is: mappings/<UUID>/mapping.json with AWS's names.
            let uuid = try String(contentsOfFile: work + "/uuid", encoding: .utf8)
            let bytes = try Data(contentsOf: URL(fileURLWithPath: data + "/mappings/\(uuid)/mapping.json"))
            let definition = try JSONSerialization.jsonObject(with: bytes) as? [String: Any]
            #expect(definition?["FunctionName"] as? String == "consumer")
            #expect(definition?["StreamName"] as? String == "src")
            #expect(definition?["ParallelizationFactor"] as? Int == 2)
            try await withServer(directory: data) { port in
                _ = try await drive("resume", port: port, work: work)
            }
            #expect(!FileManager.default.fileExists(atPath: data + "/mappings/\(uuid)"))
        }
    }

    @Test("/health reports a hosted mapping whose handler cannot start")
    func health() async throws {
        try await withTemporaryDirectory { work in
            let data = work + "/data"
            try await withServer(directory: data) { port in
                let script = """
                    import boto3, io, zipfile, sys, time, urllib.request
                    s = boto3.session.Session(aws_access_key_id="t", aws_secret_access_key="t", region_name="us-east-1")
                    lam = s.client("lambda", endpoint_url=sys.argv[1])
                    kin = s.client("kinesis", endpoint_url=sys.argv[1])
                    kin.create_stream(StreamName="s", ShardCount=1)
                    buf = io.BytesIO()
                    with zipfile.ZipFile(buf, "w") as z:
                        z.writestr("README", "no bootstrap here")
                    lam.create_function(FunctionName="broken", Runtime="provided.al2", Handler="x", Role="r",
                                        Code={"ZipFile": buf.getvalue()})
                    lam.create_event_source_mapping(FunctionName="broken", StartingPosition="TRIM_HORIZON",
                        EventSourceArn="arn:aws:kinesis:us-east-1:000000000000:stream/s")
                    kin.put_record(StreamName="s", Data=b"x", PartitionKey="k")
                    deadline = time.time() + 60
                    while time.time() < deadline:
                        try:
                            urllib.request.urlopen(sys.argv[1] + "/health")
                        except urllib.error.HTTPError as e:
                            print(e.code, e.read().decode())
                            sys.exit(0)
                        time.sleep(0.2)
                    sys.exit("health stayed ok")
                    """
                let path = work + "/health.py"
                try script.write(toFile: path, atomically: true, encoding: .utf8)
                let result = try await runProcess(
                    [projectPython, path, "http://127.0.0.1:\(port)"], environment: [:], timeout: .seconds(120))
                #expect(result.status == 0, "\(result.output)")
                #expect(result.output.contains("503 unhealthy: mapping"))
                #expect(result.output.contains("handler could not start"))
            }
        }
    }

    @Test("functions and mappings live per account and region, on disk under regions/, and survive a restart")
    func perRegion() async throws {
        try await withTemporaryDirectory { work in
            let data = work + "/data"
            let script = """
                import boto3, io, zipfile, sys, time
                phase = sys.argv[2]
                def clients(region):
                    s = boto3.session.Session(aws_access_key_id="t", aws_secret_access_key="t", region_name=region)
                    return s.client("lambda", endpoint_url=sys.argv[1]), s.client("kinesis", endpoint_url=sys.argv[1])
                west, west_kin = clients("us-west-2")
                eu, _ = clients("eu-west-1")
                east, east_kin = clients("us-east-1")
                def code(text):
                    buf = io.BytesIO()
                    with zipfile.ZipFile(buf, "w") as z:
                        z.writestr("handler.py", text)
                    return buf.getvalue()
                def missing(call):
                    try:
                        call()
                    except Exception as e:
                        return e.response["Error"]["Code"]
                    return "found"
                if phase == "create":
                    handler = "def handle(event, context):\\n"
                    handler += "    for r in event.get('Records', []):\\n"
                    handler += "        print('seen', r['kinesis']['sequenceNumber'], r['awsRegion'])\\n"
                    handler += "    return {'region': context.invoked_function_arn.split(':')[3]}\\n"
                    arn = west.create_function(FunctionName="f", Runtime="python3.12", Handler="handler.handle",
                        Role="r", Code={"ZipFile": code(handler)})["FunctionArn"]
                    assert arn == "arn:aws:lambda:us-west-2:000000000000:function:f", arn
                    out = west.invoke(FunctionName="f", Payload=b"{}")["Payload"].read()
                    assert b'"us-west-2"' in out, out
                    assert missing(lambda: eu.get_function(FunctionName="f")) == "ResourceNotFoundException"
                    assert missing(lambda: east.get_function(FunctionName="f")) == "ResourceNotFoundException"
                    # The same name in another region is another function.
                    eu.create_function(FunctionName="f", Runtime="python3.12", Handler="handler.handle", Role="r",
                        Code={"ZipFile": code(handler)})
                    assert [f["FunctionName"] for f in east.list_functions()["Functions"]] == []
                    west_kin.create_stream(StreamName="s", ShardCount=1)
                    east_kin.create_stream(StreamName="s", ShardCount=1)
                    # A mapping reads streams of its own account and region.
                    other = "arn:aws:kinesis:us-east-1:000000000000:stream/s"
                    code_of = missing(lambda: west.create_event_source_mapping(FunctionName="f",
                        EventSourceArn=other, StartingPosition="TRIM_HORIZON"))
                    assert code_of == "InvalidParameterValueException", code_of
                    m = west.create_event_source_mapping(FunctionName="f", StartingPosition="TRIM_HORIZON",
                        EventSourceArn="arn:aws:kinesis:us-west-2:000000000000:stream/s", BatchSize=10)
                    assert m["EventSourceMappingArn"].startswith("arn:aws:lambda:us-west-2:000000000000:"), m
                    assert m["FunctionArn"] == arn, m
                    assert eu.list_event_source_mappings()["EventSourceMappings"] == []
                    open(sys.argv[3], "w").write(m["UUID"])
                else:
                    uuid = open(sys.argv[3]).read()
                    assert west.get_function(FunctionName="f")["Configuration"]["FunctionArn"].endswith(":f")
                    assert missing(lambda: east.get_event_source_mapping(UUID=uuid)) == "ResourceNotFoundException"
                    assert west.get_event_source_mapping(UUID=uuid)["State"] in ("Enabled", "Creating")
                    for i in range(5):
                        west_kin.put_record(StreamName="s", Data=b"x", PartitionKey=str(i))
                print("PASS", phase)
                """
            let path = work + "/regions.py"
            try script.write(toFile: path, atomically: true, encoding: .utf8)
            for phase in ["create", "restart"] {
                try await withServer(directory: data) { port in
                    let result = try await runProcess(
                        [projectPython, path, "http://127.0.0.1:\(port)", phase, work + "/uuid"], environment: [:],
                        timeout: .seconds(120))
                    #expect(result.status == 0 && result.output.contains("PASS \(phase)"), "\(result.output)")
                    guard phase == "restart" else { return }
                    // The us-west-2 mapping delivers the us-west-2 stream's records to the us-west-2 function.
                    let log = data + "/regions/000000000000/us-west-2/functions/f/log"
                    let deadline = ContinuousClock.now + .seconds(60)
                    var seen = false
                    while !seen, ContinuousClock.now < deadline {
                        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                        seen = text.components(separatedBy: "seen ").count - 1 >= 5 && text.contains("us-west-2")
                        if !seen { try await Task.sleep(for: .milliseconds(100)) }
                    }
                    #expect(seen, "\((try? String(contentsOfFile: log, encoding: .utf8)) ?? "no log at \(log)")")
                    // Its series carry its region (mappings of every account and region are scraped).
                    let uuid = try String(contentsOfFile: work + "/uuid", encoding: .utf8)
                    let labels = ["mapping": uuid, "region": "us-west-2", "account": "000000000000"]
                    let samples = try await ServerMetricsTests.scrape(port) { samples in
                        (ServerMetricsTests.sum(samples, "shardlog_mapping_invocations_total", labels) ?? 0) >= 1
                    }
                    #expect(
                        (ServerMetricsTests.sum(samples, "shardlog_mapping_invocations_total", labels) ?? 0) >= 1)
                }
            }
            #expect(FileManager.default.fileExists(atPath: data + "/regions/000000000000/eu-west-1/functions/f"))
            #expect(!FileManager.default.fileExists(atPath: data + "/functions/f"))
            // The CLI finds them there: mappings list/describe, logs (with --region among several).
            let uuid = try String(contentsOfFile: work + "/uuid", encoding: .utf8)
            let list = try await runShardlog(["mappings", "list", "--json", "--data-dir", data])
            #expect(list.status == 0 && list.stdout.contains(uuid), "\(list.stdout)\(list.stderr)")
            #expect(list.stdout.contains("000000000000/us-west-2"))
            let describe = try await runShardlog(["mappings", "describe", uuid, "--data-dir", data])
            #expect(describe.status == 0 && describe.stdout.contains("\"StreamName\" : \"s\""), "\(describe.stderr)")
            let ambiguous = try await runShardlog(["logs", "f", "--data-dir", data])
            #expect(ambiguous.status != 0 && ambiguous.stderr.contains("several regions"), "\(ambiguous.stderr)")
            let logs = try await runShardlog(["logs", "f", "--region", "us-west-2", "--data-dir", data])
            #expect(logs.status == 0 && logs.stdout.contains("seen "), "\(logs.stderr)")
        }
    }
}
