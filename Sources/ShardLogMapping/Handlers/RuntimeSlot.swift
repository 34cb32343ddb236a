import Foundation
import Logging
import NIOCore
import NIOPosix
import ShardLog
import ShardLogWire
import Synchronization

/// The event handed to a runtime by `GET /runtime/invocation/next`.
struct NextInvocation: Sendable {
    /// `Lambda-Runtime-Aws-Request-Id`.
    var requestId: String
    /// The event JSON.
    var event: [UInt8]
    /// `Lambda-Runtime-Deadline-Ms`.
    var deadlineMilliseconds: Int
    /// `Lambda-Runtime-Invoked-Function-Arn`.
    var functionArn: String
    /// `Lambda-Runtime-Trace-Id`.
    var traceId: String
}

/// What a runtime's POST to `/response`, `/error` or `/init/error` gets back.
enum RuntimeReply: Sendable, Equatable {
    /// 202: accepted.
    case accepted
    /// 400: the request id is not the invocation in progress.
    case invalidRequestId
}

/// One concurrency slot of a ``RuntimeAPIInvoker``: its listener, its runtime process and the invocation in flight.
///
/// All state is behind one `Mutex`; pollers and completions are called outside it. The route handlers of
/// the slot's listener call ``nextInvocation(_:)``, ``postResponse(requestId:body:)``, ``postError(requestId:
/// errorType:body:)`` and ``postInitError(errorType:body:)`` on ``eventLoop``; the process's termination arrives
/// through ``processExited(generation:exit:)``. The mapping runs the slot's batches on ``eventLoop`` too
/// (``taskExecutor``), so an invocation's round trip stays on one thread. Thread-safe.
final class RuntimeSlot: Sendable {
    /// How long a cold process may take to ask for its first event without it counting against the deadline.
    static let maximumInitDuration: Duration = .seconds(10)

    private struct Invocation {
        var requestId: String
        var event: [UInt8]
        var deadline: Date
        var registeredAt: ContinuousClock.Instant
        var deliveredAt: ContinuousClock.Instant?
        /// The deadline plus the init allowance: `maximumInitDuration` until delivery, then the time delivery took.
        var effectiveDeadline: Date
        /// The process generation running it.
        var generation: UInt64
        var result: Completion<InvocationOutcome>
        /// ``effectiveDeadline`` on the continuous clock: when the slot's timer times the invocation out.
        var timeoutAt: ContinuousClock.Instant
        /// The scheduler of the mapping that invoked it (``MappingScheduler/currentOrShared``).
        var scheduler: MappingScheduler
    }

    /// The slot's one timeout timer, on the scheduler of the invocation that armed it.
    private struct PendingTimer {
        var id: TimerID?
        var at: ContinuousClock.Instant
        var scheduler: MappingScheduler
        /// Tells this timer from one that replaced it.
        var generation: UInt64
    }

    private struct RunningProcess {
        var child: ChildProcess
        var generation: UInt64
        var output: OutputForwarder
        var hasPolled = false
    }

    private struct State {
        var listener: RuntimeAPIListener?
        var process: RunningProcess?
        var generation: UInt64 = 0
        var invocation: Invocation?
        var poller: Poller?
        var timer: PendingTimer?
        var timerGeneration: UInt64 = 0
        var isShutDown = false
    }

    /// Takes the answer to a waiting `GET /next`: the event, or `nil` to refuse it (shutdown, or a newer poll).
    /// Called outside the slot's lock, on any thread.
    typealias Poller = @Sendable (NextInvocation?) -> Void

    /// The slot number.
    let index: Int
    /// The event loop of the slot's listener and its connections.
    let eventLoop: any EventLoop
    /// Runs the slot's batches on ``eventLoop`` (``Invoker/taskExecutor(slot:)``).
    let taskExecutor: EventLoopTaskExecutor
    private let configuration: RuntimeConfiguration
    private let logger: Logger
    private let state = Mutex(State())
    /// The event encoder of the shard this slot's batches came from last, with the stream ARN it was built for.
    private let encoding = Mutex<(streamARN: String, encoder: KinesisEventEncoder)?>(nil)

