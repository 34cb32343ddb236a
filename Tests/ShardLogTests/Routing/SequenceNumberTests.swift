import ShardLog
import Testing

@Suite struct SequenceNumberTests {
    /// Sequence numbers in AWS's format whose 42 position digits exceed 2^128 are rejected, never trapped on.
    @Test(arguments: [
        "49590338271490256608559692538361571095921575989136588898",  // AWS's documented example
        "49" + String(repeating: "0", count: 12) + String(repeating: "9", count: 42),
        "49" + String(repeating: "9", count: 54),
    ])
    func oversizedPositionsAreInvalidArguments(text: String) {
        #expect(throws: ShardLogError.self) { try SequenceNumber(parsing: text) }
    }

    @Test func largestOffsetRoundTrips() throws {
        let n = SequenceNumber(shardIndex: 3, offset: UInt64.max - 1)
        #expect(try SequenceNumber(parsing: n.description) == n)
    }

    @Test func shardIdsHaveTwelveDigits() throws {
        #expect(ShardID.name(0) == "shardId-000000000000")
        #expect(ShardID.name(7) == "shardId-000000000007")
        #expect(ShardID.name(1_000) == "shardId-000000001000")
        #expect(ShardID.name(999_999_999_999) == "shardId-999999999999")
        #expect(ShardID.name(1_000_000_000_000) == "shardId-1000000000000")
        for index in [0, 3, 42, 65_535, 123_456_789_012] {
            #expect(try ShardID.index(ShardID.name(index)) == index)
        }
    }
}
