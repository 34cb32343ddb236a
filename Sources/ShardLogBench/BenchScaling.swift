import ArgumentParser
import Foundation
import ShardLog

/// `shardlog bench scaling`: ingest, delivery throughput through an event source mapping and put-to-handler
/// latency, over shard counts × parallelization factors × handler latencies.
struct BenchScaling: AsyncParsableCommand {
    /// The subcommand's name, abstract and help.
    static let configuration = CommandConfiguration(
        commandName: "scaling",
        abstract: "Delivery throughput and latency through an event source mapping vs shards and parallelization.",
        discussion: """
            Each run of a point: (1) the producers put a backlog into a fresh stream (the ingest figure); (2) a \
            mapping with an in-process handler that sleeps --handler-latency-ms per batch delivers it from \
            TRIM_HORIZON, and the delivered records/s are measured over --duration seconds after a short warm-up; \
            (3) a second mapping follows an empty stream while one producer offers --latency-rate records/s for \
            --duration seconds; each record carries its put time (continuous clock, ns), and the handler records \
            now minus that time in an HdrHistogram. The ideal line for a latency-bound handler is \
            shards × factor × BatchSize / latency.
            """)

    /// Options shared by every workload.
    @OptionGroup var options: BenchOptions

    /// Shard counts, comma-separated.
    @Option(help: "Shard counts, comma-separated.")
    var shards = CommaSeparated<Int>([1, 2, 4, 8, 16, 32])

    /// ParallelizationFactor values (1–10), comma-separated.
    @Option(help: "ParallelizationFactor values (1–10), comma-separated.")
    var parallelizationFactors = CommaSeparated<Int>([1, 2, 5, 10])

    /// Bytes of data per record (at least 8: the first 8 carry the put time).
    @Option(help: "Bytes of data per record (at least 8: the first 8 carry the put time).")
    var recordSize = 100

    /// Handler latencies in milliseconds, comma-separated.
    @Option(help: "Handler latencies in milliseconds, comma-separated.")
    var handlerLatencyMs = CommaSeparated<Double>([0, 10])

    /// BatchSize of the mapping (1–10000).
    @Option(help: "BatchSize of the mapping (1–10000).")
    var batchSize = 100

    /// Producer threads that put the backlog.
    @Option(help: "Producer threads that put the backlog.")
    var producers = 2

    /// Records/s offered during the latency phase.
    @Option(help: "Records/s offered during the latency phase.")
    var latencyRate = 5000.0

    /// Largest backlog put before the throughput phase (used as is with a 0 ms handler).
    @Option(help: "Largest backlog put before the throughput phase (used as is with a 0 ms handler).")
    var maxBacklog = 1_000_000

    /// Rejects out-of-range options before anything runs.
    func validate() throws {
        try BenchValidation.require(shards.values, in: Limits.shardCount, "--shards")
        try BenchValidation.require(parallelizationFactors.values, in: 1...10, "--parallelization-factors")
        try BenchValidation.require(handlerLatencyMs.values, in: 0...60_000, "--handler-latency-ms")
        try BenchValidation.recordSize(recordSize, minimum: 8)
        guard (1...10_000).contains(batchSize) else {
            throw ValidationError("--batch-size must be between 1 and 10000, not \(batchSize)")
        }
        guard (1...64).contains(producers) else {
            throw ValidationError("--producers must be between 1 and 64, not \(producers)")
        }
        guard latencyRate >= 1, latencyRate <= 10_000_000 else {
            throw ValidationError("--latency-rate must be between 1 and 10000000 records/s, not \(latencyRate)")
        }
        guard (1000...100_000_000).contains(maxBacklog) else {
            throw ValidationError("--max-backlog must be between 1000 and 100000000, not \(maxBacklog)")
        }
    }

