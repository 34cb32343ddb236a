import ArgumentParser
import Foundation
import ShardLog
import Synchronization

/// `shardlog bench follow`: how soon a `shardlog get --follow` process sees a record that another process put.
struct BenchFollow: AsyncParsableCommand {
    /// The subcommand's name, abstract and help.
    static let configuration = CommandConfiguration(
        commandName: "follow",
        abstract: "Put → seen latency of `shardlog get --follow` running as a separate process.",
        discussion: """
            For each offered rate: creates an empty stream in a fresh data directory, starts `shardlog get STREAM \
            --follow` on it as a child process, and puts single records from this process at that rate (one \
            `put` each, paced, not batched); each record carries the time it was put. A thread reads the child's \
            standard output line by line and records now minus that time in an HdrHistogram: the latency includes \
            the doorbell wake-up across processes, the child's read and JSON line, and the pipe back to this \
            process. --warmup seconds of records are put (and not counted) before the --duration seconds that are.
            """)

    /// Options shared by every workload.
    @OptionGroup var options: BenchOptions

    /// Offered rates in records per second, comma-separated.
    @Option(help: "Offered rates in records per second, comma-separated.")
    var rates = CommaSeparated<Int>([1000, 5000])

    /// Shards of the stream (the child follows all of them).
    @Option(help: "Shards of the stream (the child follows every shard).")
    var shards = 1

    /// Bytes of data per record (at least 9: the put time and a flag).
    @Option(help: "Bytes of data per record (at least 9: the put time and a flag).")
    var recordSize = 100

    /// Seconds of records put, and not counted, before the measurement.
    @Option(help: "Seconds of records put, and not counted, before the measurement.")
    var warmup: Double = 0.3

    /// The `shardlog` executable to run `get --follow` with (default: this one).
    @Option(help: "The shardlog executable to run `get --follow` with (default: this one).")
    var shardlog: String?

    /// Rejects out-of-range options before anything runs.
    func validate() throws {
        try BenchValidation.require(rates.values, in: 1...100_000, "--rates")
        try BenchValidation.recordSize(recordSize, minimum: FollowRecord.headerByteCount)
        guard Limits.shardCount.contains(shards) else {
            throw ValidationError(
                "--shards must be between \(Limits.shardCount.lowerBound) and \(Limits.shardCount.upperBound), "
                    + "not \(shards)")
        }
        guard warmup >= 0, warmup <= 60 else {
            throw ValidationError("--warmup must be between 0 and 60 seconds, not \(warmup)")
        }
    }

    /// One measured point.
    struct Point: Codable, Sendable, Equatable {
        /// Records per second offered.
        var offeredRecordsPerSecond: Int
        /// Records per second actually put during the measurement, per run.
        var putRecordsPerSecond: Spread
        /// Shards of the stream.
        var shards: Int
        /// Put → seen latency, every run's measured records pooled in one histogram.
        var latency: LatencySummary
        /// The p99 of each run alone, in microseconds.
        var p99Microseconds: Spread
        /// CPU of the `get --follow` process, percent of one core, per run.
        var followerCPUPercent: Spread
        /// CPU of other work meanwhile (this process and the follower excluded), percent of one core, per run.
        var othersCPUPercent: Spread
    }

