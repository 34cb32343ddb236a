import Foundation
import Synchronization

/// A timer's handle, for ``TimerHeap/cancel(_:)`` and ``MappingScheduler/cancel(_:)``.
struct TimerID: Hashable, Sendable {
    fileprivate let value: UInt64
}

/// Deadlines in a binary min-heap, earliest first; timers with equal deadlines come out in the order they were added.
///
/// Cancelling removes the payload at once and leaves the heap entry behind, dropped when it reaches the top or when
/// cancelled entries outnumber live ones (then the heap is rebuilt), so cancelling is O(1) and never leaks.
/// Not thread-safe: ``MappingScheduler`` keeps it behind a `Mutex`.
///
/// - Complexity: ``insert(deadline:_:)`` and ``popExpired(now:)`` O(log n) per timer, ``cancel(_:)`` O(1)
///   amortised, ``nextDeadline`` O(1) amortised.
struct TimerHeap<Payload> {
    private struct Entry {
        var deadline: ContinuousClock.Instant
        var id: UInt64

        func precedes(_ other: Entry) -> Bool {
            deadline < other.deadline || (deadline == other.deadline && id < other.id)
        }
    }

    private var entries: [Entry] = []
    private var payloads: [UInt64: Payload] = [:]
    private var nextId: UInt64 = 0

    /// How many timers are pending (cancelled ones not counted).
    var count: Int { payloads.count }
    /// Whether no timer is pending.
    var isEmpty: Bool { payloads.isEmpty }

    /// The earliest pending deadline.
    var nextDeadline: ContinuousClock.Instant? {
        mutating get {
            dropCancelledTop()
            return entries.first?.deadline
        }
    }

    /// Adds a timer.
    /// - Returns: its handle.
    @discardableResult
    mutating func insert(deadline: ContinuousClock.Instant, _ payload: Payload) -> TimerID {
        let id = nextId
        nextId &+= 1
        payloads[id] = payload
        entries.append(Entry(deadline: deadline, id: id))
        siftUp(entries.count - 1)
        return TimerID(value: id)
    }

    /// Removes a pending timer.
    /// - Returns: its payload, or `nil` when it already fired or was cancelled.
    @discardableResult
    mutating func cancel(_ id: TimerID) -> Payload? {
        guard let payload = payloads.removeValue(forKey: id.value) else { return nil }
        if entries.count > 64 && entries.count > 2 * payloads.count { rebuild() }
        return payload
    }

    /// Removes and returns the payloads of every timer due at `now`, earliest first.
    mutating func popExpired(now: ContinuousClock.Instant) -> [Payload] {
        var due: [Payload] = []
        while let top = entries.first, top.deadline <= now {
            removeTop()
            if let payload = payloads.removeValue(forKey: top.id) { due.append(payload) }
        }
        return due
    }

    /// Removes the timers whose payload matches `shouldRemove`; the others stay pending with their handles.
    /// - Returns: the removed payloads, earliest first.
    mutating func removeAll(where shouldRemove: (Payload) -> Bool) -> [Payload] {
        let removed = entries.sorted { $0.precedes($1) }.compactMap { entry -> Payload? in
            guard let payload = payloads[entry.id], shouldRemove(payload) else { return nil }
            payloads[entry.id] = nil
            return payload
        }
        if !removed.isEmpty { rebuild() }
        return removed
    }

    /// Removes every timer.
    /// - Returns: their payloads, earliest first.
    mutating func removeAll() -> [Payload] {
        var all: [Payload] = []
        while let top = entries.first {
            removeTop()
            if let payload = payloads.removeValue(forKey: top.id) { all.append(payload) }
        }
        return all
    }

    private mutating func dropCancelledTop() {
        while let top = entries.first, payloads[top.id] == nil { removeTop() }
    }

    private mutating func removeTop() {
        let last = entries.removeLast()
        guard !entries.isEmpty else { return }
        entries[0] = last
        siftDown(0)
    }

    private mutating func rebuild() {
        entries.removeAll { payloads[$0.id] == nil }
        var index = entries.count / 2
        while index > 0 {
            index -= 1
            siftDown(index)
        }
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard entries[child].precedes(entries[parent]) else { return }
            entries.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            guard left < entries.count else { return }
            var smallest = left
            if left + 1 < entries.count && entries[left + 1].precedes(entries[left]) { smallest = left + 1 }
            guard entries[smallest].precedes(entries[parent]) else { return }
            entries.swapAt(parent, smallest)
            parent = smallest
        }
    }
}