    /// One measured point.
    struct Point: Codable, Sendable, Equatable {
        /// Shards of the stream.
        var shards: Int
        /// ParallelizationFactor.
        var parallelizationFactor: Int
        /// How long the handler sleeps per batch, in milliseconds.
        var handlerLatencyMilliseconds: Double
        /// BatchSize.
        var batchSize: Int
        /// Bytes of data per record.
        var recordByteCount: Int
        /// Records in each run's backlog.
        var backlogRecords: Int
        /// Ingest records/s while putting the backlog, per run.
        var ingestRecordsPerSecond: Spread
        /// Ingest data MB/s (10^6 bytes) while putting the backlog, per run.
        var ingestMegabytesPerSecond: Spread
        /// Records/s delivered to the handler, per run.
        var deliveryRecordsPerSecond: Spread
        /// Records per invocation in the measured window, per run (below BatchSize: lanes ran partial batches).
        var meanBatchSize: Spread?
        /// The handler's measured sleep per invocation, milliseconds, per run (its overshoot over the latency
        /// asked for is the sleep's, not the engine's).
        var meanHandlerMilliseconds: Spread?
        /// Start of a lane's batch to the start of its next, milliseconds, per run: the handler's time plus the
        /// engine's time between batches.
        var laneCycleMilliseconds: Spread?
        /// A bare loop of the handler's sleeps (one task per lane, no mapping) as a share of the ideal, per run; nil
        /// for a 0 ms handler.
        var sleepLoopFractionOfIdeal: Spread?
        /// CPU of this process per invocation while the mapping delivered, microseconds, per run.
        var cpuMicrosecondsPerInvocation: Spread?
        /// CPU of this process per delivered record while the mapping delivered, nanoseconds, per run.
        var cpuNanosecondsPerRecord: Spread?
        /// shards × factor × BatchSize / latency; nil for a 0 ms handler.
        var idealRecordsPerSecond: Double?
        /// Median delivery divided by the ideal; nil for a 0 ms handler.
        var fractionOfIdeal: Double?
        /// Records/s offered in the latency phase.
        var latencyOfferedRecordsPerSecond: Double
        /// Put-to-handler latency over all runs pooled.
        var latency: LatencySummary
        /// p99 put-to-handler latency in microseconds, per run.
        var latencyP99Microseconds: Spread
        /// CPU of this process during delivery, percent of one core, per run.
        var cpuPercent: Spread
        /// CPU of other work during delivery, percent of one core, per run.
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
        var grid: [(latency: Double, shards: Int, factor: Int)] = []
        for latency in handlerLatencyMs.values {
            for shards in shards.values {
                for factor in parallelizationFactors.values { grid.append((latency, shards, factor)) }
            }
        }
        var progress = BenchProgress(total: grid.count * options.repeats, quiet: options.quiet)
        let payloads = PayloadKind.json.payloads(byteCount: recordSize, count: 1024)
        // Rounds: every point once per round, so that other work on the machine affects all points alike.
        var results = Array(repeating: [DeliveryRun.Result](), count: grid.count)
        var backlogs = Array(repeating: 0, count: grid.count)
        var attempts = Array(repeating: 1, count: grid.count)
        var contended = Array(repeating: false, count: grid.count)
        rounds: for run in 1...options.repeats {
            for (index, (latencyMs, shards, factor)) in grid.enumerated() {
                if BenchInterrupt.requested { break rounds }
                let latency = Duration.microseconds(Int64((latencyMs * 1000).rounded()))
                let label = "s\(shards)-p\(factor)-l\(NumberText.fixed(latencyMs, 0))ms-r\(run)"
                let storeOptions = benchStoreOptions(
                    durability: .none, compression: true, segmentMiB: options.segmentMib)
                progress.starting(
                    "scaling: \(shards) shards, P \(factor), handler \(NumberText.fixed(latencyMs, 1)) ms, run \(run)")
                let kept = try await options.leastContended(
                    {
                        try await withScratchDirectory(parent: options.scratchDir, label: label, keep: options.keep) {
                            directory -> (backlog: Int, result: DeliveryRun.Result) in
                            let delivery = DeliveryRun(
                                store: try Store(directory: directory, options: storeOptions), shards: shards,
                                parallelizationFactor: factor, batchSize: batchSize, handlerLatency: latency,
                                producers: producers, payloads: payloads, duration: options.measureDuration,
                                maximumBacklog: maxBacklog, latencyRate: latencyRate, deleteStreams: !options.keep,
                                name: "run-\(run)")
                            return (delivery.backlog, try await delivery.run())
                        }
                    }, others: { $0.result.othersCPUPercent })
                backlogs[index] = kept.value.backlog
                results[index].append(kept.value.result)
                attempts[index] = max(attempts[index], kept.attempts)
                contended[index] = contended[index] || kept.contended
                progress.advance()
            }
        }
        let points = grid.enumerated().compactMap { index, point -> Point? in
            guard !results[index].isEmpty else { return nil }
            var measured = self.point(
                shards: point.shards, factor: point.factor, latencyMs: point.latency, backlog: backlogs[index],
                results[index])
            measured.attempts = attempts[index]
            measured.contended = contended[index]
            return measured
        }
        progress.finish()
        let document = BenchDocument(
            benchmark: "scaling", command: benchCommandLine, startedAt: startedAt,
            elapsedSeconds: (ContinuousClock.now - started) / .seconds(1), machine: .current(),
            parameters: [
                "shards": shards.description, "parallelizationFactors": parallelizationFactors.description,
                "recordSize": String(recordSize), "handlerLatencyMs": handlerLatencyMs.description,
                "batchSize": String(batchSize), "producers": String(producers),
                "latencyRate": NumberText.fixed(latencyRate, 0), "maxBacklog": String(maxBacklog),
                "duration": String(options.duration), "repeats": String(options.repeats),
            ],
            points: points,
            notes: [
                "Delivery: records/s handed to an in-process handler through the event source mapping (BatchSize "
                    + "\(batchSize), from TRIM_HORIZON of a backlog), over \(options.duration) s after a warm-up; "
                    + "median and spread over \(options.repeats) runs taken in rounds (every point once per round), "
                    + "each in a fresh data directory. Ideal = shards × factor × BatchSize / latency.",
                "Keys: 100 / factor (at least 50) partition keys per lane of each shard, chosen so that every lane "
                    + "gets the same share of its shard's records, as the ideal assumes: a lane runs one batch at a "
                    + "time, so a shard whose busiest lane gets a share s delivers at most 1 / (factor × s) of the "
                    + "ideal (keys drawn at random bound most points of this grid below 95%).",
                "Sleep loop: as many tasks as lanes, each sleeping the handler latency in a loop for the same "
                    + "duration with no mapping; its cycles as a share of the ideal (what the sleeps alone allow).",
                "Per invocation: records/invocation, the handler's measured sleep and a lane's cycle (start of a "
                    + "batch to the start of its next: lanes × window / invocations) over the measured window; "
                    + "this process's CPU per invocation and per record over the whole throughput phase.",
                "Latency: put-to-handler (from just before putRecords to the handler's first line), at "
                    + "\(NumberText.grouped(latencyRate)) records/s offered, all runs pooled in one HdrHistogram.",
                "Ingest: records/s while \(producers) producer threads put the backlog with putRecords "
                    + "(1000 records per call, keys spread over all shards).",
            ])
        try options.emit(
            document, table: Self.table(points), charts: Self.charts(points), title: "ShardLog scaling benchmark")
    }

