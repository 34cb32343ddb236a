import ShardLog
import Synchronization

/// Records and payload bytes stored per shard, kept up to date cheaply for every reader in the server (`/metrics`
/// and the console share one): one resumable ``ShardByteCursor`` per shard, advanced only when the stream's doorbell
/// word for the shard moved since the last look (every append, by any process, rings it), and then only over the
/// batch headers published since.
///
/// Thread-safety: safe from any thread; the cursors are in a `Mutex` (two readers may advance one shard at once;
/// the later result wins, and both are correct totals at their time).
final class ShardTotals: Sendable {
    /// A shard of one incarnation of a stream: a stream deleted and created again under its name is another one.
    private struct Key: Hashable {
        var stream: StreamKey
        var shardId: String
    }

    private struct StreamKey: Hashable {
        var directory: String
        var identity: FileSystem.Identity?
        init(_ stream: DataStream) {
            directory = stream.directory
            identity = stream.directoryIdentity
        }
    }

    private struct Entry {
        var cursor: ShardByteCursor
        var ticket: StreamDoorbell.Ticket?
    }

    private let entries = Mutex<[Key: Entry]>([:])

    /// Creates an empty cache.
    init() {}

    /// The shard's totals now, or `nil` when it cannot be read (deleted, unreadable segment; tried again next time).
    func totals(_ stream: DataStream, shardId: String) -> ShardByteCursor? {
        let key = Key(stream: StreamKey(stream), shardId: shardId)
        let known = entries.withLock { $0[key] }
        let doorbell = stream.doorbell
        if let known, doorbell.isWaking, let ticket = known.ticket, !doorbell.isRung(ticket) {
            return known.cursor
        }
        // The ticket is taken before reading: an append from now on moves the word again and is read next time.
        let ticket = (try? ShardID.index(shardId)).map { doorbell.ticket(shardIndex: $0) }
        guard let cursor = try? stream.advance(known?.cursor, shardId: shardId) else { return nil }
        entries.withLock { $0[key] = Entry(cursor: cursor, ticket: ticket) }
        return cursor
    }

    /// Forgets the shards of every stream not in `live` (all streams of all stores, from a listing just made).
    func retain(_ live: [DataStream]) {
        let keep = Set(live.map(StreamKey.init))
        entries.withLock { $0 = $0.filter { keep.contains($0.key.stream) } }
    }
}
