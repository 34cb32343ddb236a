import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import ShardLogMapping

/// `shardlog bench lambda`: synchronous `Invoke` of a deployed Python function through `shardlog serve`'s Lambda
/// API: warm latency with a thin HTTP client and with boto3, cold starts, invocations/s with several boto3 clients.
struct BenchLambda: AsyncParsableCommand {
    /// The subcommand's name, abstract and help.
    static let configuration = CommandConfiguration(
        commandName: "lambda",
        abstract: "Invoke latency, cold starts and invocations/s of a Python function deployed on `shardlog serve`.",
        discussion: """
            Starts `shardlog serve` (this executable) on 127.0.0.1 with a fresh data directory, without \
            --credentials, and deploys a Python function (`def handler(event, context): return os.getpid()`, \
            python3.x runtime, run by the local python3 with awslambdaric) once per repeat. Measured: the first \
            Invoke after CreateFunction (cold start: the runtime process starts), then --invocations warm \
            synchronous Invokes with a thin client (HTTP/1.1 keep-alive from Swift, a prebuilt request, no \
            signing) and the same with boto3 (scripts/bench_lambda.py), latency per call as the client sees it; \
            invocations/s with N boto3 client processes for --duration seconds; and, after \
            --function-idle-timeout, the first Invoke once the idle process was stopped (cold again). Other work's \
            CPU during each measurement is the machine's busy time minus this process's tree (the server, its \
            runtime processes, the Python clients).
            """)

    /// Options shared by every workload.
    @OptionGroup var options: BenchOptions

    /// Warm invocations measured per client kind and repeat.
    @Option(help: "Warm invocations measured per client kind and repeat (after 50 not measured).")
    var invocations = 2000

    /// Concurrent boto3 client processes, comma-separated.
    @Option(help: "Concurrent boto3 client processes for invocations/s, comma-separated.")
    var clients = CommaSeparated<Int>([1, 4])

    /// `serve --function-idle-timeout` of the measured server, in seconds.
    @Option(help: "The server's --function-idle-timeout in seconds (then the cold start after an idle stop).")
    var idleTimeout: Double = 3

    /// The Python with boto3 (default: .venv/bin/python3 when it exists, else python3).
    @Option(help: "The Python with boto3 (default: .venv/bin/python3 when it exists, else python3).")
    var python: String?

    /// The boto3 side.
    @Option(help: "The boto3 side of the benchmark.")
    var boto3Script = "scripts/bench_lambda.py"

    /// The `shardlog` executable to run `serve` with (default: this one).
    @Option(help: "The shardlog executable to run `serve` with (default: this one).")
    var shardlog: String?

    /// Rejects out-of-range options before anything runs.
    func validate() throws {
        guard (10...1_000_000).contains(invocations) else {
            throw ValidationError("--invocations must be between 10 and 1000000, not \(invocations)")
        }
        try BenchValidation.require(clients.values, in: 1...64, "--clients")
        guard idleTimeout >= 0.5, idleTimeout <= 600 else {
            throw ValidationError("--idle-timeout must be between 0.5 and 600 seconds, not \(idleTimeout)")
        }
        guard FileManager.default.fileExists(atPath: boto3Script) else {
            throw ValidationError(
                "--boto3-script \(boto3Script) does not exist (run from the repository root, or give its path)")
        }
    }

    /// One measured point.
    struct Point: Codable, Sendable, Equatable {
        /// `warm-invoke`, `cold-start` or `throughput`.
        var measurement: String
        /// `thin` (Swift, HTTP/1.1 keep-alive) or `boto3`.
        var client: String
        /// Concurrent clients.
        var clients: Int
        /// For a cold start: `create` (first Invoke after CreateFunction) or `idle-stop` (after the idle process
        /// was stopped).
        var after: String?
        /// Warm: invocations timed per run.
        var invocations: Int?
        /// Warm: median latency per run, µs.
        var p50Microseconds: Spread?
        /// Warm: 99th percentile latency per run, µs.
        var p99Microseconds: Spread?
        /// Cold: the first Invoke's latency, ms, per run.
        var coldStartMilliseconds: Spread?
        /// Throughput: successful invocations per second, per run.
        var invocationsPerSecond: Spread?
        /// Throughput: failed or throttled invocations, per run.
        var errors: Spread?
        /// CPU of other work meanwhile, percent of one core, per run.
        var othersCPUPercent: Spread
    }

