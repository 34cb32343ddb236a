import Foundation
import Logging
import ShardLog
import Synchronization

/// What a shard reader tells the supervisor.
struct ShardStatus: Sendable, Equatable {
    /// Caught up with the shard's tip, nothing waiting or in flight.
    var isIdle = false
    /// Closed, drained and fully handled (its checkpoint says so).
    var isFinished = false
    /// Records read and not yet handled.
    var outstanding = 0
}

/// Events from a shard's running batches to its reader.
final class LaneInbox: Sendable {
    enum Event: Sendable {
        case progress(lane: Int, through: UInt64)
        /// The lane's task `run` ended: its last batch is done and no next batch was waiting for it.
        case done(lane: Int, run: Int, BatchResult, state: [UInt8]?)
    }

    private let events = Mutex<[Event]>([])
    private let pending = Atomic<Bool>(false)
    /// Rung by ``post(_:)``, so a waiting reader starts the lane's next batch at once.
    let doorbell = Doorbell()

    /// Queues `event`; with `ring`, wakes the reader. Progress does not ring: the lane's next step (taking its
    /// next batch, or ending) rings, and the reader applies every queued event then — one wake-up per batch.
    func post(_ event: Event, ring: Bool = true) {
        events.withLock { $0.append(event) }
        pending.store(true, ordering: .releasing)
        if ring { doorbell.ring() }
    }

    /// Whether events are waiting (cheap; no lock).
    var hasEvents: Bool { pending.load(ordering: .acquiring) }

    func drain() -> [Event] {
        pending.store(false, ordering: .releasing)
        return events.withLock { e in
            defer { e.removeAll(keepingCapacity: true) }
            return e
        }
    }
}

/// The next batches of a lane, handed by the shard reader to the lane's running task, so that the task starts the
/// next one the moment its current batch ends: no thread hop through the reader, no new task. The reader only hands
/// over full batches (`BatchSize` records, or the 6 MB cap), whose records would be the same whenever they were
/// taken. Small batches queue up to ``depth`` deep, so the reader is woken once per few batches rather than once per
/// batch (each wake-up is a thread hop and a pass over the shard). Thread-safety: a `Mutex`.
final class LaneMailbox: Sendable {
    private struct State {
        var next: [[Record]] = []
        /// Whether a task runs the lane's batches (and will look here when its batch ends).
        var running = false
    }

    private let state = Mutex(State())
    /// How many batches may wait.
    let depth: Int

    /// A mailbox for batches of up to `batchSize` records: up to 8 batches deep and about 400 records at most (a
    /// waiting batch holds its records in memory; it is handled, and checkpointed, only after those before it):
    /// 8 for BatchSize 10, 4 for 100, 1 from 400 on.
    init(batchSize: Int = 1) {
        depth = max(1, min(8, 400 / max(1, batchSize)))
    }

    /// Whether no batch waits.
    var isEmpty: Bool { state.withLock { $0.next.isEmpty } }

    /// Whether another batch may be handed over.
    var hasRoom: Bool { state.withLock { $0.next.count < depth } }

    /// Marks the lane's task as running (the reader starts it).
    func started() {
        state.withLock { $0.running = true }
    }

    /// Hands `batch` to the lane's running task.
    /// - Returns: false when no task runs any more (it ended before: the reader starts a new one) or the mailbox is
    ///   full.
    func offer(_ batch: [Record]) -> Bool {
        state.withLock { s in
            guard s.running, s.next.count < depth else { return false }
            s.next.append(batch)
            return true
        }
    }

    /// The lane's task finished a batch: takes the next one, or marks the task ended.
    /// - Parameter stopping: whether the mapping stops (waiting batches are dropped: their records stay unhandled).
    /// - Returns: the next batch, and whether the reader should be woken to hand over more (the mailbox is at most
    ///   half full); `nil` when the task ends.
    func finished(stopping: Bool) -> (batch: [Record], wantsMore: Bool)? {
        state.withLock { s in
            guard !stopping, !s.next.isEmpty else {
                s.next.removeAll()
                s.running = false
                return nil
            }
            let batch = s.next.removeFirst()
            return (batch, s.next.count * 2 <= depth)
        }
    }
}

