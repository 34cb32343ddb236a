import ArgumentParser
import Foundation
import ShardLog
import ShardLogClient
import ShardLogIngest
import ShardLogWire
import Synchronization

/// `shardlog put --endpoint-url`: standard input into a stream of any Kinesis endpoint through PutRecords.
///
/// Lines are scanned as for a local put (same line-numbered refusals, `--on-error`, summary). Accepted records are
/// sent in rounds of up to ``roundRecords``, one round while the next is read and scanned, a round only after the
/// one before it is stored; within a round, each record goes to one of ``slotCount`` senders chosen
/// by a hash of its partition key, so all records of a key pass through one sender, which has one request in
/// flight at a time. A request holds at most 500 records and 5 MiB (keys and data) and at most one record per
/// partition key, so an entry that fails (throttled, `InternalFailure`) never lets a later record of its key be
/// stored before it: the failed entries stay at the head of their sender's queue and go out again, after
/// exponential back-off with full jitter, before anything behind them of the same key. Whole requests that fail
/// with throttling or server errors are retried the same way. Records of one key are therefore stored in input
/// order; input with few distinct keys sends few records per request.
struct RemotePut {
    /// Senders per round (requests in flight at once).
    static let slotCount = 8
    /// Records scanned before they are sent (one round is sent while the next is scanned).
    static let roundRecords = 40_000
    /// PutRecords limits.
    static let maxBatchRecords = 500
    static let maxBatchBytes = 5 << 20
    /// Consecutive requests without progress before a sender gives up.
    static let maxAttemptsWithoutProgress = 20

    let client: KinesisClient
    let streamName: String
    let jsonl: Bool
    let keySource: RecordScanner.KeySource
    let stopOnError: Bool
    let json: Bool
    /// Pack records into KPL aggregated records (``AggregatedEntries/init(packing:shards:maxRecordByteCount:)``).
    var aggregate = false

    /// Counts of stored records, shared by the senders.
    final class Tally: Sendable {
        let totals = Mutex(IngestLedger.Totals())

        func add(records: Int, bytes: Int, shards: [Int: Int]) {
            totals.withLock { t in
                t.records += records
                t.bytes += bytes
                for (shard, n) in shards { t.perShard[shard, default: 0] += n }
            }
        }
    }

    /// Reads standard input to its end (or the first refused line with `--on-error stop`), sends it, and prints the
    /// summary. Throws `ExitCode(1)` when a line was refused or sending failed.
    func run() async throws {
        let tally = Tally()
        var router = ShardRouter(starts: [])
        if aggregate {
            do {
                router = try await ShardRouter(client, streamName: streamName)
            } catch {
                printError("error: \(error) (DescribeStream of \(streamName) at \(client.endpoint.absoluteString))")
                throw ExitCode(1)
            }
        }
        let shards = router
        // One round is sent while the next is read and scanned.
        var inFlight: Task<Void, any Error>?
        func send(_ round: RecordBuffer) async throws {
            try await inFlight?.value
            inFlight = nil
            guard !round.isEmpty else { return }
            inFlight = Task { [self] in
                if aggregate {
                    try await self.send(AggregatedEntries(packing: round, shards: shards), tally: tally)
                } else {
                    try await self.send(round, tally: tally)
                }
            }
        }
        func newRound() -> RecordBuffer {
            RecordBuffer(records: Self.roundRecords + 1024, keyBytes: 1 << 20, dataBytes: 4 << 20)
        }
        var scanner = RecordScanner(jsonl: jsonl, keySource: keySource, maxRecordByteCount: 1 << 20)
        var pending = newRound()
        var lineNumber = 0
        var rejected = 0
        var accepted = 0
        var stopMessage: String?
        var outcome = PutSummary.Outcome.complete
        func accept(_ line: [UInt8], _ range: Range<Int>) throws(Ingest.Stop) {
            lineNumber += 1
            guard let refusal = scanner.scan(line, range, into: &pending) else {
                accepted += 1
                return
            }
            rejected += 1
            let message = "line \(lineNumber): \(refusal)"
            if stopOnError { throw Ingest.Stop(message: message) }
            printError("skipped \(message)")
        }
        do {
            do {
                let input = InputReader()
                var splitter = LineSplitter()
                while true {
                    let chunk = try input.next()
                    if chunk.isEmpty { break }
                    try splitter.feed(chunk) { line, range in try accept(line, range) }
                    if pending.count >= Self.roundRecords {
                        try await send(pending)
                        pending = newRound()
                    }
                }
                try splitter.finish { line, range in try accept(line, range) }
            } catch let stop as Ingest.Stop {
                stopMessage = stop.message
                outcome = .stopped
            }
            try await send(pending)
            try await inFlight?.value
        } catch {
            inFlight?.cancel()
            outcome = .failed
            printError("error: \(error) (PutRecords into \(streamName) at \(client.endpoint.absoluteString))")
        }
        if let stopMessage {
            let stored = tally.totals.withLock { $0.records }
            printError("error: \(stopMessage) (stopped; \(stored) earlier records are stored)")
        }
        var totals = tally.totals.withLock { $0 }
        totals.rejected = rejected
        Ingest.report(totals, json: json, streamName: streamName, outcome: outcome)
        if rejected > 0 || outcome != .complete { throw ExitCode(1) }
    }

