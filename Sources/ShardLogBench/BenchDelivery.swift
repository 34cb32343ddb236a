import Foundation
import Logging
import ShardLog
import ShardLogMapping
import Synchronization

/// Counts records delivered to a ``BenchHandler`` and, while measuring, records each record's put-to-handler
/// latency from the timestamp its producer embedded (``Stamp``). Thread-safe: handlers call it from many lanes.
final class DeliveryRecorder: Sendable {
    /// The clock the producers stamped records with.
    let stamp: Stamp
    private let deliveredCount = Atomic<Int>(0)
    private let invocationCount = Atomic<Int>(0)
    private let sleptNanoseconds = Atomic<Int>(0)
    private let measuring = Atomic<Bool>(false)
    private let latencies = Mutex(LatencyHistogram())

    /// A recorder for records stamped with `stamp`.
    /// - Parameters:
    ///   - stamp: The producers' clock.
    ///   - measureLatency: Record latencies from the start.
    init(stamp: Stamp, measureLatency: Bool) {
        self.stamp = stamp
        measuring.store(measureLatency, ordering: .relaxed)
    }

    /// Records delivered so far (at least once: redeliveries count again).
    var delivered: Int { deliveredCount.load(ordering: .relaxed) }

    /// Invocations (batches) delivered so far.
    var invocations: Int { invocationCount.load(ordering: .relaxed) }

    /// Nanoseconds the handler spent sleeping so far, summed over invocations (measured around each sleep).
    var slept: Int { sleptNanoseconds.load(ordering: .relaxed) }

    /// What was delivered so far, for differences over a window.
    var snapshot: Snapshot {
        Snapshot(records: delivered, invocations: invocations, sleptNanoseconds: slept)
    }

    /// Counters at one moment.
    struct Snapshot: Sendable {
        /// Records delivered.
        var records: Int
        /// Invocations.
        var invocations: Int
        /// Handler sleep, summed.
        var sleptNanoseconds: Int
    }

    /// Adds the time one invocation's handler slept.
    func addSleep(_ duration: Duration) {
        let nanoseconds = duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
        sleptNanoseconds.wrappingAdd(Int(nanoseconds), ordering: .relaxed)
    }

    /// The latencies recorded so far.
    var latencyHistogram: LatencyHistogram { latencies.withLock { $0 } }

    /// Counts a delivered batch and records its latencies.
    /// - Parameter records: The batch, as the handler received it.
    func record(_ records: [Record]) {
        let now = stamp.now
        deliveredCount.wrappingAdd(records.count, ordering: .relaxed)
        invocationCount.wrappingAdd(1, ordering: .relaxed)
        guard measuring.load(ordering: .relaxed) else { return }
        latencies.withLock { histogram in
            for record in records {
                if let sent = Stamp.read(record.data) { histogram.record(nanoseconds: now >= sent ? now - sent : 0) }
            }
        }
    }
}

/// The benchmark's in-process handler: records the batch, then sleeps for the handler latency (0: returns at once).
struct BenchHandler: KinesisHandler {
    /// Where deliveries are counted.
    let recorder: DeliveryRecorder
    /// How long each invocation takes.
    let latency: Duration

    /// Records the batch and sleeps; never fails a record.
    func handle(_ records: [Record], context: HandlerContext) async throws -> BatchItemFailures {
        recorder.record(records)
        if latency > .zero {
            // The sleep is timed, so a report can tell the handler's own overshoot from time spent outside it.
            let clock = ContinuousClock()
            let start = clock.now
            try await Task.sleep(for: latency)
            recorder.addSleep(clock.now - start)
        }
        return .none
    }
}

/// One run of the delivery measurement: backlog throughput, then latency at a fixed offered rate.
struct DeliveryRun: Sendable {
    /// The store to use.
    var store: Store
    /// Shards.
    var shards: Int
    /// ParallelizationFactor.
    var parallelizationFactor: Int
    /// BatchSize.
    var batchSize: Int
    /// How long the handler sleeps per batch.
    var handlerLatency: Duration
    /// Producer threads for the backlog.
    var producers: Int
    /// Record data.
    var payloads: [[UInt8]]
    /// Length of the throughput window and of the latency phase.
    var duration: Duration
    /// Most records put before the throughput phase.
    var maximumBacklog: Int
    /// Records per second offered during the latency phase.
    var latencyRate: Double
    /// Delete the streams afterwards.
    var deleteStreams: Bool
    /// A name prefix unique within the store.
    var name: String

