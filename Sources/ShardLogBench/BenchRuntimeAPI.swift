import ArgumentParser
import Foundation
import Logging
import ShardLog
import ShardLogMapping

/// `shardlog bench runtime-api`: invocations/s through real handler processes speaking the Lambda Runtime API.
struct BenchRuntimeAPI: AsyncParsableCommand {
    /// The subcommand's name, abstract and help.
    static let configuration = CommandConfiguration(
        commandName: "runtime-api",
        abstract: "Invocations/s through Lambda Runtime API handler processes (one per concurrent batch).",
        discussion: """
            Each run fills a fresh stream with --records records, then an event source mapping with the \
            runtime-api handler kind delivers them from TRIM_HORIZON: shards × factor processes, each started with \
            AWS_LAMBDA_RUNTIME_API pointing at the mapping's loopback endpoint. Invocations/s and records/s are \
            counted from the mapping's metrics over --duration seconds, starting once every process has handled \
            two batches (so process start-up is not counted). The default handler is a Python function that \
            returns an empty batchItemFailures, run by awslambdaric (pip install awslambdaric). \
            With --baseline on (the default), each run is followed by the same number of the same handler \
            processes driven by a bare Runtime API loop (a minimal NIO server that only hands out one fixed event, \
            the first BatchSize records of the stream encoded as the mapping encodes them, and takes the \
            responses; no stream, no mapping), measured the same way; the point reports both rates and their ratio.
            """)

    /// Options shared by every workload.
    @OptionGroup var options: BenchOptions

    /// Shard counts, comma-separated.
    @Option(help: "Shard counts, comma-separated.")
    var shards = CommaSeparated<Int>([1])

    /// ParallelizationFactor values (1–10), comma-separated.
    @Option(help: "ParallelizationFactor values (1–10), comma-separated.")
    var parallelizationFactors = CommaSeparated<Int>([1, 2])

    /// BatchSize of the mapping (1–10000).
    @Option(help: "BatchSize of the mapping (1–10000).")
    var batchSize = 10

    /// Records in each run's backlog.
    @Option(help: "Records in each run's backlog.")
    var records = 20_000

    /// Bytes of data per record.
    @Option(help: "Bytes of data per record.")
    var recordSize = 100

    /// Handler command (default: python3 -m awslambdaric bench_handler.handler, a generated no-op).
    @Option(help: "Handler command (default: python3 -m awslambdaric bench_handler.handler, a generated no-op).")
    var handler: String?

    /// Working directory of the handler processes (with --handler).
    @Option(help: "Working directory of the handler processes (with --handler).")
    var handlerDirectory: String?

    /// Also measure a bare Runtime API loop with the same processes and event.
    @Option(help: "Also measure a bare Runtime API loop with the same processes and event (on | off).")
    var baseline = Toggle.on

    /// Rejects out-of-range options before anything runs.
    func validate() throws {
        try BenchValidation.require(shards.values, in: 1...1000, "--shards")
        try BenchValidation.require(parallelizationFactors.values, in: 1...10, "--parallelization-factors")
        try BenchValidation.recordSize(recordSize, minimum: 1)
        guard (1...10_000).contains(batchSize) else {
            throw ValidationError("--batch-size must be between 1 and 10000, not \(batchSize)")
        }
        guard (1...10_000_000).contains(records) else {
            throw ValidationError("--records must be between 1 and 10000000, not \(records)")
        }
        if handlerDirectory != nil && handler == nil {
            throw ValidationError("--handler-directory needs --handler")
        }
    }

    /// One measured point.
    struct Point: Codable, Sendable, Equatable {
        /// Shards of the stream.
        var shards: Int
        /// ParallelizationFactor.
        var parallelizationFactor: Int
        /// Handler processes: shards × factor.
        var processes: Int
        /// BatchSize.
        var batchSize: Int
        /// Invocations per second, per run.
        var invocationsPerSecond: Spread
        /// Records handled per second, per run.
        var recordsPerSecond: Spread
        /// CPU of this process, percent of one core, per run (handler processes not included).
        var cpuPercent: Spread
        /// CPU of everything else (handler processes included), percent of one core, per run.
        var othersCPUPercent: Spread
        /// Invocations per second of the bare Runtime API loop (same processes, handler and event), per run.
        var bareInvocationsPerSecond: Spread?
        /// CPU of this process (the bare server) during the bare loop, percent of one core, per run.
        var bareCPUPercent: Spread?
        /// The mapping's median invocations/s over the bare loop's.
        var fractionOfBare: Double?
    }