/// Lets a task sleep until another rings or a timeout passes. Thread-safety: a `Mutex`.
final class Doorbell: Sendable {
    private struct State {
        var rung = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    /// Wakes the waiter, or makes the next ``wait(timeout:)`` return at once.
    func ring() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard let waiter = s.waiter else {
                s.rung = true
                return nil
            }
            s.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Sleeps until ``ring()`` or `timeout` (a timer on the mapping's `scheduler`: no task group, no sleeping task;
    /// `nil`: only a ring); one waiter at a time. Once the scheduler is stopped only a ring ends the wait (a stopping reader waits for
    /// its running batches, which ring when they end).
    func wait(timeout: Duration?, scheduler: MappingScheduler) async {
        if consumeRing() { return }
        let timer = timeout.flatMap { timeout in scheduler.schedule(at: .now + timeout) { [self] in ring() } }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { s in
                if s.rung {
                    s.rung = false
                    return true
                }
                s.waiter = continuation
                return false
            }
            if ready { continuation.resume() }
        }
        scheduler.cancel(timer)
        // A timer that fired after an early ring leaves a stale ring; events are found through `LaneInbox.hasEvents`.
        _ = consumeRing()
    }

    private func consumeRing() -> Bool {
        state.withLock { s in
            defer { s.rung = false }
            return s.rung
        }
    }
}

/// Reads one shard from its checkpoint and feeds its `ParallelizationFactor` lanes.
///
/// One task per shard: it reads records, drops those the filter rejects (they count as processed), routes the rest
/// to lanes by partition key, closes batches (``LaneBuffer``), runs each lane's batches one at a time as child
/// tasks (``BatchRunner``), and moves the shard's checkpoint to just below the lowest record read and not yet
/// handled. When the shard is closed and everything read is handled it marks the shard finished, so its children
/// may start. When caught up and idle it sleeps on the stream's doorbell (``StreamDoorbell``: appenders in any
/// process ring it), so an idle shard costs one wake-up per ``idleSafetyNet``; while batches run, or where the doorbell
/// does not work, it polls the shard's published end (every 0.2–2 ms, up to 4 ms when idle) and wakes at once when a
/// batch finishes.
final class ShardPoller {
    let shardId: String
    let ordinal: Int
    private let context: BatchContext
    private let checkpoints: CheckpointStore
    private let filter: RecordFilter?
    private let windows: WindowStateStore?
    /// A tumbling window's state changed or the checkpoint moved since the last ``WindowStateStore`` entry.
    private var windowEntryDue = false
    private let encoder: KinesisEventEncoder
    private let reportStatus: @Sendable (ShardStatus) -> Void
    private let inbox = LaneInbox()
    private var lanes: [LaneBuffer]
    private let source: any ShardSource
    /// The highest ordinal known handled (checkpointed), -1 for none.
    private var checkpointed: Int64
    private var status = ShardStatus()
    private var atEnd = false
    /// How many times the reader slept on the stream's doorbell (an idle shard: about once per safety net).
    private(set) var idleWaits = 0

    private var configuration: MappingConfiguration { context.configuration }
    private var laneCount: Int { lanes.count }
    /// How often the records behind are reported while the reader is awake.
    static let backlogInterval = Duration.milliseconds(500)
    /// The longest pause between polls of an idle shard: new records are seen within about this long.
    static let idlePause = Duration.milliseconds(4)
    private var bufferLimit: Int {
        max(configuration.batchSize * laneCount * 2, 1000)
    }

