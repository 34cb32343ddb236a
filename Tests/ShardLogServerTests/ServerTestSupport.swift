import Foundation
import ShardLog
import Testing

@testable import ShardLogServer

/// Runs a server on 127.0.0.1, port 0, over a fresh temporary data directory, and stops it afterwards.
func withServer<R: Sendable>(
    _ configured: KinesisServerOptions = KinesisServerOptions(),
    directory given: String? = nil,
    _ body: @Sendable (Int) async throws -> R
) async throws -> R {
    let directory =
        given
        ?? FileManager.default.temporaryDirectory.appendingPathComponent("shardlog-server-\(UUID().uuidString)").path
    defer { if given == nil { try? FileManager.default.removeItem(atPath: directory) } }
    var options = configured
    options.host = "127.0.0.1"
    options.port = 0
    let server = KinesisServer(store: try Store(directory: directory), options: options)
    let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
    let running = Task {
        try await server.run(handleSignals: false) { _, port in continuation.yield(port) }
    }
    var port = 0
    for await p in ports {
        port = p
        break
    }
    #expect(port > 0)
    do {
        let result = try await body(port)
        await server.shutdown()
        try await running.value
        return result
    } catch {
        await server.shutdown()
        _ = try? await running.value
        throw error
    }
}

/// The result of a child process.
struct ProcessOutput: Sendable {
    var status: Int32
    var output: String
}

/// Runs a command with its output (stdout and stderr) collected in a temporary file; kills it after `timeout`.
func runProcess(_ arguments: [String], environment: [String: String], timeout: Duration) async throws
    -> ProcessOutput
{
    let outputPath = FileManager.default.temporaryDirectory
        .appendingPathComponent("shardlog-test-\(UUID().uuidString).log").path
    _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
    defer { try? FileManager.default.removeItem(atPath: outputPath) }
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
    process.standardOutput = handle
    process.standardError = handle
    let status: Int32 = try await withCheckedThrowingContinuation { continuation in
        process.terminationHandler = { p in continuation.resume(returning: p.terminationStatus) }
        do {
            try process.run()
        } catch {
            continuation.resume(throwing: error)
        }
        let pid = process.processIdentifier
        Task.detached {
            try? await Task.sleep(for: timeout)
            if process.isRunning, process.processIdentifier == pid { process.terminate() }
        }
    }
    try handle.close()
    let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
    return ProcessOutput(status: status, output: output)
}

/// The path of a script in `Tests/ShardLogServerTests/Python/`.
func pythonScriptPath(_ name: String) -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Python/" + name).path
}
