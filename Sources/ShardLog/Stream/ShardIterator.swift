import Foundation

/// A position in one shard: reads records in order and advances.
///
/// A value type: copy it to remember a position. Holds its stream, so it stays usable while the stream is.
public struct ShardIterator: Sendable {
    /// The stream read.
    public let stream: DataStream
    let shard: Shard
    /// The offset of the next record to read.
    public private(set) var offset: UInt64

    init(stream: DataStream, shard: Shard, position: UInt64) {
        self.stream = stream
        self.shard = shard
        self.offset = position
    }

    /// The shard read, `shardId-000000000000`.
    public var shardId: String { shard.shardId }
    /// The shard's index.
    public var shardIndex: Int { shard.index }
    /// The sequence number the next record will have.
    public var nextSequenceNumber: String { SequenceNumber(shardIndex: shard.index, offset: offset).description }

    /// Reads up to `limit` records and about `maxBytes` of data (at least one record) from the position, and
    /// advances past them. Returns an empty array when no new record has been published yet.
    /// - Throws: `.corruption` when a stored batch fails its checksum.
    /// - Complexity: O(log segments + records returned).
    public mutating func next(limit: Int = 10_000, maxBytes: Int = 10 << 20) throws(ShardLogError) -> [Record] {
        try nextStored(limit: limit, maxBytes: maxBytes).records
    }

    /// Reads as ``next(limit:maxBytes:)`` does, leaving the records in their decoded batches: no `String` or array
    /// per record (see ``StoredRecords``).
    /// - Throws: `.corruption` when a stored batch fails its checksum.
    /// - Complexity: O(log segments + records returned).
    public mutating func nextStored(limit: Int = 10_000, maxBytes: Int = 10 << 20) throws(ShardLogError)
        -> StoredRecords
    {
        let (records, next) = try shard.read(from: offset, limit: limit, maxBytes: maxBytes)
        offset = next
        return records
    }

    /// Moves to the oldest stored record if the position fell below the trim horizon (retention deleted it).
    public mutating func skipTrimmed() throws(ShardLogError) {
        let horizon = try shard.trimHorizon()
        if offset < horizon { offset = horizon }
    }

    /// Whether the shard is closed (resharded) and the iterator has read all of it.
    public func isAtShardEnd() throws(ShardLogError) -> Bool {
        guard let end = try shard.closedEnd() else { return false }
        return offset >= end
    }

    /// Whether records beyond the position have been published.
    public func hasMore() throws(ShardLogError) -> Bool {
        try shard.tip() > offset
    }

    /// Milliseconds between the newest record of the shard and now when the iterator is behind; 0 when caught up.
    public func millisBehindLatest() throws(ShardLogError) -> Int64 {
        let tip = try shard.tip()
        guard offset < tip else { return 0 }
        let (records, _) = try shard.read(from: offset, limit: 1, maxBytes: 1)
        guard let first = records.batches.first?.records.first else { return 0 }
        return max(0, Clock.milliseconds() - first.timestamp)
    }

    /// Waits until a record beyond the position is published, the shard ends, or `timeout` passes.
    ///
    /// Sleeps on the stream's doorbell (``StreamDoorbell``), which appenders in this and other processes ring after
    /// publishing, so it wakes within microseconds of an append and costs nothing while idle; where the doorbell
    /// does not work it polls the mapped committed end every 2 ms.
    public func waitForData(timeout: Duration) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        while true {
            let ticket = doorbellTicket()
            if try hasMore() || isAtShardEnd() { return }
            let remaining = deadline - clock.now
            if remaining <= .zero || Task.isCancelled { return }
            await waitForData(after: ticket, timeout: min(remaining, StreamDoorbell.safetyNet))
        }
    }
}
