#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads a file descriptor (standard input for `shardlog put`) in chunks of whatever is available, up to a limit:
/// one `read(2)` per call, so a file is read in large chunks and a slow pipe's lines are returned as they arrive.
package struct InputReader {
    private let fd: Int32
    private let chunkByteCount: Int

    /// Creates a reader.
    /// - Parameters:
    ///   - fd: the descriptor (default 0, standard input).
    ///   - chunkByteCount: the most one call returns (default 1 MiB).
    package init(fd: Int32 = 0, chunkByteCount: Int = 1 << 20) {
        self.fd = fd
        self.chunkByteCount = chunkByteCount
    }

    /// The next chunk; empty at end of input.
    /// - Throws: `.io` when the read fails.
    package func next() throws(ShardLogError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: chunkByteCount)
        let count = try SystemCall.retrying("read standard input") {
            buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        }
        buffer.removeLast(buffer.count - count)
        return buffer
    }
}
