import Foundation
import ShardLog
import ShardLogServer
import ShardLogTestSupport
import Testing

/// `shardlog put --endpoint-url` through the built binary, into an in-process `shardlog serve` (with and without
/// injected faults) and into moto.
@Suite(.timeLimit(.minutes(3)))
struct RemotePutTests {
    /// JSON lines {"user": "u<k>", "n": <i>} over `keys` users.
    func input(count: Int, keys: Int) -> Data {
        Data((0..<count).map { "{\"user\":\"u\($0 % keys)\",\"n\":\($0)}\n" }.joined().utf8)
    }

    /// Every n of 0..<count read back exactly once, and each user's n increasing (per-key order kept).
    func expectStoredOnceInOrder(_ dir: String, stream: String, count: Int) async throws {
        let r = try await runShardlog(["--data-dir", dir, "get", stream])
        #expect(r.status == 0, "\(r.stderr)")
        var seen: [Int] = []
        var last: [String: Int] = [:]
        for line in r.stdout.split(separator: "\n") {
            let row = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let data = try #require((row["data"] as? String).flatMap { Data(base64Encoded: $0) })
            let record = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            let (user, n) = (try #require(record["user"] as? String), try #require(record["n"] as? Int))
            #expect((last[user] ?? -1) < n, "\(user): \(n) after \(last[user] ?? -1)")
            last[user] = n
            seen.append(n)
        }
        #expect(seen.count == count)
        #expect(Set(seen) == Set(0..<count))
    }

    @Test func putIntoServeStoresEverythingInKeyOrder() async throws {
        try await withTemporaryDirectory { dir in
            _ = try await runShardlog(["--data-dir", dir, "create-stream", "r", "--shards", "3"])
            let count = 3000
            try await withServer(directory: dir) { port in
                let r = try await runShardlog(
                    ["put", "r", "--endpoint-url", "http://127.0.0.1:\(port)", "--key-field", "user", "--json"],
                    input: input(count: count, keys: 50))
                #expect(r.status == 0, "\(r.stderr)")
                let summary = try #require(
                    try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
                #expect(summary["records"] as? Int == count)
            }
            try await expectStoredOnceInOrder(dir, stream: "r", count: count)
        }
    }

    @Test func putSurvivesInjectedFaultsExactlyOnceAndInOrder() async throws {
        try await withTemporaryDirectory { dir in
            _ = try await runShardlog(["--data-dir", dir, "create-stream", "r", "--shards", "2"])
            let count = 2000
            var options = KinesisServerOptions()
            options.faults = try FaultInjector(
                spec: "ProvisionedThroughputExceededException=0.2,PutRecords:InternalFailure=0.15", seed: 11)
            try await withServer(options, directory: dir) { port in
                let r = try await runShardlog(
                    ["put", "r", "--endpoint-url", "http://127.0.0.1:\(port)", "--key-field", "user"],
                    input: input(count: count, keys: 200), timeout: .seconds(150))
                #expect(r.status == 0, "\(r.stderr)")
                #expect(r.stderr.contains("put \(count) records"), "\(r.stderr)")
            }
            try await expectStoredOnceInOrder(dir, stream: "r", count: count)
        }
    }

    @Test func refusedLineIsNumberedAndEarlierRecordsAreSent() async throws {
        try await withTemporaryDirectory { dir in
            _ = try await runShardlog(["--data-dir", dir, "create-stream", "r"])
            try await withServer(directory: dir) { port in
                let r = try await runShardlog(
                    ["put", "r", "--endpoint-url", "http://127.0.0.1:\(port)", "--key-field", "user"],
                    input: Data("{\"user\":\"a\",\"n\":0}\n{\"user\":\"a\",\"n\":1}\nnot json\n".utf8))
                #expect(r.status == 1)
                #expect(r.stderr.contains("line 3: not valid JSON"), "\(r.stderr)")
                #expect(r.stderr.contains("2 earlier records are stored"), "\(r.stderr)")
            }
            try await expectStoredOnceInOrder(dir, stream: "r", count: 2)
        }
    }

    @Test func unknownStreamAndBadURLAreNamed() async throws {
        try await withServer { port in
            let r = try await runShardlog(
                ["put", "nope", "--endpoint-url", "http://127.0.0.1:\(port)"], input: Data("x\n".utf8))
            #expect(r.status == 1)
            #expect(r.stderr.contains("ResourceNotFoundException"), "\(r.stderr)")
        }
        let bad = try await runShardlog(["put", "s", "--endpoint-url", "ftp://x"], input: Data("x\n".utf8))
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("--endpoint-url 'ftp://x' is not an http:// or https:// URL"), "\(bad.stderr)")
    }

    /// Against moto: a stream created with boto3 receives every line, each key's records in order.
    @Test func putIntoMotoWorks() async throws {
        try await withMoto { port in
            _ = try await runBoto3("create('moto', 2); print('{}')", port: port)
            let lines = Data((0..<600).map { "{\"user\":\"u\($0 % 7)\",\"n\":\($0)}\n" }.joined().utf8)
            let put = try await runShardlog(
                ["put", "moto", "--endpoint-url", "http://127.0.0.1:\(port)", "--key-field", "user"], input: lines,
                timeout: .seconds(120))
            #expect(put.status == 0, "\(put.stderr)")
            let rows = try #require(
                try await runBoto3(
                    "print(json.dumps([json.loads(r['Data']) for r in read_all('moto')]))", port: port)
                    as? [[String: Any]])
            let numbers = rows.compactMap { $0["n"] as? Int }
            #expect(numbers.count == 600)
            #expect(Set(numbers) == Set(0..<600))
            var last: [String: Int] = [:]
            for row in rows {
                let (user, n) = (try #require(row["user"] as? String), try #require(row["n"] as? Int))
                #expect((last[user] ?? -1) < n)
                last[user] = n
            }
        }
    }
}