    /// Measures and prints the results.
    func run() async throws {
        BenchInterrupt.install()
        let started = ContinuousClock.now
        let startedAt = iso8601Now()
        let executable = shardlog ?? Bundle.main.executablePath ?? CommandLine.arguments[0]
        let python =
            self.python
            ?? (FileManager.default.isExecutableFile(atPath: ".venv/bin/python3")
                ? FileManager.default.currentDirectoryPath + "/.venv/bin/python3" : "python3")
        let points = try await withScratchDirectory(parent: options.scratchDir, label: "lambda", keep: options.keep) {
            directory in
            let server = try await LambdaBenchServer.start(
                executable: executable, directory: directory, idleTimeout: idleTimeout)
            do {
                let points = try await measure(server: server, directory: directory, python: python)
                await server.stop()
                return points
            } catch {
                await server.stop()
                throw error
            }
        }
        let document = BenchDocument(
            benchmark: "lambda", command: benchCommandLine, startedAt: startedAt,
            elapsedSeconds: (ContinuousClock.now - started) / .seconds(1), machine: .current(),
            parameters: [
                "invocations": String(invocations), "clients": clients.description,
                "idleTimeout": String(idleTimeout), "duration": String(options.duration),
                "repeats": String(options.repeats),
            ],
            points: points,
            notes: [
                "Synchronous Invoke of a Python function (python3 + awslambdaric, one process per concurrency slot) "
                    + "through `shardlog serve` on 127.0.0.1 without --credentials; latency as the client sees it.",
                "thin: HTTP/1.1 keep-alive from Swift with a prebuilt request; boto3: `lambda.invoke` in a loop "
                    + "(scripts/bench_lambda.py).",
                "Cold start: the first Invoke after CreateFunction, and the first after the idle process was "
                    + "stopped by --function-idle-timeout.",
            ])
        try options.emit(document, table: Self.table(points), charts: [], title: "ShardLog Lambda Invoke benchmark")
    }