    /// Measures every point and prints the results.
    func run() async throws {
        BenchInterrupt.install()
        let started = ContinuousClock.now
        let startedAt = iso8601Now()
        let executable = shardlog ?? Bundle.main.executablePath ?? CommandLine.arguments[0]
        var progress = BenchProgress(total: rates.values.count * options.repeats, quiet: options.quiet)
        var points: [Point] = []
        for rate in rates.values where !BenchInterrupt.requested {
            var pooled = LatencyHistogram()
            var putRates: [Double] = []
            var p99s: [Double] = []
            var follower: [Double] = []
            var others: [Double] = []
            for run in 1...options.repeats where !BenchInterrupt.requested {
                progress.starting("follow: \(NumberText.grouped(Double(rate))) records/s, run \(run)")
                let result = try await withScratchDirectory(
                    parent: options.scratchDir, label: "follow-r\(rate)-\(run)", keep: options.keep
                ) { directory in
                    try await FollowRun(
                        executable: executable, directory: directory, shards: shards, rate: rate,
                        recordSize: recordSize, warmup: .milliseconds(Int64(warmup * 1000)),
                        duration: options.measureDuration
                    ).measure()
                }
                guard let result else { break }  // interrupted
                pooled.add(result.latencies)
                putRates.append(result.putRecordsPerSecond)
                p99s.append(result.latencies.microseconds(atPercentile: 99))
                follower.append(result.followerCPUPercent)
                others.append(result.othersCPUPercent)
                progress.advance()
            }
            guard !putRates.isEmpty else { break }
            points.append(
                Point(
                    offeredRecordsPerSecond: rate, putRecordsPerSecond: Spread(putRates), shards: shards,
                    latency: pooled.summary, p99Microseconds: Spread(p99s), followerCPUPercent: Spread(follower),
                    othersCPUPercent: Spread(others)))
        }
        progress.finish()
        let document = BenchDocument(
            benchmark: "follow", command: benchCommandLine, startedAt: startedAt,
            elapsedSeconds: (ContinuousClock.now - started) / .seconds(1), machine: .current(),
            parameters: [
                "rates": rates.description, "shards": String(shards), "recordSize": String(recordSize),
                "warmup": String(warmup), "duration": String(options.duration), "repeats": String(options.repeats),
            ],
            points: points,
            notes: [
                "Put → seen latency of `shardlog get STREAM --follow` in a separate process: single-record puts "
                    + "from the benchmark process at the offered rate, each stamped with its put time; the time is "
                    + "taken when the benchmark reads the record's line from the child's standard output. All "
                    + "runs of a rate pooled in one HdrHistogram; \(options.duration) s measured per run after "
                    + "\(warmup) s of warm-up.",
                "Other work on the machine delays the wake-up of both processes: latencies measured under load "
                    + "are pessimistic.",
            ])
        try options.emit(
            document, table: Self.table(points), charts: [], title: "ShardLog get --follow latency benchmark")
    }

    /// The results table.
    static func table(_ points: [Point]) -> TextTable {
        TextTable(
            headers: [
                "offered/s", "put/s", "count", "p50 µs", "p99 µs", "p99.9 µs", "max µs", "p99 per run",
                "follower CPU %", "others CPU %",
            ],
            rows: points.map { point in
                [
                    NumberText.grouped(Double(point.offeredRecordsPerSecond)),
                    NumberText.grouped(point.putRecordsPerSecond.median),
                    NumberText.grouped(Double(point.latency.count)),
                    NumberText.fixed(point.latency.p50Microseconds, 0),
                    NumberText.fixed(point.latency.p99Microseconds, 0),
                    NumberText.fixed(point.latency.p999Microseconds, 0),
                    NumberText.fixed(point.latency.maxMicroseconds, 0), NumberText.plusMinus(point.p99Microseconds),
                    NumberText.fixed(point.followerCPUPercent.median, 0),
                    NumberText.fixed(point.othersCPUPercent.median, 0),
                ]
            })
    }
}

/// The data of a record the follow benchmark puts: the put time (``Stamp``, 8 bytes), a flag byte (1: measured,
/// 0: warm-up), then padding.
enum FollowRecord {
    /// Bytes before the padding.
    static let headerByteCount = 9

    /// A record's data of `byteCount` bytes.
    static func data(stamp: UInt64, measured: Bool, byteCount: Int) -> [UInt8] {
        var data = [UInt8](repeating: UInt8(ascii: "x"), count: byteCount)
        Stamp.write(stamp, into: &data)
        data[8] = measured ? 1 : 0
        return data
    }

    /// The put time and flag of a `get` output line (`"data":"<base64>"`); nil when the line has no such data.
    static func parse(line: Substring) -> (stamp: UInt64, measured: Bool)? {
        guard let start = line.range(of: #""data":""#)?.upperBound,
            let end = line[start...].firstIndex(of: "\""),
            let data = Data(base64Encoded: String(line[start..<end])),
            data.count >= headerByteCount
        else { return nil }
        let bytes = [UInt8](data.prefix(headerByteCount))
        guard let stamp = Stamp.read(bytes) else { return nil }
        return (stamp, bytes[8] == 1)
    }
}

/// Reads a follower's standard output on its own thread: counts the records seen and records the latency of the
/// measured ones. Thread-safe.
final class FollowReader: Sendable {
    private let stamp: Stamp
    private let seenCount = Atomic<Int>(0)
    private let malformedCount = Atomic<Int>(0)
    private let latencies = Mutex(LatencyHistogram())
    private let finished = Atomic<Bool>(false)

