/// The one error type of the `ShardLog` module.
///
/// Modelled on NIO's `FileSystemError`: a broad ``Code`` that callers may switch on, a `message` that
/// names the resource (stream, shard, segment file, line) and the remedy, and an optional underlying `cause`.
public struct ShardLogError: Error, CustomStringConvertible, Sendable {
    /// The broad category of a ``ShardLogError``; mirrors the Kinesis error codes where one applies.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        /// A request argument is out of range or malformed (Kinesis `InvalidArgumentException`).
        public static let invalidArgument = Code("InvalidArgumentException")
        /// The stream or shard does not exist (Kinesis `ResourceNotFoundException`).
        public static let resourceNotFound = Code("ResourceNotFoundException")
        /// The resource exists already or is in a state that forbids the request (`ResourceInUseException`).
        public static let resourceInUse = Code("ResourceInUseException")
        /// A quota or limit was exceeded (Kinesis `LimitExceededException`).
        public static let limitExceeded = Code("LimitExceededException")
        /// A shard iterator is older than five minutes (Kinesis `ExpiredIteratorException`).
        public static let expiredIterator = Code("ExpiredIteratorException")
        /// Stored data failed its checksum or structure check below the recovered point.
        public static let corruption = Code("CorruptionException")
        /// A system call failed.
        public static let io = Code("IOException")
        /// The file system is full.
        public static let noSpace = Code("NoSpaceException")
        /// An invariant was broken inside ShardLog.
        public static let `internal` = Code("InternalFailure")
        /// The Kinesis-style error name, e.g. `ResourceNotFoundException`.
        public var description: String { name }
    }

    /// The category of the failure.
    public var code: Code
    /// What went wrong, naming the resource and the remedy.
    public var message: String
    /// The operating-system error number behind an I/O failure, if any.
    public var errno: Int32?

    /// Creates an error.
    /// - Parameters:
    ///   - code: the category.
    ///   - message: a sentence naming the resource and the remedy.
    ///   - errno: the underlying `errno`, for system-call failures.
    public init(_ code: Code, _ message: String, errno: Int32? = nil) {
        self.code = code
        self.message = message
        self.errno = errno
    }

    /// The message, suitable for printing to a user.
    public var description: String { message }
}
