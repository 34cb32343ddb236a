import Foundation
import Synchronization

/// One shard's chain of segment files, `<stream>/<shard-id>/<first offset>.seg`, in this process.
///
/// Appends are serialized by an in-process `Mutex` and, per batch, by an exclusive `flock` on
/// `<shard-id>/writer.lock`, so several processes may append to one shard; each takes the shard's state from the
/// mapped header of the active segment. Readers never take either lock. The lock file stays open only while the
/// shard's active segment is mapped, so idle shards hold no descriptor; mapped segments are bounded by
/// ``SegmentCache``.
///
/// Every segment is validated when opened (``SegmentHeader/validate``), and consecutive segments must continue
/// each other (the next one's first offset is the previous one's first offset plus its record count): a missing,
/// zeroed or truncated segment is reported as `.corruption` naming the file, never skipped.
/// Thread-safety: safe from any thread.
final class Shard: Sendable {
    /// `shardId-000000000000`.
    let shardId: String
    /// The shard's index, encoded in its sequence numbers.
    let index: Int
    /// The shard's directory.
    let directory: String
    let options: StoreOptions
    /// `writer.lock`: excludes other threads and processes appending to this shard.
    let writerLock: InterProcessLock
    let writer: Mutex<Writer>
    /// Serializes `fdatasync` for group commit: one caller flushes for every batch published before it started.
    let syncGate = Mutex<Void>(())
    private let table = Mutex(Table())
    /// When this process last listed the directory (`DispatchTime` nanoseconds); 0 until it first did.
    private let listedAt = Atomic<UInt64>(0)
    private let listings = Atomic<Int>(0)
    /// How old the listing may be before a reader at the end of an unsealed segment lists again: only a writer that
    /// died between creating a segment's successor and sealing it leaves an unsealed segment followed by another
    /// (and the next writer seals it), so readers at the tip look this seldom instead of on every read.
    static let unsealedListingInterval: UInt64 = 1_000_000_000

    /// The segment files known to this process: their sorted first offsets (the last directory listing plus the
    /// files this process created) and the ones currently mapped.
    struct Table {
        var offsets: [UInt64] = []
        var opened: [UInt64: Segment] = [:]
    }

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

    /// Runs `body` holding the cross-process writer lock (`writer.lock`; ``InterProcessLock`` keeps its descriptor
    /// open while in use and closes it once idle among many). When the process is out of descriptors, idle mapped
    /// segments are closed and the lock is tried once more.
    func withWriterLock<R>(_ w: inout Writer, _ body: (inout Writer) throws(ShardLogError) -> R)
        throws(ShardLogError) -> R
    {
        do {
            try writerLock.lock()
        } catch  where error.code == .limitExceeded {
            SegmentCache.shared.evictAll()
            try writerLock.lock()
        }
        defer { writerLock.unlock() }
        return try body(&w)
    }

    // MARK: - Segment table

    /// Re-lists the directory's segment files; keeps already opened ones.
    /// - Returns: the sorted first offsets.
    /// - Throws: `.limitExceeded`/`.io` when the directory cannot be listed (never an empty answer instead).
    @discardableResult
    func refreshTable() throws(ShardLogError) -> [UInt64] {
        let names: [String]
        do {
            names = try SystemCall.directoryEntries(directory) ?? []
        } catch  where error.code == .limitExceeded {
            SegmentCache.shared.evictAll()
            names = try SystemCall.directoryEntries(directory) ?? []
        }
        let offsets = names.compactMap { name -> UInt64? in
            guard name.hasSuffix(".seg"), name.count == 24 else { return nil }
            return UInt64(name.prefix(20))
        }.sorted()
        listedAt.store(max(1, DispatchTime.now().uptimeNanoseconds), ordering: .releasing)
        listings.wrappingAdd(1, ordering: .relaxed)
        let dropped = table.withLock { t -> [Segment] in
            let present = Set(offsets)
            var gone: [Segment] = []
            for (key, seg) in t.opened where !present.contains(key) {
                gone.append(seg)
                t.opened[key] = nil
            }
            t.offsets = offsets
            return gone
        }
        _ = dropped  // released here, outside the table lock
        return offsets
    }

    /// How many times this process listed the shard's directory (a reader at the tip must not list it per read).
    var listingCount: Int { listings.load(ordering: .relaxed) }

