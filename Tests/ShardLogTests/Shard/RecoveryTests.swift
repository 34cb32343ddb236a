import Foundation
import ShardLogTestSupport
import Testing

@testable import ShardLog

/// What a crash or power loss can leave in the newest segment, and what opening the store must make of it.
@Suite struct RecoveryTests {
    static let shard = "shardId-000000000000"

    /// Writes `batches` batches of 10 records (data = "b<batch>-<i>") and returns the segment path.
    func populate(_ dir: String, batches: Int, durability: Durability = .none) throws -> String {
        var options = StoreOptions()
        options.durability = durability
        options.segmentByteCount = 1 << 20
        let store = try Store(directory: dir, options: options)
        try store.createStream(named: "rec", shardCount: 1)
        let s = try store.stream(named: "rec")
        for b in 0..<batches {
            _ = try s.putRecords((0..<10).map { PutRecordsEntry(partitionKey: "k", data: Array("b\(b)-\($0)".utf8)) })
        }
        return try SegmentSurgery.segments(dir, stream: "rec", shard: Self.shard)[0]
    }

    func readAll(_ dir: String) throws -> [String] {
        let store = try Store(directory: dir)
        var it = try store.stream(named: "rec").iterator(shardId: Self.shard, position: .trimHorizon)
        var out: [String] = []
        while true {
            let b = try it.next()
            if b.isEmpty { return out }
            out += b.map { String(decoding: $0.data, as: UTF8.self) }
        }
    }

    /// Appends one more batch through a fresh store (which runs recovery first) and returns everything read.
    func appendAfterRecovery(_ dir: String) throws -> [String] {
        let store = try Store(directory: dir)
        _ = try store.stream(named: "rec").put(partitionKey: "k", data: Array("after".utf8))
        return try readAll(dir)
    }

    func expected(_ batches: Int) -> [String] {
        (0..<batches).flatMap { b in (0..<10).map { "b\(b)-\($0)" } }
    }

    enum Damage: String, CaseIterable {
        case truncatedMidBatch, flippedByteInLastBatch, zeroFilledTail
    }

    @Test(arguments: Damage.allCases)
    func tornTailAfterPowerLossKeepsEveryCompleteBatch(damage: Damage) async throws {
        try await withTemporaryDirectory { dir in
            let seg = try populate(dir, batches: 5)
            let positions = try SegmentSurgery.batchPositions(seg)
            let last = positions[4]
            switch damage {
            case .truncatedMidBatch: try SegmentSurgery.truncate(seg, to: last + 30)
            case .flippedByteInLastBatch: try SegmentSurgery.write(seg, last + 60, [0xFF])
            case .zeroFilledTail: try SegmentSurgery.write(seg, last, [UInt8](repeating: 0, count: 200))
            }
            try SegmentSurgery.simulateReboot(seg)
            #expect(try appendAfterRecovery(dir) == expected(4) + ["after"])
        }
    }

    @Test func writerKilledMidBatchLeavesGarbageThatIsNeverRead() async throws {
        try await withTemporaryDirectory { dir in
            let seg = try populate(dir, batches: 3)
            let end = Int(try SegmentSurgery.word(seg, SegmentSurgery.committedEnd))
            // A half-written batch beyond the committed end, and the writer's in-progress flag still set.
            try SegmentSurgery.write(seg, end, [200, 0, 0, 0, 1, 2, 3, 4, 1, 0, 0, 0, 9, 0, 0, 0])
            try SegmentSurgery.setWord(seg, SegmentSurgery.writerState, 1)
            #expect(try readAll(dir) == expected(3))
            #expect(try appendAfterRecovery(dir) == expected(3) + ["after"])
        }
    }

    @Test func flippedByteInAnOldBatchIsReportedNotDropped() async throws {
        try await withTemporaryDirectory { dir in
            let seg = try populate(dir, batches: 5, durability: .always)
            let positions = try SegmentSurgery.batchPositions(seg)
            try SegmentSurgery.write(seg, positions[1] + 60, [0xEE])
            let readError = #expect(throws: ShardLogError.self) { try readAll(dir) }
            #expect(readError?.code == .corruption)
            #expect(readError?.message.contains("00000000000000000000.seg") == true)
            // After a reboot, recovery verifies from the synced point: the damage is below it, so it is reported.
            try SegmentSurgery.simulateReboot(seg)
            let appendError = #expect(throws: ShardLogError.self) { try appendAfterRecovery(dir) }
            #expect(appendError?.code == .corruption)
            // Nothing was truncated: the later batches are still there.
            #expect(Int(try SegmentSurgery.word(seg, SegmentSurgery.committedEnd)) > positions[4])
        }
    }

    @Test func reopenAfterCleanCloseKeepsEverything() async throws {
        try await withTemporaryDirectory { dir in
            _ = try populate(dir, batches: 4)
            #expect(try readAll(dir) == expected(4))
            #expect(try appendAfterRecovery(dir) == expected(4) + ["after"])
        }
    }
}

/// A reader at the end of the newest segment does not list the shard's directory on every read (a successor only
/// follows a sealed segment), yet still moves on when a writer died between creating a successor and sealing.
@Suite struct TipListingTests {
    static let shard = "shardId-000000000000"

