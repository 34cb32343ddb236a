import Foundation
import ShardLogTestSupport
import Testing

@testable import ShardLog

@Suite struct RoutingTests {
    @Test(arguments: [1, 3, 4, 16])
    func recordsLandInTheShardWhoseRangeHoldsTheirHashKey(shards: Int) async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            try store.createStream(named: "r", shardCount: shards)
            let stream = try store.stream(named: "r")
            let keys = HashKeyTests.keys(seed: 7, count: 400)
            let results = try stream.putRecords(keys.map { PutRecordsEntry(partitionKey: $0, data: Array($0.utf8)) })
            let ranges = HashKey.evenRanges(count: shards)
            for (key, result) in zip(keys, results) {
                let hash = HashKey.of(partitionKey: key)
                let expected = ranges.firstIndex { $0.contains(hash) }
                #expect(result.shardId == ShardID.name(expected ?? -1), "key \(key)")
            }
            // Explicit hash keys override the MD5.
            let pinned = try stream.put(partitionKey: "any", data: [1], explicitHashKey: UInt128.max)
            #expect(pinned.shardId == ShardID.name(shards - 1))
            let first = try stream.put(partitionKey: "any", data: [1], explicitHashKey: 0)
            #expect(first.shardId == ShardID.name(0))
        }
    }

    @Test func invalidStreamNamesAreRefusedBeforeTouchingDisk() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            for bad in ["", "a/b", "../x", "sp ace", String(repeating: "a", count: 129), "é"] {
                #expect(throws: ShardLogError.self) { try store.createStream(named: bad, shardCount: 1) }
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/streams").isEmpty)
            try store.createStream(named: "Ok_name.1-2", shardCount: 1)
            let error = #expect(throws: ShardLogError.self) {
                try store.createStream(named: "Ok_name.1-2", shardCount: 1)
            }
            #expect(error?.code == .resourceInUse)
            let missing = #expect(throws: ShardLogError.self) { try store.stream(named: "nope") }
            #expect(missing?.code == .resourceNotFound)
            #expect(try store.listStreams() == ["Ok_name.1-2"])
            try store.deleteStream(named: "Ok_name.1-2")
            #expect(try store.listStreams().isEmpty)
        }
    }

    @Test func recordLimitsAreEnforced() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            try store.createStream(named: "l", shardCount: 1)
            let stream = try store.stream(named: "l")
            #expect(throws: ShardLogError.self) { try stream.put(partitionKey: "", data: [1]) }
            #expect(throws: ShardLogError.self) {
                try stream.put(partitionKey: String(repeating: "k", count: 257), data: [1])
            }
            let tooBig = #expect(throws: ShardLogError.self) {
                try stream.put(partitionKey: "k", data: [UInt8](repeating: 0, count: 1 << 20))
            }
            #expect(tooBig?.message.contains("1 MiB") == true)
            // Exactly at the limit is accepted.
            try stream.put(partitionKey: "k", data: [UInt8](repeating: 0, count: (1 << 20) - 1))
        }
    }
}
