import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdHTTP2
import Logging
import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOHTTPTypes
import NIOSSL
import NIOTLS

/// The server's connections: HTTP/1.1 and HTTP/2 on one port, in the clear or (with ``ServerTLS``) over TLS.
///
/// In the clear, the first bytes decide: the HTTP/2 client connection preface (`PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`,
/// h2c with prior knowledge, as `curl --http2-prior-knowledge` and `httpx` with `http1=False` send it) sets up
/// Hummingbird's HTTP/2 pipeline, anything else its HTTP/1.1 pipeline (see ``HTTPVersionDetector``). Over TLS, ALPN
/// decides (`h2` or `http/1.1`); a client that negotiates no protocol falls back to the preface test. Hummingbird
/// offers HTTP/2 only over TLS-ALPN or HTTP/2-only; this is its `HTTP2UpgradeChannel` with the preface test beside
/// ALPN.
///
/// Both protocols keep the server's HTTP/1.1 behaviour: the idle timeout closes a connection without requests
/// (HTTP/2: without open streams) and a request whose headers or body stop arriving (HTTP/2: that stream is reset),
/// and an answer given before a request body was read to its end — `Connection: close` at HTTP/1.1 — ends only
/// that stream at HTTP/2: the whole response, then `RST_STREAM` with `NO_ERROR` (RFC 9113 §8.1), by
/// ``HTTP2StreamCloseHandler``.
struct HTTPChannel: HTTPChannelHandler {
    /// The protocol a connection speaks, once decided, with its configured pipeline.
    enum Negotiated: Sendable {
        /// HTTP/1.1.
        case http1(HTTP1Channel.Value)
        /// HTTP/2.
        case http2(HTTP2Channel.Value)
    }

    /// A connection being set up: its protocol is known once enough bytes (or the TLS handshake) arrived.
    struct Value: ServerChildChannelValue {
        /// The protocol and pipeline, once decided.
        let negotiated: EventLoopFuture<Negotiated>
        /// The connection.
        let channel: any Channel
    }

    /// The request handler.
    let responder: Responder
    private let http1: HTTP1Channel
    private let http2: HTTP2Channel
    private let tls: ServerTLS?
    /// How long a connection may take to show its protocol (the preface, or the TLS handshake).
    private let setupTimeout: TimeAmount

    /// Creates the channel of a server with `options` (timeouts, TLS) answering with `responder`.
    init(responder: @escaping Responder, options: KinesisServerOptions) {
        self.responder = responder
        let idle = TimeAmount(options.idleTimeout)
        self.http1 = HTTP1Channel(responder: responder, configuration: .init(idleTimeout: idle))
        self.http2 = HTTP2Channel(
            responder: responder,
            configuration: .init(
                idleTimeout: options.idleTimeout,
                gracefulCloseTimeout: options.idleTimeout,
                streamConfiguration: .init(
                    additionalChannelHandlers: [HTTP2StreamCloseInstaller()], idleTimeout: idle)))
        self.tls = options.tls
        self.setupTimeout = idle
    }

