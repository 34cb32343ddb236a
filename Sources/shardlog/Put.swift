import ArgumentParser
import Foundation
import ShardLog

struct Put: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Append standard input to a stream, one record per line.",
        discussion: """
            Lines are batched internally. A rejected line (malformed JSON, missing key field, record over 1 MiB) is
            reported with its line number; with --on-error stop (the default) ingest stops there, with skip it goes
            on. Everything accepted before an error stays stored. The exit status is 1 if any line was rejected.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case lines, jsonl }
    enum OnError: String, ExpressibleByArgument, CaseIterable { case stop, skip }

    @OptionGroup var global: GlobalOptions
    @Argument var name: String
    @Option(help: "Dotted path of the partition key in each JSON line (implies --format jsonl).") var keyField: String?
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
        var ingest = Ingest(
            stream: stream, jsonl: (format ?? (keyField == nil ? .lines : .jsonl)) == .jsonl,
            keyPath: keyField.map { $0.split(separator: ".").map(String.init) }, fixedKey: key,
            stopOnError: onError == .stop)
        let input = InputReader()
        var splitter = LineSplitter()
        let progress = Progress(enabled: standardErrorIsTerminal)
        do {
            while true {
                // Whatever stdin has now, up to 1 MiB: big chunks from a file, prompt lines from a slow pipe.
                let chunk = try input.next()
                if chunk.isEmpty { break }
                try splitter.feed(chunk) { line, range in try ingest.accept(line, range) }
                try await ingest.flush()
                progress.update(records: ingest.accepted, bytes: ingest.bytes)
            }
            try splitter.finish { line, range in try ingest.accept(line, range) }
            try await ingest.flush()
            try await ingest.finish()
        } catch let stop as Ingest.Stop {
            try await ingest.flush()
            try await ingest.finish()
            printError("error: \(stop.message)")
        }
        progress.clear()
        ingest.report(json: json, streamName: name)
        if ingest.rejected > 0 { throw ExitCode(1) }
    }
}

/// The state of one `put`: parsing, batching and counting.
struct Ingest {
    struct Stop: Error { var message: String }

    let stream: DataStream
    let jsonl: Bool
    let keyPath: [String]?
    let fixedKey: String?
    let stopOnError: Bool
    var pending: [PutRecordsEntry] = []
    var pendingBytes = 0
    var lineNumber = 0
    var accepted = 0
    var rejected = 0
    var bytes = 0
    var perShard: [Int: Int] = [:]
    var inFlight: (Task<[PutResult], any Error>, Int)?
    /// Lines accepted so far (stored or about to be).
    var queued = 0
    var random = SystemRandomNumberGenerator()
    let started = ContinuousClock.now

    init(stream: DataStream, jsonl: Bool, keyPath: [String]?, fixedKey: String?, stopOnError: Bool) {
        self.stream = stream
        self.jsonl = jsonl
        self.keyPath = keyPath
        self.fixedKey = fixedKey
        self.stopOnError = stopOnError
        pending.reserveCapacity(4096)
    }

    mutating func accept(_ line: [UInt8], _ range: Range<Int>) throws {
        lineNumber += 1
        var key = fixedKey
        if jsonl {
            do {
                let found = try JSONLine.scan(line, range, path: keyPath ?? [])
                if let path = keyPath {
                    guard let found, !found.isEmpty else {
                        return try reject("line \(lineNumber): key field '\(path.joined(separator: "."))' is missing")
                    }
                    key = found
                }
            } catch {
                return try reject("line \(lineNumber): not valid JSON: \(error)")
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

    mutating func reject(_ message: String) throws {
        rejected += 1
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
        let stream = self.stream
        inFlight = (Task.detached { try stream.putRecords(batch) }, pendingBytes)
        pending.removeAll(keepingCapacity: true)
        pendingBytes = 0
    }

    /// Waits for the append in flight and counts it.
    mutating func finish() async throws {
        guard let (task, byteCount) = inFlight else { return }
        inFlight = nil
        let results = try await task.value
        for r in results { perShard[r.sequence.shardIndex, default: 0] += 1 }
        accepted += results.count
        bytes += byteCount
    }

    static func randomKey(_ g: inout SystemRandomNumberGenerator) -> String {
        String(g.next(), radix: 16)
    }

    func report(json: Bool, streamName: String) {
        let seconds = max((ContinuousClock.now - started) / .seconds(1), 1e-9)
        let rate = Double(accepted) / seconds
        let mb = Double(bytes) / 1e6
        if json {
            let summary = PutSummary(
                stream: streamName, records: accepted, rejected: rejected, bytes: bytes, seconds: seconds,
                recordsPerSecond: rate.rounded(), megabytesPerSecond: (mb / seconds * 100).rounded() / 100,
                shards: Dictionary(uniqueKeysWithValues: perShard.map { (ShardID.name($0.key), $0.value) }))
            print((try? kinesisJSON(summary, pretty: false)) ?? "{}")
        }
        printError(
            String(
                format: "put %d records (%.1f MB) into %@ in %.2f s: %.0f records/s, %.1f MB/s; %d rejected",
                accepted, mb, streamName, seconds, rate, mb / seconds, rejected))
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
}

/// A live progress line on standard error, redrawn at most 4 times a second.
final class Progress {
    let enabled: Bool
    var last = ContinuousClock.now
    let started = ContinuousClock.now
    var drawn = false

    init(enabled: Bool) { self.enabled = enabled }

    func update(records: Int, bytes: Int) {
        guard enabled, ContinuousClock.now - last > .milliseconds(250) else { return }
        last = .now
        let s = max((ContinuousClock.now - started) / .seconds(1), 1e-9)
        let line = String(
            format: "\r%d records, %.1f MB, %.0f records/s   ", records, Double(bytes) / 1e6, Double(records) / s)
        FileHandle.standardError.write(Data(line.utf8))
        drawn = true
    }

    func clear() {
        if drawn { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}
