import Foundation
import Logging
import ShardLog
import Synchronization

/// A Lambda-style event source mapping: delivers a stream's records to a handler in batches, with Lambda's
/// batching, retry, bisect, partial-failure, record-age, on-failure and checkpoint rules.
///
/// Per shard one reader task (``ShardPoller``) reads from the durable checkpoint; `ParallelizationFactor` lanes
/// keep per-partition-key order; each batch is invoked synchronously. Checkpoints live in
/// `<data-dir>/mappings/<name>/checkpoints.json` (written atomically, at most every 20 ms and when a shard finishes)
/// and the configuration in `mapping.json`, so a stopped or killed mapping resumes where it was: delivery is
/// at-least-once and no record is skipped. Parents are drained before their children; shards created while the
/// mapping runs are picked up within about a second.
///
/// ```swift
/// let mapping = EventSourceMapping(
///     store: store, streamName: "orders", name: "orders-to-billing",
///     configuration: MappingConfiguration(startingPosition: .trimHorizon, batchSize: 50),
///     invoker: myInvoker, onFailure: .file("/tmp/failed.jsonl"), logger: logger)
/// let summary = try await mapping.run(exitWhenIdle: true)
/// ```
///
/// Thread-safety: ``stop()`` and ``metrics`` may be used from any thread while ``run(exitWhenIdle:)`` runs.
/// With `TumblingWindowInSeconds`, records are grouped into windows aligned on their arrival time, per shard (one
/// lane per shard: the state passes from one invocation to the next, so ParallelizationFactor does not apply),
/// and each window's state is carried between its invocations and saved with the checkpoints
/// (``WindowStateStore``, `windows.json`), so a restart resumes the open window with its state.
public final class EventSourceMapping: Sendable {
    /// The mapping's name (its directory under `mappings/`).
    public let name: String
    /// The stream read.
    public let streamName: String
    /// The configuration.
    public let configuration: MappingConfiguration
    /// Where discarded batches are reported.
    public let onFailure: FailureDestination?

    private let store: Store
    /// The remote stream read instead of the local one, if any.
    private let remote: (any StreamSource)?
    private let invoker: any Invoker
    private let logger: Logger
    private let timeout: Duration
    private let tuning: Tuning
    private let recorder = MetricsRecorder()
    private let stopSignal = StopSignal()
    private let started = Atomic<Bool>(false)
    private let statuses = Mutex<[String: ShardStatus]>([:])
    private let failure = Mutex<(any Error)?>(nil)
    private let health: ProcessingHealth
    private let statusPublisher = StatusPublisher()
    private let function: FunctionIdentity?

    /// The Lambda function a mapping of `shardlog serve` invokes: named in on-failure records and events.
    package struct FunctionIdentity: Sendable {
        /// `arn:aws:lambda:REGION:ACCOUNT:function:NAME`.
        package var functionArn: String
        /// The execution role, each event record's `invokeIdentityArn`.
        package var roleArn: String

        /// Creates an identity.
        package init(functionArn: String, roleArn: String) {
            self.functionArn = functionArn
            self.roleArn = roleArn
        }
    }

    /// Knobs for tests: retry back-off and the clock used for record ages.
    struct Tuning: Sendable {
        var firstRetryDelay: Duration = .milliseconds(50)
        var maximumRetryDelay: Duration = .seconds(1)
        var describeInterval: Duration = .seconds(1)
        var now: @Sendable () -> Date = { Date() }
        /// The first back-off step while the handler cannot start; doubles up to `maximumStartFailureDelay`.
        var firstStartFailureDelay: Duration = .seconds(1)
        var maximumStartFailureDelay: Duration = .seconds(60)
    }

