import ArgumentParser
import Foundation
import ShardLog
import ShardLogMapping

/// `shardlog bench idle`: the CPU an idle `shardlog map` process costs, over streams of many shards.
struct BenchIdle: AsyncParsableCommand {
    /// The subcommand's name, abstract and help.
    static let configuration = CommandConfiguration(
        commandName: "idle",
        abstract: "CPU of an idle `shardlog map` process (nothing to deliver) over streams of N shards.",
        discussion: """
            For each shard count: creates an empty stream in a fresh data directory, starts `shardlog map` on it as \
            a separate process (its handler is never invoked: nothing arrives), waits --warmup seconds for it to \
            start, then reads its CPU time from /proc/PID/stat over --duration seconds. Reported as percent of one \
            core. The measurement is repeated (at most twice) while other work uses more than --others-limit.
            """)

    /// Options shared by every workload.
    @OptionGroup var options: BenchOptions

    /// Shard counts, comma-separated.
    @Option(help: "Shard counts, comma-separated.")
    var shards = CommaSeparated<Int>([64, 1000])

    /// Seconds between starting the mapping and measuring.
    @Option(help: "Seconds between starting the mapping and measuring.")
    var warmup: Double = 3

    /// The mapping's handler (never invoked).
    @Option(help: "The mapping's handler (never invoked: the stream stays empty).")
    var handler = "exec:true"

    /// The `shardlog` executable to run `map` with (default: this one).
    @Option(help: "The shardlog executable to run `map` with (default: this one).")
    var shardlog: String?

    /// Rejects out-of-range options before anything runs.
    func validate() throws {
        try BenchValidation.require(shards.values, in: Limits.shardCount, "--shards")
        guard warmup >= 0, warmup <= 600 else {
            throw ValidationError("--warmup must be between 0 and 600 seconds, not \(warmup)")
        }
    }

    /// One measured point.
    struct Point: Codable, Sendable, Equatable {
        /// Shards of the stream.
        var shards: Int
        /// CPU of the `shardlog map` process, percent of one core, per run.
        var cpuPercentOfCore: Spread
        /// CPU of other work meanwhile (this process and the mapping excluded), percent of one core, per run.
        var othersCPUPercent: Spread
        /// Seconds each run measured.
        var measuredSeconds: Double
        /// The most measurements one run took (more than 1: other work exceeded --others-limit).
        var attempts = 1
        /// Whether some run stayed over --others-limit in every attempt.
        var contended = false
    }

    /// One measurement: the mapping's CPU and other work's, in percent of one core.
    struct Sample {
        /// The mapping process.
        var mapping: Double
        /// Everything else but this process.
        var others: Double
    }

    /// Measures every point and prints the results.
    func run() async throws {
        BenchInterrupt.install()
        let started = ContinuousClock.now
        let startedAt = iso8601Now()
        let executable = shardlog ?? Bundle.main.executablePath ?? CommandLine.arguments[0]
        var progress = BenchProgress(total: shards.values.count * options.repeats, quiet: options.quiet)
        var samples = Array(repeating: [Sample](), count: shards.values.count)
        var attempts = Array(repeating: 1, count: shards.values.count)
        var contended = Array(repeating: false, count: shards.values.count)
        rounds: for run in 1...options.repeats {
            for (index, shardCount) in shards.values.enumerated() {
                if BenchInterrupt.requested { break rounds }
                progress.starting("idle: map over \(shardCount) shards, run \(run)")
                let sample = try await withScratchDirectory(
                    parent: options.scratchDir, label: "idle-s\(shardCount)-r\(run)", keep: options.keep
                ) { directory in
                    try await measure(executable: executable, directory: directory, shards: shardCount)
                }
                guard let sample else { break rounds }  // interrupted during the measurement
                samples[index].append(sample.value)
                attempts[index] = max(attempts[index], sample.attempts)
                contended[index] = contended[index] || sample.contended
                progress.advance()
            }
        }
        progress.finish()
        let points = shards.values.enumerated().compactMap { index, shardCount -> Point? in
            guard !samples[index].isEmpty else { return nil }
            return Point(
                shards: shardCount, cpuPercentOfCore: Spread(samples[index].map(\.mapping)),
                othersCPUPercent: Spread(samples[index].map(\.others)), measuredSeconds: options.duration,
                attempts: attempts[index], contended: contended[index])
        }
        let document = BenchDocument(
            benchmark: "idle", command: benchCommandLine, startedAt: startedAt,
            elapsedSeconds: (ContinuousClock.now - started) / .seconds(1), machine: .current(),
            parameters: [
                "shards": shards.description, "warmup": String(warmup), "handler": handler,
                "duration": String(options.duration), "repeats": String(options.repeats),
            ],
            points: points,
            notes: [
                "CPU of an idle `shardlog map` process (handler \(handler), never invoked: the stream stays empty), "
                    + "from /proc/PID/stat over \(options.duration) s after \(warmup) s of start-up, in percent "
                    + "of one core."
            ])
        try options.emit(
            document, table: Self.table(points), charts: [], title: "ShardLog idle mapping benchmark")
    }

