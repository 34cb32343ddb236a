import Foundation
import Synchronization

/// How a child process ended.
enum ChildExit: Sendable, Equatable, CustomStringConvertible {
    /// It exited with this status.
    case exited(Int32)
    /// A signal killed it.
    case signaled(Int32)

    /// Lambda's wording: `exit status 3`, `signal: killed`.
    var description: String {
        switch self {
        case .exited(let status):
            return "exit status \(status)"
        case .signaled(let signal):
            let names: [Int32: String] = [
                SIGKILL: "killed (SIGKILL)", SIGTERM: "terminated (SIGTERM)", SIGSEGV: "segmentation fault (SIGSEGV)",
                SIGABRT: "aborted (SIGABRT)", SIGINT: "interrupt (SIGINT)", SIGBUS: "bus error (SIGBUS)",
                SIGPIPE: "broken pipe (SIGPIPE)", SIGILL: "illegal instruction (SIGILL)",
                SIGFPE: "floating point exception (SIGFPE)", SIGQUIT: "quit (SIGQUIT)", SIGHUP: "hangup (SIGHUP)",
                SIGTRAP: "trace trap (SIGTRAP)", SIGXCPU: "CPU time limit exceeded (SIGXCPU)",
            ]
            return "signal: \(names[signal] ?? "\(signal)")"
        }
    }

    /// Whether `/bin/sh` reported that it could not run the command: status 127 (not found) or 126 (not
    /// executable). A command that itself exits with one of these is indistinguishable, as for any shell.
    var isCommandNotRunnable: Bool {
        self == .exited(126) || self == .exited(127)
    }
}

/// Where a child's output goes. Both closures run on the pipe's reader thread: `receive` once per chunk read, then
/// `finish` once at end of file.
struct OutputSink: Sendable {
    /// Called with each chunk, in order.
    var receive: @Sendable ([UInt8]) -> Void
    /// Called once when the pipe reaches end of file (every writer, including grandchildren, closed it).
    var finish: @Sendable () -> Void = {}
}

/// A child process started as `/bin/sh -c COMMAND`, with its output read on background threads and its exit
/// reported through a ``Completion``: nothing here blocks the cooperative thread pool.
///
/// Foundation's `Process` makes the child the leader of a new process group on Linux, so ``signalGroup(_:)`` reaches
/// the shell and everything it started (a `python3` under `sh -c`, a `curl` under a bash bootstrap). Thread-safe.
final class ChildProcess: Sendable {
    /// The shell's process id (also the process group id when ``isGroupLeader``).
    let pid: Int32
    /// Completes when the shell has exited and been reaped.
    let exit: Completion<ChildExit>
    /// Whether the child leads its own process group.
    let isGroupLeader: Bool
    /// One completion per output pipe, set at end of file.
    private let outputClosed: [Completion<Void>]
    /// Kept so Foundation's bookkeeping lives as long as we do.
    private let process: Process

    private init(process: Process, exit: Completion<ChildExit>, outputClosed: [Completion<Void>]) {
        self.process = process
        self.exit = exit
        self.pid = process.processIdentifier
        self.isGroupLeader = getpgid(process.processIdentifier) == process.processIdentifier
        self.outputClosed = outputClosed
    }

    /// Starts `/bin/sh -c command`.
    /// - Parameters:
    ///   - command: The shell command.
    ///   - directory: The working directory, or `nil` for ours.
    ///   - environment: The complete environment of the child.
    ///   - input: Bytes written to the child's standard input (then closed) on a background thread, or `nil` for
    ///     `/dev/null`.
    ///   - output: Receives standard output.
    ///   - errorOutput: Receives standard error, or `nil` to send it to `output` through the same pipe.
    /// - Returns: The running child.
    /// - Throws: ``MappingError`` (`.notFound`) for a missing working directory; Foundation's error when the shell
    ///   cannot be started (no `/bin/sh`, no more processes).
    static func spawn(
        command: String,
        directory: String?,
        environment: [String: String],
        input: [UInt8]?,
        output: OutputSink,
        errorOutput: OutputSink?
    ) throws -> ChildProcess {
        var isDirectory: ObjCBool = false
        if let directory,
            !FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory)
                || !isDirectory.boolValue
        {
            throw MappingError(
                code: .notFound,
                message: "the handler's working directory \(directory) does not exist or is not a directory"
            )
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        process.environment = environment
        if let directory {
            process.currentDirectoryURL = URL(fileURLWithPath: directory, isDirectory: true)
        }
        let outputPipe = Pipe()
        let errorPipe = errorOutput.map { _ in Pipe() }
        let inputPipe = input.map { _ in Pipe() }
        process.standardOutput = outputPipe
        process.standardError = errorPipe ?? outputPipe
        process.standardInput = inputPipe ?? FileHandle.nullDevice
        let exit = Completion<ChildExit>()
        process.terminationHandler = { finished in
            let status = finished.terminationStatus
            exit.complete(finished.terminationReason == .uncaughtSignal ? .signaled(status) : .exited(status))
        }
        try process.run()

        var closed = [Completion<Void>()]
        startReader(outputPipe.fileHandleForReading, sink: output, closed: closed[0])
        if let errorPipe, let errorOutput {
            closed.append(Completion<Void>())
            startReader(errorPipe.fileHandleForReading, sink: errorOutput, closed: closed[1])
        }
        if let inputPipe, let input {
            startWriter(inputPipe.fileHandleForWriting, bytes: input)
        }
        return ChildProcess(process: process, exit: exit, outputClosed: closed)
    }