    /// The generated default handler.
    static let defaultHandlerSource = """
        def handler(event, context):
            return {"batchItemFailures": []}

        """

    /// Measures every point and prints the results.
    func run() async throws {
        BenchInterrupt.install()
        let started = ContinuousClock.now
        let startedAt = iso8601Now()
        var grid: [(shards: Int, factor: Int)] = []
        for shards in shards.values {
            for factor in parallelizationFactors.values { grid.append((shards, factor)) }
        }
        var progress = BenchProgress(total: grid.count * options.repeats, quiet: options.quiet)
        let payloads = PayloadKind.json.payloads(byteCount: recordSize, count: 1024)
        var logger = Logger(label: "shardlog.bench")
        logger.logLevel = .warning
        var points: [Point] = []
        for (shards, factor) in grid where !BenchInterrupt.requested {
            var invocations: [Double] = []
            var delivered: [Double] = []
            var own: [Double] = []
            var others: [Double] = []
            var bare: [Double] = []
            var bareCPU: [Double] = []
            let storeOptions = benchStoreOptions(durability: .none, compression: true, segmentMiB: options.segmentMib)
            try await withScratchDirectory(
                parent: options.scratchDir, label: "runtime-api-s\(shards)-p\(factor)", keep: options.keep
            ) { directory in
                let command: String
                let workingDirectory: String?
                if let handler {
                    command = handler
                    workingDirectory = handlerDirectory
                } else {
                    try Data(Self.defaultHandlerSource.utf8).write(
                        to: URL(fileURLWithPath: directory + "/bench_handler.py"))
                    command = "exec python3 -m awslambdaric bench_handler.handler"
                    workingDirectory = directory
                }
                let store = try Store(directory: directory + "/data", options: storeOptions)
                for run in 1...options.repeats where !BenchInterrupt.requested {
                    progress.starting("runtime-api: \(shards) shards, P \(factor), run \(run)")
                    let name = "runtime-\(run)"
                    let description = try store.createStream(named: name, shardCount: shards)
                    let stream = try store.stream(named: name)
                    let keys = KeyPlan.keys(
                        stream: stream, shardIds: description.shards.map(\.shardId), producers: 1, mode: .spread,
                        keysPerShard: max(100, 50 * factor))
                    let total = records
                    _ = try await onThreads(1) { _ in
                        try Producer(stream: stream, keys: keys[0], payloads: payloads, batchRecords: 1000)
                            .run(until: .now + .seconds(3600), limit: total)
                    }
                    let invoker = RuntimeAPIInvoker(
                        command: command, directory: workingDirectory, functionName: "bench", logger: logger)
                    let mapping = EventSourceMapping(
                        store: store, streamName: name, name: "bench-" + name,
                        configuration: MappingConfiguration(
                            startingPosition: .trimHorizon, batchSize: batchSize, parallelizationFactor: factor),
                        invoker: invoker, onFailure: nil, logger: logger)
                    let running = Task { try await mapping.run(exitWhenIdle: false) }
                    let measured: Window
                    do {
                        measured = try await measure(mapping, processes: shards * factor, records: total)
                    } catch {
                        mapping.stop()
                        _ = try? await running.value
                        throw error
                    }
                    mapping.stop()
                    _ = try await running.value
                    invocations.append(measured.invocationsPerSecond)
                    delivered.append(measured.recordsPerSecond)
                    own.append(measured.cpu.own)
                    others.append(measured.cpu.others)
                    if baseline.isOn && !BenchInterrupt.requested {
                        let event = try Self.event(stream: stream, streamName: name, batchSize: batchSize)
                        let measured = try await measureBare(
                            event: event, processes: shards * factor, command: command,
                            directory: workingDirectory ?? invoker.directory,
                            environment: invoker.runtimeEnvironment(port:),
                            functionARN: "arn:aws:lambda:us-east-1:000000000000:function:bench")
                        bare.append(measured.invocationsPerSecond)
                        bareCPU.append(measured.cpu.own)
                    }
                    if !options.keep { try store.deleteStream(named: name) }
                    progress.advance()
                }
            }
            guard !invocations.isEmpty else { break }
            points.append(
                Point(
                    shards: shards, parallelizationFactor: factor, processes: shards * factor, batchSize: batchSize,
                    invocationsPerSecond: Spread(invocations), recordsPerSecond: Spread(delivered),
                    cpuPercent: Spread(own), othersCPUPercent: Spread(others),
                    bareInvocationsPerSecond: bare.isEmpty ? nil : Spread(bare),
                    bareCPUPercent: bareCPU.isEmpty ? nil : Spread(bareCPU),
                    fractionOfBare: bare.isEmpty ? nil : Spread(invocations).median / Spread(bare).median))
        }
        progress.finish()
        let document = BenchDocument(
            benchmark: "runtime-api", command: benchCommandLine, startedAt: startedAt,
            elapsedSeconds: (ContinuousClock.now - started) / .seconds(1), machine: .current(),
            parameters: [
                "shards": shards.description, "parallelizationFactors": parallelizationFactors.description,
                "batchSize": String(batchSize), "records": String(records), "recordSize": String(recordSize),
                "handler": handler ?? "python3 -m awslambdaric bench_handler.handler (no-op)",
                "duration": String(options.duration), "repeats": String(options.repeats),
                "baseline": baseline.rawValue,
            ],
            points: points,
            notes: [
                "Invocations/s through Runtime API processes (one per shard × factor slot), BatchSize \(batchSize), "
                    + "over \(options.duration) s once every process has handled two batches; median and spread "
                    + "over \(options.repeats) runs.",
                "others CPU % includes the handler processes.",
                "Bare loop: after each run, the same number of the same handler processes take one fixed event "
                    + "(the stream's first \(batchSize) records, encoded as the mapping encodes them) from a minimal "
                    + "Runtime API server (NIO, one port) as fast as they can, measured the same way; fraction of "
                    + "bare = the mapping's median invocations/s over the bare loop's.",
            ])
        try options.emit(
            document, table: Self.table(points), charts: Self.charts(points),
            title: "ShardLog Runtime API benchmark")
    }

