import ShardLog

/// A first-in-first-out queue backed by an array and a head index; O(1) amortised push and pop.
struct FIFO<Element> {
    private var items: [Element] = []
    private var head = 0

    /// Whether the queue is empty.
    var isEmpty: Bool { head == items.count }
    /// The number of queued elements.
    var count: Int { items.count - head }
    /// The oldest element.
    var first: Element? { isEmpty ? nil : items[head] }

    /// Appends an element.
    mutating func append(_ element: Element) {
        items.append(element)
    }

    /// Removes and returns the oldest element.
    @discardableResult
    mutating func removeFirst() -> Element? {
        guard !isEmpty else { return nil }
        let element = items[head]
        head += 1
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 1024 && head * 2 >= items.count {
            items.removeFirst(head)
            head = 0
        }
        return element
    }

    /// The element `index` positions after the oldest.
    subscript(offset index: Int) -> Element { items[head + index] }
}

/// A record waiting in a lane, with the size it adds to an event and when the reader got it.
struct PendingRecord {
    var record: Record
    /// The bytes this record takes in the event's `Records` array.
    var eventByteCount: Int
    /// When the shard reader read it (starts the batching window).
    var readAt: ContinuousClock.Instant
}

/// One lane of a shard: the records routed to it (by partition key) that wait for a batch, and the offsets not yet
/// fully handled (waiting or in flight), in order. A lane runs one batch at a time, so its records stay in order.
///
/// Batches close on `BatchSize` records, on the 6 MB synchronous payload cap, when the batching window has passed
/// since the oldest waiting record was read, at once when the window is 0, or when the shard has ended.
struct LaneBuffer {
    /// Lambda's synchronous invocation payload limit (6 MB).
    static let maximumPayloadByteCount = 6 * 1024 * 1024
    /// `{"Records":[]}`.
    static let envelopeByteCount = 14

    private(set) var waiting = FIFO<PendingRecord>()
    /// Bytes of the waiting records' event elements.
    private(set) var waitingByteCount = 0
    /// Offsets read into this lane and not yet handled (waiting or in flight), ascending.
    private(set) var outstanding = FIFO<UInt64>()
    /// Whether a batch of this lane is being run.
    var isBusy = false

    /// Adds a record read from the shard.
    mutating func append(_ pending: PendingRecord) {
        waiting.append(pending)
        waitingByteCount += pending.eventByteCount
        outstanding.append(pending.record.sequence.offset)
    }

    /// Marks every outstanding offset up to and including `offset` as handled.
    mutating func handled(through offset: UInt64) {
        while let first = outstanding.first, first <= offset {
            outstanding.removeFirst()
        }
    }

    /// When the batching window of the waiting records ends.
    func windowDeadline(window: Duration) -> ContinuousClock.Instant? {
        waiting.first.map { $0.readAt.advanced(by: window) }
    }

    /// Whether a batch should be invoked now.
    /// - Parameters:
    ///   - batchSize: `BatchSize`.
    ///   - window: `MaximumBatchingWindowInSeconds`.
    ///   - now: the current instant.
    ///   - drained: whether no more records can come (the shard ended).
    func isReady(batchSize: Int, window: Duration, now: ContinuousClock.Instant, drained: Bool) -> Bool {
        guard !isBusy, let first = waiting.first else { return false }
        if waiting.count >= batchSize || window == .zero || drained { return true }
        if Self.envelopeByteCount + waitingByteCount + waiting.count - 1 >= Self.maximumPayloadByteCount {
            return true
        }
        return now >= first.readAt.advanced(by: window)
    }

    /// Removes the next batch: up to `batchSize` records whose event fits in 6 MB (at least one record).
    mutating func takeBatch(batchSize: Int) -> [Record] {
        var batch: [Record] = []
        var bytes = Self.envelopeByteCount
        while batch.count < batchSize, let next = waiting.first {
            let added = next.eventByteCount + (batch.isEmpty ? 0 : 1)
            if !batch.isEmpty && bytes + added > Self.maximumPayloadByteCount { break }
            bytes += added
            batch.append(next.record)
            waitingByteCount -= next.eventByteCount
            waiting.removeFirst()
        }
        return batch
    }
}

/// Routes partition keys to lanes with a stable hash (FNV-1a), so a key always lands in the same lane.
enum LaneRouter {
    /// The lane of `partitionKey` among `laneCount` lanes.
    static func lane(of partitionKey: String, laneCount: Int) -> Int {
        guard laneCount > 1 else { return 0 }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in partitionKey.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        return Int(hash % UInt64(laneCount))
    }
}
