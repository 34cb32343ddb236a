import Foundation
import Synchronization
import Testing

@testable import ShardLogMapping

/// The timer heap: deadlines come out in order (ties in insertion order), cancelled timers never come out, and
/// many timers with many cancellations stay consistent.
@Suite struct TimerHeapTests {
    private let origin = ContinuousClock.now

    private func at(_ milliseconds: Int) -> ContinuousClock.Instant {
        origin + .milliseconds(milliseconds)
    }

    @Test func expiredTimersComeOutEarliestFirstAndTiesInInsertionOrder() {
        var heap = TimerHeap<String>()
        heap.insert(deadline: at(30), "c")
        heap.insert(deadline: at(10), "a")
        heap.insert(deadline: at(20), "b1")
        heap.insert(deadline: at(20), "b2")
        heap.insert(deadline: at(40), "d")
        #expect(heap.count == 5)
        #expect(heap.nextDeadline == at(10))
        #expect(heap.popExpired(now: at(5)).isEmpty)
        #expect(heap.popExpired(now: at(20)) == ["a", "b1", "b2"])
        #expect(heap.nextDeadline == at(30))
        #expect(heap.popExpired(now: at(100)) == ["c", "d"])
        #expect(heap.isEmpty)
        #expect(heap.nextDeadline == nil)
    }

    @Test func aCancelledTimerNeverFiresAndNoLongerSetsTheNextDeadline() {
        var heap = TimerHeap<Int>()
        let first = heap.insert(deadline: at(10), 1)
        heap.insert(deadline: at(20), 2)
        #expect(heap.cancel(first) == 1)
        #expect(heap.cancel(first) == nil, "cancelling twice returns nothing")
        #expect(heap.count == 1)
        #expect(heap.nextDeadline == at(20))
        #expect(heap.popExpired(now: at(100)) == [2])
        let fired = heap.insert(deadline: at(5), 3)
        #expect(heap.popExpired(now: at(100)) == [3])
        #expect(heap.cancel(fired) == nil, "a fired timer cannot be cancelled")
    }

    @Test(arguments: [1, 7, 2026])
    func manyTimersWithCancellationsMatchASortedModel(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var heap = TimerHeap<Int>()
        var model: [(deadline: Int, order: Int)] = []
        var live: [(order: Int, id: TimerID)] = []
        for order in 0..<2_000 {
            let deadline = Int.random(in: 0..<1_000, using: &random)
            live.append((order, heap.insert(deadline: at(deadline), order)))
            model.append((deadline, order))
            // Cancel about a third of them, anywhere in the heap.
            if Int.random(in: 0..<3, using: &random) == 0 {
                let victim = live.remove(at: Int.random(in: 0..<live.count, using: &random))
                #expect(heap.cancel(victim.id) == victim.order)
                model.removeAll { $0.order == victim.order }
            }
        }
        #expect(heap.count == model.count)
        let expected = model.sorted { ($0.deadline, $0.order) < ($1.deadline, $1.order) }
        var fired: [Int] = []
        for now in stride(from: 0, through: 1_000, by: 50) {
            fired += heap.popExpired(now: at(now))
        }
        #expect(fired == expected.map(\.order))
        #expect(heap.isEmpty)
    }

    @Test func removeAllReturnsEveryPendingTimerInOrder() {
        var heap = TimerHeap<Int>()
        for i in (0..<100).reversed() { heap.insert(deadline: at(i), i) }
        let cancelled = heap.insert(deadline: at(1), -1)
        heap.cancel(cancelled)
        #expect(heap.removeAll() == Array(0..<100))
        #expect(heap.isEmpty)
    }
}

/// The scheduler's thread fires timers, sleeps end at their deadline, on cancellation of the timer, of the task,
/// or at stop.
@Suite(.timeLimit(.minutes(1)))
struct MappingSchedulerTests {
    @Test func actionsRunInDeadlineOrder() async {
        let scheduler = MappingScheduler()
        defer { scheduler.stop() }
        let fired = Mutex<[Int]>([])
        let now = ContinuousClock.now
        for i in [3, 1, 2] {
            scheduler.schedule(at: now + .milliseconds(20 * i)) { fired.withLock { $0.append(i) } }
        }
        #expect(await eventually { fired.withLock { $0.count } == 3 })
        #expect(fired.withLock { $0 } == [1, 2, 3])
        #expect(scheduler.firedCount == 3)
    }

    @Test func aCancelledActionDoesNotRun() async throws {
        let scheduler = MappingScheduler()
        defer { scheduler.stop() }
        let fired = Mutex<[Int]>([])
        let now = ContinuousClock.now
        let cancelled = scheduler.schedule(at: now + .milliseconds(10)) { fired.withLock { $0.append(1) } }
        scheduler.schedule(at: now + .milliseconds(50)) { fired.withLock { $0.append(2) } }
        scheduler.cancel(cancelled)
        #expect(await eventually { fired.withLock { $0.count } == 1 })
        #expect(fired.withLock { $0 } == [2])
        #expect(scheduler.pendingCount == 0)
    }

