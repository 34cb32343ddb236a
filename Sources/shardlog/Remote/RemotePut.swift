import ArgumentParser
import Foundation
import ShardLog
import ShardLogIngest
import Synchronization

/// `shardlog put --endpoint-url`: standard input into a stream of any Kinesis endpoint through PutRecords.
///
/// Lines are scanned as for a local put (same line-numbered refusals, `--on-error`, summary). Accepted records are
/// sent in rounds of up to ``roundRecords``; within a round, each record goes to one of ``slotCount`` senders chosen
/// by a hash of its partition key, so all records of a key pass through one sender, which has one request in
/// flight at a time. A request holds at most 500 records and 5 MiB (keys and data) and at most one record per
/// partition key, so an entry that fails (throttled, `InternalFailure`) never lets a later record of its key be
/// stored before it: the failed entries stay at the head of their sender's queue and go out again, after
/// exponential back-off with full jitter, before anything behind them of the same key. Whole requests that fail
/// with throttling or server errors are retried the same way. Records of one key are therefore stored in input
/// order; input with few distinct keys sends few records per request.
struct RemotePut {
    /// Senders per round (requests in flight at once).
    static let slotCount = 4
    /// Records scanned before they are sent.
    static let roundRecords = 20_000
    /// PutRecords limits.
    static let maxBatchRecords = 500
    static let maxBatchBytes = 5 << 20
    /// Consecutive requests without progress before a sender gives up.
    static let maxAttemptsWithoutProgress = 20

    let client: RemoteClient
    let streamName: String
    let jsonl: Bool
    let keySource: RecordScanner.KeySource
    let stopOnError: Bool
    let json: Bool

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
        var scanner = RecordScanner(jsonl: jsonl, keySource: keySource, maxRecordByteCount: 1 << 20)
        var pending = RecordBuffer(records: 4096, keyBytes: 64 << 10, dataBytes: 2 << 20)
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
                        try await send(pending, tally: tally)
                        pending.removeAll(keepingCapacity: true)
                    }
                }
                try splitter.finish { line, range in try accept(line, range) }
            } catch let stop as Ingest.Stop {
                stopMessage = stop.message
                outcome = .stopped
            }
            try await send(pending, tally: tally)
        } catch {
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

    /// Sends every record of `buffer`, each partition key's records in order.
    func send(_ buffer: RecordBuffer, tally: Tally) async throws {
        guard !buffer.isEmpty else { return }
        var slots = [[Int]](repeating: [], count: Self.slotCount)
        for i in 0..<buffer.count {
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in buffer.keyBytes[buffer.keyRange(i)] { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
            slots[Int(hash % UInt64(Self.slotCount))].append(i)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for queue in slots where !queue.isEmpty {
                group.addTask { try await sendInOrder(buffer, queue, tally: tally) }
            }
            try await group.waitForAll()
        }
    }

    /// One sender: `queue` (indices into `buffer`) in order, one request at a time, failed entries first again.
    private func sendInOrder(_ buffer: RecordBuffer, _ queue: [Int], tally: Tally) async throws {
        var queue = queue
        var backoff = Backoff()
        var withoutProgress = 0
        while !queue.isEmpty {
            // Take records in queue order, skipping any whose key is already in the batch (they wait for the next).
            var keys = Set<ArraySlice<UInt8>>()
            var taken: [Int] = []  // positions in queue
            var bytes = 0
            for (position, i) in queue.enumerated() {
                if taken.count == Self.maxBatchRecords || position - (taken.last ?? 0) > 4 * Self.maxBatchRecords {
                    break
                }
                let key = buffer.keyBytes[buffer.keyRange(i)]
                let size = key.count + buffer.dataRange(i).count
                if bytes + size > Self.maxBatchBytes { break }
                guard keys.insert(key).inserted else { continue }
                taken.append(position)
                bytes += size
            }
            var body = Data("{\"StreamName\":\(jsonString(streamName)),\"Records\":[".utf8)
            for (n, position) in taken.enumerated() {
                let i = queue[position]
                if n > 0 { body.append(UInt8(ascii: ",")) }
                body.append(contentsOf: "{\"Data\":\"".utf8)
                body.append(Data(buffer.data(i)).base64EncodedData())
                body.append(contentsOf: "\",\"PartitionKey\":\(jsonString(buffer.partitionKey(i)))}".utf8)
            }
            body.append(contentsOf: "]}".utf8)
            let answer = try await client.call("PutRecords", body: body)
            guard let results = answer["Records"] as? [[String: Any]], results.count == taken.count else {
                throw CLIError("PutRecords answered \(taken.count) records with an unexpected body")
            }
            var stored = Set<Int>()
            var (storedBytes, shards) = (0, [Int: Int]())
            for (position, result) in zip(taken, results) where result["ErrorCode"] == nil {
                stored.insert(position)
                storedBytes += buffer.dataRange(queue[position]).count
                if let id = result["ShardId"] as? String, let n = Int(id.split(separator: "-").last ?? "") {
                    shards[n, default: 0] += 1
                }
            }
            tally.add(records: stored.count, bytes: storedBytes, shards: shards)
            if stored.count < taken.count {
                // Back off further only while nothing gets through; after partial progress, wait one short step.
                withoutProgress = stored.isEmpty ? withoutProgress + 1 : 0
                if withoutProgress == 0 { backoff.reset() }
                if withoutProgress >= Self.maxAttemptsWithoutProgress {
                    let failed = results.first { $0["ErrorCode"] != nil }
                    throw CLIError(
                        "\(taken.count - stored.count) records still failing after \(withoutProgress) attempts: "
                            + "\(failed?["ErrorCode"] ?? "?"): \(failed?["ErrorMessage"] ?? "")")
                }
                try await backoff.wait()
            } else {
                withoutProgress = 0
                backoff.reset()
            }
            queue = queue.enumerated().filter { !stored.contains($0.offset) }.map(\.element)
        }
    }
}
