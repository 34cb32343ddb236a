import Foundation
import ShardLogWire
import Testing

@testable import ShardLogMapping

@Suite struct KinesisEventTests {
    static let source = KinesisEventSource(streamName: "orders", shardId: "shardId-000000000006")
    static let encoder = KinesisEventEncoder(source: source)

    static func record(
        _ data: [UInt8],
        key: String = "k1",
        sequenceNumber: String = "49590338271490256608559692538361571095921575989136588898",
        arrival: Double = 1_545_084_650.987
    ) -> EventRecord {
        EventRecord(
            partitionKey: key,
            sequenceNumber: sequenceNumber,
            data: data,
            approximateArrivalTimestamp: Date(timeIntervalSince1970: arrival)
        )
    }

    static func object(_ bytes: [UInt8]) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    static func text(_ bytes: [UInt8]) -> String {
        String(decoding: bytes, as: UTF8.self)
    }

    /// Checks every field of one parsed `Records` element against the record it encodes.
    static func expectRecord(_ element: [String: Any], matches record: EventRecord) throws {
        #expect(
            Set(element.keys) == [
                "kinesis", "eventSource", "eventVersion", "eventID", "eventName", "invokeIdentityArn", "awsRegion",
                "eventSourceARN",
            ]
        )
        let kinesis = try #require(element["kinesis"] as? [String: Any])
        #expect(
            Set(kinesis.keys) == [
                "kinesisSchemaVersion", "partitionKey", "sequenceNumber", "data", "approximateArrivalTimestamp",
            ]
        )
        #expect(kinesis["kinesisSchemaVersion"] as? String == "1.0")
        #expect(kinesis["partitionKey"] as? String == record.partitionKey)
        #expect(kinesis["sequenceNumber"] as? String == record.sequenceNumber)
        let base64 = try #require(kinesis["data"] as? String)
        #expect(Data(base64Encoded: base64).map(Array.init) == record.data)
        #expect(base64 == Data(record.data).base64EncodedString())
        let timestamp = try #require(kinesis["approximateArrivalTimestamp"] as? Double)
        #expect(abs(timestamp - record.approximateArrivalTimestamp.timeIntervalSince1970) < 0.0005)
        #expect(element["eventSource"] as? String == "aws:kinesis")
        #expect(element["eventVersion"] as? String == "1.0")
        #expect(element["eventID"] as? String == "shardId-000000000006:\(record.sequenceNumber)")
        #expect(element["eventName"] as? String == "aws:kinesis:record")
        #expect(element["invokeIdentityArn"] as? String == "arn:aws:iam::000000000000:role/shardlog")
        #expect(element["awsRegion"] as? String == "us-east-1")
        #expect(element["eventSourceARN"] as? String == "arn:aws:kinesis:us-east-1:000000000000:stream/orders")
    }

    @Test func singleRecordIsByteForByteTheAWSShape() {
        let event = Self.encoder.encode([Self.record(Array("Hello, this is a test.".utf8))])
        let expected =
            #"{"Records":[{"kinesis":{"kinesisSchemaVersion":"1.0","partitionKey":"k1","#
            + #""sequenceNumber":"49590338271490256608559692538361571095921575989136588898","#
            + #""data":"SGVsbG8sIHRoaXMgaXMgYSB0ZXN0Lg==","approximateArrivalTimestamp":1545084650.987},"#
            + #""eventSource":"aws:kinesis","eventVersion":"1.0","#
            + #""eventID":"shardId-000000000006:49590338271490256608559692538361571095921575989136588898","#
            + #""eventName":"aws:kinesis:record","invokeIdentityArn":"arn:aws:iam::000000000000:role/shardlog","#
            + #""awsRegion":"us-east-1","eventSourceARN":"arn:aws:kinesis:us-east-1:000000000000:stream/orders"}]}"#
        #expect(Self.text(event) == expected)
    }

    @Test func batchParsesBackWithEveryField() throws {
        let records = [
            Self.record(Array(#"{"order":1}"#.utf8), key: "a", sequenceNumber: "1", arrival: 1_700_000_000),
            Self.record(Array(0...255), key: "ключ-🔑 \"quoted\" \\ \n\t\u{01}", sequenceNumber: "22", arrival: 0.5),
            Self.record([], key: "", sequenceNumber: "333", arrival: 1_545_084_650.001),
        ]
        let event = try Self.object(Self.encoder.encode(records))
        #expect(Set(event.keys) == ["Records"])
        let elements = try #require(event["Records"] as? [[String: Any]])
        try #require(elements.count == records.count)
        for (element, record) in zip(elements, records) {
            try Self.expectRecord(element, matches: record)
        }
    }

    @Test func emptyBatchIsAnEmptyRecordsArray() {
        #expect(Self.text(Self.encoder.encode([EventRecord]())) == #"{"Records":[]}"#)
    }

    @Test(arguments: [0, 1, 2, 3, 4, 5, 6, 255, 256, 1000])
    func base64RoundTripsBinaryData(length: Int) throws {
        let data = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        let event = try Self.object(Self.encoder.encode([Self.record(data)]))
        let element = try #require((event["Records"] as? [[String: Any]])?.first)
        try Self.expectRecord(element, matches: Self.record(data))
    }

    @Test(arguments: [
        (1_545_084_650.987, "1545084650.987"),
        (1_545_084_650, "1545084650.000"),
        (1_545_084_650.5, "1545084650.500"),
        (1_545_084_650.0504, "1545084650.050"),
        (1_545_084_650.9996, "1545084651.000"),
        (0, "0.000"),
        (0.001, "0.001"),
        (-0.5, "-0.500"),
    ])
    func timestampsHaveExactlyThreeDecimals(seconds: Double, expected: String) {
        let record = Self.record([1], arrival: seconds)
        let text = Self.text(Self.encoder.encode([record]))
        #expect(text.contains(#""approximateArrivalTimestamp":\#(expected)}"#), "\(text)")
    }

    @Test func encodedByteCountsAreExact() {
        let window = TumblingWindow(
            start: Date(timeIntervalSince1970: 1_596_128_400),
            end: Date(timeIntervalSince1970: 1_596_128_700),
            state: Array(#"{"1":282}"#.utf8)
        )
        let records = [
            Self.record(Array("x".utf8), key: "ключ-🔑\"\u{1F}", sequenceNumber: "7", arrival: 12.3456),
            Self.record(Array(0..<100), key: "a", sequenceNumber: "123456789012345678901234567890", arrival: -3),
            Self.record([], key: "\\", sequenceNumber: "0", arrival: 9_999_999_999.999),
        ]
        for record in records {
            var bytes: [UInt8] = []
            Self.encoder.appendRecord(record, to: &bytes)
            #expect(Self.encoder.encodedByteCount(of: record) == bytes.count)
        }
        for window in [nil, window] {
            let total = Self.encoder.encode(records, window: window).count
            let predicted =
                Self.encoder.envelopeByteCount(window: window)
                + records.map(Self.encoder.encodedByteCount(of:)).reduce(0, +) + records.count - 1
            #expect(total == predicted)
            #expect(
                Self.encoder.encode([EventRecord](), window: window).count
                    == Self.encoder.envelopeByteCount(window: window))
        }
    }

    @Test func tumblingWindowFieldsFollowTheRecords() throws {
        let window = TumblingWindow(
            start: Date(timeIntervalSince1970: 1_596_128_400),
            end: Date(timeIntervalSince1970: 1_596_128_700),
            state: Array(#"{"1":282,"2":715}"#.utf8),
            isFinalInvokeForWindow: true,
            isWindowTerminatedEarly: false
        )
        let bytes = Self.encoder.encode([Self.record([42])], window: window)
        let text = Self.text(bytes)
        #expect(
            text.hasSuffix(
                #"],"window":{"start":"2020-07-30T17:00:00Z","end":"2020-07-30T17:05:00Z"},"#
                    + #""state":{"1":282,"2":715},"shardId":"shardId-000000000006","#
                    + #""eventSourceARN":"arn:aws:kinesis:us-east-1:000000000000:stream/orders","#
                    + #""isFinalInvokeForWindow":true,"isWindowTerminatedEarly":false}"#
            )
        )
        let event = try Self.object(bytes)
        #expect(
            Set(event.keys) == [
                "Records", "window", "state", "shardId", "eventSourceARN", "isFinalInvokeForWindow",
                "isWindowTerminatedEarly",
            ]
        )
        let element = try #require((event["Records"] as? [[String: Any]])?.first)
        try Self.expectRecord(element, matches: Self.record([42]))
        let windowObject = try #require(event["window"] as? [String: Any])
        #expect(windowObject["start"] as? String == "2020-07-30T17:00:00Z")
        #expect(windowObject["end"] as? String == "2020-07-30T17:05:00Z")
        let state = try #require(event["state"] as? [String: Any])
        #expect(state["1"] as? Int == 282)
        #expect(state["2"] as? Int == 715)
        #expect(event["shardId"] as? String == "shardId-000000000006")
        #expect(event["eventSourceARN"] as? String == "arn:aws:kinesis:us-east-1:000000000000:stream/orders")
        #expect(event["isFinalInvokeForWindow"] as? Bool == true)
        #expect(event["isWindowTerminatedEarly"] as? Bool == false)
    }

    @Test func emptyWindowStateIsAnEmptyObject() throws {
        let window = TumblingWindow(start: Date(timeIntervalSince1970: 0), end: Date(timeIntervalSince1970: 60))
        let event = try Self.object(Self.encoder.encode([EventRecord](), window: window))
        #expect((event["state"] as? [String: Any])?.isEmpty == true)
        #expect((event["window"] as? [String: Any])?["end"] as? String == "1970-01-01T00:01:00Z")
    }

    @Test func customSourceFieldsAreWritten() throws {
        let source = KinesisEventSource(
            streamName: "s",
            shardId: "shardId-000000000001",
            region: "us-east-2",
            accountId: "123456789012",
            invokeIdentityArn: "arn:aws:iam::123456789012:role/lambda-role"
        )
        let event = try Self.object(KinesisEventEncoder(source: source).encode([Self.record([1])]))
        let element = try #require((event["Records"] as? [[String: Any]])?.first)
        #expect(element["awsRegion"] as? String == "us-east-2")
        #expect(element["eventSourceARN"] as? String == "arn:aws:kinesis:us-east-2:123456789012:stream/s")
        #expect(element["invokeIdentityArn"] as? String == "arn:aws:iam::123456789012:role/lambda-role")
        #expect((element["eventID"] as? String)?.hasPrefix("shardId-000000000001:") == true)
    }

    @Test(arguments: [
        (0.0, "1970-01-01T00:00:00.000Z"),
        (1_573_691_886.021, "2019-11-14T00:38:06.021Z"),
        (951_782_400, "2000-02-29T00:00:00.000Z"),
        (1_582_934_399.999, "2020-02-28T23:59:59.999Z"),
        (4_102_444_800, "2100-01-01T00:00:00.000Z"),
        (-1, "1969-12-31T23:59:59.000Z"),
    ])
    func iso8601Timestamps(seconds: Double, expected: String) {
        #expect(JSONTimestamp.iso8601(Date(timeIntervalSince1970: seconds), milliseconds: true) == expected)
        #expect(
            JSONTimestamp.iso8601(Date(timeIntervalSince1970: seconds), milliseconds: false)
                == expected.replacing(/\.\d{3}Z$/, with: "Z")
        )
    }

    @Test(arguments: [1, 2, 3])
    func iso8601AgreesWithFoundation(seed: UInt64) {
        var generator = SplitMix64(seed: seed)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        for _ in 0..<500 {
            let seconds = Double(generator.next() % 8_000_000_000) - 1_000_000_000
            let date = Date(timeIntervalSince1970: seconds)
            #expect(JSONTimestamp.iso8601(date, milliseconds: false) == formatter.string(from: date))
        }
    }
}

/// A small seeded generator for reproducible randomized tests.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}