    private func measure(server: LambdaBenchServer, directory: String, python: String) async throws -> [Point] {
        let zip = try await Self.functionZip(directory: directory, python: python)
        let pythonVersion = await Self.localPythonVersion() ?? "3.11"
        let connection = try await ThinHTTPConnection.connect(port: server.port, group: .singleton)
        defer { connection.close() }
        var cold: [Double] = []
        var coldOthers: [Double] = []
        var thinP50: [Double] = []
        var thinP99: [Double] = []
        var thinOthers: [Double] = []
        var botoP50: [Double] = []
        var botoP99: [Double] = []
        var botoOthers: [Double] = []
        var names: [String] = []
        var warmPids = Set<String>()
        var progress = BenchProgress(total: options.repeats * (3 + clients.values.count) + 1, quiet: options.quiet)
        for run in 1...options.repeats {
            if BenchInterrupt.requested { break }
            let name = "bench\(run)"
            names.append(name)
            progress.starting("lambda: create \(name) and its cold start")
            let created = try await connection.send(
                Self.createRequest(name: name, zip: zip, pythonVersion: pythonVersion))
            guard created.status == 201 else {
                throw BenchError("CreateFunction answered \(created.status): \(created.text)")
            }
            let invoke = Self.invokeRequest(name: name)
            let before = TreeCPU.sample()
            let start = ContinuousClock.now
            let first = try await connection.send(invoke)
            let coldTime = ContinuousClock.now - start
            try Self.check(first)
            cold.append(coldTime / .milliseconds(1))
            coldOthers.append(TreeCPU.sample().others(since: before))
            warmPids.insert(first.text)
            progress.advance()

            progress.starting("lambda: \(invocations) warm invokes of \(name), thin client")
            for _ in 0..<50 { try Self.check(try await connection.send(invoke)) }
            let thinBefore = TreeCPU.sample()
            var samples: [Double] = []
            samples.reserveCapacity(invocations)
            for _ in 0..<invocations {
                let t0 = ContinuousClock.now
                let response = try await connection.send(invoke)
                samples.append((ContinuousClock.now - t0) / .microseconds(1))
                try Self.check(response)
            }
            thinOthers.append(TreeCPU.sample().others(since: thinBefore))
            samples.sort()
            thinP50.append(Self.percentile(samples, 0.5))
            thinP99.append(Self.percentile(samples, 0.99))
            progress.advance()

            progress.starting("lambda: \(invocations) warm invokes of \(name), boto3")
            let botoBefore = TreeCPU.sample()
            let latency = try await Self.runBoto3(
                python, [boto3Script, "latency", server.endpoint, name, String(invocations), "50"])
            botoOthers.append(TreeCPU.sample().others(since: botoBefore))
            guard let values = latency.microseconds else {
                throw BenchError("bench_lambda.py latency printed no microseconds")
            }
            let sorted = values.sorted()
            botoP50.append(Self.percentile(sorted, 0.5))
            botoP99.append(Self.percentile(sorted, 0.99))
            progress.advance()
        }
        var points: [Point] = []
        guard !names.isEmpty else { return points }
        points.append(
            Point(
                measurement: "warm-invoke", client: "thin", clients: 1, invocations: invocations,
                p50Microseconds: Spread(thinP50), p99Microseconds: Spread(thinP99),
                othersCPUPercent: Spread(thinOthers)))
        points.append(
            Point(
                measurement: "warm-invoke", client: "boto3", clients: 1, invocations: invocations,
                p50Microseconds: Spread(botoP50), p99Microseconds: Spread(botoP99),
                othersCPUPercent: Spread(botoOthers)))
        points.append(
            Point(
                measurement: "cold-start", client: "thin", clients: 1, after: "create",
                coldStartMilliseconds: Spread(cold), othersCPUPercent: Spread(coldOthers)))
        for count in clients.values {
            var rates: [Double] = []
            var errors: [Double] = []
            var others: [Double] = []
            for run in 1...options.repeats {
                if BenchInterrupt.requested { break }
                progress.starting("lambda: \(count) boto3 clients for \(options.duration) s, run \(run)")
                let before = TreeCPU.sample()
                let result = try await Self.runBoto3(
                    python,
                    [boto3Script, "throughput", server.endpoint, names[0], String(count), String(options.duration)])
                others.append(TreeCPU.sample().others(since: before))
                guard let done = result.invocations, let seconds = result.seconds, seconds > 0 else {
                    throw BenchError("bench_lambda.py throughput printed no invocations and seconds")
                }
                rates.append(done / seconds)
                errors.append(result.errors ?? 0)
                progress.advance()
            }
            if !rates.isEmpty {
                points.append(
                    Point(
                        measurement: "throughput", client: "boto3", clients: count,
                        invocationsPerSecond: Spread(rates), errors: Spread(errors), othersCPUPercent: Spread(others)))
            }
        }
        // Every process idles now: wait for the server to stop them, then time the first Invoke of each function.
        progress.starting("lambda: cold starts after --function-idle-timeout \(idleTimeout) s")
        guard try await BenchInterrupt.sleep(.milliseconds(Int64(idleTimeout * 1500) + 500)) else { return points }
        var idleCold: [Double] = []
        var idleOthers: [Double] = []
        // A new connection: the first one may have idled past the server's keep-alive timeout meanwhile.
        let fresh = try await ThinHTTPConnection.connect(port: server.port, group: .singleton)
        defer { fresh.close() }
        for name in names {
            let before = TreeCPU.sample()
            let start = ContinuousClock.now
            let response = try await fresh.send(Self.invokeRequest(name: name))
            let elapsed = ContinuousClock.now - start
            try Self.check(response)
            guard !warmPids.contains(response.text) else {
                throw BenchError(
                    "the runtime process of \(name) (pid \(response.text)) was not stopped after \(idleTimeout) s idle")
            }
            idleCold.append(elapsed / .milliseconds(1))
            idleOthers.append(TreeCPU.sample().others(since: before))
        }
        progress.advance()
        progress.finish()
        points.append(
            Point(
                measurement: "cold-start", client: "thin", clients: 1, after: "idle-stop",
                coldStartMilliseconds: Spread(idleCold), othersCPUPercent: Spread(idleOthers)))
        return points
    }

    private static func check(_ response: ThinHTTPResponse) throws {
        guard response.status == 200, !response.functionError else {
            throw BenchError("Invoke answered \(response.status): \(response.text)")
        }
    }