    /// What a run measured.
    struct Result: Sendable {
        /// Backlog put by the producers.
        var ingest: Tally
        /// Seconds the backlog took to put.
        var ingestSeconds: Double
        /// Records/s delivered in the steady-state window.
        var deliveryRecordsPerSecond: Double
        /// Records per invocation in the steady-state window.
        var meanBatchSize: Double
        /// The handler's measured sleep per invocation in the window, milliseconds (0 for a 0 ms handler).
        var meanHandlerMilliseconds: Double
        /// Start of a lane's batch to the start of its next, on average over the window, milliseconds.
        var laneCycleMilliseconds: Double
        /// Cycles of a bare loop of the handler's sleeps, one task per lane and no mapping, as a share of the ideal
        /// (nil for a 0 ms handler): what sleeping alone allows on this machine.
        var sleepLoopFractionOfIdeal: Double?
        /// CPU of this process per invocation while the mapping ran, microseconds.
        var cpuMicrosecondsPerInvocation: Double
        /// CPU of this process per delivered record while the mapping ran, nanoseconds.
        var cpuNanosecondsPerRecord: Double
        /// CPU of this process during delivery, percent of one core.
        var cpuPercent: Double
        /// CPU of other work during delivery, percent of one core.
        var othersCPUPercent: Double
        /// Latencies of the latency phase.
        var latencies: LatencyHistogram
    }

    /// Records per second the handler latency allows: shards × factor × batch size / latency (nil for 0).
    static func ideal(shards: Int, parallelizationFactor: Int, batchSize: Int, handlerLatency: Duration) -> Double? {
        let seconds = handlerLatency / .seconds(1)
        guard seconds > 0 else { return nil }
        return Double(shards * parallelizationFactor * batchSize) / seconds
    }

    /// The backlog for the throughput phase: enough for 1.5 × the window at the ideal rate plus a few batches per
    /// lane, capped at ``maximumBacklog`` (the cap applies when the handler has no latency).
    var backlog: Int {
        let window = duration / .seconds(1) * 1.3 + 0.3
        let lanes = shards * parallelizationFactor
        guard
            let ideal = Self.ideal(
                shards: shards, parallelizationFactor: parallelizationFactor, batchSize: batchSize,
                handlerLatency: handlerLatency)
        else { return maximumBacklog }
        return min(maximumBacklog, Int(ideal * window * 1.5) + lanes * batchSize * 2)
    }

    /// Partition keys that spread records evenly over every lane of every shard: `keysPerLane` keys for each of the
    /// `laneCount` lanes (``LaneRouter``) of each shard, interleaved so consecutive records go to different shards
    /// and lanes. The ideal assumes it: a lane runs one batch at a time, so a shard whose busiest lane gets a share
    /// `s` of its records delivers at most `1 / (laneCount × s)` of the ideal (with keys drawn at random, 50 per
    /// lane, that bound is 80–96% depending on the point, which is what this benchmark measured before).
    /// - Throws: ``BenchError`` when no such keys turn up among the first candidates.
    static func laneBalancedKeys(
        stream: DataStream, shardIds: [String], laneCount: Int, keysPerLane: Int
    ) throws -> [String] {
        let shardIndex = Dictionary(uniqueKeysWithValues: shardIds.enumerated().map { ($1, $0) })
        var buckets = Array(repeating: Array(repeating: [String](), count: laneCount), count: shardIds.count)
        let wanted = shardIds.count * laneCount * keysPerLane
        var found = 0
        var candidate = 0
        while found < wanted {
            guard candidate < wanted * 64 + 10_000 else {
                throw BenchError("found only \(found) of \(wanted) lane-balanced partition keys")
            }
            let key = "key-\(candidate)"
            candidate += 1
            guard let shard = shardIndex[stream.shardId(forPartitionKey: key)] else { continue }
            let lane = LaneRouter.lane(of: key, laneCount: laneCount)
            if buckets[shard][lane].count < keysPerLane {
                buckets[shard][lane].append(key)
                found += 1
            }
        }
        var keys: [String] = []
        keys.reserveCapacity(wanted)
        for index in 0..<keysPerLane {
            for lane in 0..<laneCount {
                for shard in buckets.indices { keys.append(buckets[shard][lane][index]) }
            }
        }
        return keys
    }

