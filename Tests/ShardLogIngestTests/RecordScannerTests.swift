import ShardLog
import Testing

@testable import ShardLogIngest

/// `RecordScanner`: JSON lines into a packed record buffer, with the refusal texts `shardlog put` prints.
@Suite struct RecordScannerTests {
    func scan(
        _ lines: [String], _ source: RecordScanner.KeySource, jsonl: Bool = true, limit: Int = 1 << 20
    ) -> (RecordBuffer, [String?]) {
        var scanner = RecordScanner(jsonl: jsonl, keySource: source, maxRecordByteCount: limit)
        var buffer = RecordBuffer()
        let outcomes = lines.map { line -> String? in
            let bytes = Array(line.utf8)
            return scanner.scan(bytes, 0..<bytes.count, into: &buffer)?.description
        }
        return (buffer, outcomes)
    }

    /// A nested key path is found by `JSONLine`, not the C scanner, and refused lines go through `JSONLine` for
    /// their message: its recursion is bounded at the C scanner's 512 levels too, so 100,000 `[` are refused, not a
    /// stack overflow.
    @Test func deepNestingIsRefusedForEveryKeySource() throws {
        let deep = String(repeating: "[", count: 100_000)
        let sources: [RecordScanner.KeySource] = [.field(["user"]), .field(["order", "id"]), .fixed("k"), .random]
        for source in sources {
            let (buffer, outcomes) = scan([deep, #"{"order":{"id":"k","x":"# + deep], source)
            #expect(buffer.isEmpty)
            for outcome in outcomes {
                #expect(
                    outcome?.contains("nested deeper than 512 levels at byte") == true,
                    "\(source): \(outcome ?? "accepted")")
            }
        }
        let line = Array(deep.utf8)
        #expect(throws: JSONLine.Problem.self) { try JSONLine.field(line, 0..<line.count, path: []) }
        // 512 levels (two objects, 510 arrays) are accepted.
        let ok =
            #"{"order":{"id":"k","x":"# + String(repeating: "[", count: 510) + String(repeating: "]", count: 510) + "}}"
        #expect(scan([ok], .field(["order", "id"])).1 == [nil])
        #expect(scan([ok + "]"], .field(["order", "id"])).1.first??.contains("not valid JSON") == true)
    }

    @Test func keysComeFromTheFieldAsTextAndTheLineIsTheData() {
        let lines = [
            #"{"user":"alice","n":1}"#, #"{"user":42.0}"#, #"{"user":"caf\u00e9"}"#, #"{"a":{"user":"x"},"user":"日本"}"#,
        ]
        let (buffer, outcomes) = scan(lines, .field(["user"]))
        #expect(outcomes == [nil, nil, nil, nil])
        #expect((0..<buffer.count).map { buffer.partitionKey($0) } == ["alice", "42.0", "café", "日本"])
        #expect((0..<buffer.count).map { String(decoding: buffer.data($0), as: UTF8.self) } == lines)
        let (nested, _) = scan([#"{"order":{"id":"o-1"}}"#], .field(["order", "id"]))
        #expect(nested.partitionKey(0) == "o-1")
    }

    @Test func refusedLinesSayWhyAndAddNothing() {
        let lines: [[UInt8]] = [
            Array(#"{"user":}"#.utf8), Array(#"{"user":""}"#.utf8), Array(#"{"other":1}"#.utf8),
            Array(#"{"user":[1]}"#.utf8), Array(#"{"user":"a"#.utf8) + [0xFF] + Array(#""}"#.utf8),
            Array(#"{"user":"\ud800"}"#.utf8),
            Array(("{\"user\":\"" + String(repeating: "k", count: 257) + "\"}").utf8),
        ]
        var scanner = RecordScanner(jsonl: true, keySource: .field(["user"]), maxRecordByteCount: 1 << 20)
        var buffer = RecordBuffer()
        let outcomes = lines.map { scanner.scan($0, 0..<$0.count, into: &buffer)?.description }
        #expect(
            outcomes == [
                "not valid JSON: invalid value at byte 9",
                "key field 'user' is an empty string; a partition key has 1 to 256 characters",
                "key field 'user' is missing",
                "key field 'user' is an array; a partition key must be a JSON string (or a number, which is used as its text)",
                "key field 'user' (at byte 10) is not valid UTF-8 or escapes a lone surrogate; a partition key must be a Unicode string",
                "key field 'user' (at byte 10) is not valid UTF-8 or escapes a lone surrogate; a partition key must be a Unicode string",
                "partition key has 257 characters; it must have between 1 and 256",
            ])
        #expect(buffer.isEmpty)
    }

    @Test func recordsOverTheStreamLimitAreRefused() {
        let (buffer, outcomes) = scan(["abcdefgh", "abc"], .fixed("k"), jsonl: false, limit: 8)
        #expect(outcomes == ["record is 9 bytes (data + partition key); the limit is 8 bytes", nil])
        #expect(buffer.count == 1)
    }

    @Test func randomAndFixedKeys() {
        let (random, _) = scan(["a", "b", "c"], .random, jsonl: false)
        #expect(Set((0..<3).map { random.partitionKey($0) }).count == 3)
        let (fixed, outcomes) = scan(["{}", "nope"], .fixed("same"))
        #expect(outcomes == [nil, "not valid JSON: invalid literal at byte 1"])
        #expect(fixed.partitionKey(0) == "same")
    }
}
