/// The one error type of the `ShardLogMapping` module.
///
/// Modelled on NIO's `FileSystemError`: a broad ``Code`` that callers may branch on, a ``message`` that names the
/// field, record or process involved and says how to fix the problem, and an optional underlying ``cause``.
///
/// Configuration problems keep Lambda's wording so that users who know `CreateEventSourceMapping` recognise them:
/// ``Code/validation`` carries the "1 validation error detected: …" text of a `ValidationException`, and
/// ``Code/invalidParameter`` the text of an `InvalidParameterValueException`.
///
/// `MappingError` is a value type and safe to share between threads.
public struct MappingError: Error, CustomStringConvertible, Sendable {
    /// A broad category of ``MappingError``.
    ///
    /// New codes may be added; don't switch over them exhaustively.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: Hashable, Sendable {
            case validation
            case invalidParameter
            case handlerFailed
            case handlerTimedOut
            case handlerCrashed
            case invalidResponse
            case io
            case notFound
            case conflict
            case cancelled
            case unknown
        }

        private let wrapped: Wrapped

        private init(_ wrapped: Wrapped) {
            self.wrapped = wrapped
        }

        /// A value breaks a declared constraint (range, length, enum). Lambda reports these as `ValidationException`.
        public static var validation: Self { Self(.validation) }

        /// A parameter is present but unusable (a bad filter pattern, an inconsistent combination). Lambda reports
        /// these as `InvalidParameterValueException`.
        public static var invalidParameter: Self { Self(.invalidParameter) }

        /// The handler reported a function error (Lambda's `Unhandled` or `Handled`).
        public static var handlerFailed: Self { Self(.handlerFailed) }

        /// The handler did not answer before its deadline.
        public static var handlerTimedOut: Self { Self(.handlerTimedOut) }

        /// The handler process exited or crashed during an invocation (Lambda's `Runtime.ExitError`).
        public static var handlerCrashed: Self { Self(.handlerCrashed) }

        /// A handler response or other input could not be understood.
        public static var invalidResponse: Self { Self(.invalidResponse) }

        /// Reading or writing a file (configuration, checkpoint, failure destination) failed.
        public static var io: Self { Self(.io) }

        /// A mapping, stream or shard does not exist.
        public static var notFound: Self { Self(.notFound) }

        /// The operation conflicts with existing state (for example a duplicate mapping).
        public static var conflict: Self { Self(.conflict) }

        /// The operation was cancelled.
        public static var cancelled: Self { Self(.cancelled) }

        /// An error that fits no other code.
        public static var unknown: Self { Self(.unknown) }

        /// A short human-readable name of the code.
        public var description: String {
            switch wrapped {
            case .validation: "Validation error"
            case .invalidParameter: "Invalid parameter"
            case .handlerFailed: "Handler failed"
            case .handlerTimedOut: "Handler timed out"
            case .handlerCrashed: "Handler crashed"
            case .invalidResponse: "Invalid response"
            case .io: "I/O error"
            case .notFound: "Not found"
            case .conflict: "Conflict"
            case .cancelled: "Cancelled"
            case .unknown: "Unknown error"
            }
        }
    }

    /// Where in the source code an error was created.
    public struct Location: Hashable, Sendable, CustomStringConvertible {
        /// The function that created the error.
        public var function: String
        /// The file that created the error (`#fileID`).
        public var file: String
        /// The line that created the error.
        public var line: Int

        /// Creates a source location.
        /// - Parameters:
        ///   - function: The function name.
        ///   - file: The file identifier.
        ///   - line: The line number.
        public init(function: String, file: String, line: Int) {
            self.function = function
            self.file = file
            self.line = line
        }

        /// `file:line (function)`.
        public var description: String {
            "\(file):\(line) (\(function))"
        }
    }

    /// The category of the error.
    public var code: Code

    /// What went wrong, naming the field, record or process involved, and how to fix it.
    public var message: String

    /// The underlying error, if there is one.
    public var cause: (any Error)?

    /// Where the error was created.
    public var location: Location

    /// Creates an error.
    /// - Parameters:
    ///   - code: The category of the error.
    ///   - message: What went wrong and how to fix it.
    ///   - cause: The underlying error, if any.
    ///   - function: The creating function (defaults to the caller).
    ///   - file: The creating file (defaults to the caller).
    ///   - line: The creating line (defaults to the caller).
    public init(
        code: Code,
        message: String,
        cause: (any Error)? = nil,
        function: String = #function,
        file: String = #fileID,
        line: Int = #line
    ) {
        self.code = code
        self.message = message
        self.cause = cause
        self.location = Location(function: function, file: file, line: line)
    }

    /// `"<code>: <message>"`.
    public var description: String {
        "\(code): \(message)"
    }

    /// A multi-line description with the cause and the source location, for logs and bug reports.
    public var detailedDescription: String {
        var lines = ["MappingError: \(code)", "- message: \(message)"]
        if let cause {
            lines.append("- cause: \(String(reflecting: cause))")
        }
        lines.append("- location: \(location)")
        return lines.joined(separator: "\n")
    }
}
