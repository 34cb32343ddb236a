import Foundation
import ShardLog
import Subprocess
import SystemPackage

/// Runs `body` with a fresh, unique temporary directory that is removed afterwards.
public func withTemporaryDirectory<R>(
    _ body: (String) async throws -> R
) async throws -> R {
    let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("shardlog-test-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try await body(path)
}

/// The repository root, found from this file's path. Using it (or ``runProcess(_:_:input:environment:directory:timeout:)``)
/// also puts the project's `.venv/bin` first on this process's PATH (see ``projectPython``).
public let repositoryRoot: String = {
    _ = projectPython
    return sourceRoot
}()

private let sourceRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()

/// The Python for tests and the handlers they start: the project's `.venv/bin/python3` (made by `make deps`, with
/// boto3, awslambdaric, moto, …), else `python3` from PATH. When the venv exists, its `bin` is put first on this
/// process's PATH once, so `python3`, `aws` and handler commands such as `python3 -m awslambdaric …` started by
/// tests (directly, through `/usr/bin/env` or `sh -c`) run in it, as they do under `make test`.
public let projectPython: String = {
    let bin = sourceRoot + "/.venv/bin"
    guard FileManager.default.isExecutableFile(atPath: bin + "/python3") else { return "python3" }
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
    if path.split(separator: ":").first.map(String.init) != bin {
        setenv("PATH", bin + ":" + path, 1)
        setenv("VIRTUAL_ENV", sourceRoot + "/.venv", 1)
    }
    return bin + "/python3"
}()

/// `Fixtures/<relative>` in the repository.
public func fixturePath(_ relative: String) -> String {
    repositoryRoot + "/Fixtures/" + relative
}

/// The built `shardlog` binary (next to the test bundle).
public var shardlogBinary: String {
    let candidates = [
        Bundle.main.bundleURL.appendingPathComponent("shardlog").path,
        Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("shardlog").path,
        repositoryRoot + "/.build/debug/shardlog",
    ]
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[2]
}

/// The result of a finished child process.
public struct ProcessResult: Sendable {
    /// Exit status (or 128 + signal).
    public var status: Int32
    /// Everything written to standard output.
    public var stdout: String
    /// Everything written to standard error.
    public var stderr: String
}

/// Runs `executable` with `arguments`, feeding `input` on stdin, and waits (at most `timeout`) for it to exit.
///
/// The process leads its own process group (through swift-subprocess); past `timeout` the group gets `SIGTERM`, then
/// `SIGKILL` a second later, and ``TestFailure`` is thrown. Both outputs are read to their end (or until the process
/// exits, if a grandchild keeps them open).
public func runProcess(
    _ executable: String, _ arguments: [String], input: Data = Data(), environment: [String: String]? = nil,
    directory: String? = nil, timeout: Duration = .seconds(60)
) async throws -> ProcessResult {
    _ = projectPython
    // A child that exits early (as `put` does on a bad line) closes its stdin: get EPIPE, not SIGPIPE.
    signal(SIGPIPE, SIG_IGN)
    let configuration = Configuration(
        executable: executable.contains("/") ? .path(FilePath(executable)) : .name(executable),
        arguments: Arguments(arguments),
        environment: environment.map { variables in
            .custom(
                variables.reduce(into: [:]) { keys, variable in
                    if let key = Environment.Key(rawValue: variable.key) { keys[key] = variable.value }
                })
        } ?? .inherit,
        workingDirectory: directory.map { FilePath($0) },
        platformOptions: processGroupOptions
    )
    let bytes = [UInt8](input)
    let running = Task {
        try await Subprocess.run(configuration, input: .array(bytes), output: .sequence, error: .sequence) {
            execution in
            async let stdout = collect(execution.standardOutput)
            async let stderr = collect(execution.standardError)
            return await (stdout, stderr)
        }
    }
    let timer = Task { () -> Bool in
        guard (try? await Task.sleep(for: timeout)) != nil else { return false }
        running.cancel()  // swift-subprocess tears the process group down
        return true
    }
    let outcome = await running.result
    timer.cancel()
    if await timer.value {
        throw TestFailure("\(executable) \(arguments.joined(separator: " ")) did not exit within \(timeout)")
    }
    let result = try outcome.get()
    let status: Int32
    switch result.terminationStatus {
    case .exited(let code): status = code
    case .signaled(let signal): status = 128 + signal
    }
    return ProcessResult(
        status: status, stdout: String(decoding: result.closureResult.0, as: UTF8.self),
        stderr: String(decoding: result.closureResult.1, as: UTF8.self))
}

/// Platform options for a child of a test: it leads a new process group, and teardown (on cancellation) sends
/// `SIGTERM` to the group, then `SIGKILL` a second later.
package let processGroupOptions: PlatformOptions = {
    var options = PlatformOptions()
    options.processGroupID = 0
    options.teardownSequence = [.gracefulShutDown(toProcessGroup: true, allowedDurationToNextStep: .seconds(1))]
    return options
}()

/// Every byte of `output`, until its end (or the process's exit).
private func collect(_ output: SubprocessOutputSequence) async -> [UInt8] {
    var bytes: [UInt8] = []
    do {
        for try await chunk in output {
            bytes.append(contentsOf: Data(buffer: chunk))
        }
    } catch {
        // A read error ends the output; the caller still gets the exit status and what was read.
    }
    return bytes
}

/// Runs the built `shardlog` with `arguments`.
public func runShardlog(
    _ arguments: [String], input: Data = Data(), timeout: Duration = .seconds(60)
) async throws -> ProcessResult {
    try await runProcess(shardlogBinary, arguments, input: input, timeout: timeout)
}

/// A thread-safe byte accumulator for pipe handlers.
public final class DataBox: @unchecked Sendable {
    // @unchecked: every access goes through `lock`.
    private let lock = NSLock()
    private var storage = Data()

    /// Creates an empty box.
    public init() {}

    /// Appends bytes.
    public func append(_ d: Data) {
        lock.lock()
        storage.append(d)
        lock.unlock()
    }

    /// The bytes so far.
    public var data: Data {
        lock.lock()
        defer { lock.unlock() }
        return storage
    }
}

/// A test failure with a message.
public struct TestFailure: Error, CustomStringConvertible {
    /// What failed.
    public var description: String
    /// Creates a failure.
    public init(_ description: String) { self.description = description }
}

/// Raw segment-file surgery for recovery tests: what a crash or power loss leaves behind.
public enum SegmentSurgery {
    /// Byte offsets of header words (see `SegmentHeader`).
    public static let committedEnd = 64
    /// Offset of the writer-state word.
    public static let writerState = 96
    /// Offset of the segment-state word (0 open, 1 sealed, 2 closed).
    public static let segmentState = 104
    /// Offset of the boot-identity word.
    public static let bootIdentity = 112
    /// First batch position.
    public static let firstBatch = 4096

    /// Reads the little-endian 8-byte word at `offset`.
    public static func word(_ path: String, _ offset: Int) throws -> Int64 {
        let h = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        defer { try? h.close() }
        try h.seek(toOffset: UInt64(offset))
        let d = h.readData(ofLength: 8)
        return d.enumerated().reduce(Int64(0)) { $0 | Int64($1.element) << (8 * $1.offset) }
    }

    /// Writes `bytes` at `offset` of the file.
    public static func write(_ path: String, _ offset: Int, _ bytes: [UInt8]) throws {
        let h = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        defer { try? h.close() }
        try h.seek(toOffset: UInt64(offset))
        h.write(Data(bytes))
    }

    /// Writes a little-endian 8-byte word at `offset`.
    public static func setWord(_ path: String, _ offset: Int, _ value: Int64) throws {
        try write(path, offset, (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) })
    }

    /// Makes the segment look like the machine rebooted after its last write (page cache lost).
    public static func simulateReboot(_ path: String) throws {
        try setWord(path, bootIdentity, 0x5eed_5eed)
    }

    /// Truncates the file to `length` bytes.
    public static func truncate(_ path: String, to length: Int) throws {
        let h = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        defer { try? h.close() }
        try h.truncate(atOffset: UInt64(length))
    }

    /// The segment files of a shard, sorted.
    public static func segments(_ dataDir: String, stream: String, shard: String) throws -> [String] {
        let dir = "\(dataDir)/streams/\(stream)/\(shard)"
        return try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".seg") }.sorted()
            .map { dir + "/" + $0 }
    }

    /// The byte positions of the batches in a segment, walking length words from the first batch.
    public static func batchPositions(_ path: String) throws -> [Int] {
        let end = Int(try word(path, committedEnd))
        let h = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        defer { try? h.close() }
        var pos = firstBatch
        var out: [Int] = []
        while pos < end {
            out.append(pos)
            try h.seek(toOffset: UInt64(pos))
            let d = [UInt8](h.readData(ofLength: 4))
            let length = Int(d[0]) | Int(d[1]) << 8 | Int(d[2]) << 16 | Int(d[3]) << 24
            pos += length
        }
        return out
    }
}
