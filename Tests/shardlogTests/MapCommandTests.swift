import ArgumentParser
import Foundation
import ShardLog
import ShardLogMapping
import ShardLogTestSupport
import Testing

@testable import shardlog

/// `shardlog map` and `shardlog mappings`: argument parsing, and runs of the built binary with `exec:` handlers.
@Suite(.timeLimit(.minutes(1)))
struct MapCommandTests {
    /// An `exec:` handler that appends `KEY SEQUENCE` per record to `log` (one write per batch), fails batches that
    /// hold a record whose data is `poison`, and runs `extra` first.
    static func writeHandler(in dir: String, log: String, extra: String = "") throws -> String {
        let path = dir + "/handler.sh"
        let script = """
            #!/bin/sh
            ev=$(cat)
            \(extra)
            case "$ev" in *'"data":"cG9pc29u"'*) echo "poison found" >&2; exit 1;; esac
            tmp="\(log).$$"
            printf '%s\\n' "$ev" | grep -o '"partitionKey":"[^"]*","sequenceNumber":"[0-9]*"' \\
              | sed 's/"partitionKey":"\\([^"]*\\)","sequenceNumber":"\\([0-9]*\\)"/\\1 \\2/' > "$tmp"
            cat "$tmp" >> "\(log)"
            rm -f "$tmp"
            """
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        return path
    }

