import Foundation
import HTTPTypes
import Logging
import ServiceLifecycle
import ShardLog
import ShardLogMapping
import ShardLogWire
import Synchronization

/// The Lambda side of `shardlog serve`: functions deployed with `aws lambda create-function` (kept under
/// `<data>/functions/<name>/`: `function.json`, `code/`, `log`) and event source mappings made with
/// `aws lambda create-event-source-mapping` (kept under `<data>/mappings/<UUID>/` like every other mapping). Both are
/// loaded again when the server starts; mappings resume from their checkpoints.
///
/// One per account and region (``LambdaHost``): functions, mappings and ARNs of one account's region, kept in that
/// account and region's store. Started and stopped by the host; thread-safe.
final class LambdaService: Sendable {
    /// The store of the account and region (the data directory itself, or `regions/ACCOUNT/REGION/`).
    let store: Store
    /// The account whose functions and mappings these are.
    let account: String
    /// Their region.
    let region: String
    let logger: Logger
    /// `<data>/functions`.
    let root: String
    /// Concurrency, idle processes, Event retries.
    let options: LambdaOptions
    /// The tags of the functions and mappings.
    let tags: LambdaTags

    private let functions = Mutex<[String: LambdaFunction]>([:])
    private let mappings = Mutex<[String: HostedMapping]>([:])
    private let running = Mutex(false)
    private let reaper = Mutex<Task<Void, Never>?>(nil)
    /// Event (asynchronous) invocations not finished yet.
    private let pendingEvents = Atomic<Int>(0)

    /// The most Event invocations queued at once; more are refused with `TooManyRequestsException`.
    static let maximumQueuedEvents = 10_000

    /// Loads the deployed functions and the API's mappings of `store` (nothing runs until ``start()``).
    init(store: Store, logger: Logger, options: LambdaOptions = LambdaOptions()) {
        self.store = store
        self.account = store.options.accountId
        self.region = store.options.region
        self.logger = logger
        self.root = store.directory + "/functions"
        self.options = options
        self.tags = LambdaTags(directory: store.directory)
        loadFunctions()
        loadMappings()
    }

    // MARK: Running

    /// Starts the mappings and the stopping of idle processes (see ``stop()``).
    func start() {
        let wasRunning = running.withLock { running in
            defer { running = true }
            return running
        }
        guard !wasRunning else { return }
        for mapping in mappings.withLock({ Array($0.values) }) {
            mapping.start(service: self)
        }
        let idle = options.functionIdleTimeout
        let reaper = Task { [self] in
            // Checked a few times per idle timeout (at most every 30 s): a process lives at most a quarter longer.
            let tick = min(max(idle / 4, .milliseconds(50)), .seconds(30))
            while !Task.isCancelled {
                try? await Task.sleep(for: tick)
                for function in allFunctions() { await function.stopIdleProcesses(idleFor: idle) }
            }
        }
        self.reaper.withLock { $0 = reaper }
    }

    /// Stops every mapping (checkpoints written) and every runtime process.
    func stop() async {
        running.withLock { $0 = false }
        reaper.withLock { $0 }?.cancel()
        await withTaskGroup(of: Void.self) { group in
            for mapping in mappings.withLock({ Array($0.values) }) {
                group.addTask { await mapping.stop() }
            }
        }
        for function in functions.withLock({ Array($0.values) }) {
            await function.shutdown()
        }
    }

    /// Whether the service runs (mappings made now start at once).
    var isRunning: Bool { running.withLock { $0 } }

    /// The ARN of function `name` in this service's account and region.
    func functionArn(_ name: String) -> String { FunctionName.arn(name, account: account, region: region) }

    // MARK: Functions

    /// The function named `name`, if deployed.
    func function(named name: String) -> LambdaFunction? {
        functions.withLock { $0[name] }
    }

    /// Every deployed function, by name.
    func allFunctions() -> [LambdaFunction] {
        functions.withLock { $0.values.sorted { $0.name < $1.name } }
    }

    private func loadFunctions() {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        for name in names.sorted() where !name.hasPrefix(".") {
            let directory = root + "/" + name
            guard let data = FileManager.default.contents(atPath: directory + "/function.json") else { continue }
            do {
                let configuration = try JSONDecoder().decode(FunctionConfiguration.self, from: data)
                let function = LambdaFunction(
                    configuration: configuration, directory: directory, runtimeDirectory: root + "/.runtime",
                    options: options, logger: logger)
                functions.withLock { $0[configuration.functionName] = function }
            } catch {
                logger.error("cannot load function \(name): \(directory)/function.json is damaged: \(error)")
            }
        }
    }

