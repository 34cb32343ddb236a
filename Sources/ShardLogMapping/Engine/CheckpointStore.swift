import Foundation
import ShardLog
import ShardLogWire
import Synchronization

/// How far a mapping has handled one shard.
public struct ShardCheckpoint: Codable, Sendable, Equatable {
    /// The last fully handled sequence number (handled, filtered out or discarded); `nil` means nothing yet: start
    /// at the trim horizon.
    public var sequenceNumber: String?
    /// Whether the shard is closed and every record of it is handled, so its children may start.
    public var finished: Bool

    /// Creates a checkpoint.
    /// - Parameters:
    ///   - sequenceNumber: the last fully handled sequence number, or `nil`.
    ///   - finished: whether the shard is closed and drained.
    public init(sequenceNumber: String?, finished: Bool = false) {
        self.sequenceNumber = sequenceNumber
        self.finished = finished
    }

    /// Where to resume reading.
    var position: IteratorPosition {
        sequenceNumber.map { .afterSequenceNumber($0) } ?? .trimHorizon
    }
}

/// The content of `mappings/<name>/checkpoints.json`:
///
/// ```json
/// {"shards":{"shardId-000000000000":{"finished":false,"sequenceNumber":"4900…"}},"streamName":"orders",
///  "updatedAt":"2026-11-22T16:00:00.123Z"}
/// ```
/// Every shard known when the mapping first started has an entry (so `LATEST` is captured once); a shard without an
/// entry appeared later (a reshard child) and is read from its trim horizon.
package struct CheckpointFile: Codable, Sendable, Equatable {
    /// The stream the mapping reads.
    package var streamName: String
    /// Per shard id.
    package var shards: [String: ShardCheckpoint]
    /// When the file was last written (ISO 8601).
    package var updatedAt: String?

    /// Creates an empty file for `streamName`.
    package init(streamName: String, shards: [String: ShardCheckpoint] = [:]) {
        self.streamName = streamName
        self.shards = shards
    }

    /// Checks what was read from `path`: a valid stream name, canonical shard ids, and sequence numbers of the
    /// shard they are filed under.
    /// - Throws: ``MappingError/Code/io`` naming the file and the field.
    package func validate(path: String) throws(MappingError) {
        func damaged(_ field: String, _ problem: String) -> MappingError {
            MappingError(code: .io, message: "\(path) is damaged: \(field) \(problem); fix or delete the file")
        }
        do {
            try Store.validate(streamName: streamName)
        } catch {
            throw damaged("streamName", "is not a valid stream name ('\(streamName.prefix(200))')")
        }
        for (id, checkpoint) in shards.sorted(by: { $0.key < $1.key }) {
            guard let index = try? ShardID.index(id), ShardID.name(index) == id else {
                throw damaged(
                    "shards", "has the key '\(id.prefix(200))', which is not a shard id (shardId-000000000000)")
            }
            guard let sequenceNumber = checkpoint.sequenceNumber else { continue }
            guard let (owner, _) = try? SequenceNumber.position(of: sequenceNumber) else {
                throw damaged(
                    "shards.\(id).sequenceNumber",
                    "is '\(sequenceNumber.prefix(200))', not a sequence number (56 digits starting with 49)")
            }
            guard owner == index else {
                throw damaged("shards.\(id).sequenceNumber", "belongs to \(ShardID.name(owner)), not to \(id)")
            }
        }
    }
}

