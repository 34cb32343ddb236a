import Foundation
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
        advanceHead(by: 1)
        return element
    }

    /// Drops the `n` oldest elements, reclaiming the storage of dropped ones when the queue empties or they make up
    /// half of it.
    private mutating func advanceHead(by n: Int) {
        head += n
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 1024 && head * 2 >= items.count {
            items.removeFirst(head)
            head = 0
        }
    }

    /// The element `index` positions after the oldest.
    subscript(offset index: Int) -> Element { items[head + index] }

    /// How many of the oldest elements, at most `maximum`, `accept` takes: it sees them oldest first (borrowed, not
    /// copied) until it refuses one.
    func prefixCount(maximum: Int, _ accept: (Element) -> Bool) -> Int {
        let limit = Swift.min(maximum, count)
        var n = 0
        while n < limit, accept(items[head + n]) { n += 1 }
        return n
    }

    /// Removes the `n` oldest elements (at most ``count``) and returns what `transform` makes of each, oldest first.
    mutating func removeFirst<T>(_ n: Int, transform: (Element) -> T) -> [T] {
        let n = Swift.min(n, count)
        let taken = items[head..<(head + n)].map(transform)
        advanceHead(by: n)
        return taken
    }
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
    /// How many tasks the reader started for this lane (tells a stale `done` from the current task's).
    var run = 0
    /// The batches handed to the lane's running task, to start when its batch ends.
    let mailbox: LaneMailbox
    /// The tumbling window being invoked (with `TumblingWindowInSeconds`), `nil` between windows.
    var openWindow: OpenWindow?
    /// Whether the running batch is the final invocation of ``openWindow``.
    var isRunningFinalWindowBatch = false

    /// An empty lane of a mapping with `BatchSize` `batchSize` (it sizes the mailbox).
    init(batchSize: Int = 1) {
        mailbox = LaneMailbox(batchSize: batchSize)
    }

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

    /// Whether the waiting records fill a batch (`batchSize` records or the 6 MB cap): a batch taken now holds the
    /// same records as one taken later.
    func hasFullBatch(batchSize: Int) -> Bool {
        waiting.count >= batchSize
            || Self.envelopeByteCount + waitingByteCount + waiting.count - 1 >= Self.maximumPayloadByteCount
    }

    /// Removes the next batch: up to `batchSize` records whose event fits in 6 MB (at least one record).
    mutating func takeBatch(batchSize: Int) -> [Record] {
        // Sized in place, then taken at once: each record is copied once, into the batch.
        var bytes = Self.envelopeByteCount
        var taken = 0
        let count = waiting.prefixCount(maximum: batchSize) { next in
            let added = next.eventByteCount + (taken == 0 ? 0 : 1)
            if taken > 0 && bytes + added > Self.maximumPayloadByteCount { return false }
            bytes += added
            taken += 1
            return true
        }
        waitingByteCount -= bytes - Self.envelopeByteCount - max(0, count - 1)
        return waiting.removeFirst(count) { $0.record }
    }
}

/// Routes partition keys to lanes with a stable hash (FNV-1a), so a key always lands in the same lane.
///
/// A lane runs one batch at a time, so with a backlog a shard's rate is bounded by its busiest lane: if a lane gets
/// a share `s` of the shard's records, the shard delivers at most `1 / (ParallelizationFactor × s)` of
/// `ParallelizationFactor` busy lanes. Public so that a producer (or a benchmark) can see where its keys land.
public enum LaneRouter {
    /// The lane of `partitionKey` among `laneCount` lanes (0 when `laneCount` is 1 or less).
    public static func lane(of partitionKey: String, laneCount: Int) -> Int {
        guard laneCount > 1 else { return 0 }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in partitionKey.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        return Int(hash % UInt64(laneCount))
    }
}

/// A lane's current tumbling window: its bounds (arrival time, milliseconds since 1970, aligned on the window
/// width) and the state the last successful invocation of the window returned.
struct OpenWindow: Equatable {
    /// The window's start (inclusive).
    var startMilliseconds: Int64
    /// The window's end (exclusive).
    var endMilliseconds: Int64
    /// The state so far (JSON object text; empty for `{}`).
    var state: [UInt8] = []
    /// The state grew past 1 MB, so the window ends before its time.
    var isTerminatedEarly = false
}

