import Testing

@testable import ShardLogIngest

/// `JSONLine.field` (the partition key at `--key-field` with its JSON type) and `JSONLine.validate`.
@Suite struct JSONLineFieldTests {
    func field(_ bytes: [UInt8], _ path: [String]) throws(JSONLine.Problem) -> JSONLine.Value? {
        try JSONLine.field(bytes, 0..<bytes.count, path: path)
    }

    func field(_ text: String, _ path: [String]) throws(JSONLine.Problem) -> JSONLine.Value? {
        try field(Array(text.utf8), path)
    }

    @Test func reportsTheTypeOfTheValueFound() throws {
        let line = #"{"s":"x","n":-1.5e3,"o":{"a":[1]},"a":[{"b":2}],"t":true,"f":false,"z":null,"e":"","d":{"k":"v"}}"#
        #expect(try field(line, ["s"]) == .string("x"))
        #expect(try field(line, ["n"]) == .number("-1.5e3"))
        #expect(try field(line, ["o"]) == .object(#"{"a":[1]}"#))
        #expect(try field(line, ["a"]) == .array(#"[{"b":2}]"#))
        #expect(try field(line, ["t"]) == .boolean(true))
        #expect(try field(line, ["f"]) == .boolean(false))
        #expect(try field(line, ["z"]) == .null)
        #expect(try field(line, ["e"]) == .string(""))
        #expect(try field(line, ["d", "k"]) == .string("v"))
        #expect(try field(line, ["missing"]) == nil)
        #expect(try field(line, ["s", "deeper"]) == nil)
        #expect(try field(line, ["a", "b"]) == nil)
        #expect(try field(line, []) == .object(line))
    }

    @Test func keyStringsMustBeValidUnicode() throws {
        // A raw byte that is not UTF-8, a truncated sequence, an overlong encoding, and lone surrogate escapes.
        for bad: [UInt8] in [[0xFF], [0xC3], [0xC0, 0xAF], Array(#"\ud800"#.utf8), Array(#"\udc00x"#.utf8)] {
            let line = Array(#"{"k":"ab"#.utf8) + bad + Array(#"","n":1}"#.utf8)
            #expect(try field(line, ["k"]) == .invalidString(position: 6), "\(bad)")
        }
        #expect(try field(#"{"k":"\ud83c\udf89 \u00e9 \"q\" \n"}"#, ["k"]) == .string("🎉 é \"q\" \n"))
        #expect(try field(#"{"k":"snow ☃"}"#, ["k"]) == .string("snow ☃"))
    }

    @Test func invalidUTF8OutsideTheKeyIsData() throws {
        let line = Array(#"{"k":"a","data":""#.utf8) + [0xFF, 0xFE] + Array(#""}"#.utf8)
        #expect(try field(line, ["k"]) == .string("a"))
        try JSONLine.validate(line, 0..<line.count)
    }

    @Test func escapedMemberNamesMatchThePath() throws {
        #expect(try field(#"{"us\u0065r":"u1"}"#, ["user"]) == .string("u1"))
        #expect(try field(#"{"user":"first","user":"second"}"#, ["user"]) == .string("first"))
    }

    /// The fast validation path and the key path agree on what is JSON.
    @Test(arguments: [
        #"{"a":1}"#, #"[1,2,{"b":[true,false,null]}]"#, #""x""#, "-0.5e+10", " {} ", #"{"a":}"#, #"{"a":1"#, "[1,]",
        "tru", #"{"a" 1}"#, "01", "{} x", #""\x""#, "", #"{"k":"\u12"}"#, "[", #"{"a":[1,{"b":}]}"#,
    ])
    func validateAgreesWithField(_ text: String) {
        let b = Array(text.utf8)
        func accepts(_ parse: () throws -> Void) -> Bool { (try? parse()) != nil }
        let whole = accepts { _ = try JSONLine.field(b, 0..<b.count, path: []) }
        #expect(accepts { try JSONLine.validate(b, 0..<b.count) } == whole, "\(text)")
        #expect(accepts { _ = try JSONLine.field(b, 0..<b.count, path: ["a"]) } == whole, "\(text)")
        #expect(accepts { _ = try JSONLine.scan(b, 0..<b.count, path: ["a", "b"]) } == whole, "\(text)")
    }

    @Test func problemsNameTheByte() {
        #expect(throws: JSONLine.Problem(reason: "expected ',' or '}' in an object", position: 7)) {
            try field(#"{"a":1 "b":2}"#, ["a"])
        }
    }
}
