import Foundation
import Testing

@testable import ShardLogMapping

@Suite struct InvocationRecordTests {
    static let source = KinesisEventSource(
        streamName: "mystream",
        shardId: "shardId-000000000001",
        region: "us-east-2",
        accountId: "123456789012"
    )

    static let records = [
        EventRecord(
            partitionKey: "b",
            sequenceNumber: "49601189658422359378836298522902373528957594348623495186",
            data: Array("second".utf8),
            approximateArrivalTimestamp: Date(timeIntervalSince1970: 1_573_691_885.580)
        ),
        EventRecord(
            partitionKey: "ключ-🔑",
            sequenceNumber: "49601189658422359378836298521827638475320189012309704722",
            data: [0, 255, 128, 7],
            approximateArrivalTimestamp: Date(timeIntervalSince1970: 1_573_691_884.835)
        ),
    ]

    static func invocationRecord(
        condition: InvocationRecord.Condition = .retryAttemptsExhausted,
        functionError: String? = "Unhandled"
    ) -> InvocationRecord {
        InvocationRecord(
            requestContext: .init(
                requestId: "c9b8fa9f-5a7f-xmpl-af9c-0c604cde93a5",
                functionArn: "arn:aws:lambda:us-east-2:123456789012:function:myfunction",
                condition: condition,
                approximateInvokeCount: 3
            ),
            responseContext: .init(functionError: functionError),
            source: source,
            records: records,
            timestamp: Date(timeIntervalSince1970: 1_573_691_886.021)
        )
    }