    /// Runs both phases.
    /// - Throws: Store or mapping errors; ``BenchError`` when delivery stalls.
    func run() async throws -> Result {
        var logger = Logger(label: "shardlog.bench")
        logger.logLevel = .warning
        let stamp = Stamp()

        // Phase 1: a backlog, put as fast as the producers can (the ingest figure), then delivered.
        let streamName = name
        let description = try store.createStream(named: streamName, shardCount: shards)
        let stream = try store.stream(named: streamName)
        let shardIds = description.shards.map(\.shardId)
        let balanced = try Self.laneBalancedKeys(
            stream: stream, shardIds: shardIds, laneCount: parallelizationFactor,
            keysPerLane: max(50, 100 / parallelizationFactor))
        let keys = Array(repeating: balanced, count: producers)
        let total = backlog
        let producers = self.producers
        let payloads = self.payloads
        let ingestStart = ContinuousClock.now
        let tallies = try await onThreads(producers) { index in
            try Producer(stream: stream, keys: keys[index], payloads: payloads, batchRecords: 1000, stamp: stamp)
                .run(until: .now + .seconds(3600), limit: total / producers + (index == 0 ? total % producers : 0))
        }
        let ingestSeconds = (ContinuousClock.now - ingestStart) / .seconds(1)
        let ingest = Tally.sum(tallies)

        let throughputRecorder = DeliveryRecorder(stamp: stamp, measureLatency: false)
        let before = CPUSample.now()
        let window = try await withMapping(streamName: streamName, recorder: throughputRecorder, logger: logger) {
            try await measureThroughput(recorder: throughputRecorder, backlog: ingest.records)
        }
        let after = CPUSample.now()
        let usage = after.usage(since: before)
        let cpuSeconds = after.processSeconds - before.processSeconds
        let delivered = throughputRecorder.snapshot
        if deleteStreams { try store.deleteStream(named: streamName) }

        let sleepLoop =
            handlerLatency > .zero
            ? try await Self.sleepLoopFraction(
                tasks: shards * parallelizationFactor, sleep: handlerLatency, duration: duration) : nil

        // Phase 2: latency at a fixed offered rate into an empty stream the mapping already follows.
        let latencyName = name + "-latency"
        _ = try store.createStream(named: latencyName, shardCount: shards)
        let latencyStream = try store.stream(named: latencyName)
        // One unstamped record (1 byte: no latency is recorded for it) per shard before the mapping starts: a reader
        // that opens a shard's first segment while the appender is still creating it fails with "bad magic"
        // (a store race, reported), so every segment exists before the mapping reads.
        let primers = KeyPlan.keys(
            stream: latencyStream, shardIds: shardIds, producers: 1, mode: .affine, keysPerShard: 1)[0]
        _ = try latencyStream.putRecords(primers.map { PutRecordsEntry(partitionKey: $0, data: [0]) })
        let latencyRecorder = DeliveryRecorder(stamp: stamp, measureLatency: true)
        let latencyRate = self.latencyRate
        let duration = self.duration
        try await withMapping(streamName: latencyName, recorder: latencyRecorder, logger: logger) {
            try await Task.sleep(for: .milliseconds(200))
            let sent = try await onThreads(1) { _ in
                try Producer(
                    stream: latencyStream, keys: keys[0], payloads: payloads, batchRecords: 1000, stamp: stamp
                ).run(rate: latencyRate, until: .now + duration)
            }
            let expected = Tally.sum(sent).records + primers.count
            let deadline = ContinuousClock.now + .seconds(5) + handlerLatency * 20
            while latencyRecorder.delivered < expected && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(5))
            }
            guard latencyRecorder.delivered >= expected else {
                throw BenchError(
                    "latency phase: \(latencyRecorder.delivered) of \(expected) records delivered after 5 s; "
                        + "the mapping stalled")
            }
        }
        if deleteStreams { try store.deleteStream(named: latencyName) }
        return Result(
            ingest: ingest, ingestSeconds: ingestSeconds, deliveryRecordsPerSecond: window.recordsPerSecond,
            meanBatchSize: window.meanBatchSize, meanHandlerMilliseconds: window.meanHandlerMilliseconds,
            laneCycleMilliseconds: window.laneCycleMilliseconds(lanes: shards * parallelizationFactor),
            sleepLoopFractionOfIdeal: sleepLoop,
            cpuMicrosecondsPerInvocation: cpuSeconds * 1e6 / Double(max(delivered.invocations, 1)),
            cpuNanosecondsPerRecord: cpuSeconds * 1e9 / Double(max(delivered.records, 1)), cpuPercent: usage.own,
            othersCPUPercent: usage.others, latencies: latencyRecorder.latencyHistogram)
    }

    /// The reference for a sleeping handler: `tasks` tasks that each sleep `sleep` in a loop (as ``BenchHandler``
    /// does, with nothing else) for `duration`; the sleeps completed as a share of `tasks × duration / sleep`.
    static func sleepLoopFraction(tasks: Int, sleep: Duration, duration: Duration) async throws -> Double {
        let clock = ContinuousClock()
        let start = clock.now
        let end = start + duration
        let cycles = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<tasks {
                group.addTask {
                    var count = 0
                    while clock.now < end {
                        try await Task.sleep(for: sleep)
                        count += 1
                    }
                    return count
                }
            }
            return try await group.reduce(0, +)
        }
        let elapsed = clock.now - start
        return Double(cycles) / (Double(tasks) * (elapsed / sleep))
    }

    /// Runs a mapping with a ``BenchHandler`` on `streamName` (from TRIM_HORIZON) while `body` runs, then stops it.
    private func withMapping<R: Sendable>(
        streamName: String, recorder: DeliveryRecorder, logger: Logger, _ body: () async throws -> R
    ) async throws -> R {
        let configuration = MappingConfiguration(
            startingPosition: .trimHorizon, batchSize: batchSize, parallelizationFactor: parallelizationFactor)
        let invoker = InProcessInvoker(
            handler: BenchHandler(recorder: recorder, latency: handlerLatency), functionName: "bench",
            logger: logger)
        let mapping = EventSourceMapping(
            store: store, streamName: streamName, name: "bench-" + streamName, configuration: configuration,
            invoker: invoker, onFailure: nil, logger: logger)
        let running = Task { try await mapping.run(exitWhenIdle: false) }
        let result: R
        do {
            result = try await body()
        } catch {
            mapping.stop()
            _ = try? await running.value
            throw error
        }
        mapping.stop()
        _ = try await running.value
        return result
    }

    /// What the throughput window saw.
    struct Window: Sendable {
        /// Records/s delivered.
        var recordsPerSecond: Double
        /// Counters at the window's start and end.
        var start: DeliveryRecorder.Snapshot
        var end: DeliveryRecorder.Snapshot
        /// The window's length in seconds.
        var seconds: Double

        /// Records per invocation in the window.
        var meanBatchSize: Double {
            let invocations = end.invocations - start.invocations
            return invocations > 0 ? Double(end.records - start.records) / Double(invocations) : 0
        }

        /// The handler's mean measured sleep per invocation in the window, milliseconds.
        var meanHandlerMilliseconds: Double {
            let invocations = end.invocations - start.invocations
            return invocations > 0
                ? Double(end.sleptNanoseconds - start.sleptNanoseconds) / Double(invocations) / 1e6 : 0
        }

        /// How long one lane took from the start of a batch to the start of its next, on average, milliseconds:
        /// lanes × window / invocations (every lane busy all the time makes this the handler's time plus the
        /// engine's time between batches).
        func laneCycleMilliseconds(lanes: Int) -> Double {
            let invocations = end.invocations - start.invocations
            return invocations > 0 ? Double(lanes) * seconds * 1000 / Double(invocations) : 0
        }
    }

    /// Records/s delivered in a window of ``duration`` that starts after a warm-up (a fifth of the window, at most
    /// 300 ms) from the first delivery; if the backlog drains first, up to the moment it drained.
    private func measureThroughput(recorder: DeliveryRecorder, backlog: Int) async throws -> Window {
        let clock = ContinuousClock()
        let giveUp = clock.now + .seconds(30) + duration * 5
        while recorder.delivered == 0 {
            guard clock.now < giveUp else { throw BenchError("no record was delivered in 30 s; the mapping stalled") }
            try await Task.sleep(for: .microseconds(500))
        }
        let first = clock.now
        let firstSnapshot = recorder.snapshot
        let warmup = min(duration / 5, .milliseconds(300))
        var windowStart: (instant: ContinuousClock.Instant, snapshot: DeliveryRecorder.Snapshot)?
        func window(
            from start: ContinuousClock.Instant, _ snapshot: DeliveryRecorder.Snapshot, to now: ContinuousClock.Instant,
            _ end: DeliveryRecorder.Snapshot
        ) -> Window {
            let seconds = max((now - start) / .seconds(1), 1e-3)
            return Window(
                recordsPerSecond: Double(end.records - snapshot.records) / seconds, start: snapshot, end: end,
                seconds: seconds)
        }
        while true {
            try await Task.sleep(for: .milliseconds(2))
            let now = clock.now
            let snapshot = recorder.snapshot
            if windowStart == nil && now - first >= warmup && snapshot.records < backlog {
                windowStart = (now, snapshot)
            }
            if snapshot.records >= backlog {
                if let start = windowStart, now - start.instant >= .milliseconds(50) {
                    return window(from: start.instant, start.snapshot, to: now, snapshot)
                }
                // Counted from the first delivery, which the first snapshot includes.
                var all = window(from: first, firstSnapshot, to: now, snapshot)
                all.recordsPerSecond = Double(snapshot.records) / all.seconds
                return all
            }
            if let start = windowStart, now - start.instant >= duration {
                return window(from: start.instant, start.snapshot, to: now, snapshot)
            }
            guard now < giveUp else {
                throw BenchError("only \(snapshot.records) of \(backlog) records were delivered; the mapping stalled")
            }
        }
    }
}
