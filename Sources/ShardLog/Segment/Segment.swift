import Foundation
import Synchronization

/// One mapped segment file of a shard, with its sparse in-memory index.
///
/// Readers in any thread or process see only published batches: they load ``committedEnd`` with acquire ordering
/// and never look past it. The index is built lazily by hopping over batch headers (no payload is read), one entry
/// per 4 KiB of log, so a seek costs a binary search plus a short forward walk.
/// Thread-safety: safe from any thread; the index sits behind a `Mutex`.
final class Segment: Sendable {
    /// The mapped file.
    let file: MappedFile
    /// The offset of the first record.
    let firstOffset: UInt64
    /// A process-unique number, for ``SegmentCache``.
    let id: UInt64
    /// The ``SegmentCache`` tick of the last use (for least-recently-used eviction).
    let lastUse = SegmentCache.UseStamp()
    private let index: Mutex<SparseIndex>

    /// One index entry: the batch at byte `position` starts at record `offset`, first arrival `timestamp` (ms).
    struct Entry {
        var offset: UInt64
        var position: Int
        var timestamp: Int64
    }

    struct SparseIndex {
        var entries: [Entry] = []
        /// Byte position up to which batch headers have been walked.
        var walkedEnd = SegmentHeader.byteCount
        /// Offset of the record at `walkedEnd`.
        var walkedOffset: UInt64
        var lastIndexed = -1 << 20
    }

    /// Wraps an open mapping.
    init(file: consuming MappedFile, firstOffset: UInt64) {
        self.file = file
        self.firstOffset = firstOffset
        self.id = SegmentCache.shared.nextIdentifier()
        self.index = Mutex(SparseIndex(walkedOffset: firstOffset))
        touch()
    }

    deinit { SegmentCache.shared.closed(id) }

    /// Marks the segment as just used (one atomic increment and store).
    func touch() { lastUse.tick.store(SegmentCache.shared.tick(), ordering: .relaxed) }

    /// Creates a new empty segment file.
    static func create(path: String, firstOffset: UInt64, capacity: Int, shardIndex: Int) throws(ShardLogError)
        -> Segment
    {
        let header = SegmentHeader.make(
            firstOffset: firstOffset, capacity: capacity, shardIndex: shardIndex, now: Clock.milliseconds())
        let file = try MappedFile(creating: path, byteCount: capacity, header: header)
        try FileSystem.synchronizeDirectory(of: path)
        return Segment(file: file, firstOffset: firstOffset)
    }

    /// Opens an existing segment file, validating its header (see ``SegmentHeader/validate``).
    /// - Parameters:
    ///   - path: the file.
    ///   - firstOffset: the offset its name promises.
    ///   - shardIndex: the shard it belongs to.
    ///   - writable: map it read-write.
    /// - Throws: `.corruption` naming the file and the damaged field, `.limitExceeded` when no descriptor or mapping
    ///   is left, `.resourceNotFound` if it vanished.
    static func open(path: String, firstOffset: UInt64, shardIndex: Int, writable: Bool) throws(ShardLogError)
        -> Segment
    {
        let file = try MappedFile(opening: path, writable: writable) {
            (head: [UInt8], size: Int) throws(ShardLogError) -> Int in
            // Only a writer after a power loss may re-extend a file torn shorter than its capacity (and recover it).
            let boot = head.count >= 128 ? Int64(bitPattern: head.u64(SegmentHeader.bootIdentity)) : 0
            let rebooted = boot != 0 && boot != FileSystem.bootIdentity
            return try SegmentHeader.validate(
                head, fileSize: size, path: path, firstOffset: firstOffset, shardIndex: shardIndex,
                mayExtend: writable && rebooted)
        }
        let segment = Segment(file: file, firstOffset: firstOffset)
        try segment.checkTail()
        return segment
    }

