import Foundation
import Logging
import ShardLog
import Synchronization

/// A flag that asks every task of a mapping to stop, with the mapping's ``MappingScheduler`` (stopping ends every
/// wait on it). Thread-safety: an atomic.
final class StopSignal: Sendable {
    private let flag = Atomic<Bool>(false)
    /// The mapping's one scheduler for time.
    let scheduler = MappingScheduler()

    /// Whether a stop was requested.
    var isSet: Bool { flag.load(ordering: .acquiring) }

    private let observers = Mutex<[@Sendable () -> Void]>([])

    /// Requests a stop: every sleep on the scheduler, every reader waiting on a stream's doorbell and every
    /// ``whenSet(_:)`` observer wakes.
    func set() {
        flag.store(true, ordering: .releasing)
        scheduler.stop()
        StreamDoorbell.interruptWaiters()
        for observer in observers.withLock({ $0 }) { observer() }
    }

    /// Runs `observer` when the stop is requested (at once if it already was); it must not block (ring a
    /// ``Doorbell``).
    func whenSet(_ observer: @escaping @Sendable () -> Void) {
        observers.withLock { $0.append(observer) }
        if isSet { observer() }
    }
}

/// What every batch of a mapping shares.
struct BatchContext: Sendable {
    var configuration: MappingConfiguration
    var invoker: any Invoker
    var sink: FailureSink?
    var metrics: MetricsRecorder
    var streamName: String
    var streamARN: String
    /// The function's ARN, written to on-failure records.
    var functionArn: String
    /// The function's execution role (events' `invokeIdentityArn`), or `nil` for `role/shardlog`.
    var roleArn: String?
    var timeout: Duration
    var firstRetryDelay: Duration
    var maximumRetryDelay: Duration
    var now: @Sendable () -> Date
    var stop: StopSignal
    var logger: Logger
    /// `LastProcessingResult` and the back-off while the handler cannot start.
    var health: ProcessingHealth

    /// The mapping's one scheduler for time (back-offs, lane waits, batching-window deadlines).
    var scheduler: MappingScheduler { stop.scheduler }
}

/// How a lane batch ended.
enum BatchResult: Sendable, Equatable {
    /// Every record was handled: processed, or discarded to the on-failure destination.
    case completed
    /// The mapping is stopping; records from the last reported progress on were not handled.
    case abandoned
}

/// Runs one lane batch to the end with Lambda's rules (semantics §3, rules 2–6):
///
/// - before each invocation, records older than `MaximumRecordAgeInSeconds` are discarded (`RecordAgeExceeded`);
/// - a function error (raise, timeout, crash, or a response that fails the whole batch) with
///   `BisectBatchOnFunctionError` splits a batch of two or more records into halves run in order, each with a fresh
///   retry count: a split does not consume `MaximumRetryAttempts`;
/// - otherwise a function error, or a `ReportBatchItemFailures` partial failure, is a failed attempt: the records
///   (from the lowest reported item on, for a partial failure) are retried after a short back-off until
///   `MaximumRetryAttempts` failed attempts were retried, then discarded (`RetryAttemptsExhausted`);
/// - with bisect on, a partial failure splits at the reported item: the records before it are done and the rest
///   is retried with a fresh count;
/// - an invocation error (the handler could not start: `.serviceError`) discards nothing and spends no retry; the
///   mapping backs off (``ProcessingHealth``: 1 s doubling to 60 s, shared by all lanes) and says so once per step.
///
/// Every failed invocation is logged once, with the mapping, shard, sequence range, attempt, request id and the
/// reason (`TypeError: boom`, an exec handler's exit status and standard error tail, a response that is not JSON,
/// a timeout with the configured timeout, a crash with its signal); the reason is kept for the on-failure record's
/// `lastError` and the mapping's `LastProcessingResult`.
///
/// With a tumbling window (semantics §3, "Tumbling window") every invocation carries the window and the state the
/// previous successful invocation returned; a response without `state` is a function error, and the state of a
/// successful or partially failed invocation is carried to the next one. Only the invocations that include the
/// batch's last record keep `isFinalInvokeForWindow`. A batch may be empty: the final invocation of a window that
/// has no records left.
///
/// Progress is reported in order through `progress`: every record up to the given offset is handled, so the
/// shard's checkpoint may pass it.
struct BatchRunner: Sendable {
    let context: BatchContext
    let shardId: String
    let slot: Int
    let progress: @Sendable (UInt64) -> Void

