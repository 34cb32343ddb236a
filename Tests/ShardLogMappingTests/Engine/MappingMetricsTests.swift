import Foundation
import ShardLog
import ShardLogTestSupport
import Testing

@testable import ShardLogMapping

/// Invocation-duration buckets and when a mapping rewrites its `status.json`.
@Suite struct MappingMetricsTests {
    @Test func durationsLandInTheirBucketWithTheirSum() {
        var buckets = DurationBuckets()
        buckets.record(seconds: 0.005)  // on a bound: that bucket (le is inclusive)
        buckets.record(seconds: 0.007)
        buckets.record(seconds: 0.008)
        buckets.record(seconds: 2000)  // above every bound: the last bucket
        #expect(buckets.counts[0] == 1 && buckets.counts[1] == 2)
        #expect(abs(buckets.sums[1] - 0.015) < 1e-12)
        #expect(buckets.counts.last == 1 && buckets.sums.last == 2000)
        #expect(buckets.counts.reduce(0, +) == 4)
    }

    @Test func statusIsWrittenOnResultChangesAtMostOncePerIntervalForCountersAndAlwaysAtTheEnd() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            let publisher = StatusPublisher(interval: .seconds(3600))
            func status(invocations: Int, running: Bool = true) -> MappingStatusMetrics {
                var m = MappingMetrics()
                m.batches = invocations
                return MappingStatusMetrics(
                    runId: publisher.runId, streamName: "s", running: running, metrics: m,
                    shards: ["shardId-000000000000": ShardLag(iteratorAgeMilliseconds: 5, recordsBehind: 7)])
            }
            func written() throws -> MappingStatusMetrics? {
                try MappingStatusFile.read(store: store, name: "m")?.metrics
            }
            try publisher.publish(store: store, name: "m", result: ("OK", 0), metrics: status(invocations: 1))
            #expect(try written() == status(invocations: 1))
            // Counters changed within the interval: not written yet.
            try publisher.publish(store: store, name: "m", result: ("OK", 0), metrics: status(invocations: 2))
            #expect(try written()?.invocations == 1)
            // A new LastProcessingResult is written at once, with the counters of the moment.
            try publisher.publish(store: store, name: "m", result: ("PROBLEM: x", 1), metrics: status(invocations: 3))
            #expect(try written()?.invocations == 3)
            #expect(try MappingStatusFile.read(store: store, name: "m")?.lastProcessingResult == "PROBLEM: x")
            // The final write of a run always happens.
            try publisher.publish(
                store: store, name: "m", result: ("PROBLEM: x", 1), metrics: status(invocations: 4, running: false))
            let last = try #require(try written())
            #expect(last.invocations == 4 && !last.running)
            #expect(last.shards["shardId-000000000000"]?.recordsBehind == 7)
        }
    }
}
