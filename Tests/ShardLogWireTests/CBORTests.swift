import Foundation
import ShardLogTestSupport
import Testing

@testable import ShardLogWire

private func bytes(_ hex: String) -> [UInt8] {
    var out: [UInt8] = []
    var digits = Array(hex.utf8)
    digits.removeAll { $0 == UInt8(ascii: " ") }
    var i = 0
    while i + 1 < digits.count {
        out.append(UInt8(String(decoding: digits[i...i + 1], as: UTF8.self), radix: 16) ?? 0)
        i += 2
    }
    return out
}

/// The value a JSON request would give for `value`: what a round trip through CBOR must return.
private func decoded(_ value: JSON) -> JSON {
    switch value {
    case .integer(let i): return .number(Double(i))
    case .array(let items): return .array(items.map(decoded))
    case .object(let members): return .object(members.mapValues(decoded))
    case .fields(let fields):
        var members: [String: JSON] = [:]
        for f in fields { members[f.key] = decoded(f.value) }
        return .object(members)
    default: return value
    }
}

@Suite struct CBORTests {
    /// Items from RFC 8949 Appendix A (and AWS's tag-1 milliseconds), decoded.
    @Test(arguments: [
        ("00", JSON.number(0)), ("17", .number(23)), ("1818", .number(24)), ("1903e8", .number(1000)),
        ("1a000f4240", .number(1_000_000)), ("1b000000e8d4a51000", .number(1_000_000_000_000)),
        ("20", .number(-1)), ("3903e7", .number(-1000)),
        ("f93c00", .number(1)), ("f93e00", .number(1.5)), ("f97bff", .number(65504)),
        ("f90001", .number(5.960464477539063e-8)),
        ("fa47c35000", .number(100_000)), ("fb3ff199999999999a", .number(1.1)), ("f9fc00", .number(-.infinity)),
        ("f4", .bool(false)), ("f5", .bool(true)), ("f6", .null), ("f7", .null),
        ("40", .blob([])), ("4401020304", .blob([1, 2, 3, 4])), ("5f42010243030405ff", .blob([1, 2, 3, 4, 5])),
        ("60", .string("")), ("6449455446", .string("IETF")), ("62c3bc", .string("ü")),
        ("7f657374726561646d696e67ff", .string("streaming")),
        ("80", .array([])), ("83010203", .array([.number(1), .number(2), .number(3)])),
        (
            "9f018202039f0405ffff",
            .array([.number(1), .array([.number(2), .number(3)]), .array([.number(4), .number(5)])])
        ),
        ("a0", .object([:])),
        ("a26161016162820203", .object(["a": .number(1), "b": .array([.number(2), .number(3)])])),
        ("bf61610161629f0203ffff", .object(["a": .number(1), "b": .array([.number(2), .number(3)])])),
        ("c11b000001a013accc38", .epochMilliseconds(1_787_036_486_712)),
        ("c1fb427a013accc38000", .epochMilliseconds(1_787_036_486_712)),
        ("d82076687474703a2f2f7777772e6578616d706c652e636f6d", .string("http://www.example.com")),
    ])
    func decodesKnownItems(hex: String, expected: JSON) throws {
        #expect(try CBOR.decode(bytes(hex)) == expected)
    }

    /// Items written in their shortest form, timestamps as tag 1 with milliseconds, blobs as byte strings.
    @Test(arguments: [
        (JSON.integer(0), "00"), (.integer(23), "17"), (.integer(24), "1818"), (.integer(1000), "1903e8"),
        (.integer(-1000), "3903e7"), (.integer(Int(Int64.max)), "1b7fffffffffffffff"), (.number(2), "02"),
        (.number(1.1), "fb3ff199999999999a"), (.number(.infinity), "fb7ff0000000000000"),
        (.epochMilliseconds(1_787_036_486_712), "c11b000001a013accc38"), (.blob([1, 2, 3, 4]), "4401020304"),
        (.string("IETF"), "6449455446"), (.null, "f6"), (.bool(true), "f5"),
        (.fields(["b": .integer(1), "a": .string("x")]), "a2616201616161 78"),
        (.object(["b": .integer(1), "a": .string("x")]), "a261616178616201"),
        (.array([.integer(1), .array([])]), "820180"),
    ])
    func encodesShortestForms(value: JSON, hex: String) {
        #expect(CBOR.encode(value) == bytes(hex))
    }

    @Test func lengthsAtEveryBoundaryRoundTrip() throws {
        for n in [0, 1, 23, 24, 255, 256, 65535, 65536] {
            let blob = JSON.blob((0..<n).map { UInt8(truncatingIfNeeded: $0) })
            #expect(try CBOR.decode(CBOR.encode(blob)) == blob)
            let text = JSON.string(String(repeating: "é", count: n / 2))
            #expect(try CBOR.decode(CBOR.encode(text)) == text)
            let array = JSON.array(Array(repeating: .bool(true), count: n))
            #expect(try CBOR.decode(CBOR.encode(array)) == array)
        }
        for i in [
            0, 23, 24, 255, 256, 65535, 65536, Int(UInt32.max), Int(UInt32.max) + 1, -24, -25, -257, Int(Int64.min),
        ] {
            #expect(try CBOR.decode(CBOR.encode(.integer(i))) == .number(Double(i)))
        }
    }

