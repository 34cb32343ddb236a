import Foundation
import Logging
import ServiceLifecycle
import ShardLog
import ShardLogMapping
import ShardLogWire
import Synchronization

/// The event source mappings hosted by `shardlog serve --mappings FILE`, run as one service next to the HTTP server
/// and stopped (checkpoints written) on a graceful shutdown.
///
/// The file holds `{"Mappings": [ … ]}` or a bare array. Each entry takes Lambda's `CreateEventSourceMapping` keys
/// (`StartingPosition`, `BatchSize`, `DestinationConfig.OnFailure.Destination`, …) plus:
/// - `MappingName` (required): the checkpoint directory `mappings/<name>/`;
/// - `StreamName` or `EventSourceArn` (a stream ARN): the stream read;
/// - `Handler` (required): `exec:COMMAND` or `runtime-api:COMMAND`;
/// - `HandlerDir` (or `HandlerDirectory`): the handler processes' working directory; `FunctionTimeoutSeconds`
///   (default 60).
struct MappingHost: Service {
    let mappings: [EventSourceMapping]
    let logger: Logger

    /// Reads the mappings file and creates the mappings (no handler process starts yet).
    /// - Throws: ``KinesisError`` naming the file and entry when it is unreadable or an entry is invalid.
    static func load(path: String, store: Store, logger: Logger) async throws -> MappingHost {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw KinesisError(.validation, "cannot read mappings file \(path)")
        }
        let entries: [JSON]
        switch try JSON(parsing: [UInt8](data)) {
        case .array(let items): entries = items
        case .object(let members):
            guard case .array(let items)? = members["Mappings"] else {
                throw KinesisError(.validation, "mappings file \(path) must hold {\"Mappings\": [...]} or an array")
            }
            entries = items
        default:
            throw KinesisError(.validation, "mappings file \(path) must hold {\"Mappings\": [...]} or an array")
        }
        var mappings: [EventSourceMapping] = []
        for (i, entry) in entries.enumerated() {
            guard case .object(let members) = entry else {
                throw KinesisError(.validation, "entry \(i + 1) of \(path) is not an object")
            }
            do {
                mappings.append(try await mapping(Params(members), json: entry.bytes, store: store, logger: logger))
            } catch {
                throw KinesisError(.validation, "entry \(i + 1) of mappings file \(path): \(error)")
            }
        }
        FileMappings.register(mappings, directory: store.directory)
        return MappingHost(mappings: mappings, logger: logger)
    }

    private static func mapping(_ p: Params, json: [UInt8], store: Store, logger: Logger) async throws
        -> EventSourceMapping
    {
        let name = try p.requiredString("MappingName")
        let streamName: String
        if let arn = try p.string("EventSourceArn") {
            streamName = try KinesisServer.streamName(fromARN: arn)
        } else {
            streamName = try p.requiredString("StreamName")
        }
        let configuration = try MappingConfiguration(json: json)
        let timeout = Duration.seconds(try p.int("FunctionTimeoutSeconds") ?? 60)
        // `HandlerDir` is what `mapping.json` and `shardlog mappings describe` write; `HandlerDirectory` the older
        // name of this file. Both are read, so a mapping copied from either is not silently run elsewhere.
        let directory = try p.string("HandlerDirectory") ?? p.string("HandlerDir")
        if let long = try p.string("HandlerDirectory"), let short = try p.string("HandlerDir"), long != short {
            throw KinesisError(
                .validation, "HandlerDir '\(short)' and HandlerDirectory '\(long)' differ: give one of them")
        }
        let spec = try HandlerSpec.parse(try p.requiredString("Handler"), directory: directory)
        var onFailure: FailureDestination?
        if let destination = configuration.destinationConfig?.onFailure?.destination {
            onFailure = try FailureDestination(parsing: destination)
        }
        let invoker = try await spec.makeInvoker(functionName: name, timeout: timeout, logger: logger)
        return EventSourceMapping(
            store: store, streamName: streamName, name: name, configuration: configuration, invoker: invoker,
            onFailure: onFailure, logger: logger, timeout: timeout)
    }

    /// Runs every mapping until a graceful shutdown; a mapping that fails is logged and the others go on.
    func run() async throws {
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                for mapping in mappings {
                    group.addTask {
                        do {
                            let summary = try await mapping.run(exitWhenIdle: false)
                            let m = summary.metrics
                            logger.info(
                                "mapping stopped",
                                metadata: [
                                    "mapping": "\(mapping.name)", "records": "\(m.records)", "batches": "\(m.batches)",
                                    "discarded": "\(m.discardedRecords)", "function.errors": "\(m.functionErrors)",
                                    "partial.failures": "\(m.partialFailures)",
                                    "records.behind": "\(m.recordsBehind.map(String.init) ?? "unknown")",
                                    "last.processing.result": "\(m.lastProcessingResult ?? "No records processed")",
                                ])
                        } catch {
                            logger.error(
                                "mapping failed", metadata: ["mapping": "\(mapping.name)", "error": "\(error)"])
                        }
                    }
                }
            }
        } onGracefulShutdown: {
            for mapping in mappings { mapping.stop() }
        }
        FileMappings.unregister(mappings)
    }
}

/// The mappings of `serve --mappings FILE` per data directory, so `/health` can report one whose handler cannot
/// start (see ``LambdaHealthMiddleware``). Thread-safe.
enum FileMappings {
    private static let hosted = Mutex<[String: [EventSourceMapping]]>([:])

    /// Records the mappings hosted for `directory`.
    static func register(_ mappings: [EventSourceMapping], directory: String) {
        hosted.withLock { $0[directory, default: []].append(contentsOf: mappings) }
    }

    /// Forgets stopped mappings.
    static func unregister(_ mappings: [EventSourceMapping]) {
        let stopped = Set(mappings.map { ObjectIdentifier($0) })
        hosted.withLock { hosted in
            for key in hosted.keys {
                hosted[key]?.removeAll { stopped.contains(ObjectIdentifier($0)) }
            }
        }
    }

    /// The first mapping of `directory` whose handler cannot start, as `mapping NAME: reason`.
    static func problem(directory: String) -> String? {
        for mapping in hosted.withLock({ $0[directory] ?? [] }) {
            if let text = mapping.metrics.lastProcessingResult, text.hasPrefix("PROBLEM: handler could not start") {
                return "mapping \(mapping.name): " + text.dropFirst("PROBLEM: ".count)
            }
        }
        return nil
    }
}
