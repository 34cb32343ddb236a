/// The wire format of a request, and so of its answer: JSON 1.1 (`application/x-amz-json-1.1`) or CBOR
/// (`application/x-amz-cbor-1.1`, what the AWS SDK for Java and the KCL send unless `AWS_CBOR_DISABLE` is set).
///
/// Both formats decode into the same ``JSON`` value, so validation and operations are shared; a response value is
/// written in the format of its request.
package enum WireFormat: Sendable, Equatable {
    /// `application/x-amz-json-1.1`.
    case json
    /// `application/x-amz-cbor-1.1`.
    case cbor

    /// `application/x-amz-json-1.1`.
    package static let jsonContentType = "application/x-amz-json-1.1"

    /// `application/x-amz-cbor-1.1`.
    package static let cborContentType = "application/x-amz-cbor-1.1"

    /// The format a request's `Content-Type` names: CBOR for `application/x-amz-cbor-*` (and `application/cbor`),
    /// JSON for anything else (boto3 and the CLI send `application/x-amz-json-1.1`, some clients nothing).
    package init(contentType: String?) {
        let type = (contentType ?? "").lowercased()
        self = type.hasPrefix("application/x-amz-cbor") || type.hasPrefix("application/cbor") ? .cbor : .json
    }

    /// The format of the request being handled (set by the server around the operation and around the writing of a
    /// streamed response body).
    @TaskLocal package static var current: WireFormat = .json

    /// The `Content-Type` of a response (and of an event-stream payload) in this format.
    package var contentType: String {
        switch self {
        case .json: Self.jsonContentType
        case .cbor: Self.cborContentType
        }
    }

    /// The `:content-type` of an event-stream payload in this format.
    package var eventPayloadContentType: String {
        switch self {
        case .json: "application/json"
        case .cbor: Self.cborContentType
        }
    }

    /// `value` encoded in this format.
    package func encode(_ value: JSON) -> [UInt8] {
        if case .encoded(let format, let bytes) = value, format == self { return bytes }
        switch self {
        case .json: return value.bytes
        case .cbor: return CBOR.encode(value)
        }
    }

    /// Decodes a request body in this format: JSON nested at most ``CBOR/maxDepth`` deep (as CBOR), numbers too large
    /// for a `Double` read as `±infinity` (as CBOR's floats can be), for the operation to refuse by name.
    /// - Throws: ``WireError/Code/malformedJSON`` or ``WireError/Code/malformedCBOR`` naming the problem and its
    ///   byte offset.
    package func decode(_ bytes: [UInt8]) throws(WireError) -> JSON {
        switch self {
        case .json: try JSON(parsing: bytes, maximumDepth: CBOR.maxDepth, outOfRange: .infinite)
        case .cbor: try CBOR.decode(bytes)
        }
    }
}
