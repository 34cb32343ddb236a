import Foundation
import ShardLog
import ShardLogTestSupport
import ShardLogWire
import Testing

@testable import ShardLogServer

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

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
        Self.expectSample(scanned)
    }

    /// The reader's base64 decoder (C, ``ShardLog``'s `append(base64Decoding:)`) accepts and refuses exactly what
    /// ``ShardLogWire/Base64Text`` does, with the same bytes: every byte at every position of texts with and
    /// without padding, and random data of every length up to 70 bytes.
    @Test func readerDecodesBase64AsTheGeneralPath() {
        func expectSame(_ text: [UInt8]) {
            var fast: [UInt8] = [7]
            let accepted = fast.append(base64Decoding: text.span)
            var general: [UInt8] = []
            let generalAccepted = Base64Text.decode(text.span, appendingTo: &general)
            #expect(accepted == generalAccepted, "\(text)")
            #expect(fast == (accepted ? [7] + general : [7]), "\(text)")
        }
        for base in ["QUJDREVG", "QUJDREU=", "QUJDRA==", "QQ==", ""] {
            for position in 0..<max(1, base.utf8.count) {
                for byte in 0...255 {
                    var text = Array(base.utf8)
                    if !text.isEmpty { text[position] = UInt8(byte) }
                    expectSame(text)
                    expectSame(text + [UInt8(byte)])
                }
            }
        }
        var rng = SplitMix64(seed: 11)
        for n in 0..<70 {
            expectSame(Array(Self.base64((0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }).utf8))
        }
    }

    /// Stream `s` in `dir` holds payload `i` twice under key `k<i>` (sent once by each path), whatever the shard.
    private static func expectStoredTwice(_ payloads: [[UInt8]], in dir: String) throws {
        let stream = try Store(directory: dir).stream(named: "s")
        var stored: [String: [[UInt8]]] = [:]
        for shard in try stream.describe().shards {
            var it = try stream.iterator(shardId: shard.shardId, position: .trimHorizon)
            for r in try it.next() { stored[r.partitionKey, default: []].append(r.data) }
        }
        for (i, p) in payloads.enumerated() { #expect(stored["k\(i)"] == [p, p]) }
    }

    /// The three records both plain-form tests send: "hello" under k1, nothing under k2 with the largest explicit
    /// hash key, two bytes under a 256-character key.
    private static func expectSample(_ scanned: PutRecordsBody) {
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
            try Self.expectStoredTwice(payloads, in: dir)
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

    // MARK: - CBOR

    private static func text(_ s: String) -> [UInt8] { CBOR.encode(.string(s)) }
    private static func bytes(_ b: [UInt8]) -> [UInt8] { CBOR.encode(.blob(b)) }
    private static let maxHashKey = "340282366920938463463374607431768211455"

    /// The records of ``plainCBORBodiesAreReadIntoABuffer()``, as the Java SDK's Jackson generator writes them:
    /// indefinite-length maps and array (`0xBF`/`0x9F` … `0xFF`), data as byte strings.
    private static let javaStyleBody = cat([
        [0xBF], text("StreamName"), text("s"), text("Records"), [0x9F],
        [0xBF], text("Data"), bytes(Array("hello".utf8)), text("PartitionKey"), text("k1"), [0xFF],
        [0xBF], text("PartitionKey"), text("k2"), text("ExplicitHashKey"), text(maxHashKey), text("Data"), bytes([]),
        [0xFF],
        [0xBF], text("Data"), bytes([0xFF, 0xEF]), text("PartitionKey"), text(String(repeating: "z", count: 256)),
        [0xFF], [0xFF, 0xFF],
    ])

    /// The parts, one after the other.
    private static func cat(_ parts: [[UInt8]]) -> [UInt8] { Array(parts.joined()) }

    @Test func plainCBORBodiesAreReadIntoABuffer() throws {
        let definite = CBOR.encode(
            .fields([
                "StreamName": .string("s"),
                "Records": .array([
                    .fields(["Data": .blob(Array("hello".utf8)), "PartitionKey": .string("k1")]),
                    .fields([
                        "PartitionKey": .string("k2"), "ExplicitHashKey": .string(Self.maxHashKey), "Data": .blob([]),
                    ]),
                    .fields(["Data": .blob([0xFF, 0xEF]), "PartitionKey": .string(String(repeating: "z", count: 256))]),
                ]),
            ]))
        for body in [Self.javaStyleBody, definite] {
            Self.expectSample(try #require(PutRecordsBody.scanCBOR(body)))
            // The server's entry point takes the same path for a CBOR PutRecords body.
            let p = try Params(body: body, format: .cbor, operation: .putRecords)
            #expect(p.putRecords?.records.count == 3 && p.members == ["StreamName": .string("s")])
        }
    }

    /// Every CBOR body outside the plain form is left to the general path (``CBOR`` decoder and validator).
    @Test func otherCBORFormsTakeTheGeneralPath() {
        let t = Self.text
        let cat = Self.cat
        func body(_ record: [UInt8], count: Int = 1) -> [UInt8] {
            cat(
                [[0xA2], t("StreamName"), t("s"), t("Records"), [0x80 | UInt8(count)]]
                    + Array(repeating: record, count: count))
        }
        let data = Self.bytes([1, 2])
        let plain = cat([[0xA2], t("Data"), data, t("PartitionKey"), t("k")])
        let forms: [[UInt8]] = [
            cat([[0xA2], t("Data"), t("AQI="), t("PartitionKey"), t("k")]),  // data as base64 text
            cat([[0xA2], t("Data"), [0xC2], data, t("PartitionKey"), t("k")]),  // a tag
            cat([[0xA2], t("Data"), [0x5F, 0x42, 1, 2, 0xFF], t("PartitionKey"), t("k")]),  // a chunked byte string
            cat([[0xA2], t("Data"), [0xF6], t("PartitionKey"), t("k")]),  // null
            cat([[0xA2], t("Data"), data, t("PartitionKey"), t("ké")]),  // a non-ASCII key
            cat([[0xA2], t("Data"), data, t("PartitionKey"), t("")]),  // an empty key
            cat([[0xA2], t("Data"), data, t("PartitionKey"), t(String(repeating: "k", count: 257))]),
            cat([[0xA2], t("Data"), data, t("PartitionKey"), [0x41, 0x6B]]),  // a key as bytes
            cat([[0xA3], t("Data"), data, t("PartitionKey"), t("k"), t("Extra"), t("x")]),  // an unknown member
            cat([[0xA3], t("Data"), data, t("PartitionKey"), t("k"), t("PartitionKey"), t("j")]),  // repeated
            cat([[0xA3], t("Data"), data, t("PartitionKey"), t("k"), t("ExplicitHashKey"), t("01")]),
            cat([
                [0xA3], t("Data"), data, t("PartitionKey"), t("k"), t("ExplicitHashKey"),
                t("340282366920938463463374607431768211456"),
            ]),
            cat([[0xA1], t("Data"), data]),  // no key
        ].map { body($0) }
        let others: [[UInt8]] = [
            body(plain, count: 0),  // no records
            cat([[0xA2], t("StreamName"), [0x01], t("Records"), [0x81], plain]),  // a number as the name
            cat([[0xA2], t("StreamName"), [0x62, 0xC3, 0x28], t("Records"), [0x81], plain]),  // invalid UTF-8
            cat([[0xA3], t("StreamName"), t("s"), t("Records"), [0x81], plain, t("StreamName"), t("t")]),
            body(plain) + [0x00],  // bytes after the map
            Array(body(plain).dropLast()),  // truncated
            cat([[0xBF], t("StreamName"), t("s"), t("Records"), [0x9F], plain]),  // unterminated
            cat([[0xA1], t("StreamName"), t("s")]),  // no records at all
        ]
        for form in forms + others {
            #expect(PutRecordsBody.scanCBOR(form) == nil, "\(form)")
        }
        #expect(PutRecordsBody.scanCBOR(body(plain)) != nil)
    }

    @Test func moreThan500CBORRecordsTakeTheGeneralPath() {
        let entry = Self.cat([[0xA2], Self.text("Data"), Self.bytes([]), Self.text("PartitionKey"), Self.text("k")])
        let body = { (n: Int, definite: Bool) -> [UInt8] in
            Self.cat(
                [
                    [0xA2], Self.text("StreamName"), Self.text("s"), Self.text("Records"),
                    definite ? [0x99, UInt8(n >> 8), UInt8(n & 0xFF)] : [0x9F],
                ] + Array(repeating: entry, count: n) + [definite ? [] : [0xFF]])
        }
        for definite in [true, false] {
            #expect(PutRecordsBody.scanCBOR(body(500, definite))?.records.count == 500)
            #expect(PutRecordsBody.scanCBOR(body(501, definite)) == nil)
        }
    }

    /// The same records sent in CBOR in the plain form and in a form only the general path reads (chunked byte
    /// strings) land identically, in order; both answer in CBOR.
    @Test func bothCBORPathsStoreTheSameRecords() async throws {
        try await withTemporaryDirectory { dir in
            let payloads: [[UInt8]] = [[0xFF, 0xFF, 0xFE], Array("hello".utf8), [], (0..<200).map { UInt8($0) }]
            func body(chunked: Bool) -> [UInt8] {
                var parts: [[UInt8]] = [[0xBF], Self.text("StreamName"), Self.text("s"), Self.text("Records"), [0x9F]]
                for (i, p) in payloads.enumerated() {
                    let data = chunked ? Self.cat([[0x5F], Self.bytes(p), [0xFF]]) : Self.bytes(p)
                    parts += [[0xBF], Self.text("Data"), data, Self.text("PartitionKey"), Self.text("k\(i)"), [0xFF]]
                }
                return Self.cat(parts + [[0xFF, 0xFF]])
            }
            let bodies = [body(chunked: false), body(chunked: true)]
            #expect(PutRecordsBody.scanCBOR(bodies[0]) != nil)
            #expect(PutRecordsBody.scanCBOR(bodies[1]) == nil)
            try await withServer(directory: dir) { port in
                let create = #"{"StreamName":"s","ShardCount":3}"#
                #expect(try await kinesisRequest(port: port, operation: "CreateStream", body: create).status == 200)
                for cbor in bodies {
                    var request = URLRequest(url: try #require(URL(string: "http://127.0.0.1:\(port)/")))
                    request.httpMethod = "POST"
                    request.setValue("application/x-amz-cbor-1.1", forHTTPHeaderField: "Content-Type")
                    request.setValue("Kinesis_20131202.PutRecords", forHTTPHeaderField: "X-Amz-Target")
                    request.httpBody = Data(cbor)
                    let (data, response) = try await URLSession.shared.data(for: request)
                    #expect((response as? HTTPURLResponse)?.statusCode == 200)
                    guard case .object(let reply) = try CBOR.decode(Array(data)) else {
                        Issue.record("the answer is not a CBOR map")
                        continue
                    }
                    #expect(reply["FailedRecordCount"] == .number(0))
                    guard case .array(let entries)? = reply["Records"] else {
                        Issue.record("no Records in \(reply)")
                        continue
                    }
                    #expect(entries.count == payloads.count)
                }
            }
            try Self.expectStoredTwice(payloads, in: dir)
        }
    }
}
