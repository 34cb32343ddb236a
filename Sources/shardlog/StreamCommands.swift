import ArgumentParser
import Foundation
import ShardLog

struct CreateStream: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create-stream", abstract: "Create a stream with N shards (hash-key space split evenly).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var remote: RemoteOptions
    @Argument(help: "DataStream name: 1-128 of [A-Za-z0-9_.-].") var name: String
    @Option(help: "Number of shards.") var shards: Int = 1
    @Option(help: "Retention period in hours (24-8760).") var retentionHours: Int = 24
    @Option(
        help: ArgumentHelp(
            "Segment file size in MiB (1-4096; default: 128). Each shard preallocates one file of this size.",
            valueName: "MiB"))
    var segmentMib: Int?
    @Flag(help: "Print the Kinesis DescribeStream JSON.") var json = false

    func validate() throws {
        if let segmentMib, !(1...4096).contains(segmentMib) {
            throw ValidationError(
                "--segment-mib \(segmentMib) is out of range: a segment must be 1 to 4096 MiB"
                    + " (every shard preallocates one file of this size)")
        }
        if segmentMib != nil && remote.endpointUrl != nil {
            throw ValidationError("--segment-mib applies to a data directory, not to --endpoint-url")
        }
    }

    func run() async throws {
        if let client = try remote.client() {
            return try await RemoteStreamCommands.run(client) {
                try await RemoteStreamCommands.create(
                    client, name: name, shards: shards, retentionHours: retentionHours, json: json)
            }
        }
        let description = try global.open().createStream(
            named: name, shardCount: shards, retentionHours: retentionHours,
            segmentByteCount: segmentMib.map { $0 << 20 })
        if json {
            print(try kinesisJSON(["StreamDescription": description]))
        } else {
            printError("created stream \(name) with \(description.shards.count) shards in \(global.directory)")
        }
    }
}

struct ListStreams: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list-streams", abstract: "List the streams.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var remote: RemoteOptions
    @Flag(help: "Print the Kinesis ListStreams JSON.") var json = false

    func run() async throws {
        if let client = try remote.client() {
            return try await RemoteStreamCommands.run(client) {
                try show(try await RemoteStreamCommands.listStreams(client))
            }
        }
        try show(try global.open().listStreams())
    }

    /// The names one per line, or the ListStreams JSON.
    func show(_ names: [String]) throws {
        if json {
            print(try kinesisJSON(ListStreamsOutput(streamNames: names)))
        } else {
            for name in names { print(name) }
        }
    }

    struct ListStreamsOutput: Encodable {
        var streamNames: [String]
        var hasMoreStreams = false
        enum CodingKeys: String, CodingKey {
            case streamNames = "StreamNames"
            case hasMoreStreams = "HasMoreStreams"
        }
    }
}

struct DescribeStream: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "describe-stream", abstract: "Show a stream's shards, ranges and lineage.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var remote: RemoteOptions
    @Argument var name: String
    @Flag(help: "Print the Kinesis DescribeStream JSON.") var json = false

    func run() async throws {
        if let client = try remote.client() {
            return try await RemoteStreamCommands.run(client) {
                try await RemoteStreamCommands.describeStream(client, name: name, json: json)
            }
        }
        let store = try global.open()
        let stream = try store.stream(named: name)
        let d = try stream.describe()
        if json {
            print(try kinesisJSON(["StreamDescription": d]))
            return
        }
        Self.printTable(
            name: d.streamName, status: d.streamStatus, retentionHours: d.retentionPeriodHours, shards: d.shards)
    }

    /// The stream line and the shard table.
    static func printTable(name: String, status: String, retentionHours: Int, shards: [ShardDescription]) {
        let open = shards.filter(\.isOpen).count
        print("stream \(name)  status \(status)  retention \(retentionHours) h  \(open) open / \(shards.count) shards")
        print("shard                 state   parent(s)                                  hash keys from")
        for s in shards {
            let parents = [s.parentShardId, s.adjacentParentShardId].compactMap { $0 }.joined(separator: ",")
            let state = s.isOpen ? "OPEN  " : "CLOSED"
            print(
                "\(s.shardId)  \(state)  \(parents.padding(toLength: 41, withPad: " ", startingAt: 0))  "
                    + s.hashKeyRange.startingHashKey)
        }
    }
}

struct DeleteStream: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete-stream", abstract: "Delete a stream and all its data.")
    @OptionGroup var global: GlobalOptions
    @Argument var name: String

    func run() throws {
        try global.open().deleteStream(named: name)
        printError("deleted stream \(name)")
    }
}

struct SplitShard: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "split-shard", abstract: "Split an open shard in two (default: at the middle of its range).")
    @OptionGroup var global: GlobalOptions
    @Argument var name: String
    @Argument var shard: String
    @Option(help: "New starting hash key (decimal).") var at: String?

    func run() throws {
        let stream = try global.open().stream(named: name)
        let key: UInt128
        if let at {
            key = try HashKey.parse(at)
        } else {
            guard let s = try stream.describe().shards.first(where: { $0.shardId == shard }),
                let lo = UInt128(s.hashKeyRange.startingHashKey), let hi = UInt128(s.hashKeyRange.endingHashKey)
            else { throw ValidationError("shard \(shard) not found in stream \(name)") }
            key = lo + (hi - lo) / 2 + 1
        }
        try stream.splitShard(shard, newStartingHashKey: key)
        printError("split \(shard) of \(name) at hash key \(key)")
    }
}

struct MergeShards: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge-shards", abstract: "Merge two adjacent open shards.")
    @OptionGroup var global: GlobalOptions
    @Argument var name: String
    @Argument var shard: String
    @Argument var adjacent: String

    func run() throws {
        try global.open().stream(named: name).mergeShards(shard, adjacentShardId: adjacent)
        printError("merged \(shard) and \(adjacent) of \(name)")
    }
}

struct UpdateShardCount: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "update-shard-count", abstract: "Reshard uniformly to a target number of open shards.")
    @OptionGroup var global: GlobalOptions
    @Argument var name: String
    @Option(help: "Target number of open shards.") var target: Int

    func run() throws {
        let stream = try global.open().stream(named: name)
        try stream.updateShardCount(target: target)
        printError("stream \(name) now has \(try stream.describe().openShards.count) open shards")
    }
}

struct EnforceRetention: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enforce-retention", abstract: "Delete whole segments older than the retention period.")
    @OptionGroup var global: GlobalOptions
    @Argument var name: String

    func run() throws {
        let deleted = try global.open().stream(named: name).enforceRetention()
        printError("deleted \(deleted) expired segment files of \(name)")
    }
}
