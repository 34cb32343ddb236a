import Foundation
import Logging
import ShardLog
import ShardLogWire

/// A Swift function that handles Kinesis batches in this process: the in-process handler kind.
///
/// ```swift
/// struct Orders: KinesisHandler {
///     func handle(_ records: [Record], context: HandlerContext) async throws -> BatchItemFailures {
///         var failures = BatchItemFailures()
///         for record in records where !process(record) {
///             failures.append(record.sequenceNumber)
///         }
///         return failures
///     }
/// }
/// ```
///
/// Return an empty ``BatchItemFailures`` for success; with `ReportBatchItemFailures` the sequence numbers you return
/// are retried (from the lowest one on). A thrown error is a function error, reported with the error's type name and
/// description, and the batch is retried as a whole. The handler is cancelled at the deadline
/// (``HandlerContext/deadline``); one that keeps running is abandoned and the invocation counts as timed out.
///
/// Handlers may be called concurrently for different shards or lanes (ParallelizationFactor), so they must be
/// `Sendable`.
public protocol KinesisHandler: Sendable {
    /// Handles one batch of records from one shard.
    /// - Parameters:
    ///   - records: The batch, in shard order (a lane's subsequence when ParallelizationFactor > 1).
    ///   - context: The invocation's identity, deadline and logger.
    /// - Returns: The records that failed, empty for full success.
    /// - Throws: Any error, which fails the whole batch (a function error).
    func handle(_ records: [Record], context: HandlerContext) async throws -> BatchItemFailures
}

/// What an in-process handler learns about its invocation: Lambda's `context` object.
///
/// A value type, safe to share between threads.
public struct HandlerContext: Sendable {
    /// The invocation's id (a UUID), as `context.aws_request_id` in Lambda.
    public var requestId: String
    /// When the invocation times out.
    public var deadline: Date
    /// The function name the mapping invokes.
    public var functionName: String
    /// `arn:aws:lambda:us-east-1:000000000000:function:<name>`.
    public var invokedFunctionArn: String
    /// The shard the batch comes from (`shardId-000000000000`).
    public var shardId: String
    /// The stream's name.
    public var streamName: String
    /// The stream's ARN.
    public var streamARN: String
    /// The concurrency slot running the batch (0 ..< shards × ParallelizationFactor).
    public var slot: Int
    /// A logger with `request.id` and `shard.id` metadata.
    public var logger: Logger
    /// The tumbling window of the batch, with the state the previous invocation of the window returned
    /// (``TumblingWindow/state``, JSON object text, empty for `{}`), when the mapping has `TumblingWindowInSeconds`;
    /// else `nil`. The handler must then return the new state in ``BatchItemFailures/state``.
    public var window: TumblingWindow?

    /// Creates a context.
    /// - Parameters:
    ///   - requestId: The invocation's id.
    ///   - deadline: When the invocation times out.
    ///   - functionName: The function name.
    ///   - invokedFunctionArn: The function ARN.
    ///   - shardId: The shard id.
    ///   - streamName: The stream name.
    ///   - streamARN: The stream ARN.
    ///   - slot: The concurrency slot.
    ///   - logger: The logger to use.
    ///   - window: The tumbling window and its state, if the mapping uses tumbling windows.
    public init(
        requestId: String,
        deadline: Date,
        functionName: String,
        invokedFunctionArn: String,
        shardId: String,
        streamName: String,
        streamARN: String,
        slot: Int,
        logger: Logger,
        window: TumblingWindow? = nil
    ) {
        self.requestId = requestId
        self.deadline = deadline
        self.functionName = functionName
        self.invokedFunctionArn = invokedFunctionArn
        self.shardId = shardId
        self.streamName = streamName
        self.streamARN = streamARN
        self.slot = slot
        self.logger = logger
        self.window = window
    }

    /// The time left until ``deadline`` (zero once it has passed), as Lambda's `getRemainingTimeInMillis()`.
    public var remainingTime: Duration {
        let seconds = deadline.timeIntervalSinceNow
        return seconds > 0 ? .milliseconds(Int64(min(seconds, 1e12) * 1000)) : .zero
    }
}

/// The records of a batch that failed: Lambda's partial batch response. Empty means the whole batch succeeded.
///
/// Encoded for the engine as `{"batchItemFailures":[{"itemIdentifier":"<sequenceNumber>"}]}`, followed by
/// `"state":<state>` when ``state`` is set. A value type.
public struct BatchItemFailures: Sendable, Hashable, ExpressibleByArrayLiteral {
    /// The sequence numbers of the failed records.
    public var sequenceNumbers: [String]
    /// The tumbling-window state to carry to the next invocation of the window: the UTF-8 text of a JSON object.
    /// Required when ``HandlerContext/window`` is set (a response without it fails the batch); ignored otherwise.
    public var state: [UInt8]?

