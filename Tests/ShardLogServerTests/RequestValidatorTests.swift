import ShardLogWire
import Testing

@testable import ShardLogServer

/// The generated model table and the validator's pieces that need no server.
@Suite struct RequestValidatorTests {
    /// Every served operation has its input shape in the generated table, and every shape it names exists.
    @Test func tableCoversEveryServedOperation() {
        for operation in Operation.allCases {
            let input = ModelShape.operationInputs[operation.rawValue]
            #expect(input != nil, "\(operation.rawValue) is missing from KinesisShapes.swift")
            if let input { #expect(ModelShape.all[input] != nil) }
        }
        for (name, shape) in ModelShape.all {
            for member in shape.members { #expect(ModelShape.all[member.shape] != nil, "\(name).\(member.name)") }
            for other in [shape.element, shape.key].compactMap({ $0 }) {
                #expect(ModelShape.all[other] != nil, "\(name) → \(other)")
            }
        }
    }

    /// Every operation of botocore's model is served (none answers `UnknownOperationException`).
    @Test func everyModelOperationIsServed() {
        let served = Set(Operation.allCases.map(\.rawValue))
        let modelled = Set(ModelShape.operationInputs.keys)
        #expect(modelled.subtracting(served).sorted() == [])
        #expect(modelled.count == 39)
    }

    @Test(arguments: [("", 0), ("AA==", 1), ("AAA=", 2), ("AAAA", 3), ("AAAAAA==", 4)])
    func blobLengthsComeFromTheText(text: String, length: Int) throws {
        #expect(try RequestValidator.blobLength(text) == length)
    }

    @Test(arguments: [
        (
            "abc",
            "'abc' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4 bytes but found: 3"
        ),
        ("A!AA", "'A!AA' can not be converted to a Blob: Invalid Base64 character: '!'"),
        ("AB=C", "'AB=C' can not be converted to a Blob: Invalid Base64 character: '='"),
        ("A=A=", "'A=A=' can not be converted to a Blob: Invalid Base64 character: '='"),
    ])
    func brokenBase64IsASerializationException(text: String, message: String) {
        #expect(throws: KinesisError(.serialization, message)) { try RequestValidator.blobLength(text) }
    }

    /// Members the model does not know are ignored, as AWS ignores them; `null` is absent.
    @Test func unknownAndNullMembersAreIgnored() throws {
        try RequestValidator.validate(
            operation: "ListStreams", members: ["Bogus": .number(1), "Limit": .null, "ExclusiveStartStreamName": .null])
    }

    /// The hand-written matchers of the hot patterns agree with `Regex` on every probe.
    @Test(arguments: ["[a-zA-Z0-9_.-]+", "0|([1-9]\\d{0,38})", "0|([1-9]\\d{0,128})", "[a-z0-9]{20}-[a-z0-9]{3}"])
    func handMatchersAgreeWithRegex(pattern: String) throws {
        let regex = try Regex(pattern)
        let probes = [
            "", "0", "00", "01", "1", "9", "a", "A_b.c-d", "a b", "?", "é", "١٢٣", String(repeating: "9", count: 39),
            String(repeating: "9", count: 40), "1" + String(repeating: "0", count: 128),
            "1" + String(repeating: "0", count: 129), "abcdefghij0123456789-abc", "abcdefghij0123456789-ABC",
            "abcdefghij0123456789_abc", "abcdefghij0123456789-abcd", "-12", "12a",
        ]
        for probe in probes {
            #expect(
                PatternMatcher.matches(probe, pattern) == ((try? regex.wholeMatch(in: probe)) != nil),
                "\(pattern) on '\(probe)'")
        }
    }
}
