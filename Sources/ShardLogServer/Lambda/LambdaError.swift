import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ShardLogWire

/// An error of the Lambda API (REST-JSON): an HTTP status, the `x-amzn-ErrorType` header and a body
/// `{"Type": "User", "Message": …}`, as Lambda writes it.
struct LambdaError: Error, CustomStringConvertible, Sendable {
    /// Lambda's error name, such as `ResourceNotFoundException`.
    var type: String
    /// What went wrong.
    var message: String
    /// The HTTP status.
    var status: HTTPResponse.Status
    /// `Reason` of a `TooManyRequestsException` (a `ThrottleReason`), else `nil`.
    var reason: String?

    /// Creates an error.
    init(_ type: String, _ message: String, status: HTTPResponse.Status = .badRequest, reason: String? = nil) {
        self.type = type
        self.message = message
        self.status = status
        self.reason = reason
    }

    /// `TooManyRequestsException` (429) for an invocation that found every slot of its function busy: Lambda's
    /// `Rate Exceeded.` with reason `ReservedFunctionConcurrentInvocationLimitExceeded` when the function has reserved
    /// concurrency, `ConcurrentInvocationLimitExceeded` when `serve --max-concurrency` bounds it.
    static func throttled(reserved: Bool) -> LambdaError {
        LambdaError(
            "TooManyRequestsException", "Rate Exceeded.", status: .tooManyRequests,
            reason: reserved ? "ReservedFunctionConcurrentInvocationLimitExceeded" : "ConcurrentInvocationLimitExceeded"
        )
    }

    var description: String { "\(type): \(message)" }

    /// `ResourceNotFoundException` for a function: "Function not found: arn:…".
    static func functionNotFound(_ arn: String) -> LambdaError {
        LambdaError("ResourceNotFoundException", "Function not found: \(arn)", status: .notFound)
    }

    /// `InvalidParameterValueException`.
    static func invalidParameter(_ message: String) -> LambdaError {
        LambdaError("InvalidParameterValueException", message)
    }

    /// `ResourceConflictException` (409).
    static func conflict(_ message: String) -> LambdaError {
        LambdaError("ResourceConflictException", message, status: .conflict)
    }

    /// `ServiceException` (500).
    static func service(_ message: String) -> LambdaError {
        LambdaError("ServiceException", message, status: .internalServerError)
    }

    /// A `ValidationException` as Lambda words it: "1 validation error detected: Value … at '…' failed to satisfy
    /// constraint: …".
    static func validation(_ value: String, _ member: String, _ constraint: String) -> LambdaError {
        LambdaError(
            "ValidationException",
            "1 validation error detected: Value '\(value)' at '\(member)' failed to satisfy constraint: \(constraint)")
    }

    /// The HTTP response.
    func response(requestID: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.amznRequestID] = requestID
        headers[.amznErrorType] = type
        let body = JSON.fields([
            "Reason": reason.map { .string($0) }, "Type": .string("User"), "Message": .string(message),
        ]).bytes
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

/// The header names of the Lambda API.
enum LambdaHeaders {
    static let invocationType = name("X-Amz-Invocation-Type")
    static let logType = name("X-Amz-Log-Type")
    static let functionError = name("X-Amz-Function-Error")
    static let logResult = name("X-Amz-Log-Result")
    static let executedVersion = name("X-Amz-Executed-Version")

    private static func name(_ text: String) -> HTTPField.Name {
        guard let n = HTTPField.Name(text) else { preconditionFailure("invalid header name \(text)") }
        return n
    }
}
