import Foundation
import ShardLog
import ShardLogWire
import Synchronization

/// A mapping's `LastProcessingResult` and the back-off shared by all of its lanes while its handler cannot start.
///
/// Lambda retries an invocation error (the function could not be run) without consuming `MaximumRetryAttempts`;
/// a handler that cannot start at all (`exec:./nosuch.sh`, a runtime command that is not found) would make every
/// lane retry in a busy loop. Instead, the first lane to see such a failure opens a back-off step (``firstDelay``,
/// doubling up to ``maximumDelay``); every lane waits until the step ends before its next invocation, and only the
/// lane that opened the step logs it, so the log says it once per step. The first invocation that reaches the
/// handler again (any outcome but an invocation error) ends the back-off.
///
/// `LastProcessingResult` follows Lambda's values: `No records processed` until the first invocation, `OK` after
/// a successful one, `PROBLEM: <reason>` after a failed one (`PROBLEM: handler could not start: …`,
/// `PROBLEM: Function call failed: TypeError: boom`). Thread-safety: one `Mutex`, short sections.
final class ProcessingHealth: Sendable {
    /// The result before any invocation.
    static let noRecordsProcessed = "No records processed"

    private struct State {
        var result = ProcessingHealth.noRecordsProcessed
        var version = 0
        var startFailures = 0
        var notBefore: ContinuousClock.Instant?
    }

    /// The first back-off step.
    let firstDelay: Duration
    /// The longest back-off step.
    let maximumDelay: Duration
    private let state = Mutex(State())
    /// Rung when ``lastProcessingResult`` changes (wakes the mapping's status writer).
    let changed = Doorbell()

    /// Creates a healthy state.
    /// - Parameters:
    ///   - firstDelay: The first back-off step (Lambda-like default 1 s).
    ///   - maximumDelay: The longest step (default 60 s).
    init(firstDelay: Duration = .seconds(1), maximumDelay: Duration = .seconds(60)) {
        self.firstDelay = firstDelay
        self.maximumDelay = maximumDelay
    }

    /// `LastProcessingResult` and a version that changes with it.
    var lastProcessingResult: (text: String, version: Int) {
        state.withLock { ($0.result, $0.version) }
    }

    /// When the current back-off step ends, if one is open.
    var backOffUntil: ContinuousClock.Instant? {
        state.withLock { state in
            guard let notBefore = state.notBefore, notBefore > .now else { return nil }
            return notBefore
        }
    }

    /// Records an invocation that reached the handler: ends the back-off and sets the result.
    /// - Parameter problem: `nil` for a success, else the reason of the failure.
    func invoked(problem: String?) {
        let text = problem.map { "PROBLEM: " + $0 } ?? "OK"
        let changed = state.withLock { state in
            state.startFailures = 0
            state.notBefore = nil
            guard state.result != text else { return false }
            state.result = text
            state.version += 1
            return true
        }
        if changed { self.changed.ring() }
    }

    /// Records that the handler could not start.
    /// - Parameter reason: Why (`handler could not start: …`).
    /// - Returns: When to try again, and the step's length when this call opened it (the caller logs it), `nil`
    ///   when another lane already opened the current step.
    func couldNotStart(_ reason: String) -> (until: ContinuousClock.Instant, openedStep: Duration?) {
        let now = ContinuousClock.now
        defer { changed.ring() }
        return state.withLock { state in
            let text = "PROBLEM: " + reason
            if state.result != text {
                state.result = text
                state.version += 1
            }
            if let notBefore = state.notBefore, now < notBefore {
                return (notBefore, nil)
            }
            var delay = firstDelay
            for _ in 0..<min(state.startFailures, 30) where delay < maximumDelay {
                delay = delay * 2
            }
            delay = min(delay, maximumDelay)
            state.startFailures += 1
            state.notBefore = now + delay
            return (now + delay, delay)
        }
    }
}

/// `mappings/<name>/status.json`: what a running mapping last reported, for `shardlog mappings describe`.
///
/// ```json
/// {"LastProcessingResult": "PROBLEM: handler could not start: …", "UpdatedAt": "2026-12-06T20:00:00.000Z"}
/// ```
/// Written (atomically) when `LastProcessingResult` changes, at most about once a second while counters or lag
/// change (with `Metrics`, see ``StatusPublisher``) and when the mapping stops; kept apart from `checkpoints.json`,
/// whose writes are the hot path.
package struct MappingStatusFile: Codable, Sendable, Equatable {
    /// Lambda's `LastProcessingResult`.
    package var lastProcessingResult: String
    /// When it was written, ISO 8601 UTC.
    package var updatedAt: String
    /// Counters and per-shard lag (see ``MappingStatusMetrics``); `nil` in files of older versions.
    package var metrics: MappingStatusMetrics?

    enum CodingKeys: String, CodingKey {
        case lastProcessingResult = "LastProcessingResult"
        case updatedAt = "UpdatedAt"
        case metrics = "Metrics"
    }

    /// Creates a status.
    /// - Parameters:
    ///   - lastProcessingResult: The result.
    ///   - updatedAt: When.
    package init(lastProcessingResult: String, updatedAt: Date = Date()) {
        self.lastProcessingResult = lastProcessingResult
        self.updatedAt = JSONTimestamp.iso8601(updatedAt, milliseconds: true)
    }

    /// The file's path.
    static func path(store: Store, name: String) -> String {
        MappingCatalog.directory(store: store, name: name) + "/status.json"
    }

    /// Reads a mapping's status.
    /// - Parameters:
    ///   - store: The data directory.
    ///   - name: The mapping.
    /// - Returns: The status, or `nil` if the mapping never ran with this version.
    /// - Throws: ``MappingError`` (`.io`) for a file that is not a status.
    package static func read(store: Store, name: String) throws(MappingError) -> MappingStatusFile? {
        try MappingCatalog.read(MappingStatusFile.self, path: path(store: store, name: name))
    }

    /// Writes this status for `name`.
    /// - Throws: ``MappingError`` (`.io`).
    func write(store: Store, name: String) throws(MappingError) {
        try MappingCatalog.write(self, path: Self.path(store: store, name: name))
    }
}