    /// `(key, sequenceNumber)` lines of a handler log.
    static func readLog(_ path: String) -> [(key: String, sequence: String)] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { line in
            let parts = line.split(separator: " ")
            return parts.count == 2 ? (String(parts[0]), String(parts[1])) : nil
        }
    }

    @Test func parsesTheAWSFlagNames() throws {
        try withEngineDirectory { dir in
            let command = try ShardLogCommand.parseAsRoot([
                "map", "orders", "--data-dir", dir, "--handler", "exec:cat", "--batch-size", "5",
                "--maximum-batching-window-in-seconds", "2", "--parallelization-factor", "4",
                "--starting-position", "TRIM_HORIZON", "--no-bisect-batch-on-function-error",
                "--maximum-retry-attempts", "-1", "--maximum-record-age-in-seconds", "60",
                "--function-response-types", "ReportBatchItemFailures",
                "--filter-criteria", #"{"Filters":[{"Pattern":"{\"data\":{\"t\":[\"a\"]}}"}]}"#,
                "--on-failure", "file:/tmp/x.jsonl", "--mapping-name", "billing", "--timeout", "5",
            ])
            let map = try #require(command as? Map)
            let store = try Store(directory: dir)
            let (name, definition) = try map.resolve(store: store)
            #expect(name == "billing")
            #expect(definition.streamName == "orders")
            let c = definition.configuration
            #expect(c.batchSize == 5 && c.maximumBatchingWindowInSeconds == 2 && c.parallelizationFactor == 4)
            #expect(c.startingPosition == .trimHorizon && !c.bisectBatchOnFunctionError)
            #expect(c.maximumRetryAttempts == -1 && c.maximumRecordAgeInSeconds == 60)
            #expect(c.reportsBatchItemFailures)
            #expect(c.filterCriteria?.filters.count == 1)
            #expect(definition.onFailure == "file:/tmp/x.jsonl")
            #expect(definition.timeoutSeconds == 5)
            #expect(definition.handler == "exec:cat")
        }
    }

    @Test func aConfigFileWithAWSFieldNamesIsOverriddenByFlags() throws {
        try withEngineDirectory { dir in
            let config = dir + "/esm.json"
            let json = """
                {"EventSourceArn":"arn:aws:kinesis:us-east-1:000000000000:stream/orders","FunctionName":"f",
                 "StartingPosition":"LATEST","BatchSize":7,"ParallelizationFactor":2,
                 "FunctionResponseTypes":["ReportBatchItemFailures"],
                 "DestinationConfig":{"OnFailure":{"Destination":"stream:dlq"}}}
                """
            try json.write(toFile: config, atomically: true, encoding: .utf8)
            let command = try ShardLogCommand.parseAsRoot([
                "map", "--config", config, "--handler", "exec:cat", "--batch-size", "9",
            ])
            let map = try #require(command as? Map)
            let (name, definition) = try map.resolve(store: try Store(directory: dir))
            #expect(name == "orders" && definition.streamName == "orders")
            let c = definition.configuration
            #expect(c.batchSize == 9 && c.parallelizationFactor == 2 && c.startingPosition == .latest)
            #expect(c.reportsBatchItemFailures)
            #expect(definition.onFailure == "stream:dlq")
            #expect(definition.timeoutSeconds == 60)
        }
    }

    @Test func sourceEndpointIsSavedAndResumed() throws {
        try withEngineDirectory { dir in
            let store = try Store(directory: dir)
            let first = try #require(
                try ShardLogCommand.parseAsRoot([
                    "map", "orders", "--handler", "exec:cat", "--starting-position", "TRIM_HORIZON",
                    "--source-endpoint", "http://127.0.0.1:4567",
                ]) as? Map)
            let (name, definition) = try first.resolve(store: store)
            #expect(definition.sourceEndpoint == "http://127.0.0.1:4567")
            try MappingCatalog.save(definition, store: store, name: name)
            let resumed = try #require(try ShardLogCommand.parseAsRoot(["map", "--mapping-name", "orders"]) as? Map)
            #expect(try resumed.resolve(store: store).definition.sourceEndpoint == "http://127.0.0.1:4567")
        }
    }

    @Test func aNewMappingNeedsAStartingPositionAndValidValues() throws {
        try withEngineDirectory { dir in
            let store = try Store(directory: dir)
            let missing = try #require(try ShardLogCommand.parseAsRoot(["map", "s", "--handler", "exec:cat"]) as? Map)
            #expect(throws: (any Error).self) { try missing.resolve(store: store) }
            let invalid = try #require(
                try ShardLogCommand.parseAsRoot([
                    "map", "s", "--handler", "exec:cat", "--starting-position", "LATEST", "--batch-size", "0",
                ]) as? Map)
            #expect(throws: (any Error).self) { try invalid.resolve(store: store) }
        }
    }

    @Test func poisonRecordGoesAloneToTheFailureFileThroughTheBinary() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir + "/data")
            try store.createStream(named: "s", shardCount: 2)
            let stream = try store.stream(named: "s")
            var expected: Set<String> = []
            for i in 0..<40 {
                expected.insert(
                    try stream.put(partitionKey: "k\(i % 4)", data: Array("{\"i\":\(i)}".utf8)).sequenceNumber)
            }
            let poison = try stream.put(partitionKey: "k1", data: Array("poison".utf8)).sequenceNumber
            let log = dir + "/log"
            let handler = try Self.writeHandler(in: dir, log: log)
            let result = try await runShardlog([
                "--data-dir", dir + "/data", "map", "s", "--handler", "exec:" + handler,
                "--starting-position", "TRIM_HORIZON", "--batch-size", "16", "--bisect-batch-on-function-error",
                "--maximum-retry-attempts", "2", "--on-failure", "file:\(dir)/failed.jsonl", "--exit-when-idle",
                "--json",
            ])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(Set(Self.readLog(log).map(\.sequence)) == expected)
            let lines = try String(contentsOfFile: dir + "/failed.jsonl", encoding: .utf8).split(separator: "\n")
            try #require(lines.count == 1)
            let entry = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
            let info = try #require(entry["KinesisBatchInfo"] as? [String: Any])
            #expect(info["startSequenceNumber"] as? String == poison)
            #expect(info["batchSize"] as? Int == 1)
            let summary = try #require(
                try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            let metrics = try #require(summary["metrics"] as? [String: Any])
            #expect(metrics["discardedRecords"] as? Int == 1)
            #expect(metrics["records"] as? Int == 40)

            // mappings list / describe / reset
            let list = try await runShardlog(["--data-dir", dir + "/data", "mappings", "list"])
            #expect(list.stdout.hasPrefix("s\ts"))
            let describe = try await runShardlog(["--data-dir", dir + "/data", "mappings", "describe", "s"])
            #expect(describe.status == 0)
            #expect(describe.stdout.contains("\"RecordsBehind\" : 0"), "\(describe.stdout)")
            #expect(describe.stdout.contains("\"BatchSize\" : 16"))
            let reset = try await runShardlog(["--data-dir", dir + "/data", "mappings", "reset", "s"])
            #expect(reset.status == 0)
            #expect(!FileManager.default.fileExists(atPath: dir + "/data/mappings/s/checkpoints.json"))
            // The saved mapping resumes by name alone, from its starting position after the reset.
            try? FileManager.default.removeItem(atPath: log)
            let again = try await runShardlog([
                "--data-dir", dir + "/data", "map", "--mapping-name", "s", "--exit-when-idle",
            ])
            #expect(again.status == 0, "\(again.stderr)")
            #expect(Set(Self.readLog(log).map(\.sequence)) == expected)
        }
    }

    @Test(arguments: ["timeout", "crash"])
    func aHandlerTimeoutOrCrashFailsTheBatchWhichIsRetried(kind: String) async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir + "/data")
            try store.createStream(named: "s", shardCount: 1)
            let stream = try store.stream(named: "s")
            for i in 0..<10 { try stream.put(partitionKey: "k", data: Array("{\"i\":\(i)}".utf8)) }
            let log = dir + "/log"
            let failOnce =
                kind == "timeout"
                ? "if [ ! -e \(dir)/first ]; then touch \(dir)/first; sleep 30; fi"
                : "if [ ! -e \(dir)/first ]; then touch \(dir)/first; kill -9 $$; fi"
            let handler = try Self.writeHandler(in: dir, log: log, extra: failOnce)
            let result = try await runShardlog([
                "--data-dir", dir + "/data", "map", "s", "--handler", "exec:" + handler, "--timeout", "1",
                "--starting-position", "TRIM_HORIZON", "--exit-when-idle", "--json",
            ])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(Self.readLog(log).count == 10)
            let summary = try #require(
                try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            let metrics = try #require(summary["metrics"] as? [String: Any])
            #expect(metrics["functionErrors"] as? Int == 1)
            #expect(metrics["retries"] as? Int == 1)
        }
    }

    @Test func runtimeAPIHandlerWithBisectIsolatesAPoisonRecord() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir + "/data")
            try store.createStream(named: "s", shardCount: 2)
            let stream = try store.stream(named: "s")
            var expected: Set<String> = []
            for i in 0..<30 {
                expected.insert(
                    try stream.put(partitionKey: "k\(i % 5)", data: Array("{\"i\":\(i)}".utf8)).sequenceNumber)
            }
            let poison = try stream.put(partitionKey: "k2", data: Array(#"{"poison":true}"#.utf8)).sequenceNumber
            let log = dir + "/log"
            var environment = ProcessInfo.processInfo.environment
            environment["SHARDLOG_TEST_LOG"] = log
            let result = try await runProcess(
                shardlogBinary,
                [
                    "--data-dir", dir + "/data", "map", "s", "--handler",
                    "runtime-api:python3 -m awslambdaric failing_handler.handler",
                    "--handler-dir", fixturePath("handlers/python"), "--starting-position", "TRIM_HORIZON",
                    "--parallelization-factor", "2", "--bisect-batch-on-function-error", "--maximum-retry-attempts",
                    "1", "--on-failure", "file:\(dir)/failed.jsonl", "--exit-when-idle", "--json",
                ], environment: environment)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(Set(Self.readLog(log).map(\.sequence)) == expected)
            let lines = try String(contentsOfFile: dir + "/failed.jsonl", encoding: .utf8).split(separator: "\n")
            try #require(lines.count == 1)
            let entry = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
            let info = try #require(entry["KinesisBatchInfo"] as? [String: Any])
            #expect(info["startSequenceNumber"] as? String == poison)
            #expect(info["batchSize"] as? Int == 1)
            let context = try #require(entry["requestContext"] as? [String: Any])
            #expect(context["condition"] as? String == "RetryAttemptsExhausted")
        }
    }

    @Test func killDashNineThenRestartDeliversEveryRecordAtLeastOnceInKeyOrder() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir + "/data")
            try store.createStream(named: "s", shardCount: 2)
            let stream = try store.stream(named: "s")
            var entries: [PutRecordsEntry] = []
            for i in 0..<3000 {
                entries.append(PutRecordsEntry(partitionKey: "k\(i % 12)", data: Array("{\"i\":\(i)}".utf8)))
            }
            var expected: Set<String> = []
            for chunk in stride(from: 0, to: entries.count, by: 500) {
                let results = try stream.putRecords(Array(entries[chunk..<min(chunk + 500, entries.count)]))
                expected.formUnion(results.map(\.sequenceNumber))
            }
            let log = dir + "/log"
            let handler = try Self.writeHandler(in: dir, log: log, extra: "sleep 0.02")
            let arguments = [
                "--data-dir", dir + "/data", "map", "s", "--handler", "exec:" + handler,
                "--starting-position", "TRIM_HORIZON", "--batch-size", "25", "--parallelization-factor", "3",
                "--mapping-name", "crashy",
            ]
            let process = try await BackgroundProcess.start(arguments)
            let deadline = ContinuousClock.now + .seconds(30)
            while Self.readLog(log).count < 600 && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            process.signal(SIGKILL)
            #expect(try await process.exitStatus() == 128 + SIGKILL)
            let before = Self.readLog(log).count
            #expect(before >= 600 && before < 3000, "killed after \(before) deliveries")
            let result = try await runShardlog(arguments + ["--exit-when-idle"])
            #expect(result.status == 0, "\(result.stderr)")
            let delivered = Self.readLog(log)
            #expect(Set(delivered.map(\.sequence)) == expected)
            // Per key, first deliveries are in sequence order (duplicates after the restart come later).
            var seen: Set<String> = []
            var lastByKey: [String: String] = [:]
            var outOfOrder = 0
            for (key, sequence) in delivered where seen.insert(sequence).inserted {
                if let last = lastByKey[key], last.count == sequence.count, last > sequence { outOfOrder += 1 }
                lastByKey[key] = sequence
            }
            #expect(outOfOrder == 0)
        }
    }

    /// Runs the built `shardlog` in a pseudo-terminal (Python's `pty`), sends it SIGINT after `interruptAfter`, and
    /// returns its exit status and everything it wrote to the terminal.
    static func runInTerminal(_ arguments: [String], interruptAfter: Double) async throws -> ProcessResult {
        let driver = """
            import os, pty, select, signal, sys, time
            binary, interrupt_after, args = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
            pid, fd = pty.fork()
            if pid == 0:
                os.execv(binary, [binary] + args)
            out = bytearray()
            start = time.monotonic()
            interrupted = False
            while time.monotonic() - start < 50:
                if not interrupted and time.monotonic() - start >= interrupt_after:
                    os.kill(pid, signal.SIGINT)
                    interrupted = True
                ready, _, _ = select.select([fd], [], [], 0.05)
                if ready:
                    try:
                        data = os.read(fd, 65536)
                    except OSError:
                        break
                    if not data:
                        break
                    out += data
            _, status = os.waitpid(pid, 0)
            sys.stdout.buffer.write(bytes(out))
            code = os.waitstatus_to_exitcode(status)
            sys.exit(code if code >= 0 else 128 - code)
            """
        return try await runProcess(
            "/usr/bin/env", ["python3", "-c", driver, shardlogBinary, String(interruptAfter)] + arguments)
    }

    /// What a terminal shows of `output`, line by line: `CR` moves to the line's start, later text overwrites
    /// earlier text, `ESC [ K` erases to the end of the line, and the auto-wrap switches (`ESC [ ? 7 l/h`) draw
    /// nothing. A status line that was not erased before a handler's line stays visible in it.
    static func terminalLines(_ output: String) -> [String] {
        var lines: [String] = []
        var line: [Unicode.Scalar] = []
        var cursor = 0
        let scalars = Array(output.unicodeScalars)
        var index = 0
        while index < scalars.count {
            let scalar = scalars[index]
            index += 1
            switch scalar {
            case "\n":
                lines.append(String(String.UnicodeScalarView(line)))
                line = []
                cursor = 0
            case "\r":
                cursor = 0
            case "\u{1B}":
                var sequence = ""
                while index < scalars.count {
                    let next = scalars[index]
                    index += 1
                    sequence.unicodeScalars.append(next)
                    if next.properties.isAlphabetic && next != "[" { break }
                }
                if sequence == "[K" { line.removeSubrange(min(cursor, line.count)...) }
            default:
                if cursor < line.count { line[cursor] = scalar } else { line.append(scalar) }
                cursor += 1
            }
        }
        if !line.isEmpty { lines.append(String(String.UnicodeScalarView(line))) }
        return lines
    }

    @Test func aTerminalShowsHandlerLinesAboveTheStatusLineAndCtrlCSaysWhatIsBehind() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir + "/data")
            try store.createStream(named: "s", shardCount: 1)
            let stream = try store.stream(named: "s")
            let total = 400
            _ = try stream.putRecords(
                (0..<total).map { PutRecordsEntry(partitionKey: "k", data: Array("{\"i\":\($0)}".utf8)) })
            let handler = dir + "/handler.sh"
            try "#!/bin/sh\ncat >/dev/null\necho 'hello from the handler' >&2\nsleep 0.05\n".write(
                toFile: handler, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: handler)
            let result = try await Self.runInTerminal(
                [
                    "--data-dir", dir + "/data", "map", "s", "--handler", "exec:" + handler, "--batch-size", "2",
                    "--starting-position", "TRIM_HORIZON",
                ], interruptAfter: 3.5)
            #expect(result.status == 0, "\(result.stdout)")
            let output = result.stdout
            // The status line was drawn, with records behind, iterator age as a duration, rate and ETA.
            #expect(output.contains("\u{1B}[?7lrecords "), "\(output)")
            #expect(output.contains(" behind ") && output.contains(" ETA "), "\(output)")
            #expect(output.range(of: #"iterator age [0-9.]+(ms|s)"#, options: .regularExpression) != nil)
            let lines = Self.terminalLines(output)
            let handlerLines = lines.filter { $0.contains("hello from the handler") }
            #expect(handlerLines.count >= 10, "\(output)")
            for line in handlerLines {
                #expect(
                    line == "[s slot 0] hello from the handler", "status text interleaved: \(line.debugDescription)")
            }
            // After Ctrl-C the summary says what is still behind, which with what was handled is everything.
            let summary = try #require(
                output.firstMatch(of: #/stopped with ([0-9,]+) records behind, iterator age [0-9.]+(ms|s|m)/#),
                "\(output)")
            let behind = try #require(Int(summary.1.replacingOccurrences(of: ",", with: "")))
            let handled = try #require(output.firstMatch(of: #/mapping s on s: .*\s+records ([0-9]+)  batches/#))
            let records = try #require(Int(handled.1))
            #expect(behind > 0 && records > 0)
            #expect(behind + records == total, "\(behind) behind + \(records) handled")
            #expect(output.contains("LastProcessingResult: OK"))
        }
    }

    @Test func aHandlerThatCannotStartIsReportedAndBacksOffWithoutDiscarding() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir + "/data")
            try store.createStream(named: "s", shardCount: 1)
            try store.stream(named: "s").put(partitionKey: "k", data: Array("{}".utf8))
            let result = try await Self.runInTerminal(
                [
                    "--data-dir", dir + "/data", "map", "s", "--handler", "exec:./nosuch.sh", "--handler-dir", dir,
                    "--starting-position", "TRIM_HORIZON", "--on-failure", "file:\(dir)/failed.jsonl",
                ], interruptAfter: 2.5)
            #expect(result.status == 0, "\(result.stdout)")
            let lines = Self.terminalLines(result.stdout)
            let steps = lines.filter { $0.contains("handler could not start: `./nosuch.sh`") }
            // Attempts at 0, 1 and 3 s: two log lines in 2.5 s, where a busy loop made dozens.
            #expect(steps.count >= 1 && steps.count <= 3, "\(result.stdout)")
            #expect(steps.first?.contains("./nosuch.sh: not found") == true, "\(result.stdout)")
            #expect(steps.first?.contains("trying again in 1s") == true, "\(result.stdout)")
            #expect(result.stdout.contains("PROBLEM: handler could not start"), "the status line says so")
            #expect(lines.contains { $0.contains("discarded 0") })
            #expect(result.stdout.contains("stopped with 1 records behind"), "\(result.stdout)")
            #expect(!FileManager.default.fileExists(atPath: dir + "/failed.jsonl"))
            let describe = try await runShardlog(["--data-dir", dir + "/data", "mappings", "describe", "s"])
            #expect(
                describe.stdout.contains(#""LastProcessingResult" : "PROBLEM: handler could not start: `./nosuch.sh`"#),
                "\(describe.stdout)")
        }
    }
}

/// Runs `body` with a fresh directory that is removed afterwards (synchronous).
private func withEngineDirectory(_ body: (String) throws -> Void) throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("shardlog-map-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    try body(path)
}
