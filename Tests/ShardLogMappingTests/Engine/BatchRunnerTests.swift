import Foundation
import Logging
import ShardLog
import ShardLogTestSupport
import Testing

@testable import ShardLogMapping

/// What a user sees when invocations fail: one log entry per failed invocation with the reason and where it
/// happened, the reason in the on-failure record's `lastError`, and a back-off (not a busy loop) while the handler
/// cannot start. Real handlers: exec scripts and awslambdaric.
@Suite(.timeLimit(.minutes(1)))
struct BatchRunnerTests {
    typealias F = HandlerFixtures

    /// What a run to the end produced.
    struct Run {
        var summary: MappingSummary
        var logs: [InMemoryLogHandler.Entry]
        var failures: [[String: Any]]

        /// The `lastError` of the only on-failure record.
        func lastError() throws -> (type: String, message: String) {
            try #require(failures.count == 1, "\(failures)")
            let error = try #require(failures[0]["lastError"] as? [String: Any], "\(failures[0])")
            return (
                try #require(error["errorType"] as? String), try #require(error["errorMessage"] as? String)
            )
        }

        /// The error-level entries about failed invocations.
        var failedInvocations: [InvocationRecordEntry] {
            logs.filter { $0.message.hasPrefix("invocation failed: ") }
        }
    }

    typealias InvocationRecordEntry = InMemoryLogHandler.Entry

