import Foundation
import ShardLogTestSupport
import Testing

@testable import ShardLogMapping

/// The KPL aggregation codec: round trips, the size cap, refusals, the records `aws-kinesis-agg` writes, and the
/// de-aggregated event fields.
@Suite
struct KPLAggregationTests {
    let sample: [KPLAggregation.UserRecord] = [
        .init(partitionKey: "alpha", data: Array("one".utf8)),
        .init(partitionKey: "beta", explicitHashKey: "12345", data: []),
        .init(partitionKey: "alpha", data: Array(repeating: 0xFF, count: 300)),
        .init(partitionKey: "ключ", explicitHashKey: "12345", data: Array("four".utf8)),
    ]

    @Test func roundTripsAndKnowsItsSize() throws {
        var aggregator = KPLAggregation.Aggregator()
        for record in sample {
            let added = aggregator.add(record)
            #expect(added)
        }
        let bytes = aggregator.encoded()
        #expect(bytes.count == aggregator.byteCount)
        #expect(Array(bytes.prefix(4)) == [0xF3, 0x89, 0x9A, 0xC2])
        #expect(KPLAggregation.deaggregate(bytes) == sample)
        #expect(aggregator.count == 4 && aggregator.firstPartitionKey == "alpha")
    }

    @Test func staysWithinTheCap() {
        var aggregator = KPLAggregation.Aggregator(maxByteCount: 1000)
        var added = 0
        while aggregator.add(.init(partitionKey: "k\(added % 3)", data: Array(repeating: 7, count: 90))) {
            added += 1
        }
        #expect(added > 5)
        #expect(aggregator.encoded().count <= 1000)
        #expect(aggregator.count == added)
        #expect(KPLAggregation.deaggregate(aggregator.encoded())?.count == added)
        var tiny = KPLAggregation.Aggregator(maxByteCount: 40)
        let fits = tiny.add(.init(partitionKey: "k", data: Array(repeating: 1, count: 40)))
        #expect(!fits)
        #expect(tiny.isEmpty)
    }

    @Test func refusesWhatIsNotAValidAggregate() {
        var aggregator = KPLAggregation.Aggregator()
        for record in sample { _ = aggregator.add(record) }
        let good = aggregator.encoded()
        var badDigest = good
        badDigest[badDigest.count - 1] ^= 1
        #expect(KPLAggregation.deaggregate(badDigest) == nil)
        #expect(KPLAggregation.deaggregate(Array(good.dropFirst())) == nil)
        #expect(KPLAggregation.deaggregate(Array("plain text".utf8)) == nil)
        #expect(KPLAggregation.deaggregate(KPLAggregation.magic) == nil)
        // A valid digest over a message whose record points past the partition key table.
        var message: [UInt8] = []
        ProtobufWriter.appendBytes(field: 1, Array("only".utf8), to: &message)
        var inner: [UInt8] = []
        ProtobufWriter.appendVarint(field: 1, 5, to: &inner)
        ProtobufWriter.appendBytes(field: 3, [1, 2], to: &inner)
        ProtobufWriter.appendBytes(field: 3, inner, to: &message)
        #expect(KPLAggregation.deaggregate(KPLAggregation.framed(message)) == nil)
        // A truncated message with a valid digest.
        #expect(KPLAggregation.deaggregate(KPLAggregation.framed(Array(message.dropLast()))) == nil)
    }

    @Test func readsWhatAwsKinesisAggWrites() async throws {
        let script = """
            import base64, json
            from aws_kinesis_agg.aggregator import RecordAggregator
            agg = RecordAggregator()
            for i in range(200):
                ehk = str(i * 7919) if i % 10 == 0 else None
                assert agg.add_user_record(f"key-{i % 13}", ("payload %d " % i).encode() * (i % 5 + 1), ehk) is None
            pk, ehk, data = agg.clear_and_get().get_contents()
            print(json.dumps({"pk": pk, "data": base64.b64encode(data).decode()}))
            """
        let r = try await runProcess(projectPython, ["-c", script])
        let out = try #require(
            try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r.stderr)")
        let data = try #require((out["data"] as? String).flatMap { Data(base64Encoded: $0) })
        let records = try #require(KPLAggregation.deaggregate(Array(data)))
        #expect(records.count == 200)
        for (i, record) in records.enumerated() {
            #expect(record.partitionKey == "key-\(i % 13)")
            #expect(record.explicitHashKey == (i % 10 == 0 ? String(i * 7919) : nil))
            #expect(record.data == Array(String(repeating: "payload \(i) ", count: i % 5 + 1).utf8))
        }
        #expect(out["pk"] as? String == "key-0")
    }

    @Test func expandedRecordsCarryTheSubSequenceNumber() throws {
        var aggregator = KPLAggregation.Aggregator()
        for record in sample { _ = aggregator.add(record) }
        let arrival = Date(timeIntervalSince1970: 1_700_000_000.5)
        let records = [
            EventRecord(
                partitionKey: "a", sequenceNumber: "100", data: aggregator.encoded(),
                approximateArrivalTimestamp: arrival),
            EventRecord(
                partitionKey: "plain", sequenceNumber: "101", data: Array("x".utf8),
                approximateArrivalTimestamp: arrival),
        ]
        let expanded = KPLAggregation.expand(records)
        #expect(expanded.count == 5)
        #expect(expanded.prefix(4).map(\.subSequenceNumber) == [0, 1, 2, 3])
        #expect(expanded.prefix(4).allSatisfy { $0.sequenceNumber == "100" })
        #expect(expanded[4] == records[1])
        let encoder = KinesisEventEncoder(source: KinesisEventSource(streamName: "s", shardId: "shardId-000000000000"))
        for record in expanded {
            var one: [UInt8] = []
            encoder.appendRecord(record, to: &one)
            #expect(one.count == encoder.encodedByteCount(of: record))
        }
        let event = encoder.encode(expanded)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(event)) as? [String: Any])
        let rows = try #require(object["Records"] as? [[String: Any]]).compactMap { $0["kinesis"] as? [String: Any] }
        #expect(rows.map { $0["partitionKey"] as? String } == ["alpha", "beta", "alpha", "ключ", "plain"])
        #expect(rows.map { $0["subSequenceNumber"] as? Int } == [0, 1, 2, 3, nil])
        #expect(rows[1]["explicitHashKey"] as? String == "12345")
        #expect(rows[0]["aggregated"] as? Bool == true)
        #expect(rows[3]["data"] as? String == Data("four".utf8).base64EncodedString())
    }
}
