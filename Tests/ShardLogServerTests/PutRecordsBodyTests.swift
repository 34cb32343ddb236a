import Foundation
import ShardLog
import ShardLogTestSupport
import ShardLogWire
import Testing

@testable import ShardLogServer

/// The `PutRecords` request path: the plain-form reader (``PutRecordsBody``) against the general path, through the
/// real server; records up to the stream's `MaxRecordSizeInKiB`; per-record errors still in AWS's words.
@Suite(.timeLimit(.minutes(2))) struct PutRecordsBodyTests {
    private static func base64(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }

    @Test func plainBodiesAreReadIntoABuffer() throws {
        let body = Array(
            """
            { "StreamName" : "s", "Records" : [
              {"Data":"aGVsbG8=","PartitionKey":"k1"},
              {"PartitionKey":"k2","ExplicitHashKey":"340282366920938463463374607431768211455","Data":""},
              {"Data":"/+8=","PartitionKey":"\(String(repeating: "z", count: 256))"} ] }
            """.utf8)
        let scanned = try #require(PutRecordsBody.scan(body))
        #expect(scanned.members == ["StreamName": .string("s")])
        let records = scanned.records
        #expect(records.count == 3)
        #expect(records.partitionKey(0) == "k1" && Array(records.data(0)) == Array("hello".utf8))
        #expect(records.partitionKey(1) == "k2" && records.data(1).isEmpty)
        #expect(Array(records.data(2)) == [0xFF, 0xEF] && records.keyRange(2).count == 256)
        #expect(scanned.explicitHashKeys == [1: UInt128.max])
    }

    /// Everything outside the plain form is left to the general path, which gives AWS's exact error or reads it.
    @Test(arguments: [
        #"{"StreamName":"s","Records":[{"Data":"aGVsbG8=","PartitionKey":"k\u0031"}]}"#,  // an escape
        #"{"StreamName":"s","Records":[{"Data":"aGVs\/G8=","PartitionKey":"k"}]}"#,  // escaped base64
        #"{"StreamName":"s","Records":[{"Data":"aGVsbG8=","PartitionKey":"ké"}]}"#,  // non-ASCII key
        #"{"StreamName":"s","Records":[{"Data":"aGVsbG8=","PartitionKey":""}]}"#,  // empty key
        #"{"StreamName":"s","Records":[{"Data":"aGVsbG8","PartitionKey":"k"}]}"#,  // not base64
        #"{"StreamName":"s","Records":[{"Data":"aGVsbG8=","PartitionKey":"k","Extra":"x"}]}"#,  // unknown member
        #"{"StreamName":"s","Records":[{"Data":"aGVsbG8=","PartitionKey":"k","PartitionKey":"j"}]}"#,  // repeated
        #"{"StreamName":"s","Records":[{"Data":"aGVsbG8=","PartitionKey":"k","ExplicitHashKey":"01"}]}"#,
        #"{"StreamName":"s","Records":[{"Data":"aGVsbG8=","PartitionKey":"k","ExplicitHashKey":"340282366920938463463374607431768211456"}]}"#,
        #"{"StreamName":"s","Records":[{"Data":null,"PartitionKey":"k"}]}"#,
        #"{"StreamName":"s","Records":[]}"#,
        #"{"StreamName":"s","Records":[{"Data":"aGVsbG8=","PartitionKey":"k"}],"StreamName":"t"}"#,
        #"{"StreamName":"s","Records":[{"Data":"aGVsbG8=","PartitionKey":"k"}]} x"#,
        #"{"StreamName":"s","Records":[{"Data":"aGVsbG8=","PartitionKey":"k"}]"#,
        #"{"StreamName":"s","Records":[{"Data":"aGVsbG8=","PartitionKey":"k"},]}"#,
        #"{"StreamName":1,"Records":[{"Data":"aGVsbG8=","PartitionKey":"k"}]}"#,
    ])
    func otherFormsTakeTheGeneralPath(body: String) {
        #expect(PutRecordsBody.scan(Array(body.utf8)) == nil)
    }

    @Test func moreThan500RecordsTakeTheGeneralPath() {
        let entry = #"{"Data":"","PartitionKey":"k"}"#
        let body = { (n: Int) in
            #"{"StreamName":"s","Records":["# + Array(repeating: entry, count: n).joined(separator: ",") + "]}"
        }
        #expect(PutRecordsBody.scan(Array(body(500).utf8))?.records.count == 500)
        #expect(PutRecordsBody.scan(Array(body(501).utf8)) == nil)
    }

    /// The same records sent in the plain form and in a form only the general path reads (escaped `\/` in the
    /// base64) land identically, in order.
    @Test func bothPathsStoreTheSameRecords() async throws {
        try await withTemporaryDirectory { dir in
            let payloads: [[UInt8]] = [[0xFF, 0xFF, 0xFE], Array("hello".utf8), [], (0..<200).map { UInt8($0) }]
            try await withServer(directory: dir) { port in
                let create = #"{"StreamName":"s","ShardCount":3}"#
                #expect(try await kinesisRequest(port: port, operation: "CreateStream", body: create).status == 200)
                let plain = payloads.enumerated().map { i, p in
                    #"{"Data":"\#(Self.base64(p))","PartitionKey":"k\#(i)"}"#
                }
                let escaped = plain.map { $0.replacingOccurrences(of: "/", with: #"\/"#) }
                #expect(escaped != plain)
                for records in [plain, escaped] {
                    let reply = try await kinesisRequest(
                        port: port, operation: "PutRecords",
                        body: #"{"StreamName":"s","Records":["# + records.joined(separator: ",") + "]}")
                    #expect(reply.status == 200)
                    #expect(reply.body["FailedRecordCount"] == "0")
                    #expect(reply.body["Records"]?.components(separatedBy: "SequenceNumber").count == 5)
                }
            }
            let stream = try Store(directory: dir).stream(named: "s")
            var stored: [String: [[UInt8]]] = [:]
            for shard in try stream.describe().shards {
                var it = try stream.iterator(shardId: shard.shardId, position: .trimHorizon)
                for r in try it.next() { stored[r.partitionKey, default: []].append(r.data) }
            }
            for (i, p) in payloads.enumerated() { #expect(stored["k\(i)"] == [p, p]) }
        }
    }

    /// A record's size is checked against its stream's `MaxRecordSizeInKiB`: a 9 MiB record is refused (AWS's
    /// validation text, with the stream's limit) until `UpdateMaxRecordSize` raises it to 10240 KiB, then stored
    /// and read back whole by PutRecord and PutRecords.
    @Test func recordsUpToTheStreamsLimit() async throws {
        try await withTemporaryDirectory { dir in
            let big = (0..<(9 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 11) }
            let data = Self.base64(big)
            try await withServer(directory: dir) { port in
                let create = #"{"StreamName":"big","ShardCount":1}"#
                #expect(try await kinesisRequest(port: port, operation: "CreateStream", body: create).status == 200)
                let put = #"{"StreamName":"big","PartitionKey":"k","Data":"\#(data)"}"#
                let puts = #"{"StreamName":"big","Records":[{"PartitionKey":"k","Data":"\#(data)"}]}"#
                let refused = try await kinesisRequest(port: port, operation: "PutRecord", body: put)
                #expect(refused.body["__type"] == "ValidationException")
                #expect(
                    refused.body["message"]
                        == "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=9437184 cap=9437184]'"
                        + " at 'data' failed to satisfy constraint: Member must have length less than or equal to"
                        + " 1048576")
                let refusedBatch = try await kinesisRequest(port: port, operation: "PutRecords", body: puts)
                #expect(refusedBatch.body["message"]?.contains("at 'records.1.member.data'") == true)
                let arn = "arn:aws:kinesis:us-east-1:000000000000:stream/big"
                let raise = #"{"StreamARN":"\#(arn)","MaxRecordSizeInKiB":10240}"#
                #expect(
                    try await kinesisRequest(port: port, operation: "UpdateMaxRecordSize", body: raise).status == 200)
                #expect(try await kinesisRequest(port: port, operation: "PutRecord", body: put).status == 200)
                let batch = try await kinesisRequest(port: port, operation: "PutRecords", body: puts)
                #expect(batch.status == 200 && batch.body["FailedRecordCount"] == "0")
                // Read back through GetRecords (about 12 MiB of JSON per record).
                let it = try #require(
                    try await kinesisRequest(
                        port: port, operation: "GetShardIterator",
                        body:
                            #"{"StreamName":"big","ShardId":"shardId-000000000000","ShardIteratorType":"TRIM_HORIZON"}"#
                    ).body["ShardIterator"])
                let got = try await kinesisRequest(
                    port: port, operation: "GetRecords", body: #"{"ShardIterator":"\#(it)"}"#)
                #expect(got.status == 200)
                #expect(got.body["Records"]?.contains(data) == true)
            }
            let stream = try Store(directory: dir).stream(named: "big")
            var it = try stream.iterator(shardId: "shardId-000000000000", position: .trimHorizon)
            let records = try it.next(limit: 10, maxBytes: 64 << 20)
            #expect(records.map(\.data) == [big, big])
        }
    }
}
