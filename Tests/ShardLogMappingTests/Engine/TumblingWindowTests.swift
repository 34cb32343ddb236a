import Foundation
import ShardLog
import ShardLogTestSupport
import Synchronization
import Testing

@testable import ShardLogMapping

/// One call a ``WindowInvoker`` received.
struct WindowCall: Sendable {
    var records: [Record]
    var shardId: String
    var window: TumblingWindow?
    /// The `count` of the state the call received (0 for `{}`).
    var countIn: Int {
        guard let window, !window.state.isEmpty,
            let object = (try? JSONSerialization.jsonObject(with: Data(window.state))) as? [String: Any]
        else { return 0 }
        return object["count"] as? Int ?? 0
    }
}

/// A test invoker for tumbling windows: counts the window's records in `{"count":N}` state, and answers without
/// state while `omitState` says so (given the number of earlier calls).
final class WindowInvoker: Invoker {
    private let calls = Mutex<[WindowCall]>([])
    private let omitState: @Sendable (Int) -> Bool

    init(omitState: @escaping @Sendable (Int) -> Bool = { _ in false }) {
        self.omitState = omitState
    }

    func invoke(_ batch: InvocationBatch) async -> InvocationOutcome {
        let call = WindowCall(records: batch.records, shardId: batch.shardId, window: batch.window)
        let index = calls.withLock { list in
            list.append(call)
            return list.count - 1
        }
        if omitState(index) { return .response(Array("{}".utf8)) }
        return .response(Array(#"{"state":{"count":\#(call.countIn + batch.records.count)}}"#.utf8))
    }

    func shutdown() async {}

    var received: [WindowCall] { calls.withLock { $0 } }
}

/// Sleeps until `offset` past the next multiple of `seconds` (wall clock), so the following puts share a window.
func sleepUntilWindowStart(seconds: Int, offset: Duration = .milliseconds(30)) async throws {
    let width = Int64(seconds) * 1000
    let now = Int64(Date().timeIntervalSince1970 * 1000)
    let next = (now / width + 1) * width
    try await Task.sleep(for: .milliseconds(next - now) + offset)
}

@Suite(.timeLimit(.minutes(1)))
struct TumblingWindowTests {
    static func startMilliseconds(_ record: Record, width: Int64) -> Int64 {
        record.arrivalMilliseconds / width * width
    }

    @Test func windowStartIsTheArrivalFlooredToTheWidth() {
        #expect(LaneBuffer.windowStart(arrivalMilliseconds: 12_345, widthMilliseconds: 1000) == 12_000)
        #expect(LaneBuffer.windowStart(arrivalMilliseconds: 12_000, widthMilliseconds: 1000) == 12_000)
        #expect(LaneBuffer.windowStart(arrivalMilliseconds: 1_799, widthMilliseconds: 900_000) == 0)
    }

    @Test func recordsOfTwoWindowsGetPerWindowInvocationsCarryingStateAndEndingWithAFinalInvoke() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            try store.createStream(named: "s", shardCount: 1)
            let stream = try store.stream(named: "s")
            try await sleepUntilWindowStart(seconds: 1)
            let first = try putRecords(stream, count: 3)
            try await sleepUntilWindowStart(seconds: 1)
            let second = try putRecords(stream, count: 2, start: 3)
            let invoker = WindowInvoker()
            let mapping = makeMapping(
                store: store,
                configuration: MappingConfiguration(
                    startingPosition: .trimHorizon, batchSize: 1, tumblingWindowInSeconds: 1),
                invoker: invoker)
            let summary = try await mapping.run(exitWhenIdle: true)
            let calls = invoker.received
            #expect(calls.allSatisfy { $0.window != nil })
            // Records of different windows never share an invocation, and each call names its records' window.
            for call in calls {
                let window = try #require(call.window)
                let start = Int64((window.start.timeIntervalSince1970 * 1000).rounded())
                #expect(Int64((window.end.timeIntervalSince1970 * 1000).rounded()) == start + 1000)
                #expect(call.records.allSatisfy { Self.startMilliseconds($0, width: 1000) == start })
            }
            let byWindow = Dictionary(grouping: calls) { $0.window?.start ?? .distantPast }
            #expect(byWindow.count == 2)
            for (_, windowCalls) in byWindow {
                // State carries across the invocations of a window: each receives the count so far.
                var count = 0
                for call in windowCalls {
                    #expect(call.countIn == count)
                    count += call.records.count
                }
                // Exactly the last invocation of each window is final.
                #expect(
                    windowCalls.map { $0.window?.isFinalInvokeForWindow == true }
                        == windowCalls.indices.map { $0 == windowCalls.count - 1 })
                #expect(windowCalls.allSatisfy { $0.window?.isWindowTerminatedEarly == false })
            }
            let delivered = calls.flatMap(\.records).map(\.sequenceNumber)
            #expect(delivered == (first + second).map(\.sequenceNumber))
            #expect(summary.checkpoints[first[0].shardId]?.sequenceNumber == second[1].sequenceNumber)
        }
    }

    /// A one-shard stream `s` in a fresh directory, at a time when a 15-minute window stays open for the test.
    static func withLongWindow(_ body: (String, Store, DataStream) async throws -> Void) async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            try store.createStream(named: "s", shardCount: 1)
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            if now % 900_000 > 880_000 { try await sleepUntilWindowStart(seconds: 900) }
            try await body(dir, store, try store.stream(named: "s"))
        }
    }

    /// Runs a mapping until its handler was called `calls` times, then stops it.
    /// - Returns: The calls.
    static func runUntil(
        calls: Int, store: Store, configuration: MappingConfiguration
    ) async throws -> [WindowCall] {
        let invoker = WindowInvoker()
        let mapping = makeMapping(store: store, configuration: configuration, invoker: invoker)
        async let run = mapping.run(exitWhenIdle: false)
        #expect(await eventually { invoker.received.count == calls })
        mapping.stop()
        _ = try await run
        return invoker.received
    }

    @Test func aRestartResumesTheOpenWindowWithItsState() async throws {
        try await Self.withLongWindow { dir, store, stream in
            let configuration = MappingConfiguration(
                startingPosition: .trimHorizon, batchSize: 1, parallelizationFactor: 3, tumblingWindowInSeconds: 900)
            try putRecords(stream, count: 3, keys: 3)
            let before = try await Self.runUntil(calls: 3, store: store, configuration: configuration)
            // One lane per shard: the state went through the three records in order, across keys.
            #expect(before.map(\.countIn) == [0, 1, 2])
            #expect(FileManager.default.fileExists(atPath: dir + "/mappings/m/windows.json"))

            try putRecords(stream, count: 2, keys: 3, start: 3)
            let calls = try await Self.runUntil(calls: 2, store: store, configuration: configuration)
            #expect(calls.map(\.countIn) == [3, 4], "the open window resumed with its state")
            #expect(calls.map { $0.records.count } == [1, 1])
            #expect(calls.allSatisfy { $0.window?.start == before.first?.window?.start })
            #expect(calls.allSatisfy { $0.window?.isFinalInvokeForWindow == false })
        }
    }

    @Test func aResetStartsTheWindowAgainFromEmptyState() async throws {
        try await Self.withLongWindow { _, store, stream in
            let configuration = MappingConfiguration(
                startingPosition: .trimHorizon, batchSize: 1, tumblingWindowInSeconds: 900)
            try putRecords(stream, count: 2)
            for round in 0..<2 {
                let calls = try await Self.runUntil(calls: 2, store: store, configuration: configuration)
                #expect(calls.map(\.countIn) == [0, 1], "round \(round)")
                #expect(try MappingCatalog.reset(store: store, name: "m"))
            }
        }
    }

    @Test func aWindowThatEndsWithNoRecordsLeftGetsAnEmptyFinalInvoke() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            try store.createStream(named: "s", shardCount: 1)
            try await sleepUntilWindowStart(seconds: 2)
            try putRecords(try store.stream(named: "s"), count: 4)
            let invoker = WindowInvoker()
            let mapping = makeMapping(
                store: store,
                configuration: MappingConfiguration(
                    startingPosition: .trimHorizon, batchSize: 10, tumblingWindowInSeconds: 2),
                invoker: invoker)
            let started = Date()
            _ = try await mapping.run(exitWhenIdle: true)
            let calls = invoker.received
            try #require(calls.count == 2)
            #expect(calls[0].records.count == 4)
            #expect(calls[0].window?.isFinalInvokeForWindow == false)
            #expect(calls[1].records.isEmpty)
            #expect(calls[1].window?.isFinalInvokeForWindow == true)
            #expect(calls[1].countIn == 4)
            #expect(calls[1].window?.start == calls[0].window?.start)
            // The final invoke comes promptly after the window's end.
            let end = try #require(calls[1].window?.end)
            #expect(Date().timeIntervalSince(end) < 1.5)
            #expect(end.timeIntervalSince(started) > 0)
        }
    }

    @Test func aResponseWithoutStateFailsAndIsRetriedWithTheSameState() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            try store.createStream(named: "s", shardCount: 1)
            try await sleepUntilWindowStart(seconds: 2)
            try putRecords(try store.stream(named: "s"), count: 3)
            let invoker = WindowInvoker(omitState: { $0 == 1 })
            let mapping = makeMapping(
                store: store,
                configuration: MappingConfiguration(
                    startingPosition: .trimHorizon, batchSize: 2, maximumRetryAttempts: 2,
                    tumblingWindowInSeconds: 2),
                invoker: invoker)
            let summary = try await mapping.run(exitWhenIdle: true)
            let calls = invoker.received
            try #require(calls.count >= 3)
            // Call 1 answered without state: a function error; call 2 retries the same records with the same state.
            #expect(calls[2].records.map(\.sequenceNumber) == calls[1].records.map(\.sequenceNumber))
            #expect(calls[1].countIn == calls[2].countIn)
            #expect(summary.metrics.functionErrors == 1)
            #expect(summary.metrics.discardedRecords == 0)
            let final = try #require(calls.last)
            #expect(final.window?.isFinalInvokeForWindow == true)
            #expect(final.countIn + final.records.count == 3)
        }
    }

    @Test func aReshardClosesTheParentsWindowEarly() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            try store.createStream(named: "s", shardCount: 1)
            let stream = try store.stream(named: "s")
            try putRecords(stream, count: 3)
            try stream.splitShard("shardId-000000000000", newStartingHashKey: UInt128(1) << 127)
            let invoker = WindowInvoker()
            let mapping = makeMapping(
                store: store,
                configuration: MappingConfiguration(
                    startingPosition: .trimHorizon, batchSize: 10, tumblingWindowInSeconds: 900),
                invoker: invoker)
            let summary = try await mapping.run(exitWhenIdle: true)
            let calls = invoker.received
            // The records (at once, or in the final invoke if the shard's end was read with them), then the final
            // invoke once the parent's end is read, long before the 15-minute window ends.
            let final = try #require(calls.last)
            #expect(calls.allSatisfy { $0.shardId == "shardId-000000000000" })
            #expect(calls.flatMap(\.records).count == 3)
            #expect(final.countIn + final.records.count == 3)
            #expect(final.window?.isFinalInvokeForWindow == true)
            #expect(final.window?.isWindowTerminatedEarly == true)
            #expect(calls.dropLast().allSatisfy { $0.window?.isFinalInvokeForWindow == false })
            #expect(summary.checkpoints["shardId-000000000000"]?.finished == true)
        }
    }

    @Test func anInProcessHandlerSeesTheWindowAndReturnsState() async throws {
        struct Summing: KinesisHandler {
            func handle(_ records: [Record], context: HandlerContext) async throws -> BatchItemFailures {
                var failures = BatchItemFailures()
                let previous = context.window.map { String(decoding: $0.state, as: UTF8.self) } ?? "none"
                failures.state = Array(
                    #"{"previous":\#(previous.isEmpty ? "{}" : previous),"n":\#(records.count)}"#.utf8)
                return failures
            }
        }
        let invoker = InProcessInvoker(handler: Summing(), functionName: "f", logger: HandlerFixtures.logger)
        var batch = HandlerFixtures.batch(HandlerFixtures.records(2))
        batch.window = TumblingWindow(
            start: Date(timeIntervalSince1970: 0), end: Date(timeIntervalSince1970: 60), state: Array(#"{"n":1}"#.utf8))
        let outcome = await invoker.invoke(batch)
        let body = try #require(HandlerFixtures.responseText(outcome))
        let response = TumblingWindowResponse(
            parsing: Array(body.utf8), batchSequenceNumbers: batch.sequenceNumbers, reportBatchItemFailures: true)
        #expect(response.outcome == .success)
        #expect(response.state.map { String(decoding: $0, as: UTF8.self) } == #"{"n":2,"previous":{"n":1}}"#)
    }

    @Test func aPythonRuntimeHandlerSumsEachWindowIntoItsState() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            try store.createStream(named: "s", shardCount: 1)
            let stream = try store.stream(named: "s")
            try await sleepUntilWindowStart(seconds: 1)
            try putRecords(stream, count: 3)
            try await sleepUntilWindowStart(seconds: 1)
            try putRecords(stream, count: 2, start: 3)
            let log = dir + "/tumbling.jsonl"
            let spec = HandlerSpec.runtimeAPI(
                command: "TUMBLING_LOG=\(log) python3 -m awslambdaric tumbling_handler.handler",
                directory: HandlerFixtures.python)
            let invoker = try await spec.makeInvoker(
                functionName: "tumbling", timeout: .seconds(30), logger: HandlerFixtures.logger)
            let mapping = makeMapping(
                store: store,
                configuration: MappingConfiguration(
                    startingPosition: .trimHorizon, batchSize: 2, tumblingWindowInSeconds: 1),
                invoker: invoker)
            _ = try await mapping.run(exitWhenIdle: true)
            await invoker.shutdown()
            let lines = try readJSONLines(log)
            let finals = lines.filter { $0["isFinalInvokeForWindow"] as? Bool == true }
            try #require(finals.count == 2, "\(lines)")
            #expect(finals.map { ($0["stateOut"] as? [String: Any])?["count"] as? Int } == [3, 2])
            #expect(finals.map { ($0["stateOut"] as? [String: Any])?["sum"] as? Int } == [0 + 1 + 2, 3 + 4])
            for line in lines {
                #expect(line["shardId"] as? String == "shardId-000000000000")
                #expect(line["eventSourceARN"] as? String == "arn:aws:kinesis:us-east-1:000000000000:stream/s")
                #expect(line["isWindowTerminatedEarly"] as? Bool == false)
                let window = try #require(line["window"] as? [String: String])
                let start = try #require(window["start"])
                let end = try #require(window["end"])
                #expect(start.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/) != nil, "\(start)")
                let parser = ISO8601DateFormatter()
                let startDate = try #require(parser.date(from: start))
                #expect(parser.date(from: end) == startDate.addingTimeInterval(1))
            }
            let windows = lines.compactMap { ($0["window"] as? [String: String])?["start"] }
            #expect(Set(windows).count == 2)
        }
    }
}
