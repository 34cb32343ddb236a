import Foundation
import Synchronization

/// A ShardLog data directory: the catalog of streams and the entry point of the library API.
///
/// Layout (see DESIGN.md): `streams/<name>/stream.json`, `streams/<name>/<shard-id>/<first-offset>.seg`,
/// `mappings/<name>/…`. Several processes may open the same directory at once.
/// Thread-safety: safe from any thread.
///
/// ```swift
/// let store = try Store(directory: "/tmp/data")
/// let stream = try store.createStream(named: "orders", shardCount: 4)
/// try store.stream(named: "orders").put(partitionKey: "user-1", data: Array("hello".utf8))
/// ```
public final class Store: Sendable {
    /// The data directory.
    public let directory: String
    /// The options every stream is opened with.
    public let options: StoreOptions
    /// `catalog.lock`: held around creating and deleting streams.
    private let catalogLock: InterProcessLock
    private let streams = Mutex<[String: DataStream]>([:])
    private let flusher = Mutex<Task<Void, Never>?>(nil)

    /// The default data directory: `$SHARDLOG_DATA_DIR`, else `./shardlog-data`.
    public static var defaultDirectory: String {
        ProcessInfo.processInfo.environment["SHARDLOG_DATA_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "shardlog-data"
    }

    /// Opens (creating if needed) a data directory.
    /// - Parameters:
    ///   - directory: the path.
    ///   - options: segment size, durability, compression.
    /// - Throws: `.io` when the directory cannot be created.
    public init(directory: String = Store.defaultDirectory, options: StoreOptions = StoreOptions())
        throws(ShardLogError)
    {
        self.directory = directory
        self.options = options
        for sub in ["streams", "mappings"] {
            do {
                try FileManager.default.createDirectory(
                    atPath: directory + "/" + sub, withIntermediateDirectories: true)
            } catch {
                throw ShardLogError(.io, "cannot create data directory \(directory)/\(sub): \(error)")
            }
        }
        self.catalogLock = InterProcessLock(path: directory + "/catalog.lock")
        if options.durability == .interval { startFlusher() }
    }

    deinit {
        flusher.withLock { $0?.cancel() }
    }

    private func startFlusher() {
        let interval = options.syncInterval
        let task = Task.detached { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard let self else { return }
                // A failure is kept by its stream, whose next put fails with it.
                try? self.synchronize()
            }
        }
        flusher.withLock { $0 = task }
    }

    /// Flushes every shard appended to by this process (`fdatasync`), as durability `interval` does periodically.
    ///
    /// Every stream is flushed even when one fails; a stream whose flush failed fails its next put with the cause,
    /// so a client never gets an acknowledgement after an unreported durability failure.
    /// - Throws: the first failure (I/O errors naming the segment file).
    public func synchronize() throws(ShardLogError) {
        var first: ShardLogError?
        for stream in streams.withLock({ Array($0.values) }) {
            do {
                try stream.synchronize()
            } catch {
                first = first ?? error
            }
        }
        if let first { throw first }
    }