    private func point(
        shards: Int, factor: Int, latencyMs: Double, backlog: Int, _ results: [DeliveryRun.Result]
    ) -> Point {
        var pooled = LatencyHistogram()
        for result in results { pooled.add(result.latencies) }
        let delivery = Spread(results.map(\.deliveryRecordsPerSecond))
        let ideal = DeliveryRun.ideal(
            shards: shards, parallelizationFactor: factor, batchSize: batchSize,
            handlerLatency: .microseconds(Int64((latencyMs * 1000).rounded())))
        return Point(
            shards: shards, parallelizationFactor: factor, handlerLatencyMilliseconds: latencyMs,
            batchSize: batchSize, recordByteCount: recordSize, backlogRecords: backlog,
            ingestRecordsPerSecond: Spread(results.map { Double($0.ingest.records) / max($0.ingestSeconds, 1e-9) }),
            ingestMegabytesPerSecond: Spread(
                results.map { Double($0.ingest.bytes) / max($0.ingestSeconds, 1e-9) / 1e6 }),
            deliveryRecordsPerSecond: delivery, meanBatchSize: Spread(results.map(\.meanBatchSize)),
            meanHandlerMilliseconds: Spread(results.map(\.meanHandlerMilliseconds)),
            laneCycleMilliseconds: Spread(results.map(\.laneCycleMilliseconds)),
            sleepLoopFractionOfIdeal: ideal == nil ? nil : Spread(results.compactMap(\.sleepLoopFractionOfIdeal)),
            cpuMicrosecondsPerInvocation: Spread(results.map(\.cpuMicrosecondsPerInvocation)),
            cpuNanosecondsPerRecord: Spread(results.map(\.cpuNanosecondsPerRecord)), idealRecordsPerSecond: ideal,
            fractionOfIdeal: ideal.map { delivery.median / $0 }, latencyOfferedRecordsPerSecond: latencyRate,
            latency: pooled.summary,
            latencyP99Microseconds: Spread(results.map { $0.latencies.microseconds(atPercentile: 99) }),
            cpuPercent: Spread(results.map(\.cpuPercent)), othersCPUPercent: Spread(results.map(\.othersCPUPercent)),
            attempts: 1, contended: false)
    }