/// The content of `mappings/<name>/mapping.json`: the configuration with AWS's field names, plus ShardLog's own
/// keys (`StreamName`, `Handler`, `OnFailure`, `Timeout`, `HandlerDir`) at the same level, so the file can be passed
/// back to `shardlog map --config`.
package struct MappingDefinition: Codable, Sendable, Equatable {
    /// The stream read.
    package var streamName: String
    /// The event source mapping parameters.
    package var configuration: MappingConfiguration
    /// The handler, `KIND:SPEC`.
    package var handler: String?
    /// The on-failure destination, `stream:NAME` or `file:PATH`.
    package var onFailure: String?
    /// The function timeout in seconds.
    package var timeoutSeconds: Double?
    /// The working directory of handler processes.
    package var handlerDirectory: String?
    /// The Kinesis endpoint the stream is read from (`shardlog map --source-endpoint`); `nil` for the local stream.
    package var sourceEndpoint: String?

    /// Creates a definition.
    package init(
        streamName: String, configuration: MappingConfiguration, handler: String? = nil, onFailure: String? = nil,
        timeoutSeconds: Double? = nil, handlerDirectory: String? = nil
    ) {
        self.streamName = streamName
        self.configuration = configuration
        self.handler = handler
        self.onFailure = onFailure
        self.timeoutSeconds = timeoutSeconds
        self.handlerDirectory = handlerDirectory
    }

    /// Decodes and validates the flat form (a `mapping.json`, or a `--config` file naming the stream): the
    /// configuration as ``MappingConfiguration/init(json:)`` checks it (unknown fields refused, ranges, `Timeout`
    /// within 0–900 seconds), plus a valid `StreamName`.
    /// - Throws: ``MappingError`` naming the field.
    package init(json: [UInt8]) throws(MappingError) {
        _ = try MappingConfiguration(json: json)
        do {
            self = try JSONDecoder().decode(MappingDefinition.self, from: Data(json))
        } catch let error as MappingError {
            throw error
        } catch let error as DecodingError {
            throw MappingError(code: .invalidParameter, message: MetadataFile.describe(error), cause: error)
        } catch {
            throw MappingError(code: .invalidParameter, message: "\(error)", cause: error)
        }
        do {
            try Store.validate(streamName: streamName)
        } catch {
            throw MappingError(code: .invalidParameter, message: "StreamName: \(error.message)", cause: error)
        }
    }

    enum CodingKeys: String, CodingKey {
        case streamName = "StreamName"
        case handler = "Handler"
        case onFailure = "OnFailure"
        case timeoutSeconds = "Timeout"
        case handlerDirectory = "HandlerDir"
        case sourceEndpoint = "SourceEndpoint"
    }

    /// Decodes the flat form.
    /// - Throws: `DecodingError` or ``MappingError`` from the configuration.
    package init(from decoder: any Decoder) throws {
        configuration = try MappingConfiguration(from: decoder)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        streamName = try c.decode(String.self, forKey: .streamName)
        handler = try c.decodeIfPresent(String.self, forKey: .handler)
        onFailure = try c.decodeIfPresent(String.self, forKey: .onFailure)
        timeoutSeconds = try c.decodeIfPresent(Double.self, forKey: .timeoutSeconds)
        handlerDirectory = try c.decodeIfPresent(String.self, forKey: .handlerDirectory)
        sourceEndpoint = try c.decodeIfPresent(String.self, forKey: .sourceEndpoint)
    }

    /// Encodes the flat form.
    /// - Throws: whatever the encoder throws.
    package func encode(to encoder: any Encoder) throws {
        try configuration.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(streamName, forKey: .streamName)
        try c.encodeIfPresent(handler, forKey: .handler)
        try c.encodeIfPresent(onFailure, forKey: .onFailure)
        try c.encodeIfPresent(timeoutSeconds, forKey: .timeoutSeconds)
        try c.encodeIfPresent(handlerDirectory, forKey: .handlerDirectory)
        try c.encodeIfPresent(sourceEndpoint, forKey: .sourceEndpoint)
    }
}

