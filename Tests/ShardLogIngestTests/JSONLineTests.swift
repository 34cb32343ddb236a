import Testing

@testable import ShardLogIngest

@Suite struct JSONLineTests {
    func scan(_ text: String, _ path: [String] = []) throws(JSONLine.Problem) -> String? {
        let b = Array(text.utf8)
        return try JSONLine.scan(b, 0..<b.count, path: path)
    }

    @Test(arguments: [
        #"{"a":1}"#, #"[1,2,{"b":[true,false,null]}]"#, #""x""#, "-0.5e+10", #"{"s":"\u00e9\n\"q\""}"#, " {} ",
    ])
    func validJSON(_ text: String) throws {
        _ = try scan(text)
    }

    @Test(arguments: [#"{"a":}"#, #"{"a":1"#, "[1,]", "tru", #"{"a" 1}"#, "01", "{} x", #""\x""#, ""])
    func invalidJSON(_ text: String) {
        #expect(throws: JSONLine.Problem.self) { try scan(text) }
    }

    @Test func extractsKeyFields() throws {
        let line = #"{"user":"u1","order":{"id":42,"tags":["a"],"who":"\u00e9\ud83c\udf89"},"n":null}"#
        #expect(try scan(line, ["user"]) == "u1")
        #expect(try scan(line, ["order", "id"]) == "42")
        #expect(try scan(line, ["order", "who"]) == "é🎉")
        #expect(try scan(line, ["order", "tags"]) == #"["a"]"#)
        #expect(try scan(line, ["missing"]) == nil)
        #expect(try scan(line, ["n"]) == nil)
        #expect(try scan(line, ["user", "deeper"]) == nil)
    }
}
