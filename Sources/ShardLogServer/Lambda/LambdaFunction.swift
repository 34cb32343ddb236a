import Foundation
import Logging
import ShardLog
import ShardLogMapping
import ShardLogWire
import Synchronization

/// What one invocation of a deployed function gave.
struct FunctionInvocationResult: Sendable {
    /// The response payload, or the error payload as Lambda returns it.
    var payload: [UInt8]
    /// `Unhandled` for a function error, else `nil`.
    var functionError: String?
    /// The invocation's log (its last 4 KB), for `LogType: Tail`.
    var logTail: String
    /// The outcome, for event source mappings.
    var outcome: InvocationOutcome
}

/// A function deployed through the Lambda API: its configuration, its code directory, its warm runtime processes
/// (one ``RuntimeAPIInvoker`` per concurrency slot, handed out by a ``SlotPool`` of the function's concurrency: its
/// `ReservedConcurrentExecutions` or the server's `--max-concurrency`) and its log.
///
/// Runtimes run without Docker: `python3.x` runs `python3 -m awslambdaric HANDLER` (the first `python3` on PATH;
/// a warning is logged when its minor version differs), `nodejs*.x` runs `node` with ShardLog's own runtime client
/// (``NodeRuntimeClient``), `provided*` runs the zip's `bootstrap`. A slot's process idle longer than
/// ``LambdaOptions/functionIdleTimeout`` is stopped by ``stopIdleProcesses(idleFor:)`` (as Lambda reclaims idle
/// execution environments); the slot's next invocation starts a new one. Thread-safe.
final class LambdaFunction: Sendable {
    /// The function's name.
    let name: String
    /// `<data>/functions/<name>`.
    let directory: String
    /// The log.
    let log: FunctionLog
    private let pool: SlotPool
    private let runtimeDirectory: String
    private let logger: Logger
    private let options: LambdaOptions
    private struct State {
        var configuration: FunctionConfiguration
        var settings: FunctionSettings
        /// The warm process (and Runtime API listener) of each slot that has one.
        var invokers: [Int: RuntimeAPIInvoker] = [:]
        /// When each slot's last invocation ended.
        var lastFinished: [Int: ContinuousClock.Instant] = [:]
        var warnedVersion = false
        /// Set by ``shutdown()`` (the function was deleted or the server stops): no process starts again.
        var isShutDown = false
    }
    private let state: Mutex<State>
    private let errorBodies = Mutex<[String: [UInt8]]>([:])

    /// Creates the function's runtime side (reading its saved settings); no process starts until the first
    /// invocation.
    init(
        configuration: FunctionConfiguration, directory: String, runtimeDirectory: String, options: LambdaOptions,
        logger: Logger
    ) {
        self.name = configuration.functionName
        self.directory = directory
        self.runtimeDirectory = runtimeDirectory
        self.log = FunctionLog(path: directory + "/log")
        self.options = options
        let settings = FunctionSettings.load(directory: directory)
        self.pool = SlotPool(limit: settings.reservedConcurrency ?? options.maxConcurrency)
        self.logger = logger
        self.state = Mutex(State(configuration: configuration, settings: settings))
    }

    /// The current configuration.
    var configuration: FunctionConfiguration {
        state.withLock { $0.configuration }
    }

    /// The reserved concurrency and Event invocation settings.
    var settings: FunctionSettings {
        state.withLock { $0.settings }
    }

    /// Saves new settings; a changed reserved concurrency takes effect at once (waiting invocations start when it
    /// grew; busy slots above a lowered one finish first).
    func updateSettings(_ change: (inout FunctionSettings) -> Void) throws(LambdaError) -> FunctionSettings {
        var settings = self.settings
        change(&settings)
        try settings.save(directory: directory)
        state.withLock { $0.settings = settings }
        pool.setLimit(settings.reservedConcurrency ?? options.maxConcurrency)
        return settings
    }

    /// The code directory.
    var codeDirectory: String { directory + "/code" }

    /// Replaces the configuration (after an update of code or settings): the warm processes are stopped, the next
    /// invocation starts fresh ones with the new code and environment.
    func update(_ configuration: FunctionConfiguration) async {
        let old = state.withLock { state in
            state.configuration = configuration
            defer { state.invokers = [:] }
            return Array(state.invokers.values)
        }
        await Self.stop(old)
    }

    /// Stops every process of the function and closes its log.
    func shutdown() async {
        let old = state.withLock { state in
            state.isShutDown = true
            defer { state.invokers = [:] }
            return Array(state.invokers.values)
        }
        await Self.stop(old)
        log.close()
    }

    private static func stop(_ invokers: [RuntimeAPIInvoker]) async {
        await withTaskGroup(of: Void.self) { group in
            for invoker in invokers { group.addTask { await invoker.shutdown() } }
        }
    }

