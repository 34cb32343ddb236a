import Foundation
import HTTPTypes
import Hummingbird
import ShardLog

/// An error the Kinesis API returns to a client: a Kinesis error code (the `__type` of the JSON body) and a message.
///
/// Errors from the store (``ShardLog/ShardLogError``) are converted by ``KinesisError/init(_:)``; everything reaches
/// HTTP through the single mapping in ``KinesisError/response(requestID:)``.
package struct KinesisError: Error, CustomStringConvertible, Sendable, Equatable {
    /// A Kinesis error code, such as `ResourceNotFoundException`.
    package struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The `__type` name.
        package let name: String
        /// Creates a code from its `__type` name.
        package init(_ name: String) { self.name = name }
        /// The `__type` name.
        package var description: String { name }

        static let invalidArgument = Code("InvalidArgumentException")
        static let resourceNotFound = Code("ResourceNotFoundException")
        static let resourceInUse = Code("ResourceInUseException")
        static let limitExceeded = Code("LimitExceededException")
        static let expiredIterator = Code("ExpiredIteratorException")
        static let expiredNextToken = Code("ExpiredNextTokenException")
        static let provisionedThroughputExceeded = Code("ProvisionedThroughputExceededException")
        static let validation = Code("ValidationException")
        static let serialization = Code("SerializationException")
        static let unknownOperation = Code("UnknownOperationException")
        static let unrecognizedClient = Code("UnrecognizedClientException")
        static let invalidSignature = Code("InvalidSignatureException")
        static let missingAuthenticationToken = Code("MissingAuthenticationTokenException")
        static let incompleteSignature = Code("IncompleteSignatureException")
        static let internalFailure = Code("InternalFailure")
        static let requestTimeout = Code("RequestTimeoutException")
    }

    /// The error code.
    package var code: Code
    /// A message naming the resource and, where there is one, the remedy.
    package var message: String
    /// An HTTP status other than the default (400, or 500 for `InternalFailure`), e.g. 413.
    package var statusOverride: Int?

    /// Creates an error.
    /// - Parameters:
    ///   - code: the Kinesis error code.
    ///   - message: what went wrong.
    ///   - status: an HTTP status overriding the default.
    package init(_ code: Code, _ message: String, status: Int? = nil) {
        self.code = code
        self.message = message
        self.statusOverride = status
    }

    /// The Kinesis form of any error: ``KinesisError`` as is, ``ShardLog/ShardLogError`` by its code (I/O, corruption
    /// and internal errors become `InternalFailure`), anything else `InternalFailure`.
    /// - Parameter error: the error thrown while handling a request.
    package init(_ error: any Error) {
        switch error {
        case let e as KinesisError:
            self = e
        case let e as ShardLogError:
            switch e.code {
            case .invalidArgument, .resourceNotFound, .resourceInUse, .limitExceeded, .expiredIterator:
                self.init(Code(e.code.description), Self.awsText(e.message))
            default:
                self.init(.internalFailure, e.message)
            }
        default:
            self.init(.internalFailure, "internal error: \(error)")
        }
    }

    /// The store's wording of a Kinesis error turned into AWS's: `Shard X in stream S does not exist` (resharding) →
    /// `Could not find shard X in stream S under account 000000000000.` Other texts (the store already says
    /// `Stream x under account A not found.` as AWS does) pass unchanged.
    static func awsText(_ message: String) -> String {
        if let text = reshardingText(message) { return text }
        let shardPrefix = "Shard "
        let streamInfix = " in stream "
        let suffix = " does not exist"
        if message.hasPrefix(shardPrefix), message.hasSuffix(suffix),
            let infix = message.range(of: streamInfix)
        {
            let shard = message[message.index(message.startIndex, offsetBy: shardPrefix.count)..<infix.lowerBound]
            let stream = message[infix.upperBound..<message.index(message.endIndex, offsetBy: -suffix.count)]
            if !shard.contains(" "), !stream.contains(" ") {
                return "Could not find shard \(shard) in stream \(stream) under account \(accountID)."
            }
        }
        return message
    }

    /// The store's resharding refusals in AWS's words: shards that are not adjacent, and closed shards.
    private static func reshardingText(_ message: String) -> String? {
        let words = message.split(separator: " ").map(String.init)
        // "Shards A and B in stream S are not adjacent"
        if words.count == 10, words[0] == "Shards", words[2] == "and", words[4] == "in", words[5] == "stream",
            message.hasSuffix(" are not adjacent")
        {
            return "Shards \(words[1]) and \(words[3]) in stream \(words[6]) under account \(accountID) are not an"
                + " adjacent pair of shards eligible for merging"
        }
        // "Shard X in stream S is closed (it was already resharded)"
        if words.count >= 7, words[0] == "Shard", words[2] == "in", words[3] == "stream", words[5] == "is",
            words[6] == "closed"
        {
            return
                "Shard \(words[1]) in stream \(words[4]) under account \(accountID) has already been merged or split,"
                + " and thus is not eligible for merging or splitting."
        }
        return nil
    }

    /// The account every resource belongs to (regions and accounts are not modelled yet).
    static let accountID = "000000000000"

    /// The key of the message in the JSON error body, as AWS writes it for this code: `Message` for
    /// `SerializationException`, `message` for the rest.
    package var messageKey: String { code == .serialization ? "Message" : "message" }

    /// The HTTP status: the override, else 500 for `InternalFailure` and 400 for every other code (as AWS).
    package var status: Int {
        statusOverride ?? (code == .internalFailure ? 500 : 400)
    }

    /// The JSON error body: `{"__type":"…","message":"…"}` (`Message` where AWS capitalizes it, see ``messageKey``).
    package var body: [UInt8] {
        JSON.fields(["__type": .string(code.name), messageKey: .string(message)]).bytes
    }

    /// `CODE: message`.
    package var description: String { "\(code.name): \(message)" }

    /// The HTTP response for this error — the one error→HTTP mapping of the server.
    /// - Parameter requestID: the value of `x-amzn-RequestId`.
    func response(requestID: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = KinesisServer.jsonContentType
        headers[.amznRequestID] = requestID
        headers[.amznErrorType] = code.name
        return Response(
            status: HTTPResponse.Status(code: status),
            headers: headers,
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }
}

extension HTTPField.Name {
    /// `x-amzn-RequestId`.
    static let amznRequestID = required("x-amzn-RequestId")
    /// `x-amzn-ErrorType`.
    static let amznErrorType = required("x-amzn-ErrorType")
    /// `X-Amz-Target`.
    static let amzTarget = required("X-Amz-Target")
    /// `X-Amz-Date`.
    static let amzDate = required("X-Amz-Date")
    /// `X-Amz-Content-Sha256`.
    static let amzContentSHA256 = required("X-Amz-Content-Sha256")

    private static func required(_ name: String) -> HTTPField.Name {
        guard let n = HTTPField.Name(name) else { preconditionFailure("invalid header name \(name)") }
        return n
    }
}