    /// What one run measured.
    struct Window {
        /// Invocations per second in the window.
        var invocationsPerSecond: Double
        /// Records handled per second in the window.
        var recordsPerSecond: Double
        /// CPU of this process and of everything else, percent of one core.
        var cpu: (own: Double, others: Double)
    }

    /// Counts invocations over the window that starts once each process has had two batches.
    private func measure(_ mapping: EventSourceMapping, processes: Int, records: Int) async throws -> Window {
        let clock = ContinuousClock()
        let giveUp = clock.now + .seconds(60) + options.measureDuration * 5
        var start: (instant: ContinuousClock.Instant, metrics: MappingMetrics, cpu: CPUSample)?
        while true {
            try await Task.sleep(for: .milliseconds(5))
            let now = clock.now
            let metrics = mapping.metrics
            let failed = metrics.functionErrors + metrics.serviceErrors
            guard failed == 0 else {
                throw BenchError(
                    "runtime-api: \(metrics.functionErrors) function errors and \(metrics.serviceErrors) service "
                        + "errors; is the handler runnable (python3 -m awslambdaric needs `pip install awslambdaric`)?")
            }
            if start == nil && metrics.batches >= processes * 2 && metrics.records < records {
                start = (now, metrics, CPUSample.now())
            }
            if let start, now - start.instant >= options.measureDuration || metrics.records >= records {
                let seconds = (now - start.instant) / .seconds(1)
                guard seconds > 0.01 else {
                    throw BenchError("runtime-api: the backlog drained during warm-up; raise --records")
                }
                return Window(
                    invocationsPerSecond: Double(metrics.batches - start.metrics.batches) / seconds,
                    recordsPerSecond: Double(metrics.records - start.metrics.records) / seconds,
                    cpu: CPUSample.now().usage(since: start.cpu))
            }
            if start == nil && metrics.records >= records {
                throw BenchError("runtime-api: the backlog drained during warm-up; raise --records")
            }
            guard now < giveUp else {
                throw BenchError("runtime-api: only \(metrics.batches) invocations before the time limit; it stalled")
            }
        }
    }

