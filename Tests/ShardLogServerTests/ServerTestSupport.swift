import Foundation
import ShardLog
import Testing

@testable import ShardLogServer

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
