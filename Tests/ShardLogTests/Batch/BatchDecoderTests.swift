import Testing

@testable import ShardLog

/// The batch codec on damaged input: a batch whose checksum happens to match must still be refused with an error, never
/// trap or allocate what a damaged length asks for (inputs found by the `batch` and `lz4` fuzz targets).
@Suite struct BatchDecoderTests {
    /// A valid batch of `records` (key, data), uncompressed.
    static func batch(_ records: [(String, [UInt8])], firstOffset: UInt64 = 0) -> [UInt8] {
        var encoder = BatchEncoder(compressionThreshold: .max)
        encoder.reset(timestamp: 1_700_000_000_000)
        for (key, data) in records { encoder.append(key: key, data: data, timestamp: 1_700_000_000_000) }
        return encoder.finish(firstOffset: firstOffset)
    }

    /// Decodes `bytes` as if its checksum had matched.
    static func decode(_ bytes: [UInt8]) throws(ShardLogError) -> [BatchDecoder.Entry] {
        guard let header = RecordBatch.header(bytes) else {
            throw ShardLogError(.corruption, "no header")
        }
        return try BatchDecoder.records(bytes, header: header, fromOffset: 0, where: "test")
    }

    @Test func decodesWhatTheEncoderWrites() throws {
        let bytes = Self.batch([("k1", [1, 2, 3]), ("k2", [])], firstOffset: 7)
        #expect(BatchDecoder.verify(bytes) != nil)
        let entries = try Self.decode(bytes)
        #expect(entries.map(\.offset) == [7, 8])
        #expect(entries.map(\.key) == ["k1", "k2"])
        #expect(entries.map(\.data) == [[1, 2, 3], []])
    }

    /// The encoder reuses one output buffer: a batch handed out earlier stays intact while the next one is built,
    /// compressed or not.
    @Test func batchesHandedOutStayIntactWhenTheEncoderIsReused() throws {
        var encoder = BatchEncoder(compressionThreshold: 1024)
        encoder.reset(timestamp: 1_700_000_000_000)
        for i in 0..<200 {
            encoder.append(
                key: "k\(i % 3)", data: Array(repeating: UInt8(i % 7), count: 50), timestamp: 1_700_000_000_000)
        }
        let first = encoder.finish(firstOffset: 0)
        let kept = Array(first)
        encoder.reset(timestamp: 1_700_000_000_001)
        encoder.append(key: "x", data: [1, 2, 3], timestamp: 1_700_000_000_001)
        let second = encoder.finish(firstOffset: 200)
        #expect(first == kept)
        #expect(BatchDecoder.verify(first) != nil && BatchDecoder.verify(second) != nil)
        #expect(try #require(RecordBatch.header(first)).isCompressed)
        #expect(try #require(RecordBatch.header(second)).isCompressed == false)
        let entries = try Self.decode(first)
        #expect(entries.count == 200 && entries[199].key == "k1" && entries[199].data == Array(repeating: 3, count: 50))
        #expect(try Self.decode(second).map(\.data) == [[1, 2, 3]])
        // Once the caller lets a batch go, the next one is built in the same allocation and is still exact.
        encoder.reset(timestamp: 1_700_000_000_002)
        encoder.append(key: "y", data: [4], timestamp: 1_700_000_000_002)
        #expect(try Self.decode(encoder.finish(firstOffset: 201)).map(\.key) == ["y"])
    }

    @Test(arguments: [
        // Key length varint of 2^63 (would trap converting to Int or adding to the index).
        [0x00, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01] as [UInt8],
        // Key length 1 then a data length of 2^64 - 1.
        [0x00, 0x01, 0x41, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],
        // Timestamp delta of 2^64 - 1.
        [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x01, 0x41, 0x00],
    ])
    func damagedLengthsAreCorruption(payload: [UInt8]) {
        var bytes = Self.batch([("k", Array(repeating: 0, count: payload.count))])
        bytes.replaceSubrange(RecordBatch.headerByteCount..., with: payload)
        bytes.putU32(UInt32(bytes.count), at: 0)
        bytes.putU32(UInt32(payload.count), at: 40)
        #expect(throws: ShardLogError.self) { try Self.decode(bytes) }
    }

    @Test func offsetsPastUInt64AreNoHeader() {
        var bytes = Self.batch([("k", [1]), ("k", [2])])
        bytes.putU64(UInt64.max - 1, at: 16)
        #expect(RecordBatch.header(bytes) == nil)
        bytes.putU64(UInt64.max - 2, at: 16)
        #expect(RecordBatch.header(bytes)?.nextOffset == UInt64.max)
    }

    @Test func recordCountBeyondThePayloadIsNoHeader() {
        var bytes = Self.batch([("k", [1])])
        bytes.putU32(UInt32.max, at: 12)
        #expect(RecordBatch.header(bytes) == nil)
    }

    @Test(arguments: [Int(UInt32.max), 1 << 20, Int(Int32.max) + 1, -1])
    func lz4RefusesImpossibleSizesBeforeAllocating(byteCount: Int) {
        let block: [UInt8] = [0x50] + Array("hello".utf8)
        #expect(throws: ShardLogError.self) { try LZ4.decompress(block, 0..<block.count, byteCount: byteCount) }
    }

    @Test func lz4RefusesAnEmptyBlock() {
        #expect(throws: ShardLogError.self) { try LZ4.decompress([], 0..<0, byteCount: 0) }
        #expect(throws: ShardLogError.self) { try LZ4.decompress([1, 2], 1..<1, byteCount: 5) }
    }

    @Test func lz4RoundTrips() throws {
        let data = Array(repeating: Array("abcdefgh".utf8), count: 64).flatMap { $0 }
        let packed = try #require(LZ4.compress(data, 0..<data.count, limit: data.count))
        #expect(try LZ4.decompress(packed, 0..<packed.count, byteCount: data.count) == data)
    }
}
