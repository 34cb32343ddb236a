import Foundation
import ShardLogTestSupport
import Subprocess
import Synchronization
import SystemPackage
import Testing

/// What ``ChildProcess`` relies on in swift-subprocess, checked against the library itself (issue 10, item 8):
///
/// - an ``Execution`` is valid only inside `run`'s closure, so a long-lived Runtime API process is a task that holds
///   `run` open for the process's life: it must stay warm across uses, stop on request (idle), die on `SIGKILL`
///   (timeout), report a crash with its signal, and take its process group (grandchildren) with it;
/// - the library stops reading a child's pipes when the child exits (a grandchild may hold them open): the last
///   lines a shell wrote just before exiting (`./nosuch.sh: not found`) must still be read.
@Suite(.timeLimit(.minutes(1)))
struct SubprocessProbeTests {
    /// The child leads a new process group, and tearing it down signals the whole group.
    static let groupOptions: PlatformOptions = {
        var options = PlatformOptions()
        options.processGroupID = 0
        options.teardownSequence = [.gracefulShutDown(toProcessGroup: true, allowedDurationToNextStep: .seconds(1))]
        return options
    }()

    /// A long-lived child held by a task: the test talks to it through `send`, which is valid while `run`'s closure
    /// runs (the closure reads the child's output to the end, which comes when the child exits).
    final class HeldChild: Sendable {
        final class Shared: Sendable {
            let lines = Mutex<[String]>([])
            let signal = Mutex<(@Sendable (Signal, Bool) -> Void)?>(nil)
        }
        let shared = Shared()
        let task: Task<TerminationStatus, any Error>
        var lines: [String] { shared.lines.withLock { $0 } }

        init(_ script: String, marker: String) {
            let shared = self.shared
            task = Task {
                let result = try await Subprocess.run(
                    .path("/bin/sh"),
                    arguments: ["-c", script],
                    environment: .inherit.updating(["SHARDLOG_PROBE": marker]),
                    platformOptions: SubprocessProbeTests.groupOptions,
                    input: .none,
                    output: .sequence,
                    error: .combinedWithOutput
                ) { execution in
                    shared.signal.withLock { $0 = { try? execution.send(signal: $0, toProcessGroup: $1) } }
                    for try await line in execution.standardOutput.strings() {
                        shared.lines.withLock { $0.append(line) }
                    }
                    shared.signal.withLock { $0 = nil }
                }
                return result.terminationStatus
            }
        }

        func send(_ value: Signal, toProcessGroup: Bool = false) {
            shared.signal.withLock { $0?(value, toProcessGroup) }
        }

        func waitForLines(_ count: Int) async -> [String] {
            let end = ContinuousClock.now + .seconds(10)
            while ContinuousClock.now < end, lines.count < count {
                try? await Task.sleep(for: .milliseconds(10))
            }
            return lines
        }
    }

    /// A shell that answers `SIGUSR1` with a line and has a grandchild (`sleep`) in its group.
    static let warmScript = "trap 'echo usr1' USR1; sleep 30 & echo ready; while :; do sleep 0.05; done"

    @Test func aTaskHoldingRunKeepsAProcessWarmAcrossUses() async throws {
        let marker = UUID().uuidString
        let child = HeldChild(Self.warmScript, marker: marker)
        #expect(await child.waitForLines(1) == ["ready"])
        for use in 1...3 {
            child.send(.userDefinedOne)
            #expect(await child.waitForLines(1 + use).last == "usr1", "use \(use)")
        }
        child.send(.terminate, toProcessGroup: true)
        #expect(try await child.task.value == .signaled(SIGTERM))
        #expect(await Self.waitUntilNoProcess(withMarker: marker), "the grandchild went with the group")
    }

    @Test func killingAHeldProcessOnATimeoutReportsSIGKILL() async throws {
        let marker = UUID().uuidString
        let child = HeldChild(Self.warmScript, marker: marker)
        _ = await child.waitForLines(1)
        child.send(.kill, toProcessGroup: true)
        #expect(try await child.task.value == .signaled(SIGKILL))
        #expect(await Self.waitUntilNoProcess(withMarker: marker))
    }

    @Test func aCrashOfAHeldProcessReportsItsSignal() async throws {
        let child = HeldChild("echo ready; read _ </dev/null; sleep 0.2; kill -SEGV $$", marker: UUID().uuidString)
        #expect(try await child.task.value == .signaled(SIGSEGV))
        #expect(child.lines == ["ready"])
    }

    @Test func cancellingTheHoldingTaskTearsDownTheGroup() async throws {
        let marker = UUID().uuidString
        let child = HeldChild(Self.warmScript, marker: marker)
        _ = await child.waitForLines(1)
        child.task.cancel()
        _ = try? await child.task.value
        #expect(await Self.waitUntilNoProcess(withMarker: marker), "SIGTERM to the group reached the grandchild")
    }

    /// The shell's last words, right before it exits, many times over (a race would show as a missing line).
    @Test(arguments: [
        "echo first >&2; echo 'last words' >&2; exit 3",
        "sleep 30 & echo 'last words' >&2; exit 3",  // a grandchild keeps the pipe open
        "head -c 300000 /dev/zero | tr '\\0' x >&2; echo >&2; echo 'last words' >&2; exit 3",  // more than a pipe
    ])
    func theLastLinesOfAnExitingShellAreRead(script: String) async throws {
        for attempt in 0..<30 {
            let marker = UUID().uuidString
            let start = ContinuousClock.now
            let result = try await Subprocess.run(
                .path("/bin/sh"),
                arguments: ["-c", script],
                environment: .inherit.updating(["SHARDLOG_PROBE": marker]),
                platformOptions: Self.groupOptions,
                input: .none,
                output: .discarded,
                error: .sequence
            ) { execution in
                var bytes: [UInt8] = []
                for try await chunk in execution.standardError {
                    bytes.append(contentsOf: Data(buffer: chunk))
                }
                try? execution.send(signal: .kill, toProcessGroup: true)
                return bytes
            }
            let text = String(decoding: result.closureResult, as: UTF8.self)
            #expect(result.terminationStatus == .exited(3))
            #expect(text.hasSuffix("last words\n"), "attempt \(attempt): …\(text.suffix(40))")
            #expect(ContinuousClock.now - start < .seconds(10), "a grandchild holding the pipe does not hold us")
            #expect(await Self.waitUntilNoProcess(withMarker: marker))
        }
    }

    @Test func aMissingCommandLeavesTheShellsOwnWords() async throws {
        try await withTemporaryDirectory { directory in
            let result = try await Subprocess.run(
                .path("/bin/sh"),
                arguments: ["-c", "./nosuch.sh"],
                workingDirectory: FilePath(directory),
                platformOptions: Self.groupOptions,
                output: .discarded,
                error: .bytes(limit: 4096)
            )
            #expect(result.terminationStatus == .exited(127))
            #expect(String(decoding: result.standardError, as: UTF8.self).contains("./nosuch.sh: not found"))
        }
    }

    /// Whether no process carries `SHARDLOG_PROBE=marker` in its environment, within 5 s.
    static func waitUntilNoProcess(withMarker marker: String) async -> Bool {
        let end = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < end {
            if HandlerFixtures.processes(withEnvironment: "SHARDLOG_PROBE=\(marker)").isEmpty {
                return true
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return false
    }
}
