import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import ShardLog
import ShardLogWire
import Synchronization
import UnixSignals

/// The request context of the server's routes: Hummingbird's basic context plus the connection, so a handler can
/// close a connection whose request body it will not read.
struct KinesisRequestContext: RequestContext {
    /// Hummingbird's per-request storage.
    var coreContext: CoreRequestContextStorage
    /// The connection the request arrived on.
    let channel: any Channel

    /// Creates the context of a request arriving on `source.channel`.
    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }
}

/// Settings of a ``KinesisServer``.
package struct KinesisServerOptions: Sendable {
    /// Address to bind (default `127.0.0.1`).
    package var host = "127.0.0.1"
    /// Port to bind; 0 picks a free one (default 4567).
    package var port = 4567
    /// Access key id → secret access key. When set, every request must carry a valid SigV4 signature; when `nil`,
    /// any signature (or none) is accepted.
    package var credentials: [String: String]?
    /// Access key id → the 12-digit account its requests act in; keys not listed act in ``accountId``.
    package var accounts: [String: String] = [:]
    /// The account of requests whose access key has none of its own (default `000000000000`).
    package var accountId = "000000000000"
    /// The region of requests that carry no SigV4 credential scope (default `us-east-1`).
    package var region = "us-east-1"
    /// Enforce Kinesis' per-shard limits (1 MiB/s and 1000 records/s written, 5 GetRecords/s).
    package var enforceShardLimits = false
    /// The longest a `SubscribeToShard` response stays open (5 minutes, as AWS; tests pass less).
    package var maxSubscriptionDuration = Duration.seconds(300)
    /// The most request-body bytes buffered at once across all connections (256 MiB); a request that would go over
    /// is refused with HTTP 503 `LimitExceededException` (see ``BodyBudget``). Each operation also has its own cap
    /// (about 13.4 MiB of JSON for PutRecord, 15.4 MiB for PutRecords: a 10 MiB record; 1 MiB for the rest), over which it gets 413.
    package var maxBufferedByteCount = 256 << 20
    /// A connection with no request in progress, or whose request headers or body stop arriving, is closed after
    /// this long (30 s). Request headers must therefore arrive whole within this time of the connection opening or
    /// of the previous response (slow-header attacks).
    package var idleTimeout = Duration.seconds(30)
    /// A request body must arrive whole within this time of its headers (60 s), however steadily it trickles;
    /// after it, the request gets 408 `RequestTimeoutException` and the connection is closed.
    package var requestBodyTimeout = Duration.seconds(60)
    /// Events of a subscription with no new records are sent at this interval (1 s).
    package var subscriptionHeartbeat = Duration.seconds(1)

    /// The TLS certificate and key to serve HTTPS with (ALPN `h2` and `http/1.1`), or `nil` for plain HTTP. Either
    /// way HTTP/1.1 and HTTP/2 share the port (see `HTTPChannel`).
    package var tls: ServerTLS?

    /// A JSON file of event source mappings to host (see `MappingHost`), or `nil`.
    package var mappingsFile: String?
    /// Failures to inject (`--inject-faults`), or `nil`.
    package var faults: FaultInjector?
    /// How deployed functions run (`Lambda/LambdaOptions.swift`).
    package var lambda = LambdaOptions()

    /// Default options.
    package init() {}

    /// Reads a credentials file's secrets (see ``loadCredentialsFile(path:)``, which also gives the keys' accounts).
    /// - Throws: an error naming the file when it cannot be read or has another shape.
    package static func loadCredentials(path: String) throws -> [String: String] {
        try loadCredentialsFile(path: path).mapValues(\.secret)
    }
}

