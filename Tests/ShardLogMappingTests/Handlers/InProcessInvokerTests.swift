import Foundation
import ShardLog
import ShardLogTestSupport
import Testing

@testable import ShardLogMapping

/// Swift handlers run in this process.
@Suite(.timeLimit(.minutes(1)))
struct InProcessInvokerTests {
    typealias F = HandlerFixtures

    struct PoisonDetector: KinesisHandler {
        func handle(_ records: [Record], context: HandlerContext) async throws -> BatchItemFailures {
            var failures = BatchItemFailures()
            for record in records where String(decoding: record.data, as: UTF8.self).contains("poison") {
                failures.append(record.sequenceNumber)
            }
            return failures
        }
    }

    struct OrderRejected: Error, CustomStringConvertible {
        var description: String { "order 7 rejected" }
    }

    struct Throwing: KinesisHandler {
        func handle(_ records: [Record], context: HandlerContext) async throws -> BatchItemFailures {
            throw OrderRejected()
        }
    }

    struct Sleeping: KinesisHandler {
        var honoursCancellation: Bool
        func handle(_ records: [Record], context: HandlerContext) async throws -> BatchItemFailures {
            if honoursCancellation {
                try await Task.sleep(for: .seconds(30))
            } else {
                let end = ContinuousClock.now + .seconds(6)
                while ContinuousClock.now < end {
                    try? await Task.sleep(for: .milliseconds(50))
                }
            }
            return []
        }
    }

    struct ContextEcho: KinesisHandler {
        func handle(_ records: [Record], context: HandlerContext) async throws -> BatchItemFailures {
            [context.requestId, context.functionName, context.invokedFunctionArn, context.shardId, "\(context.slot)"]
        }
    }

    @Test func successReturnsLambdasResponseJSON() async throws {
        let poison = F.record(5, #"{"poison":true}"#)
        let batch = F.batch(F.records(3, extra: [poison]))
        try await F.withInvoker(.inProcess(PoisonDetector())) { invoker in
            let outcome = await invoker.invoke(batch)
            #expect(
                F.responseText(outcome) == #"{"batchItemFailures":[{"itemIdentifier":"\#(poison.sequenceNumber)"}]}"#)
            #expect(F.responseText(await invoker.invoke(F.batch(F.records(2)))) == #"{"batchItemFailures":[]}"#)
            guard case .response(let body) = outcome else {
                return
            }
            let response = HandlerResponse(
                parsing: body,
                batchSequenceNumbers: batch.sequenceNumbers,
                reportBatchItemFailures: true
            )
            #expect(response == .partialFailure(lowestFailedSequenceNumber: poison.sequenceNumber))
        }
    }

    @Test func theContextDescribesTheInvocation() async throws {
        let batch = F.batch(F.records(1), slot: 4)
        let outcome = try await F.withInvoker(.inProcess(ContextEcho()), functionName: "swift-fn") {
            await $0.invoke(batch)
        }
        let identifiers = try #require(F.responseObject(outcome)?["batchItemFailures"] as? [[String: String]])
        #expect(
            identifiers.compactMap { $0["itemIdentifier"] } == [
                batch.requestId, "swift-fn", "arn:aws:lambda:us-east-1:000000000000:function:swift-fn",
                "shardId-000000000000", "4",
            ]
        )
    }

    @Test func aThrownErrorIsAFunctionError() async throws {
        let outcome = try await F.withInvoker(.inProcess(Throwing())) { await $0.invoke(F.batch(F.records(1))) }
        #expect(outcome == .functionError(type: "OrderRejected", message: "order 7 rejected"))
    }

    @Test(arguments: [true, false])
    func aHandlerRunningAtTheDeadlineTimesOut(honoursCancellation: Bool) async throws {
        let clock = ContinuousClock()
        let start = clock.now
        let outcome = try await F.withInvoker(.inProcess(Sleeping(honoursCancellation: honoursCancellation))) {
            await $0.invoke(F.batch(F.records(1), timeout: .milliseconds(300)))
        }
        let elapsed = clock.now - start
        #expect(outcome == .timedOut)
        // Well before the handler would finish (30 s, or 6 s ignoring cancellation), with slack for a loaded machine.
        #expect(elapsed >= .milliseconds(250) && elapsed < .seconds(3), "returned after \(elapsed)")
    }

