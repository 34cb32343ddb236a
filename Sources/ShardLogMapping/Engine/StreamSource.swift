import Foundation
import ShardLog

/// What a shard reader got from one read.
package enum ShardRead: Sendable {
    /// Records, in order (possibly none, when the source has more to give at once).
    case records([Record])
    /// No records now: the reader is at the shard's tip. Read again later.
    case caughtUp
    /// The shard is closed and every record was read.
    case ended
}

/// The stream a mapping reads: the local data directory (``LocalSource``) or a Kinesis endpoint
/// (``KinesisSource``). Thread-safety: implementations are `Sendable`.
package protocol StreamSource: Sendable {
    /// The stream's name, as reported in events.
    var streamName: String { get }
    /// The stream's ARN.
    /// - Throws: when the stream does not exist or cannot be reached.
    func streamARN() async throws -> String
    /// Every shard with its lineage and open/closed state.
    /// - Throws: when the stream does not exist or cannot be reached.
    func shards() async throws -> [ShardDescription]
    /// Whether a shard without a checkpoint gets its starting position written at the first run (the local source
    /// resolves it to a sequence number); when false the reader starts at `position` and the checkpoint is written
    /// once a record was handled.
    var resolvesStartingPositions: Bool { get }
    /// The sequence number just below `position` in a shard, or `nil` for "before the first record".
    /// - Throws: when the shard cannot be read.
    func checkpoint(shardId: String, position: IteratorPosition) async throws -> String?
    /// Opens a reader of one shard.
    /// - Parameters:
    ///   - shardId: the shard.
    ///   - position: where to start.
    ///   - checkpoint: the sequence number `position` resumes after, if any (reported until a record is handled).
    /// - Returns: a reader owned by one task.
    /// - Throws: when the shard cannot be opened.
    func openShard(shardId: String, position: IteratorPosition, checkpoint: String?) async throws
        -> any ShardSource
    /// A number that changes when the stream's shards may have changed (a reshard, a close, a deletion), so the
    /// mapping need not describe the stream to find out; `nil` when the source cannot tell (the default): the
    /// mapping then describes it every second.
    func shardsVersion() -> UInt32?
}

extension StreamSource {
    /// Unknown: `nil`.
    package func shardsVersion() -> UInt32? { nil }
}

/// Reads one shard for one task.
///
/// A reader numbers the records it returns: each ``Record/sequence`` offset is an ordinal that grows by at least
/// one per record, which the engine uses to track what is handled; ``sequenceNumber(ordinal:)`` gives back the
/// sequence number to checkpoint.
package protocol ShardSource: AnyObject {
    /// The ordinal of the next record to read; `nextOrdinal - 1` stands for the starting checkpoint.
    var nextOrdinal: UInt64 { get }
    /// Reads up to `limit` records.
    /// - Throws: when the shard cannot be read.
    func read(limit: Int) async throws -> ShardRead
    /// The sequence number of the record with this ordinal (or of the starting checkpoint for
    /// `nextOrdinal - 1` before any read), `nil` for none. Ordinals asked for never decrease.
    func sequenceNumber(ordinal: UInt64) -> String?
    /// The records written beyond the reader's position and how old the first of them is, or `nil` when the source
    /// cannot tell cheaply (the default).
    func backlog() -> ShardBacklog?
    /// After a ``read(limit:)`` that returned ``ShardRead/caughtUp``, sleeps until records may have been published
    /// since, or `timeout` passes (the task's cancellation ends it too).
    /// - Returns: `false` at once when the source cannot wait for writes (the default; the caller polls).
    func waitForRecords(timeout: Duration) async -> Bool
    /// After a ``read(limit:)`` that returned ``ShardRead/caughtUp``, calls `action` once when records may have been
    /// published since, or at `timeout`, while the caller waits for something else.
    /// - Returns: a closure that cancels it (calling it after `action` ran does nothing), or `nil` when the source
    ///   cannot tell (the default) or records came already; the caller then keeps polling.
    func notifyOnRecords(timeout: Duration, _ action: @escaping @Sendable () -> Void) -> (@Sendable () -> Void)?
}

/// What a shard reader has not read yet.
package struct ShardBacklog: Sendable, Equatable {
    /// Records published beyond the reader's position.
    package var unreadRecords: Int
    /// Milliseconds since the first of them arrived; 0 when there is none.
    package var oldestUnreadAgeMilliseconds: Int64
}

extension ShardSource {
    /// Unknown: `nil`.
    package func backlog() -> ShardBacklog? { nil }