    init(
        source: any ShardSource, shardId: String, ordinal: Int, context: BatchContext,
        checkpoints: CheckpointStore, filter: RecordFilter?, windows: WindowStateStore? = nil,
        restoredWindow: OpenWindow? = nil, reportStatus: @escaping @Sendable (ShardStatus) -> Void
    ) {
        self.source = source
        self.shardId = shardId
        self.ordinal = ordinal
        self.context = context
        self.checkpoints = checkpoints
        self.filter = filter
        self.reportStatus = reportStatus
        // The source as the handlers' events name it (region and account from the stream's ARN), so sizes match.
        self.encoder = KinesisEventEncoder(
            source: KinesisEventSource(
                streamARN: context.streamARN, streamName: context.streamName, shardId: shardId,
                roleArn: context.roleArn))
        // A tumbling window's state passes from one invocation to the next: one lane per shard.
        let laneCount =
            context.configuration.tumblingWindow == nil ? max(1, context.configuration.parallelizationFactor) : 1
        self.lanes = (0..<laneCount).map { _ in LaneBuffer(batchSize: context.configuration.batchSize) }
        self.lanes[0].openWindow = restoredWindow
        self.windows = windows
        self.checkpointed = Int64(source.nextOrdinal) - 1
    }

    /// Reads and delivers until the shard is finished or the mapping stops. Running batches finish first (a
    /// stopping batch gives up between attempts).
    func run() async throws {
        let logger = context.logger
        logger.debug("reading shard", metadata: ["shard.id": "\(shardId)", "offset": "\(source.nextOrdinal)"])
        try await withThrowingTaskGroup(of: Void.self) { group in
            let clock = ContinuousClock()
            var pause = Duration.microseconds(200)
            var busyPasses = 0
            var lastBacklog = clock.now
            // Whether the last backlog report found the shard idle: an idle shard's backlog is zero until a ring
            // wakes it with records, so an idle wake-up (the doorbell's safety net) does not look again.
            var reportedIdle = false
            while true {
                if !(reportedIdle && status.isIdle), clock.now - lastBacklog >= Self.backlogInterval {
                    lastBacklog = clock.now
                    reportedIdle = status.isIdle
                    reportBacklog(stopped: false)
                }
                var progressed = false
                if inbox.hasEvents {
                    apply(inbox.drain())
                    progressed = true
                }
                let stopping = context.stop.isSet
                let buffered = lanes.reduce(0) { $0 + $1.waiting.count }
                var caughtUp = atEnd
                // Reads refill the buffer once it is half empty, so each read takes many records (a read decodes
                // whole stored batches) rather than one lane batch's worth at a time.
                if !stopping && !atEnd && buffered <= bufferLimit / 2 {
                    switch try await source.read(limit: min(10_000, bufferLimit - buffered)) {
                    case .records(let records):
                        dispatch(records, now: clock.now)
                        progressed = progressed || !records.isEmpty
                    case .ended:
                        atEnd = true
                        progressed = true
                    case .caughtUp:
                        caughtUp = true
                    }
                }
                if !stopping {
                    let now = clock.now
                    if let width = configuration.tumblingWindow {
                        let nowMilliseconds = Int64((context.now().timeIntervalSince1970 * 1000).rounded(.down))
                        for lane in lanes.indices {
                            guard
                                let (batch, window) = lanes[lane].takeWindowBatch(
                                    batchSize: configuration.batchSize, batchingWindow: configuration.batchingWindow,
                                    widthMilliseconds: width.components.seconds * 1000, now: now,
                                    nowMilliseconds: nowMilliseconds, drained: atEnd)
                            else { continue }
                            start(lane: lane, batch: batch, window: window, in: &group)
                            progressed = true
                        }
                    } else {
                        for lane in lanes.indices {
                            if lanes[lane].isReady(
                                batchSize: configuration.batchSize, window: configuration.batchingWindow, now: now,
                                drained: atEnd)
                            {
                                start(
                                    lane: lane, batch: lanes[lane].takeBatch(batchSize: configuration.batchSize),
                                    window: nil, in: &group)
                                progressed = true
                            } else if lanes[lane].isBusy, lanes[lane].hasFullBatch(batchSize: configuration.batchSize),
                                lanes[lane].mailbox.hasRoom
                            {
                                // The lane's task starts it as soon as its batches end; if it just ended, start anew.
                                let batch = lanes[lane].takeBatch(batchSize: configuration.batchSize)
                                if !lanes[lane].mailbox.offer(batch) {
                                    start(lane: lane, batch: batch, window: nil, in: &group)
                                }
                                progressed = true
                            }
                        }
                    }
                }
                advanceCheckpoint()
                let busy = lanes.contains { $0.isBusy }
                if windowEntryDue, !busy, let windows {
                    // No batch in flight: the state covers exactly the records up to the checkpoint.
                    windowEntryDue = false
                    windows.record(
                        shardId: shardId, checkpoint: checkpoints.checkpoint(shardId: shardId)?.sequenceNumber,
                        window: lanes[0].openWindow)
                    checkpoints.dirtied.ring()
                }
                // A tumbling window still owes its final invocation.
                let windowOpen = lanes.contains { $0.openWindow != nil }
                let outstanding = lanes.reduce(0) { $0 + $1.outstanding.count }
                if stopping && !busy { break }
                if atEnd && !busy && outstanding == 0 && !windowOpen {
                    checkpoints.set(
                        ShardCheckpoint(
                            sequenceNumber: checkpointed >= 0
                                ? source.sequenceNumber(ordinal: UInt64(checkpointed)) : nil,
                            finished: true),
                        shardId: shardId)
                    try checkpoints.flush()
                    publish(ShardStatus(isIdle: true, isFinished: true, outstanding: 0))
                    logger.debug("shard finished", metadata: ["shard.id": "\(shardId)"])
                    context.metrics.setRecordsBehind(shardId: shardId, records: 0)
                    context.metrics.setIteratorAge(shardId: shardId, milliseconds: nil)
                    return
                }
                let idle = !busy && outstanding == 0 && caughtUp && !windowOpen
                publish(ShardStatus(isIdle: idle, isFinished: false, outstanding: outstanding))
                if progressed {
                    pause = .microseconds(200)
                    // A pass that progressed is usually followed by one that finds nothing and waits; yielding
                    // after each one costs a thread hop per batch, so it yields only after a run of busy passes.
                    busyPasses += 1
                    if busyPasses >= 16 {
                        busyPasses = 0
                        await Task.yield()
                    }
                    continue
                }
                busyPasses = 0
                var sleep = pause
                var windowDeadline = Self.backlogInterval
                if let deadline = nextWindowDeadline() {
                    windowDeadline = max(.zero, min(windowDeadline, deadline - clock.now))
                    sleep = max(.zero, min(sleep, deadline - clock.now))
                }
                if busy {
                    // A finishing batch rings the doorbell, so its lane's next batch starts at once. With the buffer
                    // full (or the shard ended) there is nothing to read: only a lane's progress, its end or a
                    // batching-window deadline can change anything, so the shard is not polled (the backlog is
                    // still reported every ``backlogInterval``).
                    // Otherwise new records wake it too: the stream's doorbell rings the lanes' doorbell (where the
                    // doorbell works; elsewhere the shard is polled every 0.2–2 ms).
                    try Task.checkCancellation()
                    let full = atEnd || lanes.reduce(0) { $0 + $1.waiting.count } > bufferLimit / 2
                    var timeout = full ? windowDeadline : sleep
                    var cancelNotification: (@Sendable () -> Void)?
                    if !full, caughtUp {
                        let doorbell = inbox.doorbell
                        cancelNotification = source.notifyOnRecords(timeout: windowDeadline) { doorbell.ring() }
                        if cancelNotification != nil { timeout = windowDeadline }
                    }
                    await inbox.doorbell.wait(timeout: timeout, scheduler: context.scheduler)
                    cancelNotification?()
                } else if caughtUp, !atEnd, !windowOpen,
                    await source.waitForRecords(timeout: idleTimeout(now: clock.now))
                {
                    // Slept until an appender rang the stream's doorbell (or a batching-window deadline, or the safety
                    // net). An open tumbling window closes on the wall clock, so it keeps polling.
                    idleWaits += 1
                    try Task.checkCancellation()
                    continue
                } else {
                    await context.scheduler.sleep(for: sleep)
                    try Task.checkCancellation()
                }
                pause = min(pause * 2, idle ? Self.idlePause : .milliseconds(2))
            }
            try await group.waitForAll()
        }
        if status.isFinished { return }
        reportBacklog(stopped: true)
    }

