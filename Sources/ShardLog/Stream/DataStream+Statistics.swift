/// A resumable count of what one shard holds: records appended (its tip) and the uncompressed payload bytes of the
/// batches walked so far, read from segment and batch headers only (no record is decoded or decompressed).
///
/// Pass the cursor of the previous call to ``DataStream/advance(_:shardId:)``: only batches published since are
/// walked, so keeping one cursor per shard makes each later call cost one header read per new batch. A segment
/// removed by retention before it was walked is skipped (its records still count in ``records``, which is the
/// tip; its bytes do not). A value type: safe to share.
public struct ShardByteCursor: Sendable, Equatable {
    /// The first offset of the segment being walked.
    var segmentOffset: UInt64
    /// The byte position in that segment up to which batches were counted.
    var position: Int
    /// Records appended to the shard so far (the offset after the last walked record: its tip).
    public internal(set) var records: UInt64
    /// Uncompressed payload bytes of the batches walked: partition keys and data plus 3–6 bytes of length and
    /// timestamp varints per record.
    public internal(set) var payloadBytes: UInt64
}

extension DataStream {
    /// Walks the batch headers of shard `shardId` published since `cursor` (from the oldest stored segment when
    /// `nil`), up to each segment's committed end.
    /// - Parameters:
    ///   - cursor: The cursor of the previous call for this shard, or `nil`.
    ///   - shardId: The shard.
    /// - Returns: The advanced cursor.
    /// - Throws: `.resourceNotFound` for an unknown shard; `.corruption` naming the file for a damaged batch header
    ///   below a committed end; `.io`/`.limitExceeded` when a segment cannot be opened.
    /// - Complexity: one header read per batch published since `cursor`; opens (maps) the segments walked, through
    ///   the process's segment cache.
    public func advance(_ cursor: ShardByteCursor?, shardId: String) throws(ShardLogError) -> ShardByteCursor {
        let shard = try self.shard(id: shardId)
        var offsets = shard.segmentOffsets()
        // Re-list the directory only when the cursor is not on the newest known segment (it may have been removed
        // by retention, or a successor created): an idle or active shard costs no listing.
        if cursor == nil || offsets.last != cursor?.segmentOffset {
            offsets = try shard.refreshTable()
        }
        guard let first = offsets.first else {
            return cursor
                ?? ShardByteCursor(segmentOffset: 0, position: SegmentHeader.byteCount, records: 0, payloadBytes: 0)
        }
        var c =
            cursor
            ?? ShardByteCursor(
                segmentOffset: first, position: SegmentHeader.byteCount, records: first, payloadBytes: 0)
        if !offsets.contains(c.segmentOffset) {
            // Removed by retention before it was walked to its end: go on with the oldest segment stored after it.
            guard let later = offsets.first(where: { $0 > c.segmentOffset }) else { return c }
            c.segmentOffset = later
            c.position = SegmentHeader.byteCount
            c.records = max(c.records, later)
        }
        while true {
            let seg = try shard.segment(c.segmentOffset)
            let sealed = seg.state == .sealed  // read before the end: a sealed segment's end no longer moves
            let end = seg.committedEnd
            while c.position < end {
                let length = Int(seg.file.uint32(at: c.position))
                let count = UInt64(seg.file.uint32(at: c.position + 12))
                let offset = seg.file.uint64(at: c.position + 16)
                let payload = UInt64(seg.file.uint32(at: c.position + 40))
                guard length >= RecordBatch.headerByteCount, length <= end - c.position, count > 0 else {
                    throw ShardLogError(
                        .corruption,
                        "\(seg.file.path): batch header at byte \(c.position) is damaged below the committed end \(end)"
                    )
                }
                c.position += length
                c.records = offset + count
                c.payloadBytes += payload
            }
            guard sealed else { return c }
            let at = offsets.partitionPoint { $0 <= c.segmentOffset }
            if at == offsets.count { offsets = try shard.refreshTable() }
            let next = offsets.partitionPoint { $0 <= c.segmentOffset }
            guard next < offsets.count else { return c }
            c.segmentOffset = offsets[next]
            c.position = SegmentHeader.byteCount
        }
    }
}
