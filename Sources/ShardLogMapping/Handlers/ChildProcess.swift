import Foundation
import ShardLog
import Subprocess
import Synchronization
import SystemPackage

/// How a child process ended.
package enum ChildExit: Sendable, Equatable, CustomStringConvertible {
    /// It exited with this status.
    case exited(Int32)
    /// A signal killed it.
    case signaled(Int32)
    /// Its status could not be collected (the reason): it is gone, but how it ended is unknown.
    case lost(String)

    /// swift-subprocess's status in our terms.
    init(_ status: TerminationStatus) {
        switch status {
        case .exited(let code):
            self = .exited(code)
        case .signaled(let signal):
            self = .signaled(signal)
        }
    }

    /// Lambda's wording: `exit status 3`, `signal: killed`.
    package var description: String {
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
        case .lost(let reason):
            return "unknown status (\(reason))"
        }
    }

    /// Whether `/bin/sh` reported that it could not run the command: status 127 (not found) or 126 (not
    /// executable). A command that itself exits with one of these is indistinguishable, as for any shell.
    var isCommandNotRunnable: Bool {
        self == .exited(126) || self == .exited(127)
    }
}

/// A child process started as `/bin/sh -c COMMAND` through swift-subprocess, as the leader of a new process group,
/// with its output delivered to ``OutputSink``s and its end reported through a ``Completion``.
///
/// swift-subprocess lends its `Execution` (the only handle that may signal the child) to `run`'s closure, for the
/// closure's duration. So one unstructured task per child holds `run` open for the child's whole life: the closure
/// reads the output until the child exits, and ``signalGroup(_:)`` goes through the execution only while the closure
/// runs. When the child has exited but is not yet reaped (so its process id and group id cannot be reused), the
/// closure kills whatever the shell left running in its group, so no handler process outlives its shell. Only then is
/// ``exit`` completed, after every byte the child wrote was delivered: the library stops reading when the child
/// exits (a grandchild may hold the pipes open) but first drains what is buffered, so a shell's last words
/// (`./nosuch.sh: not found`) are never lost.
///
/// Standard input is a pipe of our own, written on a thread with `SIGPIPE` blocked: the library's writer runs on
/// the cooperative pool, where a child that exits without reading its input would kill us with `SIGPIPE` (this
/// process does not ignore it). Nothing here blocks the cooperative pool. Thread-safe.
package final class ChildProcess: Sendable {
    /// The shell's process id, which is also its process group id (the program's, for an ``execCommand(_:_:)``).
    package let pid: Int32
    /// Completes when the shell has exited, its output was delivered and its group's leftovers were killed.
    let exit: Completion<ChildExit>
    private let signaller: Signaller

    private init(pid: Int32, exit: Completion<ChildExit>, signaller: Signaller) {
        self.pid = pid
        self.exit = exit
        self.signaller = signaller
    }

    /// Starts `/bin/sh -c command` in a new process group.
    /// - Parameters:
    ///   - command: The shell command.
    ///   - directory: The working directory, or `nil` for ours.
    ///   - environment: The complete environment of the child.
    ///   - input: Bytes written to the child's standard input (then closed) on a background thread, or `nil` for
    ///     `/dev/null`.
    ///   - output: Receives standard output.
    ///   - errorOutput: Receives standard error, or `nil` to send it to `output` through the same pipe (so the lines
    ///     of both keep their order).
    /// - Returns: The running child.
    /// - Throws: ``MappingError`` (`.notFound`) for a missing working directory; swift-subprocess's
    ///   `SubprocessError` or an `Errno` when the shell cannot be started (no `/bin/sh`, no more processes or
    ///   descriptors).
    package static func spawn(
        command: String,
        directory: String?,
        environment: [String: String],
        input: [UInt8]?,
        output: OutputSink,
        errorOutput: OutputSink?
    ) async throws -> ChildProcess {
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
        var options = PlatformOptions()
        options.processGroupID = 0
        // Only if the holding task were cancelled: SIGTERM to the group, SIGKILL to the group 2 s later.
        options.teardownSequence = [.gracefulShutDown(toProcessGroup: true, allowedDurationToNextStep: .seconds(2))]
        let configuration = Configuration(
            executable: .path("/bin/sh"),
            arguments: ["-c", command],
            environment: .custom(
                environment.reduce(into: [:]) { keys, variable in
                    if let key = Environment.Key(rawValue: variable.key) { keys[key] = variable.value }
                }),
            workingDirectory: directory.map { FilePath($0) },
            platformOptions: options
        )
        let standardInput = try StandardInput(input)
        let exit = Completion<ChildExit>()
        let signaller = Signaller()
        let started = Completion<Result<Int32, any Error>>()
        let streams = Streams(output: output, errorOutput: errorOutput, input: standardInput, signaller: signaller)
        Task {
            do {
                let status = try await streams.run(configuration) { started.complete(.success($0)) }
                exit.complete(ChildExit(status))
            } catch {
                standardInput.abandon()
                if !started.complete(.failure(error)) {
                    exit.complete(.lost("\(error)"))
                }
            }
        }
        // Not cancellable: a child that started must be handed over, or nobody could stop it.
        let outcome = await Task { await started.wait() }.value
        switch outcome {
        case .success(let pid)?:
            return ChildProcess(pid: pid, exit: exit, signaller: signaller)
        case .failure(let error)?:
            throw error
        case nil:
            throw MappingError(code: .cancelled, message: "the handler's process was not started")
        }
    }

    /// Sends `signal` to the child's process group (the shell and everything it started). Nothing once the shell
    /// has exited: its leftovers were killed then.
    /// - Parameter signal: `SIGTERM`, `SIGKILL`, ….
    package func signalGroup(_ signal: Int32) {
        signaller.send(Signal(rawValue: signal))
    }

    /// Stops the child gracefully: `SIGTERM` to its group, then `SIGKILL` to the group if it is still running after
    /// `grace`.
    /// - Parameter grace: How long to wait for a clean exit.
    /// - Returns: How it ended, or `nil` if even `SIGKILL` did not end it within two seconds.
    @discardableResult
    package func stop(grace: Duration) async -> ChildExit? {
        if let status = exit.value {
            return status
        }
        signalGroup(SIGTERM)
        if let status = await exit.wait(until: .now + grace) {
            return status
        }
        signalGroup(SIGKILL)
        return await exit.wait(until: .now + .seconds(2))
    }
}

