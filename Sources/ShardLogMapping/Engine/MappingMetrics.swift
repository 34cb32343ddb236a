import Foundation
import ShardLog
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
    /// How long invocations took (every attempt), in fixed buckets.
    public var invocationDurations = DurationBuckets()

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

    /// Records the end of one invocation: one fewer in flight, and its duration.
    func finishedInvocation(after duration: Duration) {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        state.withLock {
            $0.metrics.inFlight -= 1
            $0.metrics.invocationDurations.record(seconds: seconds)
        }
    }

    /// The iterator age and records behind of every shard with either.
    var shardLags: [String: ShardLag] {
        state.withLock { s in
            var lags: [String: ShardLag] = [:]
            for id in Set(s.iteratorAges.keys).union(s.backlogs.keys) {
                lags[id] = ShardLag(iteratorAgeMilliseconds: s.iteratorAges[id] ?? 0, recordsBehind: s.backlogs[id])
            }
            return lags
        }
    }

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

/// Invocation durations counted in fixed buckets, each with the sum of its durations, so that another process
/// (`shardlog serve` reading a mapping's `status.json`) can rebuild a Prometheus histogram with exact bucket counts,
/// count and sum. A value type: safe to share.
public struct DurationBuckets: Sendable, Equatable, Codable {
    /// The buckets' upper bounds in seconds (inclusive, as Prometheus' `le`); a last bucket holds the rest.
    public static let bounds: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900]
    /// Durations per bucket (not cumulative): `counts[i]` for `bounds[i]`, the last for longer ones.
    public var counts: [Int]
    /// The sum of the durations in each bucket, in seconds.
    public var sums: [Double]

    enum CodingKeys: String, CodingKey {
        case counts = "Counts"
        case sums = "SumsSeconds"
    }

    /// Empty buckets.
    public init() {
        counts = Array(repeating: 0, count: Self.bounds.count + 1)
        sums = Array(repeating: 0, count: Self.bounds.count + 1)
    }

    /// Counts one duration.
    mutating func record(seconds: Double) {
        let i = Self.bounds.firstIndex { seconds <= $0 } ?? Self.bounds.count
        guard counts.indices.contains(i), sums.indices.contains(i) else { return }
        counts[i] += 1
        sums[i] += seconds
    }
}

/// One shard's lag as a mapping last measured it.
package struct ShardLag: Codable, Sendable, Equatable {
    /// The age of the last record handled (0 once caught up).
    package var iteratorAgeMilliseconds: Int64
    /// Records written and not yet handled; `nil` when the source cannot tell.
    package var recordsBehind: Int?

    enum CodingKeys: String, CodingKey {
        case iteratorAgeMilliseconds = "IteratorAgeMilliseconds"
        case recordsBehind = "RecordsBehind"
    }
}

/// The counters and per-shard lag a running mapping publishes in its `status.json` (the `Metrics` member of
/// ``MappingStatusFile``), read by `shardlog serve` for `/metrics` and by `shardlog status`.
///
/// Counters count from the start of one run, named by ``runId``: a reader that sees a new run id starts over from
/// the new values (a restarted `shardlog map` does not make a counter go backwards in Prometheus).
package struct MappingStatusMetrics: Codable, Sendable, Equatable {
    /// A new id for every run of the mapping.
    package var runId: String
    /// The stream read.
    package var streamName: String
    /// Whether the mapping was running when this was written (`false`: the final write of a run).
    package var running: Bool
    /// Invocations made (``MappingMetrics/batches``).
    package var invocations: Int
    /// Records handled successfully.
    package var records: Int
    /// Invocations that ended in a function error.
    package var functionErrors: Int
    /// Invocations that reported a partial batch failure.
    package var partialFailures: Int
    /// Invocations that could not be attempted (the handler could not start).
    package var serviceErrors: Int
    /// Records discarded (retries exhausted or too old).
    package var discardedRecords: Int
    /// Invocation durations.
    package var invocationDurations: DurationBuckets
    /// Per shard lag, by shard id.
    package var shards: [String: ShardLag]

    enum CodingKeys: String, CodingKey {
        case runId = "RunId"
        case streamName = "StreamName"
        case running = "Running"
        case invocations = "Invocations"
        case records = "Records"
        case functionErrors = "FunctionErrors"
        case partialFailures = "PartialFailures"
        case serviceErrors = "ServiceErrors"
        case discardedRecords = "DiscardedRecords"
        case invocationDurations = "InvocationDurations"
        case shards = "Shards"
    }

    /// The status of a run from its metrics.
    init(runId: String, streamName: String, running: Bool, metrics m: MappingMetrics, shards: [String: ShardLag]) {
        self.runId = runId
        self.streamName = streamName
        self.running = running
        invocations = m.batches
        records = m.records
        functionErrors = m.functionErrors
        partialFailures = m.partialFailures
        serviceErrors = m.serviceErrors
        discardedRecords = m.discardedRecords
        invocationDurations = m.invocationDurations
        self.shards = shards
    }
}

/// Decides when a mapping writes its `status.json`: at once when `LastProcessingResult` changed, at most about once
/// a second when only counters or lag changed, every ``heartbeat`` even when nothing changed (so a reader can tell
/// a running mapping from one whose process died: its `UpdatedAt` stays recent), and always for the final write of
/// a run. Thread-safety: one `Mutex`.
final class StatusPublisher: Sendable {
    private struct State {
        var version = -1
        var written: MappingStatusMetrics?
        var at: ContinuousClock.Instant?
    }

    /// The longest time between two writes while running.
    static let heartbeat = Duration.seconds(5)
    /// This run's id.
    let runId = UUID().uuidString.lowercased()
    /// The shortest time between two writes of unchanged `LastProcessingResult`.
    let interval: Duration
    private let state = Mutex(State())

    /// Creates a publisher writing at most once per `interval` (1 s) for counter changes.
    init(interval: Duration = .seconds(1)) {
        self.interval = interval
    }

    /// Writes the status of mapping `name` if due.
    /// - Throws: ``MappingError`` (`.io`) when the file cannot be written.
    func publish(
        store: Store, name: String, result: (text: String, version: Int), metrics: MappingStatusMetrics
    ) throws(MappingError) {
        let now = ContinuousClock.now
        let due = state.withLock { s -> Bool in
            let changedResult = s.version != result.version
            let changedMetrics = s.written != metrics
            let waited = s.at.map { now - $0 >= interval } ?? true
            let heartbeat = s.at.map { now - $0 >= Self.heartbeat } ?? true
            guard changedResult || !metrics.running || (changedMetrics && waited) || heartbeat else { return false }
            s.version = result.version
            s.written = metrics
            s.at = now
            return true
        }
        guard due else { return }
        var file = MappingStatusFile(lastProcessingResult: result.text)
        file.metrics = metrics
        try file.write(store: store, name: name)
    }
}
