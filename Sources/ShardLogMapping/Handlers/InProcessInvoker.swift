import Foundation
import Logging
import ShardLog

/// Runs a Swift ``KinesisHandler`` in this process.
///
/// Each invocation runs the handler in its own task and waits for it at most until the batch's deadline (a timer on
/// the mapping's ``MappingScheduler``): a handler that returns first produces a `.response` with Lambda's
/// partial-batch-response JSON (so the engine reads every handler kind the same way); a thrown error is a
/// `.functionError` with the error's type name and description; a handler still running at the deadline is cancelled
/// and abandoned, and the outcome is `.timedOut`. Thread-safe.
public struct InProcessInvoker: Invoker {
    /// The handler.
    public let handler: any KinesisHandler
    /// The function name reported in ``HandlerContext``.
    public let functionName: String
    /// The base logger for ``HandlerContext/logger``.
    public let logger: Logger

    /// Creates an invoker.
    /// - Parameters:
    ///   - handler: The handler to run.
    ///   - functionName: The function name reported to the handler.
    ///   - logger: The logger handed to the handler (with request metadata added).
    public init(handler: any KinesisHandler, functionName: String, logger: Logger) {
        self.handler = handler
        self.functionName = functionName
        self.logger = logger
    }

    /// Runs the handler on `batch`, at most until its deadline.
    /// - Parameter batch: The batch.
    /// - Returns: `.response` (the JSON of the returned ``BatchItemFailures``), `.functionError` for a thrown
    ///   error, `.timedOut` at the deadline, `.serviceError` if the invoking task was cancelled.
    public func invoke(_ batch: InvocationBatch) async -> InvocationOutcome {
        var logger = self.logger
        logger[metadataKey: "request.id"] = .string(batch.requestId)
        logger[metadataKey: "shard.id"] = .string(batch.shardId)
        let context = HandlerContext(
            requestId: batch.requestId,
            deadline: batch.deadline,
            functionName: functionName,
            invokedFunctionArn: FunctionIdentity.arn(functionName: functionName),
            shardId: batch.shardId,
            streamName: batch.streamName,
            streamARN: batch.streamARN,
            slot: batch.slot,
            logger: logger,
            window: batch.window
        )
        let finished = Completion<InvocationOutcome>()
        let handler = self.handler
        let records = batch.records
        // An unstructured task, so that a handler that ignores cancellation cannot hold the invocation past its
        // deadline; it inherits our priority and task-local values.
        let work = Task {
            do {
                let failures = try await handler.handle(records, context: context)
                finished.complete(.response(failures.jsonBytes))
            } catch {
                finished.complete(
                    .functionError(type: String(describing: type(of: error)), message: String(describing: error))
                )
            }
        }
        // The deadline is a timer on the mapping's scheduler (``MappingScheduler/current``), not a sleeping task.
        if let outcome = await finished.wait(until: HandlerClock.instant(for: batch.deadline)) {
            return outcome
        }
        if let outcome = finished.value {
            return outcome
        }
        work.cancel()
        if Task.isCancelled {
            return .serviceError("the invocation was cancelled before the handler finished")
        }
        logger.warning("in-process handler timed out; it was cancelled and abandoned")
        return .timedOut
    }

    /// Nothing to stop: in-process handlers own no processes.
    public func shutdown() async {}
}
