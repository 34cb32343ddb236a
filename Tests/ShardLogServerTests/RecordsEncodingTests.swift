import Foundation
import ShardLog
import ShardLogTestSupport
import ShardLogWire
import Testing

@testable import ShardLogServer

/// The value tree a record used to be written from: the reference the direct writer must match byte for byte.
private func reference(_ r: Record, encrypted: Bool) -> JSON {
    .fields([
        "SequenceNumber": .string(r.sequenceNumber),
        "ApproximateArrivalTimestamp": .epochMilliseconds(r.arrivalMilliseconds),
        "Data": .blob(r.data),
        "PartitionKey": .string(r.partitionKey),
        "EncryptionType": encrypted ? .string("KMS") : nil,
    ])
}

private func records(seed: UInt64) -> [Record] {
    var rng = SplitMix64(seed: seed)
    let offsets: [UInt64] = [0, 1, 9, 10, 999_999, UInt64(UInt32.max), UInt64.max - 1, UInt64.max]
    return offsets.enumerated().map { i, offset in
        Record(
            sequence: SequenceNumber(shardIndex: [0, 7, 123_456, 999_999_999_999][i % 4], offset: offset),
            partitionKey: ["k", "ключ \"quoted\"\n", String(repeating: "p", count: 256)][i % 3],
            data: (0..<Int(rng.next() % 200)).map { _ in UInt8(truncatingIfNeeded: rng.next()) },
            arrivalMilliseconds: [0, 5, 1_721_900_000_123, 253_402_300_799_999][i % 4],
            sourceSequenceNumber: i == 3 ? "4960000000000000000000000000000000000000000000000000042" : nil)
    }
}

