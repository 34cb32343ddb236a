import ShardLog
import Testing

@testable import ShardLogMapping

/// The batches a shard reader hands to a lane's running task: in order, a few deep for small batches, and a task
/// that ended takes nothing more.
@Suite struct LaneMailboxTests {
    static func batch(_ offset: UInt64) -> [Record] {
        [
            Record(
                sequence: SequenceNumber(shardIndex: 0, offset: offset), partitionKey: "k", data: [1],
                arrivalMilliseconds: 1_700_000_000_000)
        ]
    }

    @Test func smallBatchesQueueFourDeepAndComeOutInOrder() throws {
        let mailbox = LaneMailbox(batchSize: 100)
        #expect(mailbox.depth == 4)
        #expect(LaneMailbox(batchSize: 10).depth == 8)
        mailbox.started()
        for offset in 0..<4 { #expect(mailbox.offer(Self.batch(UInt64(offset)))) }
        #expect(!mailbox.hasRoom)
        #expect(!mailbox.offer(Self.batch(4)))
        var taken: [UInt64] = []
        var wantsMore: [Bool] = []
        while let next = mailbox.finished(stopping: false) {
            taken.append(try #require(next.batch.first).sequence.offset)
            wantsMore.append(next.wantsMore)
        }
        #expect(taken == [0, 1, 2, 3])
        // The reader is woken once the mailbox is half empty, not after every batch.
        #expect(wantsMore == [false, true, true, true])
    }

    @Test func largeBatchesWaitOneAtATime() {
        let mailbox = LaneMailbox(batchSize: 1000)
        #expect(mailbox.depth == 1)
        mailbox.started()
        #expect(mailbox.offer(Self.batch(0)))
        #expect(!mailbox.offer(Self.batch(1)))
    }

    @Test func aTaskThatEndedTakesNothingAndTheNextTaskDoes() {
        let mailbox = LaneMailbox(batchSize: 10)
        mailbox.started()
        #expect(mailbox.finished(stopping: false) == nil)
        // The reader finds the task gone and starts a new one, which must be able to take handed-over batches.
        #expect(!mailbox.offer(Self.batch(0)))
        mailbox.started()
        #expect(mailbox.offer(Self.batch(1)))
        #expect(mailbox.finished(stopping: false)?.batch.first?.sequence.offset == 1)
    }

    @Test func stoppingDropsTheWaitingBatches() {
        let mailbox = LaneMailbox(batchSize: 10)
        mailbox.started()
        #expect(mailbox.offer(Self.batch(0)))
        #expect(mailbox.finished(stopping: true) == nil)
        #expect(mailbox.isEmpty)
        #expect(!mailbox.offer(Self.batch(1)))
    }
}