    /// Puts `count` records in a one-shard stream and runs `spec` over it with no retries, discarding failed
    /// batches to a file, until idle.
    static func run(
        _ spec: HandlerSpec, count: Int = 3, timeout: Duration = .seconds(5),
        configure: (inout MappingConfiguration) -> Void = { _ in }
    ) async throws -> Run {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir + "/data")
            try store.createStream(named: "s", shardCount: 1)
            try putRecords(try store.stream(named: "s"), count: count)
            var configuration = MappingConfiguration(startingPosition: .trimHorizon, maximumRetryAttempts: 0)
            configure(&configuration)
            let (logger, logs) = InMemoryLogHandler.logger()
            let invoker = try await spec.makeInvoker(functionName: "fn", timeout: timeout, logger: logger)
            let mapping = makeMapping(
                store: store, name: "m", configuration: configuration, invoker: invoker,
                onFailure: .file(dir + "/failed.jsonl"), logger: logger, timeout: timeout)
            let summary = try await mapping.run(exitWhenIdle: true)
            return Run(summary: summary, logs: logs.all, failures: try readJSONLines(dir + "/failed.jsonl"))
        }
    }

    /// Writes an executable script into `dir`.
    static func script(_ body: String, in dir: String, name: String = "handler.sh") throws -> String {
        let path = dir + "/" + name
        try ("#!/bin/sh\n" + body + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        return path
    }

    /// Checks the one failed-invocation log entry: its reason and its metadata.
    static func expectLogged(_ run: Run, containing texts: [String]) {
        let entries = run.failedInvocations
        #expect(entries.count == 1, "\(run.logs.map(\.message))")
        guard let entry = entries.first else { return }
        for text in texts {
            #expect(entry.message.contains(text), "\(entry.message)")
        }
        #expect(entry.level == .error)
        #expect(entry.metadata["mapping"] == "m")
        #expect(entry.metadata["shard.id"] == "shardId-000000000000")
        #expect(entry.metadata["attempt"] == "1")
        #expect(entry.metadata["request.id"]?.count == 36)
        #expect(entry.metadata["sequence.first"] == SequenceNumber(shardIndex: 0, offset: 0).description)
        #expect(entry.metadata["sequence.last"] == SequenceNumber(shardIndex: 0, offset: 2).description)
        // The discard that follows names the same reason.
        #expect(run.logs.contains { $0.message.hasPrefix("discarding 3 record(s)") && $0.message.contains(texts[0]) })
    }

    @Test func anExecHandlersExitStatusAndStandardErrorTailAreShown() async throws {
        try await withTemporaryDirectory { dir in
            let lines = (1...30).map { "echo 'stderr line \($0)' >&2" }.joined(separator: "\n")
            let handler = try Self.script(lines + "\nexit 3", in: dir)
            let run = try await Self.run(.exec(command: handler, directory: nil))
            Self.expectLogged(run, containing: ["ExecError", "stderr line 30", "exit status 3"])
            #expect(!run.failedInvocations[0].message.contains("stderr line 10\n"), "only the last 20 lines")
            let (type, message) = try run.lastError()
            #expect(type == "ExecError")
            #expect(message.contains("stderr line 30") && message.contains("(exit status 3)"), "\(message)")
            #expect(run.summary.metrics.functionErrors == 1)
            #expect(run.summary.metrics.discardedRecords == 3)
            #expect(run.summary.metrics.lastProcessingResult?.hasPrefix("PROBLEM: Function call failed") == true)
        }
    }

    @Test func aResponseThatIsNotJSONWithReportBatchItemFailuresSaysSo() async throws {
        let run = try await Self.run(.exec(command: "cat >/dev/null; echo not-json", directory: nil)) {
            $0.functionResponseTypes = ["ReportBatchItemFailures"]
        }
        Self.expectLogged(run, containing: [#"response is not valid JSON: "not-json\n""#])
        let (type, message) = try run.lastError()
        #expect(type == "InvalidResponse")
        #expect(message.hasPrefix(#"response is not valid JSON: "not-json\n""#), "\(message)")
    }

    @Test func aTimeoutNamesTheConfiguredTimeout() async throws {
        let run = try await Self.run(.exec(command: "sleep 20", directory: nil), timeout: .milliseconds(700))
        Self.expectLogged(run, containing: ["Task timed out after 0.70 seconds"])
        let (type, message) = try run.lastError()
        #expect(type == "Sandbox.Timedout")
        #expect(message == "Task timed out after 0.70 seconds")
    }

    @Test func aCrashNamesItsSignal() async throws {
        let run = try await Self.run(.exec(command: "cat >/dev/null; echo dying >&2; kill -SEGV $$", directory: nil))
        Self.expectLogged(run, containing: ["segmentation fault (SIGSEGV)", "dying"])
        let (type, message) = try run.lastError()
        #expect(type == "Runtime.ExitError")
        #expect(message.contains("signal: segmentation fault (SIGSEGV)"), "\(message)")
    }

    @Test func aPythonExceptionShowsItsTypeAndMessage() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir + "/data")
            try store.createStream(named: "s", shardCount: 1)
            let poison = try store.stream(named: "s").put(partitionKey: "k", data: Array(#"{"poison":true}"#.utf8))
            let (logger, logs) = InMemoryLogHandler.logger()
            let invoker = try await HandlerSpec.runtimeAPI(
                command: "python3 -m awslambdaric failing_handler.handler", directory: F.python
            ).makeInvoker(functionName: "fn", timeout: .seconds(20), logger: logger)
            let mapping = makeMapping(
                store: store,
                configuration: MappingConfiguration(startingPosition: .trimHorizon, maximumRetryAttempts: 1),
                invoker: invoker, onFailure: .file(dir + "/failed.jsonl"), logger: logger, timeout: .seconds(20))
            let summary = try await mapping.run(exitWhenIdle: true)
            let expected = "ValueError: poison record \(poison.sequenceNumber) (key k)"
            let failed = logs.all.filter { $0.message.hasPrefix("invocation failed: ") }
            #expect(failed.count == 2, "one entry per failed invocation: \(failed.map(\.message))")
            #expect(failed.allSatisfy { $0.message.contains(expected) }, "\(failed.map(\.message))")
            #expect(failed.map { $0.metadata["attempt"] } == ["1", "2"])
            // awslambdaric's stackTrace is logged at debug level with the request id.
            #expect(
                logs.all.contains {
                    $0.level == .debug && $0.message.hasPrefix("stack trace of ValueError")
                        && $0.metadata["request.id"] == failed.last?.metadata["request.id"]
                })
            let records = try readJSONLines(dir + "/failed.jsonl")
            try #require(records.count == 1)
            let lastError = try #require(records[0]["lastError"] as? [String: Any])
            #expect(lastError["errorType"] as? String == "ValueError")
            #expect(lastError["errorMessage"] as? String == "poison record \(poison.sequenceNumber) (key k)")
            let response = try #require(records[0]["responseContext"] as? [String: Any])
            #expect(response["functionError"] as? String == "Unhandled")
            #expect(summary.metrics.functionErrors == 2)
            #expect(summary.metrics.lastProcessingResult == "PROBLEM: Function call failed: \(expected)")
        }
    }

    @Test(arguments: ["exec", "runtime-api"])
    func aHandlerThatCannotStartDiscardsNothingAndBacksOff(kind: String) async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir + "/data")
            try store.createStream(named: "s", shardCount: 1)
            try putRecords(try store.stream(named: "s"), count: 5)
            let (logger, logs) = InMemoryLogHandler.logger()
            let spec: HandlerSpec =
                kind == "exec"
                ? .exec(command: "./nosuch.sh", directory: dir)
                : .runtimeAPI(command: "no-such-runtime-shardlog", directory: dir)
            let invoker = try await spec.makeInvoker(functionName: "fn", timeout: .seconds(5), logger: logger)
            let mapping = makeMapping(
                store: store,
                configuration: MappingConfiguration(startingPosition: .trimHorizon, maximumRetryAttempts: 0),
                invoker: invoker, onFailure: .file(dir + "/failed.jsonl"), logger: logger
            ) {
                $0.firstStartFailureDelay = .milliseconds(250)
                $0.maximumStartFailureDelay = .seconds(1)
            }
            async let summary = mapping.run(exitWhenIdle: false)
            // Attempts at about 0, 0.25, 0.75, 1.75 and 2.75 s; a busy loop would make dozens.
            try await Task.sleep(for: .seconds(3))
            let during = mapping.metrics
            mapping.stop()
            let result = try await summary
            #expect(result.metrics.discardedRecords == 0)
            #expect(result.metrics.records == 0)
            #expect(result.metrics.retries == 0)
            #expect(!FileManager.default.fileExists(atPath: dir + "/failed.jsonl"))
            let attempts = result.metrics.serviceErrors
            #expect(attempts >= 2 && attempts <= 7, "\(attempts) attempts in 3 s")
            // Logged once per back-off step, with the reason.
            let steps = logs.all.filter { $0.message.hasPrefix("handler could not start: ") }
            #expect(steps.count == attempts, "\(steps.map(\.message))")
            #expect(steps.allSatisfy { $0.message.contains("exit status 127") }, "\(steps.map(\.message))")
            #expect(steps.allSatisfy { $0.message.contains("command not found") })
            #expect(steps.first?.message.contains("trying again in 250ms") == true, "\(steps.first?.message ?? "")")
            #expect(steps.dropFirst().first?.message.contains("trying again in 500ms") == true)
            #expect(steps.first?.metadata["shard.id"] == "shardId-000000000000")
            #expect(logs.all.filter { $0.message.hasPrefix("invocation failed") }.isEmpty)
            let problem = try #require(during.lastProcessingResult)
            #expect(problem.hasPrefix("PROBLEM: handler could not start: "), "\(problem)")
            let status = try #require(try MappingStatusFile.read(store: store, name: "m"))
            #expect(status.lastProcessingResult == problem)
            // The checkpoint did not move: every record is delivered by a later run.
            let saved = try MappingCatalog.checkpoints(store: store, name: "m")
            #expect(saved?.shards["shardId-000000000000"]?.sequenceNumber == nil)
        }
    }

    @Test func aHandlerThatStartsAgainEndsTheBackOffAndReportsOK() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir + "/data")
            try store.createStream(named: "s", shardCount: 1)
            try putRecords(try store.stream(named: "s"), count: 5)
            let invoker = try await HandlerSpec.exec(command: "./later.sh", directory: dir)
                .makeInvoker(functionName: "fn", timeout: .seconds(5), logger: F.logger)
            let mapping = makeMapping(
                store: store, configuration: MappingConfiguration(startingPosition: .trimHorizon), invoker: invoker)
            async let summary = mapping.run(exitWhenIdle: true)
            #expect(await eventually { mapping.metrics.serviceErrors >= 1 })
            _ = try Self.script("cat >/dev/null", in: dir, name: "later.sh")
            let result = try await summary
            #expect(result.metrics.records == 5)
            #expect(result.metrics.lastProcessingResult == "OK")
            #expect(try MappingStatusFile.read(store: store, name: "m")?.lastProcessingResult == "OK")
        }
    }
}
