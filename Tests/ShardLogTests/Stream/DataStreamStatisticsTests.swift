import Foundation
import ShardLogTestSupport
import Testing

@testable import ShardLog

/// ``DataStream/advance(_:shardId:)``: records and payload bytes of a shard from its headers, resumed from a cursor.
@Suite struct DataStreamStatisticsTests {
    @Test func countsRecordsAndPayloadBytesAcrossSegmentsAndResumes() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            // 16 KiB segments: the records below fill several, so the walk crosses sealed segments.
            _ = try store.createStream(named: "s", shardCount: 1, segmentByteCount: 16 << 10)
            let stream = try store.stream(named: "s")
            let id = "shardId-000000000000"
            var cursor = try stream.advance(nil, shardId: id)
            #expect(cursor.records == 0 && cursor.payloadBytes == 0)
            var keyAndData = 0
            for i in 0..<300 {
                let data = Array(String(repeating: "d", count: 100 + i % 50).utf8)
                try stream.put(partitionKey: "key\(i)", data: data)
                keyAndData += data.count + "key\(i)".utf8.count
            }
            let segments = try SegmentSurgery.segments(dir, stream: "s", shard: id)
            #expect(segments.count > 1, "the test needs several segments")
            cursor = try stream.advance(cursor, shardId: id)
            #expect(cursor.records == 300)
            // Payload: key and data plus 3 to 6 bytes of varints per record.
            #expect(cursor.payloadBytes >= UInt64(keyAndData + 300 * 3))
            #expect(cursor.payloadBytes <= UInt64(keyAndData + 300 * 6))
            // From scratch gives the same; resuming with nothing new changes nothing.
            #expect(try stream.advance(nil, shardId: id) == cursor)
            #expect(try stream.advance(cursor, shardId: id) == cursor)
            // New records are added to the resumed cursor.
            try stream.put(partitionKey: "k", data: Array("12345".utf8))
            let next = try stream.advance(cursor, shardId: id)
            #expect(next.records == 301)
            #expect(next.payloadBytes >= cursor.payloadBytes + 6 + 3)
            #expect(next.payloadBytes <= cursor.payloadBytes + 6 + 6)
        }
    }

    @Test func anUnknownShardIsNamed() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            _ = try store.createStream(named: "s", shardCount: 1)
            #expect(throws: ShardLogError.self) {
                try store.stream(named: "s").advance(nil, shardId: "shardId-000000000009")
            }
        }
    }
}
