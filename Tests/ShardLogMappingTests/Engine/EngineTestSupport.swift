import Foundation
import Logging
import ShardLog
import Synchronization

@testable import ShardLogMapping

/// One call an ``ScriptedInvoker`` received.
struct Invocation: Sendable {
    var records: [Record]
    var slot: Int
    var shardId: String
    var outcome: InvocationOutcome
    var started: ContinuousClock.Instant
    var sequenceNumbers: [String] { records.map(\.sequenceNumber) }
    var payloads: [String] { records.map { String(decoding: $0.data, as: UTF8.self) } }
}

/// A test invoker: decides each outcome with `script`, optionally sleeps, and records every call and the
/// largest number of concurrent calls.
final class ScriptedInvoker: Invoker {
    private struct State {
        var calls: [Invocation] = []
        var running = 0
        var maximumRunning = 0
        var shutdowns = 0
    }

    private let state = Mutex(State())
    private let delay: Duration
    private let script: @Sendable (InvocationBatch, Int) -> InvocationOutcome

    /// - Parameters:
    ///   - delay: how long each invocation takes.
    ///   - script: the outcome of a batch, given the number of earlier calls.
    init(
        delay: Duration = .zero,
        script: @escaping @Sendable (InvocationBatch, Int) -> InvocationOutcome = { _, _ in .response([]) }
    ) {
        self.delay = delay
        self.script = script
    }

    func invoke(_ batch: InvocationBatch) async -> InvocationOutcome {
        let index = state.withLock { s in
            s.running += 1
            s.maximumRunning = max(s.maximumRunning, s.running)
            return s.calls.count
        }
        let started = ContinuousClock.now
        if delay > .zero { try? await Task.sleep(for: delay) }
        let outcome = script(batch, index)
        state.withLock { s in
            s.running -= 1
            s.calls.append(
                Invocation(
                    records: batch.records, slot: batch.slot, shardId: batch.shardId, outcome: outcome,
                    started: started))
        }
        return outcome
    }

    func shutdown() async {
        state.withLock { $0.shutdowns += 1 }
    }

    var calls: [Invocation] { state.withLock { $0.calls } }
    var maximumConcurrency: Int { state.withLock { $0.maximumRunning } }
    var shutdowns: Int { state.withLock { $0.shutdowns } }

    /// Records of successful calls, in call order.
    var delivered: [Record] {
        calls.filter { if case .response = $0.outcome { true } else { false } }.flatMap(\.records)
    }
}

/// JSON data for a test record.
func payload(key: String, index: Int, extra: String = "") -> [UInt8] {
    Array(#"{"key":"\#(key)","i":\#(index)\#(extra)}"#.utf8)
}

/// Puts `count` records with keys `k0…k(keys-1)` round-robin; data `{"key":…,"i":n}`.
@discardableResult
func putRecords(_ stream: DataStream, count: Int, keys: Int = 1, start: Int = 0) throws -> [PutResult] {
    try stream.putRecords(
        (start..<(start + count)).map { i in
            PutRecordsEntry(partitionKey: "k\(i % keys)", data: payload(key: "k\(i % keys)", index: i))
        })
}

/// A mapping with fast retries and, optionally, its own clock.
///
/// A handler that cannot start backs off from 100 ms doubling to 400 ms unless `tune` says otherwise.
func makeMapping(
    store: Store, stream: String = "s", name: String = "m", configuration: MappingConfiguration,
    invoker: any Invoker, onFailure: FailureDestination? = nil, now: (@Sendable () -> Date)? = nil,
    logger: Logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
    timeout: Duration = .seconds(5), tune: (inout EventSourceMapping.Tuning) -> Void = { _ in }
) -> EventSourceMapping {
    var tuning = EventSourceMapping.Tuning()
    tuning.firstRetryDelay = .milliseconds(5)
    tuning.maximumRetryDelay = .milliseconds(20)
    tuning.describeInterval = .milliseconds(200)
    tuning.firstStartFailureDelay = .milliseconds(100)
    tuning.maximumStartFailureDelay = .milliseconds(400)
    if let now { tuning.now = now }
    tune(&tuning)
    return EventSourceMapping(
        store: store, streamName: stream, name: name, configuration: configuration, invoker: invoker,
        onFailure: onFailure, logger: logger, timeout: timeout, tuning: tuning)
}

/// Reads a JSON-lines file into objects.
func readJSONLines(_ path: String) throws -> [[String: Any]] {
    guard let data = FileManager.default.contents(atPath: path) else { return [] }
    return try String(decoding: data, as: UTF8.self).split(separator: "\n").map { line in
        try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] ?? [:]
    }
}

/// Polls `condition` every 10 ms for up to `timeout`.
func eventually(timeout: Duration = .seconds(20), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}
