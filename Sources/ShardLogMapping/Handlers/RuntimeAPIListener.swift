import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import ShardLogWire

/// The Lambda Runtime API endpoint of one slot: a Hummingbird server on `127.0.0.1`, ephemeral port.
///
/// Routes (all under `/2018-06-01/runtime`):
/// - `GET /invocation/next`: long-polls for the slot's next event; 200 with the event and the `Lambda-Runtime-*`
///   headers and `Content-Type: application/json` (awslambdaric hangs without it).
/// - `POST /invocation/{id}/response`: 202 at once (old aws-lambda-cpp clients give up after 100 ms); 400 for an
///   unknown id; 413 above 6 MB (the invocation then fails with `Function.ResponseSizeTooLarge`).
/// - `POST /invocation/{id}/error`: 202; a function error.
/// - `POST /init/error`: 202; the runtime failed to initialise.
///
/// TCP_NODELAY: NIO's `ServerBootstrap` sets it on the listening socket and Linux copies it to accepted sockets, so
/// the separately written head and body of a `/next` reply are not held back by Nagle's algorithm (without it,
/// awslambdaric manages about 11 invocations a second).
struct RuntimeAPIListener: Sendable {
    /// The bound port.
    let port: Int
    private let group: ServiceGroup
    private let task: Task<Void, Never>
    private let stopped: Completion<Void>

    private static let maximumResponseByteCount = ExecInvoker.maximumResponseByteCount

    /// Starts a listener serving `slot`.
    /// - Parameters:
    ///   - slot: The slot whose routes it serves.
    ///   - logger: The slot's logger (the server logs at `warning` and above only).
    /// - Returns: The running listener.
    /// - Throws: ``MappingError`` (`.io`) when the server cannot bind.
    static func start(slot: RuntimeSlot, logger: Logger) async throws -> RuntimeAPIListener {
        let router = Router(context: BasicRequestContext.self)
        addRoutes(to: router, slot: slot)
        var serverLogger = logger
        if serverLogger.logLevel < .warning {
            serverLogger.logLevel = .warning
        }
        let bound = Completion<Int?>()
        let stopped = Completion<Void>()
        let app = Application(
            router: router,
            configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                bound.complete(channel.localAddress?.port)
            },
            logger: serverLogger
        )
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(services: [app], gracefulShutdownSignals: [], logger: serverLogger)
        )
        let task = Task {
            do {
                try await group.run()
            } catch {
                logger.warning("Runtime API listener stopped", metadata: ["error": .string("\(error)")])
            }
            bound.complete(nil)
            stopped.complete(())
        }
        guard let port = await bound.wait() ?? nil else {
            task.cancel()
            throw MappingError(
                code: .io,
                message: "cannot listen on 127.0.0.1 for the Runtime API of slot \(slot.index); "
                    + "check that the loopback interface is up"
            )
        }
        return RuntimeAPIListener(port: port, group: group, task: task, stopped: stopped)
    }

    /// Stops the server gracefully (open long polls must have been answered), cancelling it after 3 s.
    func stop() async {
        await group.triggerGracefulShutdown()
        if await stopped.wait(until: .now + .seconds(3)) == nil {
            task.cancel()
            await stopped.wait(until: .now + .seconds(1))
        }
    }

    private static func addRoutes(to router: Router<BasicRequestContext>, slot: RuntimeSlot) {
        let runtime = router.group("2018-06-01/runtime")
        runtime.get("invocation/next") { _, _ -> Response in
            guard let next = await slot.nextInvocation() else {
                return errorResponse(
                    .internalServerError,
                    type: "ServiceUnavailable",
                    message: "the runtime endpoint is shutting down or a newer poll replaced this one"
                )
            }
            var headers = HTTPFields()
            headers[HeaderName.contentType] = "application/json"
            headers[HeaderName.requestId] = next.requestId
            headers[HeaderName.deadline] = String(next.deadlineMilliseconds)
            headers[HeaderName.functionArn] = next.functionArn
            headers[HeaderName.traceId] = next.traceId
            return Response(
                status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: next.event)))
        }
        runtime.post("invocation/{requestId}/response") { request, context -> Response in
            let requestId = context.parameters.get("requestId") ?? ""
            let body: ByteBuffer
            do {
                body = try await request.body.collect(upTo: maximumResponseByteCount)
            } catch {
                _ = slot.postOversizedResponse(requestId: requestId)
                return errorResponse(
                    .contentTooLarge,
                    type: "RequestEntityTooLarge",
                    message: "the response is larger than \(maximumResponseByteCount) bytes"
                )
            }
            return reply(slot.postResponse(requestId: requestId, body: Array(body.readableBytesView)))
        }
        runtime.post("invocation/{requestId}/error") { request, context -> Response in
            let requestId = context.parameters.get("requestId") ?? ""
            let body = (try? await request.body.collect(upTo: maximumResponseByteCount)) ?? ByteBuffer()
            let errorType = request.headers[HeaderName.functionErrorType]
            return reply(
                slot.postError(requestId: requestId, errorType: errorType, body: Array(body.readableBytesView))
            )
        }
        runtime.post("init/error") { request, _ -> Response in
            let body = (try? await request.body.collect(upTo: maximumResponseByteCount)) ?? ByteBuffer()
            let errorType = request.headers[HeaderName.functionErrorType]
            return reply(slot.postInitError(errorType: errorType, body: Array(body.readableBytesView)))
        }
    }

    private static func reply(_ reply: RuntimeReply) -> Response {
        switch reply {
        case .accepted:
            var headers = HTTPFields()
            headers[HeaderName.contentType] = "application/json"
            return Response(
                status: .accepted,
                headers: headers,
                body: ResponseBody(byteBuffer: ByteBuffer(string: #"{"status":"OK"}"#))
            )
        case .invalidRequestId:
            return errorResponse(
                .badRequest,
                type: "InvalidRequestID",
                message: "the request id is not the invocation in progress on this runtime"
            )
        }
    }

    private static func errorResponse(_ status: HTTPResponse.Status, type: String, message: String) -> Response {
        var body = Array(#"{"errorMessage":"#.utf8)
        body.appendJSONString(message)
        body.append(contentsOf: #","errorType":"#.utf8)
        body.appendJSONString(type)
        body.append(UInt8(ascii: "}"))
        var headers = HTTPFields()
        headers[HeaderName.contentType] = "application/json"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }
}

/// The Runtime API's header names.
private enum HeaderName {
    static let contentType = name("Content-Type")
    static let requestId = name("Lambda-Runtime-Aws-Request-Id")
    static let deadline = name("Lambda-Runtime-Deadline-Ms")
    static let functionArn = name("Lambda-Runtime-Invoked-Function-Arn")
    static let traceId = name("Lambda-Runtime-Trace-Id")
    static let functionErrorType = name("Lambda-Runtime-Function-Error-Type")

    private static func name(_ text: String) -> HTTPField.Name {
        guard let name = HTTPField.Name(text) else {
            preconditionFailure("\(text) is a valid HTTP header name")
        }
        return name
    }
}
