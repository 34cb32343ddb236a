import Foundation
import ShardLogTestSupport
import Testing

@testable import ShardLog

/// ``DataStream/putRecords(_:into:)``: packed records, counting-sort grouping, results in the caller's array.
@Suite struct BatchPutTests {
    static func readAll(_ stream: DataStream, shards: Int) throws -> [Int: [Record]] {
        var out: [Int: [Record]] = [:]
        for s in 0..<shards {
            var it = try stream.iterator(shardId: ShardID.name(s), position: .trimHorizon)
            while true {
                let batch = try it.next()
                if batch.isEmpty { break }
                out[s, default: []] += batch
            }
        }
        return out
    }

    @Test(arguments: [1, 4, 7])
    func packedRecordsLandWhereTheirHashKeysRouteInOrder(shards: Int) async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            try store.createStream(named: "b", shardCount: shards)
            let stream = try store.stream(named: "b")
            let keys = HashKeyTests.keys(seed: 3, count: 2_000)
            var buffer = RecordBuffer()
            for (i, key) in keys.enumerated() {
                // Every 10th record pins the shard with an explicit hash key.
                let explicit: UInt128? = i % 10 == 0 ? UInt128(i) << 100 : nil
                try buffer.append(partitionKey: key, data: Array("\(i)".utf8), explicitHashKey: explicit)
            }
            var results: [SequenceNumber] = []
            try stream.putRecords(buffer, into: &results)
            try #require(results.count == keys.count)
            let ranges = HashKey.evenRanges(count: shards)
            for (i, key) in keys.enumerated() {
                let hash = i % 10 == 0 ? UInt128(i) << 100 : HashKey.of(partitionKey: key)
                #expect(results[i].shardIndex == ranges.firstIndex { $0.contains(hash) }, "record \(i)")
            }
            // Read back: each shard holds its records in put order, at the offsets reported.
            let stored = try Self.readAll(stream, shards: shards)
            #expect(stored.values.map(\.count).reduce(0, +) == keys.count)
            for (i, r) in results.enumerated() {
                let record = try #require(stored[r.shardIndex]?[Int(r.offset)])
                #expect(record.sequence == r)
                #expect(record.partitionKey == keys[i])
                #expect(record.data == Array("\(i)".utf8))
            }
            // The buffer is reusable: a second put after removeAll appends after the first.
            buffer.removeAll()
            try buffer.append(partitionKey: keys[1], data: [9])
            try stream.putRecords(buffer, into: &results)
            #expect(results.count == 1)
            #expect(results[0].offset == UInt64(stored[results[0].shardIndex]?.count ?? -1))
        }
    }

    @Test func byteKeysAreCheckedAsTheyAreAppended() throws {
        var buffer = RecordBuffer()
        let cases: [([UInt8], String)] = [
            ([], "partition key has 0 characters; it must have between 1 and 256"),
            ([0xC3], "partition key is not valid UTF-8"),
            ([0xFF, 0x41], "partition key is not valid UTF-8"),
            (Array(repeating: 0x61, count: 257), "partition key has 257 characters; it must have between 1 and 256"),
        ]
        for (key, message) in cases {
            let error = #expect(throws: ShardLogError.self) {
                try buffer.append(key: key, 0..<key.count, data: [1], 0..<1)
            }
            #expect(error?.message == message)
        }
        #expect(buffer.isEmpty)
        // 256 characters of 4 bytes each are one key of 1024 bytes, within the limit.
        let wide = Array(String(repeating: "🎉", count: 256).utf8)
        try buffer.append(key: wide, 0..<wide.count, data: [1, 2, 3], 1..<3)
        #expect(buffer.count == 1)
        #expect(buffer.partitionKey(0) == String(repeating: "🎉", count: 256))
        #expect(Array(buffer.data(0)) == [2, 3])
    }

    @Test func anOversizedRecordIsRefusedBeforeAnythingIsWritten() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            try store.createStream(named: "big", shardCount: 2)
            let stream = try store.stream(named: "big")
            var buffer = RecordBuffer()
            try buffer.append(partitionKey: "a", data: [1])
            try buffer.append(partitionKey: "b", data: [UInt8](repeating: 7, count: 1 << 20))
            var results: [SequenceNumber] = []
            let error = #expect(throws: ShardLogError.self) { try stream.putRecords(buffer, into: &results) }
            #expect(
                error?.message == "record 1 is 1048577 bytes (data + partition key); the limit is 1048576 bytes (1 MiB)"
            )
            #expect(try Self.readAll(stream, shards: 2).isEmpty)
        }
    }
}
