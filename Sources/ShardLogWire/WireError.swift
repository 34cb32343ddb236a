/// Why bytes could not be read as JSON or CBOR, or why a request's AWS Signature Version 4 was refused: the one
/// error type of ``ShardLogWire``, modelled on NIO's `FileSystemError` (a ``code``, a ``message`` naming the
/// problem, and for decoding errors the byte ``offset`` where it was found).
///
/// The server turns it into the Kinesis error of the same name (`SerializationException` for the decoding codes);
/// the mapping and the CLI show ``description``.
package struct WireError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of problem.
    package enum Code: Sendable, Equatable {
        /// The bytes are not one well-formed JSON document (or nest deeper than the parser's limit).
        case malformedJSON
        /// The bytes are not one well-formed CBOR data item (or nest deeper than ``CBOR/maxDepth``).
        case malformedCBOR
        /// No signature at all: neither an `Authorization` header nor a presigned query string.
        case missingAuthenticationToken
        /// A signature with parts missing or malformed (each named in the message).
        case incompleteSignature
        /// A signature that does not match, is out of date or has the wrong scope.
        case invalidSignature
        /// An access key the verifier does not know.
        case unrecognizedClient
    }

    /// The kind of problem.
    package var code: Code
    /// What is wrong, without the offset (AWS's text for the signature codes).
    package var message: String
    /// The byte offset of the problem in the decoded input; `nil` for signature errors.
    package var offset: Int?

    /// Creates an error.
    /// - Parameters:
    ///   - code: the kind of problem.
    ///   - message: what is wrong.
    ///   - offset: where in the input, for decoding errors.
    package init(_ code: Code, _ message: String, offset: Int? = nil) {
        self.code = code
        self.message = message
        self.offset = offset
    }

    /// The message, followed by ` at byte N` when there is an offset.
    package var description: String {
        offset.map { "\(message) at byte \($0)" } ?? message
    }
}
