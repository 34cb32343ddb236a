import Foundation
import ShardLog

/// One synchronous invocation: a batch of records from one shard, as Lambda delivers it.
public struct InvocationBatch: Sendable {
    /// The records, in shard order (a lane's subsequence when ParallelizationFactor > 1).
    public var records: [Record]
    /// `shardId-000000000000`.
    public var shardId: String
    /// The stream's name.
    public var streamName: String
    /// `arn:aws:kinesis:us-east-1:000000000000:stream/<name>`.
    public var streamARN: String
    /// A fresh UUID per invocation (also the Runtime API request id).
    public var requestId: String
    /// When the invocation times out.
    public var deadline: Date
    /// A stable slot number (0 ..< shards × ParallelizationFactor) so out-of-process handlers can keep one
    /// process per concurrent batch.
    public var slot: Int
    /// The tumbling-window fields (`window`, `state`, `isFinalInvokeForWindow`, `isWindowTerminatedEarly`) when
    /// the mapping has `TumblingWindowInSeconds`, else `nil`. The handler must then answer with a `state`.
    public var window: TumblingWindow?
    /// An event to deliver as is instead of the Kinesis event built from ``records`` (a direct `Invoke` of a
    /// function), or `nil`.
    public var rawEvent: [UInt8]?
    /// Whether the event delivers KPL aggregated records as their user records (the mapping's `Deaggregate`).
    public var deaggregate: Bool
    /// The function's execution role, written to each record's `invokeIdentityArn`; `nil` for
    /// `arn:aws:iam::<account>:role/shardlog` (a mapping of `shardlog map`, which has no function).
    public var roleArn: String?

    /// Creates a batch.
    public init(
        records: [Record], shardId: String, streamName: String, streamARN: String, requestId: String,
        deadline: Date, slot: Int, deaggregate: Bool = false, window: TumblingWindow? = nil
    ) {
        self.deaggregate = deaggregate
        self.records = records
        self.shardId = shardId
        self.streamName = streamName
        self.streamARN = streamARN
        self.requestId = requestId
        self.deadline = deadline
        self.slot = slot
        self.window = window
    }
}

/// What one invocation produced.
public enum InvocationOutcome: Sendable, Equatable {
    /// The function returned; the payload is its raw JSON response (possibly empty), to be read with Lambda's
    /// partial-batch-response rules.
    case response([UInt8])
    /// The function raised (the runtime posted to `/error`, or an exec handler exited non-zero): a function error.
    case functionError(type: String, message: String)
    /// The function ran past its deadline and was stopped: a function error.
    case timedOut
    /// The runtime process died mid-invocation (`Runtime.ExitError`) or failed to initialise: a function error.
    case crashed(String)
    /// The invocation could not be attempted (e.g. the handler process could not be started): an invocation error,
    /// retried without consuming MaximumRetryAttempts.
    case serviceError(String)

    /// Whether this counts as a function error (consumes a retry attempt).
    public var isFunctionError: Bool {
        switch self {
        case .functionError, .timedOut, .crashed: true
        case .response, .serviceError: false
        }
    }
}

/// Something that runs a batch: an in-process Swift handler, a pool of Runtime API processes, or an exec command.
///
/// Implementations must be safe to call concurrently (one call per slot at a time).
public protocol Invoker: Sendable {
    /// Runs one batch synchronously and reports the outcome. Never throws: failures are outcomes.
    func invoke(_ batch: InvocationBatch) async -> InvocationOutcome
    /// Stops any processes and servers; called once when the mapping stops.
    func shutdown() async
    /// The executor the mapping should run a slot's batches on, when the invoker answers that slot on a thread of
    /// its own (a Runtime API slot's event loop), so that waiting for the answer and starting the next batch cost
    /// no thread hop; `nil` (the default) for the cooperative pool.
    /// - Parameter slot: The slot (``InvocationBatch/slot``).
    func taskExecutor(slot: Int) -> (any TaskExecutor)?
}

extension Invoker {
    /// The cooperative pool: `nil`.
    public func taskExecutor(slot: Int) -> (any TaskExecutor)? { nil }
}
