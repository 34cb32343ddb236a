import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ShardLog
import ShardLogMapping
import ShardLogWire

/// One Lambda API request, read: its body (under the operation's cap), path parameters, query and region.
struct LambdaRequest: Sendable {
    var body: [UInt8]
    var parameters: [String: String]
    var query: [String: String]
    /// Every value of each query parameter, in order (`tagKeys=a&tagKeys=b`).
    var queryValues: [String: [String]] = [:]
    var headers: HTTPFields
    /// The account and region the request acts in (its SigV4 credential's, as for Kinesis requests).
    var scope: RequestScope
    var requestID: String

    /// A path parameter, percent-decoded.
    func parameter(_ name: String) -> String {
        parameters[name] ?? ""
    }

    /// The body's members.
    func params() throws(LambdaError) -> Params {
        do {
            return try Params(body: body)
        } catch {
            throw LambdaError(
                "InvalidRequestContentException", "Could not parse request body into json: \(error.message)")
        }
    }
}

extension KinesisServer {
    /// Registers the Lambda API (2015-03-31 REST-JSON paths, as boto3 and the AWS CLI send them) on `router`, and
    /// `/health` with a check of the hosted mappings, and returns the host of the functions and mappings of every
    /// account and region (to run next to the HTTP server).
    func registerLambdaRoutes(_ router: Router<KinesisRequestContext>) -> LambdaHost {
        let host = LambdaHost(regions: regions, logger: logger, options: options.lambda)
        // Registered before the server's `/health` route, so it sees `GET /health` first.
        router.add(middleware: LambdaHealthMiddleware(host: host))
        let functions = "/2015-03-31/functions"
        let mappings = "/2015-03-31/event-source-mappings"
        let small = 1 << 20
        lambdaRoute(router, host, .post, functions, "CreateFunction", limit: 69_905_067) {
            try await self.createFunction($0, $1)
        }
        lambdaRoute(router, host, .get, functions, "ListFunctions", limit: small) {
            try await self.listFunctions($0, $1)
        }
        lambdaRoute(router, host, .get, functions + "/:name", "GetFunction", limit: small) {
            try await self.getFunction($0, $1)
        }
        lambdaRoute(router, host, .delete, functions + "/:name", "DeleteFunction", limit: small) {
            try await self.deleteFunction($0, $1)
        }
        lambdaRoute(router, host, .get, functions + "/:name/configuration", "GetFunctionConfiguration", limit: small) {
            self.configurationResponse(try KinesisServer.function($0, $1).configuration, requestID: $0.requestID)
        }
        lambdaRoute(router, host, .put, functions + "/:name/configuration", "UpdateFunctionConfiguration", limit: small)
        {
            try await self.updateFunctionConfiguration($0, $1)
        }
        lambdaRoute(router, host, .put, functions + "/:name/code", "UpdateFunctionCode", limit: 69_905_067) {
            try await self.updateFunctionCode($0, $1)
        }
        lambdaRoute(router, host, .post, functions + "/:name/invocations", "Invoke", limit: 6_291_456) {
            try await self.invoke($0, $1)
        }
        lambdaRoute(router, host, .post, mappings, "CreateEventSourceMapping", limit: small) {
            try await self.createEventSourceMapping($0, $1)
        }
        lambdaRoute(router, host, .get, mappings, "ListEventSourceMappings", limit: small) {
            try self.listEventSourceMappings($0, $1)
        }
        lambdaRoute(router, host, .get, mappings + "/:uuid", "GetEventSourceMapping", limit: small) {
            self.mappingResponse(try KinesisServer.mapping($0, $1), $1, requestID: $0.requestID)
        }
        lambdaRoute(router, host, .put, mappings + "/:uuid", "UpdateEventSourceMapping", limit: small) {
            try await self.updateEventSourceMapping($0, $1)
        }
        lambdaRoute(router, host, .delete, mappings + "/:uuid", "DeleteEventSourceMapping", limit: small) {
            try await self.deleteEventSourceMapping($0, $1)
        }
        registerLambdaSettingsRoutes(router, host)
        registerLambdaTagRoutes(router, host)
        return host
    }

    /// Registers one Lambda operation: `handler` gets the request, read and checked, and the service of its account
    /// and region.
    func lambdaRoute(
        _ router: Router<KinesisRequestContext>, _ host: LambdaHost, _ method: HTTPRequest.Method, _ path: String,
        _ operation: String, limit: Int,
        _ handler: @escaping @Sendable (LambdaRequest, LambdaService) async throws -> Response
    ) {
        router.on(RouterPath(path), method: method) { [self] request, context in
            await self.handleLambda(
                request, context: context, host: host, operation: operation, limit: limit, handler: handler)
        }
    }

