import Foundation

/// Capacity mode of a stream, as Kinesis' `StreamModeDetails.StreamMode`.
public enum StreamMode: String, Codable, Sendable {
    /// A fixed shard count chosen by the user.
    case provisioned = "PROVISIONED"
    /// Kinesis' on-demand mode: four shards, no manual resharding.
    case onDemand = "ON_DEMAND"
}

/// The persisted description of a stream: `streams/<name>/stream.json`, replaced by atomic write + rename.
struct StreamMetadata: Codable, Sendable {
    var name: String
    var createdAt: Double
    var retentionHours: Int
    var mode: StreamMode
    var nextShardIndex: Int
    var shards: [ShardMetadata]
    var tags: [String: String] = [:]
    /// The stream's segment file size, when chosen at creation (`nil`: the opening store's
    /// ``StoreOptions/segmentByteCount``).
    var segmentByteCount: Int?

    /// One shard's lineage and range.
    struct ShardMetadata: Codable, Sendable {
        var index: Int
        var parent: Int?
        var adjacentParent: Int?
        var startingHashKey: String
        var endingHashKey: String
        /// Offset after the last record, once closed by a reshard.
        var closedAt: UInt64?
        var createdAt: Double

        var range: ClosedRange<UInt128> {
            (UInt128(startingHashKey) ?? 0)...(UInt128(endingHashKey) ?? 0)
        }
        var isOpen: Bool { closedAt == nil }
    }

    static func load(path: String) throws(ShardLogError) -> StreamMetadata {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ShardLogError(.resourceNotFound, "cannot read \(path)")
        }
        do {
            return try JSONDecoder().decode(StreamMetadata.self, from: data)
        } catch {
            throw ShardLogError(.corruption, "\(path) is not valid stream metadata: \(error)")
        }
    }

    func save(path: String) throws(ShardLogError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data: Data
        do {
            data = try encoder.encode(self)
        } catch {
            throw ShardLogError(.internal, "cannot encode stream metadata: \(error)")
        }
        try FileSystem.writeAtomically([UInt8](data), to: path)
    }
}