    /// Sets a new connection up: TLS and ALPN, or the preface test.
    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            let negotiated: EventLoopFuture<Negotiated>
            if let tls {
                try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls.context))
                let alpn = NIOTypedApplicationProtocolNegotiationHandler<EventLoopFuture<Negotiated>> {
                    result, channel in
                    switch result {
                    case .negotiated("h2"):
                        return self.configure(http2: true, channel: channel, logger: logger).map {
                            channel.eventLoop.makeSucceededFuture($0)
                        }
                    case .negotiated("http/1.1"):
                        return self.configure(http2: false, channel: channel, logger: logger).map {
                            channel.eventLoop.makeSucceededFuture($0)
                        }
                    case .fallback:
                        // No ALPN: the preface decides. (The negotiation handler holds reads until this future
                        // completes, so the detection's own future is passed on rather than waited for.)
                        return channel.eventLoop.makeCompletedFuture {
                            try self.addDetector(channel: channel, logger: logger)
                        }
                    case .negotiated(let name):
                        channel.close(promise: nil)
                        return channel.eventLoop.makeFailedFuture(
                            KinesisError(.validation, "TLS client negotiated unsupported protocol '\(name)'"))
                    }
                }
                try channel.pipeline.syncOperations.addHandler(alpn)
                negotiated = alpn.protocolNegotiationResult.flatMap { $0 }
            } else {
                negotiated = try self.addDetector(channel: channel, logger: logger)
            }
            // A connection that never shows its protocol (no bytes, a stalled handshake) is closed like an idle one.
            let deadline = channel.eventLoop.scheduleTask(in: self.setupTimeout) { channel.close(promise: nil) }
            negotiated.whenComplete { _ in deadline.cancel() }
            return Value(negotiated: negotiated, channel: channel)
        }
    }

    /// Serves the connection with the protocol it turned out to speak.
    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.negotiated.get() {
            case .http1(let connection):
                await http1.handle(value: connection, logger: logger)
            case .http2(let connection):
                await http2.handle(value: connection, logger: logger)
            }
        } catch {
            logger.debug("connection closed before its protocol was known: \(error)")
        }
    }

    /// Adds the preface test to `channel`.
    /// - Returns: the protocol, once decided.
    private func addDetector(channel: any Channel, logger: Logger) throws -> EventLoopFuture<Negotiated> {
        let promise = channel.eventLoop.makePromise(of: Negotiated.self)
        try channel.pipeline.syncOperations.addHandler(
            HTTPVersionDetector(promise: promise) { isHTTP2, channel in
                self.configure(http2: isHTTP2, channel: channel, logger: logger)
            })
        return promise.futureResult
    }

    /// Adds Hummingbird's HTTP/2 or HTTP/1.1 pipeline to `channel`.
    private func configure(http2 isHTTP2: Bool, channel: any Channel, logger: Logger) -> EventLoopFuture<Negotiated> {
        isHTTP2
            ? http2.setup(channel: channel, logger: logger).map { .http2($0) }
            : http1.setup(channel: channel, logger: logger).map { .http1($0) }
    }
}

extension HTTPServerBuilder {
    /// The server's connections: HTTP/1.1 and HTTP/2 (h2c by preface, or h2 over TLS by ALPN) on one port; see
    /// ``HTTPChannel``.
    static func kinesis(_ options: KinesisServerOptions) -> HTTPServerBuilder {
        .init { responder in HTTPChannel(responder: responder, options: options) }
    }
}

