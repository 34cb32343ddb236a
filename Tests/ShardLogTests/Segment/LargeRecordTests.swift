import Foundation
import ShardLogTestSupport
import Testing

@testable import ShardLog

/// Records up to 10 MiB once a stream's `MaxRecordSizeInKiB` allows them (UpdateMaxRecordSize).
@Suite struct LargeRecordTests {
    static func blob(_ count: Int, seed: UInt64) -> [UInt8] {
        var random = SplitMix64(seed: seed)
        // Random bytes (incompressible) in the first half, a repeated pattern (LZ4 shrinks it) in the second.
        return (0..<count).map { i in i < count / 2 ? UInt8(truncatingIfNeeded: random.next()) : UInt8(i % 251) }
    }

    /// A 10 MiB record (key included) is refused at 1 MiB, stored at 10240 KiB and read back whole, between small
    /// records; with a 16 KiB segment size it gets a segment of its own, also as a shard's first record.
    @Test(arguments: [nil, 16 << 10] as [Int?], [true, false])
    func aTenMebibyteRecordIsStoredAndReadBack(segmentByteCount: Int?, bigFirst: Bool) async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            try store.createStream(named: "big", shardCount: 1, segmentByteCount: segmentByteCount)
            let stream = try store.stream(named: "big")
            let key = "k"
            let big = Self.blob((10 << 20) - key.utf8.count, seed: 5)
            let refused = #expect(throws: ShardLogError.self) { try stream.put(partitionKey: key, data: big) }
            #expect(refused?.message.contains("the limit is 1048576 bytes (1 MiB)") == true)
            try stream.setMaxRecordSize(kibibytes: 10240)
            #expect(stream.maxRecordByteCount == 10 << 20)
            if !bigFirst { try stream.put(partitionKey: "small", data: [1, 2, 3]) }
            let placed = try stream.put(partitionKey: key, data: big)
            try stream.put(partitionKey: "after", data: [4])
            let over = #expect(throws: ShardLogError.self) { try stream.put(partitionKey: key, data: big + [0]) }
            #expect(over?.message.contains("the limit is 10485760 bytes (10 MiB)") == true)

            var it = try stream.iterator(shardId: placed.shardId, position: .trimHorizon)
            var records: [Record] = []
            while true {
                let batch = try it.next(limit: 10_000, maxBytes: 1 << 20)
                if batch.isEmpty { break }
                records += batch
            }
            #expect(records.map(\.partitionKey) == (bigFirst ? [] : ["small"]) + [key, "after"])
            let read = try #require(records.first { $0.partitionKey == key })
            #expect(read.sequence == placed.sequence)
            #expect(read.data.count == big.count)
            #expect(read.data == big)
            // The same record through an iterator positioned at it.
            var at = try stream.iterator(shardId: placed.shardId, position: .atSequenceNumber(placed.sequenceNumber))
            #expect(try at.next(limit: 1).first?.data == big)
        }
    }

    /// Another process (here: another Store on the same directory) raising the limit is seen by a put that would
    /// otherwise be refused.
    @Test func aLimitRaisedElsewhereIsReloaded() async throws {
        try await withTemporaryDirectory { dir in
            try Store(directory: dir).createStream(named: "s", shardCount: 2)
            let writer = try Store(directory: dir).stream(named: "s")
            try writer.put(partitionKey: "warm", data: [0])
            try Store(directory: dir).stream(named: "s").setMaxRecordSize(kibibytes: 2048)
            let data = [UInt8](repeating: 1, count: (2 << 20) - 1)
            let result = try writer.put(partitionKey: "k", data: data)
            var it = try writer.iterator(shardId: result.shardId, position: .atSequenceNumber(result.sequenceNumber))
            #expect(try it.next(limit: 1).first?.data == data)
        }
    }

    /// A read that fills its byte budget stops before the record that does not fit, which then comes first in the
    /// next read: no record is skipped (records of 600 KiB are one batch each; a 1 MiB budget takes one at a time).
    @Test func readsThatStopAtTheirByteBudgetSkipNothing() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            try store.createStream(named: "s", shardCount: 1)
            let stream = try store.stream(named: "s")
            for i in 0..<6 {
                try stream.put(partitionKey: "k\(i)", data: [UInt8](repeating: UInt8(i), count: 600 << 10))
                try stream.put(partitionKey: "small\(i)", data: [UInt8(i)])
            }
            var it = try stream.iterator(shardId: ShardID.name(0), position: .trimHorizon)
            var offsets: [UInt64] = []
            while true {
                let batch = try it.next(limit: 10_000, maxBytes: 1 << 20)
                if batch.isEmpty { break }
                #expect(batch.count == 1 || batch.map { $0.data.count }.reduce(0, +) <= 1 << 20)
                offsets += batch.map(\.sequence.offset)
            }
            #expect(offsets == Array(0..<12))
        }
    }
}
