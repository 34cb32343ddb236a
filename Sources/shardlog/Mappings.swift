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

        /// One mapping in `mappings list --json`.
        struct Row: Encodable {
            var mappingName: String
            var streamName: String
            var handler: String
            var shards: Int
            var finishedShards: Int
            var state: String
            var lastProcessingResult: String
            /// `ACCOUNT/REGION` of a mapping made through the Lambda API in another account or region.
            var scope: String?
            enum CodingKeys: String, CodingKey {
                case scope = "AccountAndRegion"
                case mappingName = "MappingName"
                case streamName = "StreamName"
                case handler = "Handler"
                case shards = "Shards"
                case finishedShards = "FinishedShards"
                case state = "State"
                case lastProcessingResult = "LastProcessingResult"
            }
        }

        func run() async throws {
            var rows: [Row] = []
            for (scope, store) in try global.openAll() {
                rows += Self.rows(store, scope: scope)
            }
            if json {
                print(try kinesisJSON(["Mappings": rows]))
                return
            }
            for row in rows {
                print(
                    ([row.mappingName, row.streamName, "shards=\(row.shards)", row.handler]
                        + (row.scope.map { [$0] } ?? []))
                        .joined(separator: "\t"))
            }
        }

        static func rows(_ store: Store, scope: String?) -> [Row] {
            var rows: [Row] = []
            for name in MappingCatalog.names(store: store) {
                let definition = try? MappingCatalog.definition(store: store, name: name)
                let checkpoints = try? MappingCatalog.checkpoints(store: store, name: name)
                let status = try? MappingStatusFile.read(store: store, name: name)
                let view = MappingView(name: name, definition: definition, checkpoints: checkpoints, status: status)
                let shards = checkpoints?.shards ?? [:]
                rows.append(
                    Row(
                        mappingName: name, streamName: view.streamName ?? "?", handler: definition?.handler ?? "",
                        shards: shards.count, finishedShards: shards.values.filter(\.finished).count,
                        state: view.state,
                        lastProcessingResult: status?.lastProcessingResult ?? "No records processed", scope: scope))
            }
            return rows
        }
    }

    struct Describe: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Show a mapping's configuration, per-shard checkpoints (with records behind) and "
                + "LastProcessingResult.")
        @OptionGroup var global: GlobalOptions
        @Argument var name: String
        @Flag(help: "Print a table of shards instead of JSON.") var table = false

        struct Output: Encodable {
            var mappingName: String
            var mapping: MappingDefinition?
            var checkpoints: [String: MappingShardView]
            var updatedAt: String?
            var lastProcessingResult: String
            var state: String
            enum CodingKeys: String, CodingKey {
                case mappingName = "MappingName"
                case mapping = "Mapping"
                case checkpoints = "Checkpoints"
                case updatedAt = "UpdatedAt"
                case lastProcessingResult = "LastProcessingResult"
                case state = "State"
            }
        }

        func run() async throws {
            let store = try global.store(ofMapping: name)
            try MappingCatalog.validate(name: name)
            let definition = try MappingCatalog.definition(store: store, name: name)
            let checkpoints = try MappingCatalog.checkpoints(store: store, name: name)
            guard definition != nil || checkpoints != nil else {
                throw ValidationError("mapping \(name) does not exist in \(store.directory)")
            }
            let streamName = definition?.streamName ?? checkpoints?.streamName
            let stream = try? streamName.map { try store.stream(named: $0) }
            // Records behind from the checkpoints and the stream as they are now (the mapping's own report may
            // be a second old); the iterator age from the report.
            var view = try MappingView.load(store: store, name: name, stream: nil)
            for (id, row) in view.shards {
                var row = row
                if let stream, !row.finished {
                    row.recordsBehind =
                        MappingView.recordsBehind(
                            stream: stream, shardId: id, checkpoint: checkpoints?.shards[id]) ?? row.recordsBehind
                }
                view.shards[id] = row
            }
            let result = view.status?.lastProcessingResult ?? "No records processed"
            if table {
                print("mapping \(name)  stream \(streamName ?? "?")  \(view.state)  \(result)")
                var rows = [["SHARD", "FINISHED", "BEHIND", "AGE", "SEQUENCE NUMBER"]]
                for id in view.shards.keys.sorted() {
                    guard let row = view.shards[id] else { continue }
                    rows.append([
                        id, row.finished ? "yes" : "no", row.recordsBehind.map(String.init) ?? "?",
                        row.iteratorAgeMilliseconds.map(StatusScreen.age) ?? "-", row.sequenceNumber ?? "-",
                    ])
                }
                print(Table.render(rows), terminator: "")
                return
            }
            print(
                try kinesisJSON(
                    Output(
                        mappingName: name, mapping: definition, checkpoints: view.shards,
                        updatedAt: checkpoints?.updatedAt, lastProcessingResult: result, state: view.state)))
        }
    }

    struct Reset: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a mapping's checkpoints: its next run starts again from StartingPosition.",
            discussion: "Stop the mapping first; a running mapping would write its checkpoints again.")
        @OptionGroup var global: GlobalOptions
        @Argument var name: String

        func run() async throws {
            let store = try global.store(ofMapping: name)
            if try MappingCatalog.reset(store: store, name: name) {
                printError("mapping \(name): checkpoints deleted; the next run starts from its StartingPosition")
            } else {
                printError("mapping \(name) has no checkpoints")
            }
        }
    }
}