    /// Creates an idle slot.
    init(index: Int, configuration: RuntimeConfiguration) {
        self.index = index
        self.configuration = configuration
        var logger = configuration.logger
        logger[metadataKey: "handler.slot"] = .stringConvertible(index)
        self.logger = logger
        self.eventLoop = Self.eventLoop(forSlot: configuration.firstEventLoop + index)
        self.taskExecutor = EventLoopTaskExecutor(eventLoop: eventLoop)
    }

    /// The event loop of slot `index` (plus the invoker's ``RuntimeConfiguration/firstEventLoop``): the slots take
    /// the loops in turn, so that consecutive slots (the lanes of a shard, the shards of a stream) get different
    /// threads. `next()` would depend on whoever else asked the shared group for a loop before, and could put every
    /// slot of a mapping on one thread (which halved `bench runtime-api` at P=2 in some runs).
    static func eventLoop(forSlot index: Int) -> any EventLoop {
        let loops = Array(MultiThreadedEventLoopGroup.singleton.makeIterator())
        return loops.isEmpty ? MultiThreadedEventLoopGroup.singleton.next() : loops[index % loops.count]
    }

    /// The current process's id.
    var processIdentifier: Int32? {
        state.withLock { $0.process?.child.pid }
    }

    /// The listener's port.
    var port: Int? {
        state.withLock { $0.listener?.port }
    }

    // MARK: Invocation

    /// Runs one batch in this slot's process.
    func invoke(_ batch: InvocationBatch) async -> InvocationOutcome {
        let port: Int
        switch await ensureListener() {
        case .success(let listening):
            port = listening
        case .failure(let error):
            return .serviceError("cannot start the Runtime API endpoint for slot \(index): \(error)")
        }
        let result = Completion<InvocationOutcome>()
        let now = ContinuousClock.now
        let effectiveDeadline = batch.deadline.addingTimeInterval(Self.seconds(Self.maximumInitDuration))
        let invocation = Invocation(
            requestId: batch.requestId,
            event: event(of: batch),
            deadline: batch.deadline,
            registeredAt: now,
            effectiveDeadline: effectiveDeadline,
            generation: 0,
            result: result,
            timeoutAt: HandlerClock.instant(for: effectiveDeadline),
            scheduler: .currentOrShared
        )
        enum Start {
            case refused(String)
            case ready(needsProcess: Bool)
        }
        let start: Start = state.withLock { state in
            if state.isShutDown {
                return .refused("the Runtime API invoker has been shut down")
            }
            if let busy = state.invocation {
                return .refused("slot \(index) is still running invocation \(busy.requestId)")
            }
            var invocation = invocation
            invocation.generation = state.process?.generation ?? 0
            state.invocation = invocation
            // Until a runtime takes the event, the deadline includes the init allowance; delivery moves it earlier.
            armTimer(&state, at: invocation.timeoutAt, scheduler: invocation.scheduler)
            return .ready(needsProcess: state.process == nil)
        }
        switch start {
        case .refused(let reason):
            return .serviceError(reason)
        case .ready(let needsProcess):
            if needsProcess, let failure = await startProcess(port: port) {
                _ = finish(batch.requestId, with: failure)
            }
        }
        deliverToPoller()
        // The timer stays armed: it fires at most once per timeout, finds the invocation running then, if any, and
        // re-arms for it, instead of two timer changes and a cancel per invocation.
        let outcome = await result.wait()
        guard let outcome else {
            abandon(requestId: batch.requestId)
            return .serviceError("the invocation was cancelled; the runtime process of slot \(index) was stopped")
        }
        return outcome
    }

    /// The event of `batch`, written by the encoder kept for its shard (a slot's batches come from one shard).
    private func event(of batch: InvocationBatch) -> [UInt8] {
        let encoder = encoding.withLock { cached in
            if let cached, batch.isEncoded(by: cached.encoder, streamARN: cached.streamARN) {
                return cached.encoder
            }
            let encoder = batch.eventEncoder
            cached = (batch.streamARN, encoder)
            return encoder
        }
        return batch.event(encoder: encoder)
    }

