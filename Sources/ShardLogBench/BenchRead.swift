import ArgumentParser
import Foundation
import ShardLog

/// `shardlog bench read`: records/s and MB/s reading a prefilled stream from the trim horizon with shard iterators.
struct BenchRead: AsyncParsableCommand {
    /// The subcommand's name, abstract and help.
    static let configuration = CommandConfiguration(
        commandName: "read",
        abstract: "Read throughput through shard iterators (ShardIterator.next) of a prefilled stream.",
        discussion: """
            For each point a fresh stream is filled with --records records (two producer threads), then each run \
            reads all of it from TRIM_HORIZON with N reader threads (reader r reads the shards s with \
            s mod readers = r), --batch-limit records per call. The data is in the page cache, as it is right after \
            it was written. --duration is not used: a run ends when everything has been read.
            """)

    /// Options shared by every workload.
    @OptionGroup var options: BenchOptions

    /// Shard counts, comma-separated.
    @Option(help: "Shard counts, comma-separated.")
    var shards = CommaSeparated<Int>([1, 4])

    /// Reader thread counts, comma-separated.
    @Option(help: "Reader thread counts, comma-separated.")
    var readers = CommaSeparated<Int>([1, 2])

    /// Records to prefill and read per point.
    @Option(help: "Records to prefill and read per point.")
    var records = 1_000_000

    /// Bytes of data per record.
    @Option(help: "Bytes of data per record.")
    var recordSize = 100

    /// LZ4 compression of large batches: on | off.
    @Option(help: "LZ4 compression of large batches: on | off.")
    var compression = Toggle.on

    /// json (compressible) | random (incompressible) record data.
    @Option(help: "json (compressible) | random (incompressible) record data.")
    var payload = PayloadKind.json

    /// Records per ShardIterator.next call.
    @Option(help: "Records per ShardIterator.next call.")
    var batchLimit = 10_000

    /// Rejects out-of-range options before anything runs.
    func validate() throws {
        try BenchValidation.require(shards.values, in: Limits.shardCount, "--shards")
        try BenchValidation.require(readers.values, in: 1...64, "--readers")
        try BenchValidation.recordSize(recordSize, minimum: 1)
        guard (1...100_000_000).contains(records) else {
            throw ValidationError("--records must be between 1 and 100000000, not \(records)")
        }
        guard (1...10_000).contains(batchLimit) else {
            throw ValidationError("--batch-limit must be between 1 and 10000, not \(batchLimit)")
        }
    }

    /// One measured point.
    struct Point: Codable, Sendable, Equatable {
        /// Shards of the stream.
        var shards: Int
        /// Reader threads.
        var readers: Int
        /// Records read per run.
        var records: Int
        /// Bytes of data per record.
        var recordByteCount: Int
        /// Whether LZ4 compression was on when writing.
        var compression: Bool
        /// Records per second, per run.
        var recordsPerSecond: Spread
        /// Data MB/s (10^6 bytes), per run.
        var megabytesPerSecond: Spread
        /// CPU used by this process, percent of one core, per run.
        var cpuPercent: Spread
        /// CPU used by other work meanwhile, percent of one core, per run.
        var othersCPUPercent: Spread
    }