    private struct Segment {
        var records: ArraySlice<Record>
        var failedAttempts = 0
        var invokeCount = 0
        var requestId = ""
        var functionError: String?
        /// Why the last invocation failed.
        var lastError: InvocationRecord.LastError?
        var delay: Duration
        /// Set once the records were discarded (retries exhausted): the segment is done.
        var isDiscarded = false

        init(_ records: ArraySlice<Record>, delay: Duration, invokeCount: Int = 0) {
            self.records = records
            self.delay = delay
            self.invokeCount = invokeCount
        }
    }

    private enum Verdict {
        case success
        case partial(lowestFailed: String, InvocationRecord.LastError)
        case failure(functionError: String?, InvocationRecord.LastError)
        case service(String)
    }

    private var configuration: MappingConfiguration { context.configuration }

    /// Runs the batch until every record is handled or the mapping stops.
    /// - Parameters:
    ///   - records: The batch, in order; empty only for the final invocation of a tumbling window.
    ///   - window: The tumbling window of the batch with the state so far, or `nil`.
    /// - Returns: How the batch ended, and the window state after it (`nil` without a window).
    func run(_ records: [Record], window initialWindow: TumblingWindow? = nil) async -> (BatchResult, [UInt8]?) {
        var window = initialWindow
        let result = await run(records, window: &window)
        return (result, window?.state)
    }

    private func run(_ records: [Record], window: inout TumblingWindow?) async -> BatchResult {
        var work = [Segment(records[...], delay: context.firstRetryDelay)]
        while var segment = work.first {
            if let until = context.health.backOffUntil {
                await sleep(until: until)
            }
            if context.stop.isSet || Task.isCancelled { return .abandoned }
            if let maximumAge = configuration.maximumRecordAge {
                let cutoff = Int64((context.now().timeIntervalSince1970 - Double(maximumAge.components.seconds)) * 1000)
                let old = segment.records.prefix { $0.arrivalMilliseconds < cutoff }
                if !old.isEmpty {
                    guard await discard(old, condition: .recordAgeExceeded, segment: segment) else { return .abandoned }
                    segment.records = segment.records.dropFirst(old.count)
                    if segment.records.isEmpty {
                        work.removeFirst()
                        continue
                    }
                }
            }
            let verdict = await invoke(
                &segment, batch: records, window: &window, isLast: segment.records.endIndex == records.endIndex)
            switch verdict {
            case .success:
                complete(segment.records)
                work.removeFirst()
            case .service(let message):
                if context.stop.isSet || Task.isCancelled { return .abandoned }
                context.metrics.update { $0.serviceErrors += 1 }
                let (until, step) = context.health.couldNotStart(message)
                if let step {
                    let text =
                        "\(message); nothing is discarded and no retry attempt is spent; trying again in "
                        + DurationText.compact(step)
                    context.logger.error("\(text)", metadata: metadata(segment))
                }
                await sleep(until: until)
                work[0] = segment
            case .partial(let lowest, let error):
                segment.lastError = error
                let index = segment.records.firstIndex { $0.sequenceNumber == lowest } ?? segment.records.startIndex
                let head = segment.records[..<index]
                let tail = segment.records[index...]
                if !head.isEmpty { complete(head) }
                if configuration.bisectBatchOnFunctionError && !head.isEmpty {
                    context.metrics.update { $0.bisections += 1 }
                    work[0] = Segment(tail, delay: context.firstRetryDelay, invokeCount: segment.invokeCount)
                } else if configuration.bisectBatchOnFunctionError && tail.count > 1 {
                    work.replaceSubrange(0..<1, with: split(segment))
                } else {
                    segment.records = tail
                    guard await failedAttempt(&segment) else { return .abandoned }
                    if segment.isDiscarded { work.removeFirst() } else { work[0] = segment }
                }
            case .failure(let functionError, let error):
                segment.functionError = functionError
                segment.lastError = error
                if configuration.bisectBatchOnFunctionError && segment.records.count > 1 {
                    work.replaceSubrange(0..<1, with: split(segment))
                } else {
                    guard await failedAttempt(&segment) else { return .abandoned }
                    if segment.isDiscarded { work.removeFirst() } else { work[0] = segment }
                }
            }
        }
        return .completed
    }