/// The files of one mapping under `<data-dir>/mappings/<name>/`, and the list/describe/reset operations the CLI
/// offers on them.
package enum MappingCatalog {
    /// Checks a mapping name: 1–128 of `[A-Za-z0-9_.-]`, not `.` or `..`.
    /// - Throws: ``MappingError/Code/invalidParameter``.
    package static func validate(name: String) throws(MappingError) {
        let ok =
            (1...128).contains(name.utf8.count) && name != "." && name != ".."
            && name.utf8.allSatisfy { c in
                (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c == 95 || c == 46 || c == 45
            }
        guard ok else {
            throw MappingError(
                code: .invalidParameter,
                message: "mapping name '\(name)' is invalid: use 1 to 128 characters from A-Z, a-z, 0-9, '_', '.', '-'")
        }
    }

    /// `<data-dir>/mappings/<name>`.
    package static func directory(store: Store, name: String) -> String {
        store.directory + "/mappings/" + name
    }

    /// The names of all mappings with a `mapping.json` or `checkpoints.json`, sorted.
    package static func names(store: Store) -> [String] {
        let root = store.directory + "/mappings"
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return entries.filter { name in
            FileManager.default.fileExists(atPath: "\(root)/\(name)/mapping.json")
                || FileManager.default.fileExists(atPath: "\(root)/\(name)/checkpoints.json")
        }.sorted()
    }

    /// Reads and validates `mapping.json`, or `nil` if there is none.
    /// - Throws: ``MappingError/Code/io`` naming the file and the field when it cannot be read or parsed, has an
    ///   unknown field or a value out of range (e.g. `Timeout` above 900 seconds).
    package static func definition(store: Store, name: String) throws(MappingError) -> MappingDefinition? {
        let path = directory(store: store, name: name) + "/mapping.json"
        guard let bytes = try contents(path) else { return nil }
        do {
            return try MappingDefinition(json: bytes)
        } catch {
            throw MappingError(
                code: .io, message: "\(path) is damaged: \(error.message); fix or delete the file", cause: error)
        }
    }

    /// Writes `mapping.json` atomically.
    /// - Throws: ``MappingError/Code/io``.
    package static func save(_ definition: MappingDefinition, store: Store, name: String) throws(MappingError) {
        try validate(name: name)
        try write(definition, path: directory(store: store, name: name) + "/mapping.json")
    }

    /// Reads and validates `checkpoints.json`, or `nil` if there is none.
    /// - Throws: ``MappingError/Code/io`` naming the file and the field when it cannot be read or parsed, or holds an
    ///   invalid stream name, shard id or sequence number.
    package static func checkpoints(store: Store, name: String) throws(MappingError) -> CheckpointFile? {
        let path = directory(store: store, name: name) + "/checkpoints.json"
        guard let file = try read(CheckpointFile.self, path: path) else { return nil }
        try file.validate(path: path)
        return file
    }

    /// Deletes `checkpoints.json`: the next run starts again from the starting position.
    /// - Returns: whether there was a checkpoint file.
    /// - Throws: ``MappingError/Code/notFound`` for an unknown mapping, ``MappingError/Code/conflict`` while the
    ///   mapping runs, ``MappingError/Code/io``.
    @discardableResult
    package static func reset(store: Store, name: String) throws(MappingError) -> Bool {
        try validate(name: name)
        let dir = directory(store: store, name: name)
        guard FileManager.default.fileExists(atPath: dir) else {
            throw MappingError(code: .notFound, message: "mapping \(name) does not exist in \(store.directory)")
        }
        let path = dir + "/checkpoints.json"
        // Hold the mapping's lock while deleting, so a run cannot start (or be running) meanwhile.
        let lockPath = dir + "/lock"
        let deleted: Bool?
        do {
            deleted = try InterProcessLock(path: lockPath).withTryLock { () throws(ShardLogError) -> Bool in
                guard FileManager.default.fileExists(atPath: path) else { return false }
                do {
                    try FileManager.default.removeItem(atPath: path)
                } catch {
                    throw ShardLogError(.io, "cannot delete \(path): \(error)")
                }
                try FileSystem.synchronizeDirectory(of: path)
                return true
            }
        } catch {
            throw MappingError(code: .io, message: error.message, cause: error)
        }
        guard let deleted else {
            throw MappingError(
                code: .conflict,
                message: "mapping \(name) is running\(MappingLock.holderDescription(path: lockPath)): stop it before "
                    + "resetting")
        }
        return deleted
    }

    /// The bytes of `path`, or `nil` if it does not exist.
    static func contents(_ path: String) throws(MappingError) -> [UInt8]? {
        do {
            return try MetadataFile.contents(of: path)
        } catch {
            throw MappingError(code: .io, message: error.message, cause: error)
        }
    }

    static func read<T: Decodable>(_ type: T.Type, path: String) throws(MappingError) -> T? {
        guard let bytes = try contents(path) else { return nil }
        do {
            return try MetadataFile.decode(T.self, from: bytes, path: path)
        } catch {
            throw MappingError(code: .io, message: "\(error.message); fix or delete the file", cause: error)
        }
    }

    static func write<T: Encodable>(_ value: T, path: String) throws(MappingError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        do {
            let dir = String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)])
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try FileSystem.writeAtomically(Array(try encoder.encode(value)), to: path)
        } catch {
            throw MappingError(code: .io, message: "cannot write \(path): \(error)", cause: error)
        }
    }
}

