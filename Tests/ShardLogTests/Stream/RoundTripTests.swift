import Foundation
import ShardLogTestSupport
import Testing

@testable import ShardLog

@Suite struct RoundTripTests {
    static func options(compress: Bool) -> StoreOptions {
        var o = StoreOptions()
        o.segmentByteCount = 4 << 20
        o.compressionThreshold = compress ? 1024 : Int.max
        return o
    }

    /// Binary, empty, unicode and 1 MiB records come back byte for byte, with and without compression, and after
    /// the store is closed and reopened.
    @Test(arguments: [false, true])
    func everyByteRoundTrips(compress: Bool) async throws {
        try await withTemporaryDirectory { dir in
            var entries: [PutRecordsEntry] = [
                .init(partitionKey: "binary", data: (0...255).map { UInt8($0) }),
                .init(partitionKey: "empty", data: []),
                .init(partitionKey: "日本語🎉", data: Array("héllo wörld ✓ 🎉".utf8)),
                .init(partitionKey: "newline", data: Array("a\nb\r\n\0".utf8)),
                .init(partitionKey: "k", data: [UInt8](repeating: 0xAB, count: (1 << 20) - 1)),
            ]
            entries += (0..<300).map {
                .init(partitionKey: "p\($0 % 7)", data: Array("{\"n\":\($0),\"pad\":\"xxxxxxxxxxxxxxxx\"}".utf8))
            }
            do {
                let store = try Store(directory: dir, options: Self.options(compress: compress))
                try store.createStream(named: "rt", shardCount: 1)
                let results = try store.stream(named: "rt").putRecords(entries)
                #expect(results.map(\.sequence.offset) == Array(0..<UInt64(entries.count)))
            }
            let reopened = try Store(directory: dir, options: Self.options(compress: compress))
            var it = try reopened.stream(named: "rt").iterator(shardId: "shardId-000000000000", position: .trimHorizon)
            var read: [Record] = []
            while true {
                let batch = try it.next(limit: 50)
                if batch.isEmpty { break }
                read += batch
            }
            #expect(read.count == entries.count)
            for (r, e) in zip(read, entries) {
                #expect(r.partitionKey == e.partitionKey)
                #expect(r.data == e.data)
            }
            #expect(read.map(\.sequence.offset) == Array(0..<UInt64(entries.count)))
        }
    }

    @Test func compressionShrinksRepetitiveBatches() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir, options: Self.options(compress: true))
            try store.createStream(named: "c", shardCount: 1)
            let data = Array(String(repeating: "{\"user\":\"u1\",\"event\":\"click\"}", count: 4).utf8)
            _ = try store.stream(named: "c").putRecords(
                (0..<2000).map { _ in PutRecordsEntry(partitionKey: "k", data: data) })
            let seg = try SegmentSurgery.segments(dir, stream: "c", shard: "shardId-000000000000")[0]
            let used = Int(try SegmentSurgery.word(seg, SegmentSurgery.committedEnd)) - 4096
            #expect(used < 2000 * data.count / 3, "LZ4 should shrink repetitive JSON; used \(used) bytes")
        }
    }
}
