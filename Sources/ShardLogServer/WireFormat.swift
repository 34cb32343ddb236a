import HTTPTypes
import Hummingbird
import NIOCore
// The server's JSON, CBOR and SigV4 live in ShardLogWire (shared with the mapping and the CLI). Re-exported so that
// every server file, and every module that imports the server, sees them without an import of its own.
import ShardLogWire

extension WireFormat {
    /// Runs `operation` with this as ``current``; the body of the response it returns is written with this as
    /// ``current`` too (a streamed body, such as `SubscribeToShard`'s events, is written after `operation` returns).
    /// A body of known length is already encoded and is left as it is: wrapped, it would be written apart from the
    /// response head (two writes, and two segments on the connection, instead of one).
    func run(_ operation: () async throws -> Response) async throws -> Response {
        guard self != .json else { return try await operation() }
        var response = try await Self.$current.withValue(self) { try await operation() }
        let body = response.body
        guard body.contentLength == nil else { return response }
        response.body = ResponseBody(contentLength: body.contentLength) { [self] writer in
            try await Self.$current.withValue(self) { try await body.write(writer) }
        }
        return response
    }

    /// Decodes a request body in this format (``decode(_:)``).
    /// - Throws: ``KinesisError`` `SerializationException` naming the problem and its byte offset.
    func decodeRequest(_ body: [UInt8]) throws(KinesisError) -> JSON {
        do {
            return try decode(body)
        } catch {
            throw KinesisError(error)
        }
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

    /// The Kinesis error for a ``WireError``: `SerializationException` (`malformed JSON request body: …` /
    /// `malformed CBOR request body: …`, with the byte offset) for a body that does not decode, the error of the same
    /// name for a refused signature.
    init(_ error: WireError) {
        switch error.code {
        case .malformedJSON: self.init(.serialization, "malformed JSON request body: \(error.description)")
        case .malformedCBOR: self.init(.serialization, "malformed CBOR request body: \(error.description)")
        case .missingAuthenticationToken: self.init(.missingAuthenticationToken, error.message)
        case .incompleteSignature: self.init(.incompleteSignature, error.message)
        case .invalidSignature: self.init(.invalidSignature, error.message)
        case .unrecognizedClient: self.init(.unrecognizedClient, error.message)
        }
    }
}
