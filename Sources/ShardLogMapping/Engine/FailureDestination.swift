import Foundation
import ShardLog
import Synchronization

/// Where a mapping sends the invocation record of a discarded batch (`DestinationConfig.OnFailure`).
///
/// Each entry is Lambda's Kinesis invocation record plus the discarded records under `records`
/// (see ``InvocationRecord``), one JSON document per entry.
public enum FailureDestination: Sendable, Equatable, CustomStringConvertible {
    /// A ShardLog stream of the same store; each entry is one record, keyed by the source shard id.
    case stream(String)
    /// A file of JSON lines, appended to and synced after each entry.
    case file(String)

    /// Parses `stream:NAME`, `file:PATH`, or a Kinesis stream ARN (`arn:aws:kinesis:REGION:ACCOUNT:stream/NAME`,
    /// parsed by ``ShardLog/StreamARN``).
    /// - Parameter text: the destination.
    /// - Throws: ``MappingError/Code/invalidParameter`` for anything else, and for an ARN naming what is wrong with it.
    public init(parsing text: String) throws(MappingError) {
        if text.hasPrefix("stream:"), text.count > 7 {
            self = .stream(String(text.dropFirst(7)))
        } else if text.hasPrefix("file:"), text.count > 5 {
            self = .file(String(text.dropFirst(5)))
        } else if text.hasPrefix("arn:") {
            do {
                self = .stream(try StreamARN(parsing: text).streamName)
            } catch {
                throw MappingError(
                    code: .invalidParameter, message: "on-failure destination: \(error.message)", cause: error)
            }
        } else {
            throw MappingError(
                code: .invalidParameter,
                message: "on-failure destination '\(text)' is not supported: use stream:NAME (a ShardLog stream), "
                    + "file:PATH (JSON lines) or a Kinesis stream ARN")
        }
    }

    /// `stream:NAME` or `file:PATH`.
    public var description: String {
        switch self {
        case .stream(let name): "stream:\(name)"
        case .file(let path): "file:\(path)"
        }
    }
}

/// Writes invocation records to a ``FailureDestination``. Thread-safety: safe from any task; file appends are
/// serialized by a `Mutex`.
final class FailureSink: Sendable {
    let destination: FailureDestination
    private let store: Store
    private let fileLock = Mutex(())

    init(destination: FailureDestination, store: Store) {
        self.destination = destination
        self.store = store
    }

    /// Writes one entry durably (the file is synced; the stream put follows the store's durability).
    /// - Throws: ``MappingError/Code/io`` naming the destination.
    func write(_ record: InvocationRecord) throws(MappingError) {
        let bytes = try record.jsonBytes()
        switch destination {
        case .stream(let name):
            do {
                try store.stream(named: name).put(partitionKey: record.kinesisBatchInfo.shardId, data: bytes)
            } catch {
                throw MappingError(
                    code: .io, message: "cannot write to on-failure stream \(name): \(error)", cause: error)
            }
        case .file(let path):
            do {
                try fileLock.withLock { _ in
                    if !FileManager.default.fileExists(atPath: path) {
                        _ = FileManager.default.createFile(atPath: path, contents: nil)
                    }
                    guard let handle = FileHandle(forWritingAtPath: path) else {
                        throw MappingError(code: .io, message: "cannot open on-failure file \(path) for writing")
                    }
                    defer { try? handle.close() }
                    try handle.seekToEnd()
                    try handle.write(contentsOf: Data(bytes + [UInt8(ascii: "\n")]))
                    try handle.synchronize()
                }
            } catch let error as MappingError {
                throw error
            } catch {
                throw MappingError(
                    code: .io, message: "cannot append to on-failure file \(path): \(error); check the path",
                    cause: error)
            }
        }
    }
}
