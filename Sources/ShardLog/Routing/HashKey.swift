/// The 128-bit hash-key space of Kinesis: a partition key's MD5, read as an unsigned big-endian integer.
public enum HashKey {
    /// The largest hash key, 2^128 − 1.
    public static let max = UInt128.max

    /// The hash key of a partition key: MD5 of its UTF-8 bytes as an unsigned 128-bit big-endian integer.
    /// - Complexity: O(key length).
    public static func of(partitionKey: String) -> UInt128 {
        MD5Key.hash(partitionKey)
    }

    /// Parses a decimal `ExplicitHashKey` (`0|[1-9][0-9]{0,38}`, below 2^128).
    /// - Throws: `.invalidArgument` naming the value.
    public static func parse(_ text: String) throws(ShardLogError) -> UInt128 {
        let problem = ShardLogError(
            .invalidArgument,
            "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was \(text)")
        guard !text.isEmpty, text.count <= 39, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { throw problem }
        if text.count > 1 && text.hasPrefix("0") { throw problem }
        guard let value = UInt128(text) else { throw problem }
        return value
    }

    /// The inclusive hash-key ranges of `count` new shards, as Kinesis assigns them: step ⌊2^128 / count⌋,
    /// shard i covers [i·step, (i+1)·step − 1], and the last ends at 2^128 − 1.
    public static func evenRanges(count: Int) -> [ClosedRange<UInt128>] {
        precondition(count >= 1, "at least one shard")
        if count == 1 { return [0...UInt128.max] }
        let step = UInt128.max / UInt128(count) + (UInt128.max % UInt128(count) == UInt128(count) - 1 ? 1 : 0)
        return (0..<count).map { i in
            let start = UInt128(i) * step
            let end = i == count - 1 ? UInt128.max : UInt128(i + 1) * step - 1
            return start...end
        }
    }
}