@Suite struct RecordsEncodingTests {
    @Test(arguments: [false, true])
    func jsonMatchesTheValueTree(encrypted: Bool) {
        let rs = records(seed: 3)
        let rest: [JSON.Field] = [
            JSON.Field(key: "NextShardIterator", value: .string("it")),
            JSON.Field(key: "MillisBehindLatest", value: .integer(0)),
        ]
        let direct = RecordsEncoding.object(.json, records: rs, encrypted: encrypted, then: rest)
        let tree = JSON.fields(
            [JSON.Field(key: "Records", value: .array(rs.map { reference($0, encrypted: encrypted) }))] + rest)
        #expect(String(decoding: direct, as: UTF8.self) == String(decoding: tree.bytes, as: UTF8.self))
        for r in rs {
            #expect(
                RecordsEncoding.record(r, encrypted: encrypted, format: .json)
                    == reference(r, encrypted: encrypted).bytes)
        }
    }

    @Test(arguments: [false, true])
    func cborMatchesTheValueTree(encrypted: Bool) throws {
        let rs = records(seed: 4)
        let rest = [JSON.Field(key: "MillisBehindLatest", value: .integer(12))]
        let direct = RecordsEncoding.object(.cbor, records: rs, encrypted: encrypted, then: rest)
        let tree = JSON.fields(
            [JSON.Field(key: "Records", value: .array(rs.map { reference($0, encrypted: encrypted) }))] + rest)
        #expect(direct == CBOR.encode(tree))
        for r in rs {
            #expect(
                RecordsEncoding.record(r, encrypted: encrypted, format: .cbor)
                    == CBOR.encode(reference(r, encrypted: encrypted)))
        }
    }

    @Test(arguments: [WireFormat.json, .cbor])
    func putRecordsResponseMatchesTheValueTree(format: WireFormat) {
        let throttled = KinesisError(.provisionedThroughputExceeded, "Rate exceeded for shard shardId-000000000001")
        let sequences = [
            SequenceNumber(shardIndex: 0, offset: 0), SequenceNumber(shardIndex: 1, offset: 41),
            SequenceNumber(shardIndex: 1_234_567_890_123, offset: UInt64.max),
        ]
        func stored(_ s: SequenceNumber) -> JSON {
            .fields(["SequenceNumber": .string(s.description), "ShardId": .string(ShardID.name(s.shardIndex))])
        }
        let failed = JSON.fields([
            "ErrorCode": .string(throttled.code.name), "ErrorMessage": .string(throttled.message),
        ])
        let failures: [KinesisError?] = [nil, throttled, nil, nil]
        // The whole answer, as the value tree of its members would be written.
        func answer(_ records: [JSON], failed: Int = 0, encryption: String = "NONE") -> [UInt8] {
            format.encode(
                .fields([
                    "FailedRecordCount": .integer(failed), "Records": .array(records),
                    "EncryptionType": .string(encryption),
                ]))
        }
        let tree = [stored(sequences[0]), failed, stored(sequences[1]), stored(sequences[2])]
        #expect(
            RecordsEncoding.putRecordsResponse(format, sequences, failures: failures, encryptionType: "KMS")
                == answer(tree, failed: 1, encryption: "KMS"))
        // Every entry stored (no failures array), shards changing and repeating.
        let all = sequences + [SequenceNumber(shardIndex: 1, offset: 42), SequenceNumber(shardIndex: 0, offset: 1)]
        #expect(
            RecordsEncoding.putRecordsResponse(format, all, failures: nil, encryptionType: "NONE")
                == answer(all.map(stored)))
        // Runs of consecutive offsets (counted up in place: 9 → 10, 999 → 1000, up to 2^64 − 1 → 2^64), a failure
        // in the middle of a run.
        let runs =
            (0..<1_200).map { SequenceNumber(shardIndex: 3, offset: UInt64($0)) }
            + (0..<3).map { SequenceNumber(shardIndex: 3, offset: UInt64.max - 2 + UInt64($0)) }
            + [SequenceNumber(shardIndex: 4, offset: 0), SequenceNumber(shardIndex: 4, offset: 1)]
        #expect(
            RecordsEncoding.putRecordsResponse(format, runs, failures: nil, encryptionType: "NONE")
                == answer(runs.map(stored)))
        var gapped: [KinesisError?] = Array(repeating: nil, count: runs.count + 1)
        gapped[500] = throttled
        var expected = runs.map(stored)
        expected.insert(failed, at: 500)
        #expect(
            RecordsEncoding.putRecordsResponse(format, runs, failures: gapped, encryptionType: "NONE")
                == answer(expected, failed: 1))
    }

    @Test func encodedValuesAreWrittenAsIs() throws {
        let inner = RecordsEncoding.record(records(seed: 5)[1], encrypted: false, format: .json)
        let outer = JSON.fields(["Records": .array([.encoded(.json, inner)])])
        #expect(outer.bytes == Array(#"{"Records":["#.utf8) + inner + Array("]}".utf8))
        #expect(WireFormat.json.encode(.encoded(.json, inner)) == inner)
        // Written in the other format, an encoded value is converted rather than copied.
        let record = records(seed: 5)[1]
        let cbor = RecordsEncoding.record(record, encrypted: false, format: .cbor)
        #expect(try JSON(parsing: JSON.encoded(.cbor, cbor).bytes) == (try JSON(parsing: inner)))
        #expect(try CBOR.decode(CBOR.encode(.encoded(.json, inner))) == (try JSON(parsing: inner)))
    }

    @Test(arguments: [Int64(0), 5, 1_000, 1_721_900_000_123, -1_500, 253_402_300_799_999])
    func epochSecondsMatchTheTextFormatter(ms: Int64) {
        var out: [UInt8] = []
        JSONTimestamp.appendEpochSeconds(milliseconds: ms, to: &out)
        #expect(String(decoding: out, as: UTF8.self) == JSON.epochSecondsText(ms))
    }

    /// `GetRecords` writes records straight from their stored batches (``StoredRecords``): byte for byte what the
    /// value tree of the same records as ``Record`` values gives, in both formats, across batches and segments,
    /// with keys that need escaping and non-ASCII keys.
    @Test(arguments: [WireFormat.json, .cbor], [false, true])
    func storedRecordsMatchTheValueTree(format: WireFormat, encrypted: Bool) async throws {
        try await withTemporaryDirectory { dir in
            var options = StoreOptions()
            options.segmentByteCount = 16 << 10  // several segments
            let store = try Store(directory: dir, options: options)
            try store.createStream(named: "s", shardCount: 1)
            let stream = try store.stream(named: "s")
            var rng = SplitMix64(seed: 11)
            for batch in 0..<40 {
                var buffer = RecordBuffer()
                for i in 0..<(1 + batch % 7) {
                    let key = ["k\(i)", "ключ \"quoted\"\n\u{1}", String(repeating: "p", count: 256), "a\\b"][i % 4]
                    let data = (0..<Int(rng.next() % 300)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                    try buffer.append(partitionKey: key, data: data)
                }
                var results: [SequenceNumber] = []
                try stream.putRecords(buffer, into: &results)
            }
            let rest = [JSON.Field(key: "MillisBehindLatest", value: .integer(0))]
            for (limit, maxBytes) in [(10_000, 10 << 20), (13, 10 << 20), (10_000, 2_000), (1, 1)] {
                var stored = try stream.iterator(shardId: "shardId-000000000000", position: .trimHorizon)
                var values = stored
                var reads = 0
                while true {
                    let batch = try stored.nextStored(limit: limit, maxBytes: maxBytes)
                    let rs = try values.next(limit: limit, maxBytes: maxBytes)
                    #expect(batch.count == rs.count && stored.offset == values.offset)
                    #expect(batch.byteCount == rs.reduce(0) { $0 + $1.data.count + $1.partitionKey.utf8.count })
                    let tree = JSON.fields(
                        [JSON.Field(key: "Records", value: .array(rs.map { reference($0, encrypted: encrypted) }))]
                            + rest)
                    #expect(
                        RecordsEncoding.object(format, records: batch, encrypted: encrypted, then: rest)
                            == format.encode(tree))
                    if rs.isEmpty { break }
                    reads += 1
                }
                #expect(reads > 0)
            }
        }
    }
}