    /// The results table.
    static func table(_ points: [Point]) -> TextTable {
        TextTable(
            headers: [
                "shards", "P", "handler ms", "ingest rec/s", "ingest MB/s", "delivered rec/s", "spread", "ideal rec/s",
                "% ideal", "sleep loop %", "batch", "handler ms", "cycle ms", "CPU µs/inv", "CPU ns/rec", "p50", "p99",
                "p99.9",
                "others CPU %",
            ],
            rows: points.map { point in
                [
                    String(point.shards), String(point.parallelizationFactor),
                    NumberText.fixed(point.handlerLatencyMilliseconds, point.handlerLatencyMilliseconds < 1 ? 1 : 0),
                    NumberText.grouped(point.ingestRecordsPerSecond.median),
                    NumberText.fixed(point.ingestMegabytesPerSecond.median, 1),
                    NumberText.grouped(point.deliveryRecordsPerSecond.median),
                    NumberText.plusMinus(point.deliveryRecordsPerSecond),
                    point.idealRecordsPerSecond.map(NumberText.grouped) ?? "-",
                    point.fractionOfIdeal.map { NumberText.fixed($0 * 100, 0) } ?? "-",
                    point.sleepLoopFractionOfIdeal.map { NumberText.fixed($0.median * 100, 0) } ?? "-",
                    point.meanBatchSize.map { NumberText.fixed($0.median, 1) } ?? "-",
                    point.handlerLatencyMilliseconds > 0
                        ? point.meanHandlerMilliseconds.map { NumberText.fixed($0.median, 2) } ?? "-" : "-",
                    point.laneCycleMilliseconds.map { NumberText.fixed($0.median, 2) } ?? "-",
                    point.cpuMicrosecondsPerInvocation.map { NumberText.fixed($0.median, 1) } ?? "-",
                    point.cpuNanosecondsPerRecord.map { NumberText.fixed($0.median, 0) } ?? "-",
                    NumberText.duration(microseconds: point.latency.p50Microseconds),
                    NumberText.duration(microseconds: point.latency.p99Microseconds),
                    NumberText.duration(microseconds: point.latency.p999Microseconds),
                    NumberText.fixed(point.othersCPUPercent.median, 0),
                ]
            })
    }

