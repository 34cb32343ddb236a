import Foundation

/// One stored record, as a reader sees it.
public struct Record: Sendable, Equatable {
    /// Its position: shard index and offset.
    public var sequence: SequenceNumber
    /// The partition key it was put with.
    public var partitionKey: String
    /// The data blob.
    public var data: [UInt8]
    /// Arrival time in milliseconds since the epoch (monotonic within a shard).
    public var arrivalMilliseconds: Int64
    /// The sequence number given by another Kinesis endpoint, for a record read from it; `nil` for a record of
    /// this data directory. When set, ``sequence`` is only a reader-local position (its offset counts the records
    /// read from the shard) and ``sequenceNumber`` reports this value.
    public var sourceSequenceNumber: String?

    /// Creates a record.
    /// - Parameters:
    ///   - sequence: its position.
    ///   - partitionKey: the partition key.
    ///   - data: the data blob.
    ///   - arrivalMilliseconds: arrival time in milliseconds since the epoch.
    ///   - sourceSequenceNumber: the sequence number given by a remote endpoint, if read from one.
    public init(
        sequence: SequenceNumber, partitionKey: String, data: [UInt8], arrivalMilliseconds: Int64,
        sourceSequenceNumber: String? = nil
    ) {
        self.sequence = sequence
        self.partitionKey = partitionKey
        self.data = data
        self.arrivalMilliseconds = arrivalMilliseconds
        self.sourceSequenceNumber = sourceSequenceNumber
    }

    /// The sequence number: 56 digits for a local record, the remote one for a record read from an endpoint.
    public var sequenceNumber: String { sourceSequenceNumber ?? sequence.description }
    /// The shard id, `shardId-000000000000`.
    public var shardId: String { ShardID.name(sequence.shardIndex) }
    /// Arrival time, millisecond precision.
    public var approximateArrivalTimestamp: Date {
        Date(timeIntervalSince1970: Double(arrivalMilliseconds) / 1000)
    }
}

/// One record for ``DataStream/putRecords(_:)``.
public struct PutRecordsEntry: Sendable, Equatable {
    /// The partition key (1–256 characters); its MD5 picks the shard.
    public var partitionKey: String
    /// The data blob; key plus data at most 1 MiB.
    public var data: [UInt8]
    /// Overrides the MD5 of the key when set.
    public var explicitHashKey: UInt128?

    /// Creates an entry.
    public init(partitionKey: String, data: [UInt8], explicitHashKey: UInt128? = nil) {
        self.partitionKey = partitionKey
        self.data = data
        self.explicitHashKey = explicitHashKey
    }
}

/// Where a put record was stored.
public struct PutResult: Sendable, Equatable {
    /// Its sequence number (shard index and offset).
    public var sequence: SequenceNumber
    /// The shard id.
    public var shardId: String { ShardID.name(sequence.shardIndex) }
    /// The 56-digit sequence number.
    public var sequenceNumber: String { sequence.description }
}

/// Where a shard iterator starts, as Kinesis' `ShardIteratorType`.
public enum IteratorPosition: Sendable, Equatable {
    /// The oldest record still stored.
    case trimHorizon
    /// Just after the newest record.
    case latest
    /// At the record with this sequence number.
    case atSequenceNumber(String)
    /// Just after the record with this sequence number.
    case afterSequenceNumber(String)
    /// At the first record that arrived at or after this time.
    case atTimestamp(Date)
}

/// Records read from one shard in place: the decoded batches they came from and where each record lies in them
/// (``ShardIterator/nextStored(limit:maxBytes:)``). A reader that writes records elsewhere — a `GetRecords`
/// response — copies each byte once and allocates per batch, not per record as ``Record`` values do.
/// Thread-safety: a value type.
public struct StoredRecords: Sendable {
    /// Where one record lies in its batch's ``Batch/payload``.
    public struct Location: Sendable, Equatable {
        /// Its offset in the shard.
        public var offset: UInt64
        /// Arrival time in milliseconds since the epoch.
        public var timestamp: Int64
        /// The partition key's UTF-8 bytes.
        public var key: Range<Int>
        /// The data blob's bytes.
        public var data: Range<Int>
    }

    /// The records read from one stored batch (all of it or a run of it), in offset order.
    public struct Batch: Sendable {
        /// The batch's decoded payload (the stored batch itself when it is not compressed).
        public let payload: [UInt8]
        /// The records read, in order.
        public internal(set) var records: [Location]
    }

    /// The index of the shard read.
    public let shardIndex: Int
    /// The batches, in offset order.
    public private(set) var batches: [Batch] = []
    /// The number of records.
    public private(set) var count = 0
    /// The key and data bytes of all records.
    public private(set) var byteCount = 0

    /// Creates an empty set of records of shard `shardIndex`.
    public init(shardIndex: Int) { self.shardIndex = shardIndex }

    /// Whether there are no records.
    public var isEmpty: Bool { count == 0 }

    /// Adds the records of `batch`, `byteCount` bytes of keys and data in all.
    mutating func append(_ batch: Batch, byteCount: Int) {
        guard !batch.records.isEmpty else { return }
        batches.append(batch)
        count += batch.records.count
        self.byteCount += byteCount
    }

    /// Calls `body` with every record in order: its sequence number, arrival time (ms), partition key (UTF-8) and
    /// data, the last two as views of the stored bytes (valid during the call only).
    public func visit<E: Error>(
        _ body: (SequenceNumber, Int64, Span<UInt8>, Span<UInt8>) throws(E) -> Void
    ) throws(E) {
        for batch in batches {
            let payload = batch.payload.span
            for r in batch.records {
                try body(
                    SequenceNumber(shardIndex: shardIndex, offset: r.offset), r.timestamp, payload.extracting(r.key),
                    payload.extracting(r.data))
            }
        }
    }

    /// The records as ``Record`` values (a key `String` and a data array each).
    public var records: [Record] {
        var out: [Record] = []
        out.reserveCapacity(count)
        for batch in batches {
            for e in batch.entries {
                out.append(
                    Record(
                        sequence: SequenceNumber(shardIndex: shardIndex, offset: e.offset), partitionKey: e.key,
                        data: e.data, arrivalMilliseconds: e.timestamp))
            }
        }
        return out
    }
}

extension StoredRecords.Batch {
    /// The records with a key `String` and a data array each.
    var entries: [BatchDecoder.Entry] {
        records.map {
            BatchDecoder.Entry(
                offset: $0.offset, timestamp: $0.timestamp,
                key: String(decoding: payload[$0.key], as: UTF8.self), data: Array(payload[$0.data]))
        }
    }
}
