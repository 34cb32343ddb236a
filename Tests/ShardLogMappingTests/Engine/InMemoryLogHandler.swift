import Logging
import Synchronization

/// A swift-log handler that keeps every entry in memory, for tests that read what a mapping logged.
/// Thread-safety: the entries are behind a `Mutex` shared by every copy of the handler.
struct InMemoryLogHandler: LogHandler {
    /// One logged entry, with the handler's and the call's metadata merged.
    struct Entry: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: [String: String]
    }

    /// The entries, shared by all copies.
    final class Store: Sendable {
        private let entries = Mutex<[Entry]>([])

        func append(_ entry: Entry) { entries.withLock { $0.append(entry) } }

        /// Every entry so far, in order.
        var all: [Entry] { entries.withLock { $0 } }
    }

    let store: Store
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        store.append(
            Entry(
                level: event.level, message: "\(event.message)",
                metadata: merged.mapValues { "\($0)" }))
    }

    /// A logger at `level` writing into a fresh store.
    static func logger(level: Logger.Level = .debug) -> (Logger, Store) {
        let store = Store()
        var logger = Logger(label: "test") { _ in InMemoryLogHandler(store: store) }
        logger.logLevel = level
        return (logger, store)
    }
}
