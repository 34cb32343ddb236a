import Foundation
import ShardLogMapping
import Testing

@testable import ShardLogServer

/// The console's view of an on-failure record, read back from the bytes ``InvocationRecord`` writes.
@Suite struct ConsoleFailureViewTests {
    @Test("an invocation record is read back whole: batch info, condition, last error, records with their data")
    func invocationRecordReadBack() throws {
        let source = KinesisEventSource(
            streamName: "orders", shardId: "shardId-000000000003", region: "eu-west-1", accountId: "123456789012")
        let records = [
            EventRecord(
                partitionKey: "ключ", sequenceNumber: "49000000000000000000000000000000000000000000000000000017",
                data: Array(#"{"id":1}"#.utf8),
                approximateArrivalTimestamp: Date(timeIntervalSince1970: 1_700_000_000.25)),
            EventRecord(
                partitionKey: "b", sequenceNumber: "49000000000000000000000000000000000000000000000000000018",
                data: [0, 255, 7], approximateArrivalTimestamp: Date(timeIntervalSince1970: 1_700_000_001)),
        ]
        let record = InvocationRecord(
            requestContext: .init(
                requestId: "r-1", functionArn: "arn:aws:lambda:eu-west-1:123456789012:function:f",
                condition: .retryAttemptsExhausted, approximateInvokeCount: 3),
            responseContext: .init(functionError: "Unhandled"), source: source, records: records,
            lastError: .init(errorType: "TypeError", errorMessage: "boom \"quoted\""))
        let view = try #require(Console.failureView(try record.jsonBytes(), mapping: "m"))
        #expect(view.mapping == "m")
        #expect(view.shardId == "shardId-000000000003")
        #expect(view.condition == "RetryAttemptsExhausted")
        #expect(view.startSequenceNumber == records[0].sequenceNumber)
        #expect(view.endSequenceNumber == records[1].sequenceNumber)
        #expect(view.batchSize == 2)
        #expect(view.lastError?.errorType == "TypeError")
        #expect(view.lastError?.errorMessage == "boom \"quoted\"")
        #expect(view.records.map(\.partitionKey) == ["ключ", "b"])
        #expect(view.records.map(\.dataEncoding) == ["json", "base64"])
        #expect(view.records[0].data == #"{"id":1}"#)
        #expect(view.records[1].data == "AP8H")
        #expect(view.records[0].approximateArrivalTimestamp.hasPrefix("2023-11-14T22:13:20.25"))
        #expect(!view.timestamp.isEmpty)
    }

    @Test("a document that is not an invocation record gives no view")
    func otherDocuments() {
        #expect(Console.failureView(Array(#"{"hello":"world"}"#.utf8), mapping: "m") == nil)
        #expect(Console.failureView(Array("not json".utf8), mapping: "m") == nil)
        #expect(Console.failureView(Array(#"{"KinesisBatchInfo":[]}"#.utf8), mapping: "m") == nil)
    }
}
