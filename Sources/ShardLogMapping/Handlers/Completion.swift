import Synchronization

/// A value that is set once and awaited by any number of tasks: the bridge between callbacks on other threads
/// (a process's termination handler, a pipe reader, an HTTP route) and the `async` invokers.
///
/// Waiting never blocks a thread. A waiting task that is cancelled stops waiting and gets `nil`, so a
/// ``Completion`` can take part in a task-group race. Thread-safe: all state is behind a `Mutex`.
final class Completion<Value: Sendable>: Sendable {
    private struct State {
        var value: Value?
        var waiters: [UInt64: CheckedContinuation<Value?, Never>] = [:]
        var cancelledWaiters: Set<UInt64> = []
        var nextWaiter: UInt64 = 0
    }

    private let state = Mutex(State())

    /// Creates an unset completion.
    init() {}

    /// The value, if it has been set.
    var value: Value? {
        state.withLock { $0.value }
    }

    /// Sets the value and wakes every waiter; only the first call has an effect.
    /// - Parameter value: The value.
    /// - Returns: Whether this call set the value.
    @discardableResult
    func complete(_ value: Value) -> Bool {
        let waiters: [CheckedContinuation<Value?, Never>]? = state.withLock { state in
            guard state.value == nil else {
                return nil
            }
            state.value = value
            let waiting = Array(state.waiters.values)
            state.waiters = [:]
            return waiting
        }
        guard let waiters else {
            return false
        }
        for waiter in waiters {
            waiter.resume(returning: value)
        }
        return true
    }

    /// Waits for the value.
    /// - Returns: The value, or `nil` if the waiting task was cancelled first.
    func wait() async -> Value? {
        await wait(id: newWaiter())
    }

    /// Waits for the value, at most until `deadline`: a timer on `scheduler` (by default the running mapping's,
    /// ``MappingScheduler/currentOrShared``) ends the wait — no task group, no sleeping task.
    /// - Parameters:
    ///   - deadline: When to stop waiting.
    ///   - scheduler: Where the deadline's timer goes.
    /// - Returns: The value, or `nil` if the deadline passed or the task was cancelled first.
    @discardableResult
    func wait(
        until deadline: ContinuousClock.Instant, on scheduler: MappingScheduler = .currentOrShared
    ) async -> Value? {
        if let value { return value }
        let id = newWaiter()
        let timer = scheduler.scheduleDeadline(at: deadline) { [self] in dropWaiter(id) }
        let value = await wait(id: id)
        scheduler.cancel(timer)
        return value
    }

    private func newWaiter() -> UInt64 {
        state.withLock { state in
            state.nextWaiter += 1
            return state.nextWaiter
        }
    }

    private func wait(id: UInt64) async -> Value? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Value?, Never>) in
                let immediate: Value?? = state.withLock { state in
                    if let value = state.value {
                        return .some(value)
                    }
                    if state.cancelledWaiters.remove(id) != nil {
                        return .some(nil)
                    }
                    state.waiters[id] = continuation
                    return nil
                }
                if let immediate {
                    continuation.resume(returning: immediate)
                }
            }
        } onCancel: {
            dropWaiter(id)
        }
    }

    /// Ends waiter `id`'s wait with `nil` (its task was cancelled, or its deadline passed); a waiter that has not
    /// started waiting yet returns `nil` at once when it does.
    private func dropWaiter(_ id: UInt64) {
        let continuation: CheckedContinuation<Value?, Never>? = state.withLock { state in
            if let waiting = state.waiters.removeValue(forKey: id) {
                return waiting
            }
            if state.value == nil {
                state.cancelledWaiters.insert(id)
            }
            return nil
        }
        continuation?.resume(returning: nil)
    }
}
