import Foundation
import ShardLogMapping

/// A program running in the background for a test, started through the mapping's `ChildProcess` (swift-subprocess,
/// its own process group, `exec` so ``pid`` is the program's), with standard output and standard error collected.
package final class BackgroundProcess: Sendable {
    private let child: ChildProcess
    /// Everything written to standard output so far.
    package let stdout: DataBox
    /// Everything written to standard error so far.
    package let stderr: DataBox

    private init(child: ChildProcess, stdout: DataBox, stderr: DataBox) {
        self.child = child
        self.stdout = stdout
        self.stderr = stderr
    }

    /// Starts `executable` (by default the built `shardlog`) with `arguments`.
    /// - Parameters:
    ///   - arguments: Its arguments.
    ///   - executable: The program.
    ///   - input: Written to its standard input, which is then closed; `nil` for `/dev/null`.
    ///   - environment: Its environment (by default ours).
    /// - Throws: when it cannot be started.
    package static func start(
        _ arguments: [String], executable: String = shardlogBinary, input: [UInt8]? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws -> BackgroundProcess {
        let (out, err) = (DataBox(), DataBox())
        let child = try await ChildProcess.spawn(
            command: ChildProcess.execCommand(executable, arguments), directory: nil, environment: environment,
            input: input, output: OutputSink(receive: { out.append(Data($0)) }),
            errorOutput: OutputSink(receive: { err.append(Data($0)) }))
        return BackgroundProcess(child: child, stdout: out, stderr: err)
    }

    /// The program's process id.
    package var pid: Int32 { child.pid }

    /// Whether it still runs.
    package var isRunning: Bool { child.exitStatus == nil }

    /// Standard error so far, decoded.
    package var stderrText: String { String(decoding: stderr.data, as: UTF8.self) }

    /// Sends `signal` to the program (as `kill(1)` would).
    package func signal(_ signal: Int32) { kill(child.pid, signal) }

    /// Waits (at most `timeout`) for it to exit, with all of its output collected.
    /// - Returns: Its exit status, or 128 + the signal that ended it.
    /// - Throws: ``TestFailure`` when it still runs after `timeout` (it is then killed).
    package func exitStatus(within timeout: Duration = .seconds(60)) async throws -> Int32 {
        guard let exit = await child.waitForExit(until: .now + timeout) else {
            await child.stop(grace: .seconds(1))
            throw TestFailure("pid \(pid) did not exit within \(timeout): \(stderrText.suffix(2000))")
        }
        switch exit {
        case .exited(let status): return status
        case .signaled(let signal): return 128 + signal
        case .lost(let reason): throw TestFailure("pid \(pid) ended with an unknown status: \(reason)")
        }
    }

    /// Stops it: `SIGTERM` to its group, then `SIGKILL` a second later.
    package func stop() async { await child.stop(grace: .seconds(1)) }
}

/// Runs the built `shardlog serve` on 127.0.0.1, port 0, over `directory` with `arguments` while `body` runs with the
/// bound port, then stops it (also when `body` throws).
/// - Throws: ``TestFailure`` with its standard error when it does not print its "listening on" line within 60 s;
///   `body`'s error.
package func withServe<R: Sendable>(
    _ directory: String, _ arguments: [String] = [], _ body: (Int) async throws -> R
) async throws -> R {
    let server = try await BackgroundProcess.start(["--data-dir", directory, "serve", "--port", "0"] + arguments)
    let deadline = ContinuousClock.now + .seconds(60)
    var port: Int?
    while port == nil && ContinuousClock.now < deadline && server.isRunning {
        if let range = server.stderrText.range(of: "listening on http://127.0.0.1:") {
            port = Int(server.stderrText[range.upperBound...].prefix { $0.isNumber })
        }
        if port == nil { try await Task.sleep(for: .milliseconds(20)) }
    }
    guard let port else {
        await server.stop()
        throw TestFailure("shardlog serve did not start: \(server.stderrText.suffix(2000))")
    }
    do {
        let result = try await body(port)
        await server.stop()
        return result
    } catch {
        await server.stop()
        throw error
    }
}