    /// Splits a segment into two halves, each with a fresh retry count.
    private func split(_ segment: Segment) -> [Segment] {
        context.metrics.update { $0.bisections += 1 }
        let middle = segment.records.startIndex + segment.records.count / 2
        var first = Segment(segment.records[..<middle], delay: context.firstRetryDelay, invokeCount: 0)
        var second = Segment(segment.records[middle...], delay: context.firstRetryDelay, invokeCount: 0)
        first.invokeCount = segment.invokeCount
        second.invokeCount = segment.invokeCount
        return [first, second]
    }

    /// Counts a failed attempt; discards the records when the retries are exhausted (leaving `records` empty),
    /// otherwise waits before the retry. Returns false when the mapping is stopping.
    private func failedAttempt(_ segment: inout Segment) async -> Bool {
        segment.failedAttempts += 1
        if let limit = configuration.retryLimit, segment.failedAttempts > limit {
            guard await discard(segment.records, condition: .retryAttemptsExhausted, segment: segment) else {
                return false
            }
            segment.records = segment.records.suffix(0)
            segment.isDiscarded = true
            return true
        }
        context.metrics.update { $0.retries += 1 }
        await backOff(&segment)
        return true
    }

    private func backOff(_ segment: inout Segment) async {
        await sleep(until: .now + segment.delay)
        segment.delay = min(segment.delay * 2, context.maximumRetryDelay)
    }

    /// Sleeps until `deadline` on the mapping's scheduler, waking early when the mapping stops (a 60 s back-off
    /// must not delay Ctrl-C).
    private func sleep(until deadline: ContinuousClock.Instant) async {
        await context.scheduler.sleep(until: deadline)
    }

    /// The metadata of a log line about `segment`: mapping (from the logger), shard, sequence range, attempt and
    /// request id.
    private func metadata(_ segment: Segment, attempt: Int? = nil) -> Logger.Metadata {
        var metadata: Logger.Metadata = [
            "shard.id": .string(shardId),
            "attempt": .stringConvertible(attempt ?? segment.failedAttempts + 1),
            "request.id": .string(segment.requestId),
        ]
        if let first = segment.records.first, let last = segment.records.last {
            metadata["sequence.first"] = .string(first.sequenceNumber)
            metadata["sequence.last"] = .string(last.sequenceNumber)
        }
        return metadata
    }

    /// Logs a failed invocation once, with its reason; stack traces are logged at debug level by the invoker.
    private func logFailure(_ segment: Segment, _ error: InvocationRecord.LastError, partial: Bool) {
        let text = "invocation failed: \(error) (\(segment.records.count) record(s))"
        if partial {
            context.logger.warning("\(text)", metadata: metadata(segment))
        } else {
            context.logger.error("\(text)", metadata: metadata(segment))
        }
    }

    /// Marks records as processed by the handler.
    private func complete(_ records: ArraySlice<Record>) {
        guard let last = records.last else { return }
        let age = Int64(context.now().timeIntervalSince1970 * 1000) - last.arrivalMilliseconds
        context.metrics.update { $0.records += records.count }
        context.metrics.setIteratorAge(shardId: shardId, milliseconds: max(0, age))
        progress(last.sequence.offset)
    }

    /// Invokes the handler once and classifies the outcome; with a window, adopts the returned state on success or
    /// partial failure.
    private func invoke(
        _ segment: inout Segment, batch whole: [Record], window: inout TumblingWindow?, isLast: Bool
    ) async -> Verdict {
        // The whole batch (the usual case) is passed as it is, not copied.
        let records = segment.records.count == whole.count ? whole : Array(segment.records)
        let requestId = InvocationIdentifier.requestId()
        let seconds =
            Double(context.timeout.components.seconds)
            + Double(context.timeout.components.attoseconds) / 1e18
        var batch = InvocationBatch(
            records: records, shardId: shardId, streamName: context.streamName, streamARN: context.streamARN,
            requestId: requestId, deadline: Date().addingTimeInterval(seconds), slot: slot,
            deaggregate: configuration.deaggregate,
            window: window.map { current in
                var fields = current
                fields.isFinalInvokeForWindow = current.isFinalInvokeForWindow && isLast
                return fields
            })
        batch.roleArn = context.roleArn
        context.metrics.update {
            $0.batches += 1
            $0.inFlight += 1
        }
        let invoker = context.invoker
        let invoked = ContinuousClock.now
        let pieces = deaggregatedPieces(of: batch)
        let outcome = await MappingScheduler.$current.withValue(context.scheduler) {
            if let pieces { return await invokeInPieces(pieces, batch: batch) }
            return await invoker.invoke(batch)
        }
        context.metrics.finishedInvocation(after: ContinuousClock.now - invoked)
        segment.invokeCount += 1
        segment.requestId = requestId
        let verdict = classify(outcome, records: records, window: &window)
        switch verdict {
        case .success:
            context.health.invoked(problem: nil)
        case .partial(_, let error):
            context.health.invoked(problem: "Function call failed: \(error)")
            logFailure(segment, error, partial: true)
        case .failure(_, let error):
            context.health.invoked(problem: "Function call failed: \(error)")
            logFailure(segment, error, partial: false)
        case .service:
            break
        }
        return verdict
    }

