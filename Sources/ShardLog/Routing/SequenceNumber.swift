/// A Kinesis-style sequence number: a 56-digit decimal string that encodes the shard and the record's offset in it.
///
/// Layout: `"49"` + the shard's index (12 digits) + a 42-digit position, which is the record's offset within the
/// shard plus one. Position 0 is the shard's `StartingSequenceNumber`, which sorts below every record of the shard, as
/// on AWS. Fixed width, so string order equals numeric order within a shard; unique within the stream because the
/// shard index is part of it.
public struct SequenceNumber: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The shard's index (`shardId-000000000007` → 7).
    public var shardIndex: Int
    /// The record's offset within its shard, from 0.
    public var offset: UInt64

    /// Creates a sequence number.
    public init(shardIndex: Int, offset: UInt64) {
        self.shardIndex = shardIndex
        self.offset = offset
    }

    /// Parses a sequence number produced by ``description`` (or a shard's starting sequence number, which parses
    /// to offset 0).
    /// - Throws: `.invalidArgument` naming the value when it is not one of ours.
    public init(parsing text: String) throws(ShardLogError) {
        let (index, position) = try Self.position(of: text)
        self.shardIndex = index
        self.offset = position == 0 ? 0 : UInt64(position - 1)
    }

    /// The shard index and position (offset + 1; 0 for the shard's start) of a sequence number.
    /// - Throws: `.invalidArgument` naming the value when it is not one of ours.
    public static func position(of text: String) throws(ShardLogError) -> (shardIndex: Int, position: UInt128) {
        let utf8 = Array(text.utf8)
        var index = 0
        var position: UInt128 = 0
        // Positions above this can never be ours (offsets are 64-bit); stop accumulating there so 42 digits of
        // nines (more than 2^128) are rejected instead of overflowing.
        let largest = UInt128(UInt64.max) + 1
        var valid = utf8.count == 56 && utf8[0] == 52 && utf8[1] == 57
        if valid {
            for (i, c) in utf8.enumerated().dropFirst(2) {
                guard c >= 48 && c <= 57 else {
                    valid = false
                    break
                }
                if i < 14 {
                    index = index * 10 + Int(c - 48)
                } else if position <= largest {
                    position = position * 10 + UInt128(c - 48)
                }
            }
        }
        guard valid, position <= largest else {
            throw ShardLogError(
                .invalidArgument,
                "'\(text)' is not a valid sequence number (56 decimal digits starting with 49)")
        }
        return (index, position)
    }

    /// The sequence number just below the record at `offset`: for offset 0, the shard's `StartingSequenceNumber`.
    /// Reading *after* it starts at `offset`.
    public static func preceding(shardIndex: Int, offset: UInt64) -> String {
        format(shardIndex: shardIndex, position: UInt128(offset))
    }

    /// Formats `"49"`, 12 digits of shard index and 42 of position into one 56-byte buffer (no intermediate strings:
    /// this runs once per record on delivery paths).
    private static func format(shardIndex: Int, position: UInt128) -> String {
        var digits = [UInt8](repeating: 48, count: 56)
        digits[0] = 52
        digits[1] = 57
        var index = UInt64(truncatingIfNeeded: max(0, shardIndex))
        var i = 13
        while index > 0 && i >= 2 {
            digits[i] = 48 + UInt8(index % 10)
            index /= 10
            i -= 1
        }
        i = 55
        if position <= UInt128(UInt64.max) {
            var low = UInt64(position)  // 64-bit division is much cheaper than 128-bit
            while low > 0 {
                digits[i] = 48 + UInt8(low % 10)
                low /= 10
                i -= 1
            }
        } else {
            var value = position
            while value > 0 {
                digits[i] = 48 + UInt8(value % 10)
                value /= 10
                i -= 1
            }
        }
        return String(decoding: digits, as: UTF8.self)
    }

    /// The 56-digit decimal form.
    public var description: String {
        Self.format(shardIndex: shardIndex, position: UInt128(offset) + 1)
    }

    /// Orders by shard, then offset.
    public static func < (a: SequenceNumber, b: SequenceNumber) -> Bool {
        (a.shardIndex, a.offset) < (b.shardIndex, b.offset)
    }
}

/// Shard ids as Kinesis writes them: `shardId-` and a 12-digit index.
public enum ShardID {
    /// `shardId-000000000007` for 7.
    public static func name(_ index: Int) -> String {
        guard index >= 0 && index < 1_000_000_000_000 else {
            let digits = String(index)
            return "shardId-" + String(repeating: "0", count: max(0, 12 - digits.count)) + digits
        }
        // Digits written into the 20 bytes in place: this runs once per record on `get` and delivery paths.
        var bytes: [UInt8] = Array("shardId-000000000000".utf8)
        var value = index
        var position = bytes.count - 1
        while value > 0 {
            bytes[position] = UInt8(ascii: "0") + UInt8(value % 10)
            value /= 10
            position -= 1
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The index of a shard id; also accepts a bare number.
    /// - Throws: `.invalidArgument` (or `.resourceNotFound` semantics left to the caller).
    public static func index(_ id: String) throws(ShardLogError) -> Int {
        let digits = id.hasPrefix("shardId-") ? String(id.dropFirst(8)) : id
        guard !digits.isEmpty, digits.count <= 12, digits.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
            let value = Int(digits)
        else { throw ShardLogError(.invalidArgument, "'\(id)' is not a shard id (expected shardId-000000000000)") }
        return value
    }
}