    /// Checks a stream name against Kinesis' rule: 1–128 of `[A-Za-z0-9_.-]`.
    /// - Throws: `.invalidArgument` naming the name and the rule.
    public static func validate(streamName name: String) throws(ShardLogError) {
        let ok =
            (1...128).contains(name.utf8.count)
            && name.utf8.allSatisfy { c in
                (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c == 95 || c == 46 || c == 45
            }
        guard ok, name != ".", name != ".." else {
            throw ShardLogError(
                .invalidArgument,
                "stream name '\(name)' is invalid: use 1 to 128 characters from A-Z, a-z, 0-9, '_', '.' and '-'")
        }
    }

    private func streamDirectory(_ name: String) -> String { directory + "/streams/" + name }

    /// Creates a stream with `shardCount` shards splitting the hash-key space evenly.
    /// - Parameters:
    ///   - name: 1–128 of `[A-Za-z0-9_.-]`.
    ///   - shardCount: 1–10000 (ignored for on-demand streams, which get 4).
    ///   - retentionHours: 24–8760.
    ///   - mode: provisioned or on-demand.
    ///   - segmentByteCount: the size of the stream's segment files, persisted so every later writer uses it
    ///     (``Limits/segmentByteCount``); `nil`: ``StoreOptions/segmentByteCount`` of the store that writes.
    /// - Returns: its description.
    /// - Throws: `.resourceInUse` if it exists, `.invalidArgument` for a bad name, count, retention or segment size.
    @discardableResult
    public func createStream(
        named name: String, shardCount: Int, retentionHours: Int = 24, mode: StreamMode = .provisioned,
        segmentByteCount: Int? = nil
    ) throws(ShardLogError) -> StreamDescription {
        if let size = segmentByteCount, !Limits.segmentByteCount.contains(size) {
            throw ShardLogError(
                .invalidArgument,
                "segment size \(size) bytes for stream \(name) is out of range; it must be between"
                    + " \(Limits.segmentByteCount.lowerBound) bytes (16 KiB) and \(Limits.segmentByteCount.upperBound)"
                    + " bytes (4 GiB)")
        }
        try Self.validate(streamName: name)
        let count = mode == .onDemand ? 4 : shardCount
        guard Limits.shardCount.contains(count) else {
            throw ShardLogError(
                .invalidArgument, "shard count \(shardCount) for stream \(name) must be between 1 and 10000")
        }
        guard Limits.retentionHours.contains(retentionHours) else {
            throw ShardLogError(
                .invalidArgument,
                "retention period \(retentionHours) hours is out of range; it must be between 24 and 8760 hours")
        }
        return try catalogLock.withLock { () throws(ShardLogError) -> StreamDescription in
            let dir = streamDirectory(name)
            if FileManager.default.fileExists(atPath: dir + "/stream.json") {
                throw ShardLogError(
                    .resourceInUse, "Stream \(name) under account \(options.accountId) already exists.")
            }
            // Leftovers of a deletion or creation interrupted by a crash must not become the new stream's data.
            if FileManager.default.fileExists(atPath: dir) { try removeDirectory(dir) }
            do {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            } catch {
                throw ShardLogError(.io, "cannot create stream directory \(dir): \(error)")
            }
            let now = Date().timeIntervalSince1970
            let shards = HashKey.evenRanges(count: count).enumerated().map { i, r in
                StreamMetadata.ShardMetadata(
                    index: i, parent: nil, adjacentParent: nil, startingHashKey: String(r.lowerBound),
                    endingHashKey: String(r.upperBound), closedAt: nil, createdAt: now)
            }
            let m = StreamMetadata(
                name: name, createdAt: (now * 1000).rounded(.down) / 1000, retentionHours: retentionHours,
                mode: mode, nextShardIndex: count, shards: shards, segmentByteCount: segmentByteCount)
            try m.save(path: dir + "/stream.json")
            // The new directory's entry in `streams/` (save made `stream.json` durable inside it).
            try FileSystem.synchronizeDirectory(of: dir)
            return m.description(region: options.region, account: options.accountId)
        }
    }

    /// Deletes a stream and all its data.
    ///
    /// Under the catalog lock and the stream's own lock (so a reshard in progress in any process finishes first and
    /// later ones find the stream gone), `stream.json` is removed and the removal made durable; then the directory.
    /// - Throws: `.resourceNotFound` if it does not exist, I/O errors.
    public func deleteStream(named name: String) throws(ShardLogError) {
        try Self.validate(streamName: name)
        try catalogLock.withLock { () throws(ShardLogError) in
            let dir = streamDirectory(name)
            guard FileManager.default.fileExists(atPath: dir + "/stream.json") else {
                throw notFound(name)
            }
            try InterProcessLock(path: dir + "/stream.lock").withLock { () throws(ShardLogError) in
                guard FileManager.default.fileExists(atPath: dir + "/stream.json") else { throw notFound(name) }
                do {
                    try FileManager.default.removeItem(atPath: dir + "/stream.json")
                } catch {
                    throw ShardLogError(.io, "cannot delete \(dir)/stream.json: \(error)")
                }
                try FileSystem.synchronizeDirectory(of: dir + "/stream.json")
            }
            streams.withLock { _ = $0.removeValue(forKey: name) }
            StreamDoorbell.forStream(directory: dir).ringAll()  // waiters in every process look again and find it gone
            StreamDoorbell.discard(directory: dir)
            try removeDirectory(dir)
        }
    }

    /// Removes a stream directory (without `stream.json`, so no process uses it any more), retrying when a lock file
    /// reappears in it while it is being removed.
    private func removeDirectory(_ dir: String) throws(ShardLogError) {
        var attempt = 0
        while true {
            do {
                try FileManager.default.removeItem(atPath: dir)
                try FileSystem.synchronizeDirectory(of: dir)
                return
            } catch {
                attempt += 1
                if !FileManager.default.fileExists(atPath: dir) { return }
                if attempt >= 5 { throw ShardLogError(.io, "cannot delete \(dir): \(error)") }
            }
        }
    }

    /// The names of all streams, sorted.
    /// A stream whose `stream.json` is damaged is listed too (``stream(named:)`` reports the damage).
    /// - Throws: `.io` when the `streams` directory cannot be listed (e.g. too many open files).
    public func listStreams() throws(ShardLogError) -> [String] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory + "/streams")
        } catch {
            throw ShardLogError(.io, "cannot list \(directory)/streams: \(error)")
        }
        return names.filter { FileManager.default.fileExists(atPath: streamDirectory($0) + "/stream.json") }.sorted()
    }

    /// The stream called `name`, opened once per store.
    /// - Throws: `.resourceNotFound` if it does not exist, `.corruption` naming `stream.json` and the field when
    ///   that file is damaged (other streams are not affected).
    public func stream(named name: String) throws(ShardLogError) -> DataStream {
        try Self.validate(streamName: name)
        if let s = streams.withLock({ $0[name] }) {
            // Still the same directory (not deleted, or deleted and created again by another process) and not
            // deleted by another process.
            if FileSystem.identity(of: s.directory) == s.directoryIdentity,
                FileManager.default.fileExists(atPath: s.metadataPath)
            {
                return s
            }
            streams.withLock { if $0[name] === s { $0.removeValue(forKey: name) } }
        }
        let dir = streamDirectory(name)
        guard FileManager.default.fileExists(atPath: dir + "/stream.json") else { throw notFound(name) }
        let opened = try DataStream(name: name, directory: dir, options: options)
        return streams.withLock { s in
            if let existing = s[name] { return existing }
            s[name] = opened
            return opened
        }
    }

    private func notFound(_ name: String) -> ShardLogError {
        ShardLogError(.resourceNotFound, "Stream \(name) under account \(options.accountId) not found.")
    }
}
