import Foundation
import ShardLog
import ShardLogTestSupport
import Testing

@testable import ShardLogMapping

/// The `exec:` handler kind: one `/bin/sh -c` process per batch.
@Suite(.timeLimit(.minutes(1)))
struct ExecInvokerTests {
    typealias F = HandlerFixtures

    @Test func countScriptSucceeds() async throws {
        let batch = F.batch(F.records(4))
        let outcome = try await F.withInvoker(.exec(command: "./count.sh", directory: F.exec)) {
            await $0.invoke(batch)
        }
        #expect(F.responseText(outcome) == "{\"batchItemFailures\":[]}\n")
    }

    @Test func aNonZeroExitIsAnExecErrorWithTheStandardErrorTail() async throws {
        let poison = F.record(3, #"{"poison":true}"#)
        let batch = F.batch(F.records(3, extra: [poison]))
        let outcome = try await F.withInvoker(.exec(command: "./count.sh", directory: F.exec)) {
            await $0.invoke(batch)
        }
        guard case .functionError(let type, let message) = outcome else {
            Issue.record("expected a function error, got \(outcome)")
            return
        }
        #expect(type == "ExecError")
        #expect(message.contains("count.sh: poison record(s) \(poison.sequenceNumber)"), "\(message)")
        #expect(message.hasSuffix("(exit status 1)"), "\(message)")
    }

    @Test func theEventArrivesOnStandardInputInTheWorkingDirectory() async throws {
        try await withTemporaryDirectory { directory in
            let batch = F.batch(F.records(2))
            let spec = HandlerSpec.exec(
                command:
                    #"printf '{"cwd":"%s","function":"%s","event":' "$PWD" "$AWS_LAMBDA_FUNCTION_NAME"; cat; echo '}'"#,
                directory: directory
            )
            let outcome = try await F.withInvoker(spec, functionName: "exec-fn") { await $0.invoke(batch) }
            let object = try #require(F.responseObject(outcome), "\(outcome)")
            #expect(object["cwd"] as? String == directory)
            #expect(object["function"] as? String == "exec-fn")
            let records = try #require((object["event"] as? [String: Any])?["Records"] as? [[String: Any]])
            #expect(records.count == 2)
            #expect(records.first?["eventID"] as? String == "shardId-000000000000:\(batch.records[0].sequenceNumber)")
        }
    }

    @Test func aHandlerPastItsDeadlineIsKilledWithItsChildren() async throws {
        let marker = "SHARDLOG_EXEC_TEST=\(UUID().uuidString)"
        let spec = HandlerSpec.exec(command: "export \(marker); sleep 30 & sleep 30; wait", directory: nil)
        try await F.withInvoker(spec) { invoker in
            let clock = ContinuousClock()
            let start = clock.now
            let outcome = await invoker.invoke(F.batch(F.records(1), timeout: .milliseconds(700)))
            let elapsed = clock.now - start
            #expect(outcome == .timedOut)
            #expect(elapsed < .seconds(3), "timed out after \(elapsed)")
            try await Task.sleep(for: .milliseconds(100))
            #expect(F.processes(withEnvironment: marker).isEmpty, "no process of the handler survives")
        }
    }

    @Test func aHandlerThatIgnoresItsInputDoesNotBreakUs() async throws {
        let big = F.record(0, String(repeating: "x", count: 2 << 20))
        let outcome = try await F.withInvoker(.exec(command: "exit 0", directory: nil)) {
            await $0.invoke(F.batch([big]))
        }
        #expect(outcome == .response([]))
    }

    @Test func aMissingScriptCouldNotStart() async throws {
        try await withTemporaryDirectory { directory in
            let outcome = try await F.withInvoker(.exec(command: "./nosuch.sh", directory: directory)) {
                await $0.invoke(F.batch(F.records(1)))
            }
            guard case .serviceError(let message) = outcome else {
                Issue.record("expected a service error, got \(outcome)")
                return
            }
            #expect(message.hasPrefix("handler could not start: `./nosuch.sh` in \(directory)"), "\(message)")
            #expect(message.contains("exit status 127 (command not found)"), "\(message)")
            #expect(message.contains("./nosuch.sh: not found"), "the shell's own words: \(message)")
        }
    }

    @Test func aHandlerKilledByASignalIsAnExitErrorNamingIt() async throws {
        let outcome = try await F.withInvoker(.exec(command: "cat >/dev/null; kill -ABRT $$", directory: nil)) {
            await $0.invoke(F.batch(F.records(1)))
        }
        #expect(
            outcome
                == .functionError(
                    type: "Runtime.ExitError", message: "the exec handler was killed by signal: aborted (SIGABRT)"))
    }

    @Test func aMissingDirectoryIsAServiceError() async throws {
        let invoker = ExecInvoker(
            command: "true", directory: "/nonexistent/shardlog", functionName: "f", logger: F.logger)
        guard case .serviceError = await invoker.invoke(F.batch(F.records(1))) else {
            Issue.record("expected a service error")
            return
        }
    }
}