/// Tells HTTP/2 with prior knowledge from HTTP/1.1 by a connection's first bytes, then configures the pipeline for
/// the one it is and hands it those bytes.
///
/// The decision needs at most the 24 bytes of the HTTP/2 preface, and is made on the first byte that differs from it
/// (so an HTTP/1.1 request, whose method is never `PRI`, is recognised from its first byte).
final class HTTPVersionDetector: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    /// The HTTP/2 client connection preface (RFC 9113 §3.4).
    static let preface: [UInt8] = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    private let promise: EventLoopPromise<HTTPChannel.Negotiated>
    private let configure: (Bool, any Channel) -> EventLoopFuture<HTTPChannel.Negotiated>
    private var received: ByteBuffer?
    private var decided = false

    /// Creates a detector.
    /// - Parameters:
    ///   - promise: completed with the configured protocol, or failed if the connection ends first.
    ///   - configure: adds the HTTP/2 (`true`) or HTTP/1.1 pipeline behind this handler.
    init(
        promise: EventLoopPromise<HTTPChannel.Negotiated>,
        configure: @escaping (Bool, any Channel) -> EventLoopFuture<HTTPChannel.Negotiated>
    ) {
        self.promise = promise
        self.configure = configure
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if received == nil {
            received = bytes
        } else {
            received?.writeBuffer(&bytes)
        }
        guard let received else { return }
        let view = received.readableBytesView
        let compared = min(view.count, Self.preface.count)
        let matches = view.prefix(compared).elementsEqual(Self.preface.prefix(compared))
        if !matches {
            decide(http2: false, context: context)
        } else if compared == Self.preface.count {
            decide(http2: true, context: context)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // Held until the protocol is known.
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(ChannelError.eof)
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        fail(ChannelError.inappropriateOperationForState)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(error)
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // A server shutting down closes connections that have not started a request.
        if event is ChannelShouldQuiesceEvent {
            fail(ChannelError.eof)
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    private func fail(_ error: any Error) {
        guard !decided else { return }
        decided = true
        promise.fail(error)
    }

    private func decide(http2: Bool, context: ChannelHandlerContext) {
        guard !decided else { return }
        decided = true
        let bytes = received
        received = nil
        configure(http2, context.channel).assumeIsolated().whenComplete { result in
            switch result {
            case .success(let negotiated):
                self.promise.succeed(negotiated)
                if let bytes { context.fireChannelRead(self.wrapInboundOut(bytes)) }
                context.fireChannelReadComplete()
                context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            case .failure(let error):
                self.promise.fail(error)
                context.close(promise: nil)
            }
        }
    }
}

/// Puts an ``HTTP2StreamCloseHandler`` at the frame end of an HTTP/2 stream's pipeline. Hummingbird adds its
/// additional stream handlers above its HTTP/2-to-HTTP codec, where frames are not seen; this one reaches below.
final class HTTP2StreamCloseInstaller: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    func handlerAdded(context: ChannelHandlerContext) {
        do {
            try context.pipeline.syncOperations.addHandler(HTTP2StreamCloseHandler(), position: .first)
        } catch {
            context.fireErrorCaught(error)
        }
    }
}

/// The HTTP/2 stream's side of the server's connection handling, between the stream and Hummingbird's codec.
///
/// - Removes connection-specific header fields (`Connection`, `Keep-Alive`, `Transfer-Encoding`, …) from responses:
///   HTTP/2 forbids them (RFC 9113 §8.2.2) and would refuse the response.
/// - Turns a request to close the connection (`Connection: close` on the response, or `close(mode: .output)` on the
///   stream's channel, both what the server does when it answers before reading a request body to its end) into the
///   HTTP/2 equivalent for this stream alone: the response is sent whole, then, if the client has not finished its
///   body, `RST_STREAM` with `NO_ERROR`, so it stops sending and still reads the answer.
final class HTTP2StreamCloseHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias InboundOut = HTTP2Frame.FramePayload
    typealias OutboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    /// Header fields HTTP/2 forbids in a response.
    static let connectionSpecificFields = [
        "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade",
    ]

    private var inboundEnded = false
    private var outboundEnded = false
    private var resetWanted = false
    private var resetSent = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .headers(let headers) where headers.endStream: inboundEnded = true
        case .data(let body) where body.endStream: inboundEnded = true
        default: break
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        var payload = unwrapOutboundIn(data)
        var endsStream = false
        switch payload {
        case .headers(var headers):
            if headers.headers[canonicalForm: "connection"].contains(where: { $0.lowercased() == "close" }) {
                resetWanted = true
            }
            for name in Self.connectionSpecificFields { headers.headers.remove(name: name) }
            endsStream = headers.endStream
            payload = .headers(headers)
        case .data(let body):
            endsStream = body.endStream
        default:
            break
        }
        guard endsStream else {
            context.write(wrapOutboundOut(payload), promise: promise)
            return
        }
        // The reset must follow the END_STREAM frame out: sent before it, it would discard the frame if flow control
        // still holds it, and the response would look cut short.
        let written = context.eventLoop.makePromise(of: Void.self)
        written.futureResult.assumeIsolated().whenSuccess {
            self.outboundEnded = true
            self.resetIfWanted(context: context)
        }
        if let promise { written.futureResult.cascade(to: promise) }
        context.write(wrapOutboundOut(payload), promise: written)
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        guard mode == .output else {
            context.close(mode: mode, promise: promise)
            return
        }
        resetWanted = true
        resetIfWanted(context: context)
        promise?.succeed(())
    }

    /// Resets the stream once the response's last frame was written, if a close was asked for and the request is not
    /// complete.
    private func resetIfWanted(context: ChannelHandlerContext) {
        guard resetWanted, outboundEnded, !inboundEnded, !resetSent else { return }
        resetSent = true
        context.writeAndFlush(wrapOutboundOut(.rstStream(.noError)), promise: nil)
    }
}
