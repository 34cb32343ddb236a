import Testing

@testable import ShardLogMapping

/// How `get --decode` and the console show a record's data.
@Suite struct DecodedDataTests {
    /// JSON keeps its key order, number forms and escapes (the same bytes on every run), only whitespace goes.
    @Test func jsonIsShownAsWrittenWithoutWhitespace() {
        let text = "{ \"user\" : \"u 0\",\n \"n\": 1.50, \"a\\\"b\": [1, true, null], \"z\": \"\\u00e9\\t\" }"
        let decoded = DecodedData(Array(text.utf8))
        #expect(decoded.encoding == "json")
        #expect(decoded.json == #"{"user":"u 0","n":1.50,"a\"b":[1,true,null],"z":"\u00e9\t"}"#)
        #expect(DecodedData(Array(" 42 ".utf8)).json == "42")
    }

    /// Text that is not JSON becomes a JSON string; bytes that are not UTF-8 become base64.
    @Test func textAndBinaryFallBack() {
        let text = DecodedData(Array("hello \"world\"".utf8))
        #expect(text.encoding == "utf8")
        #expect(text.json == #""hello \"world\"""#)
        let binary = DecodedData([0xFF, 0xFE, 0x00])
        #expect(binary.encoding == "base64")
        #expect(binary.json == #""//4A""#)
    }
}
