import Foundation
import ShardLog
import ShardLogWire
import Synchronization

/// How long a shard iterator stays valid.
let iteratorValidityMilliseconds: Int64 = 300_000

/// The serial number of the last shard iterator issued (see ``KinesisServer/iteratorToken(scope:stream:shardIndex:offset:now:)``).
private let iteratorSerial = Atomic<UInt64>(0)

extension KinesisServer {
    // MARK: - Put

    /// The member path of entry `index` of a `PutRecords` request (`records.3.member.`), or `""` for `PutRecord`:
    /// built only for an error message.
    private static func entryPath(_ index: Int?) -> String { index.map { "records.\($0 + 1).member." } ?? "" }

    /// Appends one entry of a request read into a value tree (a `PutRecord`, or a `PutRecords` entry the plain
    /// reader left to the general path) to `records`, checking what the model does not.
    private static func appendEntry(_ p: Params, index: Int?, to body: inout PutRecordsBody) throws {
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
                "1 validation error detected: Value '\(key)' at '\(entryPath(index))partitionKey' failed to satisfy"
                    + " constraint: Member must have length \(bound)")
        }
        var explicit: UInt128?
        if let text = try p.string("ExplicitHashKey") { explicit = try HashKey.parse(text) }
        if let ordering = try p.string("SequenceNumberForOrdering") { _ = try SequenceNumber(parsing: ordering) }
        if let explicit { body.explicitHashKeys[body.records.count] = explicit }
        try body.records.append(partitionKey: key, data: data, explicitHashKey: explicit)
    }

    /// Refuses the first record larger than the stream takes (its `MaxRecordSizeInKiB`, 1 MiB unless raised by
    /// `UpdateMaxRecordSize`, up to 10 MiB): data alone over the limit in AWS's validation form, data plus key over
    /// it in the store's words.
    private static func checkSizes(_ records: RecordBuffer, _ stream: DataStream, single: Bool) throws {
        var limit = stream.maxRecordByteCount
        for i in 0..<records.count {
            let dataCount = records.dataRange(i).count
            let total = dataCount + records.keyRange(i).count
            guard total > limit else { continue }
            // Another process may have raised the limit since this one read the stream's metadata.
            if limit == stream.maxRecordByteCount, let reloaded = try? stream.describe().maxRecordSizeInKiB {
                limit = reloaded << 10
                if total <= limit { continue }
            }
            if dataCount > limit {
                throw KinesisError(
                    .validation,
                    "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=\(dataCount) cap=\(dataCount)]'"
                        + " at '\(entryPath(single ? nil : i))data' failed to satisfy constraint: Member must have"
                        + " length less than or equal to \(limit)")
            }
            throw DataStream.tooLarge(total, limit: limit, record: single ? nil : i)
        }
    }

    /// Whether record `i` has write capacity left on its shard (always true without `--enforce-shard-limits`).
    private func admit(_ body: PutRecordsBody, _ i: Int, _ stream: DataStream) -> Bool {
        guard options.enforceShardLimits else { return true }
        let key = ShardKey(stream: stream, shard: Self.shardId(body, i, stream))
        let byteCount = body.records.dataRange(i).count + body.records.keyRange(i).count
        if limiter.admitWrite(key, byteCount: byteCount) { return true }
        metrics.recordThrottle(key, write: true)
        return false
    }

    private static func shardId(_ body: PutRecordsBody, _ i: Int, _ stream: DataStream) -> String {
        stream.shardId(forPartitionKey: body.records.partitionKey(i), explicitHashKey: body.explicitHashKeys[i])
    }

    private static func throttled(_ stream: DataStream, _ body: PutRecordsBody, _ i: Int) -> KinesisError {
        KinesisError(
            .provisionedThroughputExceeded,
            "Rate exceeded for shard \(shardId(body, i, stream)) in stream \(stream.name) under account"
                + " \(stream.arn.account).")
    }

    func putRecord(_ p: Params) throws -> JSON {
        let stream = try openStream(p)
        var body = PutRecordsBody(records: RecordBuffer(records: 1))
        try Self.appendEntry(p, index: nil, to: &body)
        try Self.checkSizes(body.records, stream, single: true)
        guard admit(body, 0, stream) else { throw Self.throttled(stream, body, 0) }
        var results: [SequenceNumber] = []
        try stream.putRecords(body.records, into: &results)
        guard let result = results.first else {
            throw KinesisError(.internalFailure, "the store acknowledged no record for PutRecord on \(stream.name)")
        }
        return .fields([
            "ShardId": .string(ShardID.name(result.shardIndex)),
            "SequenceNumber": .string(result.description),
            "EncryptionType": .string(stream.cachedKMSKeyId == nil ? "NONE" : "KMS"),
        ])
    }

    /// `PutRecords`: the records as ``PutRecordsBody`` read them from the request bytes (or, for a body in another
    /// form or CBOR, from the value tree) go to the store in one ``ShardLog/RecordBuffer``, and the answer is
    /// written straight into the response bytes.
    func putRecords(_ p: Params) throws -> JSON {
        let stream = try openStream(p)
        var body: PutRecordsBody
        if let scanned = p.putRecords {
            body = scanned
        } else {
            guard let items = try p.array("Records") else { throw Params.missing("records") }
            guard (1...500).contains(items.count) else {
                throw KinesisError(
                    .validation,
                    "1 validation error detected: Value at 'records' failed to satisfy constraint: Member must have"
                        + " length between 1 and 500 (it has \(items.count))")
            }
            body = PutRecordsBody(records: RecordBuffer(records: items.count))
            for (i, item) in items.enumerated() {
                guard case .object(let members) = item else {
                    throw Params.wrongType("Records", item, expected: "list of structures")
                }
                try Self.appendEntry(Params(members), index: i, to: &body)
            }
        }
        try Self.checkSizes(body.records, stream, single: false)
        let count = body.records.count
        var failures: [KinesisError?]?
        if options.faults != nil || options.enforceShardLimits {
            let injected = options.faults?.entryFaults(count: count, stream: stream.name, account: stream.arn.account)
            var refused: [KinesisError?] = []
            refused.reserveCapacity(count)
            for i in 0..<count {
                if let fault = injected?[i] {
                    refused.append(fault)
                } else {
                    refused.append(admit(body, i, stream) ? nil : Self.throttled(stream, body, i))
                }
            }
            if refused.contains(where: { $0 != nil }) { failures = refused }
        }
        var accepted = body.records
        if let failures {
            accepted = RecordBuffer(records: count)
            for i in 0..<count where failures[i] == nil {
                try accepted.append(
                    key: body.records.keyBytes, body.records.keyRange(i), data: body.records.dataBytes,
                    body.records.dataRange(i), explicitHashKey: body.explicitHashKeys[i])
            }
        }
        var results: [SequenceNumber] = []
        if !accepted.isEmpty { try stream.putRecords(accepted, into: &results) }
        guard results.count == accepted.count else {
            throw KinesisError(
                .internalFailure,
                "the store acknowledged \(results.count) of \(accepted.count) records for PutRecords on \(stream.name)")
        }
        // (Incoming records and bytes are counted from the store itself: see StoreMetricsCollector.)
        // The whole answer is written into one buffer, which is sent as it is.
        let format = WireFormat.current
        return .encoded(
            format,
            RecordsEncoding.putRecordsResponse(
                format, results, failures: failures, encryptionType: stream.cachedKMSKeyId == nil ? "NONE" : "KMS"))
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

    /// A time as AWS's Java services write one in messages (`java.util.Date.toString()` in UTC):
    /// `Thu Jan 22 01:22:02 UTC 2015`.
    static func javaDateText(_ milliseconds: Int64) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE MMM dd HH:mm:ss 'UTC' yyyy"
        return formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }

    /// Opens an iterator, normalizing the shard id and naming the stream in not-found errors.
    static func iterator(_ stream: DataStream, shardId: String, position: IteratorPosition) throws -> ShardIterator {
        guard let index = awsShardID(shardId).flatMap({ try? ShardID.index($0) }) else {
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

    /// A shard iterator: the stream, shard and offset, for requests in `scope` (its account and region) only.
    static func iteratorToken(scope: RequestScope, stream: String, shardIndex: Int, offset: UInt64, now: Int64)
        -> String
    {
        // A serial number makes every iterator distinct, as AWS's are: clients (and suites) expect a new
        // NextShardIterator on each call even when nothing moved.
        let serial = iteratorSerial.wrappingAdd(1, ordering: .relaxed).newValue
        return OpaqueToken.encode(
            kind: "it", scope: scope, fields: [stream, String(shardIndex), String(offset), String(serial)],
            issuedMilliseconds: now)
    }

    func getShardIterator(_ p: Params) throws -> JSON {
        // As AWS: the shard id is read before the stream is looked up, and a stream that does not exist is reported
        // as its shard not existing.
        let shardId = try p.requiredString("ShardId")
        let account = p.scope.account
        guard let canonical = Self.awsShardID(shardId) else {
            throw KinesisError(
                .resourceNotFound,
                "Could not find shard \(shardId) in stream \(try Self.streamName(p)) under account \(account).")
        }
        let stream: DataStream
        do {
            stream = try openStream(p)
        } catch let failure where KinesisError(failure).code == .resourceNotFound {
            throw KinesisError(
                .resourceNotFound,
                "Shard \(canonical) in stream \(try Self.streamName(p)) under account \(account) does not exist")
        }
        let type = try p.requiredString("ShardIteratorType")
        let position = try Self.position(
            type: type, sequenceNumber: try p.string("StartingSequenceNumber"), timestamp: try p.timestamp("Timestamp"))
        let it = try Self.iterator(stream, shardId: shardId, position: position)
        return .fields([
            "ShardIterator": .string(
                Self.iteratorToken(
                    scope: p.scope, stream: stream.name, shardIndex: it.shardIndex, offset: it.offset,
                    now: nowMilliseconds()))
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
        var token = Substring(try p.requiredString("ShardIterator"))
        // AWS takes an iterator with the double quotes it was printed with (`aws kinesis get-shard-iterator
        // --output json` pasted into a shell).
        if token.count >= 2, token.first == "\"", token.last == "\"" { token = token.dropFirst().dropLast() }
        let limit = try p.int("Limit", in: 1...10_000) ?? 10_000
        // An iterator issued in another account or region is refused as a made-up one (AWS: InvalidArgumentException).
        guard let (fields, issued) = OpaqueToken.decode(kind: "it", scope: p.scope, fieldCount: 4, String(token)),
            let index = Int(fields[1]), (0...999_999_999_999).contains(index), let offset = UInt64(fields[2])
        else {
            throw KinesisError(.invalidArgument, "Invalid ShardIterator.")
        }
        let now = nowMilliseconds()
        guard now - issued <= iteratorValidityMilliseconds else {
            throw KinesisError(
                .expiredIterator,
                "Iterator expired. The iterator was created at time \(Self.javaDateText(issued)) while right now it"
                    + " is \(Self.javaDateText(now)) which is further in the future than the tolerated delay of"
                    + " 300000 milliseconds.")
        }
        let shardId = ShardID.name(index)
        let stream: DataStream
        do {
            stream = try regional(p).store.stream(named: fields[0])
        } catch let error as ShardLogError where error.code == .resourceNotFound {
            // The stream was deleted since the iterator was issued: AWS names the shard.
            throw KinesisError(
                .resourceNotFound,
                "Shard \(shardId) in stream \(fields[0]) under account \(p.scope.account) does not exist")
        }
        let key = ShardKey(stream: stream, shard: shardId)
        if options.enforceShardLimits && !limiter.admitRead(key) {
            metrics.recordThrottle(key, write: false)
            throw KinesisError(
                .provisionedThroughputExceeded,
                "Rate exceeded for shard \(shardId) in stream \(stream.name) under account \(stream.arn.account).")
        }
        var it = try Self.iterator(
            stream, shardId: shardId,
            position: .atSequenceNumber(SequenceNumber(shardIndex: index, offset: offset).description))
        try it.skipTrimmed()
        // The records stay in their stored batches until they are written into the response.
        let records = try it.nextStored(limit: limit, maxBytes: 10 << 20)
        let atEnd = try it.isAtShardEnd()
        let behind = try it.millisBehindLatest()
        if !records.isEmpty { metrics.recordOutgoing(key, records: records.count, bytes: records.byteCount) }
        let rest = JSON.fields([
            "NextShardIterator": atEnd
                ? nil
                : .string(
                    Self.iteratorToken(
                        scope: p.scope, stream: stream.name, shardIndex: index, offset: it.offset, now: now)),
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