    /// Measures every point and prints the results.
    func run() async throws {
        BenchInterrupt.install()
        let started = ContinuousClock.now
        let startedAt = iso8601Now()
        var progress = BenchProgress(
            total: shards.values.count * (1 + readers.values.count * options.repeats), quiet: options.quiet)
        let payloads = payload.payloads(byteCount: recordSize, count: 1024)
        var points: [Point] = []
        for shards in shards.values where !BenchInterrupt.requested {
            let storeOptions = benchStoreOptions(
                durability: .none, compression: compression.isOn, segmentMiB: options.segmentMib)
            try await withScratchDirectory(parent: options.scratchDir, label: "read-s\(shards)", keep: options.keep) {
                directory in
                let store = try Store(directory: directory, options: storeOptions)
                progress.starting("read: filling \(shards) shards with \(records) records")
                let description = try store.createStream(named: "read", shardCount: shards)
                let stream = try store.stream(named: "read")
                let shardIds = description.shards.map(\.shardId)
                let keyLists = KeyPlan.keys(
                    stream: stream, shardIds: shardIds, producers: 2, mode: .affine, keysPerShard: 64)
                let total = records
                let fill = try await onThreads(2) { index in
                    try Producer(stream: stream, keys: keyLists[index], payloads: payloads, batchRecords: 1000)
                        .run(until: .now + .seconds(3600), limit: total / 2 + (index == 0 ? total % 2 : 0))
                }
                guard Tally.sum(fill).records == total else {
                    throw BenchError("the prefill wrote \(Tally.sum(fill).records) of \(total) records")
                }
                progress.advance()
                for readers in readers.values where !BenchInterrupt.requested {
                    var rates: [Double] = []
                    var megabytes: [Double] = []
                    var own: [Double] = []
                    var others: [Double] = []
                    for run in 1...options.repeats where !BenchInterrupt.requested {
                        progress.starting("read: \(shards) shards, \(readers) readers, run \(run)")
                        let before = CPUSample.now()
                        let limit = batchLimit
                        let tallies = try await onThreads(readers) { reader in
                            var tally = Tally()
                            for (index, shardId) in shardIds.enumerated() where index % readers == reader {
                                var iterator = try stream.iterator(shardId: shardId, position: .trimHorizon)
                                while true {
                                    let batch = try iterator.next(limit: limit)
                                    if batch.isEmpty { break }
                                    tally.records += batch.count
                                    tally.bytes += batch.reduce(0) { $0 + $1.data.count }
                                }
                            }
                            return tally
                        }
                        let after = CPUSample.now()
                        let read = Tally.sum(tallies)
                        guard read.records == total else {
                            throw BenchError("read \(read.records) records of \(total) written; the run is invalid")
                        }
                        let seconds = (after.instant - before.instant) / .seconds(1)
                        rates.append(Double(read.records) / seconds)
                        megabytes.append(Double(read.bytes) / seconds / 1e6)
                        let usage = after.usage(since: before)
                        own.append(usage.own)
                        others.append(usage.others)
                        progress.advance()
                    }
                    guard !rates.isEmpty else { break }
                    points.append(
                        Point(
                            shards: shards, readers: readers, records: total, recordByteCount: recordSize,
                            compression: compression.isOn, recordsPerSecond: Spread(rates),
                            megabytesPerSecond: Spread(megabytes), cpuPercent: Spread(own),
                            othersCPUPercent: Spread(others)))
                }
            }
        }
        progress.finish()
        let document = BenchDocument(
            benchmark: "read", command: benchCommandLine, startedAt: startedAt,
            elapsedSeconds: (ContinuousClock.now - started) / .seconds(1), machine: .current(),
            parameters: [
                "shards": shards.description, "readers": readers.description, "records": String(records),
                "recordSize": String(recordSize), "compression": compression.rawValue, "payload": payload.rawValue,
                "batchLimit": String(batchLimit), "repeats": String(options.repeats),
            ],
            points: points,
            notes: [
                "Each run reads all \(records) records of \(recordSize) B from TRIM_HORIZON (page cache warm); "
                    + "median and spread over \(options.repeats) runs.",
                "MB/s counts record data only (10^6 bytes/s). CPU% is percent of one core.",
            ])
        try options.emit(
            document, table: Self.table(points), charts: Self.charts(points), title: "ShardLog read benchmark")
    }

    /// The results table.
    static func table(_ points: [Point]) -> TextTable {
        TextTable(
            headers: ["shards", "readers", "records/s", "spread", "MB/s", "CPU %", "others CPU %"],
            rows: points.map { point in
                [
                    String(point.shards), String(point.readers), NumberText.grouped(point.recordsPerSecond.median),
                    NumberText.plusMinus(point.recordsPerSecond), NumberText.fixed(point.megabytesPerSecond.median, 1),
                    NumberText.fixed(point.cpuPercent.median, 0), NumberText.fixed(point.othersCPUPercent.median, 0),
                ]
            })
    }

    /// Throughput vs shards, one line per reader count.
    static func charts(_ points: [Point]) -> [NamedChart] {
        var readerCounts: [Int] = []
        for point in points where !readerCounts.contains(point.readers) { readerCounts.append(point.readers) }
        let series = readerCounts.enumerated().map { index, readers in
            LineChart.Series(
                name: "\(readers) reader\(readers == 1 ? "" : "s")",
                points: points.filter { $0.readers == readers }.map {
                    LineChart.Point(x: Double($0.shards), y: $0.recordsPerSecond.median)
                },
                colorIndex: index)
        }
        return [
            NamedChart(
                name: "read-throughput",
                chart: LineChart(
                    title: "Read throughput vs shards", xLabel: "shards", yLabel: "records/s", series: series))
        ]
    }
}
