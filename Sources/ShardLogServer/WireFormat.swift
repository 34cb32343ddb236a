import HTTPTypes
import Hummingbird
import NIOCore

/// The wire format of a request, and so of its answer: JSON 1.1 (`application/x-amz-json-1.1`) or CBOR
/// (`application/x-amz-cbor-1.1`, what the AWS SDK for Java and the KCL send unless `AWS_CBOR_DISABLE` is set).
///
/// Both formats decode into the same ``JSON`` value, so validation and operations are shared; a response value is
/// written in the format of its request.
enum WireFormat: Sendable, Equatable {
    case json
    case cbor

    /// `application/x-amz-cbor-1.1`.
    static let cborContentType = "application/x-amz-cbor-1.1"

    /// The format a request's `Content-Type` names: CBOR for `application/x-amz-cbor-*` (and `application/cbor`),
    /// JSON for anything else (boto3 and the CLI send `application/x-amz-json-1.1`, some clients nothing).
    init(contentType: String?) {
        let type = (contentType ?? "").lowercased()
        self = type.hasPrefix("application/x-amz-cbor") || type.hasPrefix("application/cbor") ? .cbor : .json
    }

    /// The format of the request being handled (set by `KinesisServer.handle` around the operation and around
    /// the writing of a streamed response body).
    @TaskLocal static var current: WireFormat = .json

    /// The `Content-Type` of a response (and of an event-stream payload) in this format.
    var contentType: String {
        switch self {
        case .json: KinesisServer.jsonContentType
        case .cbor: Self.cborContentType
        }
    }

    /// The `:content-type` of an event-stream payload in this format.
    var eventPayloadContentType: String {
        switch self {
        case .json: "application/json"
        case .cbor: Self.cborContentType
        }
    }

    /// `value` encoded in this format.
    func encode(_ value: JSON) -> [UInt8] {
        if case .encoded(let format, let bytes) = value, format == self { return bytes }
        switch self {
        case .json: return value.bytes
        case .cbor: return CBOR.encode(value)
        }
    }

    /// Runs `operation` with this as ``current``; the body of the response it returns is written with this as
    /// ``current`` too (a streamed body, such as `SubscribeToShard`'s events, is written after `operation` returns).
    func run(_ operation: () async throws -> Response) async throws -> Response {
        guard self != .json else { return try await operation() }
        var response = try await Self.$current.withValue(self) { try await operation() }
        let body = response.body
        response.body = ResponseBody(contentLength: body.contentLength) { [self] writer in
            try await Self.$current.withValue(self) { try await body.write(writer) }
        }
        return response
    }
}

extension KinesisError {
    /// The HTTP response for this error in `format`: the JSON body of ``response(requestID:)``, or for CBOR the same
    /// members (`__type` and the message) as a CBOR map, with `Content-Type: application/x-amz-cbor-1.1`.
    func response(requestID: String, format: WireFormat) -> Response {
        var response = response(requestID: requestID)
        guard format == .cbor else { return response }
        response.headers[.contentType] = format.contentType
        response.body = ResponseBody(byteBuffer: ByteBuffer(bytes: body(in: format)))
        return response
    }

    /// The error body in `format`: `__type` and the message (under ``messageKey``).
    func body(in format: WireFormat) -> [UInt8] {
        format.encode(
            .fields([.init(key: "__type", value: .string(code.name)), .init(key: messageKey, value: .string(message))]))
    }
}