    /// A reader of records stamped with `stamp`.
    init(stamp: Stamp) {
        self.stamp = stamp
    }

    /// Records seen so far.
    var seen: Int { seenCount.load(ordering: .acquiring) }
    /// Lines that were not records of this benchmark.
    var malformed: Int { malformedCount.load(ordering: .relaxed) }
    /// Whether the output ended (the follower exited).
    var isFinished: Bool { finished.load(ordering: .acquiring) }
    /// The measured latencies.
    var latencyHistogram: LatencyHistogram { latencies.withLock { $0 } }

    /// Starts the reading thread on `handle`; it ends at end of file.
    func start(reading handle: FileHandle) {
        Thread.detachNewThread { [self] in
            var pending = Data()
            while true {
                let chunk = handle.availableData
                guard !chunk.isEmpty else { break }
                let now = stamp.now
                pending.append(chunk)
                guard let last = pending.lastIndex(of: UInt8(ascii: "\n")) else { continue }
                let text = String(decoding: pending[pending.startIndex...last], as: UTF8.self)
                pending.removeSubrange(pending.startIndex...last)
                take(text, at: now)
            }
            finished.store(true, ordering: .releasing)
        }
    }

    private func take(_ text: String, at now: UInt64) {
        var count = 0
        var measured: [UInt64] = []
        for line in text.split(separator: "\n") {
            guard let record = FollowRecord.parse(line: line) else {
                malformedCount.wrappingAdd(1, ordering: .relaxed)
                continue
            }
            count += 1
            if record.measured { measured.append(now >= record.stamp ? now - record.stamp : 0) }
        }
        if !measured.isEmpty {
            latencies.withLock { histogram in
                for value in measured { histogram.record(nanoseconds: value) }
            }
        }
        seenCount.wrappingAdd(count, ordering: .releasing)
    }
}

/// One run: a `get --follow` child over a fresh stream, records put at a paced rate.
struct FollowRun: Sendable {
    /// The `shardlog` executable.
    var executable: String
    /// The run's scratch directory.
    var directory: String
    /// Shards of the stream.
    var shards: Int
    /// Records per second offered.
    var rate: Int
    /// Bytes per record.
    var recordSize: Int
    /// Records put before the measurement.
    var warmup: Duration
    /// The measurement.
    var duration: Duration

    /// What a run measured.
    struct Result: Sendable {
        /// Latencies of the measured records.
        var latencies: LatencyHistogram
        /// Records per second put during the measurement.
        var putRecordsPerSecond: Double
        /// CPU of the follower during the measurement, percent of one core.
        var followerCPUPercent: Double
        /// CPU of other work during the measurement, percent of one core.
        var othersCPUPercent: Double
    }

