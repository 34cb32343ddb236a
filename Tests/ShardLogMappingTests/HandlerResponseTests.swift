import Foundation
import Testing

@testable import ShardLogMapping

@Suite struct HandlerResponseTests {
    static let batch: Set<String> = [
        "49590338271490256608559692538361571095921575989136588898",
        "49590338271490256608559692540925702759324208523137515618",
        "99",
        "100",
        "101",
    ]

    static func response(_ body: String, reportBatchItemFailures: Bool = true) -> HandlerResponse {
        HandlerResponse(
            parsing: Array(body.utf8),
            batchSequenceNumbers: batch,
            reportBatchItemFailures: reportBatchItemFailures
        )
    }

    static func isFullFailure(_ response: HandlerResponse, containing text: String) -> Bool {
        if case .fullFailure(let reason) = response {
            return reason.contains(text)
        }
        return false
    }

    @Test(arguments: [
        "",
        "  \n",
        "null",
        "{}",
        #"{"batchItemFailures":[]}"#,
        #"{"batchItemFailures":null}"#,
        #"{"other":[{"itemIdentifier":"1"}]}"#,
        #""done""#,
        "42",
        "[]",
        "true",
    ])
    func successResponses(body: String) {
        #expect(Self.response(body) == .success)
    }

    @Test(arguments: [
        #"{"batchItemFailures":[{"itemIdentifier":""}]}"#,
        #"{"batchItemFailures":[{"itemIdentifier":null}]}"#,
        #"{"batchItemFailures":[{}]}"#,
        #"{"batchItemFailures":[{"itemId":"99"}]}"#,
        #"{"batchItemFailures":[{"itemIdentifier":99}]}"#,
        #"{"batchItemFailures":[{"itemIdentifier":"100"},{"itemIdentifier":""}]}"#,
    ])
    func badItemIdentifiersFailTheWholeBatch(body: String) {
        #expect(Self.isFullFailure(Self.response(body), containing: "itemIdentifier is missing, null, empty"))
    }

