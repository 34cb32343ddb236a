import Atomics
import CShardLog
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A stream's doorbell, `<stream>/doorbell`: lets readers in any process sleep until an appender rings.
///
/// The file (4 KiB, created by the first process that needs it, so data directories from before it keep working) is
/// mapped `MAP_SHARED` and holds 32-bit little-endian words:
///
/// ```
/// offset  word
///   8     generation  bumped by every ring; the futex word readers' waiting threads sleep on
///  12     waiters     threads sleeping on `generation`; appenders call FUTEX_WAKE only when it is not zero
///  16     epoch       bumped when the stream is resharded, closed or deleted: wakes every waiter
///  64     slots       one generation per shard (index modulo ``slotCount``), bumped before `generation`
/// ```
///
/// Appenders ring after publishing the committed end (``ring(shardIndex:)``): two atomic increments, plus one
/// `futex(FUTEX_WAKE)` (shared, not `FUTEX_PRIVATE_FLAG`, so other processes' waiters wake) only when a thread
/// waits. A reader takes a ``Ticket`` *before* looking for data, and when it finds none waits with it
/// (``wait(for:timeout:)``): it returns as soon as the shard's slot or the epoch moved past the ticket, or at the
/// timeout (the caller bounds it, e.g. ``safetyNet``). Waiting is async: one dedicated thread per stream and
/// process sleeps in `futex(FUTEX_WAIT)` for all of that process's waiters and resumes those whose shard was rung,
/// so no thread of the cooperative pool ever blocks, and 1,000 idle shard readers cost one sleeping thread.
///
/// Where futexes are missing (not Linux) or the file cannot be mapped read-write (a read-only directory), ``wait``
/// sleeps 2 ms at most, so callers fall back to polling. Thread-safety: safe from any thread.
package final class StreamDoorbell: Sendable {
    /// What a reader saw before looking for data: the generations of its shard's slot (or, for a reader of every
    /// shard, of the whole stream) and of the stream's epoch.
    package struct Ticket: Sendable, Equatable {
        /// The slot's byte offset in the file (the stream-wide `generation` for a reader of every shard).
        let offset: Int
        let slotGeneration: UInt32
        let epoch: UInt32
    }

    static let fileByteCount = 4096
    static let generationOffset = 8
    static let waitersOffset = 12
    static let epochOffset = 16
    static let slotsOffset = 64
    /// How many per-shard slots the file holds; shard `i` uses slot `i % slotCount`.
    static let slotCount = (fileByteCount - slotsOffset) / 4
    /// The longest a reader should wait without looking at the data again (a lost wake-up costs at most this).
    package static let safetyNet = Duration.seconds(1)
    /// How long ``wait(for:timeout:)`` sleeps at most where there is no doorbell (polling).
    static let pollInterval = Duration.milliseconds(2)
    /// How much earlier than its timeout a waiter may be resumed, so that waiters whose timeouts are close share
    /// one wake-up of the waiting thread (a waiter resumed early looks at its data and waits again).
    static let coalescing = Duration.milliseconds(5)
    /// How long the waiting thread stays when no reader waits before it ends: a follower that waits again after
    /// each record reuses it instead of starting a thread per record (a thread start and exit cost more than the
    /// rest of the wake-up, and each exit unmaps a stack).
    static let linger = Duration.seconds(1)

    /// `<stream>/doorbell`.
    package let path: String
    private let region: Region?
    private let state = Mutex(WaitState())
    private let threadWakeUps = Atomic<Int>(0)
    /// Where the waiting thread sleeps while no reader waits (signalled by the next one to register).
    private let parking = DispatchSemaphore(value: 0)
    private let waitCalls = Atomic<Int>(0)
    private let threadStarts = Atomic<Int>(0)

    private struct Waiter {
        var ticket: Ticket
        var deadline: ContinuousClock.Instant
        /// Resumes the waiting task, or calls a ``notify(after:timeout:_:)`` action; called once, outside the lock.
        var wake: @Sendable () -> Void
    }

    private struct WaitState {
        var waiters: [UInt64: Waiter] = [:]
        var nextId: UInt64 = 0
        var threadRunning = false
        /// When the waiting thread's current futex wait ends at the latest.
        var threadDeadline: ContinuousClock.Instant?
        /// When the waiting thread ran out of waiters: it waits on ``parking`` for one (``linger`` at most) while set.
        var idleSince: ContinuousClock.Instant?
    }

    /// Maps (creating it if needed) the doorbell of the stream in `directory`.
    init(directory: String) {
        self.path = directory + "/doorbell"
        self.region = Region(path: path)
    }

    /// Whether waiting sleeps until a ring (futex and a read-write mapping); `false` means polling.
    package var isWaking: Bool { region != nil }

    /// How many times this process's waiting thread went to sleep or woke (each futex wait counts once): an idle
    /// stream must keep this near one per ``safetyNet`` per stream, not per shard. For tests and measurements.
    package var wakeUpCount: Int { threadWakeUps.load(ordering: .relaxed) }

    /// How many times ``wait(for:timeout:)`` was called in this process (each a reader that found no data).
    package var waitCount: Int { waitCalls.load(ordering: .relaxed) }

    /// How many times this process started the stream's waiting thread: once per burst of waits, not once per wait
    /// (it stays ``linger`` after its last waiter). For tests and measurements.
    package var threadStartCount: Int { threadStarts.load(ordering: .relaxed) }

    // MARK: - Registry

    private struct Registry {
        var byStream: [String: StreamDoorbell] = [:]
        var byShard: [String: StreamDoorbell] = [:]
    }

    private static let registry = Mutex(Registry())

    /// The process's doorbell of the stream in `directory` (mapped once, kept until ``discard(directory:)``).
    package static func forStream(directory: String) -> StreamDoorbell {
        registry.withLock { r in
            if let d = r.byStream[directory] { return d }
            let d = StreamDoorbell(directory: directory)
            r.byStream[directory] = d
            return d
        }
    }

    /// The doorbell of the stream holding the shard directory `<stream>/<shard-id>` (one dictionary lookup).
    package static func forShard(directory: String) -> StreamDoorbell {
        if let d = registry.withLock({ $0.byShard[directory] }) { return d }
        let stream = (directory as NSString).deletingLastPathComponent
        let d = forStream(directory: stream)
        registry.withLock { $0.byShard[directory] = d }
        return d
    }

    /// Forgets the doorbell of a deleted stream (a stream created again under the name gets a new file).
    package static func discard(directory: String) {
        registry.withLock { r in
            r.byStream[directory] = nil
            r.byShard = r.byShard.filter { $0.key.hasPrefix(directory + "/") == false }
        }
    }

    /// Resumes every waiter of every doorbell in this process at once (a mapping stops): each re-checks its data
    /// and its reason to wait.
    package static func interruptWaiters() {
        let all = registry.withLock { Array($0.byStream.values) }
        for d in all { d.resumeAll() }
    }

    // MARK: - Ringing

    /// Tells waiters that shard `shardIndex` published records (call after the release store of its committed end).
    /// Two atomic increments; a `futex(FUTEX_WAKE)` only when some thread waits.
    package func ring(shardIndex: Int) {
        guard let region else { return }
        region.word(Self.slotsOffset + 4 * (shardIndex % Self.slotCount))
            .wrappingIncrement(ordering: .sequentiallyConsistent)
        region.bump()
    }

    /// Wakes every waiter of the stream (resharded, closed or deleted).
    package func ringAll() {
        guard let region else { return }
        region.word(Self.epochOffset).wrappingIncrement(ordering: .sequentiallyConsistent)
        region.bump()
    }

    // MARK: - Waiting

    /// The generations a reader must see move before it looks for data of `shardIndex` again. Take it *before*
    /// looking, so a record published in between makes ``wait(for:timeout:)`` return at once.
    package func ticket(shardIndex: Int) -> Ticket {
        ticket(offset: Self.slotsOffset + 4 * (shardIndex % Self.slotCount))
    }

    /// A ticket that any ring of the stream (an append to any shard, a reshard, a deletion) moves past: for a reader
    /// of every shard.
    package func streamTicket() -> Ticket {
        ticket(offset: Self.generationOffset)
    }

    private func ticket(offset: Int) -> Ticket {
        guard let region else { return Ticket(offset: offset, slotGeneration: 0, epoch: 0) }
        return Ticket(
            offset: offset, slotGeneration: region.word(offset).load(ordering: .sequentiallyConsistent),
            epoch: region.word(Self.epochOffset).load(ordering: .sequentiallyConsistent))
    }

    /// The stream's epoch: it moves when the stream is resharded, a shard is closed or the stream is deleted (in any
    /// process), so a reader of the stream's shard list need only look again when it moved. 0 without a doorbell.
    package var epoch: UInt32 {
        region?.word(Self.epochOffset).load(ordering: .sequentiallyConsistent) ?? 0
    }

    /// Whether the doorbell was rung for the ticket's shard (or the whole stream) since the ticket was taken.
    package func isRung(_ ticket: Ticket) -> Bool {
        guard let region else { return false }
        return region.word(ticket.offset).load(ordering: .sequentiallyConsistent)
            != ticket.slotGeneration
            || region.word(Self.epochOffset).load(ordering: .sequentiallyConsistent)
                != ticket.epoch
    }

    /// Sleeps until the ticket's shard or the stream is rung, `timeout` passes, the task is cancelled or
    /// ``interruptWaiters()`` is called; without futexes sleeps at most 2 ms (polling). Never blocks the caller's
    /// thread: the continuation is resumed by the stream's waiting thread.
    package func wait(for ticket: Ticket, timeout: Duration) async {
        waitCalls.wrappingAdd(1, ordering: .relaxed)
        guard region != nil else {
            try? await Task.sleep(for: min(timeout, Self.pollInterval))
            return
        }
        if timeout <= .zero || isRung(ticket) { return }
        if timeout <= Self.coalescing {
            // Shorter than the coalescing slack: the thread would resume it at once.
            try? await Task.sleep(for: timeout)
            return
        }
        let id = nextWaiterId()
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                register(id, ticket: ticket, timeout: timeout) { continuation.resume() }
                if Task.isCancelled { take(id)?() }
            }
        } onCancel: {
            take(id)?()
        }
    }

    /// Calls `action` once, on the stream's waiting thread, when the ticket's shard or the stream is rung or
    /// `timeout` passes, unless ``cancelNotification(_:)`` comes first: a reader that waits for something else (its
    /// running batches) is woken by new records too, without a task of its own.
    /// - Returns: the notification to cancel, or `nil` when there is no doorbell here (polling), the timeout is not
    ///   positive, or the ticket is rung already (then `action` is not called: look for the data at once).
    package func notify(
        after ticket: Ticket, timeout: Duration, _ action: @escaping @Sendable () -> Void
    ) -> UInt64? {
        guard region != nil, timeout > .zero, !isRung(ticket) else { return nil }
        let id = nextWaiterId()
        register(id, ticket: ticket, timeout: timeout, wake: action)
        return id
    }

    /// Cancels a ``notify(after:timeout:_:)`` whose action was not called yet (afterwards it does nothing).
    package func cancelNotification(_ id: UInt64) {
        _ = take(id)
    }

    private func nextWaiterId() -> UInt64 {
        state.withLock { s in
            defer { s.nextId &+= 1 }
            return s.nextId
        }
    }

    /// Adds a waiter and makes sure the waiting thread serves it.
    private func register(
        _ id: UInt64, ticket: Ticket, timeout: Duration, wake: @escaping @Sendable () -> Void
    ) {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        enum Start { case thread, unpark, poke, none }
        let start = state.withLock { s -> Start in
            s.waiters[id] = Waiter(ticket: ticket, deadline: deadline, wake: wake)
            if !s.threadRunning {
                s.threadRunning = true
                return .thread
            }
            if s.idleSince != nil {
                s.idleSince = nil
                return .unpark
            }
            return s.threadDeadline.map { deadline < $0.advanced(by: .milliseconds(-1)) } ?? false ? .poke : .none
        }
        // Rung while registering: the thread might have looked before.
        if isRung(ticket) { take(id)?() }
        switch start {
        case .thread:
            threadStarts.wrappingAdd(1, ordering: .relaxed)
            let thread = Thread { [self] in runWaitingThread() }
            thread.name = "shardlog-doorbell"
            thread.start()
        case .unpark:
            parking.signal()
        case .poke:
            // An earlier deadline than the thread sleeps until: wake it to shorten its sleep (other processes'
            // waiters wake too, look, and sleep again).
            region?.wake()
        case .none:
            break
        }
    }

    private func take(_ id: UInt64) -> (@Sendable () -> Void)? {
        state.withLock { $0.waiters.removeValue(forKey: id)?.wake }
    }

    private func resumeAll() {
        let all = state.withLock { s in
            defer { s.waiters.removeAll() }
            return s.waiters.values.map(\.wake)
        }
        for wake in all { wake() }
    }

    /// The waiting thread: resumes rung and expired waiters, then sleeps on `generation` until the next ring or the
    /// nearest deadline. Without waiters it parks for ``linger`` (a registering waiter wakes it) and then ends (the
    /// next ``wait(for:timeout:)`` starts it again).
    private func runWaitingThread() {
        guard let region else { return }
        enum Next {
            case sleep(until: ContinuousClock.Instant)
            case park(for: Duration)
            case end
        }
        while true {
            let generation = region.word(Self.generationOffset).load(ordering: .sequentiallyConsistent)
            let current = ContinuousClock.now
            // Deadlines this close are served together (timer coalescing): many idle readers, one wake-up.
            let now = current.advanced(by: Self.coalescing)
            var ready: [@Sendable () -> Void] = []
            let next = state.withLock { s -> Next in
                for (id, w) in s.waiters where w.deadline <= now || isRung(w.ticket) {
                    ready.append(w.wake)
                    s.waiters[id] = nil
                }
                guard let nearest = s.waiters.values.map(\.deadline).min() else {
                    s.threadDeadline = nil
                    let idleSince = s.idleSince ?? current
                    s.idleSince = idleSince
                    let left = Self.linger - (current - idleSince)
                    guard left > .zero else {
                        s.threadRunning = false
                        s.idleSince = nil
                        return .end
                    }
                    return .park(for: left)
                }
                s.idleSince = nil
                s.threadDeadline = nearest
                return .sleep(until: nearest)
            }
            for wake in ready { wake() }
            if case .end = next { return }
            threadWakeUps.wrappingAdd(1, ordering: .relaxed)
            switch next {
            case .sleep(let until):
                region.sleep(ifGeneration: generation, for: until - ContinuousClock.now)
            case .park(let duration):
                _ = parking.wait(timeout: .now() + .nanoseconds(Int(duration / .nanoseconds(1))))
            case .end:
                break
            }
        }
    }
}

