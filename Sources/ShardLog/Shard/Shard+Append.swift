import Foundation
import Synchronization

/// Appending, rolling, recovery, closing and retention: everything that writes a shard.
extension Shard {
    /// Where an appended batch landed.
    struct Appended {
        var firstOffset: UInt64
        var count: Int
    }

    /// Appends records `members` of `records`, in that order, as one or more batches (each at most
    /// `options.maxBatchByteCount` of payload; a larger record is a batch of its own).
    ///
    /// Each batch is written with one `pwrite`, then published by a release store of the committed end; with
    /// durability `always` the call returns only after an `fdatasync` covering it (shared with concurrent callers).
    /// - Returns: the batches written, in order (offsets are contiguous within a batch).
    /// - Throws: `.resourceInUse` if the shard was closed by a reshard (re-route and retry), `.noSpace` when a new
    ///   segment cannot be allocated; data appended before the error stays stored.
    /// - Complexity: O(total bytes).
    func append(_ records: RecordBuffer, members: ArraySlice<Int32>, timestamp: Int64) throws(ShardLogError)
        -> [Appended]
    {
        let (out, written) = try writer.withLock {
            (w: inout Writer) throws(ShardLogError) -> ([Appended], (Segment, Int)?) in
            try withWriterLock(&w) { (w: inout Writer) throws(ShardLogError) in
                try appendLocked(records, members, timestamp: timestamp, &w)
            }
        }
        if written != nil { doorbell.ring(shardIndex: index) }
        if options.durability == .always, let (seg, end) = written { try synchronize(seg, through: end) }
        return out
    }

    /// ``append(_:members:timestamp:)`` under both locks.
    private func appendLocked(
        _ records: RecordBuffer, _ members: ArraySlice<Int32>, timestamp: Int64, _ w: inout Writer
    ) throws(ShardLogError) -> ([Appended], (Segment, Int)?) {
        var out: [Appended] = []
        var written: (Segment, Int)?
        var start = members.startIndex
        let keyBytes = records.keyBytes
        let dataBytes = records.dataBytes
        while start < members.endIndex {
            w.encoder.reset(timestamp: timestamp)
            var end = start
            while end < members.endIndex {
                let i = Int(members[end])
                let data = records.dataRange(i)
                if end != start && w.encoder.payloadByteCount + data.count > options.maxBatchByteCount { break }
                w.encoder.append(
                    key: keyBytes.span.extracting(records.keyRange(i)), data: dataBytes.span.extracting(data),
                    timestamp: timestamp)
                end += 1
            }
            let placed = try writeBatch(&w)
            out.append(Appended(firstOffset: placed.first, count: end - start))
            written = (placed.segment, placed.end)
            start = end
        }
        return (out, written)
    }

    /// Writes the encoder's batch (the caller holds the cross-process lock).
    private func writeBatch(_ w: inout Writer) throws(ShardLogError) -> (first: UInt64, segment: Segment, end: Int) {
        // A shard's first segment is made large enough for its first batch (a record of up to 10 MiB may exceed
        // the stream's segment size); later ones by `roll`.
        var seg = try activeSegment(
            &w, minimumByteCount: SegmentHeader.byteCount + RecordBatch.headerByteCount + w.encoder.payloadByteCount)
        if seg.state == .closed {
            throw ShardLogError(.resourceInUse, "shard \(shardId) is closed (resharded); writes go to its children")
        }
        seg.touch()
        // Checked against the batches when the segment became active; every later writer keeps it exact.
        var first = UInt64(bitPattern: seg.file.loadRelaxed(at: SegmentHeader.nextOffset))
        if first > SegmentHeader.maxOffset { first = try checkedNextOffset(seg) }
        var pos = seg.committedEnd
        let minimum = seg.file.loadRelaxed(at: SegmentHeader.lastTimestamp)
        var bytes = w.encoder.finish(firstOffset: first, minimumTimestamp: minimum)
        if pos + bytes.count > seg.capacity {
            seg = try roll(&w, from: seg, needing: bytes.count)
            first = seg.firstOffset
            pos = SegmentHeader.byteCount
            bytes = w.encoder.finish(firstOffset: first, minimumTimestamp: minimum)
        }
        seg.file.storeReleasing(1, at: SegmentHeader.writerState)
        try seg.file.write(bytes, at: pos)
        let header = RecordBatch.header(bytes)
        let last = header?.lastTimestamp ?? minimum
        if pos == SegmentHeader.byteCount {
            seg.file.storeReleasing(header?.firstTimestamp ?? last, at: SegmentHeader.firstTimestamp)
        }
        seg.file.storeReleasing(last, at: SegmentHeader.lastTimestamp)
        seg.file.storeReleasing(Int64(first) + Int64(w.encoder.recordCount), at: SegmentHeader.nextOffset)
        seg.file.storeReleasing(Int64(pos + bytes.count), at: SegmentHeader.committedEnd)
        seg.file.storeReleasing(FileSystem.bootIdentity, at: SegmentHeader.bootIdentity)
        seg.file.storeReleasing(0, at: SegmentHeader.writerState)
        return (first, seg, pos + bytes.count)
    }