    private func handleLambda(
        _ request: Request, context: KinesisRequestContext, host: LambdaHost, operation: String, limit: Int,
        handler: @Sendable (LambdaRequest, LambdaService) async throws -> Response
    ) async -> Response {
        let requestID = UUID().uuidString.lowercased()
        let arrived = ContinuousClock.now
        var bodyComplete = false
        var reserved = 0
        defer { budget.release(reserved) }
        do {
            let authorization = try options.credentials.map { credentials throws(WireError) in
                try SignatureV4(credentials: credentials).authorize(
                    SignatureV4.Head(
                        method: request.method.rawValue, path: request.uri.path, query: request.uri.query,
                        headers: [("host", request.head.authority ?? "")]
                            + request.headers.map { ($0.name.canonicalName, $0.value) }))
            }
            let tooLarge = LambdaError(
                "RequestEntityTooLargeException",
                "Request must be smaller than \(limit) bytes for the \(operation == "Invoke" ? "InvokeFunction" : operation) "
                    + "operation", status: .contentTooLarge)
            // The body is held in memory: its declared length (a chunked body: the operation's cap) is reserved in
            // the server-wide budget first, as for Kinesis requests.
            let declared = request.headers[.contentLength].flatMap { Int($0) }
            if let declared, declared > limit { throw tooLarge }
            let charge = declared ?? limit
            guard budget.reserve(charge) else { throw Self.lambdaBudgetExceeded(charge, budget) }
            reserved = charge
            var body: [UInt8]
            do {
                var buffer = try await request.body.collect(upTo: limit)
                body = buffer.readBytes(length: buffer.readableBytes) ?? []
            } catch {
                // Over the cap (only a chunked body can get here with that), or the body stopped arriving.
                guard declared != nil else { throw tooLarge }
                throw LambdaError(
                    "InvalidRequestContentException",
                    "the request body could not be read (\(error)): the connection closed or stalled before the "
                        + "declared Content-Length of \(charge) bytes arrived")
            }
            bodyComplete = true
            try authorization?.verify(payloadSHA256: SignatureV4.hex(SHA256.hash(data: body)))
            var parameters: [String: String] = [:]
            for (key, value) in context.parameters {
                parameters[String(key)] = String(value).removingPercentEncoding ?? String(value)
            }
            var query: [String: String] = [:]
            var queryValues: [String: [String]] = [:]
            for (key, value) in request.uri.queryParameters {
                let decoded = String(value).removingPercentEncoding ?? String(value)
                query[String(key)] = decoded
                queryValues[String(key), default: []].append(decoded)
            }
            let scope = try requestScope(request, operation: operation)
            let lambdaRequest = LambdaRequest(
                body: body, parameters: parameters, query: query, queryValues: queryValues, headers: request.headers,
                scope: scope, requestID: requestID)
            let response = try await handler(lambdaRequest, try host.service(for: scope))
            metrics.recordRequest(operation: "lambda." + operation, code: "OK", duration: ContinuousClock.now - arrived)
            return response
        } catch {
            let lambdaError: LambdaError
            switch (error as? WireError).map(KinesisError.init) ?? error {
            case let e as LambdaError: lambdaError = e
            case let e as KinesisError:
                lambdaError = LambdaError(
                    e.code.name, e.message, status: e.code == .internalFailure ? .internalServerError : .forbidden)
            default:
                lambdaError = LambdaError.service("\(error)")
            }
            metrics.recordRequest(
                operation: "lambda." + operation, code: lambdaError.type, duration: ContinuousClock.now - arrived)
            if lambdaError.status == .internalServerError {
                logger.error(
                    "Lambda request failed", metadata: ["lambda.operation": "\(operation)", "error": "\(lambdaError)"])
            }
            let response = lambdaError.response(requestID: requestID)
            guard !bodyComplete else { return response }
            return Self.closingConnection(response, channel: context.channel)
        }
    }

    /// `TooManyRequestsException` (429, which the AWS SDKs retry with back-off) for a body that does not fit the
    /// server-wide budget of buffered request bodies (``BodyBudget``, `serve --max-buffered-mib`).
    static func lambdaBudgetExceeded(_ byteCount: Int, _ budget: BodyBudget) -> LambdaError {
        LambdaError(
            "TooManyRequestsException",
            "Rate Exceeded: the server is already buffering \(budget.usedByteCount) bytes of request bodies and "
                + "\(byteCount) more would exceed its limit of \(budget.limit) bytes (serve --max-buffered-mib); retry "
                + "later", status: .tooManyRequests, reason: "CallerRateLimitExceeded")
    }

