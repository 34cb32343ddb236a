/// The on-disk record batch: the unit of append, checksum, compression and recovery.
///
/// Layout (little-endian), as in DESIGN.md:
/// ```
///  0  u32 length            whole batch, header included
///  4  u32 crc32c            CRC-32C of bytes [8, length)
///  8  u8  version (1)       9  u8 flags (bit 0: payload is LZ4)   10 u16 reserved
/// 12  u32 recordCount
/// 16  u64 firstOffset       offset of the first record in its shard
/// 24  i64 firstTimestamp    arrival, ms since the epoch
/// 32  i64 lastTimestamp
/// 40  u32 payloadByteCount  uncompressed payload size
/// 44  u32 reserved
/// 48  payload               per record: varint timestampDelta, varint keyLength, key, varint dataLength, data
/// ```
/// A length word of 0 marks the clean end of a preallocated (zero-filled) segment.
enum RecordBatch {
    /// Size of the fixed header in bytes.
    static let headerByteCount = 48
    /// Format version written in byte 8.
    static let version: UInt8 = 1
    /// Flag bit: the payload is one LZ4 block.
    static let lz4Flag: UInt8 = 1

    /// The fixed header fields of a batch.
    struct Header: Equatable {
        var byteCount: Int
        var checksum: UInt32
        var flags: UInt8
        var recordCount: Int
        var firstOffset: UInt64
        var firstTimestamp: Int64
        var lastTimestamp: Int64
        var payloadByteCount: Int

        var isCompressed: Bool { flags & RecordBatch.lz4Flag != 0 }
        var nextOffset: UInt64 { firstOffset + UInt64(recordCount) }
    }

    /// Decodes the fixed header from its first 48 bytes, checking only what needs no payload.
    /// - Returns: `nil` when the bytes cannot be a batch header (zero length, bad version, impossible sizes).
    static func header(_ b: [UInt8], at i: Int = 0) -> Header? {
        guard b.count - i >= headerByteCount else { return nil }
        let length = Int(b.u32(i))
        guard length >= headerByteCount, b[i + 8] == version else { return nil }
        let count = Int(b.u32(i + 12))
        let payload = Int(b.u32(i + 40))
        // Each record takes at least 3 payload bytes; the offsets of the batch must fit in UInt64.
        let firstOffset = b.u64(i + 16)
        guard count > 0, payload >= count * 3, firstOffset <= UInt64.max - UInt64(count) else { return nil }
        return Header(
            byteCount: length, checksum: b.u32(i + 4), flags: b[i + 9], recordCount: count,
            firstOffset: firstOffset, firstTimestamp: Int64(bitPattern: b.u64(i + 24)),
            lastTimestamp: Int64(bitPattern: b.u64(i + 32)), payloadByteCount: payload)
    }
}

extension [UInt8] {
    @inline(__always) func u32(_ i: Int) -> UInt32 {
        UInt32(self[i]) | UInt32(self[i + 1]) << 8 | UInt32(self[i + 2]) << 16 | UInt32(self[i + 3]) << 24
    }

    @inline(__always) func u64(_ i: Int) -> UInt64 {
        UInt64(u32(i)) | UInt64(u32(i + 4)) << 32
    }

    @inline(__always) mutating func putU32(_ v: UInt32, at i: Int) {
        self[i] = UInt8(truncatingIfNeeded: v)
        self[i + 1] = UInt8(truncatingIfNeeded: v >> 8)
        self[i + 2] = UInt8(truncatingIfNeeded: v >> 16)
        self[i + 3] = UInt8(truncatingIfNeeded: v >> 24)
    }

    @inline(__always) mutating func putU64(_ v: UInt64, at i: Int) {
        putU32(UInt32(truncatingIfNeeded: v), at: i)
        putU32(UInt32(truncatingIfNeeded: v >> 32), at: i + 4)
    }

    @inline(__always) mutating func appendVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        append(UInt8(v))
    }

    @inline(__always) func varint(_ i: inout Int) -> UInt64? {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while i < count, shift < 64 {
            let byte = self[i]
            i += 1
            result |= UInt64(byte & 0x7f) << shift
            if byte < 0x80 { return result }
            shift += 7
        }
        return nil
    }
}