    /// Starts `shardlog map` over an empty stream of `shards` shards and measures its CPU; nil when interrupted.
    private func measure(
        executable: String, directory: String, shards: Int
    ) async throws -> (value: Sample, attempts: Int, contended: Bool)? {
        let data = directory + "/data"
        let store = try Store(directory: data)
        _ = try store.createStream(named: "idle", shardCount: shards)
        let log = directory + "/map.log"
        let process = try await ChildProcess.spawn(
            command: ChildProcess.execCommand(
                executable,
                ["--data-dir", data, "map", "idle", "--handler", handler, "--starting-position", "LATEST"]),
            directory: nil, environment: ProcessInfo.processInfo.environment, input: nil, output: try .file(log),
            errorOutput: nil)
        do {
            let measured = try await measure(process, log: log)
            await process.interrupt(grace: .seconds(10))
            return measured
        } catch {
            await process.interrupt(grace: .seconds(10))
            throw error
        }
    }

    /// Measures the running mapping's CPU after the warm-up; nil when interrupted.
    private func measure(
        _ process: ChildProcess, log: String
    ) async throws -> (value: Sample, attempts: Int, contended: Bool)? {
        guard try await BenchInterrupt.sleep(.milliseconds(Int64(warmup * 1000))) else { return nil }
        var interrupted = false
        let kept = try await options.leastContended(
            {
                let pid = process.pid
                let before = CPUSample.now()
                let mappingBefore = CPUSample.processCPUSeconds(pid: pid)
                interrupted = try await !BenchInterrupt.sleep(options.measureDuration)
                let after = CPUSample.now()
                let mappingAfter = CPUSample.processCPUSeconds(pid: pid)
                if let status = process.exitStatus {
                    let tail = (try? String(contentsOfFile: log, encoding: .utf8))?.suffix(2000) ?? ""
                    throw BenchError("shardlog map ended (\(status)) during the measurement: \(tail)")
                }
                let wall = (after.instant - before.instant) / .seconds(1)
                let mapping = max(0, mappingAfter - mappingBefore)
                let usage = after.usage(since: before)
                return Sample(
                    mapping: mapping / wall * 100, others: max(0, usage.others - mapping / wall * 100))
            }, others: { interrupted ? 0 : $0.others })
        return interrupted ? nil : kept
    }

    /// Stops a `shardlog` process (a mapping, a server) as Ctrl-C would, then with SIGTERM after 10 s.
    static func stop(_ process: Process) {
        guard process.isRunning else { return }
        process.interrupt()
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    /// The results table.
    static func table(_ points: [Point]) -> TextTable {
        TextTable(
            headers: ["shards", "map CPU % of a core", "spread", "others CPU %", "attempts"],
            rows: points.map { point in
                [
                    String(point.shards), NumberText.fixed(point.cpuPercentOfCore.median, 2),
                    NumberText.plusMinus(point.cpuPercentOfCore), NumberText.fixed(point.othersCPUPercent.median, 0),
                    String(point.attempts) + (point.contended ? " (contended)" : ""),
                ]
            })
    }
}
