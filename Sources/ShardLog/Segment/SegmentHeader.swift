/// The fixed 4 KiB header at the start of every segment file.
///
/// Layout (little-endian; the 8-byte words from 64 on are read and written atomically through the mapping):
/// ```
///   0  "SHLGSEG1"          magic
///   8  u32 formatVersion   (1)          12 u32 headerByteCount (4096)
///  16  u64 firstOffset     offset of the first record (also the file name, 20 digits)
///  24  u64 capacity        file length in bytes, preallocated
///  32  i64 createdAt       ms since the epoch          40 u32 shardIndex
///  64  committedEnd        byte position after the last published batch (release store / acquire load)
///  72  nextOffset          offset the next batch will get (written under the shard lock before committedEnd)
///  80  syncedEnd           byte position known to be on stable storage (fdatasync'ed)
///  88  lastTimestamp       largest arrival time (ms) in the segment
///  96  writerState         1 while a batch is being written; a 1 seen by the next writer means a writer died
/// 104  state               0 open, 1 sealed (the next segment exists), 2 shard closed (resharded)
/// 112  bootIdentity        boot of the last writer; another boot means unsynced pages may be lost
/// 120  firstTimestamp      arrival time (ms) of the first record, 0 while empty
/// ```
/// Record batches (see ``RecordBatch``) follow from byte 4096.
enum SegmentHeader {
    static let magic: [UInt8] = Array("SHLGSEG1".utf8)
    static let byteCount = 4096
    static let formatVersion: UInt32 = 1

    static let committedEnd = 64
    static let nextOffset = 72
    static let syncedEnd = 80
    static let lastTimestamp = 88
    static let writerState = 96
    static let state = 104
    static let bootIdentity = 112
    static let firstTimestamp = 120

    /// Segment states stored at ``state``.
    enum State: Int64 {
        case open = 0
        case sealed = 1
        case closed = 2
    }

    /// The header bytes of a new, empty segment.
    static func make(firstOffset: UInt64, capacity: Int, shardIndex: Int, now: Int64) -> [UInt8] {
        var h = [UInt8](repeating: 0, count: byteCount)
        h.replaceSubrange(0..<8, with: magic)
        h.putU32(formatVersion, at: 8)
        h.putU32(UInt32(byteCount), at: 12)
        h.putU64(firstOffset, at: 16)
        h.putU64(UInt64(capacity), at: 24)
        h.putU64(UInt64(bitPattern: now), at: 32)
        h.putU32(UInt32(shardIndex), at: 40)
        h.putU64(UInt64(byteCount), at: committedEnd)
        h.putU64(firstOffset, at: nextOffset)
        h.putU64(UInt64(byteCount), at: syncedEnd)
        return h
    }

    /// The largest first offset a segment may have: offsets stay far below `Int64.max`, so header arithmetic on
    /// them never overflows.
    static let maxOffset: UInt64 = 1 << 62
    /// The largest capacity a segment header may state (1 TiB).
    static let maxCapacity = 1 << 40

    /// Validates a segment's header as read from disk, before the file is mapped.
    ///
    /// Checks the magic, format version, header size, the first offset against the file name, the shard index,
    /// the capacity against the real file size, and the ranges of the mutable words (committed end and synced end
    /// within header..capacity, next offset not below the first, known state and writer-state values).
    /// - Parameters:
    ///   - head: the file's first bytes (up to 4 KiB).
    ///   - fileSize: the file's real length.
    ///   - path: for messages.
    ///   - firstOffset: the offset the file name promises.
    ///   - shardIndex: the shard the file belongs to.
    ///   - mayExtend: the caller can re-extend a file shorter than its capacity (a writer after a power loss).
    /// - Returns: the capacity, the length to map.
    /// - Throws: `.corruption` naming the file, the damaged field and what to do.
    static func validate(
        _ head: [UInt8], fileSize: Int, path: String, firstOffset: UInt64, shardIndex: Int, mayExtend: Bool
    ) throws(ShardLogError) -> Int {
        func damaged(_ what: String) -> ShardLogError {
            ShardLogError(
                .corruption,
                "\(path) is damaged: \(what); its records cannot be read and the shard is not written to until it is"
                    + " restored from a backup (or the shard's damaged files are moved away)")
        }
        guard head.count >= 128 else { throw damaged("the file is \(fileSize) bytes, shorter than its header") }
        guard Array(head[0..<8]) == magic else {
            if head.prefix(128).allSatisfy({ $0 == 0 }) { throw damaged("the segment header is zeroed") }
            throw damaged("bad magic (not a ShardLog segment)")
        }
        guard head.u32(8) == formatVersion else { throw damaged("segment format \(head.u32(8)); this build reads 1") }
        guard head.u32(12) == UInt32(byteCount) else { throw damaged("header size \(head.u32(12)), expected 4096") }
        let first = head.u64(16)
        guard first == firstOffset else { throw damaged("first offset \(first) does not match the file name") }
        guard head.u32(40) == UInt32(truncatingIfNeeded: shardIndex) else {
            throw damaged("shard index \(head.u32(40)) in the header, expected \(shardIndex)")
        }
        let capacityWord = head.u64(24)
        guard capacityWord > UInt64(byteCount + RecordBatch.headerByteCount), capacityWord <= UInt64(maxCapacity)
        else { throw damaged("impossible capacity \(capacityWord)") }
        let capacity = Int(capacityWord)
        if fileSize != capacity && !(mayExtend && fileSize < capacity && fileSize >= byteCount) {
            throw damaged("the file is \(fileSize) bytes but its header says \(capacity) (truncated or bad capacity)")
        }
        let committed = Int64(bitPattern: head.u64(committedEnd))
        guard committed >= byteCount && committed <= capacity else {
            throw damaged("committed end \(committed) is outside \(byteCount)...\(capacity)")
        }
        let synced = Int64(bitPattern: head.u64(syncedEnd))
        guard synced >= byteCount && synced <= capacity else {
            throw damaged("synced end \(synced) is outside \(byteCount)...\(capacity)")
        }
        let next = head.u64(nextOffset)
        guard next >= first, next <= maxOffset else {
            throw damaged("next offset \(next) is below its first offset \(first) or impossibly large")
        }
        let stateWord = Int64(bitPattern: head.u64(state))
        guard State(rawValue: stateWord) != nil else { throw damaged("unknown state \(stateWord)") }
        let writer = head.u64(writerState)
        guard writer <= 1 else { throw damaged("unknown writer state \(writer)") }
        return capacity
    }

    /// The 20-digit file name of the segment whose first offset is `offset`.
    static func fileName(firstOffset offset: UInt64) -> String {
        let digits = String(offset)
        return String(repeating: "0", count: 20 - digits.count) + digits + ".seg"
    }
}