    /// The `p`-quantile of sorted values (nearest rank).
    static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        let rank = Int((p * Double(sorted.count)).rounded(.up)) - 1
        return sorted[min(max(rank, 0), sorted.count - 1)]
    }

    /// A zip of `app.py` (made with Python's zipfile module).
    private static func functionZip(directory: String, python: String) async throws -> Data {
        let source = directory + "/function"
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        try "import os\n\n\ndef handler(event, context):\n    return os.getpid()\n".write(
            toFile: source + "/app.py", atomically: true, encoding: .utf8)
        let zipped = try await Command.run(
            python, ["-m", "zipfile", "-c", directory + "/function.zip", "app.py"], directory: source)
        guard zipped.status == .exited(0) else {
            throw BenchError("\(python) -m zipfile could not zip app.py (\(zipped.status)): \(zipped.errorOutput)")
        }
        return try Data(contentsOf: URL(fileURLWithPath: directory + "/function.zip"))
    }

    private static func createRequest(name: String, zip: Data, pythonVersion: String) -> [UInt8] {
        let version = pythonVersion
        let body =
            #"{"FunctionName":"\#(name)","Runtime":"python\#(version)","Handler":"app.handler","#
            + #""Role":"arn:aws:iam::000000000000:role/bench","Code":{"ZipFile":"\#(zip.base64EncodedString())"}}"#
        return request("POST", "/2015-03-31/functions", body: Array(body.utf8))
    }

    private static func invokeRequest(name: String) -> [UInt8] {
        request("POST", "/2015-03-31/functions/\(name)/invocations", body: Array("{}".utf8))
    }

    private static func request(_ method: String, _ path: String, body: [UInt8]) -> [UInt8] {
        let head =
            "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + "Content-Length: \(body.count)\r\n\r\n"
        return Array(head.utf8) + body
    }

    /// `3.11` for the local `python3`, so the function asks for the runtime it gets.
    private static func localPythonVersion() async -> String? {
        await Command.output("python3", ["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
    }

    /// What `bench_lambda.py` prints.
    struct Boto3Output: Decodable {
        var microseconds: [Double]?
        var invocations: Double?
        var seconds: Double?
        var errors: Double?
    }

    /// Runs the boto3 script and parses the JSON object it prints.
    private static func runBoto3(_ python: String, _ arguments: [String]) async throws -> Boto3Output {
        let result = try await Command.run(python, arguments)
        guard result.status == .exited(0),
            let output = try? JSONDecoder().decode(Boto3Output.self, from: Data(result.output))
        else {
            throw BenchError(
                "\(python) \(arguments.joined(separator: " ")) failed (\(result.status)): "
                    + String(result.errorOutput.suffix(2000)))
        }
        return output
    }

    /// The results table.
    static func table(_ points: [Point]) -> TextTable {
        TextTable(
            headers: [
                "measurement", "client", "clients", "p50 µs", "p99 µs", "cold ms", "invocations/s", "others CPU %",
            ],
            rows: points.map { point in
                [
                    point.measurement + (point.after.map { " (after \($0))" } ?? ""), point.client,
                    String(point.clients), point.p50Microseconds.map { NumberText.fixed($0.median, 0) } ?? "-",
                    point.p99Microseconds.map { NumberText.fixed($0.median, 0) } ?? "-",
                    point.coldStartMilliseconds.map { NumberText.fixed($0.median, 1) } ?? "-",
                    point.invocationsPerSecond.map { NumberText.fixed($0.median, 0) } ?? "-",
                    NumberText.fixed(point.othersCPUPercent.median, 0),
                ]
            })
    }
}

/// `shardlog serve` as a child process on 127.0.0.1 (port 0, the bound port read from its log).
struct LambdaBenchServer {
    let process: ChildProcess
    let port: Int
    var endpoint: String { "http://127.0.0.1:\(port)" }

    /// Starts the server and waits (at most 30 s) until its log names the port it listens on.
    /// - Throws: ``BenchError`` with the log's tail when it does not start listening.
    static func start(executable: String, directory: String, idleTimeout: Double) async throws -> LambdaBenchServer {
        let log = directory + "/serve.log"
        let process = try await ChildProcess.spawn(
            command: ChildProcess.execCommand(
                executable,
                [
                    "--data-dir", directory + "/data", "serve", "--host", "127.0.0.1", "--port", "0",
                    "--function-idle-timeout", String(idleTimeout),
                ]),
            directory: nil, environment: ProcessInfo.processInfo.environment, input: nil, output: try .file(log),
            errorOutput: nil)
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline && process.exitStatus == nil {
            try await Task.sleep(for: .milliseconds(50))
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if let range = text.range(of: "listening on http://127.0.0.1:"),
                let port = Int(text[range.upperBound...].prefix { $0.isNumber })
            {
                return LambdaBenchServer(process: process, port: port)
            }
        }
        await process.stop(grace: .seconds(2))
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        throw BenchError("shardlog serve did not start listening within 30 s: \(text.suffix(2000))")
    }

    /// Stops the server as Ctrl-C would (it stops its runtime processes), then with SIGTERM after 10 s.
    func stop() async { await process.interrupt(grace: .seconds(10)) }
}

/// CPU of this process's tree (itself, its children and theirs: the server, its runtime processes, the Python
/// clients, with the children already reaped) and of the whole machine.
struct TreeCPU {
    var instant: ContinuousClock.Instant
    var tree: Double
    var machine: Double

    static func sample() -> TreeCPU {
        TreeCPU(instant: .now, tree: treeSeconds(), machine: CPUSample.machineBusySeconds())
    }

    /// Other work's CPU since `start`, percent of one core.
    func others(since start: TreeCPU) -> Double {
        let wall = (instant - start.instant) / .seconds(1)
        guard wall > 0 else { return 0 }
        return max(0, (machine - start.machine) - (tree - start.tree)) / wall * 100
    }

    /// utime + stime + cutime + cstime of this process and its descendants, seconds.
    static func treeSeconds() -> Double {
        let root = ProcessInfo.processInfo.processIdentifier
        var parents: [Int32: Int32] = [:]
        var seconds: [Int32: Double] = [:]
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries {
            guard let pid = Int32(entry),
                let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            // After the command: state ppid … utime(14) stime(15) cutime(16) cstime(17), counted from 3.
            guard fields.count > 14, let parent = Int32(fields[1]) else { continue }
            parents[pid] = parent
            seconds[pid] = fields[11...14].compactMap { Double($0) }.reduce(0, +)
        }
        var total = 0.0
        for (pid, value) in seconds {
            var current = pid
            var depth = 0
            while current != root, let parent = parents[current], parent > 1, depth < 64 {
                current = parent
                depth += 1
            }
            if current == root { total += value }
        }
        let ticks = sysconf(Int32(_SC_CLK_TCK))
        return total / (ticks > 0 ? Double(ticks) : 100)
    }
}

/// An HTTP/1.1 response as the thin client reads it.
struct ThinHTTPResponse: Sendable {
    var status: Int
    var functionError: Bool
    var body: [UInt8]
    var text: String { String(decoding: body, as: UTF8.self) }
}

/// One keep-alive HTTP/1.1 connection that sends prebuilt requests one at a time and reads each response by its
/// `Content-Length`: as little client work per call as a client can do.
final class ThinHTTPConnection: Sendable {
    let channel: any Channel

    private init(channel: any Channel) { self.channel = channel }

    static func connect(port: Int, group: MultiThreadedEventLoopGroup) async throws -> ThinHTTPConnection {
        let channel = try await ClientBootstrap(group: group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ThinHTTPHandler())
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        return ThinHTTPConnection(channel: channel)
    }

    /// Sends `request` and waits for its response.
    func send(_ request: [UInt8]) async throws -> ThinHTTPResponse {
        let promise = channel.eventLoop.makePromise(of: ThinHTTPResponse.self)
        channel.writeAndFlush(ThinHTTPHandler.Request(bytes: ByteBuffer(bytes: request), promise: promise))
            .cascadeFailure(to: promise)
        return try await promise.futureResult.get()
    }

    func close() {
        channel.close(promise: nil)
    }
}

/// Pairs each written request with the response read next.
final class ThinHTTPHandler: ChannelDuplexHandler {
    struct Request: Sendable {
        var bytes: ByteBuffer
        var promise: EventLoopPromise<ThinHTTPResponse>
    }
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = Request
    typealias OutboundOut = ByteBuffer

    private var pending: EventLoopPromise<ThinHTTPResponse>?
    private var received = ByteBuffer()

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        pending = request.promise
        received.clear()
        context.write(wrapOutboundOut(request.bytes), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var chunk = unwrapInboundIn(data)
        received.writeBuffer(&chunk)
        guard let response = Self.parse(received) else { return }
        let promise = pending
        pending = nil
        received.clear()
        promise?.succeed(response)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        pending?.fail(error)
        pending = nil
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        pending?.fail(BenchError("the server closed the connection"))
        pending = nil
    }

    /// A whole response in `buffer`, or `nil` while it is incomplete.
    static func parse(_ buffer: ByteBuffer) -> ThinHTTPResponse? {
        let bytes = buffer.readableBytesView
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = bytes.firstRange(of: separator) else { return nil }
        let head = String(decoding: bytes[bytes.startIndex..<end.lowerBound], as: UTF8.self)
        let lines = head.split(separator: "\r\n")
        let status = lines.first.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
        var length = 0
        var functionError = false
        for line in lines.dropFirst() {
            let lower = line.lowercased()
            if lower.hasPrefix("content-length:") {
                length = Int(lower.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) ?? 0
            } else if lower.hasPrefix("x-amz-function-error:") {
                functionError = true
            }
        }
        guard bytes.endIndex - end.upperBound >= length else { return nil }
        return ThinHTTPResponse(
            status: status, functionError: functionError,
            body: Array(bytes[end.upperBound..<(end.upperBound + length)]))
    }
}
