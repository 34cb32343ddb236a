import Foundation
import ShardLogTestSupport
import Testing

@testable import ShardLog

@Suite struct IteratorTests {
    func drain(_ it: inout ShardIterator) throws -> [Record] {
        var out: [Record] = []
        while true {
            let b = try it.next(limit: 7)
            if b.isEmpty { return out }
            out += b
        }
    }

    @Test func allFiveIteratorTypes() async throws {
        try await withTemporaryDirectory { dir in
            var options = StoreOptions()
            options.segmentByteCount = 64 << 10  // several segments
            let store = try Store(directory: dir, options: options)
            try store.createStream(named: "it", shardCount: 1)
            let s = try store.stream(named: "it")
            let shard = "shardId-000000000000"
            var results: [PutResult] = []
            for i in 0..<60 {
                results += try s.putRecords(
                    (0..<20).map {
                        PutRecordsEntry(
                            partitionKey: "k",
                            data: Array("r\(i)-\($0)".padding(toLength: 200, withPad: ".", startingAt: 0).utf8))
                    })
            }
            let middle = Date()
            try await Task.sleep(for: .milliseconds(15))
            let late = try s.putRecords(
                (0..<10).map { PutRecordsEntry(partitionKey: "k", data: Array("late\($0)".utf8)) })
            results += late
            #expect(try SegmentSurgery.segments(dir, stream: "it", shard: shard).count > 3)

            var trim = try s.iterator(shardId: shard, position: .trimHorizon)
            #expect(try drain(&trim).map(\.sequenceNumber) == results.map(\.sequenceNumber))

            var latest = try s.iterator(shardId: shard, position: .latest)
            #expect(try latest.next().isEmpty)
            let after = try s.put(partitionKey: "k", data: [9])
            #expect(try latest.next().map(\.sequenceNumber) == [after.sequenceNumber])

            let target = results[537]
            var at = try s.iterator(shardId: shard, position: .atSequenceNumber(target.sequenceNumber))
            #expect(try at.next(limit: 1).first?.sequenceNumber == target.sequenceNumber)
            var afterSeq = try s.iterator(shardId: shard, position: .afterSequenceNumber(target.sequenceNumber))
            #expect(try afterSeq.next(limit: 1).first?.sequenceNumber == results[538].sequenceNumber)

            var byTime = try s.iterator(shardId: shard, position: .atTimestamp(middle))
            #expect(try byTime.next(limit: 1).first?.sequenceNumber == late[0].sequenceNumber)
            var early = try s.iterator(shardId: shard, position: .atTimestamp(Date(timeIntervalSince1970: 0)))
            #expect(try early.next(limit: 1).first?.sequenceNumber == results[0].sequenceNumber)
        }
    }

    @Test func sequenceNumberFromAnotherShardIsRefused() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            try store.createStream(named: "two", shardCount: 2)
            let s = try store.stream(named: "two")
            let r = try s.put(partitionKey: "x", data: [1], explicitHashKey: 0)
            let error = #expect(throws: ShardLogError.self) {
                try s.iterator(shardId: "shardId-000000000001", position: .atSequenceNumber(r.sequenceNumber))
            }
            #expect(error?.code == .invalidArgument)
            let unknown = #expect(throws: ShardLogError.self) {
                try s.iterator(shardId: "shardId-000000000009", position: .trimHorizon)
            }
            #expect(unknown?.code == .resourceNotFound)
        }
    }

    @Test func concurrentReaderNeverSeesAPartialBatch() async throws {
        try await withTemporaryDirectory { dir in
            var options = StoreOptions()
            options.segmentByteCount = 256 << 10
            let store = try Store(directory: dir, options: options)
            try store.createStream(named: "cc", shardCount: 1)
            let s = try store.stream(named: "cc")
            let total = 20_000
            let writer = Task {
                var n = 0
                var size = 1
                while n < total {
                    let count = min(size, total - n)
                    _ = try s.putRecords(
                        (n..<n + count).map { PutRecordsEntry(partitionKey: "k\($0 % 13)", data: Array("\($0)".utf8)) })
                    n += count
                    size = size % 97 + 3
                }
            }
            var it = try s.iterator(shardId: "shardId-000000000000", position: .trimHorizon)
            var expected = 0
            let deadline = ContinuousClock.now + .seconds(30)
            while expected < total && ContinuousClock.now < deadline {
                let batch = try it.next(limit: 333)
                if batch.isEmpty { try await it.waitForData(timeout: .milliseconds(20)) }
                for r in batch {
                    #expect(String(decoding: r.data, as: UTF8.self) == "\(expected)")
                    #expect(r.partitionKey == "k\(expected % 13)")
                    #expect(r.sequence.offset == UInt64(expected))
                    expected += 1
                }
            }
            try await writer.value
            #expect(expected == total)
        }
    }
}

@Suite struct StartingSequenceNumberTests {
    /// AWS semantics: AFTER the shard's StartingSequenceNumber reads its first record; AT it, too.
    @Test func afterTheStartingSequenceNumberReadsRecordZero() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            try store.createStream(named: "st", shardCount: 1)
            let s = try store.stream(named: "st")
            let start = try #require(s.describe().shards.first).sequenceNumberRange.startingSequenceNumber
            let first = try s.put(partitionKey: "k", data: [1])
            #expect(start < first.sequenceNumber)
            var after = try s.iterator(shardId: first.shardId, position: .afterSequenceNumber(start))
            #expect(try after.next().map(\.sequenceNumber) == [first.sequenceNumber])
            var at = try s.iterator(shardId: first.shardId, position: .atSequenceNumber(start))
            #expect(try at.next().map(\.sequenceNumber) == [first.sequenceNumber])
        }
    }

    /// `nextStored` reads what `next` reads — the same records, in order, with the same limits and the same next
    /// position — but leaves them in their decoded batches (compressed and not, across segments).
    @Test(arguments: [false, true])
    func storedReadsMatchRecordReads(compress: Bool) async throws {
        try await withTemporaryDirectory { dir in
            var options = StoreOptions()
            options.segmentByteCount = 16 << 10  // several segments
            options.compressionThreshold = compress ? 256 : Int.max
            let store = try Store(directory: dir, options: options)
            try store.createStream(named: "s", shardCount: 1)
            let s = try store.stream(named: "s")
            for i in 0..<50 {
                _ = try s.putRecords(
                    (0..<(1 + i % 9)).map {
                        PutRecordsEntry(partitionKey: "k\($0)é", data: Array(repeating: UInt8(i), count: 40 * $0))
                    })
            }
            for (limit, maxBytes) in [(10_000, 10 << 20), (7, 10 << 20), (10_000, 1_000), (1, 1)] {
                var a = try s.iterator(shardId: "shardId-000000000000", position: .trimHorizon)
                var b = a
                while true {
                    let stored = try a.nextStored(limit: limit, maxBytes: maxBytes)
                    let records = try b.next(limit: limit, maxBytes: maxBytes)
                    var seen: [Record] = []
                    stored.visit { sequence, milliseconds, key, data in
                        var k: [UInt8] = []
                        var d: [UInt8] = []
                        for i in key.indices { k.append(key[i]) }
                        for i in data.indices { d.append(data[i]) }
                        seen.append(
                            Record(
                                sequence: sequence, partitionKey: String(decoding: k, as: UTF8.self), data: d,
                                arrivalMilliseconds: milliseconds))
                    }
                    #expect(seen == records && stored.records == records && stored.count == records.count)
                    #expect(a.offset == b.offset)
                    if records.isEmpty { break }
                }
            }
        }
    }
}
