import ArgumentParser
import Foundation
import Logging
import ShardLog
import ShardLogMapping
import ShardLogWire
import Synchronization
import UnixSignals

/// Set by SIGINT/SIGTERM while `shardlog map` runs; polled by the status task, which stops the mapping.
let mapStopRequested = Atomic<Bool>(false)

/// `shardlog map STREAM --handler KIND:SPEC [flags of aws lambda create-event-source-mapping]`.
struct Map: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Deliver a stream's records to a handler in batches, as a Lambda event source mapping does.",
        discussion: """
            Checkpoints are kept under <data-dir>/mappings/<mapping-name>/; running the same mapping name again
            resumes from them (the saved mapping.json supplies the stream, handler and settings not given).
            Flags are named as `aws lambda create-event-source-mapping` names them; --config takes a JSON file
            with the API's field names (BatchSize, StartingPosition, …).
            """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The stream to read (optional when --mapping-name names a saved mapping).") var stream: String?
    @Option(help: "The handler, KIND:SPEC: exec:COMMAND | runtime-api:COMMAND.") var handler: String?
    @Option(help: "BatchSize, 1–10000 (default 100).") var batchSize: Int?
    @Option(help: "MaximumBatchingWindowInSeconds, 0–300 (default 0).") var maximumBatchingWindowInSeconds: Int?
    @Option(help: "ParallelizationFactor, 1–10 (default 1).") var parallelizationFactor: Int?
    @Option(help: "StartingPosition: TRIM_HORIZON | LATEST | AT_TIMESTAMP (required for a new mapping).")
    var startingPosition: String?
    @Option(help: "StartingPositionTimestamp: epoch seconds or ISO 8601 (with AT_TIMESTAMP).")
    var startingPositionTimestamp: String?
    @Flag(inversion: .prefixedNo, help: "BisectBatchOnFunctionError (default off).")
    var bisectBatchOnFunctionError: Bool?
    @Option(parsing: .unconditional, help: "MaximumRetryAttempts: -1 (infinite, default) or 0–10000.")
    var maximumRetryAttempts: Int?
    @Option(parsing: .unconditional, help: "MaximumRecordAgeInSeconds: -1 (default) or 60–604800.")
    var maximumRecordAgeInSeconds: Int?
    @Option(parsing: .upToNextOption, help: "FunctionResponseTypes: ReportBatchItemFailures.")
    var functionResponseTypes: [String] = []
    @Option(help: #"FilterCriteria JSON: {"Filters":[{"Pattern":"{\"data\":{…}}"}]}."#) var filterCriteria: String?
    @Option(help: "TumblingWindowInSeconds, 0–900 (per-window state).")
    var tumblingWindowInSeconds: Int?
    @Option(help: #"DestinationConfig JSON: {"OnFailure":{"Destination":"stream:NAME"}}."#)
    var destinationConfig: String?
    @Option(help: "On-failure destination: stream:NAME | file:PATH.") var onFailure: String?
    @Flag(
        inversion: .prefixedNo,
        help: "Deliver KPL aggregated records as their user records, with subSequenceNumber (default off).")
    var deaggregate: Bool?
    @Option(help: "The mapping's name (default: the stream name).") var mappingName: String?
    @Option(
        help: ArgumentHelp(
            "Read the stream (name or ARN) through this Kinesis API endpoint (shardlog serve, moto, "
                + "https://kinesis.REGION.amazonaws.com) instead of the data directory; checkpoints stay local."))
    var sourceEndpoint: String?
    @Option(help: "A JSON file with the CreateEventSourceMapping field names.") var config: String?
    @Option(help: "Function timeout in seconds (default 60).") var timeout: Double?
    @Option(help: "Working directory of handler processes.") var handlerDir: String?
    @Flag(help: "Stop once every shard is drained and nothing is in flight.") var exitWhenIdle = false
    @Flag(help: "Print the summary as JSON on standard output.") var json = false

    func validate() throws {
        if stream == nil && mappingName == nil && config == nil {
            throw ValidationError("give the stream to read, or --mapping-name of a saved mapping")
        }
        if let timeout, !(timeout > 0 && timeout <= 900) {
            throw ValidationError("--timeout must be between 0 and 900 seconds")
        }
    }

    /// The mapping to run, from (lowest priority first) the saved mapping.json, --config, and the flags.
    func resolve(store: Store) throws -> (name: String, definition: MappingDefinition) {
        var fileDefinition: (definition: MappingDefinition?, configuration: MappingConfiguration)?
        if let config {
            guard let bytes = FileManager.default.contents(atPath: config) else {
                throw ValidationError("cannot read --config \(config)")
            }
            let configuration = try MappingConfiguration(json: Array(bytes))
            let definition = try? JSONDecoder().decode(MappingDefinition.self, from: bytes)
            fileDefinition = (definition, configuration)
        }
        let configStream =
            fileDefinition?.definition?.streamName ?? config.flatMap { Self.streamFromARN(configPath: $0) }
        let name = mappingName ?? stream ?? configStream ?? ""
        try MappingCatalog.validate(name: name)
        let saved = try MappingCatalog.definition(store: store, name: name)
        guard let streamName = stream ?? configStream ?? saved?.streamName else {
            throw ValidationError("mapping \(name) is not saved yet: give the stream to read")
        }
        var configuration: MappingConfiguration
        if let file = fileDefinition {
            configuration = file.configuration
        } else if let saved {
            configuration = saved.configuration
        } else {
            guard startingPosition != nil else {
                throw ValidationError(
                    "--starting-position is required for a new mapping: TRIM_HORIZON, LATEST or AT_TIMESTAMP")
            }
            configuration = MappingConfiguration(startingPosition: .latest)
        }
        try apply(to: &configuration)
        try configuration.validate()
        var definition =
            saved ?? fileDefinition?.definition
            ?? MappingDefinition(streamName: streamName, configuration: configuration)
        definition.streamName = streamName
        definition.configuration = configuration
        definition.handler = handler ?? fileDefinition?.definition?.handler ?? saved?.handler
        definition.onFailure = configuration.onFailureDestination
        definition.timeoutSeconds = timeout ?? fileDefinition?.definition?.timeoutSeconds ?? saved?.timeoutSeconds ?? 60
        definition.handlerDirectory =
            handlerDir ?? fileDefinition?.definition?.handlerDirectory ?? saved?.handlerDirectory
        definition.sourceEndpoint =
            sourceEndpoint ?? fileDefinition?.definition?.sourceEndpoint ?? saved?.sourceEndpoint
        if let existing = saved, existing.streamName != streamName {
            throw ValidationError(
                "mapping \(name) reads stream \(existing.streamName); use another --mapping-name for \(streamName)")
        }
        return (name, definition)
    }

    /// Applies the flags over a configuration.
    func apply(to c: inout MappingConfiguration) throws {
        if let batchSize { c.batchSize = batchSize }
        if let maximumBatchingWindowInSeconds { c.maximumBatchingWindowInSeconds = maximumBatchingWindowInSeconds }
        if let parallelizationFactor { c.parallelizationFactor = parallelizationFactor }
        if let startingPosition {
            guard let position = MappingConfiguration.StartingPosition(rawValue: startingPosition.uppercased()) else {
                throw ValidationError(
                    "--starting-position '\(startingPosition)' must be TRIM_HORIZON, LATEST or AT_TIMESTAMP")
            }
            c.startingPosition = position
            if position != .atTimestamp { c.startingPositionTimestamp = nil }
        }
        if let startingPositionTimestamp {
            c.startingPositionTimestamp = try Self.parseTime(startingPositionTimestamp)
        }
        if let bisectBatchOnFunctionError { c.bisectBatchOnFunctionError = bisectBatchOnFunctionError }
        if let maximumRetryAttempts { c.maximumRetryAttempts = maximumRetryAttempts }
        if let maximumRecordAgeInSeconds { c.maximumRecordAgeInSeconds = maximumRecordAgeInSeconds }
        if !functionResponseTypes.isEmpty {
            c.functionResponseTypes = functionResponseTypes.flatMap { $0.split(separator: ",").map(String.init) }
        }
        if let filterCriteria {
            do {
                c.filterCriteria = try JSONDecoder().decode(FilterCriteria.self, from: Data(filterCriteria.utf8))
            } catch {
                throw ValidationError("--filter-criteria is not valid FilterCriteria JSON: \(error)")
            }
        }
        if let tumblingWindowInSeconds { c.tumblingWindowInSeconds = tumblingWindowInSeconds }
        if let deaggregate { c.deaggregate = deaggregate }
        if let destinationConfig {
            do {
                c.destinationConfig = try JSONDecoder().decode(
                    MappingConfiguration.DestinationConfig.self, from: Data(destinationConfig.utf8))
            } catch {
                throw ValidationError("--destination-config is not valid DestinationConfig JSON: \(error)")
            }
        }
        if let onFailure {
            c.destinationConfig = .init(onFailure: .init(destination: onFailure))
        }
        if let destination = c.onFailureDestination {
            _ = try FailureDestination(parsing: destination)
        }
    }

    static func parseTime(_ text: String) throws -> Date {
        if let seconds = Double(text) { return Date(timeIntervalSince1970: seconds) }
        let iso = ISO8601DateFormatter()
        iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = iso.date(from: text) ?? ISO8601DateFormatter().date(from: text) { return date }
        throw ValidationError("--starting-position-timestamp '\(text)' is not epoch seconds or ISO 8601")
    }

    /// The stream named by `EventSourceArn` in a config file, if any.
    static func streamFromARN(configPath: String) -> String? {
        guard let data = FileManager.default.contents(atPath: configPath),
            let arn = (try? JSON(parsing: Array(data)))?["EventSourceArn"]?.stringValue
        else { return nil }
        if let stream = try? StreamARN(parsing: arn) { return stream.streamName }
        return (try? ConsumerARN(parsing: arn))?.stream.streamName
    }

    func run() async throws {
        let store = try global.open()
        let (name, definition) = try resolve(store: store)
        guard let handlerSpec = definition.handler else {
            throw ValidationError("--handler KIND:SPEC is required (exec:COMMAND or runtime-api:COMMAND)")
        }
        var logger = Logger(label: "shardlog.map") { ConsoleLogHandler(label: $0) }
        logger.logLevel =
            ProcessInfo.processInfo.environment["SHARDLOG_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:))
            ?? .warning
        let timeoutSeconds = definition.timeoutSeconds ?? 60
        let invoker = try await HandlerSpec.parse(handlerSpec, directory: definition.handlerDirectory)
            .makeInvoker(functionName: name, timeout: .milliseconds(Int64(timeoutSeconds * 1000)), logger: logger)
        try MappingCatalog.save(definition, store: store, name: name)
        let onFailure = try definition.onFailure.map { try FailureDestination(parsing: $0) }
        let functionTimeout = Duration.milliseconds(Int64(timeoutSeconds * 1000))
        let mapping: EventSourceMapping
        if let endpoint = definition.sourceEndpoint {
            mapping = EventSourceMapping(
                store: store, source: try KinesisSource(endpoint: endpoint, stream: definition.streamName), name: name,
                configuration: definition.configuration, invoker: invoker, onFailure: onFailure, logger: logger,
                timeout: functionTimeout)
        } else {
            mapping = EventSourceMapping(
                store: store, streamName: definition.streamName, name: name, configuration: definition.configuration,
                invoker: invoker, onFailure: onFailure, logger: logger, timeout: functionTimeout)
        }
        // SIGINT/SIGTERM through swift-service-lifecycle; the status task below sees the flag and stops the mapping.
        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
        let signalWatcher = Task { for await _ in signals { mapStopRequested.store(true, ordering: .relaxed) } }
        defer { signalWatcher.cancel() }
        let live = standardErrorIsTerminal
        let console = StatusConsole.standardError
        let summary = try await withThrowingTaskGroup(of: MappingSummary?.self) { group in
            group.addTask { try await mapping.run(exitWhenIdle: exitWhenIdle) }
            group.addTask {
                var status = StatusLine()
                var ticks = 0
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(100))
                    if mapStopRequested.load(ordering: .relaxed) { mapping.stop() }
                    ticks += 1
                    guard live, ticks % 10 == 0 else { continue }
                    console.setStatus(status.update(mapping.metrics, at: .now))
                }
                return nil
            }
            var result: MappingSummary?
            while let next = try await group.next() {
                if let next {
                    result = next
                    group.cancelAll()
                }
            }
            return result
        }
        if live { console.setStatus(nil) }
        guard let summary else { return }
        if json {
            print(try kinesisJSON(summary))
        } else {
            printError(Self.summaryText(summary, interrupted: mapStopRequested.load(ordering: .relaxed)))
        }
    }

    /// The summary printed when the mapping stops: the same counter names as the status line, and what is still
    /// behind.
    static func summaryText(_ s: MappingSummary, interrupted: Bool = false) -> String {
        let m = s.metrics
        let behind: String
        switch m.recordsBehind {
        case nil:
            behind = "records behind unknown (remote stream)"
        case 0?:
            behind = "caught up: no records behind"
        case let count?:
            behind =
                "\(interrupted ? "stopped with " : "")\(NumberText.grouped(Double(count))) records behind, iterator age "
                + DurationText.compact(milliseconds: m.iteratorAgeMilliseconds)
        }
        return """
            mapping \(s.mappingName) on \(s.streamName): \(String(format: "%.1f", s.elapsedSeconds)) s
              records \(m.records)  batches \(m.batches)  filtered \(m.filteredRecords)  discarded \(m.discardedRecords)
              function errors \(m.functionErrors)  partial failures \(m.partialFailures)  retries \(m.retries)  \
            bisections \(m.bisections)  invocation errors \(m.serviceErrors)
              \(behind)  shards finished \(m.finishedShards)
              LastProcessingResult: \(m.lastProcessingResult ?? "No records processed")
            """
    }
}

