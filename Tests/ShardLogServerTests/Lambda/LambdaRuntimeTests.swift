import Foundation
import ShardLog
import ShardLogTestSupport
import Testing

@testable import ShardLogServer

/// How `shardlog serve` runs deployed functions: concurrency bounded per function (`--max-concurrency`, reserved
/// concurrency), idle processes stopped, Event invocations retried, request bodies within the server's budget;
/// driven by boto3 (`Python/lambda_runtime_test.py`) against a real server on 127.0.0.1.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct LambdaRuntimeTests {
    private func run(_ phase: String) async throws {
        try await withTemporaryDirectory { work in
            let data = work + "/data"
            var options = KinesisServerOptions()
            options.lambda.maxConcurrency = 2
            options.lambda.throttleWait = .milliseconds(300)
            options.lambda.functionIdleTimeout = .seconds(1)
            options.lambda.eventRetryDelay = .milliseconds(200)
            options.maxBufferedByteCount = 1 << 20
            try await withServer(options, directory: data) { port in
                let result = try await runProcess(
                    [
                        projectPython, pythonScriptPath("lambda_runtime_test.py"), "http://127.0.0.1:\(port)", data,
                        work, phase,
                    ],
                    environment: [:], timeout: .seconds(200))
                #expect(result.status == 0, "\(phase) phase failed:\n\(result.output)")
                #expect(result.output.contains("PASS \(phase)"), "\(result.output)")
            }
        }
    }

    @Test("--max-concurrency bounds each function; TooManyRequestsException; Put/Get/DeleteFunctionConcurrency")
    func concurrency() async throws { try await run("concurrency") }

    @Test("a warm process idle longer than --function-idle-timeout is stopped; the next invoke cold-starts")
    func idleProcessesStop() async throws { try await run("idle") }

    @Test("Event invocations are retried as Lambda retries them; failures logged with their request id")
    func eventRetries() async throws { try await run("retries") }

    @Test("Lambda request bodies count in the server's body budget; over Invoke's limit: RequestEntityTooLarge")
    func bodies() async throws { try await run("bodies") }

    @Test("the slot pool: lowest slot first, timed waits give up, a raised limit serves waiters")
    func slotPool() async throws {
        let pool = SlotPool(limit: 2)
        #expect(await pool.acquire() == 0)
        #expect(await pool.acquire() == 1)
        #expect(await pool.acquire(timeout: .milliseconds(20)) == nil)
        #expect(await pool.acquire(timeout: .zero) == nil)
        async let waiting = pool.acquire(timeout: .seconds(30))
        try await Task.sleep(for: .milliseconds(50))
        pool.setLimit(3)
        #expect(await waiting == 2)
        pool.setLimit(1)
        pool.release(2)  // above the new limit: retired, not handed out
        pool.release(1)
        #expect(await pool.acquire(timeout: .zero) == nil)
        pool.release(0)
        #expect(await pool.acquire(timeout: .zero) == 0)
        #expect(pool.busy == 1)
        #expect(pool.claim(1) && !pool.claim(0))
    }
}
