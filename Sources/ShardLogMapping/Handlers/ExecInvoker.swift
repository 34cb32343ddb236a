import Foundation
import Logging
import ShardLog
import ShardLogWire
import Synchronization

/// Runs one process per batch: `/bin/sh -c COMMAND` (the `exec:COMMAND` handler kind), for shell scripts.
///
/// - Standard input: the Lambda Kinesis event JSON, then end of file.
/// - Standard output: the response JSON (optional; empty means success), at most 6 MB as in Lambda.
/// - Standard error: passed through to ours, each line prefixed with `[<function> slot <n>] `.
/// - Exit status 0 is success. Status 127 or 126 from the shell (command not found, not executable) means the
///   handler could not start: an invocation error (`.serviceError("handler could not start: …")`), which the
///   mapping retries with a back-off without spending a retry attempt. Any other status is a function error of
///   type `ExecError` whose message is the last 20 lines (at most 4 KiB) of the handler's standard error and its
///   exit status; a handler killed by a signal is `Runtime.ExitError` with the signal's name.
/// - At the deadline the process group is killed (`SIGKILL`) and the outcome is `.timedOut`.
/// - Environment: ours, plus `AWS_LAMBDA_FUNCTION_NAME`, `SHARDLOG_REQUEST_ID`, `SHARDLOG_SHARD_ID`,
///   `SHARDLOG_STREAM_NAME` and `SHARDLOG_DEADLINE_MS` (epoch milliseconds).
///
/// The shell leads its own process group (swift-subprocess, through ``ChildProcess``); after it exits, whatever it
/// left running in its group is killed, so no handler process outlives its invocation, and its exit is reported only
/// once its standard error was read to the end, so the tail in an error message has its last line. Waiting never
/// blocks the cooperative pool. Thread-safe; any number of invocations may run at once.
public struct ExecInvoker: Invoker {
    /// The shell command.
    public let command: String
    /// The working directory, or `nil` for ours.
    public let directory: String?
    /// The function name exported as `AWS_LAMBDA_FUNCTION_NAME`.
    public let functionName: String
    /// Where invocation problems are logged.
    public let logger: Logger

    /// Lambda's limit on a synchronous response.
    static let maximumResponseByteCount = 6 * 1024 * 1024

    /// Creates an invoker.
    /// - Parameters:
    ///   - command: The command, run by `/bin/sh -c`.
    ///   - directory: The working directory, or `nil` for ours.
    ///   - functionName: The function name exported to the command.
    ///   - logger: Where invocation problems are logged.
    public init(command: String, directory: String?, functionName: String, logger: Logger) {
        self.command = command
        self.directory = directory
        self.functionName = functionName
        self.logger = logger
    }

    /// Runs the command on `batch`.
    /// - Parameter batch: The batch.
    /// - Returns: `.response` with standard output on exit 0; `.functionError(type: "ExecError", …)` on another
    ///   status; `.timedOut` at the deadline; `.serviceError` if the shell could not be started or the invoking task
    ///   was cancelled.
    public func invoke(_ batch: InvocationBatch) async -> InvocationOutcome {
        var environment = ProcessInfo.processInfo.environment
        environment["AWS_LAMBDA_FUNCTION_NAME"] = functionName
        environment["SHARDLOG_REQUEST_ID"] = batch.requestId
        environment["SHARDLOG_SHARD_ID"] = batch.shardId
        environment["SHARDLOG_STREAM_NAME"] = batch.streamName
        environment["SHARDLOG_DEADLINE_MS"] = String(JSONTimestamp.epochMilliseconds(batch.deadline))
        let response = ResponseCollector(limit: Self.maximumResponseByteCount)
        let errors = OutputForwarder(prefix: "[\(functionName) slot \(batch.slot)] ")
        let child: ChildProcess
        do {
            child = try await ChildProcess.spawn(
                command: command,
                directory: directory,
                environment: environment,
                input: batch.eventBytes,
                output: response.sink,
                errorOutput: errors.sink
            )
        } catch {
            logger.debug(
                "cannot start exec handler",
                metadata: ["handler.command": .string(command), "error": .string("\(error)")]
            )
            return .serviceError(
                "handler could not start: `/bin/sh -c \(command)`" + (directory.map { " in \($0)" } ?? "")
                    + ": \(error)"
            )
        }
        guard let exit = await child.exit.wait(until: HandlerClock.instant(for: batch.deadline)) else {
            let cancelled = Task.isCancelled
            child.signalGroup(SIGKILL)
            await child.exit.wait(until: .now + .seconds(2))
            if cancelled {
                return .serviceError("the invocation was cancelled; the exec handler was killed")
            }
            logger.debug(
                "exec handler timed out; killed its process group",
                metadata: ["handler.command": .string(command), "request.id": .string(batch.requestId)]
            )
            return .timedOut
        }
        guard exit == .exited(0) else {
            let tail = errors.tail(lines: 20)
            if exit.isCommandNotRunnable {
                return .serviceError(
                    "handler could not start: `\(command)`" + (directory.map { " in \($0)" } ?? "")
                        + " exited with \(exit) (\(exit == .exited(127) ? "command not found" : "not executable"))"
                        + (tail.isEmpty ? "" : ": \(tail)"))
            }
            if case .signaled = exit {
                return .functionError(
                    type: "Runtime.ExitError",
                    message: "the exec handler was killed by \(exit)"
                        + (tail.isEmpty ? "" : "; standard error: \(tail)"))
            }
            return .functionError(type: "ExecError", message: tail.isEmpty ? "\(exit)" : "\(tail)\n(\(exit))")
        }
        guard let bytes = response.bytes else {
            return .functionError(
                type: "Function.ResponseSizeTooLarge",
                message: "Response payload size exceeded maximum allowed payload size "
                    + "(\(Self.maximumResponseByteCount) bytes)."
            )
        }
        return .response(bytes)
    }

    /// Nothing to stop: every process ends with its invocation.
    public func shutdown() async {}
}

/// Collects a child's standard output up to a limit. Thread-safe.
final class ResponseCollector: Sendable {
    private struct State {
        var bytes: [UInt8] = []
        var overflowed = false
    }

    private let limit: Int
    private let state = Mutex(State())

    /// Creates a collector keeping at most `limit` bytes.
    init(limit: Int) {
        self.limit = limit
    }

    /// A sink feeding this collector.
    var sink: OutputSink {
        OutputSink(receive: { self.receive($0) })
    }

    /// Everything collected, or `nil` if the output was larger than the limit.
    var bytes: [UInt8]? {
        state.withLock { $0.overflowed ? nil : $0.bytes }
    }

    private func receive(_ chunk: [UInt8]) {
        state.withLock { state in
            guard !state.overflowed else {
                return
            }
            if state.bytes.count + chunk.count > limit {
                state.overflowed = true
                state.bytes = []
            } else {
                state.bytes.append(contentsOf: chunk)
            }
        }
    }
}
