import Foundation
import ShardLog
import ShardLogMapping
import Synchronization

/// A data directory per fuzz input, copied from a small template store (stream `s`, 2 shards, one record in each, 64 KiB
/// segments) and changed by the input before it is opened.
///
/// Thread-safety: one input at a time (a `Mutex` around the scratch directory).
final class ScratchStores: Sendable {
    /// For the `segment` target.
    static let segment = ScratchStores(label: "segment")
    /// For the `stream-metadata` target.
    static let metadata = ScratchStores(label: "metadata")
    /// For the `mapping-files` target.
    static let mapping = ScratchStores(label: "mapping")

    /// Segment size of the template (small, so a copy per input is cheap).
    static let segmentByteCount = 64 << 10
    /// The segment header size (the batch area starts there).
    static let segmentHeaderByteCount = 4096

    private struct State {
        var template: String?
        var copied = false
    }

    private let root: String
    private let state = Mutex(State())

    private init(label: String) {
        root =
            FileManager.default.temporaryDirectory.path + "/shardlog-fuzz-\(ProcessInfo.processInfo.processIdentifier)-"
            + label
        ScratchCleanup.register(root)
    }

    private static var options: StoreOptions {
        var options = StoreOptions()
        options.segmentByteCount = segmentByteCount
        return options
    }

    /// Builds the template store once; `nil` if the scratch file system refuses (the input is then skipped).
    private func makeTemplate(_ state: inout State) -> String? {
        if let t = state.template { return t }
        let path = root + "/template"
        try? FileManager.default.removeItem(atPath: root)
        do {
            let store = try Store(directory: path, options: Self.options)
            try store.createStream(named: "s", shardCount: 2)
            let stream = try store.stream(named: "s")
            for shard in try stream.describe().shards {
                _ = try stream.put(
                    partitionKey: "k", data: Array("template".utf8),
                    explicitHashKey: UInt128(shard.hashKeyRange.startingHashKey))
            }
            try store.synchronize()
        } catch {
            return nil
        }
        state.template = path
        return path
    }

    /// Runs `body` on a copy of the template (and the template's path); skips the input when the copy fails.
    /// - Parameter reuse: keep the previous input's copy: `body` rewrites every file the input may have changed
    ///   (copying a store per input costs more than the work).
    private func withCopy(reuse: Bool = false, _ body: (_ copy: String, _ template: String) -> Void) {
        state.withLock { state in
            guard let template = makeTemplate(&state) else { return }
            let copy = root + "/input"
            if !reuse || !state.copied {
                try? FileManager.default.removeItem(atPath: copy)
                guard (try? FileManager.default.copyItem(atPath: template, toPath: copy)) != nil else { return }
                state.copied = true
            }
            body(copy, template)
        }
    }

    /// The segment files of stream `s` in `directory`, first shard first.
    private static func segmentFiles(_ directory: String) -> [String] {
        let streamDirectory = directory + "/streams/s"
        let files = FileManager.default.enumerator(atPath: streamDirectory)?.compactMap { $0 as? String } ?? []
        return files.filter { $0.hasSuffix(".seg") }.sorted().map { streamDirectory + "/" + $0 }
    }

    /// Replaces the batch area of the first shard's segment with `batchArea` (zero-padded, cut at the capacity),
    /// sets the committed end to its length, then reads every shard of a read-only store from its start.
    func readSegment(batchArea: [UInt8]) {
        withCopy(reuse: true) { directory, template in
            guard let path = Self.segmentFiles(directory).first,
                var file = FileManager.default.contents(atPath: template + path.dropFirst(directory.count))
                    .map({ [UInt8]($0) }),
                file.count > Self.segmentHeaderByteCount
            else { return }
            let area = batchArea.prefix(file.count - Self.segmentHeaderByteCount)
            file.replaceSubrange(Self.segmentHeaderByteCount..<Self.segmentHeaderByteCount + area.count, with: area)
            for i in Self.segmentHeaderByteCount + area.count..<file.count { file[i] = 0 }
            var end = UInt64(Self.segmentHeaderByteCount + area.count)
            for i in 64..<72 {
                file[i] = UInt8(truncatingIfNeeded: end)
                end >>= 8
            }
            guard FileManager.default.createFile(atPath: path, contents: Data(file)) else { return }
            var options = Self.options
            options.writable = false
            Self.readAll(directory: directory, options: options)
        }
    }

