import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// The baseline of `bench runtime-api`: a bare Lambda Runtime API that hands one fixed event to every
/// `GET …/invocation/next` and counts `POST …/invocation/{id}/response`, and nothing else (no stream, no mapping, no
/// batching, no checkpoints). One NIO HTTP/1.1 server on `127.0.0.1`, shared by every handler process (each gets the
/// same event, so routing does not matter). Thread-safe: the counters are atomics.
final class BareRuntimeAPIServer: Sendable {
    /// The bound port.
    let port: Int
    private let channel: any Channel
    private let counters: Counters

    /// What the handlers did so far.
    final class Counters: Sendable {
        let responses = Atomic<Int>(0)
        let errors = Atomic<Int>(0)
        let requestIds = Atomic<Int>(0)
    }

    /// Responses posted so far.
    var responseCount: Int { counters.responses.load(ordering: .relaxed) }
    /// Errors (`/error`, `/init/error`) posted so far.
    var errorCount: Int { counters.errors.load(ordering: .relaxed) }

    private init(port: Int, channel: any Channel, counters: Counters) {
        self.port = port
        self.channel = channel
        self.counters = counters
    }

    /// Starts the server on an ephemeral loopback port, serving `event` to every `/next`.
    /// - Parameters:
    ///   - event: The event body.
    ///   - functionARN: The `Lambda-Runtime-Invoked-Function-Arn` header.
    /// - Returns: The running server.
    /// - Throws: NIO's errors when it cannot bind.
    static func start(event: [UInt8], functionARN: String) async throws -> BareRuntimeAPIServer {
        let counters = Counters()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(
                        BareRuntimeAPIHandler(event: event, functionARN: functionARN, counters: counters))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        guard let port = channel.localAddress?.port else {
            try? await channel.close()
            throw BenchError("runtime-api: the bare Runtime API server has no port")
        }
        return BareRuntimeAPIServer(port: port, channel: channel, counters: counters)
    }

    /// Closes the listening socket (connections close when their processes exit).
    func stop() async {
        try? await channel.close()
    }
}

/// One connection of the bare server: `/next` → 200 with the event, `/response` → 202 and a count.
private final class BareRuntimeAPIHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let event: ByteBuffer
    private let functionARN: String
    private let counters: BareRuntimeAPIServer.Counters
    private let accepted = ByteBuffer(string: #"{"status":"OK"}"#)
    private var head: HTTPRequestHead?

    init(event: [UInt8], functionARN: String, counters: BareRuntimeAPIServer.Counters) {
        self.event = ByteBuffer(bytes: event)
        self.functionARN = functionARN
        self.counters = counters
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let request):
            head = request
        case .body:
            break
        case .end:
            guard let request = head else { return }
            head = nil
            respond(to: request, context: context)
        }
    }

    private func respond(to request: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = request.uri
        if request.method == .GET && path.hasSuffix("/invocation/next") {
            let id = counters.requestIds.wrappingAdd(1, ordering: .relaxed).newValue
            let deadline = Int64(Date().timeIntervalSince1970 * 1000) + 60_000
            write(
                .ok,
                headers: [
                    ("Lambda-Runtime-Aws-Request-Id", "bare-\(id)"),
                    ("Lambda-Runtime-Deadline-Ms", String(deadline)),
                    ("Lambda-Runtime-Invoked-Function-Arn", functionARN),
                    ("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0"),
                ], body: event, keepAlive: request.isKeepAlive, context: context)
        } else if request.method == .POST && path.hasSuffix("/response") {
            counters.responses.wrappingAdd(1, ordering: .relaxed)
            write(.accepted, body: accepted, keepAlive: request.isKeepAlive, context: context)
        } else if request.method == .POST && path.hasSuffix("/error") {
            counters.errors.wrappingAdd(1, ordering: .relaxed)
            write(.accepted, body: accepted, keepAlive: request.isKeepAlive, context: context)
        } else {
            write(.notFound, body: ByteBuffer(), keepAlive: request.isKeepAlive, context: context)
        }
    }

    private func write(
        _ status: HTTPResponseStatus, headers extra: [(String, String)] = [], body: ByteBuffer, keepAlive: Bool,
        context: ChannelHandlerContext
    ) {
        var headers = HTTPHeaders([
            ("Content-Type", "application/json"), ("Content-Length", String(body.readableBytes)),
        ])
        headers.add(contentsOf: extra)
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))),
            promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        if keepAlive {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            let closing = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
                closing.value.close(promise: nil)
            }
        }
    }
}

/// Handler processes for the bare loop: `/bin/sh -c COMMAND` with the environment the mapping gives its runtime
/// processes, pointed at the bare server.
struct BareRuntimeProcesses {
    private var processes: [Process] = []

    /// Starts `count` processes.
    /// - Throws: When a process cannot start.
    init(count: Int, command: String, directory: String, environment: [String: String]) throws {
        for _ in 0..<count {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", command]
            process.currentDirectoryURL = URL(fileURLWithPath: directory)
            process.environment = environment
            process.standardInput = FileHandle.nullDevice
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            do {
                try process.run()
            } catch {
                stop()
                throw BenchError("runtime-api: cannot start the bare loop's handler `\(command)`: \(error)")
            }
            processes.append(process)
        }
    }

    /// Processes that exited already.
    var exited: Int { processes.filter { !$0.isRunning }.count }

    /// Stops every process (`SIGTERM`, then `SIGKILL` after 2 s).
    func stop() {
        for process in processes where process.isRunning { process.terminate() }
        let deadline = Date().addingTimeInterval(2)
        while processes.contains(where: \.isRunning) && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        for process in processes where process.isRunning { kill(process.processIdentifier, SIGKILL) }
        for process in processes { process.waitUntilExit() }
    }
}