/// The one scheduler for time of a mapping: batching-window deadlines, retry and start-failure back-offs, the waits
/// of shard readers for their lanes, and checkpoint flushes are timers in one ``TimerHeap``, served by one thread
/// per mapping that sleeps until the earliest deadline.
///
/// A wait costs a heap entry and a continuation — no task group, no sleeping task. A timer either resumes a
/// sleeping task (``sleep(until:)``) or runs a short closure on the scheduler's thread (``schedule(at:_:)``, e.g.
/// ringing a ``Doorbell``); the closure must not block. ``stop()`` (the mapping stops) ends every sleep at once and
/// makes later sleeps return immediately, so a 60 s back-off never delays Ctrl-C. Deadlines
/// (``scheduleDeadline(at:_:)``: invocation timeouts, bounded waits for a child process) are the exception: they
/// keep their time across a stop, because a batch still running while the mapping stops must still time out. With
/// no timer pending the thread sleeps until one is added, and ends after one ``idleRecheck`` without a timer (the
/// next timer starts it again), so an idle mapping costs nothing here.
///
/// Thread-safety: every method may be called from any thread.
final class MappingScheduler: Sendable {
    enum Action {
        case resume(CheckedContinuation<Void, Never>)
        case run(@Sendable () -> Void)
        /// Runs at its deadline even after ``stop()``.
        case deadline(@Sendable () -> Void)

        var survivesStop: Bool {
            if case .deadline = self { return true }
            return false
        }
    }

    private struct State {
        var timers = TimerHeap<Action>()
        var stopped = false
        var threadRunning = false
        /// The deadline the thread sleeps until at the latest (`nil`: no timer, it sleeps ``idleRecheck``).
        var sleepingUntil: ContinuousClock.Instant?
        var fired = 0
    }

    /// The longest the thread sleeps in one go; bounds the effect of a wall-clock step on `NSCondition`'s deadline.
    let idleRecheck: Duration

    private let state = Mutex(State())
    private let condition = NSCondition()
    private let poked = Atomic<Bool>(false)
    private let name: String

    /// Creates a scheduler; its thread starts with the first timer.
    /// - Parameters:
    ///   - name: The thread's name (for profiles).
    ///   - idleRecheck: The longest the thread sleeps in one go (1 s).
    init(name: String = "shardlog-timers", idleRecheck: Duration = .seconds(1)) {
        self.name = name
        self.idleRecheck = idleRecheck
    }

    /// How many timers fired so far (for tests and measurements).
    var firedCount: Int { state.withLock { $0.fired } }

    /// How many timers are pending.
    var pendingCount: Int { state.withLock { $0.timers.count } }

    /// Whether the scheduler's thread exists (it ends after an idle re-check without timers).
    var isThreadRunning: Bool { state.withLock { $0.threadRunning } }

    /// Runs `action` on the scheduler's thread at `deadline`, or when ``stop()`` is called before. Keep it short:
    /// it delays every later timer.
    /// - Returns: a handle for ``cancel(_:)``; `nil` when the scheduler is stopped (the action does not run).
    @discardableResult
    func schedule(at deadline: ContinuousClock.Instant, _ action: @escaping @Sendable () -> Void) -> TimerID? {
        add(deadline, .run(action))
    }

    /// Runs `action` on the scheduler's thread at `deadline`, whether or not ``stop()`` is called before (an
    /// invocation's timeout: a batch that still runs while the mapping stops must still end). Keep it short.
    /// - Returns: a handle for ``cancel(_:)``.
    @discardableResult
    func scheduleDeadline(
        at deadline: ContinuousClock.Instant, _ action: @escaping @Sendable () -> Void
    ) -> TimerID? {
        add(deadline, .deadline(action))
    }

    /// The scheduler of the mapping whose invocation runs in this task (``current``), or ``shared`` outside a
    /// mapping (a direct `Invoke`, a test).
    static var currentOrShared: MappingScheduler { current ?? shared }

    /// The scheduler for waits outside any mapping; never stopped. Its thread exists only while it has timers.
    static let shared = MappingScheduler(name: "shardlog-timers-shared")