/// The checkpoints of a running mapping: updated in memory by the shard readers, written to
/// `mappings/<name>/checkpoints.json` (temporary file, fsync, rename, directory fsync) by ``flush()``.
///
/// Thread-safety: safe from any task. Writes are serialized; each writes the latest state, so several updates
/// between two flushes cost one write (group commit).
final class CheckpointStore: Sendable {
    private struct State {
        var file: CheckpointFile
        var version = 0
        var written = 0
    }

    let path: String
    private let state: Mutex<State>
    private let writer = Mutex(())

    init(store: Store, name: String, file: CheckpointFile) {
        self.path = MappingCatalog.directory(store: store, name: name) + "/checkpoints.json"
        self.state = Mutex(State(file: file))
    }

    /// The current (possibly unwritten) checkpoints.
    var file: CheckpointFile { state.withLock { $0.file } }

    /// The checkpoint of one shard.
    func checkpoint(shardId: String) -> ShardCheckpoint? {
        state.withLock { $0.file.shards[shardId] }
    }

    /// Rung when a checkpoint changes: wakes the mapping's checkpoint writer, which sleeps while nothing changes.
    let dirtied = Doorbell()

    /// Records a new checkpoint for a shard (in memory until the next ``flush()``).
    func set(_ checkpoint: ShardCheckpoint, shardId: String) {
        let changed = state.withLock {
            guard $0.file.shards[shardId] != checkpoint else { return false }
            $0.file.shards[shardId] = checkpoint
            $0.version += 1
            return true
        }
        if changed { dirtied.ring() }
    }

    /// Whether there are unwritten changes.
    var isDirty: Bool { state.withLock { $0.version != $0.written } }

    /// Writes the checkpoints if they changed since the last write.
    /// - Throws: ``MappingError/Code/io``.
    func flush() throws(MappingError) {
        try writer.withLock { (_: inout ()) throws(MappingError) in
            // Copies the file (one entry per shard) only when there is something to write.
            let changed = state.withLock { $0.version != $0.written }
            guard changed || !FileManager.default.fileExists(atPath: path) else { return }
            let (snapshot, version) = state.withLock { ($0.file, $0.version) }
            var file = snapshot
            file.updatedAt = JSONTimestamp.iso8601(Date(), milliseconds: true)
            try MappingCatalog.write(file, path: path)
            state.withLock { $0.written = max($0.written, version) }
        }
    }
}

/// `mappings/<name>/lock`: a non-blocking ``InterProcessLock`` held while the mapping runs, so two runs of one
/// mapping (which would deliver everything twice and fight over checkpoints), in this process or another, are
/// refused. The holder writes its process id into the file, for the refusal message. The lock dies with its process
/// (`flock`), so a killed run never blocks the next one. Thread-safety: `release()` may be called from any thread.
final class MappingLock: Sendable {
    private let hold: InterProcessLock.Hold

    private init(hold: InterProcessLock.Hold) {
        self.hold = hold
    }

    /// `" in process <pid>"` from the lock file at `path`, or `""` when it names none.
    static func holderDescription(path: String) -> String {
        guard let text = InterProcessLock.holder(path: path), let pid = Int32(text), pid > 0 else { return "" }
        return " in process \(pid)"
    }

    /// Takes the lock of mapping `name`.
    /// - Throws: ``MappingError/Code/conflict`` when another run (in any process, this one included) holds it,
    ///   ``MappingError/Code/io``.
    static func acquire(store: Store, name: String) throws(MappingError) -> MappingLock {
        let directory = MappingCatalog.directory(store: store, name: name)
        let path = directory + "/lock"
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw MappingError(code: .io, message: "cannot create \(directory): \(error)", cause: error)
        }
        let hold: InterProcessLock.Hold?
        do {
            hold = try InterProcessLock(path: path).tryHold(holder: "\(getpid())\n")
        } catch {
            throw MappingError(code: .io, message: error.message, cause: error)
        }
        guard let hold else {
            throw MappingError(
                code: .conflict,
                message: "mapping \(name) is already running\(holderDescription(path: path)): stop it, or use another "
                    + "mapping name")
        }
        return MappingLock(hold: hold)
    }

    /// Releases the lock.
    func release() {
        hold.release()
    }
}