    /// Creates a mapping; nothing happens until ``run(exitWhenIdle:)``.
    /// - Parameters:
    ///   - store: the data directory.
    ///   - streamName: the stream to read.
    ///   - name: the mapping's name: 1–128 of `[A-Za-z0-9_.-]`; its checkpoints are kept under `mappings/<name>/`.
    ///   - configuration: Lambda's event source mapping parameters (validated by `run`).
    ///   - invoker: runs the batches.
    ///   - onFailure: where discarded batches go; `nil` drops them silently, as Lambda does without a destination.
    ///   - logger: for progress and failures.
    ///   - timeout: the function timeout: each batch's deadline.
    public convenience init(
        store: Store, streamName: String, name: String, configuration: MappingConfiguration, invoker: any Invoker,
        onFailure: FailureDestination?, logger: Logger, timeout: Duration = .seconds(60)
    ) {
        self.init(
            store: store, streamName: streamName, name: name, configuration: configuration, invoker: invoker,
            onFailure: onFailure, logger: logger, timeout: timeout, tuning: Tuning())
    }

    /// Creates a mapping that reads another endpoint's stream (``KinesisSource``) and keeps its checkpoints and
    /// definition in `store`; nothing happens until ``run(exitWhenIdle:)``.
    /// - Parameters:
    ///   - store: the data directory for checkpoints and a local on-failure stream.
    ///   - source: the stream to read; its ``StreamSource/streamName`` is the mapping's stream name.
    ///   - name: the mapping's name.
    ///   - configuration: Lambda's event source mapping parameters.
    ///   - invoker: runs the batches.
    ///   - onFailure: where discarded batches go.
    ///   - logger: for progress and failures.
    ///   - timeout: the function timeout.
    /// Creates a mapping of a Lambda function of `shardlog serve`: as the public initializer, and its on-failure
    /// records and events name `function`'s ARN and role.
    package convenience init(
        store: Store, streamName: String, name: String, configuration: MappingConfiguration, invoker: any Invoker,
        onFailure: FailureDestination?, logger: Logger, timeout: Duration, function: FunctionIdentity
    ) {
        self.init(
            store: store, streamName: streamName, name: name, configuration: configuration, invoker: invoker,
            onFailure: onFailure, logger: logger, timeout: timeout, tuning: Tuning(), function: function)
    }

    package convenience init(
        store: Store, source: any StreamSource, name: String, configuration: MappingConfiguration,
        invoker: any Invoker, onFailure: FailureDestination?, logger: Logger, timeout: Duration = .seconds(60)
    ) {
        self.init(
            store: store, streamName: source.streamName, name: name, configuration: configuration, invoker: invoker,
            onFailure: onFailure, logger: logger, timeout: timeout, tuning: Tuning(), remote: source)
    }

    init(
        store: Store, streamName: String, name: String, configuration: MappingConfiguration, invoker: any Invoker,
        onFailure: FailureDestination?, logger: Logger, timeout: Duration, tuning: Tuning,
        remote: (any StreamSource)? = nil, function: FunctionIdentity? = nil
    ) {
        self.function = function
        self.store = store
        self.remote = remote
        self.streamName = streamName
        self.name = name
        self.configuration = configuration
        self.invoker = invoker
        self.onFailure = onFailure
        var logger = logger
        logger[metadataKey: "mapping"] = "\(name)"
        self.logger = logger
        self.timeout = timeout
        self.tuning = tuning
        self.health = ProcessingHealth(
            firstDelay: tuning.firstStartFailureDelay, maximumDelay: tuning.maximumStartFailureDelay)
    }

    /// A snapshot of the counters and gauges.
    public var metrics: MappingMetrics {
        var m = recorder.snapshot
        m.lastProcessingResult = health.lastProcessingResult.text
        let s = statuses.withLock { Array($0.values) }
        m.activeShards = s.filter { !$0.isFinished }.count
        m.finishedShards = s.filter(\.isFinished).count
        return m
    }

    /// Asks the mapping to stop: readers stop, running batches give up between attempts (their records stay
    /// unhandled and are delivered again by the next run), checkpoints are written, and `run` returns.
    public func stop() {
        stopSignal.set()
    }