    /// The event the mapping would hand a handler for the first `batchSize` records of the stream's first shard.
    static func event(stream: DataStream, streamName: String, batchSize: Int) throws -> [UInt8] {
        let shardId = try stream.describe().shards[0].shardId
        var iterator = try stream.iterator(shardId: shardId, position: .trimHorizon)
        let records = try iterator.next(limit: batchSize)
        let encoder = KinesisEventEncoder(source: KinesisEventSource(streamName: streamName, shardId: shardId))
        return encoder.encode(
            records.map {
                EventRecord(
                    partitionKey: $0.partitionKey, sequenceNumber: $0.sequenceNumber, data: $0.data,
                    approximateArrivalTimestamp: Date(timeIntervalSince1970: Double($0.arrivalMilliseconds) / 1000))
            })
    }

    /// Runs `processes` handler processes against a bare Runtime API serving `event`, and counts their responses
    /// over the window that starts once they have posted two responses per process.
    private func measureBare(
        event: [UInt8], processes: Int, command: String, directory: String,
        environment: (Int) -> [String: String], functionARN: String
    ) async throws -> (invocationsPerSecond: Double, cpu: (own: Double, others: Double)) {
        let server = try await BareRuntimeAPIServer.start(event: event, functionARN: functionARN)
        let pool: BareRuntimeProcesses
        do {
            pool = try BareRuntimeProcesses(
                count: processes, command: command, directory: directory, environment: environment(server.port))
        } catch {
            await server.stop()
            throw error
        }
        let result: Result<(Double, (own: Double, others: Double)), any Error>
        do {
            let clock = ContinuousClock()
            let giveUp = clock.now + .seconds(60) + options.measureDuration * 5
            var start: (instant: ContinuousClock.Instant, responses: Int, cpu: CPUSample)?
            while true {
                try await Task.sleep(for: .milliseconds(5))
                let now = clock.now
                let responses = server.responseCount
                guard server.errorCount == 0 && pool.exited == 0 else {
                    throw BenchError(
                        "runtime-api: the bare loop's handler processes posted \(server.errorCount) errors and "
                            + "\(pool.exited) exited; is the handler runnable?")
                }
                if start == nil && responses >= processes * 2 { start = (now, responses, CPUSample.now()) }
                if let start, now - start.instant >= options.measureDuration {
                    let seconds = (now - start.instant) / .seconds(1)
                    result = .success(
                        (Double(responses - start.responses) / seconds, CPUSample.now().usage(since: start.cpu)))
                    break
                }
                guard now < giveUp, !BenchInterrupt.requested else {
                    throw BenchError("runtime-api: the bare loop stalled after \(responses) responses")
                }
            }
        } catch {
            result = .failure(error)
        }
        pool.stop()
        await server.stop()
        let (rate, cpu) = try result.get()
        return (rate, cpu)
    }

    /// The results table.
    static func table(_ points: [Point]) -> TextTable {
        TextTable(
            headers: [
                "shards", "P", "processes", "batch", "invocations/s", "spread", "records/s", "CPU %", "others CPU %",
                "bare loop inv/s", "× bare",
            ],
            rows: points.map { point in
                [
                    String(point.shards), String(point.parallelizationFactor), String(point.processes),
                    String(point.batchSize), NumberText.grouped(point.invocationsPerSecond.median),
                    NumberText.plusMinus(point.invocationsPerSecond), NumberText.grouped(point.recordsPerSecond.median),
                    NumberText.fixed(point.cpuPercent.median, 0), NumberText.fixed(point.othersCPUPercent.median, 0),
                    point.bareInvocationsPerSecond.map { NumberText.grouped($0.median) } ?? "-",
                    point.fractionOfBare.map { NumberText.fixed($0 * 100, 0) + "%" } ?? "-",
                ]
            })
    }

    /// Invocations/s vs handler processes.
    static func charts(_ points: [Point]) -> [NamedChart] {
        [
            NamedChart(
                name: "runtime-api-invocations",
                chart: LineChart(
                    title: "Runtime API invocations/s vs handler processes", xLabel: "processes",
                    yLabel: "invocations/s",
                    series: [
                        LineChart.Series(
                            name: "invocations/s",
                            points: points.map {
                                LineChart.Point(x: Double($0.processes), y: $0.invocationsPerSecond.median)
                            },
                            colorIndex: 0),
                        LineChart.Series(
                            name: "bare Runtime API loop",
                            points: points.compactMap { point in
                                point.bareInvocationsPerSecond.map {
                                    LineChart.Point(x: Double(point.processes), y: $0.median)
                                }
                            },
                            colorIndex: 1),
                    ]))
        ]
    }
}