    @Test(arguments: [UInt64(1), 42, 7, 2026])
    func randomDocumentsRoundTrip(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        func value(_ depth: Int) -> JSON {
            switch rng.next() % (depth > 3 ? 6 : 9) {
            case 0: return .null
            case 1: return .bool(rng.next() % 2 == 0)
            case 2: return .integer(Int(truncatingIfNeeded: rng.next()) >> Int(rng.next() % 64))
            case 3: return .number(Double(Int64(truncatingIfNeeded: rng.next() % 1_000_000)) / 8)
            case 4:
                return .string(
                    String(
                        (0..<Int(rng.next() % 40)).map { _ in Character(Unicode.Scalar(UInt8(32 + rng.next() % 90))) }))
            case 5: return .blob((0..<Int(rng.next() % 300)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
            case 6: return .array((0..<Int(rng.next() % 5)).map { _ in value(depth + 1) })
            case 7:
                var members: [String: JSON] = [:]
                for i in 0..<Int(rng.next() % 5) { members["k\(i)"] = value(depth + 1) }
                return .object(members)
            default:
                return .epochMilliseconds(Int64(rng.next() % 4_000_000_000_000))
            }
        }
        for _ in 0..<50 {
            let v = value(0)
            #expect(try CBOR.decode(CBOR.encode(v)) == decoded(v))
        }
    }

    /// Hostile and broken bodies: each a `WireError` naming the problem and its offset, never a crash.
    @Test(arguments: [
        ("", "unexpected end of input"), ("18", "unexpected end of input"), ("1c", "reserved additional information"),
        ("1f", "indefinite length on an integer"), ("ff", "unexpected break"), ("f8", "unsupported simple value"),
        ("f820", "unsupported simple value"), ("0000", "unexpected bytes after the data item"),
        ("5bffffffffffffffff", "declares 18446744073709551615 bytes"), ("7a7fffffff41", "declares 2147483647 bytes"),
        ("9bffffffffffffffff", "declares 18446744073709551615 entries"), ("ba00100000", "declares 1048576 entries"),
        ("5f6161ff", "must be a definite byte string"), ("5f5f40ffff", "must be a definite byte string"),
        ("62c328", "not valid UTF-8"), ("a10101", "map key must be a text string"), ("9f01", "unterminated"),
        ("bf6161", "unexpected end of input"), ("c16161", "must hold a number of epoch milliseconds"),
        ("c1fb7ff0000000000000", "outside years 1 to 9999"), ("c11b7fffffffffffffff", "outside years 1 to 9999"),
        ("df", "indefinite length on a tag"),
    ])
    func rejectsMalformedInput(hex: String, reason: String) {
        do {
            let value = try CBOR.decode(bytes(hex))
            Issue.record("decoded \(value) from \(hex)")
        } catch {
            #expect(error.code == .malformedCBOR)
            #expect(error.message.contains(reason), "\(error.message)")
            #expect(error.offset != nil)
        }
    }

    @Test func nestingIsLimited() throws {
        let deep = [UInt8](repeating: 0x81, count: 100_000) + [0x00]
        #expect(throws: WireError.self) { try CBOR.decode(deep) }
        let tags = [UInt8](repeating: 0xC2, count: 1000) + [0x00]
        #expect(throws: WireError.self) { try CBOR.decode(tags) }
        let ok = [UInt8](repeating: 0x81, count: CBOR.maxDepth) + [0x00]
        #expect(try CBOR.decode(ok) != .null)
    }

    @Test func wireFormatFromContentType() {
        #expect(WireFormat(contentType: "application/x-amz-cbor-1.1") == .cbor)
        #expect(WireFormat(contentType: "application/x-amz-json-1.1") == .json)
        #expect(WireFormat(contentType: nil) == .json)
        #expect(WireFormat.cbor.contentType == "application/x-amz-cbor-1.1")
    }

    @Test func base64MatchesFoundation() {
        var rng = SplitMix64(seed: 9)
        for n in 0..<70 {
            let data = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            var out: [UInt8] = []
            Base64Text.append(data, to: &out)
            #expect(String(decoding: out, as: UTF8.self) == Data(data).base64EncodedString())
            #expect(Base64Text.decode(Data(data).base64EncodedString()) == data)
        }
        for bad in ["a", "abc", "ab=c", "a===", "====", "ab\u{e9}=", "ab c", "abc=abcd"] {
            #expect(Base64Text.decode(bad) == nil, "\(bad)")
        }
        #expect(Base64Text.decode("") == [])
    }

    /// Every byte at every position of a two-group text (the last group may carry padding): decoded exactly when a
    /// digit-by-digit reference decodes it, to the same bytes.
    @Test func base64DecodeChecksEveryByteAtEveryPosition() {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        func reference(_ text: [UInt8]) -> [UInt8]? {
            guard text.count % 4 == 0 else { return nil }
            var padding = 0
            if text.last == UInt8(ascii: "=") { padding = text.dropLast().last == UInt8(ascii: "=") ? 2 : 1 }
            var bits: UInt32 = 0
            var out: [UInt8] = []
            for (i, c) in text.enumerated() {
                let value: UInt32
                if i >= text.count - padding {
                    value = 0
                } else if let v = alphabet.firstIndex(of: c) {
                    value = UInt32(v)
                } else {
                    return nil
                }
                bits = bits << 6 | value
                if i % 4 == 3 {
                    out += [
                        UInt8(truncatingIfNeeded: bits >> 16), UInt8(truncatingIfNeeded: bits >> 8),
                        UInt8(truncatingIfNeeded: bits),
                    ]
                    bits = 0
                }
            }
            return Array(out.dropLast(padding))
        }
        for base in ["QUJDREVG", "QUJDREU=", "QUJDRA=="] {
            for position in 0..<8 {
                for byte in 0...255 {
                    var text = Array(base.utf8)
                    text[position] = UInt8(byte)
                    var out: [UInt8] = [7]
                    let ok = Base64Text.decode(text.span, appendingTo: &out)
                    let expected = reference(text)
                    #expect(ok == (expected != nil), "\(text)")
                    if let expected, ok { #expect(Array(out.dropFirst()) == expected, "\(text)") }
                }
            }
        }
    }
}
