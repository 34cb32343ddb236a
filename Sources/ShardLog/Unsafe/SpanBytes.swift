import CShardLog

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension Array where Element == UInt8 {
    /// Appends the bytes `span` views in one copy (as `append(contentsOf:)` of an array does): how a record's key
    /// and data go from a stored batch (``StoredRecords``) into a response body.
    /// - Complexity: O(`span.count`).
    package mutating func append(copying span: Span<UInt8>) {
        span.withUnsafeBufferPointer { append(contentsOf: $0) }
    }

    /// Appends the bytes of padded base64 `text`, decoded in C (`shardlog_base64_decode`: one table lookup per
    /// digit and no bounds check per byte, where the safe Swift decoder `Base64Text` of ShardLogWire checks each; it
    /// accepts and refuses exactly what that one does): how the PutRecords reader decodes record data straight into
    /// its buffer.
    /// - Returns: `false`, with nothing appended, when `text` is not base64.
    /// - Complexity: O(`text.count`).
    package mutating func append(base64Decoding text: Span<UInt8>) -> Bool {
        var written = 0
        // Decoded straight into the array's new tail; only what a successful decode wrote counts as appended.
        append(addingCapacity: text.count / 4 * 3) { (tail: inout OutputSpan<UInt8>) in
            text.withUnsafeBufferPointer { input in
                tail.withUnsafeMutableBufferPointer { output, initialized in
                    written = shardlog_base64_decode(input.baseAddress, input.count, output.baseAddress)
                    if written > 0 { initialized = written }
                }
            }
        }
        return written >= 0
    }

    /// The index of the first `byte` at or after `start` (`memchr`), or `nil`: how a request reader finds the end
    /// of a long string, such as a record's base64 data, whose bytes the decoder checks anyway.
    /// - Complexity: O(bytes searched).
    package func firstIndex(of byte: UInt8, from start: Int) -> Int? {
        guard start >= 0, start < count else { return nil }
        return withUnsafeBufferPointer { buffer -> Int? in
            guard let base = buffer.baseAddress, let hit = memchr(base + start, Int32(byte), count - start) else {
                return nil
            }
            return UnsafeRawPointer(hit) - UnsafeRawPointer(base)
        }
    }
}