    /// Completes the invocation `requestId` if it is still in progress.
    /// - Returns: Whether it was.
    private func finish(_ requestId: String, with outcome: InvocationOutcome) -> Bool {
        let invocation: Invocation? = state.withLock { state in
            guard state.invocation?.requestId == requestId else {
                return nil
            }
            defer { state.invocation = nil }
            return state.invocation
        }
        invocation?.result.complete(outcome)
        return invocation != nil
    }

    /// Makes the slot's timer fire at `deadline` at the latest (with the lock held): a pending timer that fires no
    /// later is kept (when it fires, ``timerFired(generation:)`` looks at the invocation running then and re-arms
    /// for its deadline), a later one is replaced.
    private func armTimer(_ state: inout State, at deadline: ContinuousClock.Instant, scheduler: MappingScheduler) {
        if let pending = state.timer {
            if pending.at <= deadline && pending.scheduler === scheduler { return }
            pending.scheduler.cancel(pending.id)
        }
        state.timerGeneration += 1
        let generation = state.timerGeneration
        let id = scheduler.scheduleDeadline(at: deadline) { [weak self] in
            self?.timerFired(generation: generation)
        }
        state.timer = PendingTimer(id: id, at: deadline, scheduler: scheduler, generation: generation)
    }

    /// The slot's timer fired: times out the invocation running now if its deadline passed, else re-arms for it.
    private func timerFired(generation: UInt64) {
        let expired: String? = state.withLock { state in
            guard let pending = state.timer, pending.generation == generation else { return nil }
            state.timer = nil
            guard let invocation = state.invocation else { return nil }
            if invocation.timeoutAt <= .now { return invocation.requestId }
            armTimer(&state, at: invocation.timeoutAt, scheduler: pending.scheduler)
            return nil
        }
        if let expired { timeOut(requestId: expired) }
    }

    private func timeOut(requestId: String) {
        let (invocation, process, poller) = detach(ifRunning: requestId)
        guard let invocation else {
            return
        }
        process?.child.signalGroup(SIGKILL)
        poller?(nil)
        logger.debug(
            "runtime invocation timed out; killed the runtime process",
            metadata: [
                "request.id": .string(requestId),
                "process.id": .stringConvertible(process?.child.pid ?? 0),
            ]
        )
        invocation.result.complete(.timedOut)
    }

    /// Gives up on a cancelled invocation: its process is killed if it already has the event.
    private func abandon(requestId: String) {
        let (invocation, process, poller) = detach(ifRunning: requestId)
        process?.child.signalGroup(SIGKILL)
        poller?(nil)
        invocation?.result.complete(.serviceError("cancelled"))
    }

    /// Removes invocation `requestId`, and the process running it if that process already has its event.
    private func detach(
        ifRunning requestId: String
    ) -> (Invocation?, RunningProcess?, Poller?) {
        state.withLock { state in
            guard let invocation = state.invocation, invocation.requestId == requestId else {
                return (nil, nil, nil)
            }
            state.invocation = nil
            guard let process = state.process, process.generation == invocation.generation else {
                return (invocation, nil, nil)
            }
            // A process that has not yet taken the event is stuck in init, or idle: either way it is of no use.
            state.process = nil
            let poller = state.poller
            state.poller = nil
            return (invocation, process, poller)
        }
    }

    // MARK: Runtime API

    /// `GET /runtime/invocation/next`: hands `poller` this slot's next invocation, at once (before returning) when
    /// it waits already, else when it arrives; `nil` when the slot is shutting down or a newer poll replaced this one.
    /// No task and no thread hop: the listener answers from whichever thread calls `poller`.
    func nextInvocation(_ poller: @escaping Poller) {
        enum Action {
            case deliver(NextInvocation)
            case wait(replaced: Poller?)
            case refuse
        }
        let action: Action = state.withLock { state in
            if state.isShutDown {
                return .refuse
            }
            state.process?.hasPolled = true
            if let next = takeEvent(&state) {
                return .deliver(next)
            }
            let replaced = state.poller
            state.poller = poller
            return .wait(replaced: replaced)
        }
        switch action {
        case .deliver(let next):
            poller(next)
        case .wait(let replaced):
            replaced?(nil)
        case .refuse:
            poller(nil)
        }
    }

