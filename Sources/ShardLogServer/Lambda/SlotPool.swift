import Synchronization

/// A function's concurrency: slots `0..<limit`, the lowest free one first (so warm processes are reused), waiters
/// served in order. The limit can change while slots are busy (`PutFunctionConcurrency`): slots at or above a lowered
/// limit are retired as they are released. Thread-safe.
final class SlotPool: Sendable {
    private struct Waiter {
        var id: Int
        var continuation: CheckedContinuation<Int?, Never>
    }
    private struct State {
        var limit: Int
        var inUse = Set<Int>()
        var waiters: [Waiter] = []
        var nextWaiter = 0

        /// The lowest slot below the limit that is not in use.
        func lowestFree() -> Int? {
            guard inUse.count < limit else { return nil }
            return (0..<limit).first { !inUse.contains($0) }
        }
    }
    private let state: Mutex<State>

    /// A pool of `limit` slots (0 throttles every invocation).
    init(limit: Int) {
        state = Mutex(State(limit: max(0, limit)))
    }

    /// How many slots are in use.
    var busy: Int { state.withLock { $0.inUse.count } }

    /// The current limit.
    var limit: Int { state.withLock { $0.limit } }

    /// Waits for a free slot, at most `timeout` (`nil`: as long as it takes).
    /// - Returns: the slot, or `nil` when none became free in time.
    func acquire(timeout: Duration? = nil) async -> Int? {
        await withCheckedContinuation { (continuation: CheckedContinuation<Int?, Never>) in
            let (slot, waiter): (Int?, Int?) = state.withLock { state in
                if state.waiters.isEmpty, let slot = state.lowestFree() {
                    state.inUse.insert(slot)
                    return (slot, nil)
                }
                if timeout == .zero { return (nil, nil) }
                let id = state.nextWaiter
                state.nextWaiter += 1
                state.waiters.append(Waiter(id: id, continuation: continuation))
                return (nil, id)
            }
            guard let waiter else {
                continuation.resume(returning: slot)
                return
            }
            if let timeout {
                Task { [self] in
                    try? await Task.sleep(for: timeout)
                    self.giveUp(waiter)
                }
            }
        }
    }

    /// Takes `slot` if it is not in use (for stopping its idle process without an invocation racing in), also a
    /// slot at or above the limit.
    func claim(_ slot: Int) -> Bool {
        state.withLock { state in
            guard !state.inUse.contains(slot) else { return false }
            state.inUse.insert(slot)
            return true
        }
    }

    /// Gives `slot` back (to the first waiter, if it is still below the limit).
    func release(_ slot: Int) {
        let served: [(CheckedContinuation<Int?, Never>, Int)] = state.withLock { state in
            state.inUse.remove(slot)
            return Self.serve(&state)
        }
        for (continuation, slot) in served { continuation.resume(returning: slot) }
    }

    /// Changes the limit; waiters are served at once when it grew.
    func setLimit(_ limit: Int) {
        let served: [(CheckedContinuation<Int?, Never>, Int)] = state.withLock { state in
            state.limit = max(0, limit)
            return Self.serve(&state)
        }
        for (continuation, slot) in served { continuation.resume(returning: slot) }
    }

    private func giveUp(_ id: Int) {
        let waiter: CheckedContinuation<Int?, Never>? = state.withLock { state in
            guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return state.waiters.remove(at: index).continuation
        }
        waiter?.resume(returning: nil)
    }

    private static func serve(_ state: inout State) -> [(CheckedContinuation<Int?, Never>, Int)] {
        var served: [(CheckedContinuation<Int?, Never>, Int)] = []
        while !state.waiters.isEmpty, let slot = state.lowestFree() {
            state.inUse.insert(slot)
            served.append((state.waiters.removeFirst().continuation, slot))
        }
        return served
    }
}