    /// Deploys a new function from its zip.
    /// - Throws: `ResourceConflictException` when it exists; the archive's and configuration's errors.
    func create(_ configuration: FunctionConfiguration, zip: [UInt8]) throws(LambdaError) -> LambdaFunction {
        try configuration.validate()
        let name = configuration.functionName
        let directory = root + "/" + name
        let reserved: Bool = functions.withLock { functions in
            guard functions[name] == nil else { return false }
            do {
                try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
            } catch {
                return false
            }
            return true
        }
        guard reserved else { throw LambdaError.conflict("Function already exist: \(name)") }
        do {
            try CodeArchive.extract(zip, into: directory + "/code")
            try Self.save(configuration, directory: directory)
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
        let function = LambdaFunction(
            configuration: configuration, directory: directory, runtimeDirectory: root + "/.runtime",
            options: options, logger: logger)
        functions.withLock { $0[name] = function }
        return function
    }

    /// Replaces a function's code with `zip`.
    func updateCode(_ function: LambdaFunction, zip: [UInt8]) async throws(LambdaError) -> FunctionConfiguration {
        let fresh = function.directory + "/code.new-" + UUID().uuidString
        try CodeArchive.extract(zip, into: fresh)
        let old = function.directory + "/code.old-" + UUID().uuidString
        do {
            try FileManager.default.moveItem(atPath: function.codeDirectory, toPath: old)
            try FileManager.default.moveItem(atPath: fresh, toPath: function.codeDirectory)
        } catch {
            try? FileManager.default.removeItem(atPath: fresh)
            throw LambdaError.service("cannot replace the code of \(function.name): \(error)")
        }
        var configuration = function.configuration
        configuration.codeSha256 = CodeArchive.sha256(zip)
        configuration.codeSize = zip.count
        configuration.lastModified = FunctionConfiguration.timestamp()
        configuration.revisionId = UUID().uuidString.lowercased()
        try Self.save(configuration, directory: function.directory)
        await function.update(configuration)
        try? FileManager.default.removeItem(atPath: old)
        return configuration
    }

    /// Replaces a function's settings.
    func updateConfiguration(_ function: LambdaFunction, _ configuration: FunctionConfiguration)
        async throws(LambdaError)
    {
        try configuration.validate()
        try Self.save(configuration, directory: function.directory)
        await function.update(configuration)
    }

    /// Deletes a function: its processes stop, its directory goes; mappings that invoke it stop.
    func delete(_ function: LambdaFunction) async {
        _ = functions.withLock { $0.removeValue(forKey: function.name) }
        for mapping in mappings.withLock({ Array($0.values) }) where mapping.functionName == function.name {
            await mapping.stop()
        }
        await function.shutdown()
        try? FileManager.default.removeItem(atPath: function.directory)
    }

    /// Runs an Event invocation in the background: it waits for a free slot of the function (queued, not
    /// throttled), and a function error is retried as Lambda retries it (`MaximumRetryAttempts`, default 2, after
    /// ``LambdaOptions/eventRetryDelay`` and twice it); an attempt that would start after `MaximumEventAgeInSeconds`
    /// is not made. Each failed attempt is in the function's log with its request id (as every failed invocation
    /// is), and an event that ends in failure gets a line saying it was dropped.
    /// - Throws: `TooManyRequestsException` when too many are queued on the server.
    func enqueueEvent(_ function: LambdaFunction, payload: [UInt8], requestId: String) throws(LambdaError) {
        let queued = pendingEvents.wrappingAdd(1, ordering: .relaxed).newValue
        guard queued <= Self.maximumQueuedEvents else {
            pendingEvents.wrappingSubtract(1, ordering: .relaxed)
            throw LambdaError(
                "TooManyRequestsException",
                "Rate Exceeded: \(Self.maximumQueuedEvents) Event invocations are already queued on this server",
                status: .tooManyRequests, reason: "CallerRateLimitExceeded")
        }
        let delay = options.eventRetryDelay
        Task { [self] in
            await Self.runEvent(function, payload: payload, requestId: requestId, retryDelay: delay)
            self.pendingEvents.wrappingSubtract(1, ordering: .relaxed)
        }
    }

    private static func runEvent(_ function: LambdaFunction, payload: [UInt8], requestId: String, retryDelay: Duration)
        async
    {
        let config = function.settings.eventInvokeConfig
        let retries = config?.retries ?? 2
        let maximumAge = Duration.seconds(config?.maximumAge ?? 21_600)
        let received = ContinuousClock.now
        var last = ""
        for attempt in 0...retries {
            if attempt > 0 {
                try? await Task.sleep(for: retryDelay * attempt)
                guard ContinuousClock.now - received < maximumAge else {
                    function.log.write([
                        "[ERROR] Event invocation RequestId: \(requestId) dropped: older than MaximumEventAgeInSeconds "
                            + "\(maximumAge.components.seconds) before retry \(attempt) (last error: \(last))"
                    ])
                    return
                }
            }
            guard let result = try? await function.invoke(event: payload, requestId: requestId) else { continue }
            guard result.functionError != nil else { return }
            last = Self.errorSummary(result.payload)
            if attempt < retries {
                function.log.write([
                    "Event invocation RequestId: \(requestId) attempt \(attempt + 1) of \(retries + 1) failed (\(last)); "
                        + "retrying in \(Self.secondsText(retryDelay * (attempt + 1)))"
                ])
            }
        }
        function.log.write([
            "[ERROR] Event invocation RequestId: \(requestId) failed after \(retries + 1) attempts "
                + "(MaximumRetryAttempts \(retries)): \(last); the event is dropped (no destination)"
        ])
    }

    /// `1.5 s`.
    static func secondsText(_ duration: Duration) -> String {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        return String(format: "%g s", seconds)
    }

    /// `errorType: errorMessage` of an error payload.
    private static func errorSummary(_ payload: [UInt8]) -> String {
        guard case .object(let members)? = try? JSON(parsing: payload) else {
            return String(decoding: payload.prefix(200), as: UTF8.self)
        }
        func text(_ key: String) -> String {
            if case .string(let value)? = members[key] { return value }
            return "?"
        }
        return "\(text("errorType")): \(text("errorMessage"))"
    }

    private static func save(_ configuration: FunctionConfiguration, directory: String) throws(LambdaError) {
        do {
            try Data(configuration.jsonBytes).write(
                to: URL(fileURLWithPath: directory + "/function.json"), options: .atomic)
        } catch {
            throw LambdaError.service("cannot write \(directory)/function.json: \(error)")
        }
    }

    // MARK: Mappings

    private func loadMappings() {
        for name in MappingCatalog.names(store: store) {
            guard let definition = try? MappingCatalog.definition(store: store, name: name),
                definition.configuration.functionName != nil
            else { continue }
            let mapping = HostedMapping(uuid: name, definition: definition, lastModified: Self.modified(name, store))
            mappings.withLock { $0[name] = mapping }
        }
    }

    private static func modified(_ name: String, _ store: Store) -> Date {
        let path = MappingCatalog.directory(store: store, name: name) + "/mapping.json"
        return (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date) ?? Date()
    }

    /// The mapping `uuid`, if any.
    func mapping(_ uuid: String) -> HostedMapping? {
        mappings.withLock { $0[uuid] }
    }

    /// Every API mapping, ordered by UUID.
    func allMappings() -> [HostedMapping] {
        mappings.withLock { $0.values.sorted { $0.uuid < $1.uuid } }
    }

    /// Adds and (when the server runs and it is enabled) starts a mapping.
    func add(_ mapping: HostedMapping) {
        mappings.withLock { $0[mapping.uuid] = mapping }
        if isRunning { mapping.start(service: self) }
    }

    /// Stops and forgets a mapping, deleting its directory (definition and checkpoints).
    func remove(_ mapping: HostedMapping) async {
        _ = mappings.withLock { $0.removeValue(forKey: mapping.uuid) }
        await mapping.stop()
        try? FileManager.default.removeItem(atPath: MappingCatalog.directory(store: store, name: mapping.uuid))
    }

    /// The first hosted mapping whose handler cannot start, as `mapping UUID (function F): reason`, or `nil`.
    var unhealthyMapping: String? {
        if let problem = FileMappings.problem(directory: store.directory) { return problem }
        for mapping in allMappings() {
            if let problem = mapping.startProblem {
                return "mapping \(mapping.uuid) (function \(mapping.functionName)): \(problem)"
            }
        }
        return nil
    }
}

/// One event source mapping made through the Lambda API, hosted by ``LambdaService``: its definition (persisted as
/// `mappings/<UUID>/mapping.json`), its Lambda `State` and the engine running it.
final class HostedMapping: Sendable {
    /// The mapping's UUID (its directory name).
    let uuid: String
    private struct State {
        var definition: MappingDefinition
        var lastModified: Date
        var state: String
        var reason = "User action"
        var engine: EventSourceMapping?
        var task: Task<Void, Never>?
        var failure: String?
    }
    private let state: Mutex<State>

