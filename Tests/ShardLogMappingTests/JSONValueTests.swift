import Foundation
import Testing

@testable import ShardLogMapping

@Suite struct JSONValueTests {
    @Test func parsesEveryKindOfValue() throws {
        let value = try JSONValue(
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
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: text) }
    }

    @Test func rejectsInvalidUTF8() {
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: [0x22, 0xFF, 0x22]) }
    }

    @Test func limitsNestingDepth() throws {
        let deep = String(repeating: "[", count: 600) + String(repeating: "]", count: 600)
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: deep) }
        let fine = String(repeating: "[", count: 500) + String(repeating: "]", count: 500)
        _ = try JSONValue(parsing: fine)
    }

    @Test(arguments: [
        "0", "-0", "1", "123456789012345", "1234567890123456789", "0.1", "-2.5E-3", "1e10", "9007199254740993",
    ])
    func numbersAgreeWithFoundation(text: String) throws {
        let parsed = try JSONValue(parsing: text)
        let expected = try #require(
            try JSONSerialization.jsonObject(with: Data(text.utf8), options: .fragmentsAllowed) as? NSNumber
        )
        #expect(parsed == .number(expected.doubleValue))
    }

    @Test func serializationIsCompactWithSortedKeys() throws {
        let value = try JSONValue(parsing: #"{"b":[1,2.5,"x\n\"",null,true],"a":{"d":false,"c":-3}}"#)
        let text = String(decoding: value.jsonBytes, as: UTF8.self)
        #expect(text == #"{"a":{"c":-3,"d":false},"b":[1,2.5,"x\n\"",null,true]}"#)
        #expect(try JSONValue(parsing: value.jsonBytes) == value)
    }

    @Test(arguments: [1, 2, 3])
    func serializationRoundTripsThroughFoundation(seed: UInt64) throws {
        var generator = SplitMix64(seed: seed)
        for _ in 0..<50 {
            let value = Self.randomValue(depth: 0, using: &generator)
            let reparsed = try JSONSerialization.jsonObject(with: Data(value.jsonBytes), options: .fragmentsAllowed)
            let foundationBytes = try JSONSerialization.data(withJSONObject: reparsed, options: .fragmentsAllowed)
            #expect(try JSONValue(parsing: Array(foundationBytes)) == value)
        }
    }

    static func randomValue(depth: Int, using generator: inout SplitMix64) -> JSONValue {
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
            var members: [String: JSONValue] = [:]
            for index in 0..<Int(generator.next() % 4) {
                members["k\(index)"] = randomValue(depth: depth + 1, using: &generator)
            }
            return .object(members)
        }
    }
}