    /// The sorted first offsets currently known.
    /// - Complexity: O(1) (the array is shared copy-on-write).
    func segmentOffsets() -> [UInt64] {
        table.withLock { $0.offsets }
    }

    /// The path of the segment file whose first offset is `offset`.
    func path(ofSegment offset: UInt64) -> String {
        directory + "/" + SegmentHeader.fileName(firstOffset: offset)
    }

    /// The segment whose first offset is `offset`, opened (and validated) on first use.
    /// - Throws: `.corruption` naming the file when its header is damaged, `.limitExceeded` naming the limit when
    ///   no descriptor or mapping is left even after evicting every idle segment.
    func segment(_ offset: UInt64) throws(ShardLogError) -> Segment {
        if let opened = table.withLock({ $0.opened[offset] }) {
            opened.touch()
            return opened
        }
        let path = path(ofSegment: offset)
        let seg: Segment
        do {
            seg = try Segment.open(path: path, firstOffset: offset, shardIndex: index, writable: options.writable)
        } catch  where error.code == .limitExceeded {
            SegmentCache.shared.evictAll()
            seg = try Segment.open(path: path, firstOffset: offset, shardIndex: index, writable: options.writable)
        }
        return register(seg)
    }

    /// Enters a segment this process opened or created into the table (unless another thread was first) and into
    /// the ``SegmentCache``.
    /// - Returns: the segment in the table.
    @discardableResult
    func register(_ seg: Segment) -> Segment {
        let (winner, isNew) = table.withLock { t -> (Segment, Bool) in
            let offset = seg.firstOffset
            if let existing = t.opened[offset] { return (existing, false) }
            t.opened[offset] = seg
            let at = t.offsets.partitionPoint { $0 < offset }
            if at == t.offsets.count || t.offsets[at] != offset { t.offsets.insert(offset, at: at) }
            return (seg, true)
        }
        if isNew { SegmentCache.shared.admit(seg, owner: self, limit: options.maxMappedSegments) }
        return winner
    }

    /// Forgets a deleted segment.
    func forget(_ offset: UInt64) {
        let dropped = table.withLock { t -> Segment? in
            if let at = t.offsets.firstIndex(of: offset) { t.offsets.remove(at: at) }
            return t.opened.removeValue(forKey: offset)
        }
        _ = dropped
    }

    /// Drops this process's mapping of segment `offset` if it is still `id`, for ``SegmentCache``; it is re-opened
    /// on its next use.
    /// - Returns: `false` if an append is running (the active segment must stay), `true` otherwise.
    func evict(_ offset: UInt64, id: UInt64) -> Bool {
        let idle = writer.withLockIfAvailable { w -> Segment? in
            guard let active = w.active, active.id == id else { return nil }
            w.active = nil
            return active
        }
        guard let wasActive = idle else { return false }
        let dropped = table.withLock { t -> Segment? in
            guard let s = t.opened[offset], s.id == id else { return nil }
            t.opened[offset] = nil
            return s
        }
        _ = (wasActive, dropped)  // released here, outside both locks: the file closes once no reader holds it
        return true
    }

    /// The segment holding `offset`: the one with the largest first offset not above it (refreshing the listing
    /// once if none is known).
    func segment(containing offset: UInt64) throws(ShardLogError) -> Segment? {
        var offsets = segmentOffsets()
        if let last = offsets.last, last < offset {
            // Usually a read at or near the tip, inside the newest known segment: no listing. Past its tip, or past
            // a sealed one, the offset is in a newer file.
            let newest = try segment(last)
            if newest.state != .sealed, try offset <= newest.catchUp() { return newest }
            offsets = try refreshTable()
        } else if offsets.isEmpty {
            offsets = try refreshTable()
        }
        guard let first = offsets.first else { return nil }
        if offset < first { return try segment(first) }
        return try segment(offsets[offsets.partitionPoint { $0 <= offset } - 1])
    }

