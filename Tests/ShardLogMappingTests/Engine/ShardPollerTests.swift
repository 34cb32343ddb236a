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
}
