import Foundation
import ShardLog
import ShardLogTestSupport
import Testing

@testable import ShardLogMapping

/// Idle shard readers sleep on the stream's doorbell instead of polling, and a put wakes the right one.
@Suite(.timeLimit(.minutes(1)))
struct ShardPollerTests {
    @Test func anIdleMappingOverManyShardsSleepsAndAPutWakesIt() async throws {
        try await withTemporaryDirectory { dir in
            let shards = 64
            let store = try Store(directory: dir)
            try store.createStream(named: "s", shardCount: shards)
            let stream = try store.stream(named: "s")
            try #require(stream.doorbell.isWaking, "futex doorbell unavailable on this platform")
            let invoker = ScriptedInvoker()
            let mapping = makeMapping(
                store: store, configuration: MappingConfiguration(startingPosition: .latest, batchSize: 10),
                invoker: invoker)
            async let summary = mapping.run(exitWhenIdle: false)
            // Every shard's reader is started and asleep once it waited at least once.
            #expect(await eventually { stream.doorbell.waitCount >= shards })
            try await Task.sleep(for: .milliseconds(300))
            let before = stream.doorbell.waitCount
            let idle = Duration.seconds(2)
            try await Task.sleep(for: idle)
            let waits = stream.doorbell.waitCount - before
            // About one wait per shard per safety net (1 s); polling every 0.2–4 ms would be thousands.
            #expect(waits <= shards * 6, "\(waits) waits of \(shards) idle shard readers in \(idle)")

            let put = ContinuousClock.now
            try putRecords(stream, count: 1)
            #expect(await eventually { invoker.delivered.count == 1 })
            let latency = ContinuousClock.now - put
            #expect(latency < .milliseconds(500), "delivered after \(latency)")
            mapping.stop()
            _ = try await summary
        }
    }

    /// Full batches are handed to a lane's running task, which starts them as its batch ends; per-key order,
    /// exactly-once delivery on success, retries of a failed batch before the next, and the final checkpoint hold.
    @Test(arguments: [1, 3])
    func fullBatchesHandedToARunningLaneKeepOrderAndRetries(parallelizationFactor: Int) async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            try store.createStream(named: "s", shardCount: 1)
            let stream = try store.stream(named: "s")
            let count = 3_000
            try putRecords(stream, count: count, keys: 7)
            // Every 17th call fails once (a function error), so retries interleave with handed-over batches.
            let invoker = ScriptedInvoker(delay: .microseconds(200)) { _, index in
                index % 17 == 5 ? .functionError(type: "Boom", message: "call \(index)") : .response([])
            }
            let mapping = makeMapping(
                store: store,
                configuration: MappingConfiguration(
                    startingPosition: .trimHorizon, batchSize: 10, parallelizationFactor: parallelizationFactor),
                invoker: invoker)
            let summary = try await mapping.run(exitWhenIdle: true)
            let delivered = invoker.delivered
            #expect(delivered.count == count)
            #expect(Set(delivered.map(\.sequenceNumber)).count == count, "each record handled once")
            #expect(invoker.calls.allSatisfy { $0.records.count <= 10 })
            var lastIndex: [String: Int] = [:]
            for record in delivered {
                let index = Int(record.sequence.offset)
                #expect(index > lastIndex[record.partitionKey, default: -1], "key \(record.partitionKey) out of order")
                lastIndex[record.partitionKey] = index
            }
            #expect(summary.metrics.records == count)
            #expect(summary.metrics.retries == summary.metrics.functionErrors)
            let last = try #require(delivered.max { $0.sequence.offset < $1.sequence.offset })
            #expect(summary.checkpoints["shardId-000000000000"]?.sequenceNumber == last.sequenceNumber)
        }
    }
}
