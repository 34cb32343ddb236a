import ArgumentParser
import Foundation
import ShardLog
import ShardLogMapping

/// `shardlog mappings list | describe NAME | reset NAME`.
struct Mappings: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show and rewind the checkpoints of event source mappings.",
        subcommands: [List.self, Describe.self, Reset.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List mappings with their stream and shards.")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let store = try global.open()
            var rows: [[String: String]] = []
            for name in MappingCatalog.names(store: store) {
                let definition = try? MappingCatalog.definition(store: store, name: name)
                let checkpoints = try? MappingCatalog.checkpoints(store: store, name: name)
                let shards = checkpoints?.shards ?? [:]
                rows.append([
                    "MappingName": name,
                    "StreamName": definition?.streamName ?? checkpoints?.streamName ?? "?",
                    "Handler": definition?.handler ?? "",
                    "Shards": String(shards.count),
                    "FinishedShards": String(shards.values.filter(\.finished).count),
                    "LastProcessingResult": (try? MappingStatusFile.read(store: store, name: name))??
                        .lastProcessingResult ?? "No records processed",
                ])
            }
            if json {
                print(try kinesisJSON(["Mappings": rows]))
                return
            }
            for row in rows {
                print(
                    [row["MappingName"], row["StreamName"], "shards=" + (row["Shards"] ?? "0"), row["Handler"]]
                        .compactMap { $0 }.joined(separator: "\t"))
            }
        }
    }

    struct Describe: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Show a mapping's configuration, per-shard checkpoints (with records behind) and "
                + "LastProcessingResult.")
        @OptionGroup var global: GlobalOptions
        @Argument var name: String

        func run() async throws {
            let store = try global.open()
            try MappingCatalog.validate(name: name)
            let definition = try MappingCatalog.definition(store: store, name: name)
            let checkpoints = try MappingCatalog.checkpoints(store: store, name: name)
            guard definition != nil || checkpoints != nil else {
                throw ValidationError("mapping \(name) does not exist in \(store.directory)")
            }
            var shards: [String: [String: String]] = [:]
            let streamName = definition?.streamName ?? checkpoints?.streamName
            let stream = try? streamName.map { try store.stream(named: $0) }
            for (id, checkpoint) in checkpoints?.shards ?? [:] {
                var row: [String: String] = ["Finished": String(checkpoint.finished)]
                if let sequence = checkpoint.sequenceNumber { row["SequenceNumber"] = sequence }
                if let stream, let tip = try? stream.iterator(shardId: id, position: .latest).offset {
                    let next =
                        checkpoint.sequenceNumber.flatMap { try? SequenceNumber(parsing: $0) }
                        .map { $0.offset + 1 } ?? (try? stream.iterator(shardId: id, position: .trimHorizon).offset)
                    if let next { row["RecordsBehind"] = String(tip > next ? tip - next : 0) }
                }
                shards[id] = row
            }
            struct Output: Encodable {
                var mappingName: String
                var mapping: MappingDefinition?
                var checkpoints: [String: [String: String]]
                var updatedAt: String?
                var lastProcessingResult: String
                enum CodingKeys: String, CodingKey {
                    case mappingName = "MappingName"
                    case mapping = "Mapping"
                    case checkpoints = "Checkpoints"
                    case updatedAt = "UpdatedAt"
                    case lastProcessingResult = "LastProcessingResult"
                }
            }
            let status = try MappingStatusFile.read(store: store, name: name)
            print(
                try kinesisJSON(
                    Output(
                        mappingName: name, mapping: definition, checkpoints: shards,
                        updatedAt: checkpoints?.updatedAt,
                        lastProcessingResult: status?.lastProcessingResult ?? "No records processed")))
        }
    }

    struct Reset: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a mapping's checkpoints: its next run starts again from StartingPosition.",
            discussion: "Stop the mapping first; a running mapping would write its checkpoints again.")
        @OptionGroup var global: GlobalOptions
        @Argument var name: String

        func run() async throws {
            let store = try global.open()
            if try MappingCatalog.reset(store: store, name: name) {
                printError("mapping \(name): checkpoints deleted; the next run starts from its StartingPosition")
            } else {
                printError("mapping \(name) has no checkpoints")
            }
        }
    }
}