extension LaneBuffer {
    /// The largest window state Lambda carries (1 MB); a larger one ends the window early.
    static let maximumWindowStateByteCount = 1024 * 1024
    /// How long after a window's end the reader waits for records that arrived just before it.
    static let windowEndGraceMilliseconds: Int64 = 20

    /// The start of the tumbling window of an arrival time: `floor(arrival / width) * width`.
    static func windowStart(arrivalMilliseconds: Int64, widthMilliseconds: Int64) -> Int64 {
        let remainder = arrivalMilliseconds % widthMilliseconds
        return arrivalMilliseconds - (remainder < 0 ? remainder + widthMilliseconds : remainder)
    }

    /// Removes the next batch of the lane's tumbling window, or returns `nil` when none is due.
    ///
    /// Opens a window for the oldest waiting record if none is open. A batch holds records of the open window
    /// only. The window has ended when a record of another window was read, its end (plus a short grace) has
    /// passed, the shard was drained (closed by a reshard), or its state passed 1 MB; the batch that then takes the
    /// window's last waiting records, or an empty batch if none wait, is the final one. Before the end, batches
    /// close as in ``isReady(batchSize:window:now:drained:)``.
    /// - Parameters:
    ///   - batchSize: `BatchSize`.
    ///   - batchingWindow: `MaximumBatchingWindowInSeconds`.
    ///   - widthMilliseconds: `TumblingWindowInSeconds` in milliseconds.
    ///   - now: The current instant (for the batching window).
    ///   - nowMilliseconds: The current wall-clock time (for the tumbling window's end).
    ///   - drained: Whether no more records can come (the shard ended).
    /// - Returns: The records (possibly none, for a final invocation) and the window fields to invoke them with.
    mutating func takeWindowBatch(
        batchSize: Int, batchingWindow: Duration, widthMilliseconds: Int64, now: ContinuousClock.Instant,
        nowMilliseconds: Int64, drained: Bool
    ) -> (records: [Record], window: TumblingWindow)? {
        guard !isBusy else { return nil }
        func start(of pending: PendingRecord) -> Int64 {
            Self.windowStart(
                arrivalMilliseconds: pending.record.arrivalMilliseconds, widthMilliseconds: widthMilliseconds)
        }
        if openWindow == nil, let first = waiting.first {
            let windowStart = start(of: first)
            openWindow = OpenWindow(startMilliseconds: windowStart, endMilliseconds: windowStart + widthMilliseconds)
        }
        guard let open = openWindow else { return nil }
        var inWindow = 0
        while inWindow < waiting.count, start(of: waiting[offset: inWindow]) == open.startMilliseconds {
            inWindow += 1
        }
        let ended =
            inWindow < waiting.count || drained || open.isTerminatedEarly
            || nowMilliseconds >= open.endMilliseconds + Self.windowEndGraceMilliseconds
        if !ended && !isReady(batchSize: batchSize, window: batchingWindow, now: now, drained: false) {
            return nil
        }
        let records = takeBatch(batchSize: min(batchSize, inWindow))
        let isFinal = ended && records.count == inWindow
        isRunningFinalWindowBatch = isFinal
        let window = TumblingWindow(
            start: Date(timeIntervalSince1970: Double(open.startMilliseconds) / 1000),
            end: Date(timeIntervalSince1970: Double(open.endMilliseconds) / 1000),
            state: open.state,
            isFinalInvokeForWindow: isFinal,
            isWindowTerminatedEarly: isFinal
                && (open.isTerminatedEarly || (drained && nowMilliseconds < open.endMilliseconds)))
        return (records, window)
    }

    /// Records the end of a window batch: closes the window after its final batch, else keeps the returned state.
    /// - Parameter state: The window state after the batch.
    mutating func windowBatchDone(state: [UInt8]?) {
        if isRunningFinalWindowBatch {
            openWindow = nil
            isRunningFinalWindowBatch = false
            return
        }
        guard let state, openWindow != nil else { return }
        openWindow?.state = state
        if state.count > Self.maximumWindowStateByteCount {
            openWindow?.isTerminatedEarly = true
        }
    }
}
