/// Reads the records of one batch, after verifying its checksum and decompressing it.
enum BatchDecoder {
    /// One decoded record, with its shard offset and arrival time in ms.
    struct Entry {
        var offset: UInt64
        var timestamp: Int64
        var key: String
        var data: [UInt8]
    }

    /// Checks that `bytes` holds one whole, intact batch.
    /// - Returns: its header, or `nil` if the length, version or checksum is wrong.
    static func verify(_ bytes: [UInt8]) -> RecordBatch.Header? {
        guard let h = RecordBatch.header(bytes), h.byteCount == bytes.count else { return nil }
        return Checksum.crc32c(bytes, 8..<bytes.count) == h.checksum ? h : nil
    }

    /// Decodes the records of a verified batch whose offset is at least `fromOffset`, each with a key `String` and
    /// a data array of its own (see ``slices(_:header:fromOffset:where:)`` for the records in place).
    /// - Parameters:
    ///   - bytes: the whole batch.
    ///   - header: its verified header.
    ///   - fromOffset: skip records before this offset.
    ///   - where: a description of the batch's location for error messages.
    /// - Throws: `.corruption` when the payload does not decode.
    static func records(
        _ bytes: [UInt8], header h: RecordBatch.Header, fromOffset: UInt64, where location: String
    ) throws(ShardLogError) -> [Entry] {
        try slices(bytes, header: h, fromOffset: fromOffset, where: location).entries
    }

    /// Decodes the records of a verified batch whose offset is at least `fromOffset` without copying them: the
    /// payload (the batch itself when uncompressed, else the LZ4 output) and where each record lies in it.
    /// - Parameters:
    ///   - bytes: the whole batch.
    ///   - header: its verified header.
    ///   - fromOffset: skip records before this offset.
    ///   - where: a description of the batch's location for error messages.
    /// - Throws: `.corruption` when the payload does not decode.
    /// - Complexity: O(records); one allocation for the locations (and one for the LZ4 output).
    static func slices(
        _ bytes: [UInt8], header h: RecordBatch.Header, fromOffset: UInt64, where location: String
    ) throws(ShardLogError) -> StoredRecords.Batch {
        // Decode in place for uncompressed batches (payload starts after the header); else from the LZ4 output.
        let payload: [UInt8]
        var i: Int
        if h.isCompressed {
            payload = try LZ4.decompress(
                bytes, RecordBatch.headerByteCount..<bytes.count, byteCount: h.payloadByteCount)
            i = 0
        } else {
            payload = bytes
            i = RecordBatch.headerByteCount
        }
        // Every record takes at least 3 bytes, so a damaged count cannot make this reserve (or loop) without bound.
        var out: [StoredRecords.Location] = []
        out.reserveCapacity(min(h.recordCount, payload.count / 3))
        for n in 0..<h.recordCount {
            // Lengths are checked against the bytes left before they become `Int`s, so no damaged varint can trap.
            guard let delta = payload.varint(&i), let keyLength = payload.varint(&i),
                keyLength <= UInt64(payload.count - i)
            else { throw Self.bad(location) }
            let keyStart = i
            i += Int(keyLength)
            guard let dataLength = payload.varint(&i), dataLength <= UInt64(payload.count - i) else {
                throw Self.bad(location)
            }
            // The encoder keeps each arrival time within [firstTimestamp, lastTimestamp], and the header parser keeps
            // firstOffset + recordCount within UInt64. With last >= first the wrapping difference is the true span,
            // and first + delta (at most last) is computed without overflow.
            guard h.lastTimestamp >= h.firstTimestamp,
                delta <= UInt64(bitPattern: h.lastTimestamp) &- UInt64(bitPattern: h.firstTimestamp)
            else { throw Self.bad(location) }
            let offset = h.firstOffset + UInt64(n)
            if offset >= fromOffset {
                out.append(
                    StoredRecords.Location(
                        offset: offset, timestamp: h.firstTimestamp &+ Int64(bitPattern: delta),
                        key: keyStart..<keyStart + Int(keyLength), data: i..<i + Int(dataLength)))
            }
            i += Int(dataLength)
        }
        return StoredRecords.Batch(payload: payload, records: out)
    }

    private static func bad(_ location: String) -> ShardLogError {
        ShardLogError(.corruption, "record batch at \(location) is malformed although its checksum matched")
    }
}
