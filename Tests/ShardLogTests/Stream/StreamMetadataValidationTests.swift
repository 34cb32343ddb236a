import Foundation
import ShardLogTestSupport
import Testing

@testable import ShardLog

/// A damaged `stream.json` is reported as corruption naming the file and the field, never a trap, never
/// overwritten; the other streams of the store go on working.
@Suite struct StreamMetadataValidationTests {
    /// One way to damage the file, and a word the error must contain.
    struct Damage: Sendable, CustomTestStringConvertible {
        var name: String
        var field: String
        var change: @Sendable (inout [String: Any]) -> Void
        var testDescription: String { name }

        /// A damage that sets field `field` of shard `i` to the JSON value `json`.
        static func shard(_ name: String, _ i: Int, _ field: String, _ json: String) -> Damage {
            Damage(name: name, field: "shards[\(i)].\(field)") { object in
                var shards = object["shards"] as? [[String: Any]] ?? []
                shards[i][field] = try? JSONSerialization.jsonObject(
                    with: Data(json.utf8), options: .fragmentsAllowed)
                object["shards"] = shards
            }
        }
    }

    static let beyond = "340282366920938463463374607431768211456"  // 2^128

    static let damages: [Damage] = [
        .shard("end below start", 1, "endingHashKey", #""5""#),
        .shard("key above 2^128-1", 1, "endingHashKey", "\"\(beyond)\""),
        .shard("key not a number", 0, "startingHashKey", #""zero""#),
        .shard("negative key", 0, "startingHashKey", #""-1""#),
        .shard("negative offset", 0, "closedAt", "-1"),
        .shard("huge shard createdAt", 0, "createdAt", "1e300"),
        .shard("index beyond nextShardIndex", 1, "index", "7"),
        .shard("duplicate index", 1, "index", "0"),
        .shard("parent that does not exist", 1, "parent", "40"),
        Damage(name: "overlapping ranges", field: "overlaps") { json in
            var shards = json["shards"] as? [[String: Any]] ?? []
            shards[1]["startingHashKey"] = "5"
            json["shards"] = shards
        },
        Damage(name: "gap", field: "without an open shard") { json in
            var shards = json["shards"] as? [[String: Any]] ?? []
            shards[0]["endingHashKey"] = "5"
            json["shards"] = shards
        },
        Damage(name: "empty shard list", field: "shards") { $0["shards"] = [[String: Any]]() },
        Damage(name: "all shards closed", field: "no open shard") { json in
            json["shards"] = (json["shards"] as? [[String: Any]] ?? []).map { s in
                var s = s
                s["closedAt"] = 0
                return s
            }
        },
        Damage(name: "huge retentionHours", field: "retentionHours") { $0["retentionHours"] = 1e300 },
        Damage(name: "retentionHours out of range", field: "retentionHours") { $0["retentionHours"] = 100_000 },
        Damage(name: "huge createdAt", field: "createdAt") { $0["createdAt"] = 1e300 },
        Damage(name: "maxRecordSizeInKiB out of range", field: "maxRecordSizeInKiB") { $0["maxRecordSizeInKiB"] = 512 },
        Damage(name: "negative warmThroughputMiBps", field: "warmThroughputMiBps") { $0["warmThroughputMiBps"] = -1 },
        Damage(name: "empty kmsKeyId", field: "kmsKeyId") { $0["kmsKeyId"] = "" },
        Damage(name: "negative createdAt", field: "createdAt") { $0["createdAt"] = -5 },
        Damage(name: "unknown mode", field: "mode") { $0["mode"] = "TURBO" },
        Damage(name: "missing shards", field: "shards") { $0["shards"] = nil },
        Damage(name: "wrong name", field: "name") { $0["name"] = "other" },
        Damage(name: "huge nextShardIndex", field: "nextShardIndex") { $0["nextShardIndex"] = 1e18 },
    ]

    @Test(arguments: damages)
    func damagedMetadataIsCorruptionNamingTheFileAndTheStoreGoesOn(damage: Damage) async throws {
        try await withTemporaryDirectory { dir in
            let path = try Self.makeStores(dir)
            // Opened before the damage: its cached metadata must not be written over the damaged file.
            let early = try Store(directory: dir).stream(named: "bad")
            let data = try #require(FileManager.default.contents(atPath: path))
            var json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            damage.change(&json)
            let damaged = try JSONSerialization.data(withJSONObject: json)
            try damaged.write(to: URL(fileURLWithPath: path))
            try Self.expectReported(dir: dir, path: path, field: damage.field, bytes: damaged)
            #expect(throws: ShardLogError.self) { try early.setRetention(hours: 48) }
            #expect(throws: ShardLogError.self) { try early.splitShard("shardId-000000000000", newStartingHashKey: 9) }
            #expect(throws: ShardLogError.self) { try early.describe() }
            #expect(FileManager.default.contents(atPath: path) == damaged)
        }
    }

    @Test(arguments: [1, 20, 100])
    func truncatedMetadataIsCorruption(keep: Int) async throws {
        try await withTemporaryDirectory { dir in
            let path = try Self.makeStores(dir)
            let data = try #require(FileManager.default.contents(atPath: path))
            let damaged = data.prefix(keep)
            try damaged.write(to: URL(fileURLWithPath: path))
            try Self.expectReported(dir: dir, path: path, field: "JSON", bytes: Data(damaged))
        }
    }

    @Test func theCommandLineListsEveryStreamAndNamesTheDamage() async throws {
        try await withTemporaryDirectory { dir in
            let path = try Self.makeStores(dir)
            let text = try String(contentsOfFile: path, encoding: .utf8)
            // The `"endingHashKey":"5"` of the report: lowerBound > upperBound trapped every command.
            let range = try #require(text.range(of: "\"endingHashKey\" : \"340282366920938463463374607431768211455\""))
            try text.replacingCharacters(in: range, with: "\"endingHashKey\" : \"5\"")
                .write(toFile: path, atomically: false, encoding: .utf8)
            let list = try await runShardlog(["--data-dir", dir, "list-streams"])
            #expect(list.status == 0, "\(list.stderr)")
            #expect(list.stdout.contains("bad") && list.stdout.contains("good"))
            let describe = try await runShardlog(["--data-dir", dir, "describe-stream", "bad"])
            #expect(describe.status == 1, "exit \(describe.status): \(describe.stderr)")
            #expect(describe.stderr.contains("stream.json") && describe.stderr.contains("endingHashKey"))
            let good = try await runShardlog(["--data-dir", dir, "describe-stream", "good"])
            #expect(good.status == 0, "\(good.stderr)")
        }
    }

    /// Creates streams `bad` (2 shards; its `stream.json` is returned) and `good`.
    static func makeStores(_ dir: String) throws -> String {
        var options = StoreOptions()
        options.segmentByteCount = 64 << 10
        let store = try Store(directory: dir, options: options)
        try store.createStream(named: "bad", shardCount: 2)
        try store.createStream(named: "good", shardCount: 2)
        try store.stream(named: "bad").put(partitionKey: "k", data: [1])
        return dir + "/streams/bad/stream.json"
    }

    /// Every way in reports corruption naming the file and `field`, the file is left as it is, and `good` works.
    static func expectReported(dir: String, path: String, field: String, bytes: Data) throws {
        var options = StoreOptions()
        options.segmentByteCount = 64 << 10
        let store = try Store(directory: dir, options: options)
        let error = try #require(throws: ShardLogError.self) { try store.stream(named: "bad") }
        #expect(error.code == .corruption, "\(error.code): \(error.message)")
        #expect(error.message.contains(path), "\(error.message)")
        #expect(error.message.contains(field), "\(error.message)")
        #expect(try store.listStreams() == ["bad", "good"])
        let good = try store.stream(named: "good")
        try good.put(partitionKey: "k", data: [2])
        #expect(try good.describe().shards.count == 2)
        #expect(FileManager.default.contents(atPath: path) == bytes)
    }
}
