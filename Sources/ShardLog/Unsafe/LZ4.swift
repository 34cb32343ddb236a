import CLZ4

/// LZ4 block compression (liblz4), used per record batch.
enum LZ4 {
    /// Compresses `source[range]`; returns `nil` when the result would not be smaller than `limit` bytes.
    /// - Complexity: O(n), about 0.7 GB/s per core.
    static func compress(_ source: [UInt8], _ range: Range<Int>, limit: Int) -> [UInt8]? {
        precondition(range.lowerBound >= 0 && range.upperBound <= source.count, "compress range out of bounds")
        guard range.count > 0, range.count <= Int(LZ4_MAX_INPUT_SIZE), limit > 0 else { return nil }
        var out = [UInt8](repeating: 0, count: limit)
        let n = source.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in
                LZ4_compress_default(
                    (src.baseAddress! + range.lowerBound).assumingMemoryBound(to: CChar.self),
                    dst.baseAddress!.assumingMemoryBound(to: CChar.self),
                    Int32(range.count),
                    Int32(limit)
                )
            }
        }
        guard n > 0 else { return nil }
        out.removeLast(out.count - Int(n))
        return out
    }

    /// A bound on what one LZ4 block of `n` bytes can decode to: each match-length extension byte adds at most 255
    /// bytes (LZ4's maximum ratio is about 255:1), so a larger declared size is damage, refused before allocating.
    static func maximumDecodedByteCount(blockByteCount n: Int) -> Int {
        n > (Int.max - 64) / 256 ? Int.max : 256 * n + 64
    }

    /// Decompresses `source[range]` into exactly `byteCount` bytes.
    /// - Throws: `.corruption` when the block is malformed or decodes to another size, or when the sizes cannot be
    ///   those of an LZ4 block (empty block, more than `LZ4_MAX_INPUT_SIZE`, a decoded size no block of this length
    ///   reaches) — checked before the output is allocated.
    static func decompress(_ source: [UInt8], _ range: Range<Int>, byteCount: Int) throws(ShardLogError) -> [UInt8] {
        precondition(range.lowerBound >= 0 && range.upperBound <= source.count, "decompress range out of bounds")
        guard !range.isEmpty, range.count <= Int(LZ4_MAX_INPUT_SIZE), byteCount >= 0, byteCount <= Int(Int32.max),
            byteCount <= maximumDecodedByteCount(blockByteCount: range.count)
        else {
            throw ShardLogError(
                .corruption, "LZ4 block of \(range.count) bytes cannot decode to \(byteCount) bytes")
        }
        var out = [UInt8](repeating: 0, count: byteCount)
        let n = source.withUnsafeBytes { src -> Int32 in
            guard let base = src.baseAddress else { return -1 }
            return out.withUnsafeMutableBytes { dst in
                LZ4_decompress_safe(
                    (base + range.lowerBound).assumingMemoryBound(to: CChar.self),
                    dst.baseAddress?.assumingMemoryBound(to: CChar.self),
                    Int32(range.count),
                    Int32(byteCount)
                )
            }
        }
        guard n == byteCount else {
            throw ShardLogError(.corruption, "LZ4 block decoded to \(n) bytes instead of \(byteCount)")
        }
        return out
    }
}
