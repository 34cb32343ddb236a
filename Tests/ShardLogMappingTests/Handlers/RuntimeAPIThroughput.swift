import Foundation
import ShardLog
import ShardLogTestSupport
import Testing

@testable import ShardLogMapping

/// A measurement, not a test: sequential invocations per second of a trivial awslambdaric handler through the
/// Runtime API endpoint. Runs only when `SHARDLOG_MEASURE_RUNTIME_API` is set (to the number of invocations, default
/// 500):
///
///     SHARDLOG_MEASURE_RUNTIME_API=500 swift test --skip-build --filter RuntimeAPIThroughput
@Suite(
    .enabled(if: ProcessInfo.processInfo.environment["SHARDLOG_MEASURE_RUNTIME_API"] != nil),
    .timeLimit(.minutes(1))
)
struct RuntimeAPIThroughput {
    @Test func sequentialInvocationsPerSecond() async throws {
        let count = Int(ProcessInfo.processInfo.environment["SHARDLOG_MEASURE_RUNTIME_API"] ?? "") ?? 500
        try await withTemporaryDirectory { directory in
            try "def handler(event, context):\n    return {\"batchItemFailures\": []}\n"
                .write(toFile: directory + "/trivial.py", atomically: true, encoding: .utf8)
            let spec = HandlerSpec.runtimeAPI(command: "python3 -m awslambdaric trivial.handler", directory: directory)
            try await HandlerFixtures.withInvoker(spec) { invoker in
                let records = HandlerFixtures.records(1)
                // Warm the process (cold start excluded).
                #expect(HandlerFixtures.responseObject(await invoker.invoke(HandlerFixtures.batch(records))) != nil)
                let clock = ContinuousClock()
                let start = clock.now
                var failures = 0
                for _ in 0..<count {
                    let outcome = await invoker.invoke(HandlerFixtures.batch(records))
                    if case .response = outcome {
                    } else {
                        failures += 1
                    }
                }
                let elapsed = clock.now - start
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                let rate = Double(count) / seconds
                let line =
                    "runtime-api: \(count) sequential invocations of a trivial awslambdaric handler in "
                    + String(
                        format: "%.2f s = %.0f invocations/s (%.2f ms each)", seconds, rate,
                        seconds * 1000 / Double(count))
                print(line)
                #expect(failures == 0)
            }
        }
    }
}