    /// Writes `metadata` as stream `s`'s `stream.json`, then describes the stream, writes one record and reads each
    /// shard from its start.
    func openStream(metadata: [UInt8]) {
        withCopy { directory, _ in
            guard FileManager.default.createFile(atPath: directory + "/streams/s/stream.json", contents: Data(metadata))
            else { return }
            Self.readAll(directory: directory, options: Self.options)
            guard let store = try? Store(directory: directory, options: Self.options),
                let stream = try? store.stream(named: "s")
            else { return }
            _ = try? stream.put(partitionKey: "fuzz", data: [1, 2, 3])
            _ = try? store.listStreams()
        }
    }

    /// Splits `bytes` at the first NUL into `mapping.json` and `checkpoints.json` of mapping `m`, then loads both and
    /// validates the configuration.
    func loadMappingFiles(_ bytes: [UInt8]) {
        withCopy(reuse: true) { directory, _ in
            guard let store = try? Store(directory: directory, options: Self.options) else { return }
            let split = bytes.firstIndex(of: 0) ?? bytes.count
            let mappingDirectory = MappingCatalog.directory(store: store, name: "m")
            try? FileManager.default.createDirectory(atPath: mappingDirectory, withIntermediateDirectories: true)
            _ = FileManager.default.createFile(
                atPath: mappingDirectory + "/mapping.json", contents: Data(bytes[..<split]))
            if split < bytes.count {
                _ = FileManager.default.createFile(
                    atPath: mappingDirectory + "/checkpoints.json", contents: Data(bytes[(split + 1)...]))
            } else {
                try? FileManager.default.removeItem(atPath: mappingDirectory + "/checkpoints.json")
            }
            if let definition = try? MappingCatalog.definition(store: store, name: "m") {
                try? definition.configuration.validate()
                _ = definition.configuration.batchingWindow
                _ = definition.configuration.tumblingWindow
                _ = definition.configuration.maximumRecordAge
            }
            if let checkpoints = try? MappingCatalog.checkpoints(store: store, name: "m") {
                for checkpoint in checkpoints.shards.values {
                    if let sequenceNumber = checkpoint.sequenceNumber {
                        _ = try? SequenceNumber(parsing: sequenceNumber)
                    }
                }
            }
            _ = MappingCatalog.names(store: store)
        }
    }

    /// Opens the store and reads every shard of stream `s` from its start, at a timestamp, and after its start.
    private static func readAll(directory: String, options: StoreOptions) {
        guard let store = try? Store(directory: directory, options: options),
            let stream = try? store.stream(named: "s"),
            let description = try? stream.describe()
        else { return }
        for shard in description.shards {
            for position in [
                IteratorPosition.trimHorizon, .latest, .atTimestamp(Date(timeIntervalSince1970: 1_700_000_000)),
                .afterSequenceNumber(shard.sequenceNumberRange.startingSequenceNumber),
            ] {
                guard var iterator = try? stream.iterator(shardId: shard.shardId, position: position) else { continue }
                for _ in 0..<4 {
                    guard let records = try? iterator.next(limit: 100, maxBytes: 1 << 20), !records.isEmpty else {
                        break
                    }
                }
                _ = try? iterator.isAtShardEnd()
                _ = try? iterator.millisBehindLatest()
            }
        }
    }
}

/// Scratch directories removed when the process exits normally (libFuzzer's `-max_total_time`, the test runner).
enum ScratchCleanup {
    private static let paths = Mutex<[String]>([])

    /// Adds `path` to what is removed at exit.
    static func register(_ path: String) {
        let first = paths.withLock { paths in
            paths.append(path)
            return paths.count == 1
        }
        if first { atexit { ScratchCleanup.removeAll() } }
    }

    /// Removes every registered directory.
    static func removeAll() {
        for path in paths.withLock({ $0 }) { try? FileManager.default.removeItem(atPath: path) }
    }
}
