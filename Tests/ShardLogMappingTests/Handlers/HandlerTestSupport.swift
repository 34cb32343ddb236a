import Foundation
import Logging
import ShardLog
import ShardLogMapping
import ShardLogTestSupport
import Testing

/// Batches and helpers shared by the handler-kind tests.
enum HandlerFixtures {
    /// `Fixtures/handlers/python`.
    static let python = fixturePath("handlers/python")
    /// `Fixtures/handlers/bootstrap`.
    static let bootstrap = fixturePath("handlers/bootstrap")
    /// `Fixtures/handlers/exec`.
    static let exec = fixturePath("handlers/exec")

    /// A quiet logger for invokers under test.
    static var logger: Logger {
        var logger = Logger(label: "handler-tests")
        logger.logLevel = .error
        return logger
    }

    /// A record whose data is `payload` as UTF-8.
    static func record(_ offset: UInt64, _ payload: String, key: String = "k", shard: Int = 0) -> Record {
        Record(
            sequence: SequenceNumber(shardIndex: shard, offset: offset),
            partitionKey: key,
            data: Array(payload.utf8),
            arrivalMilliseconds: 1_700_000_000_000 + Int64(offset)
        )
    }

    /// `count` ordinary JSON records, then the given extra records.
    static func records(_ count: Int, extra: [Record] = []) -> [Record] {
        (0..<count).map { record(UInt64($0), #"{"order":\#($0)}"#, key: "key-\($0 % 3)") } + extra
    }

    /// A batch for `slot`, timing out `timeout` from now.
    static func batch(_ records: [Record], slot: Int = 0, timeout: Duration = .seconds(20)) -> InvocationBatch {
        let (seconds, attoseconds) = timeout.components
        return InvocationBatch(
            records: records,
            shardId: "shardId-000000000000",
            streamName: "orders",
            streamARN: "arn:aws:kinesis:us-east-1:000000000000:stream/orders",
            requestId: UUID().uuidString.lowercased(),
            deadline: Date().addingTimeInterval(Double(seconds) + Double(attoseconds) / 1e18),
            slot: slot
        )
    }

    /// Runs `body` with an invoker and always shuts it down, so no handler process outlives the test.
    static func withInvoker<R>(
        _ spec: HandlerSpec,
        functionName: String = "test-function",
        _ body: (any Invoker) async throws -> R
    ) async throws -> R {
        let invoker = try await spec.makeInvoker(functionName: functionName, timeout: .seconds(30), logger: logger)
        do {
            let result = try await body(invoker)
            await invoker.shutdown()
            return result
        } catch {
            await invoker.shutdown()
            throw error
        }
    }

    /// The response body as text, or `nil` if the outcome is not a response.
    static func responseText(_ outcome: InvocationOutcome) -> String? {
        if case .response(let bytes) = outcome {
            return String(decoding: bytes, as: UTF8.self)
        }
        return nil
    }

    /// The response body parsed as a JSON object.
    static func responseObject(_ outcome: InvocationOutcome) -> [String: Any]? {
        guard case .response(let bytes) = outcome else {
            return nil
        }
        return (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any]
    }

    /// Whether a process with this id exists (zombies count as gone: they have exited).
    static func isRunning(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 else {
            return false
        }
        let status = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        return !status.contains(") Z ")
    }

    /// Waits up to `timeout` for `pid` to be gone.
    static func waitUntilGone(_ pid: Int32, timeout: Duration = .seconds(5)) async -> Bool {
        let end = ContinuousClock.now + timeout
        while ContinuousClock.now < end {
            if !isRunning(pid) {
                return true
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return !isRunning(pid)
    }

    /// The ids of the processes whose environment contains `marker` (to find a handler's grandchildren).
    static func processes(withEnvironment marker: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { Int32($0) }.filter { pid in
            guard let environment = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else {
                return false
            }
            return environment.split(separator: 0).contains { Array($0) == Array(marker.utf8) } && isRunning(pid)
        }
    }
}
