import ArgumentParser
import Foundation
import ShardLog
import ShardLogWire

/// `shardlog bench ingest`: records/s and MB/s through `DataStream.putRecords`, over a grid of shard counts,
/// producer counts and durability policies.
struct BenchIngest: AsyncParsableCommand {
    /// The subcommand's name, abstract and help.
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Ingest throughput through the library API (putRecords) with N producer threads.",
        discussion: """
            Each producer is a thread calling the batch API putRecords(_:into:) with --batch-records records per \
            call (packed in a reused RecordBuffer, results into a reused array; the store hashes every partition \
            key unless --hash-keys explicit), for --duration seconds, on a fresh stream. With --keys affine (the default) producer p writes to the shards s with \
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

    /// The peers' figures of the same `make bench` run, drawn on the chart as reference lines.
    @Option(
        help: """
            peers.json of the same run (Benchmarks/peers/run_all.sh): the best Redis XADD and the JetStream async \
            acked figures are drawn on the chart as reference lines.
            """)
    var peers: String?

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
        let references = try peers.map { try PeerFigures(contentsOf: $0) }
        try options.emit(
            document, table: Self.table(points), charts: Self.charts(points, peers: references),
            title: "ShardLog ingest benchmark")
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
            try BufferProducer(
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

    /// Throughput vs shards, one line per producer count and durability, with the spread of the runs as error bars
    /// and the peers of the same run (when given) as dashed reference lines.
    static func charts(_ points: [Point], peers: PeerFigures? = nil) -> [NamedChart] {
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
                    points: members.map {
                        LineChart.Point(
                            x: Double($0.shards), y: $0.recordsPerSecond.median,
                            spread: $0.recordsPerSecond.min...$0.recordsPerSecond.max)
                    },
                    colorIndex: index))
        }
        let shardCounts = points.map { Double($0.shards) }
        for (offset, reference) in (peers?.references ?? []).enumerated() {
            if let line = LineChart.reference(
                name: reference.name, value: reference.value, across: shardCounts, colorIndex: groups.count + offset)
            {
                series.append(line)
            }
        }
        return [
            NamedChart(
                name: "ingest-throughput",
                chart: LineChart(
                    title: "Ingest throughput vs shards", xLabel: "shards", yLabel: "records/s", series: series))
        ]
    }
}

/// The peer figures of one `make bench` run (`peers.json` of Benchmarks/peers/run_all.sh: `{"keys": {"redis_xadd_…":
/// {"value": …, "unit": "ops/s"}, …}}`), for reference lines on the charts.
struct PeerFigures: Sendable, Equatable {
    /// One reference: its legend text and records (operations, messages) per second.
    struct Reference: Sendable, Equatable {
        /// Legend text, with the figure.
        var name: String
        /// Per second.
        var value: Double
    }

    /// Every `redis_xadd_*` and `nats_js_*` rate, by key.
    var rates: [String: Double]

    /// Reads a peers.json file.
    /// - Throws: A `ValidationError` naming the file when it cannot be read or has no `keys` object.
    init(contentsOf path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("--peers: cannot read \(path)")
        }
        guard case .object(let keys)? = (try? JSON(parsing: Array(data)))?["keys"] else {
            throw ValidationError("--peers: \(path) is not a peers.json (no \"keys\" object)")
        }
        var rates: [String: Double] = [:]
        for (key, entry) in keys where key.hasPrefix("redis_xadd_") || key.hasPrefix("nats_js_") {
            guard let unit = entry["unit"]?.stringValue, unit.hasSuffix("/s"), let value = entry["value"]?.doubleValue
            else { continue }
            rates[key] = value
        }
        self.rates = rates
    }

    /// Figures given directly (tests).
    init(rates: [String: Double]) { self.rates = rates }

    /// The best Redis XADD figure and the best JetStream async acked publish, as RESULTS.md's goals use them.
    var references: [Reference] {
        var out: [Reference] = []
        if let best = rates.filter({ $0.key.hasPrefix("redis_xadd_") }).max(by: { $0.value < $1.value }) {
            out.append(Reference(name: "best Redis XADD \(NumberText.compact(best.value))/s", value: best.value))
        }
        if let best = rates.filter({ $0.key.hasPrefix("nats_js_") && $0.key.contains("async") })
            .max(by: { $0.value < $1.value })
        {
            out.append(Reference(name: "JetStream async \(NumberText.compact(best.value))/s", value: best.value))
        }
        return out
    }
}

/// A producer thread of `bench ingest`: puts prebuilt ``RecordBuffer`` batches through the batch API
/// `putRecords(_:into:)` with one reused result array, as a high-rate producer does. The buffers are never hashed
/// here, so the store computes each record's MD5 on every put (unless they carry explicit hash keys).
struct BufferProducer: Sendable {
    /// The stream.
    var stream: DataStream
    /// Keys to cycle through.
    var keys: [String]
    /// Payloads to cycle through.
    var payloads: [[UInt8]]
    /// Records per `putRecords` call.
    var batchRecords: Int
    /// Give each record its key's hash key as an explicit hash key (computed once here).
    var explicitHashKeys = false

    /// Puts full batches until `deadline` passes.
    /// - Returns: What was written.
    /// - Throws: The store's errors.
    func run(until deadline: ContinuousClock.Instant) throws -> Tally {
        let ringCount = max(1, min(8, (keys.count + batchRecords - 1) / batchRecords))
        let ring = try (0..<ringCount).map { try makeBuffer(offset: $0 * batchRecords) }
        var results: [SequenceNumber] = []
        results.reserveCapacity(batchRecords)
        var tally = Tally()
        var next = 0
        while ContinuousClock.now < deadline {
            let buffer = ring[next % ring.count]
            next += 1
            try stream.putRecords(buffer, into: &results)
            tally.records += buffer.count
            tally.bytes += buffer.dataByteCount
        }
        return tally
    }

    private func makeBuffer(offset: Int) throws -> RecordBuffer {
        let dataBytes = (0..<batchRecords).reduce(0) { $0 + payloads[(offset + $1) % payloads.count].count }
        var buffer = RecordBuffer(records: batchRecords, keyBytes: batchRecords * 16, dataBytes: dataBytes)
        for index in 0..<batchRecords {
            let n = offset + index
            let key = keys[n % keys.count]
            try buffer.append(
                partitionKey: key, data: payloads[n % payloads.count],
                explicitHashKey: explicitHashKeys ? HashKey.of(partitionKey: key) : nil)
        }
        return buffer
    }
}