extension ChildProcess {
    /// How the child ended, or `nil` while it runs.
    package var exitStatus: ChildExit? { exit.value }

    /// Waits until the child has ended and its output was delivered.
    /// - Returns: How it ended, or `nil` if the waiting task was cancelled.
    package func waitForExit() async -> ChildExit? { await exit.wait() }

    /// Waits at most until `deadline` for the child to end.
    /// - Returns: How it ended, or `nil` if it still runs at `deadline` (or the waiting task was cancelled).
    package func waitForExit(until deadline: ContinuousClock.Instant) async -> ChildExit? {
        await exit.wait(until: deadline)
    }

    /// Stops the child as Ctrl-C in a terminal would (`SIGINT` to its group), then, if it is still running after
    /// `grace`, with ``stop(grace:)`` (`SIGTERM`, then `SIGKILL` 2 s later).
    /// - Returns: How it ended, or `nil` if even `SIGKILL` did not end it.
    @discardableResult
    package func interrupt(grace: Duration) async -> ChildExit? {
        if let status = exit.value { return status }
        signalGroup(SIGINT)
        if let status = await exit.wait(until: .now + grace) { return status }
        return await stop(grace: .seconds(2))
    }

    /// `exec 'EXECUTABLE' 'ARGUMENT'…` for ``spawn(command:directory:environment:input:output:errorOutput:)``: the
    /// shell replaces itself with the program, so ``pid`` is the program's, with every word quoted for `/bin/sh`.
    package static func execCommand(_ executable: String, _ arguments: [String]) -> String {
        (["exec", quoted(executable)] + arguments.map(quoted)).joined(separator: " ")
    }

    /// `word` in single quotes for `/bin/sh` (a `'` inside becomes `'\''`).
    private static func quoted(_ word: String) -> String {
        "'" + word.replacing("'", with: #"'\''"#) + "'"
    }
}

/// Sends signals through the running `Execution`; empty outside `run`'s closure. Thread-safe: a signal is sent under
/// the lock, so the closure cannot end (and the child be reaped) while one is on its way.
private final class Signaller: Sendable {
    private let sender = Mutex<(@Sendable (Signal) -> Void)?>(nil)

    func attach(_ send: @escaping @Sendable (Signal) -> Void) {
        sender.withLock { $0 = send }
    }

    func detach() {
        sender.withLock { $0 = nil }
    }

    func send(_ signal: Signal) {
        sender.withLock { $0?(signal) }
    }
}

/// The child's standard input: our own pipe, whose write end a thread with `SIGPIPE` blocked fills and closes, or
/// `/dev/null`.
private final class StandardInput: Sendable {
    /// What the child reads; swift-subprocess closes it after spawning.
    let readEnd: FileDescriptor
    private let writeEnd: FileDescriptor?
    private let bytes: [UInt8]

    init(_ bytes: [UInt8]?) throws {
        self.bytes = bytes ?? []
        guard bytes != nil else {
            readEnd = try FileDescriptor.open("/dev/null", .readOnly, options: .closeOnExec)
            writeEnd = nil
            return
        }
        let (read, write) = try FileDescriptor.pipe()
        // The write end must not leak into other children (they would keep this one's input open).
        _ = fcntl(write.rawValue, F_SETFD, FD_CLOEXEC)
        _ = fcntl(read.rawValue, F_SETFD, FD_CLOEXEC)
        readEnd = read
        writeEnd = write
    }

    /// Writes the bytes and closes the pipe, on a dedicated thread with `SIGPIPE` blocked, so a child that exits
    /// without reading its input makes the write fail with `EPIPE` instead of killing us.
    func startWriting() {
        guard let writeEnd else { return }
        let thread = Thread { [bytes] in
            var blocked = sigset_t()
            sigemptyset(&blocked)
            sigaddset(&blocked, SIGPIPE)
            pthread_sigmask(SIG_BLOCK, &blocked, nil)
            _ = try? writeEnd.writeAll(bytes)
            try? writeEnd.close()
        }
        thread.name = "shardlog-child-input"
        thread.start()
    }