    /// Publishes the records behind (read and not handled, plus not read); a stopping reader also keeps as its
    /// iterator age the age of the oldest record it did not read, so the summary says how far behind it stopped.
    private func reportBacklog(stopped: Bool) {
        let backlog = source.backlog()
        let outstanding = lanes.reduce(0) { $0 + $1.outstanding.count }
        context.metrics.setRecordsBehind(shardId: shardId, records: backlog.map { $0.unreadRecords + outstanding })
        if stopped, let backlog, backlog.unreadRecords > 0 {
            context.metrics.raiseIteratorAge(shardId: shardId, milliseconds: backlog.oldestUnreadAgeMilliseconds)
        }
    }

    private func publish(_ new: ShardStatus) {
        guard new != status else { return }
        if new.isIdle && !status.isIdle { context.metrics.setIteratorAge(shardId: shardId, milliseconds: 0) }
        status = new
        reportStatus(new)
    }

    /// Filters records and routes them to lanes.
    private func dispatch(_ records: [Record], now: ContinuousClock.Instant) {
        var filtered = 0
        for record in records {
            if let filter {
                if !filter.matches(EventRecord(record)) {
                    filtered += 1
                    continue
                }
            }
            // Sized from its parts: local sequence numbers are 56 digits, so none is formatted here. A KPL aggregate
            // that the event de-aggregates is sized as its user records, so batches close on the event's real size.
            let size =
                configuration.deaggregate && record.data.starts(with: KPLAggregation.magic)
                ? Self.deaggregatedByteCount(of: record, encoder: encoder)
                : encoder.encodedByteCount(
                    partitionKey: record.partitionKey,
                    sequenceNumberByteCount: record.sourceSequenceNumber?.utf8.count ?? 56,
                    dataByteCount: record.data.count, arrival: record.approximateArrivalTimestamp)
            let lane = LaneRouter.lane(of: record.partitionKey, laneCount: laneCount)
            lanes[lane].append(PendingRecord(record: record, eventByteCount: size, readAt: now))
        }
        if filtered > 0 {
            context.metrics.update { $0.filteredRecords += filtered }
        }
    }