    @Test func identifierOutsideTheBatchFailsTheWholeBatch() {
        let response = Self.response(#"{"batchItemFailures":[{"itemIdentifier":"100"},{"itemIdentifier":"7"}]}"#)
        #expect(Self.isFullFailure(response, containing: #"itemIdentifier "7" is not the sequenceNumber"#))
    }

    @Test(arguments: [
        (#"{"batchItemFailures":"99"}"#, "batchItemFailures is not an array"),
        (#"{"batchItemFailures":{"itemIdentifier":"99"}}"#, "batchItemFailures is not an array"),
        (#"{"batchItemFailures":[null]}"#, "batchItemFailures[0] is not an object"),
        (#"{"batchItemFailures":["99"]}"#, "batchItemFailures[0] is not an object"),
        (#"{"batchItemFailures":[{"itemIdentifier":"99"}"#, "response is not valid JSON: "),
        ("OK", #"response is not valid JSON: "OK""#),
    ])
    func malformedResponsesFailTheWholeBatch(body: String, reason: String) {
        #expect(Self.isFullFailure(Self.response(body), containing: reason), "\(Self.response(body))")
    }

    @Test(arguments: [
        (#"{"batchItemFailures":[{"itemIdentifier":"100"}]}"#, "100"),
        (#"{"batchItemFailures":[{"itemIdentifier":"101"},{"itemIdentifier":"100"}]}"#, "100"),
        (#"{"batchItemFailures":[{"itemIdentifier":"100"},{"itemIdentifier":"99"}]}"#, "99"),
        (#"{"batchItemFailures":[{"itemIdentifier":"99"},{"itemIdentifier":"101"}]}"#, "99"),
        (
            #"{"batchItemFailures":[{"itemIdentifier":"49590338271490256608559692540925702759324208523137515618"},"#
                + #"{"itemIdentifier":"49590338271490256608559692538361571095921575989136588898"}]}"#,
            "49590338271490256608559692538361571095921575989136588898"
        ),
        (
            #"{"batchItemFailures":[{"itemIdentifier":"49590338271490256608559692538361571095921575989136588898"},"#
                + #"{"itemIdentifier":"101"}]}"#,
            "101"
        ),
        (#"{"batchItemFailures":[{"itemIdentifier":"100","extra":true}],"other":1}"#, "100"),
    ])
    func partialFailureReportsTheLowestSequenceNumber(body: String, lowest: String) {
        #expect(Self.response(body) == .partialFailure(lowestFailedSequenceNumber: lowest))
    }

    @Test(arguments: ["", "OK", #"{"batchItemFailures":[{"itemIdentifier":"100"}]}"#, #"{"batchItemFailures":"x"}"#])
    func responsesAreIgnoredWithoutReportBatchItemFailures(body: String) {
        #expect(Self.response(body, reportBatchItemFailures: false) == .success)
    }

    @Test(arguments: [
        ("0", "1", true),
        ("9", "10", true),
        ("10", "9", false),
        ("99", "100", true),
        ("100", "101", true),
        ("101", "100", false),
        ("100", "100", false),
        (
            "49590338271490256608559692538361571095921575989136588898",
            "49590338271490256608559692540925702759324208523137515618", true
        ),
        ("49590338271490256608559692538361571095921575989136588898", "4959033827149025660855969253836157109592", false),
    ])
    func sequenceNumbersCompareAsDecimalNumbers(lhs: String, rhs: String, precedes: Bool) {
        #expect(SequenceNumberOrder.precedes(lhs, rhs) == precedes)
    }

    static func windowResponse(_ body: String, reportBatchItemFailures: Bool = true) -> TumblingWindowResponse {
        TumblingWindowResponse(
            parsing: Array(body.utf8),
            batchSequenceNumbers: batch,
            reportBatchItemFailures: reportBatchItemFailures
        )
    }

    @Test func windowResponseCarriesState() {
        let response = Self.windowResponse(#"{"state":{"b":2,"a":{"x":[1,"y",null,true]}}}"#)
        #expect(response.outcome == .success)
        #expect(response.state.map { String(decoding: $0, as: UTF8.self) } == #"{"a":{"x":[1,"y",null,true]},"b":2}"#)
    }

    @Test func windowResponseWithEmptyStateSucceeds() {
        let response = Self.windowResponse(#"{"state":{}}"#)
        #expect(response == TumblingWindowResponse(outcome: .success, state: Array("{}".utf8)))
    }

    @Test(arguments: ["", "null", "{}", #"{"batchItemFailures":[]}"#, #"{"state":null}"#, #"{"state":[1]}"#, "x"])
    func windowResponseWithoutObjectStateFails(body: String) {
        let response = Self.windowResponse(body)
        #expect(response.state == nil)
        if case .fullFailure = response.outcome {
        } else {
            Issue.record("expected a full failure, got \(response.outcome)")
        }
    }

    @Test func missingStateReasonNamesTheFix() {
        #expect(Self.isFullFailure(Self.windowResponse("{}").outcome, containing: #"has no "state""#))
        #expect(Self.isFullFailure(Self.windowResponse(#"{"state":3}"#).outcome, containing: "is not a JSON object"))
    }

    @Test func windowResponseAppliesBatchItemFailures() {
        let body = #"{"state":{"n":1},"batchItemFailures":[{"itemIdentifier":"101"},{"itemIdentifier":"100"}]}"#
        let reported = Self.windowResponse(body)
        #expect(reported.outcome == .partialFailure(lowestFailedSequenceNumber: "100"))
        #expect(reported.state == Array(#"{"n":1}"#.utf8))
        let ignored = Self.windowResponse(body, reportBatchItemFailures: false)
        #expect(ignored.outcome == .success)
        #expect(ignored.state == Array(#"{"n":1}"#.utf8))
    }
}
