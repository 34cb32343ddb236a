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
