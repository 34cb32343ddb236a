import Foundation
import Testing

@testable import ShardLogMapping

@Suite struct FilterCriteriaTests {
    /// One pattern, one record's data, and whether the record should pass.
    struct MatchCase: Sendable, CustomTestStringConvertible {
        var rule: String
        var pattern: String
        var data: String
        var matches: Bool
        var partitionKey = "pk-1"

        var testDescription: String { "\(rule): \(pattern) vs \(data) → \(matches)" }
    }

    static func record(data: [UInt8], partitionKey: String = "pk-1") -> EventRecord {
        EventRecord(
            partitionKey: partitionKey,
            sequenceNumber: "49590338271490256608559692538361571095921575989136588898",
            data: data,
            approximateArrivalTimestamp: Date(timeIntervalSince1970: 1_545_084_650.987)
        )
    }

    static func passes(_ patterns: [String], data: String, partitionKey: String = "pk-1") throws -> Bool {
        let filter = try FilterCriteria(patterns: patterns).compiled()
        return filter.matches(record(data: Array(data.utf8), partitionKey: partitionKey))
    }

    static let cases: [MatchCase] = [
        // Equals, strings.
        MatchCase(rule: "equals", pattern: #"{"data":{"type":["buy"]}}"#, data: #"{"type":"buy"}"#, matches: true),
        MatchCase(rule: "equals", pattern: #"{"data":{"type":["buy"]}}"#, data: #"{"type":"sell"}"#, matches: false),
        MatchCase(rule: "equals", pattern: #"{"data":{"type":["buy"]}}"#, data: #"{"kind":"buy"}"#, matches: false),
        MatchCase(rule: "equals", pattern: #"{"data":{"type":["buy"]}}"#, data: #"{"type":"BUY"}"#, matches: false),
        MatchCase(rule: "equals", pattern: #"{"data":{"type":["é"]}}"#, data: #"{"type":"é"}"#, matches: true),
        MatchCase(
            rule: "equals, escaped",
            pattern: #"{"data":{"type":["\u00e9"]}}"#,
            data: #"{"type":"é"}"#,
            matches: true
        ),
        // OR within a key.
        MatchCase(rule: "or", pattern: #"{"data":{"type":["buy","sell"]}}"#, data: #"{"type":"sell"}"#, matches: true),
        MatchCase(rule: "or", pattern: #"{"data":{"type":["buy","sell"]}}"#, data: #"{"type":"hold"}"#, matches: false),
        // Numbers.
        MatchCase(rule: "number", pattern: #"{"data":{"n":[5]}}"#, data: #"{"n":5}"#, matches: true),
        MatchCase(rule: "number", pattern: #"{"data":{"n":[5]}}"#, data: #"{"n":5.0}"#, matches: true),
        MatchCase(rule: "number", pattern: #"{"data":{"n":[5]}}"#, data: #"{"n":5e0}"#, matches: true),
        MatchCase(rule: "number", pattern: #"{"data":{"n":[5]}}"#, data: #"{"n":"5"}"#, matches: false),
        MatchCase(rule: "number", pattern: #"{"data":{"n":[5]}}"#, data: #"{"n":6}"#, matches: false),
        MatchCase(rule: "number", pattern: #"{"data":{"n":[1, 2.5]}}"#, data: #"{"n":2.5}"#, matches: true),
        // Null.
        MatchCase(rule: "null", pattern: #"{"data":{"n":[null]}}"#, data: #"{"n":null}"#, matches: true),
        MatchCase(rule: "null", pattern: #"{"data":{"n":[null]}}"#, data: #"{}"#, matches: false),
        MatchCase(rule: "null", pattern: #"{"data":{"n":[null]}}"#, data: #"{"n":"null"}"#, matches: false),
        MatchCase(rule: "null", pattern: #"{"data":{"n":[null]}}"#, data: #"{"n":""}"#, matches: false),
        // Booleans.
        MatchCase(rule: "bool", pattern: #"{"data":{"ok":[true]}}"#, data: #"{"ok":true}"#, matches: true),
        MatchCase(rule: "bool", pattern: #"{"data":{"ok":[true]}}"#, data: #"{"ok":false}"#, matches: false),
        MatchCase(rule: "bool", pattern: #"{"data":{"ok":[true]}}"#, data: #"{"ok":"true"}"#, matches: false),
        MatchCase(rule: "bool", pattern: #"{"data":{"ok":[false]}}"#, data: #"{"ok":false}"#, matches: true),
        // Empty string.
        MatchCase(rule: "empty", pattern: #"{"data":{"s":[""]}}"#, data: #"{"s":""}"#, matches: true),
        MatchCase(rule: "empty", pattern: #"{"data":{"s":[""]}}"#, data: #"{"s":"x"}"#, matches: false),
        MatchCase(rule: "empty", pattern: #"{"data":{"s":[""]}}"#, data: #"{"s":null}"#, matches: false),
        MatchCase(rule: "empty", pattern: #"{"data":{"s":[""]}}"#, data: #"{}"#, matches: false),
        // AND across keys.
        MatchCase(rule: "and", pattern: #"{"data":{"a":["1"],"b":["2"]}}"#, data: #"{"a":"1","b":"2"}"#, matches: true),
        MatchCase(
            rule: "and", pattern: #"{"data":{"a":["1"],"b":["2"]}}"#, data: #"{"a":"1","b":"3"}"#, matches: false),
        MatchCase(rule: "and", pattern: #"{"data":{"a":["1"],"b":["2"]}}"#, data: #"{"a":"1"}"#, matches: false),
        MatchCase(
            rule: "and, data and metadata",
            pattern: #"{"partitionKey":["pk-1"],"data":{"a":["1"]}}"#,
            data: #"{"a":"1"}"#,
            matches: true
        ),
        MatchCase(
            rule: "and, data and metadata",
            pattern: #"{"partitionKey":["pk-2"],"data":{"a":["1"]}}"#,
            data: #"{"a":"1"}"#,
            matches: false
        ),
        // Nested objects.
        MatchCase(
            rule: "nested",
            pattern: #"{"data":{"order":{"type":["buy"]}}}"#,
            data: #"{"order":{"type":"buy","n":1}}"#,
            matches: true
        ),
        MatchCase(
            rule: "nested",
            pattern: #"{"data":{"order":{"type":["buy"]}}}"#,
            data: #"{"order":{"kind":"buy"}}"#,
            matches: false
        ),
        MatchCase(
            rule: "nested",
            pattern: #"{"data":{"order":{"type":["buy"]}}}"#,
            data: #"{"order":"buy"}"#,
            matches: false
        ),
        MatchCase(
            rule: "nested", pattern: #"{"data":{"order":{"type":["buy"]}}}"#, data: #"{"type":"buy"}"#, matches: false),
        // Exists.
        MatchCase(rule: "exists", pattern: #"{"data":{"c":[{"exists":true}]}}"#, data: #"{"c":1}"#, matches: true),
        MatchCase(rule: "exists", pattern: #"{"data":{"c":[{"exists":true}]}}"#, data: #"{"c":null}"#, matches: true),
        MatchCase(rule: "exists", pattern: #"{"data":{"c":[{"exists":true}]}}"#, data: #"{"c":""}"#, matches: true),
        MatchCase(rule: "exists", pattern: #"{"data":{"c":[{"exists":true}]}}"#, data: #"{"d":1}"#, matches: false),
        MatchCase(
            rule: "exists, leaves only",
            pattern: #"{"data":{"c":[{"exists":true}]}}"#,
            data: #"{"c":{"c1":100}}"#,
            matches: false
        ),
        MatchCase(rule: "exists", pattern: #"{"data":{"c":[{"exists":true}]}}"#, data: #"{"c":[1]}"#, matches: true),
        MatchCase(rule: "exists", pattern: #"{"data":{"c":[{"exists":true}]}}"#, data: #"{"c":[]}"#, matches: false),
        MatchCase(rule: "not exists", pattern: #"{"data":{"c":[{"exists":false}]}}"#, data: #"{"d":1}"#, matches: true),
        MatchCase(
            rule: "not exists", pattern: #"{"data":{"c":[{"exists":false}]}}"#, data: #"{"c":1}"#, matches: false),
        MatchCase(
            rule: "not exists",
            pattern: #"{"data":{"c":[{"exists":false}]}}"#,
            data: #"{"c":null}"#,
            matches: false
        ),
        MatchCase(
            rule: "not exists, leaves only",
            pattern: #"{"data":{"c":[{"exists":false}]}}"#,
            data: #"{"c":{"c1":100}}"#,
            matches: true
        ),
        MatchCase(
            rule: "not exists, missing parent",
            pattern: #"{"data":{"a":{"b":[{"exists":false}]}}}"#,
            data: #"{}"#,
            matches: true
        ),
        MatchCase(
            rule: "exists, missing parent",
            pattern: #"{"data":{"a":{"b":[{"exists":true}]}}}"#,
            data: #"{}"#,
            matches: false
        ),
        // Prefix and suffix.
        MatchCase(
            rule: "prefix", pattern: #"{"data":{"r":[{"prefix":"us-"}]}}"#, data: #"{"r":"us-east-1"}"#, matches: true),
        MatchCase(rule: "prefix", pattern: #"{"data":{"r":[{"prefix":"us-"}]}}"#, data: #"{"r":"us-"}"#, matches: true),
        MatchCase(
            rule: "prefix",
            pattern: #"{"data":{"r":[{"prefix":"us-"}]}}"#,
            data: #"{"r":"eu-west-1"}"#,
            matches: false
        ),
        MatchCase(rule: "prefix", pattern: #"{"data":{"r":[{"prefix":"us-"}]}}"#, data: #"{"r":"us"}"#, matches: false),
        MatchCase(rule: "prefix", pattern: #"{"data":{"r":[{"prefix":"1"}]}}"#, data: #"{"r":12}"#, matches: false),
        MatchCase(
            rule: "suffix", pattern: #"{"data":{"f":[{"suffix":".png"}]}}"#, data: #"{"f":"a.png"}"#, matches: true),
        MatchCase(
            rule: "suffix", pattern: #"{"data":{"f":[{"suffix":".png"}]}}"#, data: #"{"f":"a.jpg"}"#, matches: false),
        MatchCase(
            rule: "suffix", pattern: #"{"data":{"f":[{"suffix":".png"}]}}"#, data: #"{"f":"png"}"#, matches: false),
        MatchCase(
            rule: "suffix", pattern: #"{"data":{"f":[{"suffix":"ü"}]}}"#, data: #"{"f":"grüß-ü"}"#, matches: true),
        // Equals-ignore-case.
        MatchCase(
            rule: "equals-ignore-case",
            pattern: #"{"data":{"n":[{"equals-ignore-case":"alice"}]}}"#,
            data: #"{"n":"ALIce"}"#,
            matches: true
        ),
        MatchCase(
            rule: "equals-ignore-case",
            pattern: #"{"data":{"n":[{"equals-ignore-case":"alice"}]}}"#,
            data: #"{"n":"alicia"}"#,
            matches: false
        ),
        MatchCase(
            rule: "equals-ignore-case",
            pattern: #"{"data":{"n":[{"equals-ignore-case":"ÄRGER"}]}}"#,
            data: #"{"n":"ärger"}"#,
            matches: true
        ),
        // Anything-but.
        MatchCase(
            rule: "anything-but list",
            pattern: #"{"data":{"s":[{"anything-but":["x","y"]}]}}"#,
            data: #"{"s":"z"}"#,
            matches: true
        ),
        MatchCase(
            rule: "anything-but list",
            pattern: #"{"data":{"s":[{"anything-but":["x","y"]}]}}"#,
            data: #"{"s":"y"}"#,
            matches: false
        ),
        MatchCase(
            rule: "anything-but needs the field",
            pattern: #"{"data":{"s":[{"anything-but":["x","y"]}]}}"#,
            data: #"{}"#,
            matches: false
        ),
        MatchCase(
            rule: "anything-but single",
            pattern: #"{"data":{"s":[{"anything-but":"initializing"}]}}"#,
            data: #"{"s":"running"}"#,
            matches: true
        ),
        MatchCase(
            rule: "anything-but single",
            pattern: #"{"data":{"s":[{"anything-but":"initializing"}]}}"#,
            data: #"{"s":"initializing"}"#,
            matches: false
        ),
        MatchCase(
            rule: "anything-but numbers",
            pattern: #"{"data":{"x":[{"anything-but":[100,200]}]}}"#,
            data: #"{"x":150}"#,
            matches: true
        ),
        MatchCase(
            rule: "anything-but numbers",
            pattern: #"{"data":{"x":[{"anything-but":[100,200]}]}}"#,
            data: #"{"x":200.0}"#,
            matches: false
        ),
        MatchCase(
            rule: "anything-but number",
            pattern: #"{"data":{"x":[{"anything-but":5}]}}"#,
            data: #"{"x":6}"#,
            matches: true
        ),
        MatchCase(
            rule: "anything-but number",
            pattern: #"{"data":{"x":[{"anything-but":5}]}}"#,
            data: #"{"x":5}"#,
            matches: false
        ),
        MatchCase(
            rule: "anything-but prefix",
            pattern: #"{"data":{"s":[{"anything-but":{"prefix":"init"}}]}}"#,
            data: #"{"s":"running"}"#,
            matches: true
        ),
        MatchCase(
            rule: "anything-but prefix",
            pattern: #"{"data":{"s":[{"anything-but":{"prefix":"init"}}]}}"#,
            data: #"{"s":"initializing"}"#,
            matches: false
        ),
        MatchCase(
            rule: "anything-but prefix, strings only",
            pattern: #"{"data":{"s":[{"anything-but":{"prefix":"init"}}]}}"#,
            data: #"{"s":7}"#,
            matches: false
        ),
        MatchCase(
            rule: "anything-but suffix",
            pattern: #"{"data":{"f":[{"anything-but":{"suffix":".tmp"}}]}}"#,
            data: #"{"f":"a.txt"}"#,
            matches: true
        ),
        MatchCase(
            rule: "anything-but suffix",
            pattern: #"{"data":{"f":[{"anything-but":{"suffix":".tmp"}}]}}"#,
            data: #"{"f":"a.tmp"}"#,
            matches: false
        ),
        MatchCase(
            rule: "anything-but equals-ignore-case",
            pattern: #"{"data":{"s":[{"anything-but":{"equals-ignore-case":["Stop","Halt"]}}]}}"#,
            data: #"{"s":"STOP"}"#,
            matches: false
        ),
        MatchCase(
            rule: "anything-but equals-ignore-case",
            pattern: #"{"data":{"s":[{"anything-but":{"equals-ignore-case":"stop"}}]}}"#,
            data: #"{"s":"go"}"#,
            matches: true
        ),
        // Numeric.
        MatchCase(
            rule: "numeric =", pattern: #"{"data":{"n":[{"numeric":["=",100]}]}}"#, data: #"{"n":100}"#, matches: true),
        MatchCase(
            rule: "numeric =", pattern: #"{"data":{"n":[{"numeric":["=",100]}]}}"#, data: #"{"n":1e2}"#, matches: true),
        MatchCase(
            rule: "numeric =",
            pattern: #"{"data":{"n":[{"numeric":["=",100]}]}}"#,
            data: #"{"n":101}"#,
            matches: false
        ),
        MatchCase(
            rule: "numeric =",
            pattern: #"{"data":{"n":[{"numeric":["=",100]}]}}"#,
            data: #"{"n":"100"}"#,
            matches: false
        ),
        MatchCase(
            rule: "numeric >", pattern: #"{"data":{"n":[{"numeric":[">",0]}]}}"#, data: #"{"n":0}"#, matches: false),
        MatchCase(
            rule: "numeric >", pattern: #"{"data":{"n":[{"numeric":[">",0]}]}}"#, data: #"{"n":0.001}"#, matches: true),
        MatchCase(
            rule: "numeric >=", pattern: #"{"data":{"n":[{"numeric":[">=",0]}]}}"#, data: #"{"n":0}"#, matches: true),
        MatchCase(
            rule: "numeric >=",
            pattern: #"{"data":{"n":[{"numeric":[">=",0]}]}}"#,
            data: #"{"n":-0.001}"#,
            matches: false
        ),
        MatchCase(
            rule: "numeric <", pattern: #"{"data":{"n":[{"numeric":["<",10]}]}}"#, data: #"{"n":10}"#, matches: false),
        MatchCase(
            rule: "numeric <", pattern: #"{"data":{"n":[{"numeric":["<",10]}]}}"#, data: #"{"n":9.99}"#, matches: true),
        MatchCase(
            rule: "numeric <=", pattern: #"{"data":{"n":[{"numeric":["<=",10]}]}}"#, data: #"{"n":10}"#, matches: true),
        MatchCase(
            rule: "numeric <=",
            pattern: #"{"data":{"n":[{"numeric":["<=",10]}]}}"#,
            data: #"{"n":10.01}"#,
            matches: false
        ),
        MatchCase(
            rule: "numeric range",
            pattern: #"{"data":{"n":[{"numeric":[">",0,"<=",5]}]}}"#,
            data: #"{"n":0}"#,
            matches: false
        ),
        MatchCase(
            rule: "numeric range",
            pattern: #"{"data":{"n":[{"numeric":[">",0,"<=",5]}]}}"#,
            data: #"{"n":0.5}"#,
            matches: true
        ),
        MatchCase(
            rule: "numeric range",
            pattern: #"{"data":{"n":[{"numeric":[">",0,"<=",5]}]}}"#,
            data: #"{"n":5}"#,
            matches: true
        ),
        MatchCase(
            rule: "numeric range",
            pattern: #"{"data":{"n":[{"numeric":[">",0,"<=",5]}]}}"#,
            data: #"{"n":5.5}"#,
            matches: false
        ),
        MatchCase(
            rule: "numeric range, reversed order",
            pattern: #"{"data":{"n":[{"numeric":["<",5,">=",1]}]}}"#,
            data: #"{"n":1}"#,
            matches: true
        ),
        MatchCase(
            rule: "numeric, numbers only",
            pattern: #"{"data":{"n":[{"numeric":[">",0]}]}}"#,
            data: #"{"n":"7"}"#,
            matches: false
        ),
        MatchCase(
            rule: "numeric or exact",
            pattern: #"{"data":{"n":[{"numeric":[">",100]},"none"]}}"#,
            data: #"{"n":"none"}"#,
            matches: true
        ),
        // $or.
        MatchCase(
            rule: "$or",
            pattern: #"{"data":{"$or":[{"a":["1"]},{"b":["2"]}]}}"#,
            data: #"{"a":"1"}"#,
            matches: true
        ),
        MatchCase(
            rule: "$or",
            pattern: #"{"data":{"$or":[{"a":["1"]},{"b":["2"]}]}}"#,
            data: #"{"b":"2"}"#,
            matches: true
        ),
        MatchCase(
            rule: "$or",
            pattern: #"{"data":{"$or":[{"a":["1"]},{"b":["2"]}]}}"#,
            data: #"{"a":"2","b":"1"}"#,
            matches: false
        ),
        MatchCase(
            rule: "$or with and",
            pattern: #"{"data":{"s":["x"],"$or":[{"a":["1"]},{"b":["2"],"c":["3"]}]}}"#,
            data: #"{"s":"x","b":"2","c":"3"}"#,
            matches: true
        ),
        MatchCase(
            rule: "$or with and",
            pattern: #"{"data":{"s":["x"],"$or":[{"a":["1"]},{"b":["2"],"c":["3"]}]}}"#,
            data: #"{"s":"x","b":"2"}"#,
            matches: false
        ),
        MatchCase(
            rule: "$or across data and metadata",
            pattern: #"{"$or":[{"partitionKey":["pk-9"]},{"data":{"a":["1"]}}]}"#,
            data: #"{"a":"1"}"#,
            matches: true
        ),
        MatchCase(
            rule: "$or across data and metadata",
            pattern: #"{"$or":[{"partitionKey":["pk-1"]},{"data":{"a":["1"]}}]}"#,
            data: #"{"a":"2"}"#,
            matches: true
        ),
        MatchCase(
            rule: "nested $or",
            pattern: #"{"data":{"$or":[{"a":["1"]},{"b":["2"],"$or":[{"c":[3]},{"d":[4]}]}]}}"#,
            data: #"{"b":"2","d":4}"#,
            matches: true
        ),
        MatchCase(
            rule: "nested $or",
            pattern: #"{"data":{"$or":[{"a":["1"]},{"b":["2"],"$or":[{"c":[3]},{"d":[4]}]}]}}"#,
            data: #"{"b":"2","d":5}"#,
            matches: false
        ),
        // Arrays in the data.
        MatchCase(
            rule: "array value", pattern: #"{"data":{"tags":["b"]}}"#, data: #"{"tags":["a","b"]}"#, matches: true),
        MatchCase(
            rule: "array value", pattern: #"{"data":{"tags":["c"]}}"#, data: #"{"tags":["a","b"]}"#, matches: false),
        MatchCase(
            rule: "array of objects",
            pattern: #"{"data":{"employees":{"firstName":["Anna"]}}}"#,
            data: #"{"employees":[{"firstName":"John"},{"firstName":"Anna"}]}"#,
            matches: true
        ),
        MatchCase(
            rule: "array of objects, same element",
            pattern: #"{"data":{"employees":{"firstName":["Anna"],"lastName":["Jones"]}}}"#,
            data: #"{"employees":[{"firstName":"Anna","lastName":"Smith"},{"firstName":"Peter","lastName":"Jones"}]}"#,
            matches: false
        ),
        // Metadata.
        MatchCase(rule: "partitionKey", pattern: #"{"partitionKey":["pk-1"]}"#, data: #"{}"#, matches: true),
        MatchCase(
            rule: "partitionKey", pattern: #"{"partitionKey":[{"prefix":"pk-"}]}"#, data: "not json", matches: true),
        MatchCase(rule: "partitionKey", pattern: #"{"partitionKey":["pk-2"]}"#, data: "not json", matches: false),
        MatchCase(
            rule: "unicode partitionKey",
            pattern: #"{"partitionKey":["ключ-🔑"]}"#,
            data: #"{}"#,
            matches: true,
            partitionKey: "ключ-🔑"
        ),
        MatchCase(
            rule: "sequenceNumber",
            pattern: #"{"sequenceNumber":[{"prefix":"4959"}],"kinesisSchemaVersion":["1.0"]}"#,
            data: "{}",
            matches: true
        ),
        MatchCase(
            rule: "approximateArrivalTimestamp",
            pattern: #"{"approximateArrivalTimestamp":[{"numeric":[">=",1545084650.987]}]}"#,
            data: "{}",
            matches: true
        ),
        // Data that is not JSON.
        MatchCase(rule: "non-JSON data", pattern: #"{"data":{"a":["1"]}}"#, data: "a=1", matches: false),
        MatchCase(rule: "non-JSON data", pattern: #"{"data":{"a":[{"exists":false}]}}"#, data: "a=1", matches: false),
        MatchCase(rule: "non-JSON data", pattern: #"{"data":[{"exists":false}]}"#, data: "", matches: false),
        MatchCase(
            rule: "non-JSON data, $or names data",
            pattern: #"{"$or":[{"partitionKey":["pk-1"]},{"data":{"a":["1"]}}]}"#,
            data: "{bad",
            matches: false
        ),
        // Data that is a JSON scalar.
        MatchCase(rule: "scalar data", pattern: #"{"data":[42]}"#, data: "42", matches: true),
        MatchCase(rule: "scalar data", pattern: #"{"data":{"a":[{"exists":false}]}}"#, data: #""text""#, matches: true),
    ]

    @Test(arguments: cases)
    func grammar(_ testCase: MatchCase) throws {
        let passes = try Self.passes([testCase.pattern], data: testCase.data, partitionKey: testCase.partitionKey)
        #expect(passes == testCase.matches)
    }

    @Test func multipleFiltersAreOred() throws {
        let patterns = [#"{"data":{"a":["1"]}}"#, #"{"data":{"b":["2"]}}"#, #"{"partitionKey":["special"]}"#]
        #expect(try Self.passes(patterns, data: #"{"a":"1"}"#))
        #expect(try Self.passes(patterns, data: #"{"b":"2"}"#))
        #expect(try Self.passes(patterns, data: #"{"c":"3"}"#) == false)
        #expect(try Self.passes(patterns, data: "not json", partitionKey: "special"))
        #expect(try Self.passes(patterns, data: "not json") == false)
    }

    @Test func noFiltersPassEverything() throws {
        #expect(try Self.passes([], data: "not json"))
        #expect(try Self.passes([], data: "{}"))
    }

    @Test func binaryDataNeverMatchesADataPattern() throws {
        let filter = try FilterCriteria(patterns: [#"{"data":{"a":[{"exists":false}]}}"#]).compiled()
        #expect(filter.matches(Self.record(data: [0xFF, 0xFE, 0x00, 0x7B])) == false)
        #expect(filter.matches(Self.record(data: Array(#"{"b":"\#u{00FF}"}"#.utf8))))
    }

    @Test(arguments: [
        ("not json", "the pattern is not valid JSON"),
        ("[1]", "the pattern must be a JSON object"),
        ("{}", "the pattern is an empty object"),
        (#"{"data":{}}"#, #""data" is an empty object"#),
        (#"{"data":{"a":[]}}"#, #""data.a" is an empty array"#),
        (#"{"data":{"a":"x"}}"#, #""data.a" must be an array of match values"#),
        (#"{"a":[["x"]]}"#, #""a" contains a nested array"#),
        (#"{"a":[{"prefix":1}]}"#, #""a": "prefix" takes a string"#),
        (#"{"a":[{"suffix":null}]}"#, #""a": "suffix" takes a string"#),
        (#"{"a":[{"equals-ignore-case":["x"]}]}"#, #""a": "equals-ignore-case" takes a string"#),
        (#"{"a":[{"exists":"yes"}]}"#, #""a": "exists" takes true or false"#),
        (#"{"a":[{"numeric":[">"]}]}"#, #""a": "numeric" takes"#),
        (#"{"a":[{"numeric":5}]}"#, #""a": "numeric" takes"#),
        (#"{"a":[{"numeric":[">","5"]}]}"#, #""a": "numeric" takes"#),
        (#"{"a":[{"numeric":["!=",1]}]}"#, #"unknown comparison "!=""#),
        (#"{"a":[{"numeric":[">",5,"<",1]}]}"#, "the lower bound 5.0 is not below the upper bound 1.0"),
        (#"{"a":[{"numeric":["=",1,"<",5]}]}"#, #""=" cannot be combined"#),
        (#"{"a":[{"numeric":[">",1,">=",5]}]}"#, "two lower bounds"),
        (#"{"a":[{"numeric":["<",1,"<=",5]}]}"#, "two upper bounds"),
        (#"{"a":[{"anything-but":[]}]}"#, #""a": "anything-but" takes"#),
        (#"{"a":[{"anything-but":true}]}"#, #""a": "anything-but" takes"#),
        (#"{"a":[{"anything-but":[{"prefix":"x"}]}]}"#, #""a": "anything-but" takes"#),
        (#"{"a":[{"anything-but":{"wildcard":"x"}}]}"#, #""a": "anything-but" takes"#),
        (#"{"a":[{"wildcard":"x*"}]}"#, #"unsupported operator "wildcard""#),
        (#"{"a":[{"prefix":"a","suffix":"b"}]}"#, "an operator object must have exactly one key"),
        (#"{"a":[{}]}"#, "an operator object must have exactly one key"),
        (#"{"$or":[{"a":["1"]}]}"#, #""$or" must be an array of at least two pattern objects"#),
        (#"{"$or":{"a":["1"]}}"#, #""$or" must be an array of at least two pattern objects"#),
        (#"{"$or":[{"a":["1"]},"b"]}"#, #""$or[1]" must be a pattern object"#),
    ])
    func invalidPatternsAreRejected(pattern: String, expected: String) throws {
        let error = try #require(throws: MappingError.self) {
            try FilterCriteria(patterns: [#"{"ok":["yes"]}"#, pattern]).compiled()
        }
        #expect(error.code == .invalidParameter)
        #expect(error.message.hasPrefix("Invalid filter pattern definition. FilterCriteria.Filters[1].Pattern: "))
        #expect(error.message.contains(expected), "\(error.message)")
    }

    @Test func criteriaDecodeFromLambdaJSON() throws {
        let json = #"{"Filters":[{"Pattern":"{\"data\":{\"a\":[1]}}"},{"Pattern":"{\"partitionKey\":[\"x\"]}"}]}"#
        let criteria = try JSONDecoder().decode(FilterCriteria.self, from: Data(json.utf8))
        #expect(criteria.filters.map(\.pattern) == [#"{"data":{"a":[1]}}"#, #"{"partitionKey":["x"]}"#])
        let encoded = try JSONSerialization.jsonObject(with: JSONEncoder().encode(criteria)) as? [String: Any]
        let filters = encoded?["Filters"] as? [[String: Any]]
        #expect(filters?.count == 2)
        #expect(filters?.first?["Pattern"] as? String == #"{"data":{"a":[1]}}"#)
    }
}
