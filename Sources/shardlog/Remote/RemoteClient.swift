import Foundation
import NIOCore
import ShardLogMapping
import ShardLogWire

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A Kinesis JSON 1.1 endpoint the CLI talks to with `--endpoint-url`: another `shardlog serve`, moto, or Amazon
/// Kinesis. Requests are signed with SigV4 (the mapping source's ``SigV4Signer``) from `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN` (dummy credentials when none are set, which local endpoints
/// accept), region from `AWS_REGION`, else `AWS_DEFAULT_REGION`, else the endpoint's host name, else `us-east-1`.
/// `http://` endpoints are reached through ``HTTPTransport`` (NIO, keep-alive connections), `https://` ones through
/// `URLSession`. Thread-safety: immutable.
struct RemoteClient: Sendable {
    /// An error answer of the endpoint.
    struct ServiceError: Error, CustomStringConvertible {
        /// The exception name (`__type` without its namespace), or `HTTP<status>` when the body has none.
        var type: String
        var message: String
        var status: Int

        /// Throttling and server errors, which a client retries.
        var isRetryable: Bool {
            status >= 500
                || [
                    "ProvisionedThroughputExceededException", "LimitExceededException", "ThrottlingException",
                    "KMSThrottlingException", "InternalFailure", "ServiceUnavailable",
                ].contains(type)
        }

        var description: String { "\(type) (HTTP \(status)): \(message)" }
    }

    /// The endpoint cannot be reached.
    struct TransportError: Error, CustomStringConvertible {
        var description: String
    }

    let endpoint: URL
    let signer: SigV4Signer
    let session: URLSession
    /// The transport of an `http://` endpoint; `nil` for `https://`, which goes through ``session``.
    let http: HTTPTransport?
    /// The `Host` header (host, and port when the URL names one), signed and sent.
    let hostHeader: String

    /// Creates a client.
    /// - Throws: `ValidationError` naming `--endpoint-url` when it is not an http(s) URL.
    init(endpoint text: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(),
            scheme == "http" || scheme == "https", url.host != nil
        else {
            throw CLIError("--endpoint-url '\(text)' is not an http:// or https:// URL")
        }
        endpoint = url
        let host = url.host ?? ""
        let fromHost: String? =
            host.hasPrefix("kinesis.") && host.hasSuffix(".amazonaws.com")
            ? host.split(separator: ".").dropFirst().first.map(String.init) : nil
        let region = environment["AWS_REGION"] ?? environment["AWS_DEFAULT_REGION"] ?? fromHost ?? "us-east-1"
        signer = SigV4Signer(
            accessKeyId: environment["AWS_ACCESS_KEY_ID"] ?? "AKIDSHARDLOGDUMMY",
            secretAccessKey: environment["AWS_SECRET_ACCESS_KEY"] ?? "shardlog-dummy-secret",
            sessionToken: environment["AWS_SESSION_TOKEN"], region: region, service: "kinesis")
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 60
        configuration.httpMaximumConnectionsPerHost = 16
        session = URLSession(configuration: configuration)
        hostHeader = host + (url.port.map { ":\($0)" } ?? "")
        http = scheme == "http" ? HTTPTransport(host: host, port: url.port ?? 80) : nil
    }

    /// Sends one request once and returns the JSON object of a 200 answer.
    /// - Throws: ``ServiceError`` for an error answer, ``TransportError`` when the endpoint cannot be reached.
    func send(_ operation: String, body: Data) async throws -> [String: Any] {
        let data = try await sendBytes(operation, body: Array(body))
        return ((try? JSONSerialization.jsonObject(with: Data(data))) as? [String: Any]) ?? [:]
    }

    /// Sends one request once and returns the body of a 200 answer.
    /// - Throws: ``ServiceError`` for an error answer, ``TransportError`` when the endpoint cannot be reached.
    func sendBytes(_ operation: String, body: [UInt8]) async throws -> [UInt8] {
        let headers = [
            "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "Kinesis_20131202.\(operation)",
            "Host": hostHeader,
        ]
        let signed = signer.sign(url: endpoint, headers: headers, body: Data(body), date: Date())
        let status: Int
        let data: [UInt8]
        do {
            if let http {
                var path = endpoint.path.isEmpty ? "/" : endpoint.path
                if let query = endpoint.query { path += "?" + query }
                let response = try await http.post(
                    path: path, headers: signed.map { ($0.key, $0.value) }, body: ByteBuffer(bytes: body))
                status = response.status
                data = Array(response.body.readableBytesView)
            } else {
                var request = URLRequest(url: endpoint)
                request.httpMethod = "POST"
                request.httpBody = Data(body)
                for (name, value) in signed where name != "Host" { request.setValue(value, forHTTPHeaderField: name) }
                let (answer, response) = try await session.data(for: request)
                status = (response as? HTTPURLResponse)?.statusCode ?? 0
                data = Array(answer)
            }
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw TransportError(
                description: "cannot call \(operation) at \(endpoint.absoluteString): \(error)")
        }
        guard status == 200 else {
            let object = (try? JSONSerialization.jsonObject(with: Data(data))) as? [String: Any]
            var type = "HTTP\(status)"
            if let t = object?["__type"] as? String { type = String(t.split(separator: "#").last ?? Substring(t)) }
            let message =
                (object?["message"] as? String) ?? (object?["Message"] as? String)
                ?? String(decoding: data.prefix(300), as: UTF8.self)
            throw ServiceError(type: type, message: message, status: status)
        }
        return data
    }

    /// Sends a request, retrying throttling, server and connection errors up to `attempts` times with exponential
    /// back-off and full jitter.
    func call(_ operation: String, body: Data, attempts: Int = 12) async throws -> [String: Any] {
        try await retrying(attempts: attempts) { try await send(operation, body: body) }
    }

    /// ``sendBytes(_:body:)`` with the retries of ``call(_:body:attempts:)``.
    func callBytes(_ operation: String, body: [UInt8], attempts: Int = 12) async throws -> [UInt8] {
        try await retrying(attempts: attempts) { try await sendBytes(operation, body: body) }
    }

    private func retrying<T>(attempts: Int, _ attempt: () async throws -> T) async throws -> T {
        var backoff = Backoff()
        while true {
            do {
                return try await attempt()
            } catch let error as ServiceError where error.isRetryable && backoff.attempt + 1 < attempts {
                try await backoff.wait()
            } catch is TransportError where backoff.attempt + 1 < attempts {
                try await backoff.wait()
            }
        }
    }
}

/// Exponential back-off with full jitter: the n-th wait is uniform in [0, min(cap, base · 2ⁿ)].
struct Backoff: Sendable {
    var base = Duration.milliseconds(50)
    var cap = Duration.seconds(5)
    /// Waits so far since the last ``reset()``.
    private(set) var attempt = 0

    /// Sleeps for the next delay.
    mutating func wait() async throws {
        let ceiling = min(cap, base * (1 << min(attempt, 20)))
        attempt += 1
        let ms = ceiling / .milliseconds(1)
        try await Task.sleep(for: .milliseconds(Double.random(in: 0...max(ms, 1))))
    }

    /// Back to the first delay (after a request that made progress).
    mutating func reset() { attempt = 0 }
}

/// A command-line error with its message.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