    /// Per handler latency: delivery throughput vs shards (one line per factor, the ideal dashed) and latency
    /// percentiles vs shards; plus ingest vs shards.
    static func charts(_ points: [Point]) -> [NamedChart] {
        var latencies: [Double] = []
        var factors: [Int] = []
        for point in points {
            if !latencies.contains(point.handlerLatencyMilliseconds) {
                latencies.append(point.handlerLatencyMilliseconds)
            }
            if !factors.contains(point.parallelizationFactor) { factors.append(point.parallelizationFactor) }
        }
        var charts: [NamedChart] = []
        for latency in latencies {
            let ms = NumberText.fixed(latency, latency < 1 && latency > 0 ? 1 : 0)
            let slug = ms.replacingOccurrences(of: ".", with: "_")
            let members = points.filter { $0.handlerLatencyMilliseconds == latency }
            var series: [LineChart.Series] = []
            for (index, factor) in factors.enumerated() {
                let line = members.filter { $0.parallelizationFactor == factor }
                guard !line.isEmpty else { continue }
                series.append(
                    LineChart.Series(
                        name: "P=\(factor)",
                        points: line.map {
                            LineChart.Point(x: Double($0.shards), y: $0.deliveryRecordsPerSecond.median)
                        },
                        colorIndex: index))
                let ideal = line.compactMap { point in
                    point.idealRecordsPerSecond.map { LineChart.Point(x: Double(point.shards), y: $0) }
                }
                if !ideal.isEmpty {
                    series.append(
                        LineChart.Series(name: "P=\(factor) ideal", points: ideal, colorIndex: index, dashed: true))
                }
            }
            let batch = members.first.map { ", BatchSize \($0.batchSize)" } ?? ""
            charts.append(
                NamedChart(
                    name: "delivery-\(slug)ms",
                    chart: LineChart(
                        title: "Delivery throughput vs shards (handler \(ms) ms\(batch))", xLabel: "shards",
                        yLabel: "records/s delivered", series: series)))
            let percentiles: [(String, String, KeyPath<LatencySummary, Double>)] = [
                ("p50", "p50", \.p50Microseconds), ("p99", "p99", \.p99Microseconds),
                ("p99.9", "p999", \.p999Microseconds),
            ]
            for (title, name, path) in percentiles {
                let latencySeries = factors.enumerated().compactMap { index, factor -> LineChart.Series? in
                    let line = members.filter { $0.parallelizationFactor == factor }
                    guard !line.isEmpty else { return nil }
                    return LineChart.Series(
                        name: "P=\(factor)",
                        points: line.map { LineChart.Point(x: Double($0.shards), y: $0.latency[keyPath: path] / 1000) },
                        colorIndex: index)
                }
                charts.append(
                    NamedChart(
                        name: "latency-\(name)-\(slug)ms",
                        chart: LineChart(
                            title: "Put-to-handler latency \(title) vs shards (handler \(ms) ms)", xLabel: "shards",
                            yLabel: "milliseconds", series: latencySeries)))
            }
        }
        var shardCounts: [Int] = []
        for point in points where !shardCounts.contains(point.shards) { shardCounts.append(point.shards) }
        let ingest = shardCounts.map { shards in
            LineChart.Point(
                x: Double(shards),
                y: Statistics.median(
                    sorted: points.filter { $0.shards == shards }.map(\.ingestRecordsPerSecond.median).sorted()))
        }
        charts.append(
            NamedChart(
                name: "ingest-throughput",
                chart: LineChart(
                    title: "Ingest throughput vs shards (backlog puts)", xLabel: "shards", yLabel: "records/s",
                    series: [LineChart.Series(name: "ingest", points: ingest, colorIndex: 0)])))
        return charts
    }
}