    /// The bytes `record` takes in the `Records` array of an event that de-aggregates KPL records: each of its user
    /// records' elements and the commas between them (the record's own element when it is not an aggregate).
    static func deaggregatedByteCount(of record: Record, encoder: KinesisEventEncoder) -> Int {
        let expanded = KPLAggregation.expand(CollectionOfOne(EventRecord(record)))
        return expanded.reduce(max(0, expanded.count - 1)) { $0 + encoder.encodedByteCount(of: $1) }
    }

    /// How long an idle reader may sleep on the doorbell: until the nearest batching-window deadline, at most the
    /// doorbell's safety net.
    private func idleTimeout(now: ContinuousClock.Instant) -> Duration {
        let safetyNet = Self.idleDeadline(after: now) - now
        guard let deadline = nextWindowDeadline() else { return safetyNet }
        return max(.zero, min(safetyNet, deadline - now))
    }

    /// When an idle reader that starts waiting at `now` looks again without a ring: ``idleSafetyNet`` later,
    /// rounded up to a whole second of a grid all readers of the process share, so idle readers wake together and
    /// the doorbell's waiting thread serves them in one wake-up rather than one each (1,000 idle shards: one
    /// wake-up every few seconds instead of 200 a second).
    static func idleDeadline(after now: ContinuousClock.Instant) -> ContinuousClock.Instant {
        let elapsed = now + idleSafetyNet - idleGridOrigin
        return idleGridOrigin + .seconds(elapsed.components.seconds + 1)
    }

    private static let idleGridOrigin = ContinuousClock.now

    /// The longest an idle reader sleeps on the doorbell without a ring. Appends, reshards, deletions and the
    /// mapping's stop all wake it, so this only bounds a lost wake-up; each wake-up of an idle reader costs a look
    /// at its shard and its backlog, so over 1,000 shards 1 s would already be 1,000 looks a second.
    static let idleSafetyNet = Duration.seconds(5)

