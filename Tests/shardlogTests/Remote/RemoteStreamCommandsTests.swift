import Foundation
import ShardLog
import ShardLogServer
import ShardLogTestSupport
import Testing

/// `create-stream`, `list-streams`, `describe-stream` and `get` with `--endpoint-url`, through the built binary,
/// against an in-process `shardlog serve` (whose data directory the same commands read locally) and moto.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct RemoteStreamCommandsTests {
    /// JSON lines {"user": "u<k>", "n": <i>} over `keys` users, from `start`.
    func input(count: Int, keys: Int, start: Int = 0) -> Data {
        Data((start..<(start + count)).map { "{\"user\":\"u\($0 % keys)\",\"n\":\($0)}\n" }.joined().utf8)
    }

    /// The `shardId` of each output line of `get`, in order.
    func shardIds(_ stdout: String) throws -> [String] {
        try stdout.split(separator: "\n").map { line in
            let row = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            return try #require(row["shardId"] as? String)
        }
    }

    /// Lines grouped by shard, each shard's lines in output order.
    func byShard(_ stdout: String) throws -> [String: [Substring]] {
        let lines = stdout.split(separator: "\n")
        return Dictionary(grouping: zip(try shardIds(stdout), lines), by: \.0).mapValues { $0.map(\.1) }
    }

    @Test func createListDescribeThroughServeMatchTheDataDirectory() async throws {
        try await withTemporaryDirectory { dir in
            let (remote, remoteList, remoteJSON) = try await withServer(directory: dir) { port in
                let url = "http://127.0.0.1:\(port)"
                let created = try await runShardlog(
                    ["create-stream", "orders", "--shards", "3", "--retention-hours", "48", "--endpoint-url", url])
                #expect(created.status == 0, "\(created.stderr)")
                #expect(created.stderr.contains("created stream orders with 3 shards at \(url)"), "\(created.stderr)")
                let other = try await runShardlog(["create-stream", "audit", "--endpoint-url", url, "--json"])
                #expect(other.status == 0, "\(other.stderr)")
                let description = try #require(
                    try JSONSerialization.jsonObject(with: Data(other.stdout.utf8)) as? [String: Any])
                let fields = try #require(description["StreamDescription"] as? [String: Any])
                #expect(fields["StreamName"] as? String == "audit")
                #expect(fields["StreamStatus"] as? String == "ACTIVE")
                let again = try await runShardlog(["create-stream", "orders", "--endpoint-url", url])
                #expect(again.status == 1)
                #expect(again.stderr.contains("ResourceInUseException"), "\(again.stderr)")
                let list = try await runShardlog(["list-streams", "--endpoint-url", url])
                let json = try await runShardlog(["list-streams", "--endpoint-url", url, "--json"])
                let describe = try await runShardlog(["describe-stream", "orders", "--endpoint-url", url])
                #expect(describe.status == 0, "\(describe.stderr)")
                return (describe.stdout, list.stdout, json.stdout)
            }
            let local = try await runShardlog(["describe-stream", "orders", "--data-dir", dir])
            #expect(remote == local.stdout)
            #expect(remote.contains("retention 48 h  3 open / 3 shards"), "\(remote)")
            let localList = try await runShardlog(["list-streams", "--data-dir", dir])
            #expect(remoteList == localList.stdout)
            #expect(remoteList == "audit\norders\n")
            let localJSON = try await runShardlog(["list-streams", "--data-dir", dir, "--json"])
            #expect(
                try JSONSerialization.jsonObject(with: Data(remoteJSON.utf8)) as? NSDictionary
                    == JSONSerialization.jsonObject(with: Data(localJSON.stdout.utf8)) as? NSDictionary)
        }
    }

    @Test func getThroughServePrintsWhatTheDataDirectoryHoldsParentsFirst() async throws {
        try await withTemporaryDirectory { dir in
            _ = try await runShardlog(["--data-dir", dir, "create-stream", "r", "--shards", "2"])
            _ = try await runShardlog(
                ["--data-dir", dir, "put", "r", "--key-field", "user"], input: input(count: 300, keys: 20))
            let split = try await runShardlog(["--data-dir", dir, "split-shard", "r", "shardId-000000000000"])
            #expect(split.status == 0, "\(split.stderr)")
            _ = try await runShardlog(
                ["--data-dir", dir, "put", "r", "--key-field", "user"], input: input(count: 300, keys: 20, start: 300))
            let local = try await runShardlog(["--data-dir", dir, "get", "r"])
            let localOne = try await runShardlog(["--data-dir", dir, "get", "r", "--shard", "shardId-000000000001"])
            try await withServer(directory: dir) { port in
                let url = "http://127.0.0.1:\(port)"
                let remote = try await runShardlog(["get", "r", "--endpoint-url", url])
                #expect(remote.status == 0, "\(remote.stderr)")
                // Same records, each shard's in the same order; shards may interleave differently.
                #expect(try byShard(remote.stdout) == byShard(local.stdout))
                #expect(remote.stdout.split(separator: "\n").count == 600)
                let ids = try shardIds(remote.stdout)
                let lastParent = try #require(ids.lastIndex(of: "shardId-000000000000"))
                let firstChild = try #require(ids.firstIndex { $0 > "shardId-000000000001" })
                #expect(lastParent < firstChild)
                let one = try await runShardlog(
                    ["get", "r", "--endpoint-url", url, "--shard", "shardId-000000000001"])
                #expect(one.stdout == localOne.stdout)
                let limited = try await runShardlog(["get", "r", "--endpoint-url", url, "--limit", "7"])
                #expect(limited.stdout.split(separator: "\n").count == 7)
                let missing = try await runShardlog(["get", "nope", "--endpoint-url", url])
                #expect(missing.status == 1)
                #expect(missing.stderr.contains("ResourceNotFoundException"), "\(missing.stderr)")
            }
        }
    }

    @Test func getFollowPollsUntilNewRecordsArrive() async throws {
        try await withServer { port in
            let url = "http://127.0.0.1:\(port)"
            _ = try await runShardlog(["create-stream", "live", "--shards", "2", "--endpoint-url", url])
            async let follow = runShardlog(
                ["get", "live", "--endpoint-url", url, "--follow", "--limit", "40"], timeout: .seconds(90))
            // The reader is polling an empty stream by now (or starts at the trim horizon anyway).
            try await Task.sleep(for: .seconds(1))
            let put = try await runShardlog(
                ["put", "live", "--endpoint-url", url, "--key-field", "user"], input: input(count: 40, keys: 8))
            #expect(put.status == 0, "\(put.stderr)")
            let got = try await follow
            #expect(got.status == 0, "\(got.stderr)")
            #expect(got.stdout.split(separator: "\n").count == 40)
        }
    }

    @Test func credentialsAndRegionComeFromTheProfile() async throws {
        var options = KinesisServerOptions()
        options.credentials = ["AKIDPROFILE": "profile-secret"]
        try await withTemporaryDirectory { home in
            try FileManager.default.createDirectory(atPath: home + "/.aws", withIntermediateDirectories: true)
            try """
            [default]
            aws_access_key_id = AKIDWRONG
            aws_secret_access_key = wrong

            [ci]
            aws_access_key_id = AKIDPROFILE
            aws_secret_access_key = profile-secret
            """.write(toFile: home + "/.aws/credentials", atomically: true, encoding: .utf8)
            try "[profile ci]\nregion = eu-west-1\n".write(
                toFile: home + "/.aws/config", atomically: true, encoding: .utf8)
            var clean = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("AWS_") }
            clean["HOME"] = home
            let base = clean
            try await withServer(options) { port in
                var environment = base
                let url = "http://127.0.0.1:\(port)"
                let good = try await runProcess(
                    shardlogBinary, ["create-stream", "p", "--endpoint-url", url, "--profile", "ci", "--json"],
                    environment: environment)
                #expect(good.status == 0, "\(good.stderr)")
                // The profile's region is the one signed for, so the stream's ARN names it.
                #expect(good.stdout.contains("arn:aws:kinesis:eu-west-1:"), "\(good.stdout)")
                environment["AWS_PROFILE"] = "ci"
                let viaVariable = try await runProcess(
                    shardlogBinary, ["list-streams", "--endpoint-url", url], environment: environment)
                #expect(viaVariable.stdout == "p\n", "\(viaVariable.stderr)")
                let regionFlag = try await runProcess(
                    shardlogBinary, ["list-streams", "--endpoint-url", url, "--region", "us-east-1"],
                    environment: environment)
                #expect(regionFlag.status == 0 && regionFlag.stdout.isEmpty, "\(regionFlag.stderr)")
                environment["AWS_PROFILE"] = nil
                let wrong = try await runProcess(
                    shardlogBinary, ["list-streams", "--endpoint-url", url], environment: environment)
                #expect(wrong.status == 1)
                #expect(wrong.stderr.contains("UnrecognizedClientException"), "\(wrong.stderr)")
                let missing = try await runProcess(
                    shardlogBinary, ["list-streams", "--endpoint-url", url, "--profile", "nope"],
                    environment: environment)
                #expect(missing.status != 0)
                #expect(missing.stderr.contains("profile 'nope' is in neither"), "\(missing.stderr)")
            }
        }
        let noEndpoint = try await runShardlog(["list-streams", "--region", "eu-west-1"])
        #expect(noEndpoint.status != 0)
        #expect(noEndpoint.stderr.contains("--region needs --endpoint-url"), "\(noEndpoint.stderr)")
    }

    /// Against moto: what the CLI creates boto3 sees, and what boto3 puts the CLI reads.
    @Test func motoSeesWhatTheCLICreatesAndTheCLIReadsWhatBoto3Puts() async throws {
        try await withMoto { port in
            let url = "http://127.0.0.1:\(port)"
            let created = try await runShardlog(["create-stream", "m", "--shards", "2", "--endpoint-url", url])
            #expect(created.status == 0, "\(created.stderr)")
            let seen = try #require(
                try await runBoto3(
                    """
                    d = k.describe_stream(StreamName="m")["StreamDescription"]
                    for i in range(30):
                        k.put_record(StreamName="m", PartitionKey=f"k{i % 4}", Data=('{"i":%d}' % i).encode())
                    print(json.dumps({"shards": len(d["Shards"]), "status": d["StreamStatus"]}))
                    """, port: port) as? [String: Any])
            #expect(seen["shards"] as? Int == 2)
            #expect(seen["status"] as? String == "ACTIVE")
            let list = try await runShardlog(["list-streams", "--endpoint-url", url])
            #expect(list.stdout == "m\n", "\(list.stderr)")
            let describe = try await runShardlog(["describe-stream", "m", "--endpoint-url", url])
            #expect(describe.stdout.contains("2 open / 2 shards"), "\(describe.stdout) \(describe.stderr)")
            let got = try await runShardlog(["get", "m", "--endpoint-url", url, "--decode"])
            #expect(got.status == 0, "\(got.stderr)")
            var numbers: [String: [Int]] = [:]
            for line in got.stdout.split(separator: "\n") {
                let row = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                let data = try #require(row["data"] as? [String: Any])
                numbers[try #require(row["partitionKey"] as? String), default: []].append(
                    try #require(data["i"] as? Int))
            }
            #expect(numbers.values.flatMap { $0 }.sorted() == Array(0..<30))
            #expect(numbers.values.allSatisfy { $0 == $0.sorted() })
        }
    }
}