    /// Creates a response.
    /// - Parameter sequenceNumbers: The sequence numbers of the failed records; empty for success.
    public init(_ sequenceNumbers: [String] = []) {
        self.sequenceNumbers = sequenceNumbers
    }

    /// Creates a response from a literal list of sequence numbers.
    /// - Parameter elements: The sequence numbers of the failed records.
    public init(arrayLiteral elements: String...) {
        self.sequenceNumbers = elements
    }

    /// Full success: no failed records.
    public static var none: BatchItemFailures { BatchItemFailures() }

    /// Whether no record failed.
    public var isEmpty: Bool { sequenceNumbers.isEmpty }

    /// Marks a record as failed.
    /// - Parameter sequenceNumber: The failed record's sequence number.
    public mutating func append(_ sequenceNumber: String) {
        sequenceNumbers.append(sequenceNumber)
    }

    /// Lambda's JSON response: `{"batchItemFailures":[{"itemIdentifier":"…"},…]}`, plus `"state":…` when set.
    public var jsonBytes: [UInt8] {
        var bytes = Array(#"{"batchItemFailures":["#.utf8)
        for (index, sequenceNumber) in sequenceNumbers.enumerated() {
            if index > 0 {
                bytes.append(UInt8(ascii: ","))
            }
            bytes.append(contentsOf: #"{"itemIdentifier":"#.utf8)
            bytes.appendJSONString(sequenceNumber)
            bytes.append(UInt8(ascii: "}"))
        }
        bytes.append(UInt8(ascii: "]"))
        if let state {
            bytes.append(contentsOf: #","state":"#.utf8)
            bytes.append(contentsOf: state.isEmpty ? Array("{}".utf8) : state)
        }
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }
}

extension InvocationBatch {
    /// The Lambda Kinesis event for this batch, as out-of-process handlers receive it. The region and account come
    /// from ``streamARN`` (`arn:aws:kinesis:<region>:<account>:stream/<name>`) when it has that form.
    var eventBytes: [UInt8] {
        event(encoder: eventEncoder)
    }

    /// The event encoder of this batch's shard (its fragments are built from the stream ARN, so build it once per
    /// shard and pass it to ``event(encoder:)``).
    var eventEncoder: KinesisEventEncoder {
        KinesisEventEncoder(
            source: KinesisEventSource(
                streamARN: streamARN, streamName: streamName, shardId: shardId, roleArn: roleArn))
    }

    /// Whether `encoder` writes this batch's shard, stream and identity (the function's role included).
    func isEncoded(by encoder: KinesisEventEncoder, streamARN encoderARN: String) -> Bool {
        encoderARN == streamARN && encoder.source.shardId == shardId && encoder.source.streamName == streamName
            && (roleArn == nil || encoder.source.invokeIdentityArn == roleArn)
    }

    /// The Lambda Kinesis event for this batch, written by `encoder` (``eventEncoder`` or a copy of it kept by the
    /// invoker), or ``rawEvent`` when set.
    func event(encoder: KinesisEventEncoder) -> [UInt8] {
        if let rawEvent {
            return rawEvent
        }
        // Each sequence number is formatted once (the encoder sizes the event before writing it).
        let events = records.map(EventRecord.init)
        return deaggregate
            ? encoder.encode(KPLAggregation.expand(events), window: window) : encoder.encode(events, window: window)
    }

    /// The sequence numbers of the batch, for response checks.
    var sequenceNumbers: Set<String> {
        Set(records.map(\.sequenceNumber))
    }
}

/// Naming shared by the handler kinds.
enum FunctionIdentity {
    /// `arn:aws:lambda:us-east-1:000000000000:function:<name>`.
    static func arn(functionName: String) -> String {
        "arn:aws:lambda:us-east-1:000000000000:function:\(functionName)"
    }
}

/// Deadlines of the handler kinds: wall-clock `Date`s in ``InvocationBatch``, continuous-clock instants for sleeping.
enum HandlerClock {
    /// `date` as an instant of the continuous clock.
    static func instant(for date: Date) -> ContinuousClock.Instant {
        // Clamped to ±30 years so a deadline far away (or NaN) cannot trap the conversion.
        let seconds = date.timeIntervalSinceNow.isNaN ? 0 : min(max(date.timeIntervalSinceNow, -1e9), 1e9)
        return .now + .milliseconds(Int64((seconds * 1000).rounded(.up)))
    }
}
