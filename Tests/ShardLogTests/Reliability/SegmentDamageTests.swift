import Foundation
import ShardLogTestSupport
import Testing

@testable import ShardLog

/// Damaged segment files: every read either returns every acknowledged record or fails with `.corruption` naming
/// the damaged (or missing) file; a put never writes over a damaged header.
@Suite struct SegmentDamageTests {
    static let shard = "shardId-000000000000"
    static let nextOffset = 72
    static let capacity = 24
    static let state = 104

    /// A store with one single-shard stream of 16 KiB segments holding `count` acknowledged records.
    func populate(_ dir: String, count: Int, size: Int = 300) throws -> [String] {
        let store = try Store(directory: dir)
        try store.createStream(named: "dmg", shardCount: 1, segmentByteCount: 16 << 10)
        let s = try store.stream(named: "dmg")
        var written: [String] = []
        var i = 0
        while i < count {
            let n = min(7, count - i)
            let batch = (i..<i + n).map { "r\($0)-" + String(repeating: "x", count: size + $0 % 50) }
            _ = try s.putRecords(batch.map { PutRecordsEntry(partitionKey: "k\($0.count)", data: Array($0.utf8)) })
            written += batch
            i += n
        }
        return written
    }

    /// Everything a fresh store reads from the trim horizon.
    func readAll(_ dir: String) throws -> [String] {
        let store = try Store(directory: dir)
        var it = try store.stream(named: "dmg").iterator(shardId: Self.shard, position: .trimHorizon)
        var out: [String] = []
        while true {
            let batch = try it.next(limit: 1000)
            if batch.isEmpty { return out }
            out += batch.map { String(decoding: $0.data, as: UTF8.self) }
        }
    }

    func segments(_ dir: String) throws -> [String] {
        try SegmentSurgery.segments(dir, stream: "dmg", shard: Self.shard)
    }

    func fileName(_ path: String) -> String { String(path.split(separator: "/").last ?? "") }

    /// Bytes of a file.
    func contents(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }

