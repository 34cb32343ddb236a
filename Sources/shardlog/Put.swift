import ArgumentParser
import Foundation
import ShardLog
import ShardLogIngest
import Synchronization

struct Put: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Append standard input to a stream, one record per line.",
        discussion: """
            Lines are batched internally. A rejected line (malformed JSON, a missing or non-string key field, a \
            record over the stream's maximum record size: 1 MiB unless raised by UpdateMaxRecordSize, up to \
            10 MiB) is reported with its line number; with --on-error stop (the default) ingest stops \
            there, with skip it goes on. Everything accepted before an error stays stored. The summary counts the \
            records stored; when the store fails (disk full, a damaged shard) it is printed too, and the exit status \
            is 1, as it is if any line was rejected. Ctrl-C stops reading, lets the append in flight finish, prints \
            the summary and exits with 130.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case lines, jsonl }
    enum OnError: String, ExpressibleByArgument, CaseIterable { case stop, skip }

    @OptionGroup var global: GlobalOptions
    @Argument var name: String
    @Option(
        help: """
            Dotted path of the partition key in each JSON line (implies --format jsonl). The value must be a JSON \
            string (1 to 256 characters of valid Unicode) or a number, which is used as its text (42.0 stays \
            "42.0"); an object, array, boolean, null or a missing field rejects the line.
            """)
    var keyField: String?
    @Option(help: "One partition key for every record.") var key: String?
    @Option(help: "lines: each line is the data; jsonl: each line must be one JSON value.") var format: Format?
    @Option(help: "none | interval | always.") var durability: String = "none"
    @Option(help: "stop | skip: what to do with a rejected line.") var onError: OnError = .stop
    @Flag(help: "Print the summary as JSON on standard output.") var json = false
    @OptionGroup(title: "Kinesis endpoint (PutRecords; failed entries are retried, each key's records in order)")
    var remote: RemoteOptions
    @Flag(
        help: """
            Pack records into KPL aggregated records (up to the record limit each, per shard, partition key "a" \
            and the first record's hash key, as the Kinesis Producer Library does), into the data directory or \
            with --endpoint-url; consumers de-aggregate them (map --deaggregate, the KCL, aws-kinesis-agg).
            """)
    var aggregate = false

    func validate() throws {
        guard Durability(rawValue: durability) != nil else {
            throw ValidationError("--durability must be none, interval or always, not '\(durability)'")
        }
        if keyField != nil && key != nil { throw ValidationError("use either --key-field or --key, not both") }
        if keyField != nil && format == .lines { throw ValidationError("--key-field needs --format jsonl") }
        if let keyField,
            keyField.isEmpty
                || keyField.split(separator: ".", omittingEmptySubsequences: false)
                    .contains(where: \.isEmpty)
        {
            throw ValidationError("--key-field '\(keyField)' is not a dotted path like user or order.id")
        }
        if let key { try DataStream.validate(partitionKey: key, dataByteCount: 0) }
    }

    func run() async throws {
        if let client = try remote.client() {
            return try await RemotePut(
                client: client, streamName: name, jsonl: jsonl, keySource: keySource, stopOnError: onError == .stop,
                json: json, aggregate: aggregate
            ).run()
        }
        var options = StoreOptions()
        options.durability = Durability(rawValue: durability) ?? .none
        let stream = try global.open(options).stream(named: name)
        let ledger = IngestLedger()
        var ingest = Ingest(
            stream: stream, ledger: ledger, jsonl: jsonl, keySource: keySource, stopOnError: onError == .stop)
        if aggregate { ingest.aggregateShards = try ShardRouter(stream) }
        let progress = Progress(enabled: standardErrorIsTerminal)
        let (name, json) = (self.name, self.json)
        // Ctrl-C (or SIGTERM) while reading: the append in flight finishes, nothing more is appended, and the summary
        // counts exactly the records stored. The handler runs even while the main task waits in read(2).
        let interrupts = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                if ledger.markInterrupted() {
                    // A second Ctrl-C while the append in flight is still running (a stuck disk): leave now.
                    printError("interrupted again: exiting without waiting for the append in flight")
                    Foundation.exit(128 + number)
                }
                guard let totals = ledger.stop() else { return }
                progress.clear()
                let signalName = number == SIGINT ? "SIGINT" : "SIGTERM"
                printError("interrupted (\(signalName)): input after the records counted below was not stored")
                Ingest.report(totals, json: json, streamName: name, outcome: .interrupted)
                Foundation.exit(128 + number)
            }
            source.resume()
            return source
        }
        defer { for source in interrupts { source.cancel() } }
        var outcome = PutSummary.Outcome.complete
        do {
            let input = InputReader()
            var splitter = LineSplitter()
            while true {
                // Whatever stdin has now, up to 1 MiB: big chunks from a file, prompt lines from a slow pipe.
                let chunk = try input.next()
                if chunk.isEmpty { break }
                try splitter.feed(chunk) { line, range in try ingest.accept(line, range) }
                try await ingest.flush()
                progress.update(records: ledger.totals.records, bytes: ledger.totals.bytes)
            }
            try splitter.finish { line, range in try ingest.accept(line, range) }
            try await ingest.flush()
            try await ingest.finish()
        } catch let stop as Ingest.Stop {
            // A rejected line with --on-error stop: what was accepted before it is stored.
            outcome = .stopped
            printError("error: \(stop.message)")
            do {
                try await ingest.flush()
                try await ingest.finish()
            } catch {
                printError("error: \(Ingest.describe(error))")
                outcome = .failed
            }
        } catch {
            // Disk full, a damaged shard, a failed read: stop, and say how much is stored.
            outcome = .failed
            await ingest.settle()
            printError("error: \(Ingest.describe(error))")
        }
        guard let totals = ledger.stop() else { await waitForInterruptSummary() }
        progress.clear()
        Ingest.report(totals, json: json, streamName: name, outcome: outcome)
        if totals.rejected > 0 || outcome != .complete { throw ExitCode(1) }
    }

    /// Each line must be one JSON value.
    var jsonl: Bool { (format ?? (keyField == nil ? .lines : .jsonl)) == .jsonl }

    /// Where partition keys come from: `--key-field`, `--key`, else random.
    var keySource: RecordScanner.KeySource {
        if let keyField { return .field(keyField.split(separator: ".").map(String.init)) }
        if let key { return .fixed(key) }
        return .random
    }

    /// The signal handler has taken over the summary and will exit; do not race it.
    private func waitForInterruptSummary() async -> Never {
        while true { try? await Task.sleep(for: .seconds(1)) }
    }
}

/// What one `put` has stored, shared with the signal handler so Ctrl-C reports exactly what is stored.
final class IngestLedger: Sendable {
    /// Counts of stored (acknowledged) records.
    struct Totals: Sendable {
        var records = 0
        var bytes = 0
        var rejected = 0
        var perShard: [Int: Int] = [:]
        var started = ContinuousClock.now
    }

    private struct State {
        var totals = Totals()
        var appending = false
        var stopped = false
        var interrupted = false
    }

    private let state = Mutex(State())

    /// The counts so far.
    var totals: Totals { state.withLock { $0.totals } }

    /// Marks an append as started; `false` once the ledger is stopped (the append must not happen).
    func beginAppend() -> Bool {
        state.withLock { s in
            guard !s.stopped else { return false }
            s.appending = true
            return true
        }
    }

    /// Counts an append that returned (`results`) or failed (`nil`: nothing acknowledged). With `userRecords`
    /// (`put --aggregate`), stored record `i` holds `userRecords[i]` lines.
    func endAppend(_ results: [SequenceNumber]?, bytes: Int, userRecords: [Int]? = nil) {
        // Per shard, counted outside the lock in an array (no dictionary operation per record).
        var perShard: [Int] = []
        var count = 0
        for (i, r) in (results ?? []).enumerated() {
            if r.shardIndex >= perShard.count { perShard += repeatElement(0, count: r.shardIndex + 1 - perShard.count) }
            let lines = userRecords.flatMap { i < $0.count ? $0[i] : nil } ?? 1
            perShard[r.shardIndex] += lines
            count += lines
        }
        state.withLock { s in
            s.appending = false
            guard results != nil else { return }
            for (shard, lines) in perShard.enumerated() where lines > 0 {
                s.totals.perShard[shard, default: 0] += lines
            }
            s.totals.records += count
            s.totals.bytes += bytes
        }
    }

    /// Records a SIGINT/SIGTERM; `true` if one came before.
    func markInterrupted() -> Bool {
        state.withLock { s in
            defer { s.interrupted = true }
            return s.interrupted
        }
    }

    /// Counts a rejected line.
    func reject() { state.withLock { $0.totals.rejected += 1 } }

    /// Stops further appends, waits for one in progress, and returns the final counts; `nil` if already stopped
    /// (the other side, main path or signal handler, reports).
    func stop() -> Totals? {
        let first = state.withLock { s in
            defer { s.stopped = true }
            return !s.stopped
        }
        guard first else { return nil }
        while state.withLock({ $0.appending }) { usleep(500) }
        return totals
    }
}

/// The state of one `put`: a two-stage pipeline over the two cores. The reading thread reads standard input, splits
/// lines, scans them (JSON validation and key extraction) into a packed ``RecordBuffer`` and computes the keys' MD5
/// (8 at a time with AVX2); the appending task routes and appends the previous buffer meanwhile. Two buffers take
/// turns, so steady-state ingest allocates per buffer, not per line.
struct Ingest {
    struct Stop: Error { var message: String }

    let stream: DataStream
    let ledger: IngestLedger
    let stopOnError: Bool
    var scanner: RecordScanner
    /// The records being scanned.
    var pending = RecordBuffer(records: 4096, keyBytes: 64 << 10, dataBytes: 2 << 20)
    /// The buffer (and result array) the last append handed back, reused for the next batch.
    var spare: (records: RecordBuffer, results: [SequenceNumber]) = (RecordBuffer(), [])
    var lineNumber = 0
    var inFlight: (task: Task<(RecordBuffer, [SequenceNumber]), any Error>, count: Int)?
    /// Lines accepted so far (stored or about to be).
    var queued = 0
    /// With `--aggregate`: the stream's open shards, to pack each batch into KPL aggregated records per shard.
    var aggregateShards: ShardRouter?

    init(
        stream: DataStream, ledger: IngestLedger, jsonl: Bool, keySource: RecordScanner.KeySource,
        stopOnError: Bool
    ) {
        self.stream = stream
        self.ledger = ledger
        self.stopOnError = stopOnError
        self.scanner = RecordScanner(
            jsonl: jsonl, keySource: keySource, maxRecordByteCount: stream.maxRecordByteCount)
    }

    mutating func accept(_ line: [UInt8], _ range: Range<Int>) throws(Stop) {
        lineNumber += 1
        if let refusal = scanner.scan(line, range, into: &pending) {
            return try reject("line \(lineNumber): \(refusal)")
        }
        queued += 1
    }

    mutating func reject(_ message: String) throws(Stop) {
        ledger.reject()
        if stopOnError {
            throw Stop(message: message + " (stopped; \(queued) earlier records are stored)")
        }
        printError("skipped \(message)")
    }

    /// Hands the pending records to the appending task while the caller reads and scans the next chunk. Waits for
    /// the previous append first, so at most one batch is in flight and order is kept.
    mutating func flush() async throws {
        try await finish()
        guard !pending.isEmpty else { return }
        // Hash here, on the reading side of the pipeline, so the appender only routes.
        let byteCount = pending.dataByteCount
        var userRecords: [Int]?
        if let shards = aggregateShards {
            // KPL aggregates of this batch (user records counted per stored record); the line buffer is kept.
            let packed = AggregatedEntries(
                packing: pending, shards: shards, maxRecordByteCount: stream.maxRecordByteCount)
            var records = spare.records
            spare.records = RecordBuffer()
            records.removeAll(keepingCapacity: true)
            for entry in packed.entries {
                try records.append(
                    partitionKey: entry.partitionKey, data: entry.data, explicitHashKey: entry.explicitHashKey)
            }
            userRecords = packed.entries.map(\.userRecords)
            spare.records = pending
            pending = records
        }
        if stream.openShardCount > 1 { pending.computeHashKeys() }
        let batch = pending
        let reused = spare.results
        // Drop this side's references first, so each buffer has one owner and is reused without a copy.
        pending = spare.records
        spare = (RecordBuffer(), [])
        pending.removeAll(keepingCapacity: true)
        let (stream, ledger, counts) = (self.stream, self.ledger, userRecords)
        let task = Task.detached { () throws -> (RecordBuffer, [SequenceNumber]) in
            var results = reused
            guard ledger.beginAppend() else { return (batch, results) }
            do {
                try stream.putRecords(batch, into: &results)
                ledger.endAppend(results, bytes: byteCount, userRecords: counts)
                return (batch, results)
            } catch {
                ledger.endAppend(nil, bytes: 0)
                throw error
            }
        }
        inFlight = (task, batch.count)
    }

    /// A failed append: the cause, and the batch that is not acknowledged.
    struct AppendFailed: Error, CustomStringConvertible {
        var description: String
    }

    /// Waits for the append in flight (the ledger counts it).
    /// - Throws: ``AppendFailed`` naming the cause.
    mutating func finish() async throws {
        guard let (task, count) = inFlight else { return }
        inFlight = nil
        do {
            spare = try await task.value
        } catch {
            throw AppendFailed(
                description: "\(Self.describe(error)) (appending a batch of \(count) records, which are not "
                    + "acknowledged and may be partly stored)")
        }
    }

    /// After a failure: waits for an append still in flight, ignoring its outcome (the ledger has counted it).
    mutating func settle() async {
        guard let (task, _) = inFlight else { return }
        inFlight = nil
        _ = try? await task.value
    }

    static func describe(_ error: any Error) -> String {
        (error as? ShardLogError)?.message ?? "\(error)"
    }

    static func report(
        _ totals: IngestLedger.Totals, json: Bool, streamName: String, outcome: PutSummary.Outcome
    ) {
        let seconds = max((ContinuousClock.now - totals.started) / .seconds(1), 1e-9)
        let rate = Double(totals.records) / seconds
        let mb = Double(totals.bytes) / 1e6
        if json {
            let summary = PutSummary(
                stream: streamName, records: totals.records, rejected: totals.rejected, bytes: totals.bytes,
                seconds: seconds, recordsPerSecond: rate.rounded(),
                megabytesPerSecond: (mb / seconds * 100).rounded() / 100,
                shards: Dictionary(uniqueKeysWithValues: totals.perShard.map { (ShardID.name($0.key), $0.value) }),
                outcome: outcome)
            // Unbuffered: the signal handler exits right after.
            FileHandle.standardOutput.write(Data((((try? kinesisJSON(summary, pretty: false)) ?? "{}") + "\n").utf8))
        }
        let stored = outcome == .complete ? "" : " (\(outcome.rawValue): these records are stored and acknowledged)"
        printError(
            String(
                format: "put %d records (%.1f MB) into %@ in %.2f s: %.0f records/s, %.1f MB/s; %d rejected%@",
                totals.records, mb, streamName, seconds, rate, mb / seconds, totals.rejected, stored))
    }
}

struct PutSummary: Encodable {
    var stream: String
    var records: Int
    var rejected: Int
    var bytes: Int
    var seconds: Double
    var recordsPerSecond: Double
    var megabytesPerSecond: Double
    var shards: [String: Int]
    /// How the run ended.
    var outcome: Outcome

    /// How a `put` ended.
    enum Outcome: String, Encodable {
        /// All input read; every accepted line stored.
        case complete
        /// A rejected line with `--on-error stop`.
        case stopped
        /// The store or the input failed (disk full, a damaged shard, a read error).
        case failed
        /// SIGINT or SIGTERM.
        case interrupted
    }
}

/// A live progress line on standard error, redrawn at most 4 times a second. Thread-safe (the signal handler
/// clears it).
final class Progress: Sendable {
    let enabled: Bool
    let started = ContinuousClock.now
    private let state = Mutex((last: ContinuousClock.now, drawn: false))

    init(enabled: Bool) { self.enabled = enabled }

    func update(records: Int, bytes: Int) {
        guard enabled else { return }
        state.withLock { s in
            guard ContinuousClock.now - s.last > .milliseconds(250) else { return }
            s.last = .now
            let seconds = max((ContinuousClock.now - started) / .seconds(1), 1e-9)
            let line = String(
                format: "\r%d records, %.1f MB, %.0f records/s   ", records, Double(bytes) / 1e6,
                Double(records) / seconds)
            FileHandle.standardError.write(Data(line.utf8))
            s.drawn = true
        }
    }

    func clear() {
        state.withLock { s in
            if s.drawn { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            s.drawn = false
        }
    }
}
