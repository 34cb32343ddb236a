import Foundation
import ShardLog
import ShardLogServer

/// Runs a `shardlog serve` server in-process on 127.0.0.1, port 0 (the options' host and port are replaced), over
/// `directory` or a fresh temporary data directory removed afterwards, and stops it after `body`.
/// - Parameters:
///   - configured: the server's options (credentials, limits, …).
///   - directory: an existing data directory to serve, kept afterwards.
///   - body: runs with the server's port.
/// - Returns: what `body` returns.
package func withServer<R: Sendable>(
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
    guard port > 0 else {
        await server.shutdown()
        throw ShardLogError(.internal, "the test server did not report a port")
    }
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
