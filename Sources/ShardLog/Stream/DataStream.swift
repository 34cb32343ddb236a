import Foundation
import Synchronization

/// A stream of a ``Store``: shards, routing, puts, iterators and resharding.
///
/// Metadata lives in `streams/<name>/stream.json`; it is cached here and reloaded when a shard turns out to be closed
/// by another process, and always by ``describe()``.
/// Thread-safety: safe from any thread; several processes may use one stream at once.
public final class DataStream: Sendable {
    /// The stream's name.
    public let name: String
    /// Its directory.
    package let directory: String
    let options: StoreOptions
    /// `stream.lock`: held exclusively around every read-modify-write of `stream.json`, shared around reloads.
    private let metadataLock: InterProcessLock
    private let state: Mutex<State>
    /// The first background flush failure not yet reported (durability `interval`): the next put fails with it.
    private let flushFailure = Mutex<ShardLogError?>(nil)
    /// The identity (device and inode) of the stream's directory when opened: a stream deleted and created again
    /// under the same name is a different directory, and this object must not serve it.
    package let directoryIdentity: FileSystem.Identity?

    struct State {
        var metadata: StreamMetadata
        /// Open shards sorted by starting hash key, for routing.
        var routes: [(range: ClosedRange<UInt128>, index: Int)]
        var shards: [Int: Shard] = [:]
    }

    var metadataPath: String { directory + "/stream.json" }

    init(name: String, directory: String, options: StoreOptions) throws(ShardLogError) {
        self.name = name
        self.directory = directory
        self.options = options
        self.metadataLock = InterProcessLock(path: directory + "/stream.lock")
        self.directoryIdentity = FileSystem.identity(of: directory)
        let metadata = try StreamMetadata.load(path: directory + "/stream.json", name: name)
        self.state = Mutex(State(metadata: metadata, routes: Self.routes(metadata)))
    }

    private static func routes(_ m: StreamMetadata) -> [(range: ClosedRange<UInt128>, index: Int)] {
        m.shards.filter(\.isOpen).map { ($0.range, $0.index) }.sorted { $0.range.lowerBound < $1.range.lowerBound }
    }

    /// Reloads `stream.json` (under a shared lock, so a reshard in progress elsewhere finishes first).
    @discardableResult
    func reload() throws(ShardLogError) -> StreamMetadata {
        try metadataLock.withLock(shared: true) { () throws(ShardLogError) -> StreamMetadata in
            let m = try StreamMetadata.load(path: metadataPath, name: name)
            state.withLock {
                $0.metadata = m
                $0.routes = Self.routes(m)
            }
            return m
        }
    }

    /// The stream as Kinesis' `DescribeStream` shows it, fresh from disk.
    /// - Throws: `.resourceNotFound` if the stream was deleted.
    public func describe() throws(ShardLogError) -> StreamDescription {
        try reload().description(region: options.region, account: options.accountId)
    }

    /// The cached metadata (no disk access).
    var metadata: StreamMetadata { state.withLock { $0.metadata } }

    /// The shard with this index, opened on first use.
    /// - Parameter checked: verify the shard is in the metadata (resharding passes `false` for shards it is
    ///   creating in the same metadata transaction).
    func shard(_ index: Int, checked: Bool = true) throws(ShardLogError) -> Shard {
        if let s = state.withLock({ $0.shards[index] }) { return s }
        var known = !checked || state.withLock { s in s.metadata.shards.contains { $0.index == index } }
        if !known { known = try reload().shards.contains { $0.index == index } }
        guard known else {
            throw ShardLogError(
                .resourceNotFound,
                "Shard \(ShardID.name(index)) in stream \(name) under account \(options.accountId) does not exist")
        }
        var shardOptions = options
        if let size = state.withLock({ $0.metadata.segmentByteCount }) {
            guard Limits.segmentByteCount.contains(size) else {
                throw ShardLogError(
                    .corruption, "\(metadataPath): segmentByteCount \(size) is outside \(Limits.segmentByteCount)")
            }
            shardOptions.segmentByteCount = size
        }
        let shard = try Shard(
            directory: directory + "/" + ShardID.name(index), index: index, options: shardOptions, create: true)
        return state.withLock { s in
            if let existing = s.shards[index] { return existing }
            s.shards[index] = shard
            return shard
        }
    }

    /// The shard with this id.
    func shard(id: String) throws(ShardLogError) -> Shard {
        let index: Int
        do {
            index = try ShardID.index(id)
        } catch {
            throw ShardLogError(.resourceNotFound, "Shard \(id) in stream \(name) does not exist")
        }
        return try shard(index)
    }