/// The live status line of `shardlog map` on a terminal: records handled, records behind, iterator age as a
/// duration, rate and ETA, and the error counters under the summary's names (shown once non-zero).
struct StatusLine {
    private var last: (handled: Int, time: ContinuousClock.Instant)?
    private var rate: Double?

    /// The line for `m` at `now`; the rate is smoothed over the last few seconds.
    mutating func update(_ m: MappingMetrics, at now: ContinuousClock.Instant) -> String {
        let handled = m.records + m.discardedRecords + m.filteredRecords
        if let last {
            let seconds =
                Double((now - last.time).components.seconds)
                + Double((now - last.time).components.attoseconds) / 1e18
            let current = Double(handled - last.handled) / max(seconds, 0.001)
            rate = rate.map { 0.5 * $0 + 0.5 * current } ?? current
        }
        last = (handled, now)
        return Self.text(m, rate: rate ?? 0)
    }

    /// The line for a snapshot and a rate in records per second.
    static func text(_ m: MappingMetrics, rate: Double) -> String {
        var parts = ["records \(NumberText.grouped(Double(m.records)))"]
        if let behind = m.recordsBehind {
            parts.append("behind \(NumberText.grouped(Double(behind)))")
        }
        parts.append("\(NumberText.grouped(rate))/s")
        if let behind = m.recordsBehind, behind > 0 {
            parts.append(
                rate >= 1 ? "ETA \(DurationText.compact(milliseconds: Int64(Double(behind) / rate * 1000)))" : "ETA -")
        }
        parts.append("iterator age \(DurationText.compact(milliseconds: m.iteratorAgeMilliseconds))")
        parts.append("in flight \(m.inFlight)")
        if m.functionErrors > 0 { parts.append("function errors \(m.functionErrors)") }
        if m.partialFailures > 0 { parts.append("partial failures \(m.partialFailures)") }
        if m.discardedRecords > 0 { parts.append("discarded \(m.discardedRecords)") }
        if m.serviceErrors > 0 { parts.append("invocation errors \(m.serviceErrors)") }
        if let result = m.lastProcessingResult, result.hasPrefix("PROBLEM") { parts.append(result) }
        return parts.joined(separator: "  ")
    }
}

/// A swift-log handler that writes `shardlog map`'s log lines through ``StatusConsole`` (above the status line),
/// the message first, then the metadata: `2026-12-06T20:00:00Z error shardlog.map: invocation failed: … [attempt=1
/// mapping=m …]`.
struct ConsoleLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        let fields = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let time = ISO8601DateFormatter().string(from: Date())
        let line = "\(time) \(event.level) \(label): \(event.message)\(fields.isEmpty ? "" : " [" + fields + "]")\n"
        StatusConsole.standardError.writeLines(Array(line.utf8))
    }
}
