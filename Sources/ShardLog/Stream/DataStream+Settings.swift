import Foundation

/// Stream settings of the Kinesis API that are recorded in `stream.json` and reported, but do not change how
/// records are stored: capacity mode, server-side encryption, maximum record size, warm throughput. Each change
/// re-reads `stream.json` under the stream's exclusive lock (see `updateMetadata`).
extension DataStream {
    /// Switches the capacity mode; the shards stay as they are (an on-demand stream refuses manual resharding).
    public func setMode(_ mode: StreamMode) throws(ShardLogError) {
        try updateMetadata { (m: inout StreamMetadata) throws(ShardLogError) in m.mode = mode }
    }

    /// Records server-side encryption with `kmsKeyId`, or none when `nil`.
    /// - Throws: `.invalidArgument` for a key id outside 1–2048 bytes.
    public func setEncryption(kmsKeyId: String?) throws(ShardLogError) {
        if let key = kmsKeyId, !Limits.kmsKeyIdLength.contains(key.utf8.count) {
            throw ShardLogError(
                .invalidArgument, "KMS key id for stream \(name) must be 1 to 2048 bytes long, not \(key.utf8.count)")
        }
        try updateMetadata { (m: inout StreamMetadata) throws(ShardLogError) in m.kmsKeyId = kmsKeyId }
    }

    /// Sets the stream's `MaxRecordSizeInKiB`: puts then take records (key plus data) up to that size.
    /// - Throws: `.invalidArgument` outside ``Limits/maxRecordSizeInKiB``.
    public func setMaxRecordSize(kibibytes: Int) throws(ShardLogError) {
        try updateSetting(
            kibibytes, in: Limits.maxRecordSizeInKiB,
            "MaxRecordSizeInKiB \(kibibytes) for stream \(name) must be between 1024 and 10240"
        ) { $0.maxRecordSizeInKiB = kibibytes }
    }

    /// Records the warm throughput asked for, in MiB/s.
    /// - Throws: `.invalidArgument` below 0.
    public func setWarmThroughput(mebibytesPerSecond: Int) throws(ShardLogError) {
        try updateSetting(
            mebibytesPerSecond, in: 0...Int.max,
            "WarmThroughputMiBps \(mebibytesPerSecond) for stream \(name) must not be negative"
        ) { $0.warmThroughputMiBps = mebibytesPerSecond }
    }

    /// The KMS key of the stream's encryption as this process last read `stream.json` (no disk access), or `nil`
    /// when not encrypted; for the `EncryptionType` of record responses.
    public var cachedKMSKeyId: String? { metadata.kmsKeyId }
}
