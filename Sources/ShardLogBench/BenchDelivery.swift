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

    /// The latencies recorded so far.
    var latencyHistogram: LatencyHistogram { latencies.withLock { $0 } }

    /// Counts a delivered batch and records its latencies.
    /// - Parameter records: The batch, as the handler received it.
    func record(_ records: [Record]) {
        let now = stamp.now
        deliveredCount.wrappingAdd(records.count, ordering: .relaxed)
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
        if latency > .zero { try await Task.sleep(for: latency) }
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
        let keys = KeyPlan.keys(
            stream: stream, shardIds: shardIds, producers: producers, mode: .spread,
            keysPerShard: max(100, 50 * parallelizationFactor))
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
        let rate = try await withMapping(streamName: streamName, recorder: throughputRecorder, logger: logger) {
            try await measureThroughput(recorder: throughputRecorder, backlog: ingest.records)
        }
        let after = CPUSample.now()
        let usage = after.usage(since: before)
        if deleteStreams { try store.deleteStream(named: streamName) }

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
            ingest: ingest, ingestSeconds: ingestSeconds, deliveryRecordsPerSecond: rate, cpuPercent: usage.own,
            othersCPUPercent: usage.others, latencies: latencyRecorder.latencyHistogram)
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

    /// Records/s delivered in a window of ``duration`` that starts after a warm-up (a fifth of the window, at most
    /// 300 ms) from the first delivery; if the backlog drains first, up to the moment it drained.
    private func measureThroughput(recorder: DeliveryRecorder, backlog: Int) async throws -> Double {
        let clock = ContinuousClock()
        let giveUp = clock.now + .seconds(30) + duration * 5
        while recorder.delivered == 0 {
            guard clock.now < giveUp else { throw BenchError("no record was delivered in 30 s; the mapping stalled") }
            try await Task.sleep(for: .microseconds(500))
        }
        let first = clock.now
        let warmup = min(duration / 5, .milliseconds(300))
        var windowStart: (instant: ContinuousClock.Instant, delivered: Int)?
        while true {
            try await Task.sleep(for: .milliseconds(2))
            let now = clock.now
            let delivered = recorder.delivered
            if windowStart == nil && now - first >= warmup && delivered < backlog {
                windowStart = (now, delivered)
            }
            if delivered >= backlog {
                if let start = windowStart, now - start.instant >= .milliseconds(50) {
                    return Double(delivered - start.delivered) / ((now - start.instant) / .seconds(1))
                }
                return Double(delivered) / max((now - first) / .seconds(1), 1e-3)
            }
            if let start = windowStart, now - start.instant >= duration {
                return Double(delivered - start.delivered) / ((now - start.instant) / .seconds(1))
            }
            guard now < giveUp else {
                throw BenchError("only \(delivered) of \(backlog) records were delivered; the mapping stalled")
            }
        }
    }
}
