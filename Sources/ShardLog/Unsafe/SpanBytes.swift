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
