import Foundation
import ShardLogTestSupport
import Testing

@testable import ShardLog

/// The C MD5 of routing (scalar and 8-lane AVX2) against Python's `hashlib`.
@Suite struct MD5KeyTests {
    /// `count` random keys whose byte lengths run through every value 1–256; `nonASCII` mixes 2-, 3- and 4-byte
    /// UTF-8 characters in (those keys stay within 256 bytes).
    static func keys(seed: UInt64, count: Int, nonASCII: Bool) -> [[UInt8]] {
        var random = SplitMix64(seed: seed)
        let wide: [[UInt8]] = ["é", "ü", "日", "本", "🎉", "\u{7F}", "\u{80}", "\u{FFFD}"].map { Array($0.utf8) }
        return (0..<count).map { i in
            let length = 1 + i % 256
            var key: [UInt8] = []
            while key.count < length {
                if nonASCII, random.next() % 3 == 0 {
                    let c = wide[Int(random.next() % UInt64(wide.count))]
                    if key.count + c.count <= length {
                        key += c
                        continue
                    }
                }
                key.append(UInt8(32 + random.next() % 95))
            }
            return key
        }
    }

    /// The keys back to back, with `count + 1` offsets.
    static func packed(_ keys: [[UInt8]]) -> (bytes: [UInt8], offsets: [Int]) {
        var bytes: [UInt8] = []
        var offsets = [0]
        for k in keys {
            bytes += k
            offsets.append(bytes.count)
        }
        return (bytes, offsets)
    }

    /// Python's MD5 of each key (as the decimal 128-bit big-endian integer), with the keys passed in a file.
    static func pythonHashKeys(_ keys: [[UInt8]]) async throws -> [String] {
        try await withTemporaryDirectory { dir in
            let path = dir + "/keys.hex"
            let text = keys.map { $0.map { String(format: "%02x", $0) }.joined() }.joined(separator: "\n") + "\n"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            let script = """
                import hashlib, sys
                for line in open(sys.argv[1]):
                    print(int.from_bytes(hashlib.md5(bytes.fromhex(line.strip())).digest(), 'big'))
                """
            let result = try await runProcess("/usr/bin/env", ["python3", "-c", script, path])
            try #require(result.status == 0, "\(result.stderr)")
            return result.stdout.split(separator: "\n").map(String.init)
        }
    }

    @Test(arguments: [(UInt64(1), false), (7, true), (2026, true)])
    func batchAndSingleKeyMatchHashlib(seed: UInt64, nonASCII: Bool) async throws {
        let keys = Self.keys(seed: seed, count: 10_000, nonASCII: nonASCII)
        let expected = try await Self.pythonHashKeys(keys)
        try #require(expected.count == keys.count)
        let (bytes, offsets) = Self.packed(keys)
        var simd = [UInt128](repeating: 0, count: keys.count)
        var scalar = [UInt128](repeating: 0, count: keys.count)
        MD5Key.hash(bytes: bytes, offsets: offsets, range: 0..<keys.count, into: &simd)
        MD5Key.hash(bytes: bytes, offsets: offsets, range: 0..<keys.count, into: &scalar, simd: false)
        var mismatches = 0
        for i in keys.indices {
            let single = String(HashKey.of(partitionKey: String(decoding: keys[i], as: UTF8.self)))
            if String(simd[i]) != expected[i] || String(scalar[i]) != expected[i] || single != expected[i] {
                mismatches += 1
                if mismatches <= 5 { Issue.record("key \(i) (\(keys[i].count) bytes): hashlib \(expected[i])") }
            }
        }
        #expect(mismatches == 0)
    }

    /// Every way the batch hash can be sliced (a partial group of 8 at either end) gives the same values.
    @Test(arguments: [0..<1, 3..<11, 5..<300, 250..<256])
    func subrangesMatchSingleKeys(range: Range<Int>) {
        let keys = Self.keys(seed: 99, count: 300, nonASCII: true)
        let (bytes, offsets) = Self.packed(keys)
        var out = [UInt128](repeating: 0, count: keys.count)
        MD5Key.hash(bytes: bytes, offsets: offsets, range: range, into: &out)
        for i in keys.indices {
            let expected = range.contains(i) ? HashKey.of(partitionKey: String(decoding: keys[i], as: UTF8.self)) : 0
            #expect(out[i] == expected, "key \(i)")
        }
    }

    @Test func lanesReportTheDispatchedPath() {
        #expect([1, 8].contains(MD5Key.lanes))
    }
}
