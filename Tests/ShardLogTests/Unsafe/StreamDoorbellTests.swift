import Foundation
import ShardLog
import ShardLogTestSupport
import Testing

/// The stream doorbell: appenders in another process wake a waiting reader long before the safety net; a reshard
/// or a deletion wakes every waiter; nothing wakes an idle waiter except its timeout.
@Suite(.timeLimit(.minutes(1)))
struct StreamDoorbellTests {
    /// Far longer than any wake-up: a wait that returns well before it was woken by a ring.
    static let safetyNet = Duration.seconds(10)

    @Test func aPutInAnotherProcessWakesAReaderWaitingInThisOne() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            try store.createStream(named: "s", shardCount: 1)
            let stream = try store.stream(named: "s")
            let doorbell = stream.doorbell
            try #require(doorbell.isWaking, "futex doorbell unavailable on this platform")
            let iterator = try stream.iterator(shardId: "shardId-000000000000", position: .latest)
            let ticket = iterator.doorbellTicket()
            #expect(try !iterator.hasMore())
            let started = ContinuousClock.now
            async let waited: Duration = {
                await iterator.waitForData(after: ticket, timeout: Self.safetyNet)
                return ContinuousClock.now - started
            }()
            let put = try await runShardlog(["--data-dir", dir, "put", "s"], input: Data("hello\n".utf8))
            #expect(put.status == 0, "\(put.stderr)")
            let putDone = ContinuousClock.now - started
            let elapsed = await waited
            // Woken by the other process's ring (the slot moved), not by the timeout.
            #expect(doorbell.isRung(ticket))
            #expect(try iterator.hasMore())
            #expect(elapsed < Self.safetyNet / 2, "woke after \(elapsed)")
            // Not later than a generous bound after the writer finished.
            #expect(elapsed < putDone + .milliseconds(500), "woke after \(elapsed), put finished after \(putDone)")
        }
    }

    /// A notification instead of a waiting task: called once on a ring, never after it was cancelled, and not
    /// registered when the ticket was rung already.
    @Test func aNotificationIsCalledOnARingAndNotAfterItsCancellation() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            try store.createStream(named: "s", shardCount: 2)
            let stream = try store.stream(named: "s")
            let doorbell = stream.doorbell
            try #require(doorbell.isWaking, "futex doorbell unavailable on this platform")
            let calls = DataBox()
            let ticket = doorbell.ticket(shardIndex: 0)
            let id = try #require(doorbell.notify(after: ticket, timeout: Self.safetyNet) { calls.append(Data([1])) })
            // Another shard's ring does not call it.
            doorbell.ring(shardIndex: 1)
            try await Task.sleep(for: .milliseconds(100))
            #expect(calls.data.isEmpty)
            doorbell.ring(shardIndex: 0)
            let deadline = ContinuousClock.now + .seconds(5)
            while calls.data.isEmpty && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
            #expect(calls.data.count == 1)
            doorbell.cancelNotification(id)  // after it ran: nothing
            #expect(doorbell.notify(after: ticket, timeout: Self.safetyNet) { calls.append(Data([2])) } == nil)
            let fresh = doorbell.ticket(shardIndex: 0)
            let cancelled = try #require(
                doorbell.notify(after: fresh, timeout: Self.safetyNet) { calls.append(Data([3])) })
            doorbell.cancelNotification(cancelled)
            doorbell.ring(shardIndex: 0)
            try await Task.sleep(for: .milliseconds(100))
            #expect(calls.data == Data([1]))
        }
    }

    @Test func getFollowInAnotherProcessPrintsARecordPutByAThird() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            try store.createStream(named: "s", shardCount: 4)
            // `get --follow --limit 1` exits once it printed the record; its own polling fallback would take the
            // 1 s safety net per shard scan, the doorbell wakes it at once.
            async let follow = runShardlog(
                ["--data-dir", dir, "get", "s", "--from", "latest", "--follow", "--limit", "1"], timeout: .seconds(30))
            try await Task.sleep(for: .milliseconds(700))
            let put = try await runShardlog(["--data-dir", dir, "put", "s"], input: Data("ping\n".utf8))
            #expect(put.status == 0, "\(put.stderr)")
            let result = try await follow
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains(Data("ping".utf8).base64EncodedString()))
        }
    }

    @Test func reshardingAndDeletingWakeWaiters() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            try store.createStream(named: "s", shardCount: 1)
            let stream = try store.stream(named: "s")
            try #require(stream.doorbell.isWaking, "futex doorbell unavailable on this platform")
            let iterator = try stream.iterator(shardId: "shardId-000000000000", position: .latest)

            let ticket = iterator.doorbellTicket()
            let started = ContinuousClock.now
            async let resharded: Duration = {
                await iterator.waitForData(after: ticket, timeout: Self.safetyNet)
                return ContinuousClock.now - started
            }()
            try await Task.sleep(for: .milliseconds(100))
            try stream.updateShardCount(target: 2)
            let afterReshard = await resharded
            #expect(afterReshard < Self.safetyNet / 2, "woke after \(afterReshard)")
            #expect(try iterator.isAtShardEnd())

            let streamTicket = stream.doorbell.streamTicket()
            let doorbell = stream.doorbell
            let deleting = ContinuousClock.now
            async let deleted: Duration = {
                await doorbell.wait(for: streamTicket, timeout: Self.safetyNet)
                return ContinuousClock.now - deleting
            }()
            try await Task.sleep(for: .milliseconds(100))
            try store.deleteStream(named: "s")
            let afterDelete = await deleted
            #expect(afterDelete < Self.safetyNet / 2, "woke after \(afterDelete)")
            #expect(doorbell.isRung(streamTicket))
        }
    }

    /// A reader that waits again after each record (`get --follow`) reuses the stream's waiting thread: it stays a
    /// while after its last waiter instead of a thread start and exit per record.
    @Test func consecutiveWaitsShareOneWaitingThread() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            try store.createStream(named: "s", shardCount: 1)
            let doorbell = try store.stream(named: "s").doorbell
            try #require(doorbell.isWaking, "futex doorbell unavailable on this platform")
            let starts = doorbell.threadStartCount
            for _ in 0..<30 {
                let ticket = doorbell.ticket(shardIndex: 0)
                await withCheckedContinuation { (woken: CheckedContinuation<Void, Never>) in
                    // Registered before `notify` returns, so the ring below is the one that calls it.
                    let id = doorbell.notify(after: ticket, timeout: Self.safetyNet) { woken.resume() }
                    #expect(id != nil)
                    doorbell.ring(shardIndex: 0)
                }
                // Longer than the waiting thread takes to find it has no waiter left.
                try await Task.sleep(for: .milliseconds(5))
            }
            #expect(doorbell.threadStartCount - starts <= 2, "\(doorbell.threadStartCount - starts) thread starts")
        }
    }

    @Test func anIdleWaiterSleepsUntilItsTimeout() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            try store.createStream(named: "s", shardCount: 2)
            let stream = try store.stream(named: "s")
            try #require(stream.doorbell.isWaking, "futex doorbell unavailable on this platform")
            let iterator = try stream.iterator(shardId: "shardId-000000000000", position: .latest)
            let other = try stream.iterator(shardId: "shardId-000000000001", position: .latest)
            let ticket = iterator.doorbellTicket()
            let wakeUps = stream.doorbell.wakeUpCount
            let started = ContinuousClock.now
            // An append to another shard wakes the stream's thread, but not this shard's waiter.
            async let waited: Duration = {
                await iterator.waitForData(after: ticket, timeout: .milliseconds(600))
                return ContinuousClock.now - started
            }()
            try await Task.sleep(for: .milliseconds(100))
            // The upper half of the hash key space is shard 1's.
            let results = try stream.putRecords([
                PutRecordsEntry(partitionKey: "x", data: Array("a".utf8), explicitHashKey: UInt128.max)
            ])
            #expect(results.first?.shardId == "shardId-000000000001")
            #expect(try other.hasMore())
            let elapsed = await waited
            #expect(elapsed >= .milliseconds(550), "returned after \(elapsed)")
            #expect(!stream.doorbell.isRung(ticket))
            // A handful of futex sleeps, not one per millisecond.
            #expect(stream.doorbell.wakeUpCount - wakeUps < 20)
        }
    }
}