    /// Runs the mapping until ``stop()``, or, with `exitWhenIdle`, until every shard is drained (at its tip or
    /// finished) with nothing pending or in flight at two checks about 100 ms apart.
    /// - Parameter exitWhenIdle: stop once idle.
    /// - Returns: the final metrics and checkpoints.
    /// - Throws: ``MappingError`` for an invalid configuration, a missing stream, an unusable on-failure
    ///   destination, a mapping already running (``MappingError/Code/conflict``), a checkpoint file of another
    ///   stream, or a failure to write checkpoints; `ShardLogError` when reading the stream fails. Checkpoints
    ///   written before the failure stay valid.
    public func run(exitWhenIdle: Bool) async throws -> MappingSummary {
        guard !started.exchange(true, ordering: .acquiringAndReleasing) else {
            throw MappingError(code: .conflict, message: "mapping \(name) is already running; create a new instance")
        }
        let begin = ContinuousClock.now
        try MappingCatalog.validate(name: name)
        try configuration.validate()
        let stream: any StreamSource
        if let remote {
            stream = remote
            do {
                _ = try await remote.shards()
            } catch {
                throw MappingError(
                    code: .notFound, message: "cannot list the shards of stream \(streamName): \(error)", cause: error)
            }
        } else {
            do {
                stream = LocalSource(stream: try store.stream(named: streamName))
            } catch {
                throw MappingError(
                    code: .notFound, message: "stream \(streamName) does not exist: create it first", cause: error)
            }
        }
        try checkDestination()
        let lock = try MappingLock.acquire(store: store, name: name)
        defer { lock.release() }
        let checkpoints: CheckpointStore
        let windows: WindowStateStore?
        do {
            let fresh = try MappingCatalog.checkpoints(store: store, name: name) == nil
            checkpoints = try await openCheckpoints(stream: stream)
            windows =
                configuration.tumblingWindow == nil
                ? nil : try WindowStateStore(store: store, name: name, fresh: fresh)
            try saveDefinition()
        } catch {
            await invoker.shutdown()
            throw error
        }
        if configuration.enabled {
            await supervise(stream: stream, checkpoints: checkpoints, windows: windows, exitWhenIdle: exitWhenIdle)
        } else {
            logger.info("mapping is disabled (Enabled=false); not polling")
        }
        do {
            try Self.flush(checkpoints, windows)
        } catch {
            record(error)
        }
        writeStatus(final: true)
        await invoker.shutdown()
        if let error = failure.withLock({ $0 }) { throw error }
        let elapsed = ContinuousClock.now - begin
        return MappingSummary(
            mappingName: name, streamName: streamName, metrics: metrics,
            elapsedSeconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18,
            checkpoints: checkpoints.file.shards)
    }

    /// Loads the checkpoints, or creates them on the first run: every current shard gets its starting position
    /// resolved now (so `LATEST` is captured once and a restart does not skip records).
    private func openCheckpoints(stream: any StreamSource) async throws -> CheckpointStore {
        if let file = try MappingCatalog.checkpoints(store: store, name: name) {
            guard file.streamName == streamName else {
                throw MappingError(
                    code: .conflict,
                    message: "mapping \(name) reads stream \(file.streamName), not \(streamName): use another "
                        + "--mapping-name or `shardlog mappings reset \(name)`")
            }
            return CheckpointStore(store: store, name: name, file: file)
        }
        var file = CheckpointFile(streamName: streamName)
        let position: IteratorPosition =
            switch configuration.startingPosition {
            case .trimHorizon: .trimHorizon
            case .latest: .latest
            case .atTimestamp: .atTimestamp(configuration.startingPositionTimestamp ?? Date())
            }
        for shard in try await stream.shards() {
            let sequence =
                stream.resolvesStartingPositions
                ? try await stream.checkpoint(shardId: shard.shardId, position: position) : nil
            file.shards[shard.shardId] = ShardCheckpoint(sequenceNumber: sequence)
        }
        let store = CheckpointStore(store: self.store, name: name, file: file)
        try store.flush()
        return store
    }

