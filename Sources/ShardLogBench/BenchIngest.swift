import ArgumentParser
import Foundation
import ShardLog

/// `shardlog bench ingest`: records/s and MB/s through `DataStream.putRecords`, over a grid of shard counts,
/// producer counts and durability policies.
struct BenchIngest: AsyncParsableCommand {
    /// The subcommand's name, abstract and help.
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Ingest throughput through the library API (putRecords) with N producer threads.",
        discussion: """
            Each producer is a thread calling putRecords with --batch-records records per call, for --duration \
            seconds, on a fresh stream. With --keys affine (the default) producer p writes to the shards s with \
            s mod producers = p, so producers do not share a shard when there are enough shards.
            """)

    /// Options shared by every workload.
    @OptionGroup var options: BenchOptions

    /// Shard counts, comma-separated.
    @Option(help: "Shard counts, comma-separated.")
    var shards = CommaSeparated<Int>([1, 2, 4])

    /// Producer thread counts, comma-separated.
    @Option(help: "Producer thread counts, comma-separated.")
    var producers = CommaSeparated<Int>([1, 2])

    /// Durability policies, comma-separated: none, interval, always.
    @Option(help: "Durability policies, comma-separated: none, interval, always.")
    var durability = CommaSeparated<String>(["none"])

    /// Bytes of data per record.
    @Option(help: "Bytes of data per record.")
    var recordSize = 100

    /// LZ4 compression of large batches: on | off.
    @Option(help: "LZ4 compression of large batches: on | off.")
    var compression = Toggle.on

    /// json (compressible) | random (incompressible) record data.
    @Option(help: "json (compressible) | random (incompressible) record data.")
    var payload = PayloadKind.json

    /// affine | spread: how producers pick partition keys.
    @Option(help: "affine | spread: how producers pick partition keys.")
    var keys = KeyMode.affine

    /// Records per putRecords call.
    @Option(help: "Records per putRecords call.")
    var batchRecords = 1000

    /// md5: the store hashes each partition key; explicit: producers pass precomputed ExplicitHashKeys.
    @Option(help: "md5: the store hashes each partition key; explicit: producers pass precomputed ExplicitHashKeys.")
    var hashKeys = HashKeyMode.md5

    /// How records are routed.
    enum HashKeyMode: String, ExpressibleByArgument, CaseIterable, Sendable {
        /// The store computes MD5 of each partition key (with more than one open shard).
        case md5
        /// Each record carries its hash key, computed once per key by the producer.
        case explicit
    }

    /// Rejects out-of-range options before anything runs.
    func validate() throws {
        try BenchValidation.require(shards.values, in: Limits.shardCount, "--shards")
        try BenchValidation.require(producers.values, in: 1...64, "--producers")
        _ = try BenchValidation.durabilities(durability.values)
        try BenchValidation.recordSize(recordSize, minimum: 1)
        guard (1...100_000).contains(batchRecords) else {
            throw ValidationError("--batch-records must be between 1 and 100000, not \(batchRecords)")
        }
    }

    /// One measured point.
    struct Point: Codable, Sendable, Equatable {
        /// Shards of the stream.
        var shards: Int
        /// Producer threads.
        var producers: Int
        /// The durability policy.
        var durability: String
        /// Whether LZ4 compression was on.
        var compression: Bool
        /// Bytes of data per record.
        var recordByteCount: Int
        /// Records per putRecords call.
        var batchRecords: Int
        /// `md5` (the store hashes partition keys) or `explicit` (precomputed ExplicitHashKeys).
        var hashKeys: String
        /// Records per second, per run.
        var recordsPerSecond: Spread
        /// Data MB/s (10^6 bytes), per run.
        var megabytesPerSecond: Spread
        /// CPU used by this process, percent of one core, per run.
        var cpuPercent: Spread
        /// CPU used by other work meanwhile, percent of one core, per run.
        var othersCPUPercent: Spread
        /// The most measurements one run of this point took (more than 1: other work exceeded --others-limit).
        var attempts = 1
        /// Whether some run stayed over --others-limit in every attempt.
        var contended = false
    }

    /// Measures every point and prints the results.
    func run() async throws {
        BenchInterrupt.install()
        let started = ContinuousClock.now
        let startedAt = iso8601Now()
        let durabilities = try BenchValidation.durabilities(durability.values)
        var grid: [(shards: Int, producers: Int, durability: Durability)] = []
        for durability in durabilities {
            for producers in producers.values {
                for shards in shards.values { grid.append((shards, producers, durability)) }
            }
        }
        var progress = BenchProgress(total: grid.count * options.repeats, quiet: options.quiet)
        let payloads = payload.payloads(byteCount: recordSize, count: 1024)
        // Rounds: every point once per round, so that other work on the machine affects all points alike.
        var samples = Array(repeating: [Sample](), count: grid.count)
        var attempts = Array(repeating: 1, count: grid.count)
        var contended = Array(repeating: false, count: grid.count)
        rounds: for run in 1...options.repeats {
            for (index, (shards, producers, durability)) in grid.enumerated() {
                if BenchInterrupt.requested { break rounds }
                progress.starting(
                    "ingest: \(shards) shards, \(producers) producers, \(durability.rawValue), run \(run)")
                let storeOptions = benchStoreOptions(
                    durability: durability, compression: compression.isOn, segmentMiB: options.segmentMib)
                let kept = try await options.leastContended(
                    {
                        try await withScratchDirectory(
                            parent: options.scratchDir,
                            label: "ingest-s\(shards)-p\(producers)-\(durability.rawValue)-r\(run)",
                            keep: options.keep
                        ) { directory in
                            try await measure(
                                store: Store(directory: directory, options: storeOptions), shards: shards,
                                producers: producers, payloads: payloads)
                        }
                    }, others: \.othersCPUPercent)
                samples[index].append(kept.value)
                attempts[index] = max(attempts[index], kept.attempts)
                contended[index] = contended[index] || kept.contended
                progress.advance()
            }
        }
        let points = grid.enumerated().compactMap { index, point -> Point? in
            let runs = samples[index]
            guard !runs.isEmpty else { return nil }
            return Point(
                shards: point.shards, producers: point.producers, durability: point.durability.rawValue,
                compression: compression.isOn, recordByteCount: recordSize, batchRecords: batchRecords,
                hashKeys: hashKeys.rawValue, recordsPerSecond: Spread(runs.map(\.recordsPerSecond)),
                megabytesPerSecond: Spread(runs.map(\.megabytesPerSecond)), cpuPercent: Spread(runs.map(\.cpuPercent)),
                othersCPUPercent: Spread(runs.map(\.othersCPUPercent)), attempts: attempts[index],
                contended: contended[index])
        }
        progress.finish()
        let document = BenchDocument(
            benchmark: "ingest", command: benchCommandLine, startedAt: startedAt,
            elapsedSeconds: (ContinuousClock.now - started) / .seconds(1), machine: .current(),
            parameters: [
                "shards": shards.description, "producers": producers.description,
                "durability": durability.description, "recordSize": String(recordSize),
                "compression": compression.rawValue, "payload": payload.rawValue, "keys": keys.rawValue,
                "batchRecords": String(batchRecords), "hashKeys": hashKeys.rawValue,
                "duration": String(options.duration),
                "repeats": String(options.repeats),
            ],
            points: points,
            notes: [
                "Each run: \(options.duration) s of putRecords calls of \(batchRecords) records of \(recordSize) B "
                    + "from each producer thread, into a fresh data directory; median and spread over "
                    + "\(options.repeats) runs, taken in rounds (every point once per round).",
                "MB/s counts record data only (10^6 bytes/s). CPU% is percent of one core.",
            ])
        try options.emit(
            document, table: Self.table(points), charts: Self.charts(points), title: "ShardLog ingest benchmark")
    }

    /// One run of one point.
    struct Sample {
        /// Records per second.
        var recordsPerSecond: Double
        /// Data MB/s.
        var megabytesPerSecond: Double
        /// CPU of this process, percent of one core.
        var cpuPercent: Double
        /// CPU of other work, percent of one core.
        var othersCPUPercent: Double
    }

    /// Puts records from `producers` threads into a fresh stream of `shards` shards for the measurement time.
    private func measure(store: Store, shards: Int, producers: Int, payloads: [[UInt8]]) async throws -> Sample {
        let name = "ingest"
        let description = try store.createStream(named: name, shardCount: shards)
        let stream = try store.stream(named: name)
        let keyLists = KeyPlan.keys(
            stream: stream, shardIds: description.shards.map(\.shardId), producers: producers, mode: keys,
            keysPerShard: 64)
        let before = CPUSample.now()
        let deadline = ContinuousClock.now + options.measureDuration
        let batchRecords = self.batchRecords
        let explicit = hashKeys == .explicit
        let tallies = try await onThreads(producers) { index in
            try Producer(
                stream: stream, keys: keyLists[index], payloads: payloads, batchRecords: batchRecords,
                explicitHashKeys: explicit
            ).run(until: deadline)
        }
        let after = CPUSample.now()
        let seconds = (after.instant - before.instant) / .seconds(1)
        let total = Tally.sum(tallies)
        let usage = after.usage(since: before)
        if !options.keep { try store.deleteStream(named: name) }
        return Sample(
            recordsPerSecond: Double(total.records) / seconds, megabytesPerSecond: Double(total.bytes) / seconds / 1e6,
            cpuPercent: usage.own, othersCPUPercent: usage.others)
    }

    /// The results table.
    static func table(_ points: [Point]) -> TextTable {
        TextTable(
            headers: ["shards", "producers", "durability", "records/s", "spread", "MB/s", "CPU %", "others CPU %"],
            rows: points.map { point in
                [
                    String(point.shards), String(point.producers), point.durability,
                    NumberText.grouped(point.recordsPerSecond.median), NumberText.plusMinus(point.recordsPerSecond),
                    NumberText.fixed(point.megabytesPerSecond.median, 1), NumberText.fixed(point.cpuPercent.median, 0),
                    NumberText.fixed(point.othersCPUPercent.median, 0),
                ]
            })
    }

    /// Throughput vs shards, one line per producer count and durability.
    static func charts(_ points: [Point]) -> [NamedChart] {
        var series: [LineChart.Series] = []
        var groups: [String] = []
        for point in points where !groups.contains("\(point.producers) \(point.durability)") {
            groups.append("\(point.producers) \(point.durability)")
        }
        for (index, group) in groups.enumerated() {
            let members = points.filter { "\($0.producers) \($0.durability)" == group }
            guard let first = members.first else { continue }
            series.append(
                LineChart.Series(
                    name: "\(first.producers) producer\(first.producers == 1 ? "" : "s"), \(first.durability)",
                    points: members.map { LineChart.Point(x: Double($0.shards), y: $0.recordsPerSecond.median) },
                    colorIndex: index))
        }
        return [
            NamedChart(
                name: "ingest-throughput",
                chart: LineChart(
                    title: "Ingest throughput vs shards", xLabel: "shards", yLabel: "records/s", series: series))
        ]
    }
}