    @Test func aSleepEndsAtItsDeadlineAndAnEarlierTimerAddedLaterStillFiresFirst() async {
        let scheduler = MappingScheduler()
        defer { scheduler.stop() }
        let order = Mutex<[String]>([])
        let start = ContinuousClock.now
        async let long: Void = {
            await scheduler.sleep(until: start + .milliseconds(300))
            order.withLock { $0.append("long") }
        }()
        // Added while the thread sleeps until the long deadline: the thread is woken to sleep less.
        try? await Task.sleep(for: .milliseconds(20))
        await scheduler.sleep(for: .milliseconds(10))
        order.withLock { $0.append("short") }
        await long
        #expect(ContinuousClock.now - start >= .milliseconds(300))
        #expect(order.withLock { $0 } == ["short", "long"])
    }

    @Test func aTimerAddedWhileTheThreadSleepsWithoutDeadlineWakesIt() async {
        // Without the wake-up, the second sleep would last the 10-minute idle re-check (past the time limit).
        let scheduler = MappingScheduler(idleRecheck: .seconds(600))
        defer { scheduler.stop() }
        await scheduler.sleep(for: .milliseconds(5))
        #expect(await eventually { scheduler.pendingCount == 0 })
        try? await Task.sleep(for: .milliseconds(50))  // the thread now sleeps with no timer
        await scheduler.sleep(for: .milliseconds(5))
        #expect(scheduler.firedCount == 2)
    }

    @Test func stopEndsEverySleepAndLaterSleepsReturnAtOnce() async {
        let scheduler = MappingScheduler()
        let start = ContinuousClock.now
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<100 {
                group.addTask { await scheduler.sleep(for: .seconds(600)) }
            }
            #expect(await eventually { scheduler.pendingCount == 100 })
            scheduler.stop()
        }
        await scheduler.sleep(for: .seconds(600))
        #expect(ContinuousClock.now - start < .seconds(30))
        #expect(scheduler.isStopped)
        #expect(scheduler.schedule(at: .now) {} == nil)
    }

    @Test func aDeadlineKeepsItsTimeAcrossStopAndCanBeAddedAfterIt() async {
        let scheduler = MappingScheduler()
        let fired = Mutex<[String]>([])
        let start = ContinuousClock.now
        scheduler.scheduleDeadline(at: start + .milliseconds(200)) { fired.withLock { $0.append("before") } }
        scheduler.schedule(at: start + .seconds(600)) { fired.withLock { $0.append("action") } }
        scheduler.stop()
        #expect(fired.withLock { $0 } == ["action"], "stop runs actions at once, not deadlines")
        scheduler.scheduleDeadline(at: .now + .milliseconds(50)) { fired.withLock { $0.append("after") } }
        #expect(await eventually { fired.withLock { $0.count } == 3 })
        #expect(fired.withLock { $0 } == ["action", "after", "before"])
        #expect(ContinuousClock.now - start >= .milliseconds(200))
    }

    @Test func theThreadEndsWhenIdleAndTheNextTimerStartsIt() async {
        let scheduler = MappingScheduler(idleRecheck: .milliseconds(20))
        defer { scheduler.stop() }
        await scheduler.sleep(for: .milliseconds(5))
        #expect(await eventually { !scheduler.isThreadRunning }, "no timer for an idle re-check: the thread ends")
        await scheduler.sleep(for: .milliseconds(5))
        let fired = Mutex(false)
        scheduler.schedule(at: .now + .milliseconds(5)) { fired.withLock { $0 = true } }
        #expect(await eventually { fired.withLock { $0 } })
        #expect(scheduler.firedCount == 3)
    }

    @Test func cancellingTheTaskEndsItsSleep() async {
        let scheduler = MappingScheduler()
        defer { scheduler.stop() }
        let start = ContinuousClock.now
        let task = Task { await scheduler.sleep(for: .seconds(600)) }
        #expect(await eventually { scheduler.pendingCount == 1 })
        task.cancel()
        await task.value
        #expect(ContinuousClock.now - start < .seconds(30))
        #expect(scheduler.pendingCount == 0)
    }

    @Test func aDoorbellWaitEndsOnARingOrAtItsTimeoutWithoutAStrayRing() async {
        let scheduler = MappingScheduler()
        defer { scheduler.stop() }
        let bell = Doorbell()
        // Timeout: the timer rings.
        await bell.wait(timeout: .milliseconds(10), scheduler: scheduler)
        // A ring before the wait ends the next wait at once, and only that one.
        bell.ring()
        await bell.wait(timeout: .seconds(600), scheduler: scheduler)
        #expect(scheduler.pendingCount == 0, "the wait's timer is cancelled when it ends early")
        async let waited: Void = bell.wait(timeout: .seconds(600), scheduler: scheduler)
        #expect(await eventually { scheduler.pendingCount == 1 })
        bell.ring()
        await waited
        #expect(scheduler.pendingCount == 0)
    }
}