    @Test func theTimeoutIsATimerOnTheMappingsSchedulerCancelledWhenTheHandlerAnswers() async throws {
        let scheduler = MappingScheduler()
        defer { scheduler.stop() }
        try await F.withInvoker(.inProcess(Sleeping(honoursCancellation: true))) { invoker in
            let outcome = await MappingScheduler.$current.withValue(scheduler) {
                await invoker.invoke(F.batch(F.records(1), timeout: .milliseconds(200)))
            }
            #expect(outcome == .timedOut)
            #expect(scheduler.firedCount == 1, "the deadline fired on the mapping's scheduler")
        }
        try await F.withInvoker(.inProcess(PoisonDetector())) { invoker in
            let outcome = await MappingScheduler.$current.withValue(scheduler) {
                await invoker.invoke(F.batch(F.records(2), timeout: .seconds(60)))
            }
            #expect(F.responseText(outcome) == #"{"batchItemFailures":[]}"#)
            #expect(scheduler.pendingCount == 0, "the timer is cancelled when the handler answers")
            #expect(scheduler.firedCount == 1)
        }
    }

    @Test func aTimeoutStillFiresWhileTheMappingStops() async throws {
        // A batch that runs while the mapping stops must still end at its deadline.
        let scheduler = MappingScheduler()
        scheduler.stop()
        let start = ContinuousClock.now
        let outcome = try await F.withInvoker(.inProcess(Sleeping(honoursCancellation: false))) { invoker in
            await MappingScheduler.$current.withValue(scheduler) {
                await invoker.invoke(F.batch(F.records(1), timeout: .milliseconds(300)))
            }
        }
        let elapsed = ContinuousClock.now - start
        #expect(outcome == .timedOut)
        #expect(elapsed >= .milliseconds(250) && elapsed < .seconds(3), "returned after \(elapsed)")
    }
}

/// `--handler KIND:COMMAND` parsing and the invoker factory.
@Suite struct HandlerSpecTests {
    @Test func parsesTheHandlerKinds() throws {
        guard
            case .runtimeAPI(let command, let directory) = try HandlerSpec.parse(
                "runtime-api:python3 -m awslambdaric handler.handler",
                directory: "/code"
            )
        else {
            Issue.record("expected runtime-api")
            return
        }
        #expect(command == "python3 -m awslambdaric handler.handler" && directory == "/code")
        guard case .exec(let script, nil) = try HandlerSpec.parse("exec: ./count.sh --verbose", directory: nil) else {
            Issue.record("expected exec")
            return
        }
        #expect(script == "./count.sh --verbose")
    }

    @Test(arguments: ["python3 handler.py", "lambda:handler", "exec:", "runtime-api:   "])
    func rejectsBadSpecs(_ text: String) {
        #expect(throws: MappingError.self) {
            try HandlerSpec.parse(text, directory: nil)
        }
    }

    @Test func makesTheMatchingInvoker() async throws {
        let logger = HandlerFixtures.logger
        let runtime = try await HandlerSpec.runtimeAPI(command: "true", directory: nil)
            .makeInvoker(functionName: "f", timeout: .seconds(3), logger: logger)
        #expect(runtime is RuntimeAPIInvoker)
        let exec = try await HandlerSpec.exec(command: "true", directory: nil)
            .makeInvoker(functionName: "f", timeout: .seconds(3), logger: logger)
        #expect(exec is ExecInvoker)
        await #expect(throws: MappingError.self) {
            try await HandlerSpec.exec(command: "true", directory: "/nonexistent/shardlog")
                .makeInvoker(functionName: "f", timeout: .seconds(3), logger: logger)
        }
        await #expect(throws: MappingError.self) {
            try await HandlerSpec.exec(command: "true", directory: nil)
                .makeInvoker(functionName: "f", timeout: .zero, logger: logger)
        }
    }
}
