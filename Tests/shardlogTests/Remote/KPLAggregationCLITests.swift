import Foundation
import ShardLog
import ShardLogTestSupport
import Testing

/// KPL aggregation end to end: `put --aggregate` read back by the Python `aws_kinesis_agg` de-aggregator, and
/// records aggregated by `aws_kinesis_agg` de-aggregated by `map --deaggregate`.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct KPLAggregationCLITests {
    @Test func putAggregateIsReadBackByAwsKinesisAgg() async throws {
        try await withServer { port in
            let url = "http://127.0.0.1:\(port)"
            _ = try await runShardlog(["create-stream", "agg", "--shards", "3", "--endpoint-url", url])
            let (lines, count) = Self.lines()
            let put = try await runShardlog(
                ["put", "agg", "--endpoint-url", url, "--key-field", "user", "--aggregate", "--json"],
                input: Data(lines.utf8))
            #expect(put.status == 0, "\(put.stderr)")
            let summary = try #require(try JSONSerialization.jsonObject(with: Data(put.stdout.utf8)) as? [String: Any])
            #expect(summary["records"] as? Int == count)
            try await Self.expectDeaggregated("agg", count: count, port: port)
        }
    }

    /// `put --aggregate` into the data directory packs the lines into KPL aggregates there, as it does remotely.
    @Test func localPutAggregateIsReadBackByAwsKinesisAgg() async throws {
        try await withTemporaryDirectory { directory in
            let created = try await runShardlog(["--data-dir", directory, "create-stream", "agg", "--shards", "3"])
            #expect(created.status == 0, "\(created.stderr)")
            let (lines, count) = Self.lines()
            let put = try await runShardlog(
                ["--data-dir", directory, "put", "agg", "--key-field", "user", "--aggregate", "--json"],
                input: Data(lines.utf8))
            #expect(put.status == 0, "\(put.stderr)")
            let summary = try #require(try JSONSerialization.jsonObject(with: Data(put.stdout.utf8)) as? [String: Any])
            #expect(summary["records"] as? Int == count)
            #expect((summary["shards"] as? [String: Int])?.values.reduce(0, +) == count)
            try await withServer(directory: directory) { port in
                try await Self.expectDeaggregated("agg", count: count, port: port)
            }
        }
    }

    /// `count` JSON lines of 40 users: `{"user":"u<n % 40>","n":<n>}`.
    static func lines(count: Int = 3000) -> (String, Int) {
        ((0..<count).map { "{\"user\":\"u\($0 % 40)\",\"n\":\($0)}\n" }.joined(), count)
    }

    /// Reads `stream` through the endpoint on `port` with boto3 and `aws_kinesis_agg`, and checks it holds the
    /// ``lines(count:)`` as KPL aggregates: every line once, each user's in order, each in its key's shard.
    static func expectDeaggregated(_ stream: String, count: Int, port: Int) async throws {
        // Every Kinesis record de-aggregated; for each: its partition key, whether every user record's key
        // hashes into the record's shard, and the user records (key, data).
        let result = try #require(
            try await runBoto3(
                """
                import hashlib
                from aws_kinesis_agg.deaggregator import iter_deaggregate_records
                ranges = {s["ShardId"]: (int(s["HashKeyRange"]["StartingHashKey"]),
                                         int(s["HashKeyRange"]["EndingHashKey"]))
                          for s in k.list_shards(StreamName=sys.argv[2])["Shards"]}
                out = {"kinesisRecords": 0, "keys": [], "users": [], "misrouted": 0}
                for r in read_all(sys.argv[2]):
                    out["kinesisRecords"] += 1
                    out["keys"].append(r["PartitionKey"])
                    lo, hi = ranges[r["ShardId"]]
                    for u in iter_deaggregate_records([r], data_format="Boto3"):
                        pk = u["kinesis"]["partitionKey"]
                        h = int(hashlib.md5(pk.encode()).hexdigest(), 16)
                        out["misrouted"] += not (lo <= h <= hi)
                        data = u["kinesis"]["data"]
                        data = base64.b64decode(data) if u["kinesis"].get("aggregated") else data
                        out["users"].append([pk, json.loads(data)])
                print(json.dumps(out))
                """, port: port, arguments: [stream]) as? [String: Any])
        let users = try #require(result["users"] as? [[Any]])
        #expect(users.count == count)
        let kinesisRecords = try #require(result["kinesisRecords"] as? Int)
        #expect(kinesisRecords < count / 10, "\(kinesisRecords) Kinesis records for \(count) user records")
        #expect((result["keys"] as? [String])?.contains("a") == true)
        #expect(result["misrouted"] as? Int == 0)
        var last: [String: Int] = [:]
        var seen = Set<Int>()
        for user in users {
            let key = try #require(user.first as? String)
            let n = try #require((user.last as? [String: Any])?["n"] as? Int)
            #expect(key == "u\(n % 40)")
            #expect((last[key] ?? -1) < n, "\(key): \(n) after \(last[key] ?? -1)")
            last[key] = n
            seen.insert(n)
        }
        #expect(seen == Set(0..<count))
    }

    @Test func mapDeaggregatesWhatAwsKinesisAggAggregated() async throws {
        try await withTemporaryDirectory { dir in
            // Two aggregated records from aws_kinesis_agg, then a plain record, then an aggregate with a bad MD5.
            let script = """
                import base64, json
                from aws_kinesis_agg.aggregator import RecordAggregator
                out = []
                for batch in range(2):
                    agg = RecordAggregator()
                    for i in range(batch * 50, batch * 50 + 50):
                        agg.add_user_record(f"user-{i % 6}", json.dumps({"i": i}).encode())
                    pk, ehk, data = agg.clear_and_get().get_contents()
                    out.append(base64.b64encode(data).decode())
                print(json.dumps(out))
                """
            let r = try await runProcess(projectPython, ["-c", script])
            let aggregates = try #require(
                try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String], "\(r.stderr)"
            ).compactMap { Data(base64Encoded: $0).map(Array.init) }
            #expect(aggregates.count == 2)
            var corrupt = aggregates[0]
            corrupt[corrupt.count - 1] ^= 0x55
            let store = try Store(directory: dir + "/data")
            _ = try store.createStream(named: "kpl", shardCount: 1, segmentByteCount: 1 << 20)
            let stream = try store.stream(named: "kpl")
            try stream.put(partitionKey: "a", data: aggregates[0])
            try stream.put(partitionKey: "a", data: aggregates[1])
            try stream.put(partitionKey: "plain", data: Array("{\"i\":-1}".utf8))
            try stream.put(partitionKey: "a", data: corrupt)

            let log = dir + "/events.jsonl"
            let handler = dir + "/handler.sh"
            try "#!/bin/sh\ncat >> \"\(log)\"\necho >> \"\(log)\"\n".write(
                toFile: handler, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: handler)
            let map = try await runShardlog([
                "--data-dir", dir + "/data", "map", "kpl", "--handler", "exec:\(handler)", "--deaggregate",
                "--starting-position", "TRIM_HORIZON", "--batch-size", "3", "--exit-when-idle",
            ])
            #expect(map.status == 0, "\(map.stderr)")
            let events = try #require(FileManager.default.contents(atPath: log))
            var rows: [[String: Any]] = []
            for line in String(decoding: events, as: UTF8.self).split(separator: "\n") {
                let event = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                rows += try #require(event["Records"] as? [[String: Any]]).compactMap {
                    $0["kinesis"] as? [String: Any]
                }
            }
            #expect(rows.count == 102)
            for (i, row) in rows.prefix(100).enumerated() {
                #expect(row["partitionKey"] as? String == "user-\(i % 6)")
                #expect(row["subSequenceNumber"] as? Int == i % 50)
                let data = try #require((row["data"] as? String).flatMap { Data(base64Encoded: $0) })
                #expect(String(decoding: data, as: UTF8.self) == "{\"i\": \(i)}")
            }
            #expect(Set(rows.prefix(50).map { $0["sequenceNumber"] as? String }).count == 1)
            #expect(rows[100]["partitionKey"] as? String == "plain" && rows[100]["subSequenceNumber"] == nil)
            // The aggregate with a bad MD5 is delivered as it is.
            #expect(rows[101]["partitionKey"] as? String == "a")
            #expect(rows[101]["data"] as? String == Data(corrupt).base64EncodedString())
            #expect(rows[101]["subSequenceNumber"] == nil)
        }
    }
}
