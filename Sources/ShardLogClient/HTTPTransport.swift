import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// Keep-alive HTTP/1.1 connections to one `http://` endpoint, for ``KinesisClient``: a request checks out an idle
/// connection (or opens one), sends head and body in one flush, reads the whole response and puts the connection
/// back. Concurrent requests use separate connections, so `put --endpoint-url`'s senders each keep one connection
/// busy. Compared with `URLSession` on Linux (libcurl driven through dispatch sources), this spends far less CPU per
/// request, which is what bounds `put --endpoint-url` against a local `shardlog serve`.
/// Thread-safety: the idle list is behind a mutex; a connection serves one request at a time.
final class HTTPTransport: Sendable {
    /// A complete response.
    struct Response: Sendable {
        var status: Int
        var body: ByteBuffer
        /// The server keeps the connection open (`Connection: keep-alive`, the HTTP/1.1 default).
        var keepAlive: Bool
    }

    /// One request on the wire: what the connection's handler writes and the promise it completes.
    struct Exchange: Sendable {
        var head: HTTPRequestHead
        var body: ByteBuffer
        var promise: EventLoopPromise<Response>
    }

    let host: String
    let port: Int
    private let group: any EventLoopGroup
    private let idle = Mutex<[Connection]>([])
    /// Idle connections kept for reuse.
    static let maxIdle = 32

    /// Creates a transport for `host:port` (no connection is opened yet).
    init(host: String, port: Int, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.host = host
        self.port = port
        self.group = group
    }

    /// POSTs `body` with `headers` (a `Content-Length` is added) to `path` and returns the whole response.
    /// - Throws: NIO's connection errors, or ``KinesisTransportError`` when the server closes the
    ///   connection before answering.
    func post(path: String, headers: [(String, String)], body: ByteBuffer) async throws -> Response {
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: path)
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        if !head.headers.contains(name: "Host") { head.headers.add(name: "Host", value: hostHeader) }
        head.headers.add(name: "Content-Length", value: String(body.readableBytes))
        let connection = try await checkOut()
        do {
            let response = try await connection.send(head, body)
            if response.keepAlive { checkIn(connection) } else { connection.close() }
            return response
        } catch {
            connection.close()
            throw error
        }
    }

    private var hostHeader: String { port == 80 ? host : "\(host):\(port)" }

    private func checkOut() async throws -> Connection {
        while let connection = idle.withLock({ $0.popLast() }) {
            if connection.channel.isActive { return connection }
            connection.close()
        }
        let channel = try await ClientBootstrap(group: group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ExchangeHandler())
                }
            }
            .connect(host: host, port: port).get()
        return Connection(channel: channel)
    }

    private func checkIn(_ connection: Connection) {
        let kept = idle.withLock { list in
            guard list.count < Self.maxIdle else { return false }
            list.append(connection)
            return true
        }
        if !kept { connection.close() }
    }

    /// One open connection.
    final class Connection: Sendable {
        let channel: any Channel

        init(channel: any Channel) { self.channel = channel }

        func send(_ head: HTTPRequestHead, _ body: ByteBuffer) async throws -> Response {
            let promise = channel.eventLoop.makePromise(of: Response.self)
            channel.writeAndFlush(Exchange(head: head, body: body, promise: promise)).cascadeFailure(to: promise)
            return try await promise.futureResult.get()
        }

        func close() { channel.close(promise: nil) }
    }
}

/// Writes an ``HTTPTransport/Exchange``'s request and completes its promise with the response read next.
private final class ExchangeHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPTransport.Exchange
    typealias OutboundOut = HTTPClientRequestPart

    private var pending: EventLoopPromise<HTTPTransport.Response>?
    private var status = 0
    private var keepAlive = true
    private var body = ByteBuffer()

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let exchange = unwrapOutboundIn(data)
        pending = exchange.promise
        context.write(wrapOutboundOut(.head(exchange.head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(exchange.body))), promise: nil)
        context.write(wrapOutboundOut(.end(nil)), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = Int(head.status.code)
            keepAlive = head.isKeepAlive
            body = context.channel.allocator.buffer(capacity: 64 << 10)
        case .body(var chunk):
            body.writeBuffer(&chunk)
        case .end:
            let promise = pending
            pending = nil
            promise?.succeed(.init(status: status, body: body, keepAlive: keepAlive))
            body = ByteBuffer()
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        pending?.fail(error)
        pending = nil
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        pending?.fail(KinesisTransportError(description: "the endpoint closed the connection"))
        pending = nil
        context.fireChannelInactive()
    }
}
