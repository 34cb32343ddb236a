import Foundation
import ShardLogTestSupport
import Testing

@testable import ShardLogWire

@Suite struct JSONTests {
    @Test func parsesEveryKindOfValue() throws {
        let value = try JSON(
            parsing: #" {"s":"a\"b\\c\/d\n\t\u00e9\ud83d\ude00","n":-12.5e1,"i":42,"z":0,"t":true,"f":false,"#
                + #""null":null,"a":[1,[2],{}],"o":{"k":"v"},"u":"ключ"} "#
        )
        #expect(
            value
                == .object([
                    "s": .string("a\"b\\c/d\n\té😀"),
                    "n": .number(-125),
                    "i": .number(42),
                    "z": .number(0),
                    "t": .bool(true),
                    "f": .bool(false),
                    "null": .null,
                    "a": .array([.number(1), .array([.number(2)]), .object([:])]),
                    "o": .object(["k": .string("v")]),
                    "u": .string("ключ"),
                ])
        )
    }

    @Test(arguments: [
        "", " ", "{", "}", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "01", "1.", ".5", "-", "1e", "+1", "tru",
        "nul", "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\ud83d\"", "\"\\ude00\"", "\"a\u{01}b\"", "[1] 2", "1e400",
        "NaN", "'a'",
    ])
    func rejectsInvalidJSON(text: String) {
        #expect(throws: WireError.self) { try JSON(parsing: text) }
    }

    @Test func rejectsInvalidUTF8() {
        #expect(throws: WireError.self) { try JSON(parsing: [0x22, 0xFF, 0x22]) }
    }

    @Test func limitsNestingDepth() throws {
        let deep = String(repeating: "[", count: 600) + String(repeating: "]", count: 600)
        #expect(throws: WireError.self) { try JSON(parsing: deep) }
        let fine = String(repeating: "[", count: 500) + String(repeating: "]", count: 500)
        _ = try JSON(parsing: fine)
    }

    @Test(arguments: [
        "0", "-0", "1", "123456789012345", "1234567890123456789", "0.1", "-2.5E-3", "1e10", "9007199254740993",
    ])
    func numbersAgreeWithFoundation(text: String) throws {
        let parsed = try JSON(parsing: text)
        let expected = try #require(
            try JSONSerialization.jsonObject(with: Data(text.utf8), options: .fragmentsAllowed) as? NSNumber
        )
        #expect(parsed == .number(expected.doubleValue))
    }

    @Test func serializationIsCompactWithSortedKeys() throws {
        let value = try JSON(parsing: #"{"b":[1,2.5,"x\n\"",null,true],"a":{"d":false,"c":-3}}"#)
        let text = String(decoding: value.bytes, as: UTF8.self)
        #expect(text == #"{"a":{"c":-3,"d":false},"b":[1,2.5,"x\n\"",null,true]}"#)
        #expect(try JSON(parsing: value.bytes) == value)
    }

    @Test(arguments: [1, 2, 3])
    func serializationRoundTripsThroughFoundation(seed: UInt64) throws {
        var generator = SplitMix64(seed: seed)
        for _ in 0..<50 {
            let value = Self.randomValue(depth: 0, using: &generator)
            let reparsed = try JSONSerialization.jsonObject(with: Data(value.bytes), options: .fragmentsAllowed)
            let foundationBytes = try JSONSerialization.data(withJSONObject: reparsed, options: .fragmentsAllowed)
            #expect(try JSON(parsing: Array(foundationBytes)) == value)
        }
    }

    static func randomValue(depth: Int, using generator: inout SplitMix64) -> JSON {
        let kind = generator.next() % (depth > 3 ? 4 : 6)
        switch kind {
        case 0:
            return .null
        case 1:
            return .bool(generator.next() % 2 == 0)
        case 2:
            return .number(Double(Int64(bitPattern: generator.next()) % 1_000_000) / 8)
        case 3:
            let characters = Array("aé\"\\\n\t\u{01}😀ключ /")
            let length = Int(generator.next() % 8)
            return .string(
                String((0..<length).map { _ in characters[Int(generator.next() % UInt64(characters.count))] }))
        case 4:
            return .array((0..<Int(generator.next() % 4)).map { _ in randomValue(depth: depth + 1, using: &generator) })
        default:
            var members: [String: JSON] = [:]
            for index in 0..<Int(generator.next() % 4) {
                members["k\(index)"] = randomValue(depth: depth + 1, using: &generator)
            }
            return .object(members)
        }
    }

    /// Each malformed document names the problem and the byte where it was found.
    @Test(arguments: [
        ("", "unexpected end of input", 0), ("{\"a\":1,}", "expected a string key", 7),
        ("[1,2", "unterminated array", 4), ("{\"a\" 1}", "expected ':' after an object key", 5),
        ("\"abc", "unterminated string", 0), ("[tru]", "invalid literal", 1), ("01", "unexpected characters", 1),
        ("\"\\q\"", "invalid escape sequence", 2), ("\"\\ud83d\"", "unpaired UTF-16 surrogate", 7),
        ("[1] 2", "unexpected characters after the JSON value", 4),
    ])
    func errorsNameTheProblemAndItsOffset(text: String, reason: String, offset: Int) {
        do {
            let value = try JSON(parsing: text)
            Issue.record("parsed \(value) from \(text)")
        } catch {
            #expect(error.code == .malformedJSON)
            #expect(error.message.contains(reason), "\(error)")
            #expect(error.offset == offset, "\(error)")
            #expect(error.description.hasSuffix(" at byte \(offset)"))
        }
    }

    /// The depth limit is the caller's: the server reads requests with ``CBOR/maxDepth``, files get the default.
    @Test func depthLimitIsAParameter() throws {
        let nested = { (n: Int) in String(repeating: "[", count: n) + String(repeating: "]", count: n) }
        _ = try JSON(parsing: Array(nested(CBOR.maxDepth).utf8), maximumDepth: CBOR.maxDepth)
        do {
            _ = try JSON(parsing: Array(nested(CBOR.maxDepth + 1).utf8), maximumDepth: CBOR.maxDepth)
            Issue.record("a document deeper than the limit parsed")
        } catch {
            #expect(error.message == "nesting deeper than \(CBOR.maxDepth) levels")
            #expect(error.offset == CBOR.maxDepth)
        }
        #expect(throws: WireError.self) { try WireFormat.json.decode(Array(nested(CBOR.maxDepth + 1).utf8)) }
        _ = try JSON(parsing: nested(JSONParser.defaultMaximumDepth))
    }

    /// Numbers beyond a `Double` are errors, except in requests, where they read as infinities for the operation to
    /// refuse by name (a timestamp of `1e400` is AWS's `InvalidArgumentException`, not a malformed body).
    @Test func outOfRangeNumbersAreTheCallersChoice() throws {
        #expect(throws: WireError(.malformedJSON, "number out of range", offset: 4)) { try JSON(parsing: "[1, 1e400]") }
        #expect(try JSON(parsing: Array("-1e400".utf8), outOfRange: .infinite) == .number(-.infinity))
        #expect(try WireFormat.json.decode(Array(#"{"T":1e400}"#.utf8)) == .object(["T": .number(.infinity)]))
    }

    /// The output-only forms: integers without a fraction, timestamps as epoch seconds with three decimals, blobs as
    /// base64, `fields` in their order; each parses back to its plain JSON value.
    @Test func outputFormsWriteAsAWSExpects() throws {
        let value = JSON.fields([
            "z": .integer(-42), "t": .epochMilliseconds(1_721_900_000_007), "b": .blob([0, 1, 254, 255]),
            "n": .number(0.1), "big": .number(1e300), "e": .epochMilliseconds(-1500), "nil": nil,
        ])
        let text = String(decoding: value.bytes, as: UTF8.self)
        #expect(text == #"{"z":-42,"t":1721900000.007,"b":"AAH+/w==","n":0.1,"big":1e+300,"e":-1.500}"#)
        #expect(
            try JSON(parsing: value.bytes)
                == .object([
                    "z": .number(-42), "t": .number(1_721_900_000.007), "b": .string("AAH+/w=="), "n": .number(0.1),
                    "big": .number(1e300), "e": .number(-1.5),
                ]))
        #expect(value["t"] == .epochMilliseconds(1_721_900_000_007))
        #expect(JSON.epochSecondsText(1_721_900_000_123) == "1721900000.123")
        #expect(JSON.epochSecondsText(5) == "0.005")
    }

    @Test func prettyOutputIsIndentedAndSorted() throws {
        let value = try JSON(parsing: #"{"b":[1,{"d":null}],"a":{},"c":[]}"#)
        let text = String(decoding: value.prettyBytes, as: UTF8.self)
        #expect(text == "{\n  \"a\": {},\n  \"b\": [\n    1,\n    {\n      \"d\": null\n    }\n  ],\n  \"c\": []\n}")
        #expect(try JSON(parsing: value.prettyBytes) == value)
    }

    /// A value encoded in one wire format and embedded in a value written in the other is converted, not lost.
    @Test func encodedValuesConvertBetweenFormats() throws {
        let inner = JSON.object(["k": .array([.number(1), .string("x")])])
        #expect(try JSON(parsing: JSON.encoded(.cbor, CBOR.encode(inner)).bytes) == inner)
        #expect(try CBOR.decode(CBOR.encode(.encoded(.json, inner.bytes))) == inner)
        #expect(WireFormat.json.encode(.encoded(.json, [1, 2])) == [1, 2])
    }
}