    /// Hands the waiting poller the undelivered invocation, if there are both.
    private func deliverToPoller() {
        let delivery: (Poller, NextInvocation)? = state.withLock { state in
            guard let poller = state.poller, let next = takeEvent(&state) else {
                return nil
            }
            state.poller = nil
            return (poller, next)
        }
        if let (poller, next) = delivery {
            poller(next)
        }
    }

    /// Marks the invocation delivered and moves its deadline by the time delivery took (a cold start), at most
    /// `maximumInitDuration`.
    private func takeEvent(_ state: inout State) -> NextInvocation? {
        guard var invocation = state.invocation, invocation.deliveredAt == nil else {
            return nil
        }
        let now = ContinuousClock.now
        let initDuration = min(now - invocation.registeredAt, Self.maximumInitDuration)
        invocation.deliveredAt = now
        invocation.effectiveDeadline = invocation.deadline.addingTimeInterval(Self.seconds(initDuration))
        invocation.timeoutAt = HandlerClock.instant(for: invocation.effectiveDeadline)
        state.invocation = invocation
        armTimer(&state, at: invocation.timeoutAt, scheduler: invocation.scheduler)
        return NextInvocation(
            requestId: invocation.requestId,
            event: invocation.event,
            deadlineMilliseconds: JSONTimestamp.epochMilliseconds(invocation.effectiveDeadline),
            functionArn: configuration.functionARN,
            traceId: InvocationIdentifier.traceId(epochSeconds: Int64(Date().timeIntervalSince1970))
        )
    }

    /// `POST /runtime/invocation/{id}/response`.
    func postResponse(requestId: String, body: [UInt8]) -> RuntimeReply {
        completeDelivered(requestId, with: .response(body))
    }

    /// `POST /runtime/invocation/{id}/response` with a body over Lambda's 6 MB limit.
    func postOversizedResponse(requestId: String) -> RuntimeReply {
        completeDelivered(
            requestId,
            with: .functionError(
                type: "Function.ResponseSizeTooLarge",
                message: "Response payload size exceeded maximum allowed payload size "
                    + "(\(ExecInvoker.maximumResponseByteCount) bytes)."
            )
        )
    }

    /// `POST /runtime/invocation/{id}/error`: a function error. The body's `errorType` wins over the
    /// `Lambda-Runtime-Function-Error-Type` header, as in Lambda's invocation result.
    func postError(requestId: String, errorType: String?, body: [UInt8]) -> RuntimeReply {
        let (type, message) = Self.parseError(body, headerType: errorType)
        configuration.function.errorBody?(requestId, body)
        if logger.logLevel <= .debug, let trace = Self.stackTrace(body) {
            logger.debug(
                "stack trace of \(type): \(message)\n\(trace)",
                metadata: ["request.id": .string(requestId), "error.type": .string(type)])
        }
        return completeDelivered(requestId, with: .functionError(type: type, message: message))
    }

    /// The `stackTrace` of an error body (an array of lines or frames, or a string), one frame per line.
    static func stackTrace(_ body: [UInt8]) -> String? {
        switch (try? JSON(parsing: body))?["stackTrace"] {
        case .string(let text)?:
            return text.isEmpty ? nil : text
        case .array(let frames)?:
            let lines = frames.compactMap { frame -> String? in
                if case .string(let line) = frame { return line.trimmingCharacters(in: .newlines) }
                return nil
            }
            return lines.isEmpty ? nil : lines.joined(separator: "\n")
        default:
            return nil
        }
    }