    /// Sends every entry of `buffer`, the entries of each order key (a partition key; a shard for aggregates) in
    /// order.
    func send(_ buffer: some PutEntries, tally: Tally) async throws {
        guard buffer.count > 0 else { return }
        var hashes = [UInt64](repeating: 0, count: buffer.count)
        var slots = [[Int]](repeating: [], count: Self.slotCount)
        for i in 0..<buffer.count {
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in buffer.orderKey(i) { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
            hashes[i] = hash
            slots[Int(hash % UInt64(Self.slotCount))].append(i)
        }
        let keyHashes = hashes
        try await withThrowingTaskGroup(of: Void.self) { group in
            for queue in slots where !queue.isEmpty {
                group.addTask { try await sendInOrder(buffer, queue, hashes: keyHashes, tally: tally) }
            }
            try await group.waitForAll()
        }
    }

    /// One sender: `queue` (indices into `buffer`) in order, one request at a time, failed entries first again.
    /// `hashes` are the entries' order-key hashes: a request takes at most one entry per hash, so never two of one key
    /// (two keys of one hash only wait for the next request).
    private func sendInOrder(_ buffer: some PutEntries, _ queue: [Int], hashes: [UInt64], tally: Tally) async throws {
        var queue = queue
        var backoff = Backoff()
        var withoutProgress = 0
        var prefix = Array("{\"StreamName\":".utf8)
        prefix.appendJSONString(streamName)
        prefix.append(contentsOf: ",\"Records\":[".utf8)
        var body: [UInt8] = []
        var keys = Set<UInt64>(minimumCapacity: 2 * Self.maxBatchRecords)
        var taken: [Int] = []  // positions in queue
        while !queue.isEmpty {
            // Take records in queue order, skipping any whose key is already in the batch (they wait for the next).
            keys.removeAll(keepingCapacity: true)
            taken.removeAll(keepingCapacity: true)
            var bytes = 0
            for position in queue.indices {
                if taken.count == Self.maxBatchRecords || position - (taken.last ?? 0) > 4 * Self.maxBatchRecords {
                    break
                }
                let i = queue[position]
                let size = buffer.byteCount(i)
                if bytes + size > Self.maxBatchBytes { break }
                guard keys.insert(hashes[i]).inserted else { continue }
                taken.append(position)
                bytes += size
            }
            body.removeAll(keepingCapacity: true)
            body.append(contentsOf: prefix)
            for (n, position) in taken.enumerated() {
                if n > 0 { body.append(UInt8(ascii: ",")) }
                buffer.appendEntry(queue[position], to: &body)
            }
            body.append(contentsOf: "]}".utf8)
            let answer = try PutRecordsAnswer(try await client.callBytes("PutRecords", body: body))
            guard answer.entries.count == taken.count else {
                throw CLIError(
                    "PutRecords answered \(taken.count) records with \(answer.entries.count) results")
            }
            var failed = 0
            var (storedRecords, storedBytes, shards) = (0, 0, [Int: Int]())
            for (position, result) in zip(taken, answer.entries) {
                if result.errorCode != nil {
                    failed += 1
                    continue
                }
                let records = buffer.userRecordCount(queue[position])
                storedRecords += records
                storedBytes += buffer.userByteCount(queue[position])
                if let shard = result.shard { shards[shard, default: 0] += records }
            }
            tally.add(records: storedRecords, bytes: storedBytes, shards: shards)
            if failed > 0 {
                // Back off further only while nothing gets through; after partial progress, wait one short step.
                withoutProgress = failed == taken.count ? withoutProgress + 1 : 0
                if withoutProgress == 0 { backoff.reset() }
                if withoutProgress >= Self.maxAttemptsWithoutProgress {
                    let first = answer.entries.first { $0.errorCode != nil }
                    throw CLIError(
                        "\(failed) records still failing after \(withoutProgress) attempts: "
                            + "\(first?.errorCode ?? "?"): \(first?.errorMessage ?? "")")
                }
                try await backoff.wait()
            } else {
                withoutProgress = 0
                backoff.reset()
            }
            // Keep what was not taken and what failed, in queue order.
            var remaining: [Int] = []
            remaining.reserveCapacity(queue.count - taken.count + failed)
            var next = 0  // index into taken
            for (position, i) in queue.enumerated() {
                if next < taken.count && taken[next] == position {
                    if answer.entries[next].errorCode != nil { remaining.append(i) }
                    next += 1
                } else {
                    remaining.append(i)
                }
            }
            queue = remaining
        }
    }
}

/// The entries of PutRecords requests a sender takes in order. A request holds at most one entry per order key, so
/// a failed entry is retried before any later entry of its key is sent.
protocol PutEntries: Sendable {
    /// Entries.
    var count: Int { get }
    /// The key whose entries must be stored in order: the partition key, or the shard of an aggregated record.
    func orderKey(_ i: Int) -> ArraySlice<UInt8>
    /// The bytes the entry counts toward the 5 MiB limit of a request (partition key and data).
    func byteCount(_ i: Int) -> Int
    /// Appends the entry's JSON object (`{"Data":…,"PartitionKey":…}`).
    func appendEntry(_ i: Int, to body: inout [UInt8])
    /// The user records the entry stores.
    func userRecordCount(_ i: Int) -> Int
    /// The user data bytes the entry stores.
    func userByteCount(_ i: Int) -> Int
}

extension RecordBuffer: PutEntries {
    func orderKey(_ i: Int) -> ArraySlice<UInt8> { keyBytes[keyRange(i)] }
    func byteCount(_ i: Int) -> Int { keyRange(i).count + dataRange(i).count }
    func appendEntry(_ i: Int, to body: inout [UInt8]) {
        body.append(contentsOf: "{\"Data\":\"".utf8)
        body.appendBase64(of: dataBytes, in: dataRange(i))
        body.append(contentsOf: "\",\"PartitionKey\":\"".utf8)
        body.appendJSONStringContents(of: keyBytes, in: keyRange(i))
        body.append(contentsOf: "\"}".utf8)
    }
    func userRecordCount(_ i: Int) -> Int { 1 }
    func userByteCount(_ i: Int) -> Int { dataRange(i).count }
}
