/// Builds one record batch in a reusable buffer: header, payload (LZ4 when it pays), checksum.
///
/// Not thread-safe: each shard appender owns one, under its lock.
struct BatchEncoder {
    private var payload: [UInt8] = []
    /// The last finished batch's bytes, kept so the next batch reuses the allocation.
    private var output: [UInt8] = []
    private var firstTimestamp: Int64 = 0
    private var lastTimestamp: Int64 = 0
    private(set) var recordCount = 0
    /// Batches whose payload reaches this size are LZ4-compressed when that shrinks them by at least 1/8.
    var compressionThreshold: Int

    /// Creates an encoder.
    /// - Parameter compressionThreshold: payload size from which LZ4 is tried; `Int.max` disables compression.
    init(compressionThreshold: Int) {
        self.compressionThreshold = compressionThreshold
        payload.reserveCapacity(1 << 20)
    }

    /// The payload size so far.
    var payloadByteCount: Int { payload.count }

    /// Starts a new batch whose records arrive at `timestamp` (ms) or later.
    mutating func reset(timestamp: Int64) {
        payload.removeAll(keepingCapacity: true)
        recordCount = 0
        firstTimestamp = timestamp
        lastTimestamp = timestamp
    }

    /// Appends one record.
    /// - Parameter timestamp: its arrival time in ms; never less than the batch's first.
    mutating func append(key: String, data: [UInt8], timestamp: Int64) {
        let ts = max(timestamp, firstTimestamp)
        lastTimestamp = max(lastTimestamp, ts)
        payload.appendVarint(UInt64(ts - firstTimestamp))
        var key = key
        key.withUTF8 { utf8 in
            payload.appendVarint(UInt64(utf8.count))
            payload.append(contentsOf: utf8)
        }
        payload.appendVarint(UInt64(data.count))
        payload.append(contentsOf: data)
        recordCount += 1
    }

    /// Appends one record from packed buffers (``RecordBuffer``): copies `key` and `data` with one `memcpy` each
    /// (views, not array slices: no reference counting per record).
    /// - Parameter timestamp: its arrival time in ms; never less than the batch's first.
    mutating func append(key: Span<UInt8>, data: Span<UInt8>, timestamp: Int64) {
        let ts = max(timestamp, firstTimestamp)
        lastTimestamp = max(lastTimestamp, ts)
        payload.appendVarint(UInt64(ts - firstTimestamp))
        payload.appendVarint(UInt64(key.count))
        payload.append(copying: key)
        payload.appendVarint(UInt64(data.count))
        payload.append(copying: data)
        recordCount += 1
    }

    /// The encoded bytes of one record, for size checks before appending.
    static func encodedByteCount(keyByteCount: Int, dataByteCount: Int) -> Int {
        keyByteCount + dataByteCount + 3 * 10
    }

    /// Finishes the batch: the complete bytes to write, header first.
    /// - Parameters:
    ///   - firstOffset: the shard offset of the first record.
    ///   - minimumTimestamp: arrival times are shifted up to at least this (ms), keeping a shard's times monotonic.
    mutating func finish(firstOffset: UInt64, minimumTimestamp: Int64 = 0) -> [UInt8] {
        let shift = max(0, minimumTimestamp - firstTimestamp)
        precondition(recordCount > 0, "empty batch")
        // Header and body go into one buffer, reused from the previous batch once its caller has let it go.
        var out = output
        output = []
        out.removeAll(keepingCapacity: true)
        out.append(contentsOf: repeatElement(0, count: RecordBatch.headerByteCount))
        var flags: UInt8 = 0
        if payload.count >= compressionThreshold,
            LZ4.compress(payload, 0..<payload.count, appendingTo: &out, limit: payload.count - payload.count / 8)
                != nil
        {
            flags |= RecordBatch.lz4Flag
        } else {
            out.append(contentsOf: payload)
        }
        out.putU32(UInt32(out.count), at: 0)
        out[8] = RecordBatch.version
        out[9] = flags
        out.putU32(UInt32(recordCount), at: 12)
        out.putU64(firstOffset, at: 16)
        out.putU64(UInt64(bitPattern: firstTimestamp + shift), at: 24)
        out.putU64(UInt64(bitPattern: lastTimestamp + shift), at: 32)
        out.putU32(UInt32(payload.count), at: 40)
        out.putU32(Checksum.crc32c(out, 8..<out.count), at: 4)
        output = out
        return out
    }

    /// The last arrival timestamp of the batch (ms).
    var batchLastTimestamp: Int64 { lastTimestamp }
}
