import Foundation
import ShardLog
import Synchronization

/// The tumbling-window state of a running mapping, per shard, kept in step with its checkpoints so a restart
/// resumes the open window with its state.
///
/// **File.** `mappings/<name>/windows.json`, written atomically right after each `checkpoints.json` flush:
///
/// ```json
/// {"shards":{"shardId-000000000000":[
///   {"sequenceNumber":"4900…0041","window":{"start":1733500000000,"end":1733500060000,
///    "state":"{\"count\":41}","terminatedEarly":false}},
///   {"sequenceNumber":"4900…0060"}]}}
/// ```
///
/// Each entry says which window was open, with which state, when the shard's checkpoint was `sequenceNumber`
/// (`null` for "before the first record"); an entry without `window` means no window was open. A reader records
/// an entry only when no batch of its shard is in flight, so the state covers exactly the records up to the
/// checkpoint. Entries below the persisted checkpoint are dropped at each flush.
///
/// **Restart.** The entry whose `sequenceNumber` equals the shard's checkpoint gives the window to resume. If there
/// is none (the mapping was killed after a checkpoint moved during a batch, before the next entry was written), the
/// open window starts again with `{}` and a warning says so, as it did before windows were persisted.
///
/// Thread-safety: one `Mutex`; writes are serialized by the caller (the checkpoint flush task, then `run`).
final class WindowStateStore: Sendable {
    /// One shard's window at one checkpoint.
    struct Entry: Codable, Equatable, Sendable {
        /// The shard's checkpoint, or `nil` for none.
        var sequenceNumber: String?
        /// The open window, or `nil` when none was open.
        var window: SavedWindow?
    }

    /// An open window, as saved.
    struct SavedWindow: Codable, Equatable, Sendable {
        /// Start, milliseconds since 1970 (inclusive).
        var start: Int64
        /// End, milliseconds since 1970 (exclusive).
        var end: Int64
        /// The state so far: JSON object text (`""` for `{}`).
        var state: String
        /// The state grew past 1 MB, so the window ends early.
        var terminatedEarly: Bool

        init(_ window: OpenWindow) {
            start = window.startMilliseconds
            end = window.endMilliseconds
            state = String(decoding: window.state, as: UTF8.self)
            terminatedEarly = window.isTerminatedEarly
        }

        /// The window to resume.
        var openWindow: OpenWindow {
            OpenWindow(
                startMilliseconds: start, endMilliseconds: end, state: Array(state.utf8),
                isTerminatedEarly: terminatedEarly)
        }
    }

    private struct File: Codable {
        var shards: [String: [Entry]] = [:]
    }

    /// The most entries kept per shard between two flushes.
    static let maximumEntriesPerShard = 256

    private let path: String
    private let state: Mutex<(file: File, changed: Bool)>
    private let saved: File

    /// Loads `mappings/<name>/windows.json`, or starts empty.
    /// - Parameters:
    ///   - store: The data directory.
    ///   - name: The mapping.
    ///   - fresh: Ignore (and later overwrite) the file: the checkpoints were just created.
    /// - Throws: ``MappingError`` (`.io`) for a file that cannot be parsed.
    init(store: Store, name: String, fresh: Bool) throws(MappingError) {
        path = MappingCatalog.directory(store: store, name: name) + "/windows.json"
        let loaded = fresh ? File() : (try MappingCatalog.read(File.self, path: path) ?? File())
        saved = loaded
        state = Mutex((loaded, fresh))
    }

    /// The window to resume for a shard whose checkpoint is `checkpoint`.
    /// - Returns: `.some(window)` (possibly `nil`: no window was open) when the saved entries have this checkpoint;
    ///   `nil` when they do not (the window starts again), including a shard never saved.
    func restore(shardId: String, checkpoint: String?) -> OpenWindow?? {
        guard let entries = saved.shards[shardId] else { return nil }
        guard let entry = entries.last(where: { $0.sequenceNumber == checkpoint }) else { return nil }
        return .some(entry.window?.openWindow)
    }

    /// Whether a shard has saved entries (to tell a mismatch from a shard seen for the first time).
    func hasSavedEntries(shardId: String) -> Bool {
        !(saved.shards[shardId]?.isEmpty ?? true)
    }

    /// Records the window of a shard at its current checkpoint.
    func record(shardId: String, checkpoint: String?, window: OpenWindow?) {
        let entry = Entry(sequenceNumber: checkpoint, window: window.map(SavedWindow.init))
        state.withLock { current in
            current.changed = true
            var entries = current.file.shards[shardId] ?? []
            if let last = entries.last, last.sequenceNumber == checkpoint {
                entries[entries.count - 1] = entry
            } else {
                entries.append(entry)
            }
            if entries.count > Self.maximumEntriesPerShard {
                entries.removeFirst(entries.count - Self.maximumEntriesPerShard)
            }
            current.file.shards[shardId] = entries
        }
    }

    /// Writes the file if an entry was recorded since the last write, first dropping the entries below
    /// `persisted` (checkpoints known to be on disk).
    /// - Parameter persisted: Per shard, a checkpoint that was flushed before this call.
    /// - Throws: ``MappingError`` (`.io`).
    func flush(persisted: [String: String?]) throws(MappingError) {
        let file: File? = state.withLock { current in
            guard current.changed else { return nil }
            current.changed = false
            for (shardId, floor) in persisted {
                guard var entries = current.file.shards[shardId],
                    let keep = entries.lastIndex(where: { $0.sequenceNumber == floor })
                else { continue }
                entries.removeFirst(keep)
                current.file.shards[shardId] = entries
            }
            return current.file
        }
        guard let file else { return }
        do {
            try MappingCatalog.write(file, path: path)
        } catch {
            state.withLock { $0.changed = true }
            throw error
        }
    }
}