    /// `POST /runtime/init/error`: the runtime could not initialise; the invocation waiting for it fails as crashed
    /// and the process is stopped (a new one starts with the next batch).
    func postInitError(errorType: String?, body: [UInt8]) -> RuntimeReply {
        let (type, message) = Self.parseError(body, headerType: errorType)
        configuration.function.errorBody?(nil, body)
        let (invocation, process, poller) = state.withLock { state in
            let invocation = state.invocation
            state.invocation = nil
            let process = state.process
            state.process = nil
            let poller = state.poller
            state.poller = nil
            return (invocation, process, poller)
        }
        poller?(nil)
        logger.debug(
            "runtime process reported an init error",
            metadata: ["error.type": .string(type), "error.message": .string(message)]
        )
        if let process {
            // Let it read the 202 and exit by itself; kill whatever is left shortly after.
            Task {
                await process.child.exit.wait(until: .now + .milliseconds(500))
                process.child.signalGroup(SIGKILL)
            }
        }
        invocation?.result.complete(.crashed("Runtime.InitError: \(type): \(message)"))
        return .accepted
    }

    private func completeDelivered(_ requestId: String, with outcome: InvocationOutcome) -> RuntimeReply {
        let invocation: Invocation? = state.withLock { state in
            guard let invocation = state.invocation, invocation.requestId == requestId,
                invocation.deliveredAt != nil
            else {
                return nil
            }
            state.invocation = nil
            return invocation
        }
        guard let invocation else {
            return .invalidRequestId
        }
        invocation.result.complete(outcome)
        return .accepted
    }

    /// `errorType` and `errorMessage` of an error body (`{"errorMessage":…,"errorType":…,"stackTrace":[…]}`).
    static func parseError(_ body: [UInt8], headerType: String?) -> (type: String, message: String) {
        let value = try? JSON(parsing: body)
        var type = headerType.flatMap { $0.isEmpty ? nil : $0 } ?? "Unhandled"
        if case .string(let bodyType) = value?["errorType"], !bodyType.isEmpty {
            type = bodyType
        }
        var message = ""
        if case .string(let bodyMessage) = value?["errorMessage"] {
            message = bodyMessage
        } else if value == nil {
            message = String(decoding: body.prefix(4096), as: UTF8.self)
        }
        return (type, message)
    }

    // MARK: Processes

    /// Starts this slot's runtime process and assigns it the waiting invocation.
    /// - Returns: `nil` on success, or the `.serviceError` to fail the invocation with.
    private func startProcess(port: Int) async -> InvocationOutcome? {
        let generation = state.withLock { state in
            state.generation += 1
            return state.generation
        }
        let observer = configuration.function.output.map { output in
            { @Sendable [index] (chunk: [UInt8]) in output(index, chunk) }
        }
        let output = OutputForwarder(prefix: "[\(configuration.functionName) slot \(index)] ", observer: observer)
        let child: ChildProcess
        do {
            child = try await ChildProcess.spawn(
                command: configuration.command,
                directory: configuration.directory,
                environment: configuration.environment(port: port),
                input: nil,
                output: output.sink,
                errorOutput: nil
            )
        } catch {
            logger.debug(
                "cannot start runtime process",
                metadata: ["handler.command": .string(configuration.command), "error": .string("\(error)")]
            )
            return .serviceError(
                "handler could not start: `/bin/sh -c \(configuration.command)` in \(configuration.directory): \(error)"
            )
        }
        logger.debug(
            "started runtime process",
            metadata: ["process.id": .stringConvertible(child.pid), "runtime.port": .stringConvertible(port)]
        )
        let accepted: Bool = state.withLock { state in
            guard !state.isShutDown else {
                return false
            }
            state.process = RunningProcess(child: child, generation: generation, output: output)
            state.invocation?.generation = generation
            return true
        }
        guard accepted else {
            child.signalGroup(SIGKILL)
            return .serviceError("the Runtime API invoker has been shut down")
        }
        // The exit is reported once the output was read to its end (ChildProcess), so the crash message below has
        // the process's last words.
        Task {
            if let exit = await child.exit.wait() {
                await self.processExited(generation: generation, exit: exit)
            }
        }
        return nil
    }