    // MARK: Responses

    static func jsonResponse(_ bytes: [UInt8], status: HTTPResponse.Status = .ok, requestID: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.amznRequestID] = requestID
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    func configurationResponse(
        _ configuration: FunctionConfiguration, status: HTTPResponse.Status = .ok, requestID: String,
        creating: Bool = false
    ) -> Response {
        Self.jsonResponse(configuration.apiBytes(creating: creating), status: status, requestID: requestID)
    }

    static func function(_ request: LambdaRequest, _ service: LambdaService) throws(LambdaError) -> LambdaFunction {
        let name = try FunctionName.parse(request.parameter("name"))
        guard let function = service.function(named: name) else {
            throw LambdaError.functionNotFound(service.functionArn(name))
        }
        return function
    }

    // MARK: Functions

    private func createFunction(_ request: LambdaRequest, _ service: LambdaService) async throws -> Response {
        let p = try request.params()
        let name = try FunctionName.parse(try Self.required(p, "FunctionName"))
        guard (try? p.string("PackageType")) ?? "Zip" == "Zip" else {
            throw LambdaError.invalidParameter(
                "PackageType Image is not supported by ShardLog (it runs functions without Docker): deploy a zip "
                    + "with --zip-file fileb://function.zip")
        }
        let zip = try Self.zip(p)
        let environment = try Self.environment(p)
        let configuration = FunctionConfiguration(
            functionName: name, functionArn: service.functionArn(name),
            runtime: try Self.required(p, "Runtime"), role: try Self.required(p, "Role"),
            handler: try Self.required(p, "Handler"), codeSize: zip.count,
            description: try Self.string(p, "Description") ?? "", timeout: try Self.int(p, "Timeout") ?? 3,
            memorySize: try Self.int(p, "MemorySize") ?? 128, lastModified: FunctionConfiguration.timestamp(),
            codeSha256: CodeArchive.sha256(zip), environment: environment,
            architectures: try Self.strings(p, "Architectures") ?? ["x86_64"],
            revisionId: UUID().uuidString.lowercased())
        let tags = try Self.tags(p)
        let function = try service.create(configuration, zip: zip)
        if !tags.isEmpty { try service.tags.tag(function.configuration.functionArn, tags) }
        return configurationResponse(
            function.configuration, status: .created, requestID: request.requestID, creating: true)
    }

    private func listFunctions(_ request: LambdaRequest, _ service: LambdaService) async throws -> Response {
        let maxItems = try Self.maxItems(request, limit: 50)
        let all = service.allFunctions()
        var start = 0
        if let marker = request.query["Marker"], !marker.isEmpty {
            start = all.firstIndex { $0.name >= marker } ?? all.count
        }
        let page = Array(all[start..<min(all.count, start + maxItems)])
        let next = start + maxItems < all.count ? all[start + maxItems].name : nil
        return Self.listResponse(
            "Functions", page.map { $0.configuration.apiBytes() }, next: next, requestID: request.requestID)
    }

