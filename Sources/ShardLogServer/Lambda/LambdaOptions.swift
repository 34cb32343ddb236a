/// How `shardlog serve` runs deployed functions (`serve --max-concurrency`, `--function-idle-timeout`, …).
package struct LambdaOptions: Sendable, Equatable {
    /// Concurrent invocations per function when it has no reserved concurrency of its own
    /// (`PutFunctionConcurrency`): its most warm processes (10).
    package var maxConcurrency = 10
    /// The largest value of ``maxConcurrency`` and of `ReservedConcurrentExecutions` (an account's default
    /// concurrency quota at AWS).
    package static let concurrencyLimit = 1000
    /// A synchronous `Invoke` waits this long for a free slot of its function before it is answered
    /// `TooManyRequestsException` (1 s); `Event` invocations queue instead.
    package var throttleWait = Duration.seconds(1)
    /// A warm runtime process idle this long is stopped; the next invocation in its slot starts a new one (10 min).
    package var functionIdleTimeout = Duration.seconds(600)
    /// An `Event` invocation whose function fails is retried after this delay, then after twice it (Lambda: 1 and
    /// 2 minutes).
    package var eventRetryDelay = Duration.seconds(60)

    /// The defaults.
    package init() {}

    /// The options of `serve --max-concurrency N --function-idle-timeout SECONDS --event-retry-delay SECONDS` (call
    /// ``validate(maxConcurrency:idleTimeout:retryDelay:)`` first).
    package init(maxConcurrency: Int, idleTimeout: Double, retryDelay: Double) {
        self.maxConcurrency = maxConcurrency
        self.functionIdleTimeout = .milliseconds(Int64(idleTimeout * 1000))
        self.eventRetryDelay = .milliseconds(Int64(retryDelay * 1000))
    }

    /// Checks the command line's values.
    /// - Throws: ``LambdaOptionsError`` naming the option and its range.
    package static func validate(maxConcurrency: Int, idleTimeout: Double, retryDelay: Double)
        throws(LambdaOptionsError)
    {
        guard (1...concurrencyLimit).contains(maxConcurrency) else {
            throw LambdaOptionsError(
                message: "--max-concurrency must be between 1 and \(concurrencyLimit), not \(maxConcurrency)")
        }
        guard idleTimeout >= 0.05, idleTimeout <= 86_400 else {
            throw LambdaOptionsError(
                message: "--function-idle-timeout must be between 0.05 and 86400 seconds, not \(idleTimeout)")
        }
        guard retryDelay >= 0, retryDelay <= 3_600 else {
            throw LambdaOptionsError(
                message: "--event-retry-delay must be between 0 and 3600 seconds, not \(retryDelay)")
        }
    }
}

/// A `serve` option of the Lambda side out of its range.
package struct LambdaOptionsError: Error, Sendable, CustomStringConvertible {
    /// What is wrong, naming the option.
    package var message: String
    /// ``message``.
    package var description: String { message }
}
