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

    /// Decompresses `source[range]` into exactly `byteCount` bytes.
    /// - Throws: `.corruption` when the block is malformed or decodes to another size.
    static func decompress(_ source: [UInt8], _ range: Range<Int>, byteCount: Int) throws(ShardLogError) -> [UInt8] {
        precondition(range.lowerBound >= 0 && range.upperBound <= source.count, "decompress range out of bounds")
        var out = [UInt8](repeating: 0, count: byteCount)
        let n = source.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in
                LZ4_decompress_safe(
                    (src.baseAddress! + range.lowerBound).assumingMemoryBound(to: CChar.self),
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
