import CLZ4

extension LZ4 {
    /// Compresses `source[range]` and appends the block to `destination` (no array of its own: the batch encoder
    /// writes header and block into one reused buffer).
    /// - Returns: the block's size, or `nil` (with `destination` unchanged) when it would not be smaller than `limit`
    ///   bytes.
    /// - Complexity: O(n), about 0.7 GB/s per core.
    static func compress(
        _ source: [UInt8], _ range: Range<Int>, appendingTo destination: inout [UInt8], limit: Int
    ) -> Int? {
        precondition(range.lowerBound >= 0 && range.upperBound <= source.count, "compress range out of bounds")
        guard range.count > 0, range.count <= Int(LZ4_MAX_INPUT_SIZE), limit > 0, limit <= Int(Int32.max) else {
            return nil
        }
        let base = destination.count
        destination.append(contentsOf: repeatElement(0, count: limit))
        let n = source.withUnsafeBytes { src -> Int32 in
            destination.withUnsafeMutableBytes { dst -> Int32 in
                guard let from = src.baseAddress, let to = dst.baseAddress else { return 0 }
                return LZ4_compress_default(
                    (from + range.lowerBound).assumingMemoryBound(to: CChar.self),
                    (to + base).assumingMemoryBound(to: CChar.self), Int32(range.count), Int32(limit))
            }
        }
        guard n > 0 else {
            destination.removeLast(limit)
            return nil
        }
        destination.removeLast(limit - Int(n))
        return Int(n)
    }
}
