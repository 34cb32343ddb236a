import Foundation
import ShardLogTestSupport
import Testing

@testable import ShardLog

@Suite struct ReshardingTests {
    @Test func splitAndMergeKeepLineageAndRouteToOpenShardsOnly() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            try store.createStream(named: "rs", shardCount: 2)
            let s = try store.stream(named: "rs")
            let before = try s.putRecords((0..<200).map { PutRecordsEntry(partitionKey: "key\($0)", data: [1]) })
            let mid = UInt128(1) << 126
            try s.splitShard("shardId-000000000000", newStartingHashKey: mid)
            var d = try s.describe()
            #expect(d.shards.map(\.shardId) == (0..<4).map(ShardID.name))
            #expect(d.shards[0].isOpen == false)
            #expect(d.shards[0].sequenceNumberRange.endingSequenceNumber != nil)
            #expect(d.shards[2].parentShardId == "shardId-000000000000")
            #expect(d.shards[3].parentShardId == "shardId-000000000000")
            #expect(d.shards[2].hashKeyRange.startingHashKey == "0")
            #expect(d.shards[2].hashKeyRange.endingHashKey == String(mid - 1))
            #expect(d.shards[3].hashKeyRange.startingHashKey == String(mid))
            #expect(d.shards[3].hashKeyRange.endingHashKey == d.shards[0].hashKeyRange.endingHashKey)

            let after = try s.putRecords((0..<200).map { PutRecordsEntry(partitionKey: "key\($0)", data: [2]) })
            #expect(!after.contains { $0.shardId == "shardId-000000000000" })
            for (b, a) in zip(before, after) where b.shardId == "shardId-000000000001" {
                #expect(a.shardId == "shardId-000000000001")
            }
            // The parent's data stays readable; its iterator reaches the shard end.
            var parent = try s.iterator(shardId: "shardId-000000000000", position: .trimHorizon)
            let old = try parent.next()
            #expect(old.count == before.filter { $0.shardId == "shardId-000000000000" }.count)
            #expect(try parent.isAtShardEnd())

            // A closed shard can't be split again; non-adjacent shards can't merge.
            #expect(throws: ShardLogError.self) { try s.splitShard("shardId-000000000000", newStartingHashKey: 5) }
            #expect(throws: ShardLogError.self) {
                try s.mergeShards("shardId-000000000002", adjacentShardId: "shardId-000000000001")
            }
            #expect(throws: ShardLogError.self) { try s.splitShard("shardId-000000000002", newStartingHashKey: 0) }

            try s.mergeShards("shardId-000000000002", adjacentShardId: "shardId-000000000003")
            d = try s.describe()
            let merged = try #require(d.shards.last)
            #expect(merged.shardId == "shardId-000000000004")
            #expect(merged.parentShardId == "shardId-000000000002")
            #expect(merged.adjacentParentShardId == "shardId-000000000003")
            #expect(merged.hashKeyRange.startingHashKey == "0")
            #expect(d.openShards.map(\.shardId) == ["shardId-000000000001", "shardId-000000000004"])
        }
    }

    @Test func writerInAnotherStoreReroutesAfterASplit() async throws {
        try await withTemporaryDirectory { dir in
            let a = try Store(directory: dir)
            try a.createStream(named: "x", shardCount: 1)
            let writer = try a.stream(named: "x")
            _ = try writer.put(partitionKey: "k", data: [1])
            // Another process (a second Store on the same directory) splits the only shard.
            let b = try Store(directory: dir)
            try b.stream(named: "x").splitShard("shardId-000000000000", newStartingHashKey: UInt128(1) << 127)
            let r = try writer.put(partitionKey: "k", data: [2])
            #expect(r.shardId != "shardId-000000000000")
        }
    }

    @Test(arguments: [(2, 4), (4, 2), (3, 5), (4, 8), (5, 3)])
    func updateShardCountGivesEvenRanges(from: Int, to: Int) async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            try store.createStream(named: "u", shardCount: from)
            let s = try store.stream(named: "u")
            try s.updateShardCount(target: to)
            let open = try s.describe().openShards
            let wanted = HashKey.evenRanges(count: to)
            #expect(open.count == to)
            let ranges = open.map { "\($0.hashKeyRange.startingHashKey)-\($0.hashKeyRange.endingHashKey)" }.sorted()
            #expect(ranges == wanted.map { "\($0.lowerBound)-\($0.upperBound)" }.sorted())
            #expect(throws: ShardLogError.self) { try s.updateShardCount(target: to * 2 + 1) }
        }
    }
}