    /// Runs the child and the paced puts; nil when interrupted.
    /// - Throws: ``BenchError`` when the child does not start, exits, or misses records.
    func measure() async throws -> Result? {
        let data = directory + "/data"
        let store = try Store(directory: data)
        _ = try store.createStream(named: "follow", shardCount: shards)
        let stream = try store.stream(named: "follow")
        let log = directory + "/get.log"
        guard FileManager.default.createFile(atPath: log, contents: nil) else {
            throw BenchError("cannot create \(log)")
        }
        let logHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        defer { try? logHandle.close() }
        let output = Pipe()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["--data-dir", data, "get", "follow", "--follow"]
        process.standardOutput = output
        process.standardError = logHandle
        process.standardInput = FileHandle.nullDevice
        let stamp = Stamp()
        let reader = FollowReader(stamp: stamp)
        try process.run()
        try? output.fileHandleForWriting.close()
        reader.start(reading: output.fileHandleForReading)
        defer {
            BenchIdle.stop(process)
            // The reading thread ends at end of file, once the child is gone.
        }
        func failure(_ what: String) -> BenchError {
            let tail = (try? String(contentsOfFile: log, encoding: .utf8))?.suffix(2000) ?? ""
            let status = process.isRunning ? "running" : "exit status \(process.terminationStatus)"
            return BenchError("follow: \(what) (`shardlog get --follow`: \(status)) \(tail)")
        }
        // A first record tells when the child is up and following.
        let keys = (0..<max(16, shards * 8)).map { "key-\($0)" }
        let pacer = Pacer(stream: stream, keys: keys, stamp: stamp, recordSize: recordSize)
        try pacer.putOne(measured: false)
        guard try await waitUntil(reader, seen: 1, within: .seconds(30)) else {
            throw failure("the child did not print the first record within 30 s")
        }
        if BenchInterrupt.requested { return nil }
        let rate = self.rate
        let warmup = self.warmup
        let duration = self.duration
        let pid = process.processIdentifier
        let measured = try await onThreads(1) { _ in
            _ = try pacer.run(rate: rate, for: warmup, measured: false)
            let before = CPUSample.now()
            let followerBefore = CPUSample.processCPUSeconds(pid: pid)
            let count = try pacer.run(rate: rate, for: duration, measured: true)
            let after = CPUSample.now()
            let followerAfter = CPUSample.processCPUSeconds(pid: pid)
            return (count, before, after, max(0, followerAfter - followerBefore))
        }[0]
        let total = pacer.putCount
        guard try await waitUntil(reader, seen: total, within: .seconds(10)) else {
            throw failure("the child printed \(reader.seen) of \(total) records within 10 s of the last put")
        }
        guard reader.malformed == 0 else {
            throw failure("\(reader.malformed) lines of the child's output were not records of this benchmark")
        }
        let wall = (measured.2.instant - measured.1.instant) / .seconds(1)
        let follower = wall > 0 ? measured.3 / wall * 100 : 0
        return Result(
            latencies: reader.latencyHistogram,
            putRecordsPerSecond: wall > 0 ? Double(measured.0) / wall : 0,
            followerCPUPercent: follower,
            othersCPUPercent: max(0, measured.2.usage(since: measured.1).others - follower))
    }

    /// Waits until the reader saw `count` records; false at the time limit or when the output ended.
    private func waitUntil(_ reader: FollowReader, seen count: Int, within limit: Duration) async throws -> Bool {
        let deadline = ContinuousClock.now + limit
        while reader.seen < count {
            guard ContinuousClock.now < deadline, !reader.isFinished, !BenchInterrupt.requested else {
                return reader.seen >= count
            }
            try await Task.sleep(for: .milliseconds(2))
        }
        return true
    }
}

/// Puts single stamped records at a steady rate on the calling thread (blocking sleeps between puts).
final class Pacer: Sendable {
    private let stream: DataStream
    private let keys: [String]
    private let stamp: Stamp
    private let recordSize: Int
    private let count = Atomic<Int>(0)

    /// A pacer putting into `stream`.
    init(stream: DataStream, keys: [String], stamp: Stamp, recordSize: Int) {
        self.stream = stream
        self.keys = keys
        self.stamp = stamp
        self.recordSize = recordSize
    }

    /// Records put so far.
    var putCount: Int { count.load(ordering: .relaxed) }

    /// Puts one record stamped now.
    func putOne(measured: Bool) throws {
        let index = count.wrappingAdd(1, ordering: .relaxed).oldValue
        let data = FollowRecord.data(stamp: stamp.now, measured: measured, byteCount: recordSize)
        _ = try stream.put(partitionKey: keys[index % keys.count], data: data)
    }

    /// Puts records at `rate` per second for `duration` (each on its own schedule: a late put is not skipped, the
    /// next ones catch up); returns how many it put.
    func run(rate: Int, for duration: Duration, measured: Bool) throws -> Int {
        let interval = Duration.seconds(1) / rate
        let start = ContinuousClock.now
        let end = start + duration
        var next = start
        var put = 0
        while next < end && !BenchInterrupt.requested {
            let wait = next - ContinuousClock.now
            if wait > .zero { Thread.sleep(forTimeInterval: wait / .seconds(1)) }
            try putOne(measured: measured)
            put += 1
            next += interval
        }
        return put
    }
}
