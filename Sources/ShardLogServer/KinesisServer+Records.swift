import Foundation
import ShardLog

/// How long a shard iterator stays valid.
let iteratorValidityMilliseconds: Int64 = 300_000

extension KinesisServer {
    // MARK: - Put

    /// One validated record of a put request.
    private struct Entry {
        var entry: PutRecordsEntry
        var byteCount: Int { entry.data.count + entry.partitionKey.utf8.count }
    }

    private static func entry(_ p: Params, index: Int?) throws -> Entry {
        // The member path is only needed for an error message: not built for every record.
        func at() -> String { index.map { "records.\($0 + 1).member." } ?? "" }
        let data = try p.blob("Data")
        let key = try p.requiredString("PartitionKey")
        let keyLength = key.utf16.count
        guard Limits.partitionKeyLength.contains(keyLength) else {
            let bound =
                keyLength < Limits.partitionKeyLength.lowerBound
                ? "greater than or equal to \(Limits.partitionKeyLength.lowerBound)"
                : "less than or equal to \(Limits.partitionKeyLength.upperBound)"
            throw KinesisError(
                .validation,
                "1 validation error detected: Value '\(key)' at '\(at())partitionKey' failed to satisfy constraint:"
                    + " Member must have length \(bound)")
        }
        // The model allows 10 MiB (UpdateMaxRecordSize); a stream takes 1 MiB, refused in AWS's pre-2025 words.
        guard data.count <= Limits.recordByteCount else {
            throw KinesisError(
                .validation,
                "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=\(data.count) cap=\(data.count)]'"
                    + " at '\(at())data' failed to satisfy constraint: Member must have length less than or equal to"
                    + " \(Limits.recordByteCount)")
        }
        try DataStream.validate(partitionKey: key, dataByteCount: data.count)
        var explicit: UInt128?
        if let text = try p.string("ExplicitHashKey") { explicit = try HashKey.parse(text) }
        if let ordering = try p.string("SequenceNumberForOrdering") { _ = try SequenceNumber(parsing: ordering) }
        return Entry(entry: PutRecordsEntry(partitionKey: key, data: data, explicitHashKey: explicit))
    }

    /// Whether the shard the entry routes to has write capacity left (always true without `--enforce-shard-limits`).
    private func admit(_ e: Entry, _ stream: DataStream) -> Bool {
        guard options.enforceShardLimits else { return true }
        let shard = stream.shardId(forPartitionKey: e.entry.partitionKey, explicitHashKey: e.entry.explicitHashKey)
        let key = ShardKey(stream: stream.name, shard: shard)
        if limiter.admitWrite(key, byteCount: e.byteCount) { return true }
        metrics.recordThrottle(key, write: true)
        return false
    }

    private static func throttled(_ stream: DataStream, _ e: Entry) -> KinesisError {
        let shard = stream.shardId(forPartitionKey: e.entry.partitionKey, explicitHashKey: e.entry.explicitHashKey)
        return KinesisError(
            .provisionedThroughputExceeded,
            "Rate exceeded for shard \(shard) in stream \(stream.name) under account \(stream.arn.account).")
    }

    func putRecord(_ p: Params) throws -> JSON {
        let stream = try openStream(p)
        let e = try Self.entry(p, index: nil)
        guard admit(e, stream) else { throw Self.throttled(stream, e) }
        guard let result = try stream.putRecords([e.entry]).first else {
            throw KinesisError(.internalFailure, "the store acknowledged no record for PutRecord on \(stream.name)")
        }
        metrics.recordIncoming(
            ShardKey(stream: stream.name, shard: result.shardId), records: 1, bytes: e.byteCount)
        return .fields([
            "ShardId": .string(result.shardId),
            "SequenceNumber": .string(result.sequenceNumber),
            "EncryptionType": .string(stream.cachedKMSKeyId == nil ? "NONE" : "KMS"),
        ])
    }

