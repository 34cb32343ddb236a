import ArgumentParser
import Foundation
import ShardLog
import ShardLogMapping

/// `create-stream`, `list-streams`, `describe-stream` and `get` with `--endpoint-url`: the same output as for the
/// data directory, from the Kinesis JSON API of another endpoint.
enum RemoteStreamCommands {
    /// Runs `body`; an error is printed as `error: …` naming the endpoint, and the command exits with 1.
    static func run(_ client: RemoteClient, _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let exit as ExitCode {
            throw exit
        } catch {
            printError("error: \(error) (at \(client.endpoint.absoluteString))")
            throw ExitCode(1)
        }
    }

    /// A JSON request body.
    static func body(_ object: [String: Any]) throws -> Data {
        try JSONSerialization.data(withJSONObject: object)
    }

    /// Prints a JSON object as `kinesisJSON` does: pretty, sorted keys, slashes unescaped.
    static func printJSON(_ object: [String: Any]) throws {
        let data = try JSONSerialization.data(
            withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        print(String(decoding: data, as: UTF8.self))
    }

    /// `CreateStream`, waiting until the stream is `ACTIVE` (at most a minute), then `IncreaseStreamRetentionPeriod`
    /// when the retention is not the default 24 hours.
    static func create(
        _ client: RemoteClient, name: String, shards: Int, retentionHours: Int, json: Bool
    ) async throws {
        _ = try await client.call("CreateStream", body: body(["StreamName": name, "ShardCount": shards]))
        try await waitUntilActive(client, name: name)
        if retentionHours != 24 {
            let operation = retentionHours > 24 ? "IncreaseStreamRetentionPeriod" : "DecreaseStreamRetentionPeriod"
            _ = try await client.call(
                operation, body: body(["StreamName": name, "RetentionPeriodHours": retentionHours]))
            try await waitUntilActive(client, name: name)
        }
        if json {
            try printJSON(["StreamDescription": try await describe(client, name: name)])
        } else {
            printError("created stream \(name) with \(shards) shards at \(client.endpoint.absoluteString)")
        }
    }

    /// Polls `DescribeStreamSummary` until the stream is `ACTIVE`.
    static func waitUntilActive(_ client: RemoteClient, name: String) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while true {
            let answer = try await client.call("DescribeStreamSummary", body: body(["StreamName": name]))
            let status = (answer["StreamDescriptionSummary"] as? [String: Any])?["StreamStatus"] as? String
            if status == "ACTIVE" { return }
            guard ContinuousClock.now < deadline else {
                throw CLIError("stream \(name) is still \(status ?? "not described") after 60 s")
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// Every stream name, from `ListStreams` (all pages).
    static func listStreams(_ client: RemoteClient) async throws -> [String] {
        var names: [String] = []
        var request: [String: Any] = [:]
        while true {
            let answer = try await client.call("ListStreams", body: body(request))
            let page = answer["StreamNames"] as? [String] ?? []
            names += page
            guard answer["HasMoreStreams"] as? Bool == true, !page.isEmpty else { return names }
            if let token = answer["NextToken"] as? String {
                request = ["NextToken": token]
            } else {
                request = ["ExclusiveStartStreamName": page.last ?? ""]
            }
        }
    }

    /// The `StreamDescription` of `DescribeStream`, with the shards of every page.
    static func describe(_ client: RemoteClient, name: String) async throws -> [String: Any] {
        var request: [String: Any] = ["StreamName": name]
        var shards: [[String: Any]] = []
        while true {
            let answer = try await client.call("DescribeStream", body: body(request))
            guard var description = answer["StreamDescription"] as? [String: Any] else {
                throw CLIError("DescribeStream of \(name) answered without a StreamDescription")
            }
            let page = description["Shards"] as? [[String: Any]] ?? []
            shards += page
            if description["HasMoreShards"] as? Bool == true, let last = page.last?["ShardId"] as? String {
                request["ExclusiveStartShardId"] = last
                continue
            }
            description["Shards"] = shards
            description["HasMoreShards"] = false
            return description
        }
    }

    /// `describe-stream`: the JSON, or the table the local command prints.
    static func describeStream(_ client: RemoteClient, name: String, json: Bool) async throws {
        let description = try await describe(client, name: name)
        if json {
            try printJSON(["StreamDescription": description])
            return
        }
        let shardData = try JSONSerialization.data(withJSONObject: description["Shards"] ?? [])
        let shards = try JSONDecoder().decode([ShardDescription].self, from: shardData)
        DescribeStream.printTable(
            name: description["StreamName"] as? String ?? name,
            status: description["StreamStatus"] as? String ?? "?",
            retentionHours: description["RetentionPeriodHours"] as? Int ?? 0, shards: shards)
    }
}

extension Get {
    /// `get --endpoint-url`: reads the remote stream with `ListShards`, `GetShardIterator` and `GetRecords`
    /// (through the mapping's `KinesisSource`): parents before children, a shard is done when `NextShardIterator`
    /// is absent, and a shard with nothing new and `MillisBehindLatest` 0 is asked again after a pause (about five
    /// times a second with `--follow`); the shard list is read again every 2 s while following.
    func runRemote(_ client: RemoteClient) async throws {
        let source = try KinesisSource(
            endpoint: client.endpoint.absoluteString, stream: name, environment: try remote.environment())
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
                    var text = ""
                    for r in records.prefix(remaining) { text += Self.line(r, decode: decode) }
                    out.write(Data(text.utf8))
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