    @Test func zeroedHeaderIsReportedAndTheNextPutRefused() async throws {
        try await withTemporaryDirectory { dir in
            _ = try populate(dir, count: 20)
            let newest = try #require(try segments(dir).last)
            try SegmentSurgery.write(newest, 0, [UInt8](repeating: 0, count: 4096))
            let before = try contents(newest)
            let readError = #expect(throws: ShardLogError.self) { try readAll(dir) }
            #expect(readError?.code == .corruption)
            #expect(readError?.message.contains(fileName(newest)) == true)
            #expect(readError?.message.contains("zeroed") == true)
            let store = try Store(directory: dir)
            let putError = #expect(throws: ShardLogError.self) {
                try store.stream(named: "dmg").put(partitionKey: "k", data: [1, 2, 3])
            }
            #expect(putError?.code == .corruption)
            #expect(putError?.message.contains(fileName(newest)) == true)
            #expect(putError?.message.contains("backup") == true)
            #expect(try contents(newest) == before)
            #expect(try segments(dir).last == newest)
        }
    }

    @Test(arguments: [0, 4095, 1 << 40, -5])
    func impossibleCommittedEndIsReportedAndTheNextPutRefused(value: Int64) async throws {
        try await withTemporaryDirectory { dir in
            _ = try populate(dir, count: 10)
            let newest = try #require(try segments(dir).last)
            try SegmentSurgery.setWord(newest, SegmentSurgery.committedEnd, value)
            let before = try contents(newest)
            let readError = #expect(throws: ShardLogError.self) { try readAll(dir) }
            #expect(readError?.code == .corruption)
            #expect(readError?.message.contains(fileName(newest)) == true)
            let store = try Store(directory: dir)
            #expect(throws: ShardLogError.self) { try store.stream(named: "dmg").put(partitionKey: "k", data: [1]) }
            #expect(try contents(newest) == before)
        }
    }

    /// A committed end lowered exactly onto an earlier batch boundary looks valid on its own.
    @Test func committedEndLoweredOntoABatchBoundaryIsReported() async throws {
        try await withTemporaryDirectory { dir in
            _ = try populate(dir, count: 14)
            let newest = try #require(try segments(dir).last)
            let positions = try SegmentSurgery.batchPositions(newest)
            try #require(positions.count >= 2)
            try SegmentSurgery.setWord(newest, SegmentSurgery.committedEnd, Int64(positions[1]))
            let readError = #expect(throws: ShardLogError.self) { try readAll(dir) }
            #expect(readError?.code == .corruption)
            #expect(readError?.message.contains(fileName(newest)) == true)
            let store = try Store(directory: dir)
            #expect(throws: ShardLogError.self) { try store.stream(named: "dmg").put(partitionKey: "k", data: [1]) }
        }
    }

    @Test(arguments: [Int64(-1), 1 << 50, 4096, 100])
    func damagedCapacityWordIsCorruptionNotACrash(value: Int64) async throws {
        try await withTemporaryDirectory { dir in
            _ = try populate(dir, count: 60)
            let files = try segments(dir)
            try #require(files.count >= 2)
            try SegmentSurgery.setWord(files[0], Self.capacity, value)
            let error = #expect(throws: ShardLogError.self) { try readAll(dir) }
            #expect(error?.code == .corruption)
            #expect(error?.message.contains(fileName(files[0])) == true)
        }
    }

    @Test func negativeOrHugeOffsetsAreCorruptionNotATrap() async throws {
        try await withTemporaryDirectory { dir in
            _ = try populate(dir, count: 10)
            let newest = try #require(try segments(dir).last)
            for value in [Int64(-1), Int64.max, Int64.min] {
                try SegmentSurgery.setWord(newest, Self.nextOffset, value)
                let store = try Store(directory: dir)
                let error = #expect(throws: ShardLogError.self) {
                    try store.stream(named: "dmg").put(partitionKey: "k", data: [1])
                }
                #expect(error?.code == .corruption)
                #expect(error?.message.contains(fileName(newest)) == true)
            }
            // First offset word that no longer matches the file name, or beyond any sequence number.
            try SegmentSurgery.setWord(newest, 16, -1)
            let error = #expect(throws: ShardLogError.self) { try readAll(dir) }
            #expect(error?.message.contains(fileName(newest)) == true)
        }
    }

    @Test func missingMiddleSegmentIsReportedByGet() async throws {
        try await withTemporaryDirectory { dir in
            _ = try populate(dir, count: 120)
            let files = try segments(dir)
            try #require(files.count >= 4)
            try FileManager.default.removeItem(atPath: files[2])
            let error = #expect(throws: ShardLogError.self) { try readAll(dir) }
            #expect(error?.code == .corruption)
            #expect(error?.message.contains(fileName(files[2])) == true)
            let cli = try await runShardlog(["get", "dmg", "--data-dir", dir])
            #expect(cli.status == 1)
            #expect(cli.stderr.contains(fileName(files[2])))
        }
    }

    @Test func missingNewestSegmentIsReportedNotRecreatedOver() async throws {
        try await withTemporaryDirectory { dir in
            _ = try populate(dir, count: 120)
            let files = try segments(dir)
            try #require(files.count >= 3)
            try FileManager.default.removeItem(atPath: try #require(files.last))
            let error = #expect(throws: ShardLogError.self) { try readAll(dir) }
            #expect(error?.code == .corruption)
            let store = try Store(directory: dir)
            let putError = #expect(throws: ShardLogError.self) {
                try store.stream(named: "dmg").put(partitionKey: "k", data: [1])
            }
            #expect(putError?.code == .corruption)
            #expect(putError?.message.contains(fileName(try #require(files.last))) == true)
        }
    }

    @Test func truncatedSegmentIsReported() async throws {
        try await withTemporaryDirectory { dir in
            _ = try populate(dir, count: 60)
            let files = try segments(dir)
            try SegmentSurgery.truncate(files[0], to: 6000)
            let error = #expect(throws: ShardLogError.self) { try readAll(dir) }
            #expect(error?.code == .corruption)
            #expect(error?.message.contains(fileName(files[0])) == true)
            #expect(error?.message.contains("truncated") == true)
        }
    }

    // MARK: - Seeded random damage

    /// One way to damage a store.
    enum Damage: CaseIterable {
        case flipByte, zeroHeaderRange, zeroHeader, truncate, deleteMiddle, randomHeaderWord, zeroDataRange
    }

    /// Damages one file of the store at random; returns what was done.
    func damage(_ dir: String, using rng: inout SplitMix64) throws -> String {
        let files = try segments(dir)
        let target = files[Int.random(in: 0..<files.count, using: &rng)]
        let size = try contents(target).count
        let end = Int(try SegmentSurgery.word(target, SegmentSurgery.committedEnd))
        switch Damage.allCases.randomElement(using: &rng) ?? .flipByte {
        case .flipByte:
            let at = Int.random(in: 0..<min(size, end + 64), using: &rng)
            let bit = UInt8(1) << UInt8.random(in: 0..<8, using: &rng)
            let old = try contents(target)[at]
            try SegmentSurgery.write(target, at, [old ^ bit])
            return "flip bit \(bit) at \(at) of \(fileName(target))"
        case .zeroHeaderRange:
            let at = Int.random(in: 0..<128, using: &rng)
            let count = Int.random(in: 1...16, using: &rng)
            try SegmentSurgery.write(target, at, [UInt8](repeating: 0, count: count))
            return "zero \(count) bytes at \(at) of \(fileName(target))"
        case .zeroHeader:
            try SegmentSurgery.write(target, 0, [UInt8](repeating: 0, count: 4096))
            return "zero the header of \(fileName(target))"
        case .truncate:
            let length = Int.random(in: 0..<size, using: &rng)
            try SegmentSurgery.truncate(target, to: length)
            return "truncate \(fileName(target)) to \(length)"
        case .deleteMiddle:
            guard files.count >= 3 else { return "nothing (fewer than 3 segments)" }
            let victim = files[Int.random(in: 1..<files.count - 1, using: &rng)]
            try FileManager.default.removeItem(atPath: victim)
            return "delete \(fileName(victim))"
        case .randomHeaderWord:
            let word = Int.random(in: 0..<16, using: &rng) * 8
            let value = Int64(bitPattern: rng.next()) >> Int64.random(in: 0..<63, using: &rng)
            try SegmentSurgery.setWord(target, word, value)
            return "set word \(word) of \(fileName(target)) to \(value)"
        case .zeroDataRange:
            guard end > 4096 else { return "nothing (empty segment)" }
            let at = Int.random(in: 4096..<end, using: &rng)
            let count = Int.random(in: 1...64, using: &rng)
            try SegmentSurgery.write(target, at, [UInt8](repeating: 0, count: count))
            return "zero \(count) bytes at \(at) of \(fileName(target))"
        }
    }

    /// 200 seeds in 8 groups: damage a real store, then read everything and append once more. Each read returns
    /// every acknowledged record or fails with `.corruption`/`.resourceNotFound` naming a segment file; no crash.
    @Test(arguments: 0..<8)
    func seededRandomDamageNeverLosesRecordsSilently(group: Int) async throws {
        for seed in (group * 25)..<(group * 25 + 25) {
            var rng = SplitMix64(seed: UInt64(seed) &* 7919 &+ 17)
            try await withTemporaryDirectory { dir in
                var acknowledged = try populate(dir, count: Int.random(in: 20...120, using: &rng))
                let what = try damage(dir, using: &rng)
                try expectAllOrNamedError(dir, acknowledged, "seed \(seed): \(what)")
                let store = try Store(directory: dir)
                if (try? store.stream(named: "dmg").put(partitionKey: "k", data: Array("after".utf8))) != nil {
                    acknowledged.append("after")
                }
                try expectAllOrNamedError(dir, acknowledged, "seed \(seed): \(what), then a put")
            }
        }
    }

    func expectAllOrNamedError(_ dir: String, _ acknowledged: [String], _ context: String) throws {
        do {
            let read = try readAll(dir)
            #expect(read == acknowledged, "\(context): read \(read.count) of \(acknowledged.count) records")
        } catch let error as ShardLogError {
            let codes: [ShardLogError.Code] = [.corruption, .resourceNotFound]
            #expect(
                codes.contains(error.code) && error.message.contains(".seg"),
                "\(context): \(error.code) \(error.message)")
        }
    }
}
