import Foundation
import ShardLog
import ShardLogTestSupport
import Synchronization
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

    /// With `Deaggregate`, batches close on the size of the de-aggregated event: ten aggregates of 2,000 small user
    /// records (≈0.8 MB of event each, ≈30 KB stored) do not share one event, and one 400 kB aggregate whose user
    /// records alone pass 6 MB is delivered in several events. Every event stays within the cap and every user
    /// record arrives exactly once.
    @Test func deaggregatedEventsStayWithinTheSixMegabyteCap() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            try store.createStream(named: "s", shardCount: 1)
            let stream = try store.stream(named: "s")
            func aggregate(users: Int?, tag: String, byteCount: Int = 1_000_000) -> PutRecordsEntry {
                var aggregator = KPLAggregation.Aggregator(maxByteCount: byteCount)
                var index = 0
                while users.map({ index < $0 }) ?? true,
                    aggregator.add(.init(partitionKey: "u\(index % 50)", data: Array("\(tag)-\(index)".utf8)))
                {
                    index += 1
                }
                return PutRecordsEntry(partitionKey: KPLAggregation.aggregatePartitionKey, data: aggregator.encoded())
            }
            var entries = (0..<10).map { aggregate(users: 2_000, tag: "m\($0)") }
            // As many user records as fit in 400 kB: ≈10 MB de-aggregated.
            entries.append(aggregate(users: nil, tag: "big", byteCount: 400_000))
            let userCount = entries.reduce(0) { $0 + (KPLAggregation.deaggregate($1.data)?.count ?? 0) }
            _ = try stream.putRecords(entries)

            struct Event: Sendable {
                var byteCount: Int
                var users: [String]
            }
            let events = Mutex<[Event]>([])
            let invoker = ScriptedInvoker { batch, _ in
                let bytes = batch.eventBytes
                let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any]
                let records = object?["Records"] as? [[String: Any]] ?? []
                let users = records.map { record -> String in
                    let kinesis = record["kinesis"] as? [String: Any] ?? [:]
                    return "\(kinesis["sequenceNumber"] ?? "?")/\(kinesis["subSequenceNumber"] ?? "?")"
                }
                events.withLock { $0.append(Event(byteCount: bytes.count, users: users)) }
                return .response([])
            }
            var configuration = MappingConfiguration(startingPosition: .trimHorizon, batchSize: 100)
            configuration.deaggregate = true
            let mapping = makeMapping(store: store, configuration: configuration, invoker: invoker)
            async let summary = mapping.run(exitWhenIdle: false)
            #expect(await eventually { events.withLock { $0.reduce(0) { $0 + $1.users.count } } >= userCount })
            mapping.stop()
            _ = try await summary

            let seen = events.withLock { $0 }
            let cap = 6 * 1024 * 1024
            for event in seen {
                #expect(event.byteCount <= cap, "an event of \(event.byteCount) bytes")
            }
            let users = seen.flatMap(\.users)
            #expect(users.count == userCount)
            #expect(Set(users).count == userCount, "every user record once")
            // The ten medium aggregates (≈8 MB de-aggregated) need at least two events, the big one at least two.
            #expect(seen.count >= 4, "\(seen.count) events: \(seen.map(\.byteCount))")
        }
    }
}