    /// Refuses a destination that cannot work: a missing stream, the source stream itself, a missing directory.
    private func checkDestination() throws(MappingError) {
        switch onFailure {
        case .stream(let name):
            guard name != streamName else {
                throw MappingError(
                    code: .invalidParameter,
                    message: "the on-failure destination cannot be the source stream \(name): use another stream")
            }
            do {
                _ = try store.stream(named: name)
            } catch {
                throw MappingError(
                    code: .notFound,
                    message: "on-failure stream \(name) does not exist: create it first (shardlog create-stream)",
                    cause: error)
            }
        case .file(let path):
            let directory = (path as NSString).deletingLastPathComponent
            var isDirectory: ObjCBool = false
            guard
                directory.isEmpty
                    || (FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory)
                        && isDirectory.boolValue)
            else {
                throw MappingError(
                    code: .notFound, message: "the directory of the on-failure file \(path) does not exist")
            }
        case nil:
            break
        }
    }

    private func saveDefinition() throws {
        var definition =
            try MappingCatalog.definition(store: store, name: name)
            ?? MappingDefinition(streamName: streamName, configuration: configuration)
        definition.streamName = streamName
        definition.configuration = configuration
        definition.sourceEndpoint = (remote as? KinesisSource)?.endpoint.absoluteString
        definition.onFailure = onFailure?.description
        definition.timeoutSeconds =
            Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        try MappingCatalog.save(definition, store: store, name: name)
    }

    /// Flushes the checkpoints, then the window states that go with them.
    private static func flush(_ checkpoints: CheckpointStore, _ windows: WindowStateStore?) throws(MappingError) {
        guard let windows else {
            try checkpoints.flush()
            return
        }
        // Checkpoints set before the flush are on disk after it: their window entries may be pruned.
        let persisted = checkpoints.file.shards.mapValues(\.sequenceNumber)
        try checkpoints.flush()
        try windows.flush(persisted: persisted)
    }

    /// The ARN on-failure records name for a mapping without a function (`shardlog map`): a function named after
    /// the mapping, in the stream's region and account.
    static func functionArn(name: String, streamARN: String) -> String {
        let arn = try? StreamARN(parsing: streamARN)
        return "arn:\(arn?.partition ?? "aws"):lambda:\(arn?.region ?? "us-east-1"):"
            + "\(arn?.account ?? "000000000000"):function:\(name)"
    }

    private func supervise(
        stream: any StreamSource, checkpoints: CheckpointStore, windows: WindowStateStore?, exitWhenIdle: Bool
    ) async {
        let streamARN: String
        let initialShards: [ShardDescription]
        let filter: RecordFilter?
        do {
            streamARN = try await stream.streamARN()
            initialShards = try await stream.shards()
            filter = try configuration.recordFilter()
        } catch {
            record(error)
            return
        }
        let context = BatchContext(
            configuration: configuration, invoker: invoker,
            sink: onFailure.map { FailureSink(destination: $0, store: store) }, metrics: recorder,
            streamName: streamName, streamARN: streamARN,
            functionArn: function?.functionArn ?? Self.functionArn(name: name, streamARN: streamARN),
            roleArn: function?.roleArn, timeout: timeout,
            firstRetryDelay: tuning.firstRetryDelay, maximumRetryDelay: tuning.maximumRetryDelay, now: tuning.now,
            stop: stopSignal, logger: logger, health: health)
        let stopSignal = self.stopSignal
        let scheduler = stopSignal.scheduler
        // Wakes the supervisor loop: a shard reader finished, or the mapping stops.
        let changes = Doorbell()
        let health = self.health
        stopSignal.whenSet {
            changes.ring()
            checkpoints.dirtied.ring()
            health.changed.ring()
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [logger] in
                // Group commit of checkpoints: one atomic write per 20 ms at most, none while nothing changes.
                while !stopSignal.isSet {
                    await checkpoints.dirtied.wait(timeout: nil, scheduler: scheduler)
                    await scheduler.sleep(for: .milliseconds(20))
                    if stopSignal.isSet { break }  // `run` writes the final checkpoints.
                    // The write fsyncs: on the I/O thread, so no thread of the cooperative pool (which runs every
                    // lane) waits for the disk.
                    let written = await BlockingIO.run { () throws(MappingError) in
                        try Self.flush(checkpoints, windows)
                    }
                    if case .failure(let error) = written {
                        logger.error("cannot write checkpoints: \(error)")
                    }
                }
            }
            group.addTask { [self] in
                // status.json: LastProcessingResult at once when it changes, counters and lag about once a second
                // when they change, and a heartbeat every 5 s (``StatusPublisher`` decides); one wake-up a second
                // while idle.
                while !stopSignal.isSet {
                    await health.changed.wait(timeout: .seconds(1), scheduler: scheduler)
                    _ = await BlockingIO.run { [self] in writeStatus() }
                    await scheduler.sleep(for: .milliseconds(200))
                }
            }
            var shards = initialShards
            // A source that does not resolve starting positions starts the shards of the first run at the
            // configured position until they have a checkpoint; later shards (children) start at TRIM_HORIZON.
            let configuredPosition: IteratorPosition =
                switch configuration.startingPosition {
                case .trimHorizon: .trimHorizon
                case .latest: .latest
                case .atTimestamp: .atTimestamp(configuration.startingPositionTimestamp ?? Date())
                }
            let startAtConfigured: Set<String> =
                stream.resolvesStartingPositions || checkpoints.file.shards.values.contains { $0.sequenceNumber != nil }
                ? [] : Set(initialShards.map(\.shardId))
            var lastDescribe = ContinuousClock.now
            // The stream's topology version when it was last described, and when it last changed (see below).
            var describedVersion = stream.shardsVersion()
            var versionChangedAt = ContinuousClock.now - Self.describeAfterChange
            var running: [String: Int] = [:]  // shard id → ordinal
            var idleChecks = 0
            while !stopSignal.isSet {
                if Task.isCancelled { break }
                // Retire finished shards and free their ordinals.
                let current = statuses.withLock { $0 }
                var retired = false
                for (id, _) in running where current[id]?.isFinished == true {
                    running[id] = nil
                    retired = true
                }
                var finished = Set(checkpoints.file.shards.filter { $0.value.finished }.map(\.key))
                let now = ContinuousClock.now
                let version = stream.shardsVersion()
                if version != describedVersion { versionChangedAt = now }
                // A source that tells when its shards change (the local stream's doorbell epoch) is described only
                // then; the epoch moves just before the new metadata is saved, so it is described again for a
                // while after each change, and once a minute in any case.
                let due =
                    version == nil || now - versionChangedAt < Self.describeAfterChange
                    || now - lastDescribe >= Self.describeBackstop
                if (due && now - lastDescribe >= tuning.describeInterval) || retired {
                    do {
                        shards = try await stream.shards()
                    } catch {
                        record(error)
                        break
                    }
                    lastDescribe = now
                    describedVersion = version
                }
                let known = Set(shards.map(\.shardId))
                finished.formIntersection(known)
                for shard in shards where running[shard.shardId] == nil && !finished.contains(shard.shardId) {
                    let parents = [shard.parentShardId, shard.adjacentParentShardId].compactMap { $0 }
                        .filter(known.contains)
                    guard parents.allSatisfy(finished.contains) else { continue }
                    let used = Set(running.values)
                    let ordinal = (0...).first { !used.contains($0) } ?? running.count
                    running[shard.shardId] = ordinal
                    let id = shard.shardId
                    let saved = checkpoints.checkpoint(shardId: id)?.sequenceNumber
                    let position: IteratorPosition =
                        saved.map { .afterSequenceNumber($0) }
                        ?? (startAtConfigured.contains(id) ? configuredPosition : .trimHorizon)
                    statuses.withLock { $0[id] = ShardStatus() }
                    let restored = windows?.restore(shardId: id, checkpoint: saved)
                    if let windows, restored == nil, windows.hasSavedEntries(shardId: id) {
                        logger.warning(
                            """
                            the saved tumbling-window state does not match the checkpoint (the mapping stopped \
                            during a batch); the open window starts again with {}
                            """,
                            metadata: ["shard.id": "\(id)"])
                    }
                    let poller: ShardPoller
                    do {
                        let source = try await stream.openShard(shardId: id, position: position, checkpoint: saved)
                        poller = ShardPoller(
                            source: source, shardId: id, ordinal: ordinal, context: context,
                            checkpoints: checkpoints, filter: filter, windows: windows,
                            restoredWindow: restored ?? nil,
                            reportStatus: { [self] status in
                                self.statuses.withLock { $0[id] = status }
                                if status.isFinished { changes.ring() }
                            })
                    } catch {
                        record(error)
                        break
                    }
                    group.addTask { [self] in
                        do {
                            try await poller.run()
                        } catch {
                            record(error)
                        }
                    }
                }
                if exitWhenIdle {
                    let states = statuses.withLock { $0 }
                    let allIdle =
                        shards.allSatisfy { s in
                            finished.contains(s.shardId) || states[s.shardId]?.isFinished == true
                                || (running[s.shardId] != nil && states[s.shardId]?.isIdle == true)
                        }
                    idleChecks = allIdle ? idleChecks + 1 : 0
                    if idleChecks >= 2 {
                        // Confirm against a fresh description: a new shard may have appeared.
                        if let fresh = try? await stream.shards(), fresh.count == shards.count {
                            logger.debug("all shards drained; stopping")
                            stopSignal.set()
                            break
                        }
                        shards = (try? await stream.shards()) ?? shards
                        idleChecks = 0
                    }
                }
                // Waits for a finished shard reader (its children may start), the stop, or the next look at the
                // stream's shards; exiting when idle checks every 100 ms.
                await changes.wait(
                    timeout: exitWhenIdle ? .milliseconds(100) : tuning.describeInterval, scheduler: scheduler)
            }
            stopSignal.set()
            await group.waitForAll()
        }
    }

    /// How long after the stream's shards changed they are described at every ``Tuning/describeInterval``.
    static let describeAfterChange = Duration.seconds(5)
    /// The longest a mapping goes without describing its stream's shards, whatever its source tells.
    static let describeBackstop = Duration.seconds(60)

    /// Writes `status.json` when due (see ``StatusPublisher``); `final` for the last write of a run.
    private func writeStatus(final: Bool = false) {
        let status = MappingStatusMetrics(
            runId: statusPublisher.runId, streamName: streamName, running: !final, metrics: metrics,
            shards: recorder.shardLags)
        do {
            try statusPublisher.publish(store: store, name: name, result: health.lastProcessingResult, metrics: status)
        } catch {
            logger.warning("cannot write the mapping's status: \(error)")
        }
    }

    /// Keeps the first error and stops the mapping.
    private func record(_ error: any Error) {
        logger.error("mapping failed: \(error)")
        failure.withLock { if $0 == nil { $0 = error } }
        stopSignal.set()
    }
}

/// Runs file writes that wait for the disk (checkpoints and status files, which fsync) on one serial thread of
/// their own, so that no thread of the cooperative pool — which runs every lane, and has as many threads as cores —
/// blocks in `fsync` while other lanes' handlers are ready to continue.
enum BlockingIO {
    private static let queue = DispatchQueue(label: "shardlog-mapping-io")

    /// Runs `body` on the I/O thread and returns its result.
    static func run<T: Sendable>(
        _ body: @escaping @Sendable () throws(MappingError) -> T
    ) async -> Result<T, MappingError> {
        await withCheckedContinuation { continuation in
            queue.async {
                do throws(MappingError) {
                    continuation.resume(returning: .success(try body()))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
    }
}
