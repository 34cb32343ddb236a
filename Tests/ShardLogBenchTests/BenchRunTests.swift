import Foundation
import ShardLog
import ShardLogTestSupport
import Testing

@testable import ShardLogBench

/// The workloads end to end on tiny settings: they produce well-formed results (figures are not checked: these are
/// not timed tests).
@Suite(.timeLimit(.minutes(1)))
struct BenchRunTests {
    func document(_ stdout: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any])
    }

    @Test func affineKeysKeepProducersOnTheirOwnShards() async throws {
        try await withTemporaryDirectory { directory in
            let store = try Store(directory: directory)
            let description = try store.createStream(named: "k", shardCount: 4)
            let stream = try store.stream(named: "k")
            let shardIds = description.shards.map(\.shardId)
            let affine = KeyPlan.keys(stream: stream, shardIds: shardIds, producers: 2, mode: .affine, keysPerShard: 8)
            #expect(affine.count == 2)
            #expect(Set(affine[0].map { stream.shardId(forPartitionKey: $0) }) == [shardIds[0], shardIds[2]])
            #expect(Set(affine[1].map { stream.shardId(forPartitionKey: $0) }) == [shardIds[1], shardIds[3]])
            let spread = KeyPlan.keys(stream: stream, shardIds: shardIds, producers: 3, mode: .spread, keysPerShard: 8)
            #expect(spread.count == 3)
            #expect(Set(spread[2].map { stream.shardId(forPartitionKey: $0) }) == Set(shardIds))
            let shared = KeyPlan.keys(
                stream: stream, shardIds: [shardIds[0]], producers: 2, mode: .affine, keysPerShard: 4)
            #expect(shared[0] == shared[1])
        }
    }

    @Test func payloadsHaveTheRequestedSize() {
        for kind in PayloadKind.allCases {
            let payloads = kind.payloads(byteCount: 100, count: 3)
            #expect(payloads.count == 3)
            #expect(payloads.allSatisfy { $0.count == 100 })
            #expect(Set(payloads).count == 3)
        }
        #expect(PayloadKind.json.payloads(byteCount: 5, count: 1)[0] == Array(#"{"use"#.utf8))
    }

    @Test func ingestRunsAndPrintsJSON() async throws {
        try await withTemporaryDirectory { directory in
            let result = try await runShardlog([
                "bench", "ingest", "--shards", "1,2", "--producers", "2", "--duration", "0.05", "--repeats", "2",
                "--durability", "none,always", "--json", "--quiet", "--scratch-dir", directory,
            ])
            #expect(result.status == 0, "\(result.stderr)")
            let json = try document(result.stdout)
            #expect(json["benchmark"] as? String == "ingest")
            let points = try #require(json["points"] as? [[String: Any]])
            #expect(points.count == 4)
            for point in points {
                let rate = try #require(point["recordsPerSecond"] as? [String: Any])
                #expect((rate["samples"] as? [Double])?.count == 2)
                #expect((rate["median"] as? Double ?? 0) > 0)
            }
            // The per-point data directories are gone.
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
        }
    }

    @Test func readRunsAndPrintsATable() async throws {
        try await withTemporaryDirectory { directory in
            let result = try await runShardlog([
                "bench", "read", "--shards", "2", "--readers", "1,2", "--records", "5000", "--repeats", "1",
                "--scratch-dir", directory,
            ])
            #expect(result.status == 0, "\(result.stderr)")
            let lines = result.stdout.split(separator: "\n")
            #expect(lines.count == 4)
            #expect(lines.first?.hasPrefix("shards") == true)
            #expect(result.stderr.contains("bench:"))
        }
    }

    @Test func scalingDeliversThroughTheMappingAndWritesAReport() async throws {
        try await withTemporaryDirectory { directory in
            let report = directory + "/report"
            let result = try await runShardlog([
                "bench", "scaling", "--shards", "1,2", "--parallelization-factors", "2", "--handler-latency-ms", "1",
                "--duration", "0.2", "--repeats", "1", "--max-backlog", "2000", "--latency-rate", "500",
                "--json", "--quiet", "--report", report, "--scratch-dir", directory + "/scratch",
            ])
            #expect(result.status == 0, "\(result.stderr)")
            let json = try document(result.stdout)
            let points = try #require(json["points"] as? [[String: Any]])
            #expect(points.count == 2)
            for point in points {
                let delivered = try #require(point["deliveryRecordsPerSecond"] as? [String: Any])
                #expect((delivered["median"] as? Double ?? 0) > 0)
                let latency = try #require(point["latency"] as? [String: Any])
                #expect((latency["count"] as? Int ?? 0) > 0)
                #expect((latency["p50Microseconds"] as? Double ?? 0) > 0)
                #expect(point["idealRecordsPerSecond"] as? Double == Double(point["shards"] as? Int ?? 0) * 200_000)
            }
            let html = try String(contentsOfFile: report + "/report.html", encoding: .utf8)
            #expect(html.contains("Delivery throughput vs shards"))
            #expect(FileManager.default.fileExists(atPath: report + "/report.json"))
        }
    }

    /// Whether `python3 -m awslambdaric` can run here (`make deps` installs it).
    static let hasLambdaRuntimeClient: Bool = {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import awslambdaric"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }()

    @Test(
        .enabled(
            if: hasLambdaRuntimeClient,
            "python3 cannot import awslambdaric: `make deps` (pip install awslambdaric) to run handler processes"))
    func runtimeAPIInvokesHandlerProcesses() async throws {
        try await withTemporaryDirectory { directory in
            let result = try await runShardlog([
                "bench", "runtime-api", "--parallelization-factors", "2", "--records", "3000", "--duration", "0.2",
                "--repeats", "1", "--json", "--quiet", "--scratch-dir", directory,
            ])
            #expect(result.status == 0, "\(result.stderr)")
            let points = try #require(try document(result.stdout)["points"] as? [[String: Any]])
            #expect(points.count == 1)
            let invocations = try #require(points.first?["invocationsPerSecond"] as? [String: Any])
            #expect((invocations["median"] as? Double ?? 0) > 0)
            #expect(points.first?["processes"] as? Int == 2)
            // The bare Runtime API loop ran the same processes after the mapping.
            let bare = try #require(points.first?["bareInvocationsPerSecond"] as? [String: Any])
            #expect((bare["median"] as? Double ?? 0) > 0)
            #expect((points.first?["fractionOfBare"] as? Double ?? 0) > 0)
        }
    }

    @Test func followMeasuresAGetFollowProcess() async throws {
        try await withTemporaryDirectory { directory in
            let result = try await runShardlog([
                "bench", "follow", "--rates", "200", "--duration", "0.3", "--warmup", "0.1", "--repeats", "2",
                "--json", "--quiet", "--scratch-dir", directory,
            ])
            #expect(result.status == 0, "\(result.stderr)")
            let json = try document(result.stdout)
            #expect(json["benchmark"] as? String == "follow")
            let points = try #require(json["points"] as? [[String: Any]])
            #expect(points.count == 1)
            let point = try #require(points.first)
            #expect(point["offeredRecordsPerSecond"] as? Int == 200)
            let latency = try #require(point["latency"] as? [String: Any])
            // Every measured record was seen (a missing one fails the run), and each has a latency.
            #expect((latency["count"] as? Int ?? 0) > 0)
            #expect((latency["p50Microseconds"] as? Double ?? 0) > 0)
            #expect(((point["p99Microseconds"] as? [String: Any])?["samples"] as? [Double])?.count == 2)
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
        }
    }

    @Test func followRecordsCarryTheirPutTime() throws {
        let data = FollowRecord.data(stamp: 123_456_789, measured: true, byteCount: 40)
        #expect(data.count == 40)
        let line = #"{"shardId":"shardId-000000000000","data":"\#(Data(data).base64EncodedString())"}"#
        let parsed = try #require(FollowRecord.parse(line: line[...]))
        #expect(parsed.stamp == 123_456_789)
        #expect(parsed.measured)
        #expect(FollowRecord.parse(line: #"{"data":"AAAA"}"#[...]) == nil)
        #expect(FollowRecord.parse(line: "not a record") == nil)
    }
}