    /// Cancels a timer that has not fired; a sleep cancelled this way returns at once.
    func cancel(_ id: TimerID?) {
        guard let id, let action = state.withLock({ $0.timers.cancel(id) }) else { return }
        if case .resume(let continuation) = action { continuation.resume() }
    }

    /// Sleeps until `deadline`, ``stop()`` or the task's cancellation, whichever comes first.
    func sleep(until deadline: ContinuousClock.Instant) async {
        guard deadline > .now else { return }
        let box = Mutex<TimerID?>(nil)
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                guard let id = add(deadline, .resume(continuation)) else {
                    continuation.resume()
                    return
                }
                box.withLock { $0 = id }
                if Task.isCancelled { cancel(id) }
            }
        } onCancel: {
            cancel(box.withLock { $0 })
        }
    }

    /// Sleeps for `duration` (see ``sleep(until:)``).
    func sleep(for duration: Duration) async {
        await sleep(until: .now + duration)
    }

    /// Ends every sleep and runs every pending action now, except deadlines (``scheduleDeadline(at:_:)``), which
    /// keep their time; later sleeps return at once and later ``schedule(at:_:)`` calls are refused. Idempotent.
    func stop() {
        let all = state.withLock { s -> [Action] in
            s.stopped = true
            return s.timers.removeAll { !$0.survivesStop }
        }
        for action in all { Self.perform(action) }
        poke()
    }

    /// Whether ``stop()`` was called.
    var isStopped: Bool { state.withLock { $0.stopped } }

    private static func perform(_ action: Action) {
        switch action {
        case .resume(let continuation): continuation.resume()
        case .run(let body), .deadline(let body): body()
        }
    }

    /// Adds a timer and makes sure the thread will serve it; `nil` when stopped.
    private func add(_ deadline: ContinuousClock.Instant, _ action: Action) -> TimerID? {
        let (id, start, wake) = state.withLock { s -> (TimerID?, Bool, Bool) in
            guard !s.stopped || action.survivesStop else { return (nil, false, false) }
            let id = s.timers.insert(deadline: deadline, action)
            if !s.threadRunning {
                s.threadRunning = true
                return (id, true, false)
            }
            // The thread sleeps past this deadline (or without one): wake it to sleep less.
            return (id, false, s.sleepingUntil.map { deadline < $0 } ?? true)
        }
        if start {
            let thread = Thread { [self] in run() }
            thread.name = name
            thread.start()
        } else if wake {
            poke()
        }
        return id
    }

    private func poke() {
        poked.store(true, ordering: .releasing)
        condition.lock()
        condition.signal()
        condition.unlock()
    }

    /// The thread: fires due timers, then sleeps until the next deadline or a poke; ends when stopped (and no
    /// deadline is left) or after a whole ``idleRecheck`` without a timer.
    private func run() {
        var idle = false
        while true {
            let now = ContinuousClock.now
            let (due, next, ended) = state.withLock { s -> ([Action], ContinuousClock.Instant?, Bool) in
                let due = s.timers.popExpired(now: now)
                s.fired += due.count
                let next = s.timers.nextDeadline
                s.sleepingUntil = next
                let ended = next == nil && due.isEmpty && (s.stopped || idle)
                if ended { s.threadRunning = false }
                return (due, next, ended)
            }
            for action in due { Self.perform(action) }
            if ended { return }
            idle = false
            if !due.isEmpty { continue }
            let pause = min(next.map { $0 - ContinuousClock.now } ?? idleRecheck, idleRecheck)
            guard pause > .zero else { continue }
            let seconds = Double(pause.components.seconds) + Double(pause.components.attoseconds) / 1e18
            condition.lock()
            if !poked.load(ordering: .acquiring) {
                idle = !condition.wait(until: Date(timeIntervalSinceNow: seconds)) && next == nil
            }
            poked.store(false, ordering: .releasing)
            condition.unlock()
        }
    }
}

extension MappingScheduler {
    /// The scheduler of the mapping whose batch the current task invokes (bound around `Invoker.invoke`), so an
    /// invoker can put its invocation timeout on the mapping's timers (`schedule(at:)` completing the invocation
    /// with `.timedOut`, cancelled when the handler answers) instead of a task group and a sleeping task.
    @TaskLocal static var current: MappingScheduler?
}