    /// Cannot wait: `false`.
    package func waitForRecords(timeout: Duration) async -> Bool { false }

    /// Cannot tell: `nil`.
    package func notifyOnRecords(
        timeout: Duration, _ action: @escaping @Sendable () -> Void
    ) -> (@Sendable () -> Void)? { nil }
}

/// The local data directory's stream. Sequence numbers are ShardLog's own; ordinals are record offsets.
package struct LocalSource: StreamSource {
    /// The stream.
    package let stream: DataStream

    /// Wraps a stream.
    /// - Parameter stream: the stream.
    package init(stream: DataStream) {
        self.stream = stream
    }

    /// The stream's name.
    package var streamName: String { stream.name }
    /// Starting positions are resolved to sequence numbers at the first run.
    package var resolvesStartingPositions: Bool { true }

    /// The stream's ARN.
    /// - Throws: `ShardLogError` when the stream cannot be described.
    package func streamARN() async throws -> String {
        try stream.describe().streamARN
    }

    /// Every shard.
    /// - Throws: `ShardLogError` when the stream cannot be described.
    package func shards() async throws -> [ShardDescription] {
        try stream.describe().shards
    }

    /// The sequence number just below `position`.
    /// - Throws: `ShardLogError` when the shard cannot be read.
    package func checkpoint(shardId: String, position: IteratorPosition) async throws -> String? {
        let iterator = try stream.iterator(shardId: shardId, position: position)
        return iterator.offset == 0
            ? nil : SequenceNumber(shardIndex: iterator.shardIndex, offset: iterator.offset - 1).description
    }

    /// The stream doorbell's epoch (every reshard, close and deletion in any process moves it), `nil` where the
    /// doorbell does not work.
    package func shardsVersion() -> UInt32? {
        let doorbell = stream.doorbell
        return doorbell.isWaking ? doorbell.epoch : nil
    }

    /// Opens a shard iterator, skipping trimmed records.
    /// - Throws: `ShardLogError` when the shard cannot be opened.
    package func openShard(shardId: String, position: IteratorPosition, checkpoint: String?) async throws
        -> any ShardSource
    {
        var iterator = try stream.iterator(shardId: shardId, position: position)
        try iterator.skipTrimmed()
        return LocalShardSource(iterator: iterator)
    }
}

/// A local shard iterator as a ``ShardSource``: ordinals are offsets.
final class LocalShardSource: ShardSource {
    private var iterator: ShardIterator
    /// The doorbell ticket taken before the last look for records (see ``waitForRecords(timeout:)``).
    private var ticket: StreamDoorbell.Ticket?

    init(iterator: ShardIterator) {
        self.iterator = iterator
    }

    var nextOrdinal: UInt64 { iterator.offset }

    func read(limit: Int) async throws -> ShardRead {
        ticket = iterator.doorbellTicket()
        if try iterator.hasMore() {
            return .records(try iterator.next(limit: limit))
        }
        return try iterator.isAtShardEnd() ? .ended : .caughtUp
    }

    func sequenceNumber(ordinal: UInt64) -> String? {
        SequenceNumber(shardIndex: iterator.shardIndex, offset: ordinal).description
    }

    /// Sleeps on the stream's doorbell until this shard is rung after the last read, the stream is resharded or
    /// deleted, or `timeout` passes; `false` when the doorbell does not work here (polling).
    func waitForRecords(timeout: Duration) async -> Bool {
        guard let ticket, iterator.stream.doorbell.isWaking else { return false }
        await iterator.waitForData(after: ticket, timeout: timeout)
        return true
    }

    /// Calls `action` when the stream's doorbell rings for this shard after the last read (or the stream is resharded
    /// or deleted), or at `timeout`.
    func notifyOnRecords(
        timeout: Duration, _ action: @escaping @Sendable () -> Void
    ) -> (@Sendable () -> Void)? {
        let doorbell = iterator.stream.doorbell
        guard let ticket, let id = doorbell.notify(after: ticket, timeout: timeout, action) else { return nil }
        return { doorbell.cancelNotification(id) }
    }

    func backlog() -> ShardBacklog? {
        guard let tip = try? iterator.stream.iterator(shardId: iterator.shardId, position: .latest).offset,
            let age = try? iterator.millisBehindLatest()
        else { return nil }
        return ShardBacklog(
            unreadRecords: tip > iterator.offset ? Int(tip - iterator.offset) : 0, oldestUnreadAgeMilliseconds: age)
    }
}
