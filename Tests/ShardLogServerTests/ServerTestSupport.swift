import Foundation
import ShardLog
import ShardLogTestSupport
import Testing

@testable import ShardLogServer

/// The result of a child process.
struct ProcessOutput: Sendable {
    var status: Int32
    var output: String
}

/// Runs a command found on PATH (through `/usr/bin/env`) with `environment` added to ours, through the shared
/// ``ShardLogTestSupport/runProcess(_:_:input:environment:directory:timeout:)``; `output` is its standard output
/// followed by its standard error.
/// - Throws: ``TestFailure`` when it does not exit within `timeout` (its process group is torn down).
func runProcess(_ arguments: [String], environment: [String: String], timeout: Duration) async throws
    -> ProcessOutput
{
    let result = try await ShardLogTestSupport.runProcess(
        "/usr/bin/env", arguments,
        environment: ProcessInfo.processInfo.environment.merging(environment) { _, new in new }, timeout: timeout)
    return ProcessOutput(status: result.status, output: result.stdout + result.stderr)
}

/// The path of a script in `Tests/ShardLogServerTests/Python/`.
func pythonScriptPath(_ name: String) -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Python/" + name).path
}