    func putRecords(_ p: Params) throws -> JSON {
        let stream = try openStream(p)
        guard let items = try p.array("Records") else { throw Params.missing("records") }
        guard (1...500).contains(items.count) else {
            throw KinesisError(
                .validation,
                "1 validation error detected: Value at 'records' failed to satisfy constraint: Member must have length"
                    + " between 1 and 500 (it has \(items.count))")
        }
        var entries: [Entry] = []
        entries.reserveCapacity(items.count)
        for (i, item) in items.enumerated() {
            guard case .object(let members) = item else {
                throw Params.wrongType("Records", item, expected: "list of structures")
            }
            entries.append(try Self.entry(Params(members), index: i))
        }
        let injected = options.faults?.entryFaults(
            count: entries.count, stream: stream.name, account: stream.arn.account)
        let admitted = entries.indices.map { injected?[$0] == nil && admit(entries[$0], stream) }
        let accepted = entries.indices.filter { admitted[$0] }
        let results = accepted.isEmpty ? [] : try stream.putRecords(accepted.map { entries[$0].entry })
        guard results.count == accepted.count else {
            throw KinesisError(
                .internalFailure,
                "the store acknowledged \(results.count) of \(accepted.count) records for PutRecords on \(stream.name)")
        }
        var out: [RecordsEncoding.PutOutcome] = []
        out.reserveCapacity(entries.count)
        var perShard: [Int: (records: Int, bytes: Int)] = [:]
        var k = 0
        for i in entries.indices {
            guard admitted[i] else {
                out.append(.failed(injected?[i] ?? Self.throttled(stream, entries[i])))
                continue
            }
            let sequence = results[k].sequence
            k += 1
            out.append(.stored(sequence))
            perShard[sequence.shardIndex, default: (0, 0)].records += 1
            perShard[sequence.shardIndex, default: (0, 0)].bytes += entries[i].byteCount
        }
        for (shard, n) in perShard {
            metrics.recordIncoming(
                ShardKey(stream: stream.name, shard: ShardID.name(shard)), records: n.records, bytes: n.bytes)
        }
        // The per-record answers go straight into the response bytes.
        let format = WireFormat.current
        return .fields([
            "FailedRecordCount": .integer(entries.count - accepted.count),
            "Records": .encoded(format, RecordsEncoding.putResults(format, out)),
            "EncryptionType": .string(stream.cachedKMSKeyId == nil ? "NONE" : "KMS"),
        ])
    }

    // MARK: - Iterators

    /// AWS's text for an iterator type given with, or without, the starting sequence number it needs or forbids.
    static func iteratorRule(_ type: String, hasSequenceNumber: Bool) -> KinesisError {
        KinesisError(
            .invalidArgument,
            "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or"
                + " (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified \(type) and"
                + (hasSequenceNumber ? " also a StartingSequenceNumber." : " no StartingSequenceNumber."))
    }

    /// The iterator position of a `ShardIteratorType` (or `StartingPosition.Type`), with AWS's rules: a sequence
    /// number only and always with `AT_`/`AFTER_SEQUENCE_NUMBER`, a timestamp (not in the future) with
    /// `AT_TIMESTAMP`.
    static func position(type: String, sequenceNumber: String?, timestamp: Date?, now: Date = Date())
        throws(KinesisError) -> IteratorPosition
    {
        switch type {
        case "TRIM_HORIZON", "LATEST", "AT_TIMESTAMP":
            if sequenceNumber != nil { throw iteratorRule(type, hasSequenceNumber: true) }
        default:
            break
        }
        switch type {
        case "TRIM_HORIZON": return .trimHorizon
        case "LATEST": return .latest
        case "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER":
            guard let sequenceNumber else { throw iteratorRule(type, hasSequenceNumber: false) }
            return type == "AT_SEQUENCE_NUMBER"
                ? .atSequenceNumber(sequenceNumber) : .afterSequenceNumber(sequenceNumber)
        case "AT_TIMESTAMP":
            guard let timestamp else {
                throw KinesisError(
                    .invalidArgument,
                    "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request has"
                        + " no timestamp parameter.")
            }
            let millis = Int64((timestamp.timeIntervalSince1970 * 1000).rounded(.down))
            let nowMillis = Int64((now.timeIntervalSince1970 * 1000).rounded(.down))
            guard millis <= nowMillis else {
                throw KinesisError(
                    .invalidArgument,
                    "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis."
                        + " timestampInMillis: \(millis), currentTimestampInMillis: \(nowMillis)")
            }
            return .atTimestamp(timestamp)
        default:
            throw KinesisError(
                .validation,
                "1 validation error detected: Value '\(type)' at 'shardIteratorType' failed to satisfy constraint:"
                    + " Member must satisfy enum value set: [AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER, TRIM_HORIZON,"
                    + " LATEST, AT_TIMESTAMP]")
        }
    }