    /// The offset the next batch of `seg` gets, checked against the walk over its batch headers and against the
    /// bytes after its committed end, so that a damaged header is reported instead of written over.
    /// - Throws: `.corruption` naming the file.
    private func checkedNextOffset(_ seg: Segment) throws(ShardLogError) -> UInt64 {
        let walked = try seg.catchUp()
        let word = UInt64(bitPattern: seg.file.loadRelaxed(at: SegmentHeader.nextOffset))
        guard word == walked else {
            throw ShardLogError(
                .corruption,
                "\(seg.file.path) is damaged: its next offset \(word) differs from the \(walked) its batches end at;"
                    + " not appending to shard \(shardId) until the file is restored from a backup")
        }
        try seg.checkTail()
        return walked
    }

    /// The segment to append to, under the writer lock: the newest file, recovered if its last writer died or the
    /// machine rebooted, rolled if sealed.
    private func activeSegment(_ w: inout Writer, minimumByteCount: Int = 0) throws(ShardLogError) -> Segment {
        if let active = w.active, active.state != .sealed {
            try recoverIfNeeded(active)
            return active
        }
        let offsets = try refreshTable()
        let seg: Segment
        if let last = offsets.last {
            seg = try segment(last)
        } else {
            seg = try createSegment(firstOffset: 0, byteCount: max(options.segmentByteCount, minimumByteCount))
        }
        // The successor is created before a segment is sealed: a sealed newest file means the next one is missing.
        if seg.state == .sealed { _ = try successor(of: seg) }
        // A writer that died between creating this file and sealing the one before left that one unsealed: seal it,
        // so readers at its end look for this one (they list the directory at the end of sealed segments only).
        if offsets.count >= 2, let previous = try? segment(offsets[offsets.count - 2]), previous.state == .open {
            previous.file.storeReleasing(SegmentHeader.State.sealed.rawValue, at: SegmentHeader.state)
        }
        try recoverIfNeeded(seg)
        _ = try checkedNextOffset(seg)
        w.active = seg
        return seg
    }

    private func createSegment(firstOffset: UInt64, byteCount: Int) throws(ShardLogError) -> Segment {
        let path = path(ofSegment: firstOffset)
        do {
            let seg = try Segment.create(path: path, firstOffset: firstOffset, capacity: byteCount, shardIndex: index)
            return register(seg)
        } catch  where error.code == .resourceInUse {
            // Created by a writer that died before sealing the previous one: reuse it. A damaged one is reported
            // (never deleted or written over).
            return try segment(firstOffset)
        } catch  where error.code == .limitExceeded {
            SegmentCache.shared.evictAll()
            let seg = try Segment.create(path: path, firstOffset: firstOffset, capacity: byteCount, shardIndex: index)
            return register(seg)
        }
    }

    /// Seals `seg` and starts the next segment, named by the next offset.
    private func roll(_ w: inout Writer, from seg: Segment, needing byteCount: Int) throws(ShardLogError) -> Segment {
        let next = try checkedNextOffset(seg)
        // An empty segment cannot be followed by one of the same name: it was made smaller than this batch by an
        // earlier writer (another segment size). Refuse the batch instead of writing past the file's end.
        guard next > seg.firstOffset else {
            throw ShardLogError(
                .invalidArgument,
                "a record batch of \(byteCount) bytes does not fit in the empty segment \(seg.file.path)"
                    + " (\(seg.capacity) bytes); raise the stream's segment size")
        }
        if options.durability != .none {
            try seg.file.synchronize()
            seg.file.storeReleasing(Int64(seg.committedEnd), at: SegmentHeader.syncedEnd)
        }
        let capacity = max(options.segmentByteCount, byteCount + SegmentHeader.byteCount)
        let fresh = try createSegment(firstOffset: next, byteCount: capacity)
        seg.file.storeReleasing(SegmentHeader.State.sealed.rawValue, at: SegmentHeader.state)
        w.active = fresh
        return fresh
    }

    /// Makes the published data durable up to byte `end` of `seg`, sharing one `fdatasync` among concurrent callers.
    func synchronize(_ seg: Segment, through end: Int) throws(ShardLogError) {
        if Int(seg.file.loadAcquiring(at: SegmentHeader.syncedEnd)) >= end { return }
        try syncGate.withLock { _ throws(ShardLogError) in
            if Int(seg.file.loadAcquiring(at: SegmentHeader.syncedEnd)) >= end { return }
            let target = seg.committedEnd
            try seg.file.synchronize()
            let current = Int(seg.file.loadAcquiring(at: SegmentHeader.syncedEnd))
            if target > current { seg.file.storeReleasing(Int64(target), at: SegmentHeader.syncedEnd) }
        }
    }