    static func listResponse(_ key: String, _ items: [[UInt8]], next: String?, requestID: String) -> Response {
        var out = Array("{\"\(key)\":[".utf8)
        for (i, item) in items.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: item)
        }
        out.append(UInt8(ascii: "]"))
        if let next {
            out.append(contentsOf: Array(",\"NextMarker\":".utf8))
            out.append(contentsOf: JSON.string(next).bytes)
        }
        out.append(UInt8(ascii: "}"))
        return jsonResponse(out, requestID: requestID)
    }

    /// The `Tags` member of a create request (empty when absent).
    /// - Throws: ``LambdaError`` when it is not a map of strings.
    static func tags(_ p: Params) throws(LambdaError) -> [String: String] {
        do {
            return try p.stringMap("Tags") ?? [:]
        } catch {
            throw LambdaError(
                "InvalidRequestContentException", "Could not parse request body into json: \(error.message)")
        }
    }

    static func maxItems(_ request: LambdaRequest, limit: Int) throws(LambdaError) -> Int {
        guard let text = request.query["MaxItems"] else { return limit }
        guard let value = Int(text), (1...10000).contains(value) else {
            throw LambdaError.validation(
                text, "maxItems", "Member must have value greater than or equal to 1 and less than or equal to 10000")
        }
        return min(value, 10000)
    }

    private func getFunction(_ request: LambdaRequest, _ service: LambdaService) async throws -> Response {
        let function = try Self.function(request, service)
        var out = Array("{\"Configuration\":".utf8)
        out.append(contentsOf: function.configuration.apiBytes())
        out.append(contentsOf: Array(",\"Code\":".utf8))
        out.append(
            contentsOf: JSON.fields([
                "RepositoryType": .string("S3"), "Location": .string("file://" + function.codeDirectory),
            ]).bytes)
        let tags = service.tags.tags(of: function.configuration.functionArn)
        if !tags.isEmpty {
            out.append(contentsOf: Array(",\"Tags\":".utf8))
            out.append(contentsOf: JSON.object(tags.mapValues(JSON.string)).bytes)
        }
        if let reserved = function.settings.reservedConcurrency {
            out.append(contentsOf: Array(",\"Concurrency\":".utf8))
            out.append(contentsOf: JSON.fields(["ReservedConcurrentExecutions": .integer(reserved)]).bytes)
        }
        out.append(UInt8(ascii: "}"))
        return Self.jsonResponse(out, requestID: request.requestID)
    }

    private func deleteFunction(_ request: LambdaRequest, _ service: LambdaService) async throws -> Response {
        let function = try Self.function(request, service)
        await service.delete(function)
        service.tags.remove(function.configuration.functionArn)
        return Response(status: .noContent, headers: [.amznRequestID: request.requestID])
    }

    private func updateFunctionConfiguration(_ request: LambdaRequest, _ service: LambdaService) async throws
        -> Response
    {
        let function = try Self.function(request, service)
        let p = try request.params()
        var configuration = function.configuration
        if let runtime = try Self.string(p, "Runtime") { configuration.runtime = runtime }
        if let role = try Self.string(p, "Role") { configuration.role = role }
        if let handler = try Self.string(p, "Handler") { configuration.handler = handler }
        if let description = try Self.string(p, "Description") { configuration.description = description }
        if let timeout = try Self.int(p, "Timeout") { configuration.timeout = timeout }
        if let memory = try Self.int(p, "MemorySize") { configuration.memorySize = memory }
        if p.has("Environment") { configuration.environment = try Self.environment(p) }
        if let revision = try Self.string(p, "RevisionId"), revision != configuration.revisionId {
            throw Self.revisionConflict
        }
        configuration.lastModified = FunctionConfiguration.timestamp()
        configuration.revisionId = UUID().uuidString.lowercased()
        try await service.updateConfiguration(function, configuration)
        return configurationResponse(configuration, requestID: request.requestID)
    }

    private func updateFunctionCode(_ request: LambdaRequest, _ service: LambdaService) async throws -> Response {
        let function = try Self.function(request, service)
        let p = try request.params()
        if let revision = try Self.string(p, "RevisionId"), revision != function.configuration.revisionId {
            throw Self.revisionConflict
        }
        let zip = try Self.zipFile(p, key: "ZipFile")
        let configuration = try await service.updateCode(function, zip: zip)
        return configurationResponse(configuration, requestID: request.requestID)
    }

    private static let revisionConflict = LambdaError(
        "PreconditionFailedException",
        "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to "
            + "retrieve the latest Revision Id",
        status: .preconditionFailed)

    private func invoke(_ request: LambdaRequest, _ service: LambdaService) async throws -> Response {
        let function = try Self.function(request, service)
        if let qualifier = request.query["Qualifier"], qualifier != "$LATEST" {
            throw LambdaError.invalidParameter(
                "ShardLog keeps only $LATEST of a function; qualifier '\(qualifier)' is not supported")
        }
        let type = request.headers[LambdaHeaders.invocationType] ?? "RequestResponse"
        let logType = request.headers[LambdaHeaders.logType] ?? "None"
        guard ["None", "Tail"].contains(logType) else {
            throw LambdaError.validation(
                logType, "logType", "Member must satisfy enum value set: [None, Tail]")
        }
        let payload = request.body.isEmpty ? Array("{}".utf8) : request.body
        if !request.body.isEmpty, (try? JSON(parsing: request.body)) == nil {
            throw LambdaError(
                "InvalidRequestContentException",
                "Could not parse request body into json: the payload is not valid JSON")
        }
        var headers = HTTPFields()
        headers[.amznRequestID] = request.requestID
        headers[LambdaHeaders.executedVersion] = "$LATEST"
        switch type {
        case "DryRun":
            return Response(status: .noContent, headers: headers)
        case "Event":
            guard request.body.count <= 262_144 else {
                throw LambdaError(
                    "RequestEntityTooLargeException",
                    "Request must be smaller than 262144 bytes for the InvokeFunction operation",
                    status: .contentTooLarge)
            }
            try service.enqueueEvent(function, payload: payload, requestId: request.requestID)
            return Response(status: .accepted, headers: headers)
        case "RequestResponse":
            let result = try await function.invoke(
                event: payload, requestId: request.requestID, wait: service.options.throttleWait,
                tail: logType == "Tail")
            headers[.contentType] = "application/json"
            if let error = result.functionError { headers[LambdaHeaders.functionError] = error }
            if logType == "Tail" {
                headers[LambdaHeaders.logResult] = Data(result.logTail.utf8).base64EncodedString()
            }
            return Response(
                status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: result.payload)))
        default:
            throw LambdaError.validation(
                type, "invocationType", "Member must satisfy enum value set: [Event, RequestResponse, DryRun]")
        }
    }

    // MARK: Parameters

    static func required(_ p: Params, _ key: String) throws(LambdaError) -> String {
        guard let value = try string(p, key) else {
            throw LambdaError(
                "ValidationException",
                "1 validation error detected: Value null at '\(key.prefix(1).lowercased() + key.dropFirst())' "
                    + "failed to satisfy constraint: Member must not be null")
        }
        return value
    }

    static func string(_ p: Params, _ key: String) throws(LambdaError) -> String? {
        do { return try p.string(key) } catch { throw LambdaError.invalidParameter(error.message) }
    }

    static func int(_ p: Params, _ key: String) throws(LambdaError) -> Int? {
        do { return try p.int(key) } catch { throw LambdaError.invalidParameter(error.message) }
    }

    static func strings(_ p: Params, _ key: String) throws(LambdaError) -> [String]? {
        do { return try p.strings(key) } catch { throw LambdaError.invalidParameter(error.message) }
    }

    private static func environment(_ p: Params) throws(LambdaError) -> FunctionConfiguration.Environment? {
        do {
            guard let environment = try p.object("Environment") else { return nil }
            return FunctionConfiguration.Environment(variables: try environment.stringMap("Variables") ?? [:])
        } catch {
            throw LambdaError.invalidParameter("Environment: \(error.message)")
        }
    }

    private static func zip(_ p: Params) throws(LambdaError) -> [UInt8] {
        let code: Params?
        do { code = try p.object("Code") } catch { throw LambdaError.invalidParameter(error.message) }
        guard let code else {
            throw LambdaError(
                "ValidationException",
                "1 validation error detected: Value null at 'code' failed to satisfy constraint: Member must not "
                    + "be null")
        }
        for key in ["S3Bucket", "S3Key", "ImageUri"] where code.has(key) {
            throw LambdaError.invalidParameter(
                "Code.\(key) is not supported by ShardLog: give the zip itself (aws lambda create-function "
                    + "--zip-file fileb://function.zip)")
        }
        return try zipFile(code, key: "ZipFile")
    }

    private static func zipFile(_ p: Params, key: String) throws(LambdaError) -> [UInt8] {
        guard p.has(key) else {
            throw LambdaError.invalidParameter(
                "Please provide a source for function code (\(key)): ShardLog takes the zip itself, e.g. "
                    + "--zip-file fileb://function.zip")
        }
        do {
            return try p.blob(key)
        } catch {
            throw LambdaError.invalidParameter(
                "Could not unzip uploaded file. Please check your file, then try to upload again.")
        }
    }
}

/// Answers `GET /health` with 503 and the reason when a hosted mapping (made through the Lambda API or by
/// `serve --mappings`) cannot start its handler; otherwise passes the request on.
struct LambdaHealthMiddleware: RouterMiddleware {
    typealias Context = KinesisRequestContext
    let host: LambdaHost

    func handle(
        _ request: Request, context: KinesisRequestContext,
        next: (Request, KinesisRequestContext) async throws -> Response
    ) async throws -> Response {
        guard request.method == .get, request.uri.path == "/health", let problem = host.unhealthyMapping else {
            return try await next(request, context)
        }
        return Response(
            status: .serviceUnavailable, headers: [.contentType: "text/plain"],
            body: .init(byteBuffer: ByteBuffer(string: "unhealthy: \(problem)\n")))
    }
}