    /// Opens an iterator, normalizing the shard id and naming the stream in not-found errors.
    static func iterator(_ stream: DataStream, shardId: String, position: IteratorPosition) throws -> ShardIterator {
        guard let index = try? ShardID.index(shardId) else {
            throw KinesisError(
                .resourceNotFound,
                "Could not find shard \(shardId) in stream \(stream.name) under account \(stream.arn.account).")
        }
        let notFound = KinesisError(
            .resourceNotFound,
            "Shard \(ShardID.name(index)) in stream \(stream.name) under account \(stream.arn.account) does not exist"
        )
        // (A `do`/`catch where` over this typed-throws call crashes the Swift 6.3.1 compiler; `Result` does not.)
        let opened = Result { () throws(ShardLogError) -> ShardIterator in
            try stream.iterator(shardId: ShardID.name(index), position: position)
        }
        switch opened {
        case .success(let iterator): return iterator
        case .failure(let error): throw error.code == .resourceNotFound ? notFound : error
        }
    }

    static func iteratorToken(stream: String, shardIndex: Int, offset: UInt64, now: Int64) -> String {
        OpaqueToken.encode(
            kind: "it", fields: [stream, String(shardIndex), String(offset)], issuedMilliseconds: now)
    }

    func getShardIterator(_ p: Params) throws -> JSON {
        let stream = try openStream(p)
        let shardId = try p.requiredString("ShardId")
        let type = try p.requiredString("ShardIteratorType")
        let position = try Self.position(
            type: type, sequenceNumber: try p.string("StartingSequenceNumber"), timestamp: try p.timestamp("Timestamp"))
        let it = try Self.iterator(stream, shardId: shardId, position: position)
        return .fields([
            "ShardIterator": .string(
                Self.iteratorToken(
                    stream: stream.name, shardIndex: it.shardIndex, offset: it.offset, now: nowMilliseconds()))
        ])
    }

    /// A record as `GetRecords` and `SubscribeToShard` return it, already encoded in the wire format of the request
    /// (``WireFormat/current``; see ``RecordsEncoding``).
    /// - Parameter encrypted: the stream is encrypted: the record carries `EncryptionType: KMS`, as AWS's do.
    static func recordJSON(_ r: Record, encrypted: Bool = false) -> JSON {
        let format = WireFormat.current
        return .encoded(format, RecordsEncoding.record(r, encrypted: encrypted, format: format))
    }

    func getRecords(_ p: Params) throws -> JSON {
        let token = try p.requiredString("ShardIterator")
        let limit = try p.int("Limit", in: 1...10_000) ?? 10_000
        guard let (fields, issued) = OpaqueToken.decode(kind: "it", fieldCount: 3, token),
            let index = Int(fields[1]), (0...999_999_999_999).contains(index), let offset = UInt64(fields[2])
        else {
            throw KinesisError(.invalidArgument, "Invalid ShardIterator: it was not issued by this service.")
        }
        let now = nowMilliseconds()
        guard now - issued <= iteratorValidityMilliseconds else {
            throw KinesisError(
                .expiredIterator,
                "Iterator expired. The iterator was created at time \(JSON.epochSecondsText(issued)) while right now it"
                    + " is \(JSON.epochSecondsText(now)) which is further in the future than the tolerated delay of"
                    + " 300000 milliseconds.")
        }
        let stream = try regional(p).store.stream(named: fields[0])
        let shardId = ShardID.name(index)
        let key = ShardKey(stream: stream.name, shard: shardId)
        if options.enforceShardLimits && !limiter.admitRead(key) {
            metrics.recordThrottle(key, write: false)
            throw KinesisError(
                .provisionedThroughputExceeded,
                "Rate exceeded for shard \(shardId) in stream \(stream.name) under account \(stream.arn.account)"
                    + " (5 GetRecords calls per second).")
        }
        var it = try Self.iterator(
            stream, shardId: shardId,
            position: .atSequenceNumber(SequenceNumber(shardIndex: index, offset: offset).description))
        try it.skipTrimmed()
        let records = try it.next(limit: limit, maxBytes: 10 << 20)
        let atEnd = try it.isAtShardEnd()
        let behind = try it.millisBehindLatest()
        var bytes = 0
        for r in records { bytes += r.data.count + r.partitionKey.utf8.count }
        if !records.isEmpty { metrics.recordOutgoing(key, records: records.count, bytes: bytes) }
        let rest = JSON.fields([
            "NextShardIterator": atEnd
                ? nil
                : .string(Self.iteratorToken(stream: stream.name, shardIndex: index, offset: it.offset, now: now)),
            "MillisBehindLatest": .integer(Int(behind)),
            "ChildShards": atEnd ? Self.childShardsJSON(of: shardId, in: try stream.describe()) : nil,
        ])
        guard case .fields(let members) = rest else { return rest }
        // The records go straight into the response bytes: no value per record.
        let format = WireFormat.current
        return .encoded(
            format,
            RecordsEncoding.object(format, records: records, encrypted: stream.cachedKMSKeyId != nil, then: members))
    }
}