/// The doorbell file's mapping. Thread-safety: only atomic accesses to the mapped words.
private final class Region: @unchecked Sendable {
    // @unchecked: `base` never changes and is only accessed through atomics.
    private let base: UnsafeMutableRawPointer

    /// Opens (creating if missing) and maps the file; `nil` without futexes or when it cannot be mapped read-write.
    init?(path: String) {
        guard shardlog_futex_supported() != 0 else { return nil }
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return nil }
        // Several processes may extend it at once: extending to the same length never clears written words.
        if st.st_size < StreamDoorbell.fileByteCount {
            guard ftruncate(fd, off_t(StreamDoorbell.fileByteCount)) == 0 else { return nil }
        }
        guard
            let p = mmap(nil, StreamDoorbell.fileByteCount, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0),
            p != UnsafeMutableRawPointer(bitPattern: -1)
        else { return nil }
        self.base = p
    }

    deinit {
        munmap(base, StreamDoorbell.fileByteCount)
    }

    func word(_ offset: Int) -> UnsafeAtomic<UInt32> {
        precondition(offset >= 0 && offset + 4 <= StreamDoorbell.fileByteCount && offset % 4 == 0, "doorbell word")
        return UnsafeAtomic<UInt32>(at: (base + offset).assumingMemoryBound(to: UnsafeAtomic<UInt32>.Storage.self))
    }

    private var generationPointer: UnsafeMutablePointer<UInt32> {
        (base + StreamDoorbell.generationOffset).assumingMemoryBound(to: UInt32.self)
    }

    /// Bumps `generation`, then wakes its sleepers if there are any (sequentially consistent on both sides: a
    /// sleeper counts itself before the kernel compares `generation`, so either it sees the bump or we see it).
    func bump() {
        word(StreamDoorbell.generationOffset).wrappingIncrement(ordering: .sequentiallyConsistent)
        if word(StreamDoorbell.waitersOffset).load(ordering: .sequentiallyConsistent) != 0 { wake() }
    }

    /// `futex(FUTEX_WAKE)` of every sleeper on `generation`, in every process.
    func wake() {
        _ = shardlog_futex_wake(generationPointer, Int32.max)
    }

    /// Sleeps while `generation` still equals `expected`, at most `timeout` (returns early on a signal).
    func sleep(ifGeneration expected: UInt32, for timeout: Duration) {
        guard timeout > .zero else { return }
        let (seconds, attoseconds) = timeout.components
        let nanoseconds = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        let total = nanoseconds.overflow ? Int64.max : nanoseconds.partialValue &+ attoseconds / 1_000_000_000
        word(StreamDoorbell.waitersOffset).wrappingIncrement(ordering: .sequentiallyConsistent)
        _ = shardlog_futex_wait(generationPointer, expected, max(0, total))
        word(StreamDoorbell.waitersOffset).wrappingDecrement(ordering: .sequentiallyConsistent)
    }
}
