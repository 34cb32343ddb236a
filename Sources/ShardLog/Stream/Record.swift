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
