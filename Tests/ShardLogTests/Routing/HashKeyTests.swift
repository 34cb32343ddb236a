import Foundation
import ShardLogTestSupport
import Testing

@testable import ShardLog

@Suite struct HashKeyTests {
    /// Keys with ASCII, unicode, empty-ish and long forms, from a seeded generator.
    static func keys(seed: UInt64, count: Int) -> [String] {
        var state = seed
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 33
        }
        let alphabet = Array("abcXYZ019-_.:/ éü日本🎉")
        return (0..<count).map { i in
            let length = Int(next() % 40) + 1
            return String((0..<length).map { _ in alphabet[Int(next() % UInt64(alphabet.count))] }) + "\(i)"
        }
    }

    @Test(arguments: [UInt64(1), 42])
    func md5MatchesPythonHashlib(seed: UInt64) async throws {
        let keys = Self.keys(seed: seed, count: 500)
        let script = """
            import hashlib, sys, json
            for k in json.load(sys.stdin):
                print(int.from_bytes(hashlib.md5(k.encode('utf-8')).digest(), 'big'))
            """
        let input = try JSONEncoder().encode(keys)
        let result = try await runProcess("/usr/bin/env", ["python3", "-c", script], input: input)
        #expect(result.status == 0, "\(result.stderr)")
        let expected = result.stdout.split(separator: "\n").map(String.init)
        try #require(expected.count == keys.count)
        for (key, hash) in zip(keys, expected) {
            #expect(String(HashKey.of(partitionKey: key)) == hash, "key \(key)")
        }
    }

    @Test(arguments: [1, 2, 3, 4, 5, 7, 8, 16, 100])
    func evenRangesMatchKinesis(count: Int) async throws {
        let script = """
            n = \(count); step = 2**128 // n
            for i in range(n):
                print(i * step, (2**128 - 1) if i == n - 1 else (i + 1) * step - 1)
            """
        let result = try await runProcess("/usr/bin/env", ["python3", "-c", script])
        let expected = result.stdout.split(separator: "\n").map(String.init)
        let ranges = HashKey.evenRanges(count: count)
        try #require(expected.count == count)
        for (r, line) in zip(ranges, expected) {
            #expect("\(r.lowerBound) \(r.upperBound)" == line)
        }
        for (a, b) in zip(ranges, ranges.dropFirst()) { #expect(a.upperBound + 1 == b.lowerBound) }
    }

    @Test func explicitHashKeyParsing() throws {
        #expect(try HashKey.parse("0") == 0)
        #expect(try HashKey.parse(String(UInt128.max)) == UInt128.max)
        for bad in ["", "-1", "01", "1a", "340282366920938463463374607431768211456", String(repeating: "9", count: 40)]
        {
            #expect(throws: ShardLogError.self) { try HashKey.parse(bad) }
        }
    }

    @Test func sequenceNumbersRoundTripAndOrder() throws {
        let values: [(Int, UInt64)] = [(0, 0), (1, 1), (7, 999), (123_456_789_012, UInt64.max)]
        // A shard's starting sequence number sorts below its first record, and parses to offset 0.
        let start = SequenceNumber.preceding(shardIndex: 4, offset: 0)
        #expect(start < SequenceNumber(shardIndex: 4, offset: 0).description)
        #expect(try SequenceNumber(parsing: start).offset == 0)
        #expect(
            SequenceNumber.preceding(shardIndex: 4, offset: 8) == SequenceNumber(shardIndex: 4, offset: 7).description)
        for (shard, offset) in values {
            let s = SequenceNumber(shardIndex: shard, offset: offset)
            #expect(s.description.count == 56)
            #expect(s.description.hasPrefix("49"))
            #expect(try SequenceNumber(parsing: s.description) == s)
        }
        let a = SequenceNumber(shardIndex: 3, offset: 9).description
        let b = SequenceNumber(shardIndex: 3, offset: 10).description
        #expect(a < b)
        for bad in ["", "0", "12", String(repeating: "1", count: 56), "49" + String(repeating: "x", count: 54)] {
            #expect(throws: ShardLogError.self) { try SequenceNumber(parsing: bad) }
        }
    }
}