    /// The events of a batch whose de-aggregated event would pass Lambda's 6 MB payload cap, each within it; `nil`
    /// when the event fits (the usual case) or the handler runs in this process (it gets the stored records, not an
    /// event).
    ///
    /// The shard reader sizes KPL aggregates as their user records (``ShardPoller``), so a batch of several records
    /// fits; only one aggregate whose user records alone pass the cap (a 1 MiB aggregate of tiny records can expand
    /// past 6 MB) is cut here, between user records. Not with a tumbling window, whose state passes from one
    /// invocation to the next: such a batch is delivered whole.
    private func deaggregatedPieces(of batch: InvocationBatch) -> [[UInt8]]? {
        guard batch.deaggregate, batch.window == nil, batch.records.count == 1, !(context.invoker is InProcessInvoker),
            batch.records[0].data.starts(with: KPLAggregation.magic)
        else { return nil }
        let encoder = KinesisEventEncoder(
            source: KinesisEventSource(
                streamARN: batch.streamARN, streamName: batch.streamName, shardId: batch.shardId,
                roleArn: batch.roleArn))
        let users = KPLAggregation.expand(batch.records.map(EventRecord.init))
        let cap = LaneBuffer.maximumPayloadByteCount
        var pieces: [[UInt8]] = []
        var piece: [EventRecord] = []
        var bytes = encoder.envelopeByteCount()
        for user in users {
            let added = encoder.encodedByteCount(of: user) + (piece.isEmpty ? 0 : 1)
            if !piece.isEmpty && bytes + added > cap {
                pieces.append(encoder.encode(piece))
                piece.removeAll(keepingCapacity: true)
                bytes = encoder.envelopeByteCount()
                bytes += encoder.encodedByteCount(of: user)
            } else {
                bytes += added
            }
            piece.append(user)
        }
        guard !pieces.isEmpty else { return nil }
        pieces.append(encoder.encode(piece))
        return pieces
    }

    /// Invokes the handler with each piece of one aggregate's event in order (each a fresh request id), stopping at
    /// the first that does not succeed: its outcome is the batch's, so the whole record is retried (its earlier
    /// pieces again: at least once, as for any retried record).
    private func invokeInPieces(_ pieces: [[UInt8]], batch: InvocationBatch) async -> InvocationOutcome {
        var outcome = InvocationOutcome.response([])
        for (index, piece) in pieces.enumerated() {
            var part = batch
            part.rawEvent = piece
            if index > 0 { part.requestId = InvocationIdentifier.requestId() }
            outcome = await context.invoker.invoke(part)
            guard case .response(let body) = outcome,
                HandlerResponse(
                    parsing: body, batchSequenceNumbers: Set(batch.records.map(\.sequenceNumber)),
                    reportBatchItemFailures: configuration.reportsBatchItemFailures) == .success
            else { return outcome }
        }
        return outcome
    }