    /// Sends `signal` to the child's process group (or to the child alone if it is not a group leader).
    ///
    /// Safe after the shell has exited: members of its group that are still running get the signal; an empty group
    /// is ignored.
    /// - Parameter signal: `SIGTERM`, `SIGKILL`, ….
    func signalGroup(_ signal: Int32) {
        if isGroupLeader {
            _ = kill(-pid, signal)
        } else if exit.value == nil {
            _ = kill(pid, signal)
        }
    }

    /// Stops the child: `SIGTERM` to its group, then `SIGKILL` if it is still running after `grace`.
    /// - Parameter grace: How long to wait for a clean exit.
    /// - Returns: How it ended, or `nil` if even `SIGKILL` did not end it within two seconds.
    @discardableResult
    func stop(grace: Duration) async -> ChildExit? {
        if let status = exit.value {
            signalGroup(SIGKILL)
            return status
        }
        signalGroup(SIGTERM)
        if let status = await exit.wait(until: .now + grace) {
            signalGroup(SIGKILL)
            return status
        }
        signalGroup(SIGKILL)
        return await exit.wait(until: .now + .seconds(2))
    }

    /// Waits until every output pipe has reached end of file, at most until `deadline`.
    /// - Parameter deadline: When to stop waiting.
    /// - Returns: Whether all pipes closed in time.
    @discardableResult
    func waitForOutput(until deadline: ContinuousClock.Instant) async -> Bool {
        for closed in outputClosed where await closed.wait(until: deadline) == nil {
            return false
        }
        return true
    }

    /// Reads `handle` until end of file on a dedicated thread, feeding `sink`.
    private static func startReader(_ handle: FileHandle, sink: OutputSink, closed: Completion<Void>) {
        let thread = Thread {
            let descriptor = handle.fileDescriptor
            var buffer = [UInt8](repeating: 0, count: 64 << 10)
            while true {
                let count = read(descriptor, &buffer, buffer.count)
                if count > 0 {
                    sink.receive(Array(buffer[0..<count]))
                } else if count < 0 && errno == EINTR {
                    continue
                } else {
                    break
                }
            }
            try? handle.close()
            sink.finish()
            closed.complete(())
        }
        thread.name = "shardlog-child-output"
        thread.start()
    }

    /// Writes `bytes` to `handle` and closes it, on a dedicated thread with `SIGPIPE` blocked, so a child that exits
    /// without reading its input makes the write fail with `EPIPE` instead of killing us.
    private static func startWriter(_ handle: FileHandle, bytes: [UInt8]) {
        let thread = Thread {
            var blocked = sigset_t()
            sigemptyset(&blocked)
            sigaddset(&blocked, SIGPIPE)
            pthread_sigmask(SIG_BLOCK, &blocked, nil)
            let descriptor = handle.fileDescriptor
            var offset = 0
            while offset < bytes.count {
                let chunk = Array(bytes[offset..<min(offset + (64 << 10), bytes.count)])
                let written = write(descriptor, chunk, chunk.count)
                if written > 0 {
                    offset += written
                } else if written < 0 && errno == EINTR {
                    continue
                } else {
                    break
                }
            }
            try? handle.close()
        }
        thread.name = "shardlog-child-input"
        thread.start()
    }
}

/// Forwards a child's output to our standard error (through ``StatusConsole/standardError``, so it is printed above
/// a status line, never into it), one whole line at a time with a prefix (`[orders slot 3] `), and keeps the last
/// few KiB for error messages. Thread-safe.
final class OutputForwarder: Sendable {
    private struct State {
        var partialLine: [UInt8] = []
        var tail: [UInt8] = []
        var finished = false
    }

    private let prefix: [UInt8]
    private let tailByteCount: Int
    private let observer: (@Sendable ([UInt8]) -> Void)?
    private let state = Mutex(State())

    /// Creates a forwarder.
    /// - Parameters:
    ///   - prefix: Written before each line.
    ///   - tailByteCount: How much of the most recent output ``tail`` keeps.
    ///   - observer: When set, receives every chunk of output instead of our standard error (a function's log).
    init(prefix: String, tailByteCount: Int = 4 << 10, observer: (@Sendable ([UInt8]) -> Void)? = nil) {
        self.prefix = Array(prefix.utf8)
        self.tailByteCount = tailByteCount
        self.observer = observer
    }

