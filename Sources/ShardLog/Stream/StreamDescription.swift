import Foundation

/// A stream as Kinesis' `DescribeStream` returns it; encodes with Kinesis' JSON field names.
public struct StreamDescription: Codable, Sendable, Equatable {
    /// The stream's name.
    public var streamName: String
    /// `arn:aws:kinesis:<region>:<account>:stream/<name>`.
    public var streamARN: String
    /// Always `ACTIVE` locally (creation is synchronous).
    public var streamStatus: String
    /// The capacity mode.
    public var streamModeDetails: StreamModeDetails
    /// Every shard, open and closed, in id order.
    public var shards: [ShardDescription]
    /// Whether more shards follow (pagination).
    public var hasMoreShards: Bool
    /// The retention period in hours.
    public var retentionPeriodHours: Int
    /// When the stream was created.
    public var streamCreationTimestamp: Date
    /// Enhanced monitoring settings (none locally).
    public var enhancedMonitoring: [EnhancedMetrics]
    /// `KMS` once `StartStreamEncryption` recorded a key, else `NONE` (recorded only: the local store does not
    /// encrypt).
    public var encryptionType: String
    /// The KMS key recorded by `StartStreamEncryption`, when encrypted.
    public var keyId: String?
    /// `MaxRecordSizeInKiB` (1024 unless changed by `UpdateMaxRecordSize`); DescribeStreamSummary's, so not encoded
    /// with this DescribeStream shape.
    public var maxRecordSizeInKiB: Int = Limits.maxRecordSizeInKiB.lowerBound
    /// The warm throughput recorded by `UpdateStreamWarmThroughput`, MiB/s, if any; DescribeStreamSummary's, so not
    /// encoded with this DescribeStream shape.
    public var warmThroughputMiBps: Int? = nil

    /// `StreamModeDetails` of the Kinesis API.
    public struct StreamModeDetails: Codable, Sendable, Equatable {
        /// The mode.
        public var streamMode: StreamMode
        enum CodingKeys: String, CodingKey { case streamMode = "StreamMode" }
    }

    /// `EnhancedMetrics` of the Kinesis API.
    public struct EnhancedMetrics: Codable, Sendable, Equatable {
        /// The shard-level metrics enabled.
        public var shardLevelMetrics: [String]
        enum CodingKeys: String, CodingKey { case shardLevelMetrics = "ShardLevelMetrics" }
    }

    /// The open shards.
    public var openShards: [ShardDescription] { shards.filter(\.isOpen) }

    enum CodingKeys: String, CodingKey {
        case streamName = "StreamName"
        case streamARN = "StreamARN"
        case streamStatus = "StreamStatus"
        case streamModeDetails = "StreamModeDetails"
        case shards = "Shards"
        case hasMoreShards = "HasMoreShards"
        case retentionPeriodHours = "RetentionPeriodHours"
        case streamCreationTimestamp = "StreamCreationTimestamp"
        case enhancedMonitoring = "EnhancedMonitoring"
        case encryptionType = "EncryptionType"
        case keyId = "KeyId"
    }
}

/// A shard as Kinesis describes it.
public struct ShardDescription: Codable, Sendable, Equatable {
    /// `shardId-000000000000`.
    public var shardId: String
    /// The shard it was split from, or the first of the two it was merged from.
    public var parentShardId: String?
    /// The second shard of a merge.
    public var adjacentParentShardId: String?
    /// The inclusive hash-key range, as decimal strings.
    public var hashKeyRange: HashKeyRange
    /// First and (once closed) last sequence numbers.
    public var sequenceNumberRange: SequenceNumberRange

    /// Whether the shard still takes writes.
    public var isOpen: Bool { sequenceNumberRange.endingSequenceNumber == nil }

    /// Creates a description (of a remote shard, or the store's own).
    public init(
        shardId: String, parentShardId: String?, adjacentParentShardId: String?, hashKeyRange: HashKeyRange,
        sequenceNumberRange: SequenceNumberRange
    ) {
        self.shardId = shardId
        self.parentShardId = parentShardId
        self.adjacentParentShardId = adjacentParentShardId
        self.hashKeyRange = hashKeyRange
        self.sequenceNumberRange = sequenceNumberRange
    }

    /// `HashKeyRange` of the Kinesis API.
    public struct HashKeyRange: Codable, Sendable, Equatable {
        /// Lowest hash key, decimal.
        public var startingHashKey: String
        /// Highest hash key (inclusive), decimal.
        public var endingHashKey: String

        /// Creates a range.
        public init(startingHashKey: String, endingHashKey: String) {
            self.startingHashKey = startingHashKey
            self.endingHashKey = endingHashKey
        }

        enum CodingKeys: String, CodingKey {
            case startingHashKey = "StartingHashKey"
            case endingHashKey = "EndingHashKey"
        }
    }

    /// `SequenceNumberRange` of the Kinesis API.
    public struct SequenceNumberRange: Codable, Sendable, Equatable {
        /// The first sequence number the shard can hold.
        public var startingSequenceNumber: String
        /// The last one, set when the shard is closed.
        public var endingSequenceNumber: String?

        /// Creates a range.
        public init(startingSequenceNumber: String, endingSequenceNumber: String?) {
            self.startingSequenceNumber = startingSequenceNumber
            self.endingSequenceNumber = endingSequenceNumber
        }

        enum CodingKeys: String, CodingKey {
            case startingSequenceNumber = "StartingSequenceNumber"
            case endingSequenceNumber = "EndingSequenceNumber"
        }
    }

    enum CodingKeys: String, CodingKey {
        case shardId = "ShardId"
        case parentShardId = "ParentShardId"
        case adjacentParentShardId = "AdjacentParentShardId"
        case hashKeyRange = "HashKeyRange"
        case sequenceNumberRange = "SequenceNumberRange"
    }
}

extension StreamMetadata {
    /// The Kinesis view of this metadata.
    func description(region: String, account: String) -> StreamDescription {
        StreamDescription(
            streamName: name,
            streamARN: StreamARN(region: region, account: account, streamName: name).description,
            streamStatus: "ACTIVE",
            streamModeDetails: .init(streamMode: mode),
            shards: shards.sorted { $0.index < $1.index }.map { s in
                ShardDescription(
                    shardId: ShardID.name(s.index),
                    parentShardId: s.parent.map(ShardID.name),
                    adjacentParentShardId: s.adjacentParent.map(ShardID.name),
                    hashKeyRange: .init(startingHashKey: s.startingHashKey, endingHashKey: s.endingHashKey),
                    sequenceNumberRange: .init(
                        startingSequenceNumber: SequenceNumber.preceding(shardIndex: s.index, offset: 0),
                        endingSequenceNumber: s.closedAt.map {
                            SequenceNumber(shardIndex: s.index, offset: $0 == 0 ? 0 : $0 - 1).description
                        }))
            },
            hasMoreShards: false,
            retentionPeriodHours: retentionHours,
            streamCreationTimestamp: Date(timeIntervalSince1970: createdAt),
            enhancedMonitoring: [.init(shardLevelMetrics: [])],
            encryptionType: kmsKeyId == nil ? "NONE" : "KMS",
            keyId: kmsKeyId,
            maxRecordSizeInKiB: maxRecordSizeInKiB ?? Limits.maxRecordSizeInKiB.lowerBound,
            warmThroughputMiBps: warmThroughputMiBps)
    }
}