    @Test func aReaderAtTheTipDoesNotListTheDirectoryPerRead() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            try store.createStream(named: "tip", shardCount: 1)
            let stream = try store.stream(named: "tip")
            _ = try stream.put(partitionKey: "k", data: [0])
            var it = try stream.iterator(shardId: Self.shard, position: .trimHorizon)
            #expect(try it.next().count == 1)
            let shard = try stream.shard(id: Self.shard)
            let before = shard.listingCount
            for i in 1...200 {
                _ = try stream.put(partitionKey: "k", data: [UInt8(truncatingIfNeeded: i)])
                #expect(try it.next().map(\.data) == [[UInt8(truncatingIfNeeded: i)]])
                #expect(try it.next().isEmpty)
                #expect(try !it.hasMore())
            }
            // At most one listing per second of reading (the fallback below), not two per record.
            #expect(shard.listingCount - before <= 5, "\(shard.listingCount - before) listings for 200 records")
        }
    }

    /// Fills the first segment of `stream` until a second one exists and returns how many records were put.
    func rollOnce(_ stream: DataStream, dir: String) throws -> Int {
        var count = 0
        while try SegmentSurgery.segments(dir, stream: "orphan", shard: Self.shard).count < 2 {
            _ = try stream.put(partitionKey: "k", data: Array("r\(count)".utf8) + [UInt8](repeating: 7, count: 2000))
            count += 1
        }
        return count
    }

    @Test(arguments: [false, true])
    func aSegmentLeftUnsealedByADeadWriterIsReadThrough(nextWriterAppends: Bool) async throws {
        try await withTemporaryDirectory { dir in
            var options = StoreOptions()
            options.segmentByteCount = 64 << 10
            // The reader's store lists the shard while only the first segment exists.
            let readerStore = try Store(directory: dir, options: options)
            try readerStore.createStream(named: "orphan", shardCount: 1)
            _ = try readerStore.stream(named: "orphan").put(partitionKey: "k", data: Array("r-first".utf8))
            var reader = try readerStore.stream(named: "orphan").iterator(shardId: Self.shard, position: .trimHorizon)
            var seen = try reader.next().map { String(decoding: $0.data.prefix(8), as: UTF8.self) }
            #expect(seen == ["r-first"])
            // Another store (a writer process) fills it and starts the second; then the first is made to look as a
            // writer that died between creating the second and sealing the first leaves it.
            let writerStore = try Store(directory: dir, options: options)
            let rolled = try rollOnce(try writerStore.stream(named: "orphan"), dir: dir)
            let segments = try SegmentSurgery.segments(dir, stream: "orphan", shard: Self.shard)
            try SegmentSurgery.setWord(segments[0], SegmentSurgery.segmentState, 0)
            var total = 1 + rolled
            if nextWriterAppends {
                // The next writer seals it before appending.
                _ = try Store(directory: dir, options: options).stream(named: "orphan")
                    .put(partitionKey: "k", data: Array("r-next".utf8))
                total += 1
                #expect(try SegmentSurgery.word(segments[0], SegmentSurgery.segmentState) == 1)
            }
            // Everything is read once, in order, within a generous bound (without the next writer, the reader lists
            // the directory again once its listing is a second old).
            let deadline = ContinuousClock.now + .seconds(20)
            while seen.count < total && ContinuousClock.now < deadline {
                let records = try reader.next(limit: 10_000)
                if records.isEmpty { try await Task.sleep(for: .milliseconds(20)) }
                seen += records.map { String(decoding: $0.data.prefix(8).prefix { $0 != 7 }, as: UTF8.self) }
            }
            let expected =
                ["r-first"] + (0..<rolled).map { "r\($0)" } + (nextWriterAppends ? ["r-next"] : [])
            #expect(seen == expected)
        }
    }
}

@Suite struct LazyOpenTests {
    /// Opening a store and appending or reading the tail touches only the newest segment: an unreadable old one is
    /// noticed only when a reader reaches it.
    @Test func openingDoesNotReadOldSegments() async throws {
        try await withTemporaryDirectory { dir in
            var options = StoreOptions()
            options.segmentByteCount = 16 << 10
            do {
                let store = try Store(directory: dir, options: options)
                try store.createStream(named: "many", shardCount: 1)
                let s = try store.stream(named: "many")
                for i in 0..<60 { _ = try s.put(partitionKey: "k", data: [UInt8](repeating: UInt8(i), count: 4000)) }
            }
            let segments = try SegmentSurgery.segments(dir, stream: "many", shard: "shardId-000000000000")
            #expect(segments.count > 10)
            // Destroy the header of an old segment: any read of it would fail.
            try SegmentSurgery.write(segments[3], 0, [UInt8](repeating: 0, count: 64))
            let store = try Store(directory: dir, options: options)
            let s = try store.stream(named: "many")
            let r = try s.put(partitionKey: "k", data: [1, 2, 3])
            var latest = try s.iterator(shardId: "shardId-000000000000", position: .atSequenceNumber(r.sequenceNumber))
            #expect(try latest.next().map(\.data) == [[1, 2, 3]])
            var all = try s.iterator(shardId: "shardId-000000000000", position: .trimHorizon)
            let error = #expect(throws: ShardLogError.self) {
                while try !all.next().isEmpty {}
            }
            #expect(error?.code == .corruption)
            #expect(error?.message.contains(segments[3].split(separator: "/").last.map(String.init) ?? "?") == true)
        }
    }
}
