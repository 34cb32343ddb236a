import ArgumentParser
import Foundation
import ShardLog
import Synchronization

struct Put: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Append standard input to a stream, one record per line.",
        discussion: """
            Lines are batched internally. A rejected line (malformed JSON, a missing or non-string key field, a \
            record over 1 MiB) is reported with its line number; with --on-error stop (the default) ingest stops \
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
        var options = StoreOptions()
        options.durability = Durability(rawValue: durability) ?? .none
        let stream = try global.open(options).stream(named: name)
        let ledger = IngestLedger()
        var ingest = Ingest(
            stream: stream, ledger: ledger, jsonl: (format ?? (keyField == nil ? .lines : .jsonl)) == .jsonl,
            keyPath: keyField.map { $0.split(separator: ".").map(String.init) }, fixedKey: key,
            stopOnError: onError == .stop)
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

    /// Counts an append that returned (`results`) or failed (`nil`: nothing acknowledged).
    func endAppend(_ results: [PutResult]?, bytes: Int) {
        state.withLock { s in
            s.appending = false
            guard let results else { return }
            for r in results { s.totals.perShard[r.sequence.shardIndex, default: 0] += 1 }
            s.totals.records += results.count
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

/// The state of one `put`: parsing, batching and counting.
struct Ingest {
    struct Stop: Error { var message: String }

    let stream: DataStream
    let ledger: IngestLedger
    let jsonl: Bool
    let keyPath: [String]?
    let keyName: String
    let fixedKey: String?
    let stopOnError: Bool
    var pending: [PutRecordsEntry] = []
    var pendingBytes = 0
    var lineNumber = 0
    var inFlight: (task: Task<[PutResult], any Error>, count: Int)?
    /// Lines accepted so far (stored or about to be).
    var queued = 0
    var random = SystemRandomNumberGenerator()

    init(
        stream: DataStream, ledger: IngestLedger, jsonl: Bool, keyPath: [String]?, fixedKey: String?,
        stopOnError: Bool
    ) {
        self.stream = stream
        self.ledger = ledger
        self.jsonl = jsonl
        self.keyPath = keyPath
        self.keyName = keyPath?.joined(separator: ".") ?? ""
        self.fixedKey = fixedKey
        self.stopOnError = stopOnError
        pending.reserveCapacity(4096)
    }

    mutating func accept(_ line: [UInt8], _ range: Range<Int>) throws(Stop) {
        lineNumber += 1
        var key = fixedKey
        if jsonl {
            switch keyOf(line, range) {
            case .success(let found): key = found
            case .failure(let problem): return try reject("line \(lineNumber): \(problem)")
            }
        }
        let partitionKey = key ?? Self.randomKey(&random)
        do {
            try DataStream.validate(partitionKey: partitionKey, dataByteCount: range.count)
        } catch {
            return try reject("line \(lineNumber): \(error.message)")
        }
        pending.append(PutRecordsEntry(partitionKey: partitionKey, data: Array(line[range])))
        pendingBytes += range.count
        queued += 1
    }

    /// Why a line was refused (the text after `line N: `).
    struct Refusal: Error, CustomStringConvertible {
        var description: String
    }

    /// Validates a JSON line in one pass and returns the partition key at `--key-field` (`nil` without one).
    /// A key must be a JSON string (its Unicode contents) or a number (its text); anything else is refused.
    func keyOf(_ line: [UInt8], _ range: Range<Int>) -> Result<String?, Refusal> {
        guard let keyPath else {
            do throws(JSONLine.Problem) {
                try JSONLine.validate(line, range)
                return .success(nil)
            } catch {
                return .failure(Refusal(description: "not valid JSON: \(error)"))
            }
        }
        let found: JSONLine.Value?
        do throws(JSONLine.Problem) {
            found = try JSONLine.field(line, range, path: keyPath)
        } catch {
            return .failure(Refusal(description: "not valid JSON: \(error)"))
        }
        let field = "key field '\(keyName)'"
        switch found {
        case .string(let s) where !s.isEmpty, .number(let s):
            return .success(s)
        case .string:
            return .failure(
                Refusal(description: "\(field) is an empty string; a partition key has 1 to 256 characters"))
        case .invalidString(let position):
            return .failure(
                Refusal(
                    description: "\(field) (at byte \(position + 1)) is not valid UTF-8 or escapes a lone surrogate; "
                        + "a partition key must be a Unicode string"))
        case nil:
            return .failure(Refusal(description: "\(field) is missing"))
        case let other?:
            return .failure(
                Refusal(
                    description: "\(field) is \(other.typeName); a partition key must be a JSON string "
                        + "(or a number, which is used as its text)"))
        }
    }

    mutating func reject(_ message: String) throws(Stop) {
        ledger.reject()
        if stopOnError {
            throw Stop(message: message + " (stopped; \(queued) earlier records are stored)")
        }
        printError("skipped \(message)")
    }

    /// Hands the pending records to the store on another task while the caller parses the next chunk
    /// (a two-stage pipeline: parsing and appending overlap on two cores). Waits for the previous append first,
    /// so at most one batch is in flight and order is kept.
    mutating func flush() async throws {
        try await finish()
        guard !pending.isEmpty else { return }
        let batch = pending
        let (stream, ledger, byteCount) = (self.stream, self.ledger, pendingBytes)
        let task = Task.detached {
            guard ledger.beginAppend() else { return [PutResult]() }
            do {
                let results = try stream.putRecords(batch)
                ledger.endAppend(results, bytes: byteCount)
                return results
            } catch {
                ledger.endAppend(nil, bytes: 0)
                throw error
            }
        }
        inFlight = (task, batch.count)
        pending.removeAll(keepingCapacity: true)
        pendingBytes = 0
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
            _ = try await task.value
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

    static func randomKey(_ g: inout SystemRandomNumberGenerator) -> String {
        String(g.next(), radix: 16)
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
