import Foundation
import ShardLogTestSupport
import Synchronization
import Testing

@testable import ShardLogMapping

/// ``ChildProcess``: `/bin/sh -c` through swift-subprocess, in its own process group.
@Suite(.timeLimit(.minutes(1)))
struct ChildProcessTests {
    typealias F = HandlerFixtures

    /// Collects what a sink receives.
    final class Collected: Sendable {
        let bytes = Mutex<[UInt8]>([])
        let finished = Mutex(false)
        var sink: OutputSink {
            OutputSink(
                receive: { chunk in self.bytes.withLock { $0.append(contentsOf: chunk) } },
                finish: { self.finished.withLock { $0 = true } })
        }
        var text: String { String(decoding: bytes.withLock { $0 }, as: UTF8.self) }
    }

    static func spawn(
        _ command: String, marker: String = UUID().uuidString, input: [UInt8]? = nil, output: Collected,
        errors: Collected? = nil
    ) async throws -> ChildProcess {
        var environment = ProcessInfo.processInfo.environment
        environment["SHARDLOG_CHILD_TEST"] = marker
        return try await ChildProcess.spawn(
            command: command, directory: nil, environment: environment, input: input, output: output.sink,
            errorOutput: errors?.sink)
    }

    @Test func theExitComesAfterTheLastOutputAndTheGroupsLeftoversAreKilled() async throws {
        for attempt in 0..<20 {
            let marker = UUID().uuidString
            let (output, errors) = (Collected(), Collected())
            let child = try await Self.spawn(
                "sleep 30 & cat; echo 'last words' >&2; exit 4", marker: marker, input: Array("in\n".utf8),
                output: output, errors: errors)
            #expect(await child.exit.wait() == .exited(4))
            #expect(output.text == "in\n", "attempt \(attempt)")
            #expect(errors.text == "last words\n", "attempt \(attempt)")
            #expect(output.finished.withLock { $0 } && errors.finished.withLock { $0 })
            #expect(await Self.noProcess(marker), "the background sleep went with its shell")
        }
    }

    @Test func combinedOutputKeepsItsOrder() async throws {
        let output = Collected()
        let child = try await Self.spawn("echo one; echo two >&2; echo three", output: output)
        #expect(await child.exit.wait() == .exited(0))
        #expect(output.text == "one\ntwo\nthree\n")
    }

    @Test func stopEndsTheGroupWithSIGTERMThenSIGKILL() async throws {
        let marker = UUID().uuidString
        let output = Collected()
        let child = try await Self.spawn("sleep 30 & echo ready; wait", marker: marker, output: output)
        #expect(await Self.waitFor { output.text == "ready\n" })
        #expect(await child.stop(grace: .seconds(2)) == .signaled(SIGTERM))
        #expect(await Self.noProcess(marker))

        let stubborn = try await Self.spawn("trap '' TERM; echo ready; while :; do sleep 0.05; done", output: output)
        #expect(await Self.waitFor { output.text == "ready\nready\n" })
        #expect(await stubborn.stop(grace: .milliseconds(200)) == .signaled(SIGKILL))
    }

    /// A process that closes its output lives on: it can still be signalled, and its exit is still seen.
    @Test func aChildThatClosedItsOutputCanStillBeStopped() async throws {
        let output = Collected()
        let child = try await Self.spawn("echo ready; exec >/dev/null 2>&1; sleep 30", output: output)
        #expect(await Self.waitFor { output.finished.withLock { $0 } })
        #expect(child.exit.value == nil)
        child.signalGroup(SIGKILL)
        #expect(await child.exit.wait(until: .now + .seconds(10)) == .signaled(SIGKILL))
    }

    @Test func aCrashIsReportedWithItsSignal() async throws {
        let child = try await Self.spawn("kill -SEGV $$", output: Collected())
        #expect(await child.exit.wait() == .signaled(SIGSEGV))
        #expect("\(ChildExit.signaled(SIGSEGV))" == "signal: segmentation fault (SIGSEGV)")
    }

    @Test func aMissingDirectoryIsNamed() async throws {
        await #expect(throws: MappingError.self) {
            try await ChildProcess.spawn(
                command: "true", directory: "/nonexistent/shardlog", environment: [:], input: nil,
                output: Collected().sink, errorOutput: nil)
        }
    }

    @Test func commandOutputIsTheTrimmedStandardOutput() async throws {
        #expect(await Command.output("/bin/sh", ["-c", "echo '  3.11 '"]) == "3.11")
        #expect(await Command.output("/bin/sh", ["-c", "echo x; exit 1"]) == nil)
        #expect(await Command.output("/nonexistent/shardlog", []) == nil)
    }

    static func noProcess(_ marker: String) async -> Bool {
        await waitFor { F.processes(withEnvironment: "SHARDLOG_CHILD_TEST=\(marker)").isEmpty }
    }

    static func waitFor(_ condition: () -> Bool) async -> Bool {
        let end = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < end {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition()
    }
}