    /// Closes the write end when the child never started.
    func abandon() {
        try? writeEnd?.close()
    }
}

/// Runs `/bin/sh` through swift-subprocess and serves its streams for its whole life.
private struct Streams: Sendable {
    var output: OutputSink
    var errorOutput: OutputSink?
    var input: StandardInput
    var signaller: Signaller

    /// Runs the child; `started` gets its process id once it runs.
    /// - Returns: Its termination status, once it is reaped.
    func run(_ configuration: Configuration, started: @escaping @Sendable (Int32) -> Void) async throws
        -> TerminationStatus
    {
        let stdin: FileDescriptorInput = .fileDescriptor(input.readEnd, closeAfterSpawningProcess: true)
        if let errorOutput {
            return try await Subprocess.run(configuration, input: stdin, output: .sequence, error: .sequence) {
                execution in
                await serve(
                    execution.processIdentifier.value, started: started,
                    send: { try? execution.send(signal: $0, toProcessGroup: true) },
                    reading: [(execution.standardOutput, output), (execution.standardError, errorOutput)])
            }.terminationStatus
        }
        return try await Subprocess.run(
            configuration, input: stdin, output: .sequence, error: .combinedWithOutput
        ) { execution in
            await serve(
                execution.processIdentifier.value, started: started,
                send: { try? execution.send(signal: $0, toProcessGroup: true) },
                reading: [(execution.standardOutput, output)])
        }.terminationStatus
    }

    /// The body of `run`: reads the output until the child has exited, then kills its group's leftovers while the
    /// child is not yet reaped.
    private func serve(
        _ pid: Int32,
        started: @Sendable (Int32) -> Void,
        send: @escaping @Sendable (Signal) -> Void,
        reading streams: [(SubprocessOutputSequence, OutputSink)]
    ) async {
        signaller.attach(send)
        started(pid)
        input.startWriting()
        await withTaskGroup(of: Void.self) { group in
            for (sequence, sink) in streams {
                group.addTask {
                    do {
                        for try await chunk in sequence {
                            sink.receive([UInt8](Data(buffer: chunk)))
                        }
                    } catch {
                        // A read error ends this stream; the child's status still tells how it ended.
                    }
                    sink.finish()
                }
            }
        }
        // The output ends when the child exits (end of file can come a moment before the exit is visible), or
        // earlier if it closed its output (a runtime started with `>/dev/null 2>&1`): wait here, checking at growing
        // intervals up to 100 ms, so the execution stays valid for signals until the child is gone.
        var pause = Duration.milliseconds(1)
        while !ChildStatus.hasEnded(pid) {
            try? await Task.sleep(for: pause)
            pause = min(pause * 2, .milliseconds(100))
        }
        signaller.detach()
        send(.kill)
    }
}

/// Short commands whose output we need (a tool's version), run through swift-subprocess.
package enum Command {
    /// Runs `executable` (a path, or a name looked up on `PATH`) with `arguments` to its end.
    /// - Parameters:
    ///   - executable: The program.
    ///   - arguments: Its arguments.
    /// - Returns: Its standard output without surrounding whitespace, or `nil` if it could not start, did not exit
    ///   with status 0, printed nothing or more than 64 KiB.
    /// What ``run(_:_:directory:)`` collected.
    package struct Result: Sendable {
        /// How the program ended.
        package var status: ChildExit
        /// Its standard output (at most 64 MiB).
        package var output: [UInt8]
        /// Its standard error, lossily decoded (at most 1 MiB).
        package var errorOutput: String
    }

    /// Runs `executable` (a path, or a name looked up on `PATH`) with `arguments` to its end, in `directory`.
    /// - Returns: Its status and output.
    /// - Throws: swift-subprocess's `SubprocessError` when it cannot be started or writes more than the limits.
    package static func run(_ executable: String, _ arguments: [String], directory: String? = nil) async throws
        -> Result
    {
        let result = try await Subprocess.run(
            executable.contains("/") ? .path(FilePath(executable)) : .name(executable),
            arguments: Arguments(arguments),
            workingDirectory: directory.map { FilePath($0) },
            output: .bytes(limit: 64 << 20),
            error: .string(limit: 1 << 20)
        )
        return Result(
            status: ChildExit(result.terminationStatus), output: result.standardOutput,
            errorOutput: result.standardError)
    }

    package static func output(_ executable: String, _ arguments: [String]) async -> String? {
        let result = try? await Subprocess.run(
            executable.contains("/") ? .path(FilePath(executable)) : .name(executable),
            arguments: Arguments(arguments),
            output: .string(limit: 64 << 10),
            error: .discarded
        )
        guard let result, result.terminationStatus == .exited(0) else {
            return nil
        }
        let trimmed = result.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.isEmpty ? nil : trimmed
    }
}
