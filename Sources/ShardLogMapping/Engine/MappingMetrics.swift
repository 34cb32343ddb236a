import Foundation
import Synchronization

/// A snapshot of one event source mapping's counters and gauges.
///
/// Counters accumulate from the start of ``EventSourceMapping/run(exitWhenIdle:)``; gauges (`inFlight`,
/// `iteratorAgeMilliseconds`, shard counts) describe the moment of the snapshot. A value type: safe to share.
public struct MappingMetrics: Sendable, Equatable, Codable {
    /// `IteratorAge`: the age in milliseconds of the last record of the most recently finished batch (the largest
    /// over shards); 0 once a shard is caught up. A stopped mapping keeps the age of the shards it left behind.
    public var iteratorAgeMilliseconds: Int64 = 0
    /// Records written to the stream and not yet handled, summed over the shards being read (read and waiting in a
    /// lane, or not read yet); `nil` when the source cannot tell (a remote stream). Measured about every 500 ms
    /// and when a shard's reader stops.
    public var recordsBehind: Int?
    /// Lambda's `LastProcessingResult`: `No records processed`, `OK`, or `PROBLEM: <reason>`.
    public var lastProcessingResult: String?
    /// Invocations made (every attempt of every batch or half).
    public var batches = 0
    /// Records the handler processed successfully (each counted once, when its checkpoint may pass it).
    public var records = 0
    /// Invocations that ended in a function error: the handler raised, timed out or crashed, or returned a response
    /// that fails the whole batch.
    public var functionErrors = 0
    /// Invocations whose `batchItemFailures` reported a partial failure.
    public var partialFailures = 0
    /// Invocations that could not be attempted (retried without consuming `MaximumRetryAttempts`).
    public var serviceErrors = 0
    /// Re-invocations of records after a failed attempt (function error or partial failure).
    public var retries = 0
    /// Batches split in two by `BisectBatchOnFunctionError`.
    public var bisections = 0
    /// Records discarded (retries exhausted or older than `MaximumRecordAgeInSeconds`).
    public var discardedRecords = 0
    /// Invocation records written to the on-failure destination.
    public var failureRecordsWritten = 0
    /// Records dropped by `FilterCriteria` (counted as processed).
    public var filteredRecords = 0
    /// Batches being invoked right now.
    public var inFlight = 0
    /// Shards being read now.
    public var activeShards = 0
    /// Shards closed and fully handled.
    public var finishedShards = 0

    /// Creates zeroed metrics.
    public init() {}
}

/// What ``EventSourceMapping/run(exitWhenIdle:)`` returns when the mapping stops.
public struct MappingSummary: Sendable, Equatable, Codable {
    /// The mapping's name.
    public var mappingName: String
    /// The stream read.
    public var streamName: String
    /// The final metrics.
    public var metrics: MappingMetrics
    /// How long the mapping ran, in seconds.
    public var elapsedSeconds: Double
    /// The persisted checkpoint of every known shard, by shard id.
    public var checkpoints: [String: ShardCheckpoint]

    /// Creates a summary.
    /// - Parameters:
    ///   - mappingName: the mapping's name.
    ///   - streamName: the stream.
    ///   - metrics: the final metrics.
    ///   - elapsedSeconds: run time.
    ///   - checkpoints: per shard checkpoints.
    public init(
        mappingName: String, streamName: String, metrics: MappingMetrics, elapsedSeconds: Double,
        checkpoints: [String: ShardCheckpoint]
    ) {
        self.mappingName = mappingName
        self.streamName = streamName
        self.metrics = metrics
        self.elapsedSeconds = elapsedSeconds
        self.checkpoints = checkpoints
    }
}

/// The live counters of a running mapping. Thread-safety: safe from any task (one `Mutex`, short sections).
final class MetricsRecorder: Sendable {
    private struct State {
        var metrics = MappingMetrics()
        var iteratorAges: [String: Int64] = [:]
        var backlogs: [String: Int] = [:]
        var backlogUnknown = false
    }

    private let state = Mutex(State())

    /// Applies `change` to the counters.
    func update(_ change: (inout MappingMetrics) -> Void) {
        state.withLock { change(&$0.metrics) }
    }

    /// Sets the iterator age of one shard (`nil` removes it).
    func setIteratorAge(shardId: String, milliseconds: Int64?) {
        state.withLock { $0.iteratorAges[shardId] = milliseconds }
    }

    /// Raises the iterator age of one shard to at least `milliseconds`.
    func raiseIteratorAge(shardId: String, milliseconds: Int64) {
        state.withLock { $0.iteratorAges[shardId] = max($0.iteratorAges[shardId] ?? 0, milliseconds) }
    }

    /// Sets the records behind of one shard (`nil`: the source cannot tell).
    func setRecordsBehind(shardId: String, records: Int?) {
        state.withLock { s in
            if let records {
                s.backlogs[shardId] = records
            } else {
                s.backlogUnknown = true
            }
        }
    }

    /// A snapshot; the iterator age is the largest over shards, records behind their sum.
    var snapshot: MappingMetrics {
        state.withLock { s in
            var m = s.metrics
            m.iteratorAgeMilliseconds = s.iteratorAges.values.max() ?? 0
            m.recordsBehind = s.backlogUnknown ? nil : s.backlogs.values.reduce(0, +)
            return m
        }
    }
}
