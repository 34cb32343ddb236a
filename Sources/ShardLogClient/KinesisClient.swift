import Foundation
import NIOCore
import ShardLogWire

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The signed client of one Kinesis JSON 1.1 endpoint (another `shardlog serve`, moto, or Amazon Kinesis), the one
/// the CLI's `--endpoint-url` commands and the mapping's remote source both use.
///
/// Requests are signed with SigV4 (``SigV4Signer``) from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
/// `AWS_SESSION_TOKEN` (dummy credentials when none are set, which local endpoints accept); the region is
/// `AWS_REGION`, else `AWS_DEFAULT_REGION`, else the endpoint's host name (`kinesis.REGION.amazonaws.com`), else
/// `us-east-1`. `http://` endpoints are reached through ``HTTPTransport`` (NIO, keep-alive connections), `https://`
/// ones through `URLSession`. Answers are read with ShardLogWire's ``JSON``. Thread-safety: immutable.
package struct KinesisClient: Sendable {
    /// The endpoint, e.g. `http://127.0.0.1:4567` or `https://kinesis.eu-west-1.amazonaws.com`.
    package let endpoint: URL
    /// The signer (credentials and region).
    package let signer: SigV4Signer
    /// The transport of an `http://` endpoint; `nil` for `https://`, which goes through ``session``.
    private let http: HTTPTransport?
    private let session: URLSession
    /// The `Host` header (host, and port when the URL names one), signed and sent.
    private let hostHeader: String
    /// The request path (with the query, if any).
    private let path: String

    /// The signing region.
    package var region: String { signer.region }

    /// Creates a client with credentials and region from `environment`.
    /// - Throws: ``KinesisClientError/invalidEndpoint(_:)`` when `endpoint` is not an `http://` or `https://` URL.
    package init(
        endpoint text: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(KinesisClientError) {
        let url = try Self.endpointURL(text)
        let host = url.host ?? ""
        let fromHost: String? =
            host.hasPrefix("kinesis.") && host.hasSuffix(".amazonaws.com")
            ? host.split(separator: ".").dropFirst().first.map(String.init) : nil
        let region = environment["AWS_REGION"] ?? environment["AWS_DEFAULT_REGION"] ?? fromHost ?? "us-east-1"
        self.init(
            endpoint: url,
            signer: SigV4Signer(
                accessKeyId: environment["AWS_ACCESS_KEY_ID"] ?? "AKIDSHARDLOGDUMMY",
                secretAccessKey: environment["AWS_SECRET_ACCESS_KEY"] ?? "shardlog-dummy-secret",
                sessionToken: environment["AWS_SESSION_TOKEN"], region: region, service: "kinesis"))
    }

    /// Creates a client of `endpoint` (an `http://` or `https://` URL) signing with `signer`.
    package init(endpoint: URL, signer: SigV4Signer) {
        self.endpoint = endpoint
        self.signer = signer
        let host = endpoint.host ?? ""
        hostHeader = host + (endpoint.port.map { ":\($0)" } ?? "")
        var path = endpoint.path.isEmpty ? "/" : endpoint.path
        if let query = endpoint.query { path += "?" + query }
        self.path = path
        http = endpoint.scheme?.lowercased() == "http" ? HTTPTransport(host: host, port: endpoint.port ?? 80) : nil
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 60
        configuration.httpMaximumConnectionsPerHost = 16
        session = URLSession(configuration: configuration)
    }

    /// `text` as an endpoint URL.
    /// - Throws: ``KinesisClientError/invalidEndpoint(_:)`` when it is not an `http://` or `https://` URL with a host.
    package static func endpointURL(_ text: String) throws(KinesisClientError) -> URL {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(),
            scheme == "http" || scheme == "https", url.host != nil
        else { throw .invalidEndpoint(text) }
        return url
    }

    /// Sends one request once and returns the body of a 200 answer.
    /// - Throws: ``KinesisServiceError`` for an error answer, ``KinesisTransportError`` when the endpoint cannot be
    ///   reached, `CancellationError` when the task is cancelled.
    package func sendBytes(_ operation: String, body: [UInt8]) async throws -> [UInt8] {
        let headers = [
            "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "Kinesis_20131202.\(operation)",
            "Host": hostHeader,
        ]
        let signed = signer.sign(url: endpoint, headers: headers, body: Data(body), date: Date())
        let status: Int
        let data: [UInt8]
        do {
            if let http {
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
            throw KinesisTransportError(
                description: "cannot call \(operation) at \(endpoint.absoluteString): \(error)")
        }
        guard status == 200 else { throw KinesisServiceError(answer: data, status: status) }
        return data
    }

    /// ``sendBytes(_:body:)``, retrying throttling, server and connection errors up to `attempts` times with
    /// exponential back-off and full jitter (``Backoff``).
    /// - Throws: the last error when every attempt failed, or the first one that is not retried.
    package func callBytes(_ operation: String, body: [UInt8], attempts: Int = 12) async throws -> [UInt8] {
        var backoff = Backoff()
        while true {
            do {
                return try await sendBytes(operation, body: body)
            } catch let error as KinesisServiceError where error.isRetryable && backoff.attempt + 1 < attempts {
                try await backoff.wait()
            } catch is KinesisTransportError where backoff.attempt + 1 < attempts {
                try await backoff.wait()
            }
        }
    }

    /// Calls an operation with a JSON object (retried as ``callBytes(_:body:attempts:)``) and returns the answer
    /// (`{}` for an empty body).
    /// - Throws: as ``callBytes(_:body:attempts:)``, or ``KinesisClientError/malformedAnswer(operation:reason:)``
    ///   when the answer is not JSON.
    package func call(_ operation: String, _ body: [String: JSON], attempts: Int = 12) async throws -> JSON {
        let data = try await callBytes(operation, body: JSON.object(body).bytes, attempts: attempts)
        if data.isEmpty { return .object([:]) }
        do {
            return try JSON(parsing: data)
        } catch {
            throw KinesisClientError.malformedAnswer(operation: operation, reason: error.description)
        }
    }
}

/// A client-side problem: an unusable endpoint or an answer that cannot be read.
package enum KinesisClientError: Error, Equatable, CustomStringConvertible {
    /// The endpoint text is not an `http://` or `https://` URL.
    case invalidEndpoint(String)
    /// A 200 answer that is not JSON.
    case malformedAnswer(operation: String, reason: String)

    /// The message for users.
    package var description: String {
        switch self {
        case .invalidEndpoint(let text): "'\(text)' is not an http:// or https:// URL"
        case .malformedAnswer(let operation, let reason): "\(operation) answered with malformed JSON: \(reason)"
        }
    }
}

/// An error answer of a Kinesis endpoint.
package struct KinesisServiceError: Error, CustomStringConvertible {
    /// The exception name (`__type` without its namespace), or `HTTP<status>` when the body has none.
    package var type: String
    /// The answer's `message` (or `Message`), else the start of its body.
    package var message: String
    /// The HTTP status.
    package var status: Int

    /// Reads an error answer: AWS's `__type` and `message`/`Message`.
    package init(answer: [UInt8], status: Int) {
        self.status = status
        type = "HTTP\(status)"
        message = String(decoding: answer.prefix(300), as: UTF8.self)
        if let object = try? JSON(parsing: answer) {
            if let t = object["__type"]?.stringValue { type = String(t.split(separator: "#").last ?? Substring(t)) }
            if let m = (object["message"] ?? object["Message"])?.stringValue { message = m }
        }
    }

    /// Throttling and server errors, which a client retries.
    package var isRetryable: Bool {
        status >= 500
            || [
                "ProvisionedThroughputExceededException", "LimitExceededException", "ThrottlingException",
                "KMSThrottlingException", "InternalFailure", "ServiceUnavailable",
            ].contains(type)
    }

    /// `Type (HTTP status): message`.
    package var description: String { "\(type) (HTTP \(status)): \(message)" }
}

/// The endpoint cannot be reached (connection refused or reset, closed before answering).
package struct KinesisTransportError: Error, CustomStringConvertible {
    /// What failed, naming the operation and the endpoint.
    package var description: String

    /// Creates an error with its message.
    package init(description: String) { self.description = description }
}

/// Exponential back-off with full jitter: the n-th wait is uniform in [0, min(cap, base · 2ⁿ)].
package struct Backoff: Sendable {
    /// The first wait's ceiling.
    package var base = Duration.milliseconds(50)
    /// The largest ceiling.
    package var cap = Duration.seconds(5)
    /// Waits so far since the last ``reset()``.
    package private(set) var attempt = 0

    /// Creates a back-off at its first step.
    package init() {}

    /// Sleeps for the next delay.
    package mutating func wait() async throws {
        let ceiling = min(cap, base * (1 << min(attempt, 20)))
        attempt += 1
        let ms = ceiling / .milliseconds(1)
        try await Task.sleep(for: .milliseconds(Double.random(in: 0...max(ms, 1))))
    }

    /// Back to the first delay (after a request that made progress).
    package mutating func reset() { attempt = 0 }
}