    static func object(_ record: InvocationRecord) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(record.jsonBytes())) as? [String: Any])
    }

    @Test func batchInfoIsDerivedFromTheRecords() {
        let info = Self.invocationRecord().kinesisBatchInfo
        #expect(info.shardId == "shardId-000000000001")
        #expect(info.startSequenceNumber == "49601189658422359378836298521827638475320189012309704722")
        #expect(info.endSequenceNumber == "49601189658422359378836298522902373528957594348623495186")
        #expect(info.approximateArrivalOfFirstRecord == Date(timeIntervalSince1970: 1_573_691_884.835))
        #expect(info.approximateArrivalOfLastRecord == Date(timeIntervalSince1970: 1_573_691_885.580))
        #expect(info.batchSize == 2)
        #expect(info.streamArn == "arn:aws:kinesis:us-east-2:123456789012:stream/mystream")
    }

    @Test func jsonHasLambdaFieldsPlusRecords() throws {
        let object = try Self.object(Self.invocationRecord())
        #expect(
            Set(object.keys) == [
                "requestContext", "responseContext", "version", "timestamp", "KinesisBatchInfo", "records",
            ]
        )
        #expect(object["version"] as? String == "1.0")
        #expect(object["timestamp"] as? String == "2019-11-14T00:38:06.021Z")

        let request = try #require(object["requestContext"] as? [String: Any])
        #expect(Set(request.keys) == ["requestId", "functionArn", "condition", "approximateInvokeCount"])
        #expect(request["requestId"] as? String == "c9b8fa9f-5a7f-xmpl-af9c-0c604cde93a5")
        #expect(request["functionArn"] as? String == "arn:aws:lambda:us-east-2:123456789012:function:myfunction")
        #expect(request["condition"] as? String == "RetryAttemptsExhausted")
        #expect(request["approximateInvokeCount"] as? Int == 3)

        let response = try #require(object["responseContext"] as? [String: Any])
        #expect(Set(response.keys) == ["statusCode", "executedVersion", "functionError"])
        #expect(response["statusCode"] as? Int == 200)
        #expect(response["executedVersion"] as? String == "$LATEST")
        #expect(response["functionError"] as? String == "Unhandled")

        let info = try #require(object["KinesisBatchInfo"] as? [String: Any])
        #expect(
            Set(info.keys) == [
                "shardId", "startSequenceNumber", "endSequenceNumber", "approximateArrivalOfFirstRecord",
                "approximateArrivalOfLastRecord", "batchSize", "streamArn",
            ]
        )
        #expect(info["shardId"] as? String == "shardId-000000000001")
        #expect(info["startSequenceNumber"] as? String == "49601189658422359378836298521827638475320189012309704722")
        #expect(info["endSequenceNumber"] as? String == "49601189658422359378836298522902373528957594348623495186")
        #expect(info["approximateArrivalOfFirstRecord"] as? String == "2019-11-14T00:38:04.835Z")
        #expect(info["approximateArrivalOfLastRecord"] as? String == "2019-11-14T00:38:05.580Z")
        #expect(info["batchSize"] as? Int == 2)
        #expect(info["streamArn"] as? String == "arn:aws:kinesis:us-east-2:123456789012:stream/mystream")
    }

    @Test func theLastErrorIsADocumentedExtensionLeftOutWhenThereIsNone() throws {
        var record = Self.invocationRecord()
        record.lastError = .init(errorType: "TypeError", errorMessage: "boom from node")
        let object = try Self.object(record)
        let lastError = try #require(object["lastError"] as? [String: Any])
        #expect(lastError as? [String: String] == ["errorType": "TypeError", "errorMessage": "boom from node"])
        #expect(record.lastError?.description == "TypeError: boom from node")
        #expect(try Self.object(Self.invocationRecord(condition: .recordAgeExceeded))["lastError"] == nil)
        let text = String(decoding: try record.jsonBytes(), as: UTF8.self)
        #expect(text.contains(#""KinesisBatchInfo":{"#) && text.contains(#""lastError":{"errorMessage":"boom"#))
    }

    @Test func recordsUseTheKinesisEventShape() throws {
        let object = try Self.object(Self.invocationRecord())
        let elements = try #require(object["records"] as? [[String: Any]])
        try #require(elements.count == Self.records.count)
        for (element, record) in zip(elements, Self.records) {
            let kinesis = try #require(element["kinesis"] as? [String: Any])
            #expect(kinesis["kinesisSchemaVersion"] as? String == "1.0")
            #expect(kinesis["partitionKey"] as? String == record.partitionKey)
            #expect(kinesis["sequenceNumber"] as? String == record.sequenceNumber)
            #expect(Data(base64Encoded: kinesis["data"] as? String ?? "").map(Array.init) == record.data)
            let timestamp = try #require(kinesis["approximateArrivalTimestamp"] as? Double)
            #expect(abs(timestamp - record.approximateArrivalTimestamp.timeIntervalSince1970) < 0.0005)
            #expect(element["eventSource"] as? String == "aws:kinesis")
            #expect(element["eventVersion"] as? String == "1.0")
            #expect(element["eventID"] as? String == "shardId-000000000001:\(record.sequenceNumber)")
            #expect(element["eventName"] as? String == "aws:kinesis:record")
            #expect(element["invokeIdentityArn"] as? String == "arn:aws:iam::000000000000:role/shardlog")
            #expect(element["awsRegion"] as? String == "us-east-2")
            #expect(element["eventSourceARN"] as? String == "arn:aws:kinesis:us-east-2:123456789012:stream/mystream")
        }
        let text = String(decoding: try Self.invocationRecord().jsonBytes(), as: UTF8.self)
        #expect(text.contains(#""approximateArrivalTimestamp":1573691884.835"#))
        #expect(text.contains(#""approximateArrivalTimestamp":1573691885.58"#))
    }

    @Test func keysAreSortedAndOutputIsDeterministic() throws {
        let first = try Self.invocationRecord().jsonBytes()
        let second = try Self.invocationRecord().jsonBytes()
        #expect(first == second)
        let text = String(decoding: first, as: UTF8.self)
        #expect(text.hasPrefix(#"{"KinesisBatchInfo":{"approximateArrivalOfFirstRecord":"#))
        #expect(text.contains(#""functionArn":"arn:aws:lambda:us-east-2:123456789012:function:myfunction""#))
        #expect(text.hasSuffix(#""timestamp":"2019-11-14T00:38:06.021Z","version":"1.0"}"#))
    }

    @Test(arguments: InvocationRecord.Condition.allCases)
    func conditionsUseLambdaNames(condition: InvocationRecord.Condition) throws {
        let object = try Self.object(Self.invocationRecord(condition: condition, functionError: nil))
        let request = try #require(object["requestContext"] as? [String: Any])
        #expect(request["condition"] as? String == condition.rawValue)
        let response = try #require(object["responseContext"] as? [String: Any])
        // Lambda writes `"functionError": null` when the function returned (a partial failure, an old record).
        #expect(response["functionError"] is NSNull)
        #expect(["RetryAttemptsExhausted", "RecordAgeExceeded"].contains(condition.rawValue))
    }
}