    private func nextWindowDeadline() -> ContinuousClock.Instant? {
        guard configuration.batchingWindow > .zero else { return nil }
        return lanes.filter { !$0.isBusy }.compactMap { $0.windowDeadline(window: configuration.batchingWindow) }
            .min()
    }

    /// Starts a task that runs a batch of a lane (an empty batch only as the final invocation of a window), then
    /// the batches the reader hands it through the lane's ``LaneMailbox`` while it runs.
    private func start(
        lane: Int, batch: [Record], window: TumblingWindow?, in group: inout ThrowingTaskGroup<Void, any Error>
    ) {
        guard !batch.isEmpty || window != nil else { return }
        lanes[lane].isBusy = true
        lanes[lane].run += 1
        let run = lanes[lane].run
        let mailbox = lanes[lane].mailbox
        mailbox.started()
        let inbox = self.inbox
        let stop = context.stop
        let slot = ordinal * laneCount + lane
        let runner = BatchRunner(
            context: context, shardId: shardId, slot: slot,
            progress: { inbox.post(.progress(lane: lane, through: $0), ring: false) })
        // On the thread where the slot's handler answers (a Runtime API slot's event loop), if it has one.
        group.addTask(executorPreference: context.invoker.taskExecutor(slot: slot)) {
            var next = batch
            while true {
                let (result, state) = await runner.run(next, window: window)
                // One call: once it reported the task ended, the reader may start the lane's next task at once
                // (marking the mailbox running again), which a second call would undo — the reader would then
                // start a third task beside the second, two batches of one lane at a time.
                let stopping = stop.isSet || result != .completed || window != nil
                guard let following = mailbox.finished(stopping: stopping) else {
                    inbox.post(.done(lane: lane, run: run, result, state: state))
                    return
                }
                // The reader may hand over the batches after these (and applies the progress posted so far).
                if following.wantsMore { inbox.doorbell.ring() }
                next = following.batch
            }
        }
    }

    private func apply(_ events: [LaneInbox.Event]) {
        for event in events {
            switch event {
            case .progress(let lane, let offset):
                lanes[lane].handled(through: offset)
            case .done(let lane, let run, _, let state):
                // A done of an earlier task of the lane (the reader already started the next) changes nothing.
                guard run == lanes[lane].run else { continue }
                lanes[lane].isBusy = false
                if configuration.tumblingWindow != nil {
                    lanes[lane].windowBatchDone(state: state)
                    windowEntryDue = true
                }
            }
        }
    }

    /// Moves the checkpoint to just below the lowest outstanding record (or to the last record read).
    private func advanceCheckpoint() {
        let lowest = lanes.compactMap { $0.outstanding.first }.min()
        let handled = lowest.map { Int64($0) - 1 } ?? Int64(source.nextOrdinal) - 1
        guard handled > checkpointed else { return }
        checkpointed = handled
        windowEntryDue = windows != nil
        checkpoints.set(
            ShardCheckpoint(sequenceNumber: source.sequenceNumber(ordinal: UInt64(handled))), shardId: shardId)
    }
}

extension KinesisEventSource {
    /// The source of a shard's events with the region and account of the stream's ARN
    /// (`arn:aws:kinesis:<region>:<account>:stream/<name>`), or the defaults when it has another form, and the
    /// function's execution role (`roleArn`; `role/shardlog` of the stream's account when there is none).
    init(streamARN: String, streamName: String, shardId: String, roleArn: String? = nil) {
        self.init(streamName: streamName, shardId: shardId)
        if let arn = try? StreamARN(parsing: streamARN) {
            region = arn.region
            accountId = arn.account
            invokeIdentityArn = "arn:\(arn.partition):iam::\(arn.account):role/shardlog"
        }
        if let roleArn { invokeIdentityArn = roleArn }
    }
}

extension EventRecord {
    /// The event element of a stored record.
    init(_ record: Record) {
        self.init(
            partitionKey: record.partitionKey, sequenceNumber: record.sequenceNumber, data: record.data,
            approximateArrivalTimestamp: record.approximateArrivalTimestamp)
    }
}
