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

    /// Checks the magic and version of a header and returns the file's capacity.
    /// - Throws: `.corruption` naming the file.
    static func capacity(of head: [UInt8], path: String) throws(ShardLogError) -> Int {
        guard head.count >= 64, Array(head[0..<8]) == magic else {
            throw ShardLogError(.corruption, "\(path) is not a ShardLog segment (bad magic or truncated header)")
        }
        guard head.u32(8) == formatVersion else {
            throw ShardLogError(.corruption, "\(path) has segment format \(head.u32(8)); this build reads 1")
        }
        let capacity = Int(head.u64(24))
        guard capacity > byteCount else { throw ShardLogError(.corruption, "\(path) has impossible capacity") }
        return capacity
    }

    /// The 20-digit file name of the segment whose first offset is `offset`.
    static func fileName(firstOffset offset: UInt64) -> String {
        let digits = String(offset)
        return String(repeating: "0", count: 20 - digits.count) + digits + ".seg"
    }
}
