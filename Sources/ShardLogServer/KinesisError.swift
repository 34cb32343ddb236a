import Foundation
import HTTPTypes
import Hummingbird
import ShardLog
import ShardLogWire

/// An error the Kinesis API returns to a client: a Kinesis error code (the `__type` of the JSON body) and a message.
///
/// Errors from the store (``ShardLog/ShardLogError``, whose texts are already AWS's) are converted by
/// ``KinesisError/init(_:)``; everything reaches HTTP through the single mapping in
/// ``KinesisError/response(requestID:)``.
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
        static let accessDenied = Code("AccessDeniedException")
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
        case let e as WireError:
            self.init(e)
        case let e as ShardLogError:
            switch e.code {
            case .invalidArgument, .resourceNotFound, .resourceInUse, .limitExceeded, .expiredIterator:
                self.init(Code(e.code.description), e.message)
            default:
                self.init(.internalFailure, e.message)
            }
        default:
            self.init(.internalFailure, "internal error: \(error)")
        }
    }

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
