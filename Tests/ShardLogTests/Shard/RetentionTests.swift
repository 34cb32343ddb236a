import Foundation
import ShardLogTestSupport
import Testing

@testable import ShardLog

@Suite struct RetentionTests {
    @Test func retentionDeletesOnlyExpiredWholeSegments() async throws {
        try await withTemporaryDirectory { dir in
            var options = StoreOptions()
            options.segmentByteCount = 16 << 10
            let store = try Store(directory: dir, options: options)
            try store.createStream(named: "ret", shardCount: 1)
            let s = try store.stream(named: "ret")
            let payload = [UInt8](repeating: 7, count: 3000)
            for i in 0..<12 { _ = try s.put(partitionKey: "old\(i)", data: payload) }
            let boundary = Date()
            try await Task.sleep(for: .milliseconds(30))
            for i in 0..<12 { _ = try s.put(partitionKey: "new\(i)", data: payload) }
            let shard = "shardId-000000000000"
            let before = try SegmentSurgery.segments(dir, stream: "ret", shard: shard)
            #expect(before.count >= 6)
            #expect(try s.enforceRetention() == 0)

            let deleted = try s.enforceRetention(now: boundary.addingTimeInterval(24 * 3600 + 0.010))
            #expect(deleted > 0)
            var it = try s.iterator(shardId: shard, position: .trimHorizon)
            var keys: [String] = []
            while true {
                let b = try it.next()
                if b.isEmpty { break }
                keys += b.map(\.partitionKey)
            }
            // Whole segments went: every "new" record survives, and what survives is a suffix of the log.
            #expect(Array(keys.suffix(12)) == (0..<12).map { "new\($0)" })
            #expect(keys.count < 24)
            // Far in the future everything but the newest segment expires.
            _ = try s.enforceRetention(now: Date().addingTimeInterval(48 * 3600))
            #expect(try SegmentSurgery.segments(dir, stream: "ret", shard: shard).count == 1)
        }
    }

    @Test func retentionPeriodIsValidated() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            #expect(throws: ShardLogError.self) {
                try store.createStream(named: "r", shardCount: 1, retentionHours: 23)
            }
            try store.createStream(named: "r", shardCount: 1, retentionHours: 48)
            let s = try store.stream(named: "r")
            #expect(throws: ShardLogError.self) { try s.setRetention(hours: 8761) }
            try s.setRetention(hours: 8760)
            #expect(try s.describe().retentionPeriodHours == 8760)
        }
    }
}
