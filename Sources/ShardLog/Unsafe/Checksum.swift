import CShardLog

/// CRC-32C (Castagnoli), hardware-accelerated where the CPU has it (SSE4.2), through the `CShardLog` C target.
enum Checksum {
    /// The CRC-32C of `bytes`.
    static func crc32c(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        shardlog_crc32c(0, bytes.baseAddress, bytes.count)
    }

    /// The CRC-32C of `bytes` computed with the lookup table only (the path taken by CPUs without SSE4.2).
    static func crc32cPortable(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { shardlog_crc32c_portable(0, $0.baseAddress, $0.count) }
    }

    /// The CRC-32C of `bytes[range]`.
    /// - Complexity: O(range.count), several GB/s.
    static func crc32c(_ bytes: [UInt8], _ range: Range<Int>) -> UInt32 {
        precondition(range.lowerBound >= 0 && range.upperBound <= bytes.count, "checksum range out of bounds")
        return bytes.withUnsafeBytes { buf in
            shardlog_crc32c(0, buf.baseAddress.map { $0 + range.lowerBound }, range.count)
        }
    }
}