    /// A sink feeding this forwarder.
    var sink: OutputSink {
        OutputSink(receive: { self.receive($0) }, finish: { self.finish() })
    }

    /// The last `lineCount` lines of the output (within the kept bytes), lossily decoded.
    func tail(lines lineCount: Int) -> String {
        tail.split(separator: "\n", omittingEmptySubsequences: false).suffix(lineCount).joined(separator: "\n")
    }

    /// The last output, lossily decoded, without trailing whitespace.
    var tail: String {
        let bytes = state.withLock { $0.tail }
        var text = String(decoding: bytes, as: UTF8.self)
        while let last = text.last, last.isWhitespace {
            text.removeLast()
        }
        return text
    }

    private func receive(_ chunk: [UInt8]) {
        if let observer {
            state.withLock { state in
                state.tail.append(contentsOf: chunk)
                if state.tail.count > tailByteCount {
                    state.tail.removeFirst(state.tail.count - tailByteCount)
                }
            }
            observer(chunk)
            return
        }
        let lines: [UInt8] = state.withLock { state in
            state.tail.append(contentsOf: chunk)
            if state.tail.count > tailByteCount {
                state.tail.removeFirst(state.tail.count - tailByteCount)
            }
            var out: [UInt8] = []
            for byte in chunk {
                state.partialLine.append(byte)
                if byte == UInt8(ascii: "\n") || state.partialLine.count >= 64 << 10 {
                    out.append(contentsOf: prefix)
                    out.append(contentsOf: state.partialLine)
                    if byte != UInt8(ascii: "\n") {
                        out.append(UInt8(ascii: "\n"))
                    }
                    state.partialLine.removeAll(keepingCapacity: true)
                }
            }
            return out
        }
        Self.writeToStandardError(lines)
    }

    /// Waits until the output reached its end (the pipe closed), at most `limit`: a process's last words (a shell's
    /// `command not found`) can arrive just after its exit is seen. A grandchild keeping the pipe open only costs
    /// the limit.
    func waitUntilFinished(atMost limit: Duration) async {
        let deadline = ContinuousClock.now + limit
        while !state.withLock({ $0.finished }), ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(2))
        }
    }

    private func finish() {
        let rest: [UInt8] = state.withLock { state in
            state.finished = true
            guard !state.partialLine.isEmpty else {
                return []
            }
            let line = prefix + state.partialLine + [UInt8(ascii: "\n")]
            state.partialLine = []
            return line
        }
        if observer == nil {
            Self.writeToStandardError(rest)
        }
    }

    /// Writes whole lines to standard error above the status line.
    static func writeToStandardError(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        StatusConsole.standardError.writeLines(bytes)
    }
}

/// Standard error shared by handler output, log lines and a status line redrawn in place.
///
/// On a terminal `shardlog map` shows a status line at the bottom; everything else written through here is printed
/// above it: the line is cleared (`CR`, `ESC [ K`), the lines are written, and the status is drawn again, all in
/// one `write` under one lock, so a handler's line and the status never share a line. The status is drawn with
/// auto-wrap off (`ESC [ ? 7 l`) so a long status is cut at the terminal's edge instead of wrapping, which would
/// leave stale lines behind. Thread-safe: one `Mutex` around each write.
package final class StatusConsole: Sendable {
    /// File descriptor 2.
    package static let standardError = StatusConsole(descriptor: 2)

    private let descriptor: Int32
    private let status = Mutex<[UInt8]?>(nil)
    private static let clearLine = Array("\r\u{1B}[K".utf8)

    private init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    /// Writes `bytes` (whole lines, each ending in a newline) above the status line.
    /// - Parameter bytes: The lines.
    package func writeLines(_ bytes: [UInt8]) {
        status.withLock { status in
            guard let status else {
                writeAll(bytes)
                return
            }
            writeAll(Self.clearLine + bytes + status)
        }
    }

    /// Draws `text` as the status line, replacing the previous one; `nil` removes it.
    /// - Parameter text: One line, without a newline.
    package func setStatus(_ text: String?) {
        status.withLock { status in
            guard let text else {
                if status != nil { writeAll(Self.clearLine) }
                status = nil
                return
            }
            let drawn = Self.clearLine + Array("\u{1B}[?7l".utf8) + Array(text.utf8) + Array("\u{1B}[?7h".utf8)
            status = drawn
            writeAll(drawn)
        }
    }

    /// Writes all of `bytes`, retrying short writes and `EINTR`.
    private func writeAll(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let chunk = offset == 0 ? bytes : Array(bytes[offset...])
            let written = write(descriptor, chunk, chunk.count)
            if written > 0 {
                offset += written
            } else if written < 0 && errno == EINTR {
                continue
            } else {
                return
            }
        }
    }
}
