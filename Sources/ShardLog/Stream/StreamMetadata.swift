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
    /// The KMS key of server-side encryption (`StartStreamEncryption`); `nil`: not encrypted (`EncryptionType`
    /// `NONE`). Recorded and reported only: the local store does not encrypt.
    var kmsKeyId: String?
    /// The largest record accepted, in KiB (`UpdateMaxRecordSize`, 1024–10240); `nil`: 1024.
    var maxRecordSizeInKiB: Int?
    /// The warm throughput asked for (`UpdateStreamWarmThroughput`), MiB/s; `nil`: never set.
    var warmThroughputMiBps: Int?

    enum CodingKeys: String, CodingKey {
        case name, createdAt, retentionHours, mode, nextShardIndex, shards, tags, segmentByteCount
        case kmsKeyId, maxRecordSizeInKiB, warmThroughputMiBps
    }

    init(
        name: String, createdAt: Double, retentionHours: Int, mode: StreamMode, nextShardIndex: Int,
        shards: [ShardMetadata], tags: [String: String] = [:], segmentByteCount: Int? = nil
    ) {
        self.name = name
        self.createdAt = createdAt
        self.retentionHours = retentionHours
        self.mode = mode
        self.nextShardIndex = nextShardIndex
        self.shards = shards
        self.tags = tags
        self.segmentByteCount = segmentByteCount
    }

    /// Decodes the file, naming the field of any number that does not fit.
    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        createdAt = try c.decode(Double.self, forKey: .createdAt)
        retentionHours = try c.decodeInteger(Int.self, forKey: .retentionHours)
        mode = try c.decode(StreamMode.self, forKey: .mode)
        nextShardIndex = try c.decodeInteger(Int.self, forKey: .nextShardIndex)
        shards = try c.decode([ShardMetadata].self, forKey: .shards)
        tags = try c.decodeIfPresent([String: String].self, forKey: .tags) ?? [:]
        segmentByteCount = try c.decodeIntegerIfPresent(Int.self, forKey: .segmentByteCount)
        kmsKeyId = try c.decodeIfPresent(String.self, forKey: .kmsKeyId)
        maxRecordSizeInKiB = try c.decodeIntegerIfPresent(Int.self, forKey: .maxRecordSizeInKiB)
        warmThroughputMiBps = try c.decodeIntegerIfPresent(Int.self, forKey: .warmThroughputMiBps)
    }

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

        enum CodingKeys: String, CodingKey {
            case index, parent, adjacentParent, startingHashKey, endingHashKey, closedAt, createdAt
        }

        init(
            index: Int, parent: Int?, adjacentParent: Int?, startingHashKey: String, endingHashKey: String,
            closedAt: UInt64?, createdAt: Double
        ) {
            self.index = index
            self.parent = parent
            self.adjacentParent = adjacentParent
            self.startingHashKey = startingHashKey
            self.endingHashKey = endingHashKey
            self.closedAt = closedAt
            self.createdAt = createdAt
        }

        /// Decodes one shard, naming the field of any number that does not fit.
        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            index = try c.decodeInteger(Int.self, forKey: .index)
            parent = try c.decodeIntegerIfPresent(Int.self, forKey: .parent)
            adjacentParent = try c.decodeIntegerIfPresent(Int.self, forKey: .adjacentParent)
            startingHashKey = try c.decode(String.self, forKey: .startingHashKey)
            endingHashKey = try c.decode(String.self, forKey: .endingHashKey)
            closedAt = try c.decodeIntegerIfPresent(UInt64.self, forKey: .closedAt)
            createdAt = try c.decode(Double.self, forKey: .createdAt)
        }

        /// The hash-key range (validated on load: start <= end; a damaged pair reads as the start alone).
        var range: ClosedRange<UInt128> {
            let start = UInt128(startingHashKey) ?? 0
            return start...max(start, UInt128(endingHashKey) ?? 0)
        }
        var isOpen: Bool { closedAt == nil }
    }

    /// Reads and validates `stream.json`.
    /// - Parameters:
    ///   - path: the file.
    ///   - name: the stream's name (its directory's name), which the file must name.
    /// - Throws: `.resourceNotFound` when the file does not exist (the stream was deleted), `.corruption` naming the
    ///   file and the field when it cannot be parsed or breaks an invariant (see ``validate(path:name:)``).
    static func load(path: String, name: String? = nil) throws(ShardLogError) -> StreamMetadata {
        guard let bytes = try MetadataFile.contents(of: path) else {
            throw ShardLogError(.resourceNotFound, "cannot read \(path): the stream does not exist (any more)")
        }
        let m = try MetadataFile.decode(StreamMetadata.self, from: bytes, path: path)
        try m.validate(path: path, name: name)
        return m
    }

    /// Checks every invariant the rest of ShardLog relies on, so a damaged file is reported instead of trapping:
    /// hash keys are decimal numbers in 0...2^128-1 with start <= end; shard indices are unique and below
    /// `nextShardIndex`; parents exist and are older; at least one shard is open and the open shards cover
    /// 0...2^128-1 exactly once; retention is 24–8760 hours; times are finite epoch seconds before year 10000;
    /// `closedAt` is a valid offset.
    /// - Throws: `.corruption` naming the file and the field.
    func validate(path: String, name expected: String? = nil) throws(ShardLogError) {
        func damaged(_ field: String, _ problem: String) -> ShardLogError {
            ShardLogError(
                .corruption,
                "\(path) is damaged: field \(field) \(problem); restore the file or delete and recreate the stream")
        }
        do {
            try Store.validate(streamName: name)
        } catch {
            throw damaged("name", "is not a valid stream name ('\(name)')")
        }
        if let expected, expected != name {
            throw damaged("name", "is '\(name)' but the file belongs to stream \(expected)")
        }
        func checkTime(_ t: Double, _ field: String) throws(ShardLogError) {
            guard t.isFinite, t >= 0, t <= MetadataFile.latestEpochSeconds else {
                throw damaged(field, "is \(t), not epoch seconds between 1970 and 9999")
            }
        }
        try checkTime(createdAt, "createdAt")
        guard Limits.retentionHours.contains(retentionHours) else {
            throw damaged("retentionHours", "is \(retentionHours), outside 24...8760")
        }
        guard (1...Self.maximumShardIndex + 1).contains(nextShardIndex) else {
            throw damaged("nextShardIndex", "is \(nextShardIndex), outside 1...\(Self.maximumShardIndex + 1)")
        }
        guard !shards.isEmpty else { throw damaged("shards", "is empty; a stream has at least one shard") }
        var seen = Set<Int>()
        var open: [(range: ClosedRange<UInt128>, field: String)] = []
        for (i, s) in shards.enumerated() {
            let field = "shards[\(i)]"
            guard (0..<nextShardIndex).contains(s.index) else {
                throw damaged("\(field).index", "is \(s.index), outside 0..<nextShardIndex (\(nextShardIndex))")
            }
            guard seen.insert(s.index).inserted else {
                throw damaged("\(field).index", "repeats shard index \(s.index)")
            }
            guard let start = MetadataFile.hashKey(s.startingHashKey) else {
                throw damaged("\(field).startingHashKey", "is '\(s.startingHashKey)', not a number in 0...2^128-1")
            }
            guard let end = MetadataFile.hashKey(s.endingHashKey) else {
                throw damaged("\(field).endingHashKey", "is '\(s.endingHashKey)', not a number in 0...2^128-1")
            }
            guard start <= end else {
                throw damaged("\(field).endingHashKey", "(\(end)) is below startingHashKey (\(start))")
            }
            try checkTime(s.createdAt, "\(field).createdAt")
            if let closed = s.closedAt, closed > UInt64(Int64.max) {
                throw damaged("\(field).closedAt", "is \(closed), not a valid offset")
            }
            if s.isOpen { open.append((start...end, field)) }
        }
        for (i, s) in shards.enumerated() {
            for (key, parent) in [("parent", s.parent), ("adjacentParent", s.adjacentParent)] {
                guard let parent else { continue }
                guard parent != s.index, seen.contains(parent) else {
                    throw damaged("shards[\(i)].\(key)", "refers to shard \(parent), which is not in the file")
                }
            }
        }
        guard !open.isEmpty else {
            throw damaged("shards", "has no open shard (every shard has closedAt), so no record could be written")
        }
        open.sort { $0.range.lowerBound < $1.range.lowerBound }
        guard open[0].range.lowerBound == 0 else {
            throw damaged("shards", "leaves hash keys 0...\(open[0].range.lowerBound - 1) without an open shard")
        }
        for (a, b) in zip(open, open.dropFirst()) {
            if b.range.lowerBound <= a.range.upperBound {
                throw damaged(b.field, "overlaps the open shard \(a.field) (hash key \(b.range.lowerBound))")
            }
            if b.range.lowerBound - 1 != a.range.upperBound {
                throw damaged(
                    "shards",
                    "leaves hash keys \(a.range.upperBound + 1)...\(b.range.lowerBound - 1) without an open shard")
            }
        }
        if let last = open.last, last.range.upperBound != UInt128.max {
            throw damaged("shards", "leaves hash keys \(last.range.upperBound + 1)...2^128-1 without an open shard")
        }
        if let key = kmsKeyId, !Limits.kmsKeyIdLength.contains(key.utf8.count) {
            throw damaged("kmsKeyId", "is \(key.utf8.count) bytes long, outside \(Limits.kmsKeyIdLength)")
        }
        if let size = maxRecordSizeInKiB, !Limits.maxRecordSizeInKiB.contains(size) {
            throw damaged("maxRecordSizeInKiB", "is \(size), outside \(Limits.maxRecordSizeInKiB)")
        }
        if let warm = warmThroughputMiBps, warm < 0 {
            throw damaged("warmThroughputMiBps", "is \(warm), below 0")
        }
        for (key, value) in tags where key.isEmpty || key.utf8.count > 128 || value.utf8.count > 256 {
            throw damaged("tags", "has a tag '\(key.prefix(40))' longer than 128 (key) or 256 (value) bytes")
        }
    }

    /// The largest shard index a shard id can show (12 digits).
    static let maximumShardIndex = 999_999_999_999

    /// Validates and writes the file atomically (temporary file, fsync, rename, directory fsync).
    /// - Throws: `.internal` if the metadata breaks an invariant (never written), I/O errors.
    func save(path: String) throws(ShardLogError) {
        do {
            try validate(path: path)
        } catch {
            throw ShardLogError(.internal, "refusing to write invalid stream metadata: \(error.message)")
        }
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