/// The Kinesis Data Streams API (JSON 1.1 and CBOR, over HTTP/1.1 and HTTP/2 on one port, optionally TLS) on top of
/// a ``ShardLog/Store`` per account and region, plus the Lambda API (`Lambda/`), the console at `/` (`Console/`),
/// `GET /metrics` (Prometheus text) and `GET /health`; CORS preflights and headers as AWS sends them.
///
/// Thread-safety: safe from any thread. ``run(handleSignals:onListening:)`` may be called once.
package final class KinesisServer: Sendable {
    /// `application/x-amz-json-1.1`.
    static let jsonContentType = "application/x-amz-json-1.1"
    static let targetPrefix = "Kinesis_20131202."

    /// The store served.
    package let store: Store
    /// The options.
    package let options: KinesisServerOptions
    let logger: Logger
    /// The stores of every account and region (``RegionalStores``); the root is ``store``.
    let regions: RegionalStores
    let limiter = ShardLimiter()
    let metrics = ServerMetrics()
    let subscriptions = SubscriptionRegistry()
    let budget: BodyBudget
    private let group = Mutex<ServiceGroup?>(nil)

    /// Creates a server; nothing is bound until ``run(handleSignals:onListening:)``.
    /// - Parameters:
    ///   - store: the data directory to serve.
    ///   - options: address, authentication and limits.
    ///   - logger: where requests and problems are logged (default: a `shardlog.server` logger).
    package init(store: Store, options: KinesisServerOptions, logger: Logger? = nil) {
        self.store = store
        self.options = options
        self.logger =
            logger
            ?? {
                var l = Logger(label: "shardlog.server")
                l.logLevel = .warning
                return l
            }()
        self.regions = RegionalStores(root: store)
        self.budget = BodyBudget(limit: options.maxBufferedByteCount)
    }

    /// Binds and serves (and runs the mappings of ``KinesisServerOptions/mappingsFile``) until ``shutdown()`` or,
    /// with `handleSignals`, SIGINT/SIGTERM; requests in flight finish (open subscriptions end within a heartbeat)
    /// and mappings stop after writing their checkpoints.
    /// - Parameters:
    ///   - handleSignals: shut down gracefully on SIGINT and SIGTERM.
    ///   - onListening: called with the host and the bound port once the socket listens.
    /// - Throws: when the address cannot be bound or the mappings file is invalid.
    package func run(
        handleSignals: Bool = true, onListening: @escaping @Sendable (String, Int) async -> Void = { _, _ in }
    ) async throws {
        if options.credentials == nil {
            logger.warning("no --credentials given: accepting requests with any signature (or none)")
        }
        AllocatorTuning.keepFreedMemory(upTo: Self.keptFreedByteCount)
        let router = Router(context: KinesisRequestContext.self)
        router.add(middleware: CORSMiddleware())
        // The Lambda API, its functions and mappings (Lambda/); before /health, whose answer it extends.
        let lambda = registerLambdaRoutes(router)
        router.get("/health") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: "ok\n")))
        }
        router.get("/metrics") { [metrics, regions] _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: .init(byteBuffer: ByteBuffer(bytes: metrics.scrape(stores: regions.allStores())))
            )
        }
        router.post("/") { [self] request, context in
            await self.handle(request, channel: context.channel)
        }
        // The live console at `/` (Console/).
        Console(regions: regions, totals: metrics.shardTotals).register(on: router)
        let host = options.host
        let app = Application(
            router: router,
            server: .kinesis(options),
            configuration: .init(address: .hostname(host, port: options.port), serverName: nil),
            onServerRunning: { channel in
                await onListening(host, channel.localAddress?.port ?? 0)
            },
            logger: logger)
        var services: [any Service] = [app, RetentionService(stores: regions.allStores, logger: logger), lambda]
        if let file = options.mappingsFile {
            let host = try await MappingHost.load(path: file, store: store, logger: logger)
            logger.info("hosting \(host.mappings.count) event source mappings from \(file)")
            services.append(host)
        }
        let serviceGroup = ServiceGroup(
            configuration: .init(
                services: services, gracefulShutdownSignals: handleSignals ? [.sigterm, .sigint] : [], logger: logger))
        group.withLock { $0 = serviceGroup }
        try await serviceGroup.run()
    }

    /// Freed memory the allocator keeps for reuse (``ShardLog/AllocatorTuning``): more than the buffers of the
    /// largest PutRecords request (about 6.7 MiB of JSON for 5 MiB of records), so that requests reuse pages
    /// instead of faulting fresh ones in (in a profile of 500-record PutRecords calls: about 25 page faults per
    /// request before, none after).
    static let keptFreedByteCount = 8 << 20

    /// Starts a graceful shutdown: stop accepting connections, let requests in flight finish.
    package func shutdown() async {
        if let g = group.withLock({ $0 }) { await g.triggerGracefulShutdown() }
    }

    /// Handles one Kinesis API request; never throws — every failure becomes a Kinesis error response, and an
    /// unexpected error (anything not a Kinesis or store error) a 500 `InternalFailure` for this request alone.
    ///
    /// Order: the signature's headers are checked before any of the body is read; the body is then read under the
    /// operation's cap, the server-wide budget and the body timeout, hashed as it arrives, and the signature is
    /// verified against that hash before the body is even parsed, so nothing is stored for an unverified request.
    /// An answer given before the body was read to its end closes `channel` (the connection; `nil` when called
    /// without one, as the fuzzing harness does) after it.
    func handle(_ request: Request, channel: (any Channel)? = nil) async -> Response {
        let requestID = UUID().uuidString
        let arrived = ContinuousClock.now
        let target = request.headers[.amzTarget] ?? ""
        let operationName = target.hasPrefix(Self.targetPrefix) ? String(target.dropFirst(Self.targetPrefix.count)) : ""
        let operation = Operation(rawValue: operationName)
        let format = WireFormat(contentType: request.headers[.contentType])
        var reserved = 0
        var bodyComplete = false
        defer { budget.release(reserved) }
        do {
            let authorization = try options.credentials.map { credentials throws(WireError) in
                try SignatureV4(credentials: credentials).authorize(
                    SignatureV4.Head(
                        method: request.method.rawValue, path: request.uri.path, query: request.uri.query,
                        headers: [("host", request.head.authority ?? "")]
                            + request.headers.map { ($0.name.canonicalName, $0.value) }))
            }
            let body = try await receiveBody(
                request, operation: operation, reserved: &reserved, complete: &bodyComplete)
            try authorization?.verify(payloadSHA256: body.sha256)
            guard let operation else {
                throw KinesisError(
                    .unknownOperation, "unknown operation '\(target)': expected X-Amz-Target Kinesis_20131202.<Op>")
            }
            var params = try Params(body: body.bytes, format: format, operation: operation)
            params.scope = try requestScope(request, operation: operationName)
            try RequestValidator.validate(
                operation: operationName, members: params.members, skipping: params.putRecords == nil ? nil : "Records")
            if let fault = options.faults?.requestFault(operation: operationName) { throw fault }
            let response = try await format.run { try await perform(operation, params, requestID: requestID) }
            metrics.recordRequest(operation: operationName, code: "OK", duration: ContinuousClock.now - arrived)
            return response
        } catch {
            let e = KinesisError(error)
            metrics.recordRequest(
                operation: operation == nil ? "unknown" : operationName, code: e.code.name,
                duration: ContinuousClock.now - arrived)
            if e.code == .internalFailure {
                logger.error("request failed", metadata: ["kinesis.operation": "\(operationName)", "error": "\(e)"])
            } else {
                logger.debug("request refused", metadata: ["kinesis.operation": "\(operationName)", "error": "\(e)"])
            }
            let response = e.response(requestID: requestID, format: format)
            guard !bodyComplete, let channel else { return response }
            return Self.closingConnection(response, channel: channel)
        }
    }

    /// A 200 response: `json` in the wire format of the request (``WireFormat/current``).
    func ok(_ json: JSON, requestID: String) -> Response {
        let format = WireFormat.current
        var headers = HTTPFields()
        headers[.contentType] = format.contentType
        headers[.amznRequestID] = requestID
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: format.encode(json))))
    }
}
