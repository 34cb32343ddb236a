import ShardLog
import Testing

@testable import ShardLogIngest

/// The C quick path (`InputScan`, Sources/CShardLog/json.c) against the Swift parser `JSONLine`: on every line both
/// agree whether it is valid JSON, and a key the C scan returns is the one JSONLine returns.
@Suite struct InputScanTests {
    /// Lines that exercise every branch: each kind of value, escapes, nesting, whitespace, and broken variants.
    static let seeds = [
        #"{"user":"u00042","event":"click","ts":1700000000000,"amount":12.50,"country":"FR","item":"sku-000001"}"#,
        #" { "user" : -0.5e+3 , "x" : [ 1 , 2 , { } , [ ] , "s" ] } "#, #"{"user":"caf\u00e9"}"#,
        #"{"us\u0065r":"escaped key","user":"second"}"#, #"{"user":"first","user":"second"}"#,
        #"{"a":{"user":"nested"},"user":true}"#, #"{"user":null}"#, #"{"user":{"id":1}}"#, #"[1,2,3]"#,
        #""just a string""#, "42", "-0", "1.0e10", "true", "false", "null", #"{"user":"tab\tinside"}"#,
        #"{"user":"a\"b"}"#, #"{"user":"x\/y\\z\b\f\n\r\t"}"#, #"{"k":"0123456789abcdef0123456789abcdef","user":"z"}"#,
        "{}", "[]", #"{"user":"日本語のキー","more":"ünïcödé"}"#,
    ]

    /// The seeds and, for each, every prefix, every single-byte deletion, and a few substitutions of each byte.
    static var variants: [[UInt8]] {
        let replacements: [UInt8] = Array(#"{}[]",:\"0-.eE tnfu"#.utf8) + [0x01, 0x0A, 0xFF]
        var out: [[UInt8]] = []
        for seed in seeds {
            let bytes = Array(seed.utf8)
            out.append(bytes)
            for cut in 0..<bytes.count { out.append(Array(bytes[..<cut])) }
            for k in bytes.indices {
                var deleted = bytes
                deleted.remove(at: k)
                out.append(deleted)
                for (n, r) in replacements.enumerated() where (k + n) % 5 == 0 {
                    var changed = bytes
                    changed[k] = r
                    out.append(changed)
                }
            }
        }
        return out
    }

    @Test func agreesWithJSONLineOnValidityAndKeys() {
        var checked = 0
        for line in Self.variants {
            // Embedded in a larger array, so positions are checked relative to the range, not to 0.
            let padded = Array("xx".utf8) + line + Array("yy".utf8)
            let range = 2..<(2 + line.count)
            let swiftValid = (try? JSONLine.validate(padded, range)) != nil
            let plain = InputScan.json(padded, range, name: nil)
            #expect((plain != .invalid) == swiftValid, "validity of \(String(decoding: line, as: UTF8.self))")
            let keyed = InputScan.json(padded, range, name: Array("user".utf8))
            let swiftKey = try? JSONLine.key(padded, range, path: ["user"])
            switch keyed {
            case .key(let r):
                #expect(swiftKey == .bytes(r), "key of \(String(decoding: line, as: UTF8.self))")
            case .valid:
                #expect(swiftKey != nil, "valid: \(String(decoding: line, as: UTF8.self))")
                if case .bytes? = swiftKey {
                    // The C scan leaves only escaped keys to JSONLine; a plain hit it must find itself.
                    #expect(line.contains(UInt8(ascii: "\\")), "missed key in \(String(decoding: line, as: UTF8.self))")
                }
            case .invalid: #expect(swiftKey == nil, "invalid: \(String(decoding: line, as: UTF8.self))")
            case .tooDeep: Issue.record("too deep: \(String(decoding: line, as: UTF8.self))")
            }
            checked += 1
        }
        #expect(checked > 1000)
    }

    @Test func nestingDeeperThanTheLimitIsRefusedWithItsPosition() {
        let depth = InputScan.maximumDepth
        let ok = Array((String(repeating: "[", count: depth) + String(repeating: "]", count: depth)).utf8)
        #expect(InputScan.json(ok, 0..<ok.count, name: nil) == .valid)
        // Far deeper than any recursive parser's stack allows: refused, no crash.
        let deep = Array((#"{"user":"k","x":"# + String(repeating: "[", count: 1_000_000)).utf8)
        #expect(InputScan.json(deep, 0..<deep.count, name: nil) == .tooDeep(position: 15 + depth))
        var scanner = RecordScanner(jsonl: true, keySource: .field(["user"]), maxRecordByteCount: 10 << 20)
        var buffer = RecordBuffer()
        #expect(
            scanner.scan(deep, 0..<deep.count, into: &buffer)?.description
                == "not valid JSON: arrays and objects nested deeper than 512 levels at byte \(16 + depth)")
        #expect(buffer.isEmpty)
    }

    @Test func findsNewlinesInARange() {
        let bytes = Array("ab\ncd\n\nef".utf8)
        #expect(InputScan.firstIndex(of: 10, in: bytes, 0..<bytes.count) == 2)
        #expect(InputScan.firstIndex(of: 10, in: bytes, 3..<bytes.count) == 5)
        #expect(InputScan.firstIndex(of: 10, in: bytes, 7..<bytes.count) == bytes.count)
        #expect(InputScan.firstIndex(of: 10, in: bytes, 3..<4) == 4)
        var splitter = LineSplitter()
        var lines: [String] = []
        splitter.feed(Array("one\r\ntw".utf8)) { lines.append(String(decoding: $0[$1], as: UTF8.self)) }
        splitter.feed(Array("o\n\nthree".utf8)) { lines.append(String(decoding: $0[$1], as: UTF8.self)) }
        splitter.finish { lines.append(String(decoding: $0[$1], as: UTF8.self)) }
        #expect(lines == ["one", "two", "", "three"])
    }
}
