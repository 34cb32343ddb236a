import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import ShardLogWire
import Synchronization

/// The Lambda Runtime API endpoint of one slot: an HTTP/1.1 server on `127.0.0.1`, ephemeral port.
///
/// Routes (all under `/2018-06-01/runtime`):
/// - `GET /invocation/next`: long-polls for the slot's next event; 200 with the event and the `Lambda-Runtime-*`
///   headers and `Content-Type: application/json` (awslambdaric hangs without it).
/// - `POST /invocation/{id}/response`: 202 at once (old aws-lambda-cpp clients give up after 100 ms); 400 for an
///   unknown id; 413 above 6 MB (the invocation then fails with `Function.ResponseSizeTooLarge`).
/// - `POST /invocation/{id}/error`: 202; a function error.
/// - `POST /init/error`: 202; the runtime failed to initialise.
///
/// A bare NIO channel handler, not a router: every request is answered on the slot's event loop (``RuntimeSlot/
/// eventLoop``) without leaving it; a `/next` that finds the event waiting is answered at once, one that waits leaves
/// a callback that writes from the loop (a router with async handlers added two thread hops and its routing to
/// every request, and a task per `/next` two more, which showed in the invocation rate of `bench runtime-api`).
///
/// TCP_NODELAY is set on accepted sockets, so the separately written head and body of a `/next` reply are not held
/// back by Nagle's algorithm (without it, awslambdaric manages about 11 invocations a second).
struct RuntimeAPIListener: Sendable {
    /// The bound port.
    let port: Int
    private let channel: any Channel
    private let connections: Connections

    private static let maximumResponseByteCount = ExecInvoker.maximumResponseByteCount

    /// The open connections, so that ``stop()`` can close them.
    final class Connections: Sendable {
        private let open = Mutex<[ObjectIdentifier: any Channel]>([:])

        func add(_ channel: any Channel) {
            open.withLock { $0[ObjectIdentifier(channel)] = channel }
            channel.closeFuture.whenComplete { [self] _ in
                _ = open.withLock { $0.removeValue(forKey: ObjectIdentifier(channel)) }
            }
        }

        func all() -> [any Channel] {
            open.withLock { Array($0.values) }
        }
    }