    /// Shards opened in this process (for flushing).
    var openedShards: [Shard] { state.withLock { Array($0.shards.values) } }

    // MARK: - Put

    /// Puts one record.
    /// - Parameters:
    ///   - partitionKey: 1–256 characters; its MD5 picks the shard.
    ///   - data: the blob; key plus data at most 1 MiB.
    ///   - explicitHashKey: routes by this hash key instead of the key's MD5.
    /// - Returns: the shard and sequence number.
    /// - Throws: `.invalidArgument` for a bad key or size, I/O errors from the shard.
    @discardableResult
    public func put(partitionKey: String, data: [UInt8], explicitHashKey: UInt128? = nil) throws(ShardLogError)
        -> PutResult
    {
        try putRecords([PutRecordsEntry(partitionKey: partitionKey, data: data, explicitHashKey: explicitHashKey)])[0]
    }

    /// Checks one entry against Kinesis' limits.
    /// - Parameter limit: the largest record in bytes (the stream's ``maxRecordByteCount``; default 1 MiB).
    /// - Throws: `.invalidArgument` naming the limit.
    public static func validate(
        partitionKey: String, dataByteCount: Int, limit: Int = Limits.recordByteCount
    ) throws(ShardLogError) {
        let keyLength = partitionKey.unicodeScalars.count
        guard Limits.partitionKeyLength.contains(keyLength) else {
            throw ShardLogError(
                .invalidArgument,
                "partition key has \(keyLength) characters; it must have between 1 and 256")
        }
        let total = dataByteCount + partitionKey.utf8.count
        guard total <= limit else { throw tooLarge(total, limit: limit, record: nil) }
    }

    /// Puts records in order; each is routed by its key (or explicit hash key) to the open shard covering it, and
    /// all records for one shard are appended as one batch. A convenience over ``putRecords(_:into:)``, which
    /// producers of many records should call with a reused ``RecordBuffer``.
    /// - Returns: one result per entry, in the same order.
    /// - Throws: `.invalidArgument` (nothing is written when any entry is invalid), I/O errors.
    /// - Complexity: O(total bytes); one MD5 per record unless the stream has a single open shard.
    public func putRecords(_ entries: [PutRecordsEntry]) throws(ShardLogError) -> [PutResult] {
        var buffer = RecordBuffer(records: entries.count)
        for e in entries {
            try buffer.append(partitionKey: e.partitionKey, data: e.data, explicitHashKey: e.explicitHashKey)
        }
        var sequences: [SequenceNumber] = []
        try putRecords(buffer, into: &sequences)
        return sequences.map { PutResult(sequence: $0) }
    }

    /// The open shards sorted by starting hash key, as this process last read them.
    var routes: [(range: ClosedRange<UInt128>, index: Int)] { state.withLock { $0.routes } }

    /// The background flush failure not reported yet, if any (reported once).
    func takeFlushFailure() -> ShardLogError? { flushFailure.withLock { $0.take() } }

    /// The position in `routes` of the open shard whose range contains `key`.
    static func route(position key: UInt128, _ routes: [(range: ClosedRange<UInt128>, index: Int)]) -> Int {
        max(0, routes.partitionPoint { $0.range.lowerBound <= key } - 1)
    }

    /// The open shard whose range contains `key`.
    private static func route(_ key: UInt128, _ routes: [(range: ClosedRange<UInt128>, index: Int)]) -> Int {
        routes[route(position: key, routes)].index
    }

    /// The open shard a partition key routes to.
    public func shardId(forPartitionKey key: String, explicitHashKey: UInt128? = nil) -> String {
        let routes = state.withLock { $0.routes }
        return ShardID.name(Self.route(explicitHashKey ?? HashKey.of(partitionKey: key), routes))
    }

    // MARK: - Read