    /// A mapping that is not running yet.
    init(uuid: String, definition: MappingDefinition, lastModified: Date) {
        self.uuid = uuid
        self.state = Mutex(
            State(
                definition: definition, lastModified: lastModified,
                state: definition.configuration.enabled ? "Creating" : "Disabled"))
    }

    /// The definition.
    var definition: MappingDefinition { state.withLock { $0.definition } }
    /// The function it invokes.
    var functionName: String { state.withLock { $0.definition.configuration.functionName ?? "" } }
    /// `State`.
    var lambdaState: String { state.withLock { $0.state } }
    /// `StateTransitionReason`.
    var stateTransitionReason: String { state.withLock { $0.reason } }
    /// `LastModified`.
    var lastModified: Date { state.withLock { $0.lastModified } }

    /// `LastProcessingResult`: the engine's, or the reason the mapping could not run.
    func lastProcessingResult(store: Store) -> String {
        let (engine, failure) = state.withLock { ($0.engine, $0.failure) }
        if let failure { return "PROBLEM: " + failure }
        if let text = engine?.metrics.lastProcessingResult { return text }
        return (try? MappingStatusFile.read(store: store, name: uuid))??.lastProcessingResult ?? "No records processed"
    }

    /// Why the mapping's handler cannot start (or the mapping cannot run), if that is the case now.
    var startProblem: String? {
        let (engine, failure) = state.withLock { ($0.engine, $0.failure) }
        if let failure { return failure }
        guard let text = engine?.metrics.lastProcessingResult, text.hasPrefix("PROBLEM: handler could not start")
        else { return nil }
        return String(text.dropFirst("PROBLEM: ".count))
    }