    /// What an outcome means for the batch, with the reason of a failure as a user reads it.
    private func classify(_ outcome: InvocationOutcome, records: [Record], window: inout TumblingWindow?) -> Verdict {
        switch outcome {
        case .response(let body):
            let reports = configuration.reportsBatchItemFailures
            let sequenceNumbers = reports ? Set(records.map(\.sequenceNumber)) : []
            let response: HandlerResponse
            if window != nil {
                let windowed = TumblingWindowResponse(
                    parsing: body, batchSequenceNumbers: sequenceNumbers, reportBatchItemFailures: reports)
                response = windowed.outcome
                switch (response, windowed.state) {
                case (.success, let state?), (.partialFailure, let state?): window?.state = state
                default: break
                }
            } else {
                response = HandlerResponse(
                    parsing: body, batchSequenceNumbers: sequenceNumbers, reportBatchItemFailures: reports)
            }
            switch response {
            case .success:
                return .success
            case .partialFailure(let lowest):
                context.metrics.update { $0.partialFailures += 1 }
                let count = records.count - (records.firstIndex { $0.sequenceNumber == lowest } ?? 0)
                return .partial(
                    lowestFailed: lowest,
                    .init(
                        errorType: "PartialBatchFailure",
                        errorMessage: "batchItemFailures reported \(lowest): \(count) record(s) from it on are retried")
                )
            case .fullFailure(let reason):
                context.metrics.update { $0.functionErrors += 1 }
                return .failure(functionError: nil, .init(errorType: "InvalidResponse", errorMessage: reason))
            }
        case .functionError(let type, let message):
            context.metrics.update { $0.functionErrors += 1 }
            return .failure(functionError: "Unhandled", .init(errorType: type, errorMessage: message))
        case .timedOut:
            context.metrics.update { $0.functionErrors += 1 }
            let seconds =
                Double(context.timeout.components.seconds)
                + Double(context.timeout.components.attoseconds) / 1e18
            return .failure(
                functionError: "Unhandled",
                .init(
                    errorType: "Sandbox.Timedout",
                    errorMessage: "Task timed out after \(String(format: "%.2f", seconds)) seconds"))
        case .crashed(let message):
            context.metrics.update { $0.functionErrors += 1 }
            return .failure(functionError: "Unhandled", Self.crashError(message))
        case .serviceError(let message):
            return .service(message)
        }
    }

    /// A crash message as an error: `Runtime.InitError: …` keeps its type, anything else is `Runtime.ExitError`.
    static func crashError(_ message: String) -> InvocationRecord.LastError {
        if message.hasPrefix("Runtime."), let colon = message.range(of: ": ") {
            return .init(
                errorType: String(message[..<colon.lowerBound]), errorMessage: String(message[colon.upperBound...]))
        }
        return .init(errorType: "Runtime.ExitError", errorMessage: message)
    }

    /// Sends discarded records to the on-failure destination (retrying a failing write until it succeeds or the
    /// mapping stops) and marks them handled. Returns false when the mapping is stopping.
    private func discard(
        _ records: ArraySlice<Record>, condition: InvocationRecord.Condition, segment: Segment
    ) async -> Bool {
        guard let last = records.last else { return true }
        var discarded = segment
        discarded.records = records
        let text =
            "discarding \(records.count) record(s): \(condition.rawValue)"
            + (segment.lastError.map { "; last error: \($0)" } ?? "")
            + (context.sink.map { "; sent to \($0.destination)" } ?? "; no on-failure destination")
        context.logger.error("\(text)", metadata: metadata(discarded, attempt: segment.invokeCount))
        if let sink = context.sink {
            let entry = InvocationRecord(
                requestContext: .init(
                    requestId: segment.requestId.isEmpty ? InvocationIdentifier.requestId() : segment.requestId,
                    functionArn: context.functionArn, condition: condition,
                    approximateInvokeCount: segment.invokeCount),
                responseContext: .init(
                    statusCode: 200, executedVersion: "$LATEST",
                    functionError: condition == .retryAttemptsExhausted ? segment.functionError : nil),
                source: KinesisEventSource(
                    streamARN: context.streamARN, streamName: context.streamName, shardId: shardId,
                    roleArn: context.roleArn),
                records: records.map(EventRecord.init),
                lastError: segment.lastError)
            var delay = context.firstRetryDelay
            while true {
                do {
                    try sink.write(entry)
                    context.metrics.update { $0.failureRecordsWritten += 1 }
                    break
                } catch {
                    context.logger.error(
                        "cannot write to the on-failure destination \(sink.destination): \(error); retrying",
                        metadata: ["shard.id": "\(shardId)"])
                    if context.stop.isSet || Task.isCancelled { return false }
                    await context.scheduler.sleep(for: delay)
                    delay = min(delay * 2, context.maximumRetryDelay)
                }
            }
        }
        context.metrics.update { $0.discardedRecords += records.count }
        progress(last.sequence.offset)
        return true
    }
}
