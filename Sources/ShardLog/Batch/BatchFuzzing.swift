/// Entry points that expose the batch codec to the fuzz harness (`ShardLogFuzzing`), which cannot see internal types.
///
/// Each function takes arbitrary bytes, must never trap, and throws away what it decodes.
package enum BatchFuzzing {
    /// Walks `bytes` as a sequence of record batches the way a segment reader does, decoding each one whose header
    /// parses — also when its checksum does not match, as if a damaged batch had a colliding CRC.
    /// - Parameter bytes: arbitrary bytes.
    package static func decodeBatches(_ bytes: [UInt8]) {
        var start = 0
        while start < bytes.count, let header = RecordBatch.header(bytes, at: start) {
            let end = header.byteCount <= bytes.count - start ? start + header.byteCount : bytes.count
            let batch = Array(bytes[start..<end])
            _ = BatchDecoder.verify(batch)
            _ = try? BatchDecoder.records(batch, header: header, fromOffset: 0, where: "fuzz input byte \(start)")
            _ = header.nextOffset
            start = end
        }
    }

    /// Decompresses `bytes` as one LZ4 block: the first 3 bytes give the expected decoded size (little-endian, so at
    /// most 16 MiB), the rest is the block. Then compresses the block bytes and checks they decompress to themselves.
    /// - Parameter bytes: arbitrary bytes.
    package static func lz4(_ bytes: [UInt8]) {
        guard bytes.count >= 3 else { return }
        let byteCount = Int(bytes[0]) | Int(bytes[1]) << 8 | Int(bytes[2]) << 16
        _ = try? LZ4.decompress(bytes, 3..<bytes.count, byteCount: byteCount)
        let block = Array(bytes[3...])
        if let packed = LZ4.compress(block, 0..<block.count, limit: block.count + block.count / 255 + 16) {
            let unpacked = try? LZ4.decompress(packed, 0..<packed.count, byteCount: block.count)
            precondition(unpacked == block, "LZ4 round trip changed \(block.count) bytes")
        }
    }
}