    /// A runtime process ended. If it had the invocation's event, or never asked for one, the invocation fails as
    /// `Runtime.ExitError`; if it died idle before taking the event, a fresh process takes over.
    func processExited(generation: UInt64, exit: ChildExit) async {
        enum Action {
            case none
            case crashed(Invocation, RunningProcess)
            case restart
        }
        let (action, poller): (Action, Poller?) = state.withLock { state in
            guard let process = state.process, process.generation == generation else {
                return (.none, nil)
            }
            state.process = nil
            let poller = state.poller
            state.poller = nil
            guard let invocation = state.invocation, invocation.generation == generation else {
                return (.none, poller)
            }
            if invocation.deliveredAt != nil || !process.hasPolled {
                state.invocation = nil
                return (.crashed(invocation, process), poller)
            }
            return (.restart, poller)
        }
        poller?(nil)
        // Whatever the shell left in its group is already gone (ChildProcess kills it when the shell exits).
        switch action {
        case .none:
            logger.debug("runtime process exited", metadata: ["exit": .string("\(exit)")])
        case .crashed(let invocation, let process):
            let lastLines = process.output.tail(lines: 20)
            logger.debug("runtime process exited mid-invocation", metadata: ["exit": .string("\(exit)")])
            if !process.hasPolled {
                // It never reached the Runtime API (no /next, no /init/error): the handler could not start.
                var message =
                    "handler could not start: the runtime process `\(configuration.command)` in "
                    + "\(configuration.directory) exited with \(exit) before calling the Runtime API "
                    + "(GET /2018-06-01/runtime/invocation/next)"
                if exit.isCommandNotRunnable {
                    message += exit == .exited(127) ? " (command not found)" : " (not executable)"
                }
                if !lastLines.isEmpty {
                    message += "; last output: \(lastLines)"
                }
                invocation.result.complete(.serviceError(message))
                return
            }
            var message =
                "Runtime.ExitError: RequestId: \(invocation.requestId) Error: Runtime exited with error: \(exit)"
            if !lastLines.isEmpty {
                message += "; last output: \(lastLines)"
            }
            invocation.result.complete(.crashed(message))
        case .restart:
            guard let port else {
                return
            }
            if let failure = await startProcess(port: port),
                let requestId = state.withLock({ $0.invocation?.requestId })
            {
                _ = finish(requestId, with: failure)
            }
            deliverToPoller()
        }
    }

    // MARK: Listener and shutdown

    private func ensureListener() async -> Result<Int, any Error> {
        if let port = port {
            return .success(port)
        }
        do {
            let listener = try await RuntimeAPIListener.start(slot: self, logger: logger)
            let kept: Bool = state.withLock { state in
                guard !state.isShutDown, state.listener == nil else {
                    return false
                }
                state.listener = listener
                return true
            }
            if !kept {
                await listener.stop()
                if let port = port {
                    return .success(port)
                }
                return .failure(MappingError(code: .cancelled, message: "the Runtime API invoker has been shut down"))
            }
            return .success(listener.port)
        } catch {
            return .failure(error)
        }
    }

    /// Stops the process (`SIGTERM`, `SIGKILL` after 2 s) and the listener; fails an invocation in progress.
    func shutdown() async {
        let (invocation, process, poller, listener) = state.withLock { state in
            state.isShutDown = true
            if let pending = state.timer {
                pending.scheduler.cancel(pending.id)
                state.timer = nil
            }
            defer {
                state.invocation = nil
                state.process = nil
                state.poller = nil
                state.listener = nil
            }
            return (state.invocation, state.process, state.poller, state.listener)
        }
        invocation?.result.complete(.serviceError("the Runtime API invoker is shutting down"))
        poller?(nil)
        if let process {
            await process.child.stop(grace: .seconds(2))
        }
        await listener?.stop()
    }

    // MARK: Formatting

    private static func seconds(_ duration: Duration) -> TimeInterval {
        let (seconds, attoseconds) = duration.components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }
}