    /// The first offset of the segment after `seg` (refreshing the listing once if none is known), and the tip of
    /// `seg` read after the listing (a successor is created only after `seg`'s last batch is published).
    /// - Throws: `.corruption` when that segment does not start where `seg` ends (a segment file is missing or
    ///   damaged), naming the files; `.corruption` when `seg` is sealed but nothing follows it.
    func successor(of seg: Segment) throws(ShardLogError) -> (next: UInt64?, tip: UInt64) {
        func after(_ offsets: [UInt64]) -> UInt64? {
            let at = offsets.partitionPoint { $0 <= seg.firstOffset }
            return at < offsets.count ? offsets[at] : nil
        }
        var next = after(segmentOffsets())
        // Read before listing: the successor is created before the seal, so a sealed segment's is listed. At the end
        // of an unsealed one (a reader at the tip) there is none to find, unless its writer died before sealing it:
        // list again only when the listing is older than `unsealedListingInterval`, not on every read at the tip.
        let sealed = seg.state == .sealed
        if next == nil
            && (sealed
                || DispatchTime.now().uptimeNanoseconds &- listedAt.load(ordering: .relaxed)
                    >= Self.unsealedListingInterval)
        {
            next = after(try refreshTable())
        }
        let tip = try seg.catchUp()
        guard let next else {
            if sealed {
                throw ShardLogError(
                    .corruption,
                    "\(seg.file.path) is sealed but the segment after it, \(path(ofSegment: tip)), is missing:"
                        + " records from offset \(tip) on are lost; restore the file from a backup")
            }
            return (nil, tip)
        }
        guard next == tip else {
            throw ShardLogError(
                .corruption,
                "segment \(path(ofSegment: tip)) is missing or damaged: \(seg.file.path) ends at offset \(tip)"
                    + " but the next segment file starts at \(next); restore the missing file from a backup")
        }
        return (next, tip)
    }

    // MARK: - Positions

    /// The oldest offset still stored (the trim horizon).
    func trimHorizon() throws(ShardLogError) -> UInt64 {
        let offsets = try refreshTable()
        return offsets.first ?? 0
    }

    /// The newest segment, re-listing the directory only when none is known or the newest known one is sealed.
    /// - Throws: `.corruption` when the newest listed segment is sealed (the file after it is missing) or damaged.
    func newestSegment() throws(ShardLogError) -> Segment? {
        if let last = segmentOffsets().last {
            let seg = try segment(last)
            if seg.state != .sealed { return seg }
        }
        // A shard that never had a segment: one stat instead of a directory listing per poll.
        if segmentOffsets().isEmpty && listedAt.load(ordering: .acquiring) != 0
            && !SystemCall.fileExists(path(ofSegment: 0))
        {
            return nil
        }
        guard let last = try refreshTable().last else { return nil }
        let seg = try segment(last)
        if seg.state == .sealed { _ = try successor(of: seg) }
        return seg
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

    /// Reads up to `limit` records and `maxBytes` of data from `offset` on, crossing segment boundaries; the
    /// records stay in their decoded batches.
    /// An offset below the trim horizon reads from the trim horizon.
    /// - Returns: the records and the offset to continue from.
    /// - Throws: `.corruption` when a published batch fails its checksum, a segment header is damaged or a segment
    ///   is missing between two others (naming the file).
    func read(from offset: UInt64, limit: Int, maxBytes: Int) throws(ShardLogError)
        -> (records: StoredRecords, next: UInt64)
    {
        var position = offset
        var out = StoredRecords(shardIndex: index)
        var retried = false
        while out.count < limit && out.byteCount < maxBytes {
            guard let seg = try segment(containing: position) else { break }
            if position < seg.firstOffset { position = seg.firstOffset }
            let before = out.count
            let (next, full) = try seg.read(from: position, limit: limit, maxBytes: maxBytes, into: &out)
            // The next record does not fit in what is left of `maxBytes`: it comes first in the next read.
            if full && out.count == before { break }
            if out.count == before {
                // At the end of this segment: move on only if a successor exists (it is created before this one is
                // sealed, after this one's last batch), and it must start exactly where this one ends.
                let (next, tip) = try successor(of: seg)
                if position < tip {
                    // Published while we looked: read it on the next turn (once).
                    if retried { break }
                    retried = true
                    continue
                }
                guard next != nil else { break }
                position = tip
                continue
            }
            position = next
            if full { break }
        }
        return (out, position)
    }

    /// The first offset at or after `timestamp` (ms since the epoch).
    func offset(atTimestamp timestamp: Int64) throws(ShardLogError) -> UInt64 {
        let offsets = try refreshTable()
        for o in offsets {
            let seg = try segment(o)
            if seg.lastTimestamp >= timestamp { return try seg.offset(atTimestamp: timestamp) }
        }
        return try tip()
    }
}