    /// An iterator over one shard from `position`.
    /// - Throws: `.resourceNotFound` for an unknown shard, `.invalidArgument` for a sequence number of another shard.
    public func iterator(shardId: String, position: IteratorPosition) throws(ShardLogError) -> ShardIterator {
        let shard = try self.shard(id: shardId)
        let offset: UInt64
        switch position {
        case .trimHorizon:
            offset = try shard.trimHorizon()
        case .latest:
            offset = try shard.tip()
        case .atSequenceNumber(let text), .afterSequenceNumber(let text):
            let (index, place) = try SequenceNumber.position(of: text)
            guard index == shard.index else {
                throw ShardLogError(
                    .invalidArgument,
                    "Invalid StartingSequenceNumber. It encodes \(ShardID.name(index)), while it was used in a call to"
                        + " a shard with \(shardId)")
            }
            // Position p is the record at offset p - 1 (p = 0: the shard's start).
            if case .afterSequenceNumber = position {
                offset = UInt64(clamping: place)
            } else {
                offset = place == 0 ? 0 : UInt64(place - 1)
            }
        case .atTimestamp(let date):
            // Any finite or infinite time is a valid position (before the first record or after the last); only
            // NaN is not, and times beyond Int64 milliseconds are clamped rather than trapped on.
            let milliseconds = (date.timeIntervalSince1970 * 1000).rounded(.up)
            guard !milliseconds.isNaN else {
                throw ShardLogError(
                    .invalidArgument, "timestamp for shard \(shardId) in stream \(name) is not a number")
            }
            let bound = 9_000_000_000_000_000_000.0
            offset = try shard.offset(
                atTimestamp: milliseconds >= bound
                    ? Int64.max : milliseconds <= -bound ? Int64.min : Int64(milliseconds))
        }
        return ShardIterator(stream: self, shard: shard, position: offset)
    }

    // MARK: - Retention

    /// Changes the retention period.
    /// - Throws: `.invalidArgument` outside 24–8760 hours.
    public func setRetention(hours: Int) throws(ShardLogError) {
        try updateSetting(
            hours, in: Limits.retentionHours,
            "retention period \(hours) hours is out of range; it must be between 24 and 8760 hours"
        ) { $0.retentionHours = hours }
    }

    /// Checks `value` against `range` (refusing it with `.invalidArgument` and `message` outside it), then applies
    /// `change` through ``updateMetadata(_:)``.
    func updateSetting(
        _ value: Int, in range: ClosedRange<Int>, _ message: @autoclosure () -> String,
        _ change: (inout StreamMetadata) -> Void
    ) throws(ShardLogError) {
        guard range.contains(value) else { throw ShardLogError(.invalidArgument, message()) }
        try updateMetadata { (m: inout StreamMetadata) throws(ShardLogError) in change(&m) }
    }

    /// Deletes whole segments whose newest record is older than the retention period.
    /// - Parameter now: the current time (tests pass a later one).
    /// - Returns: the number of segment files deleted.
    @discardableResult
    public func enforceRetention(now: Date = Date()) throws(ShardLogError) -> Int {
        let m = try reload()
        let cutoff = Int64(now.timeIntervalSince1970 * 1000) - Int64(m.retentionHours) * 3_600_000
        var deleted = 0
        for s in m.shards { deleted += try shard(s.index).deleteSegments(olderThan: cutoff) }
        return deleted
    }

    /// Runs `change` on fresh metadata under the exclusive stream lock and saves it atomically.
    /// The change runs on `stream.json` as it is on disk now (never on this process' cached copy), so concurrent
    /// changes from other threads and processes are applied one after the other and none is lost; a damaged file is
    /// reported and left as it is.
    /// - Throws: `.resourceNotFound` if the stream was deleted, `.corruption` for a damaged file, what `change`
    ///   throws (nothing is written then), I/O errors.
    func updateMetadata<R>(_ change: (inout StreamMetadata) throws(ShardLogError) -> R) throws(ShardLogError) -> R {
        try metadataLock.withLock { () throws(ShardLogError) -> R in
            var m = try StreamMetadata.load(path: metadataPath, name: name)
            let result = try change(&m)
            try m.save(path: metadataPath)
            state.withLock {
                $0.metadata = m
                $0.routes = Self.routes(m)
            }
            // Waiters in every process look again only now that stream.json says what changed (a reshard's
            // `Shard.close()` rings before the save; a reader woken by it alone could read the old shard list).
            doorbell.ringAll()
            return result
        }
    }

    // MARK: - Flushing

    /// Flushes every shard appended to by this process (`fdatasync`); a failure is also kept, and the next put to
    /// this stream fails with it (so a background flush error reaches a client instead of being dropped).
    /// - Throws: the first failure.
    func synchronize() throws(ShardLogError) {
        var first: ShardLogError?
        for shard in openedShards {
            do {
                try shard.synchronizeActive()
            } catch {
                first = first ?? error
            }
        }
        guard let first else { return }
        let failure = ShardLogError(
            first.code,
            "an earlier background flush of stream \(name) failed, so records acknowledged before may not be durable:"
                + " \(first.message)",
            errno: first.errno)
        flushFailure.withLock { $0 = $0 ?? failure }
        throw failure
    }
}