    /// Flushes the active segment (durability `interval`).
    func synchronizeActive() throws(ShardLogError) {
        guard let seg = writer.withLock({ $0.active }) else { return }
        let end = seg.committedEnd
        try synchronize(seg, through: end)
    }

    // MARK: - Recovery

    /// Recovers the tail of `seg` when its last writer died mid-batch or the machine rebooted since the last write.
    ///
    /// Walks batch headers from the start (cheap hops) and verifies checksums from the trusted point on: the
    /// committed end after a process crash (the page cache kept everything published), the synced end after a
    /// reboot. It truncates at the first bad or discontinuous batch above that point and zeroes the rest. A bad
    /// batch below the trusted point is corruption and is reported, never silently dropped.
    /// - Throws: `.corruption` naming the file and byte.
    func recoverIfNeeded(_ seg: Segment) throws(ShardLogError) {
        let dirty = seg.file.loadAcquiring(at: SegmentHeader.writerState) != 0
        let lastBoot = seg.file.loadRelaxed(at: SegmentHeader.bootIdentity)
        let rebooted = lastBoot != 0 && lastBoot != FileSystem.bootIdentity
        guard dirty || rebooted else { return }
        let committed = seg.committedEnd
        let trusted = rebooted ? min(committed, Int(seg.file.loadRelaxed(at: SegmentHeader.syncedEnd))) : committed
        var pos = SegmentHeader.byteCount
        var expected = seg.firstOffset
        var lastTimestamp = Int64(0)
        var firstTimestamp = Int64(0)
        while pos + RecordBatch.headerByteCount <= seg.capacity {
            let head = seg.file.bytes(at: pos, count: RecordBatch.headerByteCount)
            let header = RecordBatch.header(head)
            let fits = header.map { pos + $0.byteCount <= seg.capacity && $0.firstOffset == expected } ?? false
            var good = fits
            if let h = header, fits, pos + h.byteCount > trusted {
                good = seg.file.crc32c(at: pos + 8, count: h.byteCount - 8) == h.checksum
            }
            guard good, let h = header else {
                if pos < trusted {
                    throw ShardLogError(
                        .corruption,
                        "\(seg.file.path): batch at byte \(pos) is damaged below the recovered point \(trusted);"
                            + " refusing to truncate acknowledged data")
                }
                break
            }
            if firstTimestamp == 0 { firstTimestamp = h.firstTimestamp }
            lastTimestamp = max(lastTimestamp, h.lastTimestamp)
            pos += h.byteCount
            expected = h.nextOffset
        }
        try seg.file.zero(at: pos, count: seg.capacity - pos)
        seg.file.storeReleasing(Int64(expected), at: SegmentHeader.nextOffset)
        seg.file.storeReleasing(lastTimestamp, at: SegmentHeader.lastTimestamp)
        seg.file.storeReleasing(firstTimestamp, at: SegmentHeader.firstTimestamp)
        seg.file.storeReleasing(Int64(pos), at: SegmentHeader.committedEnd)
        if rebooted { seg.file.storeReleasing(Int64(min(pos, trusted)), at: SegmentHeader.syncedEnd) }
        seg.file.storeReleasing(FileSystem.bootIdentity, at: SegmentHeader.bootIdentity)
        seg.file.storeReleasing(0, at: SegmentHeader.writerState)
    }

    // MARK: - Closing and retention

    /// Closes the shard for writes (a reshard): marks its newest segment closed.
    /// - Returns: the offset after its last record.
    func close() throws(ShardLogError) -> UInt64 {
        defer { doorbell.ringAll() }
        return try writer.withLock { (w: inout Writer) throws(ShardLogError) -> UInt64 in
            try withWriterLock(&w) { (w: inout Writer) throws(ShardLogError) -> UInt64 in
                let seg = try activeSegment(&w)
                let end = try checkedNextOffset(seg)
                seg.file.storeReleasing(SegmentHeader.State.closed.rawValue, at: SegmentHeader.state)
                return end
            }
        }
    }

    /// Deletes whole segments whose newest record arrived before `cutoff` (ms). The newest segment always stays.
    /// - Returns: how many segment files were deleted.
    func deleteSegments(olderThan cutoff: Int64) throws(ShardLogError) -> Int {
        try writer.withLock { (w: inout Writer) throws(ShardLogError) -> Int in
            try withWriterLock(&w) { (w: inout Writer) throws(ShardLogError) -> Int in
                let offsets = try refreshTable()
                var deleted = 0
                for o in offsets.dropLast() {
                    let seg = try segment(o)
                    guard seg.lastTimestamp < cutoff else { break }
                    if unlinkFile(path(ofSegment: o)) { deleted += 1 }
                    forget(o)
                }
                if deleted > 0 { try FileSystem.synchronizeDirectory(of: directory + "/x") }
                return deleted
            }
        }
    }

    private func unlinkFile(_ path: String) -> Bool {
        (try? FileManager.default.removeItem(atPath: path)) != nil
    }
}