    /// Starts a listener serving `slot`.
    /// - Parameters:
    ///   - slot: The slot whose routes it serves.
    ///   - logger: The slot's logger (the server logs at `warning` and above only).
    /// - Returns: The running listener.
    /// - Throws: ``MappingError`` (`.io`) when the server cannot bind.
    static func start(slot: RuntimeSlot, logger: Logger) async throws -> RuntimeAPIListener {
        var serverLogger = logger
        if serverLogger.logLevel < .warning {
            serverLogger.logLevel = .warning
        }
        let connections = Connections()
        let quietLogger = serverLogger
        do {
            let channel = try await ServerBootstrap(group: slot.eventLoop)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { channel in
                    connections.add(channel)
                    return channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                        try channel.pipeline.syncOperations.addHandler(
                            RuntimeAPIChannelHandler(slot: slot, logger: quietLogger))
                    }
                }
                .bind(host: "127.0.0.1", port: 0).get()
            guard let port = channel.localAddress?.port else {
                try? await channel.close()
                throw MappingError(code: .io, message: "the Runtime API listener of slot \(slot.index) has no port")
            }
            return RuntimeAPIListener(port: port, channel: channel, connections: connections)
        } catch let error as MappingError {
            throw error
        } catch {
            throw MappingError(
                code: .io,
                message: "cannot listen on 127.0.0.1 for the Runtime API of slot \(slot.index): \(error); "
                    + "check that the loopback interface is up"
            )
        }
    }

    /// Stops accepting, then closes the open connections (their processes were stopped first; a pending long poll
    /// was answered when the slot shut down).
    func stop() async {
        try? await channel.close()
        for connection in connections.all() {
            try? await connection.close()
        }
    }

    /// The reply to a post.
    static func reply(_ reply: RuntimeReply) -> (HTTPResponseStatus, [UInt8]) {
        switch reply {
        case .accepted:
            return (.accepted, Array(#"{"status":"OK"}"#.utf8))
        case .invalidRequestId:
            return errorBody(
                .badRequest,
                type: "InvalidRequestID",
                message: "the request id is not the invocation in progress on this runtime"
            )
        }
    }

    /// An error reply: `{"errorMessage": …, "errorType": …}`.
    static func errorBody(_ status: HTTPResponseStatus, type: String, message: String) -> (HTTPResponseStatus, [UInt8])
    {
        var body = Array(#"{"errorMessage":"#.utf8)
        body.appendJSONString(message)
        body.append(contentsOf: #","errorType":"#.utf8)
        body.appendJSONString(type)
        body.append(UInt8(ascii: "}"))
        return (status, body)
    }

    /// The route of a request: the part of its path after `/2018-06-01/runtime/`.
    enum Route: Equatable {
        /// `GET invocation/next`.
        case next
        /// `POST invocation/{id}/response`.
        case response(requestId: String)
        /// `POST invocation/{id}/error`.
        case error(requestId: String)
        /// `POST init/error`.
        case initError
        /// Anything else (404).
        case unknown

        /// The route of `method` (`GET`, `POST`) on `uri`. Compares UTF-8 slices of the path, without splitting it
        /// or walking its characters (every invocation parses two requests).
        init(method: String, uri: String) {
            let bytes = uri.utf8
            let path = bytes[..<(bytes.firstIndex(of: UInt8(ascii: "?")) ?? bytes.endIndex)]
            let prefix = "/2018-06-01/runtime/".utf8
            guard path.starts(with: prefix) else {
                self = .unknown
                return
            }
            let rest = path.dropFirst(prefix.count)
            switch method {
            case "GET" where rest.elementsEqual("invocation/next".utf8):
                self = .next
            case "POST" where rest.elementsEqual("init/error".utf8):
                self = .initError
            case "POST" where rest.starts(with: "invocation/".utf8):
                let tail = rest.dropFirst("invocation/".utf8.count)
                if let id = Self.requestId(tail, before: "/response") {
                    self = .response(requestId: id)
                } else if let id = Self.requestId(tail, before: "/error") {
                    self = .error(requestId: id)
                } else {
                    self = .unknown
                }
            default:
                self = .unknown
            }
        }

        /// The request id in `tail` (`{id}{suffix}`): non-empty and without a `/`.
        private static func requestId(_ tail: Substring.UTF8View, before suffix: String) -> String? {
            let suffixBytes = suffix.utf8
            guard tail.count > suffixBytes.count, tail.reversed().starts(with: suffixBytes.reversed()) else {
                return nil
            }
            let id = tail.dropLast(suffixBytes.count)
            guard !id.contains(UInt8(ascii: "/")) else { return nil }
            return String(decoding: id, as: UTF8.self)
        }
    }
}

/// One connection of a slot's Runtime API: routes each request to the slot and writes the reply. Lives on the
/// slot's event loop; a waiting `/next` is answered by a callback that writes on the loop.
private final class RuntimeAPIChannelHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let slot: RuntimeSlot
    private let logger: Logger
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var oversized = false

    init(slot: RuntimeSlot, logger: Logger) {
        self.slot = slot
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let request):
            head = request
            body.removeAll(keepingCapacity: true)
            oversized = false
            // A client that waits for `100 Continue` before a large body gets it at once.
            if request.headers.contains(name: "expect"),
                request.headers[canonicalForm: "expect"].contains(where: { $0.lowercased() == "100-continue" })
            {
                context.writeAndFlush(
                    wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: .continue))),
                    promise: nil)
            }
        case .body(let buffer):
            guard !oversized else { return }
            if body.count + buffer.readableBytes > ExecInvoker.maximumResponseByteCount {
                oversized = true
                body = []
            } else {
                body.append(contentsOf: buffer.readableBytesView)
            }
        case .end:
            guard let request = head else { return }
            head = nil
            respond(to: request, context: context)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("Runtime API connection failed", metadata: ["error": .string("\(error)")])
        context.close(promise: nil)
    }

    private func respond(to request: HTTPRequestHead, context: ChannelHandlerContext) {
        let keepAlive = request.isKeepAlive
        switch RuntimeAPIListener.Route(method: request.method.rawValue, uri: request.uri) {
        case .next:
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let loop = context.eventLoop
            slot.nextInvocation { next in
                // The lane that has the event runs on this loop too (RuntimeSlot.taskExecutor); a delivery from
                // elsewhere (a restarted process, shutdown) hops onto it.
                if loop.inEventLoop {
                    let (handler, context) = bound.value
                    handler.deliver(next, keepAlive: keepAlive, context: context)
                } else {
                    loop.execute {
                        let (handler, context) = bound.value
                        handler.deliver(next, keepAlive: keepAlive, context: context)
                    }
                }
            }
        case .response(let requestId):
            if oversized {
                _ = slot.postOversizedResponse(requestId: requestId)
                let (status, body) = RuntimeAPIListener.errorBody(
                    .payloadTooLarge,
                    type: "RequestEntityTooLarge",
                    message: "the response is larger than \(ExecInvoker.maximumResponseByteCount) bytes"
                )
                write(status, body: body, keepAlive: keepAlive, context: context)
            } else {
                let (status, body) = RuntimeAPIListener.reply(slot.postResponse(requestId: requestId, body: body))
                write(status, body: body, keepAlive: keepAlive, context: context)
            }
        case .error(let requestId):
            let errorType = request.headers.first(name: "Lambda-Runtime-Function-Error-Type")
            let (status, body) = RuntimeAPIListener.reply(
                slot.postError(requestId: requestId, errorType: errorType, body: body))
            write(status, body: body, keepAlive: keepAlive, context: context)
        case .initError:
            let errorType = request.headers.first(name: "Lambda-Runtime-Function-Error-Type")
            let (status, body) = RuntimeAPIListener.reply(slot.postInitError(errorType: errorType, body: body))
            write(status, body: body, keepAlive: keepAlive, context: context)
        case .unknown:
            let (status, body) = RuntimeAPIListener.errorBody(
                .notFound, type: "NotFound", message: "\(request.method) \(request.uri) is not a Runtime API route")
            write(status, body: body, keepAlive: keepAlive, context: context)
        }
    }

    private func deliver(_ next: NextInvocation?, keepAlive: Bool, context: ChannelHandlerContext) {
        guard let next else {
            let (status, body) = RuntimeAPIListener.errorBody(
                .internalServerError,
                type: "ServiceUnavailable",
                message: "the runtime endpoint is shutting down or a newer poll replaced this one"
            )
            write(status, body: body, keepAlive: keepAlive, context: context)
            return
        }
        write(
            .ok,
            headers: [
                ("Lambda-Runtime-Aws-Request-Id", next.requestId),
                ("Lambda-Runtime-Deadline-Ms", String(next.deadlineMilliseconds)),
                ("Lambda-Runtime-Invoked-Function-Arn", next.functionArn),
                ("Lambda-Runtime-Trace-Id", next.traceId),
            ],
            body: next.event, keepAlive: keepAlive, context: context)
    }

    private func write(
        _ status: HTTPResponseStatus, headers extra: [(String, String)] = [], body: [UInt8], keepAlive: Bool,
        context: ChannelHandlerContext
    ) {
        var headers = HTTPHeaders([("Content-Type", "application/json"), ("Content-Length", String(body.count))])
        headers.add(contentsOf: extra)
        if !keepAlive {
            headers.add(name: "Connection", value: "close")
        }
        var buffer = context.channel.allocator.buffer(capacity: body.count)
        buffer.writeBytes(body)
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
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
