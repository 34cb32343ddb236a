/// When appended data is forced to stable storage.
public enum Durability: String, Sendable, CaseIterable, Codable {
    /// Page cache only: survives a killed process (the kernel owns the pages), not a power loss.
    case none
    /// A background `fdatasync` of every shard with new data, once per ``StoreOptions/syncInterval``.
    case interval
    /// `fdatasync` before an append returns, shared by concurrent appenders (group commit).
    case always
}

/// Tuning for a ``Store``.
public struct StoreOptions: Sendable {
    /// Size of each preallocated segment file (default 128 MiB).
    public var segmentByteCount = 128 << 20
    /// The durability policy (default ``Durability/none``).
    public var durability = Durability.none
    /// Interval of background flushes with ``Durability/interval`` (default 1 s).
    public var syncInterval = Duration.seconds(1)
    /// Batches whose payload reaches this many bytes are LZ4-compressed when that shrinks them (default 16 KiB;
    /// `Int.max` turns compression off).
    public var compressionThreshold = 16 << 10
    /// Largest uncompressed payload of one record batch (default 1 MiB).
    public var maxBatchByteCount = 1 << 20
    /// Map segments read-write (needed to append or recover); read-only tools may set `false`.
    public var writable = true
    /// How many segment files this process keeps mapped at most (each holds a descriptor and a mapping); the least
    /// recently used idle ones are closed beyond it and re-opened on demand. `nil` (the default): an eighth of the
    /// open-file limit (`ulimit -n`; a shard being appended to also holds its lock file) and a quarter of
    /// `vm.max_map_count`, at least 8. The limit is per process: with several
    /// stores in one process, the smallest value given applies to each admission.
    public var maxMappedSegments: Int?
    /// The AWS account the store's streams belong to: it appears in their ARNs and in the texts of errors about
    /// them (default `000000000000`).
    public var accountId = "000000000000"
    /// The AWS region the store's streams live in, as it appears in their ARNs (default `us-east-1`).
    public var region = "us-east-1"

    /// Default options.
    public init() {}
}

/// Kinesis' per-record limits.
public enum Limits {
    /// Data plus partition key of one record by default: 1 MiB (a stream's `MaxRecordSizeInKiB` raises it; see
    /// ``DataStream/maxRecordByteCount``).
    public static let recordByteCount = 1 << 20
    /// Partition key length in Unicode scalars: 1–256.
    public static let partitionKeyLength = 1...256
    /// Retention period in hours: 24–8760.
    public static let retentionHours = 24...8760
    /// Shards per stream accepted by this store.
    public static let shardCount = 1...10_000
    /// Segment file size of a stream (`createStream(segmentByteCount:)`): 16 KiB to 4 GiB.
    public static let segmentByteCount = (16 << 10)...(4 << 30)
    /// `MaxRecordSizeInKiB` of a stream (`UpdateMaxRecordSize`): 1024–10240 KiB. The store then takes and returns
    /// records (key plus data) of up to that size.
    public static let maxRecordSizeInKiB = 1024...10240
    /// Length in bytes of a KMS key id, alias or ARN (`StartStreamEncryption`'s `KeyId`): 1–2048.
    public static let kmsKeyIdLength = 1...2048
}