    /// Checks that nothing follows the committed end: a committed end lowered by damage onto a batch boundary
    /// would otherwise hide the batches after it. Skipped while a writer is active or after a reboot (recovery's
    /// job); the words are read in an order that makes a concurrent append visible as a change.
    func checkTail() throws(ShardLogError) {
        let boot = file.loadRelaxed(at: SegmentHeader.bootIdentity)
        guard boot == 0 || boot == FileSystem.bootIdentity else { return }
        let writer1 = file.loadAcquiring(at: SegmentHeader.writerState)
        let end1 = file.loadAcquiring(at: SegmentHeader.committedEnd)
        guard writer1 == 0, end1 >= SegmentHeader.byteCount, end1 + 4 <= capacity else { return }
        let length = file.uint32(at: Int(end1))
        let writer2 = file.loadAcquiring(at: SegmentHeader.writerState)
        let end2 = file.loadAcquiring(at: SegmentHeader.committedEnd)
        guard length != 0, writer2 == 0, end2 == end1 else { return }
        throw ShardLogError(
            .corruption,
            "\(file.path) is damaged: a record batch follows its committed end \(end1) (the header's committed end"
                + " was lowered); restore it from a backup; the shard is not written to until then")
    }

    // MARK: - Header words

    /// The published end of the log in this file (acquire load), clamped to header...capacity so that a word
    /// damaged while mapped can never send a read out of bounds (opening validates it; the walk over batch headers
    /// reports any inconsistency as corruption).
    var committedEnd: Int {
        let word = file.loadAcquiring(at: SegmentHeader.committedEnd)
        return Int(min(max(word, Int64(SegmentHeader.byteCount)), Int64(capacity)))
    }
    /// The state word (open, sealed, closed).
    var state: SegmentHeader.State {
        SegmentHeader.State(rawValue: file.loadAcquiring(at: SegmentHeader.state)) ?? .open
    }
    /// The largest arrival time in the file (ms).
    var lastTimestamp: Int64 { file.loadRelaxed(at: SegmentHeader.lastTimestamp) }
    /// The capacity in bytes.
    var capacity: Int { file.byteCount }

    // MARK: - Index

    /// Walks batch headers from the last walked point to the committed end, adding sparse index entries.
    /// - Returns: the offset just past the last published record.
    @discardableResult
    func catchUp() throws(ShardLogError) -> UInt64 {
        let end = committedEnd
        return try index.withLock { (idx: inout SparseIndex) throws(ShardLogError) -> UInt64 in
            while idx.walkedEnd < end {
                let pos = idx.walkedEnd
                let length = Int(file.uint32(at: pos))
                let offset = file.uint64(at: pos + 16)
                let count = Int(file.uint32(at: pos + 12))
                guard length >= RecordBatch.headerByteCount, length <= end - pos, offset == idx.walkedOffset,
                    count > 0
                else {
                    throw ShardLogError(
                        .corruption,
                        "\(file.path): batch header at byte \(pos) is damaged below the committed end \(end)"
                            + " (expected offset \(idx.walkedOffset)); the data after it cannot be read")
                }
                if pos - idx.lastIndexed >= 4096 {
                    idx.entries.append(
                        Entry(offset: offset, position: pos, timestamp: Int64(bitPattern: file.uint64(at: pos + 24))))
                    idx.lastIndexed = pos
                }
                idx.walkedEnd = pos + length
                idx.walkedOffset = offset + UInt64(count)
            }
            return idx.walkedOffset
        }
    }

    /// Catches up and returns the offset and byte position up to which batch headers were checked.
    private func walked() throws(ShardLogError) -> (offset: UInt64, end: Int) {
        let tip = try catchUp()
        return (tip, index.withLock { $0.walkedEnd })
    }

    private func changedUnderfoot(_ pos: Int) -> ShardLogError {
        ShardLogError(.corruption, "\(file.path): the batch header at byte \(pos) changed after it was checked")
    }

    /// The byte position of the batch containing `offset`, or of the first batch after it.
    /// - Complexity: O(log n) index search plus a walk over at most 4 KiB of batch headers.
    private func position(of offset: UInt64) -> Int {
        index.withLock { idx in
            let after = idx.entries.partitionPoint { $0.offset <= offset }
            return after == 0 ? SegmentHeader.byteCount : idx.entries[after - 1].position
        }
    }

