import Foundation
import ShardLog
import ShardLogServer
import ShardLogTestSupport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `GET /metrics` with values checked: records put by `shardlog put` in another process, a mapping hosted by the
/// server over a backlog, and a mapping run by `shardlog map` in another process.
@Suite(.timeLimit(.minutes(2)))
struct ServerMetricsTests {
    /// One sample of the exposition.
    struct Sample {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    /// Fetches and parses `/metrics` (label values here never hold `,` or `"`).
    static func scrape(_ port: Int) async throws -> [Sample] {
        let url = try #require(URL(string: "http://127.0.0.1:\(port)/metrics"))
        let (body, response) = try await URLSession.shared.data(from: url)
        #expect((response as? HTTPURLResponse)?.statusCode == 200)
        var samples: [Sample] = []
        for line in String(decoding: body, as: UTF8.self).split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                continue
            }
            let series = line[..<space]
            var labels: [String: String] = [:]
            let name: Substring
            if let open = series.firstIndex(of: "{"), series.hasSuffix("}") {
                name = series[..<open]
                for pair in series[series.index(after: open)..<series.index(before: series.endIndex)]
                    .split(separator: ",")
                {
                    let parts = pair.split(separator: "=", maxSplits: 1)
                    guard parts.count == 2 else { continue }
                    labels[String(parts[0])] = String(parts[1].dropFirst().dropLast())
                }
            } else {
                name = series
            }
            samples.append(Sample(name: String(name), labels: labels, value: value))
        }
        return samples
    }

    /// The sum of the samples of `name` whose labels include `labels`; `nil` when there is none.
    static func sum(_ samples: [Sample], _ name: String, _ labels: [String: String] = [:]) -> Double? {
        let matching = samples.filter { s in s.name == name && labels.allSatisfy { s.labels[$0.key] == $0.value } }
        return matching.isEmpty ? nil : matching.reduce(0) { $0 + $1.value }
    }

    /// Waits (at most `seconds`) until `condition` holds for a scrape; returns the last scrape.
    static func scrape(_ port: Int, until condition: ([Sample]) -> Bool, seconds: Int = 60) async throws -> [Sample] {
        let deadline = ContinuousClock.now + .seconds(seconds)
        var samples = try await scrape(port)
        while !condition(samples) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(200))
            samples = try await scrape(port)
        }
        return samples
    }

    @Test func recordsPutByAnotherProcessAreCountedPerShardFromTheStore() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            _ = try store.createStream(named: "orders", shardCount: 4, retentionHours: 48)
            try await withServer(directory: dir) { port in
                // Before any record: the stream and its shards are there, at zero.
                var samples = try await Self.scrape(port)
                #expect(Self.sum(samples, "shardlog_incoming_records_total", ["stream": "orders"]) == 0)
                #expect(Self.sum(samples, "shardlog_stream_shards", ["stream": "orders", "state": "open"]) == 4)
                #expect(Self.sum(samples, "shardlog_stream_shards", ["stream": "orders", "state": "closed"]) == 0)
                #expect(Self.sum(samples, "shardlog_stream_retention_hours", ["stream": "orders"]) == 48)

                let lines = (0..<500).map { "record-\($0)-" + String(repeating: "x", count: $0 % 40) }
                let put = try await runShardlog(
                    ["--data-dir", dir, "put", "orders"], input: Data((lines.joined(separator: "\n") + "\n").utf8))
                #expect(put.status == 0, "\(put.stderr)")
                samples = try await Self.scrape(port)
                #expect(Self.sum(samples, "shardlog_incoming_records_total", ["stream": "orders"]) == 500)
                // Each shard's count is its tip, read by another path (the library's iterator).
                let stream = try Store(directory: dir).stream(named: "orders")
                for shard in try stream.describe().shards {
                    let tip = try stream.iterator(shardId: shard.shardId, position: .latest).offset
                    #expect(
                        Self.sum(
                            samples, "shardlog_incoming_records_total",
                            ["stream": "orders", "shard": shard.shardId]) == Double(tip))
                }
                // Payload bytes hold every record's data and key, plus a few bytes of varints per record.
                let dataBytes = Double(lines.reduce(0) { $0 + $1.utf8.count })
                let bytes = try #require(Self.sum(samples, "shardlog_incoming_bytes_total", ["stream": "orders"]))
                #expect(bytes > dataBytes && bytes < dataBytes + 500 * (256 + 12), "\(bytes) vs \(dataBytes)")

                // A second put is added, not counted again from zero.
                let more = try await runShardlog(
                    ["--data-dir", dir, "put", "orders"], input: Data("a\nb\nc\n".utf8))
                #expect(more.status == 0, "\(more.stderr)")
                samples = try await Self.scrape(port)
                #expect(Self.sum(samples, "shardlog_incoming_records_total", ["stream": "orders"]) == 503)

                // API requests are counted by operation and code.
                let request = try #require(URL(string: "http://127.0.0.1:\(port)/")).request(
                    target: "DescribeStreamSummary", body: #"{"StreamName":"nope"}"#)
                _ = try await URLSession.shared.data(for: request)
                samples = try await Self.scrape(port)
                #expect(
                    Self.sum(
                        samples, "shardlog_api_requests_total",
                        ["operation": "DescribeStreamSummary", "code": "ResourceNotFoundException"]) == 1)
                #expect(
                    Self.sum(
                        samples, "shardlog_api_request_duration_seconds_count",
                        ["operation": "DescribeStreamSummary"]) == 1)
            }
        }
    }

    /// Streams of one name in two regions and two accounts have their own series, told apart by the `account` and
    /// `region` labels; the data directory's stream is `000000000000`/`us-east-1`.
    @Test func seriesCarryAccountAndRegion() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            _ = try store.createStream(named: "orders", shardCount: 2, retentionHours: 24)
            try await withServer(directory: dir) { port in
                // Unsigned-server requests still take their region from the credential scope of the header.
                func scoped(_ region: String, _ operation: String, _ body: String) async throws -> KinesisReply {
                    try await kinesisRequest(
                        port: port, operation: operation, body: body,
                        headers: [
                            "Authorization":
                                "AWS4-HMAC-SHA256 Credential=AKIDMETRICS/20261207/\(region)/kinesis/aws4_request, "
                                + "SignedHeaders=host;x-amz-date, Signature=00"
                        ])
                }
                #expect(
                    try await scoped("eu-west-1", "CreateStream", #"{"StreamName":"orders","ShardCount":3}"#).status
                        == 200)
                let put = try await scoped(
                    "eu-west-1", "PutRecord", #"{"StreamName":"orders","PartitionKey":"k","Data":"aGk="}"#)
                #expect(put.status == 200, "\(put.body)")
                let samples = try await Self.scrape(port)
                let home = ["account": "000000000000", "region": "us-east-1", "stream": "orders"]
                let away = ["account": "000000000000", "region": "eu-west-1", "stream": "orders"]
                #expect(Self.sum(samples, "shardlog_stream_shards", home.merging(["state": "open"]) { $1 }) == 2)
                #expect(Self.sum(samples, "shardlog_stream_shards", away.merging(["state": "open"]) { $1 }) == 3)
                #expect(Self.sum(samples, "shardlog_stream_retention_hours", home) == 24)
                #expect(Self.sum(samples, "shardlog_incoming_records_total", home) == 0)
                #expect(Self.sum(samples, "shardlog_incoming_records_total", away) == 1)
                // Every stream series names its account and region.
                let streamSeries = samples.filter { $0.name.hasPrefix("shardlog_incoming_") }
                #expect(!streamSeries.isEmpty)
                #expect(streamSeries.allSatisfy { $0.labels["account"] != nil && $0.labels["region"] != nil })
            }
        }
    }

    @Test func hostedMappingOverABacklogDrainsToZeroBehind() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir + "/data")
            _ = try store.createStream(named: "orders", shardCount: 2)
            let stream = try store.stream(named: "orders")
            for i in 0..<300 { try stream.put(partitionKey: "k\(i)", data: Array("{\"n\":\(i)}".utf8)) }
            let config = """
                {"Mappings": [{"MappingName": "billing", "StreamName": "orders", "StartingPosition": "TRIM_HORIZON",
                  "BatchSize": 25, "Handler": "exec:cat > /dev/null"}]}
                """
            let file = dir + "/mappings.json"
            #expect(FileManager.default.createFile(atPath: file, contents: Data(config.utf8)))
            var options = KinesisServerOptions()
            options.mappingsFile = file
            try await withServer(options, directory: dir + "/data") { port in
                let samples = try await Self.scrape(port) { s in
                    Self.sum(s, "shardlog_mapping_records_behind", ["mapping": "billing"]) == 0
                        && s.filter { $0.name == "shardlog_mapping_records_behind" }.count == 2
                        && (Self.sum(s, "shardlog_mapping_invocations_total", ["mapping": "billing"]) ?? 0) >= 12
                }
                #expect(Self.sum(samples, "shardlog_incoming_records_total", ["stream": "orders"]) == 300)
                #expect(Self.sum(samples, "shardlog_mapping_records_behind", ["mapping": "billing"]) == 0)
                // Both shards report their lag, labelled with the data directory's account and region.
                let behind = samples.filter { $0.name == "shardlog_mapping_records_behind" }
                #expect(behind.count == 2)
                #expect(
                    behind.allSatisfy { $0.labels["account"] == "000000000000" && $0.labels["region"] == "us-east-1" })
                let invocations = try #require(
                    Self.sum(samples, "shardlog_mapping_invocations_total", ["mapping": "billing"]))
                // 300 records in batches of at most 25 take at least 12 invocations.
                #expect(invocations >= 12)
                #expect(
                    Self.sum(samples, "shardlog_mapping_invocation_duration_seconds_count", ["mapping": "billing"])
                        == invocations)
                #expect(Self.sum(samples, "shardlog_mapping_errors_total", ["mapping": "billing"]) == 0)
                #expect(Self.sum(samples, "shardlog_mapping_discarded_records_total", ["mapping": "billing"]) == 0)
                let sum = try #require(
                    Self.sum(samples, "shardlog_mapping_invocation_duration_seconds_sum", ["mapping": "billing"]))
                #expect(sum > 0)
            }
        }
    }

    @Test func mappingRunByMapInAnotherProcessShowsUp() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            _ = try store.createStream(named: "clicks", shardCount: 1)
            let stream = try store.stream(named: "clicks")
            for i in 0..<40 { try stream.put(partitionKey: "k", data: Array("c\(i)".utf8)) }
            try await withServer(directory: dir) { port in
                let map = try await runShardlog([
                    "--data-dir", dir, "map", "clicks", "--mapping-name", "counter", "--handler",
                    "exec:cat > /dev/null; exit 1",
                    "--starting-position", "TRIM_HORIZON", "--batch-size", "10", "--maximum-retry-attempts", "1",
                    "--no-bisect-batch-on-function-error", "--exit-when-idle",
                ])
                #expect(map.status == 0, "\(map.stderr)")
                let samples = try await Self.scrape(port)
                // Four batches of ten, each tried twice and discarded.
                #expect(Self.sum(samples, "shardlog_mapping_invocations_total", ["mapping": "counter"]) == 8)
                #expect(
                    Self.sum(samples, "shardlog_mapping_errors_total", ["mapping": "counter", "kind": "function"]) == 8)
                #expect(Self.sum(samples, "shardlog_mapping_discarded_records_total", ["mapping": "counter"]) == 40)
                #expect(
                    Self.sum(
                        samples, "shardlog_mapping_records_behind",
                        ["mapping": "counter", "shard": "shardId-000000000000"]) == 0)
                // A second scrape adds nothing: the counts are taken once.
                let again = try await Self.scrape(port)
                #expect(Self.sum(again, "shardlog_mapping_invocations_total", ["mapping": "counter"]) == 8)
                #expect(
                    Self.sum(again, "shardlog_mapping_invocation_duration_seconds_count", ["mapping": "counter"]) == 8)
            }
        }
    }
}

extension URL {
    /// A Kinesis JSON 1.1 request of `target` to this endpoint.
    fileprivate func request(target: String, body: String) -> URLRequest {
        var request = URLRequest(url: self)
        request.httpMethod = "POST"
        request.setValue("Kinesis_20131202." + target, forHTTPHeaderField: "X-Amz-Target")
        request.setValue("application/x-amz-json-1.1", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(body.utf8)
        return request
    }
}
