import ArgumentParser
import Foundation
import ShardLog
import ShardLogClient
import ShardLogMapping
import ShardLogWire

/// `create-stream`, `list-streams`, `describe-stream` and `get` with `--endpoint-url`: the same output as for the
/// data directory, from the Kinesis JSON API of another endpoint.
enum RemoteStreamCommands {
    /// Runs `body`; an error is printed as `error: …` naming the endpoint, and the command exits with 1.
    static func run(_ client: KinesisClient, _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let exit as ExitCode {
            throw exit
        } catch {
            printError("error: \(error) (at \(client.endpoint.absoluteString))")
            throw ExitCode(1)
        }
    }

    /// Prints a JSON value indented, keys sorted.
    static func printJSON(_ value: JSON) {
        print(String(decoding: value.prettyBytes, as: UTF8.self))
    }

    /// `CreateStream`, waiting until the stream is `ACTIVE` (at most a minute), then `IncreaseStreamRetentionPeriod`
    /// when the retention is not the default 24 hours.
    static func create(
        _ client: KinesisClient, name: String, shards: Int, retentionHours: Int, json: Bool
    ) async throws {
        _ = try await client.call("CreateStream", ["StreamName": .string(name), "ShardCount": .integer(shards)])
        try await waitUntilActive(client, name: name)
        if retentionHours != 24 {
            let operation = retentionHours > 24 ? "IncreaseStreamRetentionPeriod" : "DecreaseStreamRetentionPeriod"
            _ = try await client.call(
                operation, ["StreamName": .string(name), "RetentionPeriodHours": .integer(retentionHours)])
            try await waitUntilActive(client, name: name)
        }
        if json {
            printJSON(.object(["StreamDescription": try await describe(client, name: name)]))
        } else {
            printError("created stream \(name) with \(shards) shards at \(client.endpoint.absoluteString)")
        }
    }

    /// Polls `DescribeStreamSummary` until the stream is `ACTIVE`.
    static func waitUntilActive(_ client: KinesisClient, name: String) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while true {
            let answer = try await client.call("DescribeStreamSummary", ["StreamName": .string(name)])
            let status = answer["StreamDescriptionSummary"]?["StreamStatus"]?.stringValue
            if status == "ACTIVE" { return }
            guard ContinuousClock.now < deadline else {
                throw CLIError("stream \(name) is still \(status ?? "not described") after 60 s")
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// Every stream name, from `ListStreams` (all pages).
    static func listStreams(_ client: KinesisClient) async throws -> [String] {
        var names: [String] = []
        var request: [String: JSON] = [:]
        while true {
            let answer = try await client.call("ListStreams", request)
            let page = (answer["StreamNames"]?.arrayValue ?? []).compactMap(\.stringValue)
            names += page
            guard answer["HasMoreStreams"] == .bool(true), let last = page.last else { return names }
            if let token = answer["NextToken"]?.stringValue {
                request = ["NextToken": .string(token)]
            } else {
                request = ["ExclusiveStartStreamName": .string(last)]
            }
        }
    }

    /// The `StreamDescription` of `DescribeStream`, with the shards of every page.
    static func describe(_ client: KinesisClient, name: String) async throws -> JSON {
        var request: [String: JSON] = ["StreamName": .string(name)]
        var shards: [JSON] = []
        while true {
            let answer = try await client.call("DescribeStream", request)
            guard case .object(var description)? = answer["StreamDescription"] else {
                throw CLIError("DescribeStream of \(name) answered without a StreamDescription")
            }
            let page = description["Shards"]?.arrayValue ?? []
            shards += page
            if description["HasMoreShards"] == .bool(true), let last = page.last?["ShardId"]?.stringValue {
                request["ExclusiveStartShardId"] = .string(last)
                continue
            }
            description["Shards"] = .array(shards)
            description["HasMoreShards"] = .bool(false)
            return .object(description)
        }
    }

    /// `describe-stream`: the JSON, or the table the local command prints.
    static func describeStream(_ client: KinesisClient, name: String, json: Bool) async throws {
        let description = try await describe(client, name: name)
        if json {
            printJSON(.object(["StreamDescription": description]))
            return
        }
        let shards = try (description["Shards"]?.arrayValue ?? []).map {
            try ShardDescription(kinesis: $0, operation: "DescribeStream")
        }
        DescribeStream.printTable(
            name: description["StreamName"]?.stringValue ?? name,
            status: description["StreamStatus"]?.stringValue ?? "?",
            retentionHours: description["RetentionPeriodHours"]?.intValue ?? 0, shards: shards)
    }
}

extension Get {
    /// `get --endpoint-url`: reads the remote stream with `ListShards`, `GetShardIterator` and `GetRecords`
    /// (through the mapping's `KinesisSource`): parents before children, a shard is done when `NextShardIterator`
    /// is absent, and a shard with nothing new and `MillisBehindLatest` 0 is asked again after a pause (about five
    /// times a second with `--follow`); the shard list is read again every 2 s while following.
    func runRemote(_ client: KinesisClient) async throws {
        let source = KinesisSource(client: client, stream: name)
        let start = try position()
        var remaining = limit ?? Int.max
        var readers: [String: any ShardSource] = [:]
        var finished: Set<String> = []
        var shards: [ShardDescription] = []
        var described: ContinuousClock.Instant?
        let out = FileHandle.standardOutput
        while remaining > 0 {
            if described.map({ ContinuousClock.now - $0 >= .seconds(2) }) ?? true {
                shards = try await source.shards()
                described = .now
                if let only = shard, !shards.contains(where: { $0.shardId == only }) {
                    throw CLIError("shard \(only) not found in stream \(name)")
                }
            }
            for (id, isChild) in Self.shardsToStart(shards, started: readers, finished: finished, only: shard) {
                readers[id] = try await source.openShard(
                    shardId: id, position: isChild ? .trimHorizon : start, checkpoint: nil)
            }
            var progressed = false
            for id in readers.keys.sorted() {
                guard let reader = readers[id], remaining > 0 else { continue }
                switch try await reader.read(limit: min(remaining, 1000)) {
                case .records(let records):
                    progressed = true
                    var lines: [UInt8] = []
                    for r in records.prefix(remaining) { Self.appendLine(r, decode: decode, to: &lines) }
                    out.write(Data(lines))
                    remaining -= records.count
                case .caughtUp:
                    break
                case .ended:
                    finished.insert(id)
                    readers[id] = nil
                    described = nil
                    progressed = true
                }
            }
            if progressed { continue }
            if !follow { break }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}