    /// Reads records from `offset` on into `out`, stopping when `out` holds `limit` records or `maxBytes` of keys
    /// and data, or at the committed end.
    ///
    /// Records are read in order without gaps: the first record that does not fit in `maxBytes` ends the read
    /// (it comes first next time), except that a first record (`out` empty) larger than `maxBytes` (up to 10 MiB)
    /// is read alone. Every batch is checksum-verified before use; records stay in their decoded batch (no copy).
    /// - Returns: the offset after the last record read (or `offset`), and whether the read stopped at `maxBytes`
    ///   (the caller must not read further for this call).
    /// - Throws: `.corruption` naming the file and byte position when a published batch fails its checksum.
    /// - Complexity: O(log n + k) for k records read.
    func read(from offset: UInt64, limit: Int, maxBytes: Int, into out: inout StoredRecords) throws(ShardLogError)
        -> (next: UInt64, full: Bool)
    {
        let (tip, end) = try walked()
        guard offset < tip, out.count < limit else { return (offset, false) }
        var pos = position(of: offset)
        var next = offset
        while pos < end && out.count < limit && out.byteCount < maxBytes {
            let length = Int(file.uint32(at: pos))
            let batchFirst = file.uint64(at: pos + 16)
            let count = UInt64(file.uint32(at: pos + 12))
            guard length >= RecordBatch.headerByteCount, length <= end - pos, batchFirst <= SegmentHeader.maxOffset
            else { throw changedUnderfoot(pos) }
            if batchFirst + count <= next {
                pos += length
                continue
            }
            let raw = file.bytes(at: pos, count: length)
            guard let header = BatchDecoder.verify(raw) else {
                throw ShardLogError(
                    .corruption,
                    "\(file.path): record batch at byte \(pos) (offsets \(batchFirst)..<\(batchFirst + count))"
                        + " fails its CRC-32C checksum; the shard is corrupt at this point")
            }
            var batch = try BatchDecoder.slices(raw, header: header, fromOffset: next, where: "\(file.path):\(pos)")
            var taken = 0
            var bytes = 0
            var stopped = false
            for r in batch.records {
                let size = r.data.count + r.key.count
                if out.count + taken >= limit { break }
                // A record that does not fit ends the read here: skipping on to the next batch would lose it.
                if out.byteCount + bytes + size > maxBytes && out.count + taken > 0 {
                    stopped = true
                    break
                }
                bytes += size
                taken += 1
                next = r.offset + 1
            }
            batch.records.removeSubrange(taken...)
            out.append(batch, byteCount: bytes)
            if stopped { return (next, true) }
            pos += length
        }
        return (next, out.byteCount >= maxBytes)
    }

    /// The first offset whose arrival time is at least `timestamp` (ms), or the segment's tip if none.
    /// - Complexity: O(log n) plus a walk inside one 4 KiB index interval.
    func offset(atTimestamp timestamp: Int64) throws(ShardLogError) -> UInt64 {
        let (tip, end) = try walked()
        var pos = index.withLock { idx in
            let after = idx.entries.partitionPoint { $0.timestamp < timestamp }
            return after == 0 ? SegmentHeader.byteCount : idx.entries[after - 1].position
        }
        while pos < end {
            let length = Int(file.uint32(at: pos))
            guard length >= RecordBatch.headerByteCount, length <= end - pos else { throw changedUnderfoot(pos) }
            let last = Int64(bitPattern: file.uint64(at: pos + 32))
            if last >= timestamp {
                let raw = file.bytes(at: pos, count: length)
                guard let header = BatchDecoder.verify(raw) else {
                    throw ShardLogError(.corruption, "\(file.path): record batch at byte \(pos) fails its checksum")
                }
                let entries = try BatchDecoder.records(raw, header: header, fromOffset: 0, where: "\(file.path):\(pos)")
                if let hit = entries.first(where: { $0.timestamp >= timestamp }) { return hit.offset }
            }
            pos += length
        }
        return tip
    }
}

/// Wall-clock milliseconds since the epoch.
enum Clock {
    static func milliseconds() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
    }
}
