import Foundation
import Synchronization

/// One shard's chain of segment files, `<stream>/<shard-id>/<first offset>.seg`, in this process.
///
/// Appends are serialized by an in-process `Mutex` and, per batch, by an exclusive `flock` on
/// `<shard-id>/writer.lock`, so several processes may append to one shard; each takes the shard's state from the
/// mapped header of the active segment. Readers never take either lock.
/// Thread-safety: safe from any thread.
final class Shard: Sendable {
    /// `shardId-000000000000`.
    let shardId: String
    /// The shard's index, encoded in its sequence numbers.
    let index: Int
    /// The shard's directory.
    let directory: String
    let options: StoreOptions
    let writerLock: InterProcessLock
    let writer: Mutex<Writer>
    /// Serializes `fdatasync` for group commit: one caller flushes for every batch published before it started.
    let syncGate = Mutex<Void>(())
    private let table = Mutex<[UInt64: Segment?]>([:])
    /// Whether the directory has been listed at least once by this process.
    private let listed = Atomic<Bool>(false)

    /// The appender's in-process state (guarded by ``writer``).
    struct Writer {
        var encoder: BatchEncoder
        var active: Segment?
        var checked = false
    }

    /// Opens the shard directory (creating it if `create`).
    init(directory: String, index: Int, options: StoreOptions, create: Bool) throws(ShardLogError) {
        self.shardId = ShardID.name(index)
        self.index = index
        self.directory = directory
        self.options = options
        if create {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw ShardLogError(.io, "cannot create shard directory \(directory): \(error)")
            }
        }
        self.writerLock = InterProcessLock(path: directory + "/writer.lock")
        self.writer = Mutex(Writer(encoder: BatchEncoder(compressionThreshold: options.compressionThreshold)))
    }

    // MARK: - Segment table

    /// Re-lists the directory's segment files; keeps already opened ones.
    /// - Returns: the sorted first offsets.
    @discardableResult
    func refreshTable() -> [UInt64] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        let offsets = names.compactMap { name -> UInt64? in
            guard name.hasSuffix(".seg"), name.count == 24 else { return nil }
            return UInt64(name.prefix(20))
        }.sorted()
        listed.store(true, ordering: .releasing)
        table.withLock { t in
            let present = Set(offsets)
            for key in t.keys where !present.contains(key) { t[key] = nil }
            for o in offsets where t[o] == nil { t[o] = .some(nil) }
        }
        return offsets
    }

    /// The sorted first offsets currently known.
    func segmentOffsets() -> [UInt64] {
        table.withLock { $0.keys.sorted() }
    }

    /// The opened segment whose first offset is `offset`.
    func segment(_ offset: UInt64) throws(ShardLogError) -> Segment {
        if let opened = table.withLock({ $0[offset] ?? nil }) { return opened }
        let path = directory + "/" + SegmentHeader.fileName(firstOffset: offset)
        let seg = try Segment.open(path: path, writable: options.writable)
        return table.withLock { t in
            if let existing = t[offset] ?? nil { return existing }
            t[offset] = seg
            return seg
        }
    }

    func register(_ seg: Segment) {
        table.withLock { $0[seg.firstOffset] = seg }
    }

    func forget(_ offset: UInt64) {
        table.withLock { $0[offset] = nil }
    }

    /// The segment holding `offset`: the one with the largest first offset not above it (refreshing the listing
    /// once if none is known).
    func segment(containing offset: UInt64) throws(ShardLogError) -> Segment? {
        var offsets = segmentOffsets()
        if offsets.isEmpty || offsets.last.map({ $0 < offset }) == true { offsets = refreshTable() }
        guard let first = offsets.first else { return nil }
        if offset < first { return try segment(first) }
        return try segment(offsets[offsets.partitionPoint { $0 <= offset } - 1])
    }

    // MARK: - Positions

    /// The oldest offset still stored (the trim horizon).
    func trimHorizon() throws(ShardLogError) -> UInt64 {
        let offsets = refreshTable()
        return offsets.first ?? 0
    }

    /// The newest segment, re-listing the directory only when none is known or the newest known one is sealed.
    func newestSegment() throws(ShardLogError) -> Segment? {
        if let last = segmentOffsets().last {
            let seg = try segment(last)
            if seg.state != .sealed { return seg }
        }
        // A shard that never had a segment: one stat instead of a directory listing per poll.
        if segmentOffsets().isEmpty && listed.load(ordering: .acquiring)
            && !FileManager.default.fileExists(atPath: directory + "/" + SegmentHeader.fileName(firstOffset: 0))
        {
            return nil
        }
        guard let last = refreshTable().last else { return nil }
        return try segment(last)
    }

    /// The offset after the last published record (the tip; `LATEST`).
    func tip() throws(ShardLogError) -> UInt64 {
        try newestSegment()?.catchUp() ?? 0
    }

    /// Whether the shard was closed by a reshard, and at which offset (its end).
    func closedEnd() throws(ShardLogError) -> UInt64? {
        guard let seg = try newestSegment(), seg.state == .closed else { return nil }
        return try seg.catchUp()
    }

    /// The arrival time (ms) of the last published record, 0 if none.
    func lastTimestamp() throws(ShardLogError) -> Int64 {
        try newestSegment()?.lastTimestamp ?? 0
    }

    // MARK: - Reading

    /// Reads up to `limit` records and `maxBytes` of data from `offset` on, crossing segment boundaries.
    /// An offset below the trim horizon reads from the trim horizon.
    /// - Returns: the entries and the offset to continue from.
    /// - Throws: `.corruption` when a published batch fails its checksum.
    func read(from offset: UInt64, limit: Int, maxBytes: Int) throws(ShardLogError)
        -> (entries: [BatchDecoder.Entry], next: UInt64)
    {
        var position = offset
        var out: [BatchDecoder.Entry] = []
        var bytes = 0
        var refreshed = false
        while out.count < limit && bytes < maxBytes {
            guard let seg = try segment(containing: position) else { break }
            if position < seg.firstOffset { position = seg.firstOffset }
            let (entries, next) = try seg.read(from: position, limit: limit - out.count, maxBytes: maxBytes - bytes)
            if entries.isEmpty {
                // At the end of this segment: move on only if it was sealed and its successor exists.
                guard seg.state == .sealed else { break }
                let tip = try seg.catchUp()
                if position < tip { break }
                if segmentOffsets().contains(where: { $0 > seg.firstOffset }) {
                    position = tip
                    continue
                }
                if refreshed { break }
                refreshTable()
                refreshed = true
                continue
            }
            for e in entries { bytes += e.data.count + e.key.utf8.count }
            out.append(contentsOf: entries)
            position = next
        }
        return (out, position)
    }

    /// The first offset at or after `timestamp` (ms since the epoch).
    func offset(atTimestamp timestamp: Int64) throws(ShardLogError) -> UInt64 {
        let offsets = refreshTable()
        for o in offsets {
            let seg = try segment(o)
            if seg.lastTimestamp >= timestamp { return try seg.offset(atTimestamp: timestamp) }
        }
        return try tip()
    }
}