    /// Stops the processes of slots whose last invocation ended `idle` or longer ago (and that are not busy).
    /// - Returns: the slots stopped.
    @discardableResult
    func stopIdleProcesses(idleFor idle: Duration) async -> [Int] {
        let now = ContinuousClock.now
        let candidates = state.withLock { state in
            state.invokers.keys.filter { slot in state.lastFinished[slot].map { now - $0 >= idle } ?? true }
        }
        var stopped: [(Int, RuntimeAPIInvoker)] = []
        for slot in candidates.sorted() where pool.claim(slot) {
            let invoker: RuntimeAPIInvoker? = state.withLock { state in
                // An invocation may have run in the slot since the candidates were chosen.
                guard state.lastFinished[slot].map({ now - $0 >= idle }) ?? true else { return nil }
                return state.invokers.removeValue(forKey: slot)
            }
            pool.release(slot)
            if let invoker { stopped.append((slot, invoker)) }
        }
        for (slot, invoker) in stopped {
            let pid = invoker.processIdentifier(slot: slot).map { " (pid \($0))" } ?? ""
            await invoker.shutdown()
            log.write([
                "slot \(slot): runtime process\(pid) stopped after \(LambdaService.secondsText(idle)) idle (serve --function-idle-timeout)"
            ])
        }
        return stopped.map(\.0)
    }

    /// The process id of each slot's warm runtime process.
    var processIdentifiers: [Int: Int32] {
        let invokers = state.withLock { $0.invokers }
        var pids: [Int: Int32] = [:]
        for (slot, invoker) in invokers {
            if let pid = invoker.processIdentifier(slot: slot) { pids[slot] = pid }
        }
        return pids
    }

    /// Busy slots now.
    var busySlots: Int { pool.busy }

    /// Runs one invocation with `event` (or a mapping's batch): waits for a free slot of the function's
    /// concurrency, runs it in that slot's warm process, logs it.
    /// - Parameters:
    ///   - event: the event payload (`nil` for a mapping batch, whose Kinesis event is built from its records).
    ///   - batch: the mapping's batch, if any.
    ///   - requestId: the request id.
    ///   - wait: how long to wait for a free slot (`nil`: as long as it takes).
    ///   - tail: the caller wants the log tail (`LogType: Tail`): the output is given a moment to arrive whole.
    /// - Throws: `TooManyRequestsException` when no slot became free within `wait`.
    func invoke(
        event: [UInt8]?, batch: InvocationBatch? = nil, requestId: String, wait: Duration? = nil, tail: Bool = false
    ) async throws(LambdaError) -> FunctionInvocationResult {
        guard !state.withLock({ $0.isShutDown }) else {
            throw LambdaError.functionNotFound(configuration.functionArn)
        }
        guard let slot = await pool.acquire(timeout: wait) else {
            throw LambdaError.throttled(reserved: settings.reservedConcurrency != nil)
        }
        defer {
            state.withLock { $0.lastFinished[slot] = ContinuousClock.now }
            pool.release(slot)
        }
        let (configuration, invoker) = await currentInvoker(slot: slot)
        var work =
            batch
            ?? InvocationBatch(
                records: [], shardId: "", streamName: "", streamARN: "", requestId: requestId, deadline: Date(),
                slot: slot)
        work.requestId = requestId
        work.slot = slot
        work.deadline = Date().addingTimeInterval(TimeInterval(configuration.timeout))
        if let event { work.rawEvent = event }
        log.begin(slot: slot, requestId: requestId)
        let start = ContinuousClock.now
        let outcome = await invoker.invoke(work)
        let duration = ContinuousClock.now - start
        let errorBody = errorBodies.withLock { $0.removeValue(forKey: requestId) }
        var payload: [UInt8]
        var functionError: String? = "Unhandled"
        var errorLines: [String] = []
        var batchInfo = ""
        if let batch, let first = batch.records.first, let last = batch.records.last {
            batchInfo =
                " shard=\(batch.shardId) sequence=\(first.sequenceNumber)...\(last.sequenceNumber)"
                + " records=\(batch.records.count)"
        }
        switch outcome {
        case .response(let body):
            payload = body.isEmpty ? Array("null".utf8) : body
            functionError = nil
        case .functionError(let type, let message):
            payload = errorBody ?? JSON.fields(["errorMessage": .string(message), "errorType": .string(type)]).bytes
            errorLines.append("[ERROR] RequestId: \(requestId)\(batchInfo) errorType: \(type) errorMessage: \(message)")
            if let body = errorBody, let trace = Self.stackTrace(body) {
                errorLines.append("stackTrace:\n" + trace)
            }
        case .timedOut:
            let message =
                "\(JSONTimestamp.iso8601(Date(), milliseconds: true)) \(requestId) Task timed out after \(configuration.timeout).00 seconds"
            payload = JSON.fields(["errorMessage": .string(message), "errorType": .string("Sandbox.Timedout")]).bytes
            errorLines.append("[ERROR] RequestId: \(requestId)\(batchInfo) errorType: Sandbox.Timedout \(message)")
        case .crashed(let message):
            let type = message.hasPrefix("Runtime.InitError") ? "Runtime.InitError" : "Runtime.ExitError"
            payload = errorBody ?? JSON.fields(["errorMessage": .string(message), "errorType": .string(type)]).bytes
            errorLines.append("[ERROR] RequestId: \(requestId)\(batchInfo) errorType: \(type) errorMessage: \(message)")
        case .serviceError(let message):
            payload =
                JSON.fields([
                    "errorMessage": .string("RequestId: \(requestId) Error: \(message)"),
                    "errorType": .string("Runtime.InvalidEntrypoint"),
                ]).bytes
            errorLines.append(
                "[ERROR] RequestId: \(requestId)\(batchInfo) errorType: Runtime.InvalidEntrypoint errorMessage: \(message)"
            )
        }
        if tail { await log.settle(slot: slot) }
        let logTail = log.end(
            slot: slot, requestId: requestId, duration: duration, memorySize: configuration.memorySize,
            errorLines: errorLines)
        return FunctionInvocationResult(
            payload: payload, functionError: functionError, logTail: logTail, outcome: outcome)
    }