    /// Replaces the definition (already saved by the caller).
    func setDefinition(_ definition: MappingDefinition) {
        state.withLock { state in
            state.definition = definition
            state.lastModified = Date()
        }
    }

    /// Starts the engine if the mapping is enabled and not running.
    func start(service: LambdaService) {
        let definition = self.definition
        guard definition.configuration.enabled else {
            state.withLock { $0.state = "Disabled" }
            return
        }
        let functionName = definition.configuration.functionName ?? ""
        guard let function = service.function(named: functionName) else {
            state.withLock { state in
                state.state = "Enabled"
                state.failure =
                    "Function not found: \(service.functionArn(functionName)) "
                    + "(deploy it with aws lambda create-function; the mapping starts with the next restart)"
            }
            return
        }
        var onFailure: FailureDestination?
        if let destination = definition.configuration.onFailureDestination {
            onFailure = try? EventSourceMappingRequest.failureDestination(destination)
        }
        let engine = EventSourceMapping(
            store: service.store, streamName: definition.streamName, name: uuid,
            configuration: definition.configuration, invoker: FunctionMappingInvoker(function: function),
            onFailure: onFailure, logger: service.logger,
            timeout: .seconds(function.configuration.timeout),
            function: .init(functionArn: function.configuration.functionArn, roleArn: function.configuration.role))
        let logger = service.logger
        let uuid = self.uuid
        state.withLock { state in
            guard state.task == nil else { return }
            state.engine = engine
            state.failure = nil
            state.state = "Enabled"
            state.task = Task {
                do {
                    _ = try await engine.run(exitWhenIdle: false)
                } catch {
                    logger.error("event source mapping \(uuid) failed: \(error)")
                    self.state.withLock { $0.failure = "\(error)" }
                }
            }
        }
    }

    /// Stops the engine (checkpoints written) and waits for it.
    func stop() async {
        let (engine, task) = state.withLock { state in
            defer {
                state.engine = nil
                state.task = nil
            }
            return (state.engine, state.task)
        }
        engine?.stop()
        await task?.value
    }

    /// Disables: stops, keeps the checkpoints.
    func disable() async {
        await stop()
        state.withLock { $0.state = "Disabled" }
    }

    /// Sets `State` (e.g. `Deleting`).
    func setState(_ value: String) {
        state.withLock { $0.state = value }
    }
}