    private static func stackTrace(_ body: [UInt8]) -> String? {
        guard case .object(let members)? = try? JSON(parsing: body), let trace = members["stackTrace"] else {
            return nil
        }
        switch trace {
        case .string(let text): return text
        case .array(let lines):
            return lines.compactMap { if case .string(let s) = $0 { s } else { nil } }.joined(separator: "\n")
        default: return nil
        }
    }

    private func currentInvoker(slot: Int) async -> (FunctionConfiguration, RuntimeAPIInvoker) {
        let (configuration, existing, warn) = state.withLock { state in
            let warn = !state.warnedVersion
            state.warnedVersion = true
            return (state.configuration, state.invokers[slot], warn)
        }
        if let existing { return (configuration, existing) }
        if warn { await warnAboutRuntime(configuration) }
        let log = self.log
        let options = FunctionRuntimeOptions(
            handler: configuration.handler,
            environment: configuration.environment?.variables ?? [:],
            reservedEnvironment: [
                "AWS_REGION": Self.region(of: configuration.functionArn),
                "AWS_DEFAULT_REGION": Self.region(of: configuration.functionArn),
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": String(configuration.memorySize),
                "AWS_LAMBDA_FUNCTION_TIMEOUT": String(configuration.timeout),
                "PYTHONUNBUFFERED": "1",
                "AWS_EXECUTION_ENV": "AWS_Lambda_\(configuration.runtime)",
            ],
            functionARN: configuration.functionArn,
            output: { slot, chunk in log.output(slot: slot, chunk) },
            errorBody: { [weak self] requestId, body in
                guard let requestId else { return }
                self?.errorBodies.withLock { $0[requestId] = body }
            })
        let created = RuntimeAPIInvoker(
            command: command(for: configuration), directory: codeDirectory, functionName: name, logger: logger,
            function: options)
        let chosen = state.withLock { state in
            if let racing = state.invokers[slot] { return racing }
            state.invokers[slot] = created
            return created
        }
        return (configuration, chosen)
    }

    /// The region of a function ARN.
    static func region(of arn: String) -> String {
        let parts = arn.split(separator: ":", omittingEmptySubsequences: false)
        return parts.count > 3 && !parts[3].isEmpty ? String(parts[3]) : "us-east-1"
    }

    /// The command that starts a runtime process of `configuration`.
    func command(for configuration: FunctionConfiguration) -> String {
        if configuration.runtime.hasPrefix("python") {
            return "exec python3 -m awslambdaric " + Self.quote(configuration.handler)
        }
        if configuration.runtime.hasPrefix("nodejs") {
            let client = runtimeDirectory + "/" + NodeRuntimeClient.fileName
            if (try? String(contentsOfFile: client, encoding: .utf8)) != NodeRuntimeClient.source {
                try? FileManager.default.createDirectory(atPath: runtimeDirectory, withIntermediateDirectories: true)
                try? NodeRuntimeClient.source.write(toFile: client, atomically: true, encoding: .utf8)
            }
            return "exec node " + Self.quote(client)
        }
        return "exec ./bootstrap"
    }

    private func warnAboutRuntime(_ configuration: FunctionConfiguration) async {
        let runtime = configuration.runtime
        guard runtime.hasPrefix("python3.") else { return }
        let wanted = String(runtime.dropFirst("python".count))
        guard let local = await Self.localPythonVersion(), local != wanted else { return }
        let message =
            "WARNING: function \(name) asks for \(runtime); running it with the local python3 (Python \(local))"
        logger.warning("\(message)")
        log.write([message])
    }

    /// `3.11` for the first `python3` on PATH, or `nil`.
    static func localPythonVersion() async -> String? {
        await Command.output("python3", ["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
    }

    private static func quote(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

/// The ``Invoker`` of an event source mapping whose function was deployed through the Lambda API: each batch runs
/// in a slot of the function's own pool (so mappings and direct invocations share its concurrency and warm
/// processes).
struct FunctionMappingInvoker: Invoker {
    let function: LambdaFunction

    func invoke(_ batch: InvocationBatch) async -> InvocationOutcome {
        do {
            return try await function.invoke(event: nil, batch: batch, requestId: batch.requestId).outcome
        } catch {
            return .serviceError("\(error)")  // not reached: a mapping's batch waits for a slot
        }
    }

    /// The function's processes belong to the function, not to the mapping.
    func shutdown() async {}
}
