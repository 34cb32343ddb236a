import Foundation
import ShardLog
import ShardLogTestSupport
import Testing

@testable import shardlog

/// The terminal views through the built binary: `status`, `get --decode`, `mappings describe` (JSON types, table).
@Suite(.timeLimit(.minutes(2)))
struct StatusCommandTests {
    /// The cells of the line of `text` whose first cell is `first` (columns are separated by two spaces or more).
    static func row(_ text: String, _ first: String) -> [String]? {
        for line in text.split(separator: "\n") {
            let cells = line.components(separatedBy: "  ").map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty }
            if cells.first == first { return cells }
        }
        return nil
    }

    @Test func statusShowsStreamsShardsAndAMappingsLag() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            _ = try store.createStream(named: "orders", shardCount: 2, retentionHours: 36)
            let stream = try store.stream(named: "orders")
            for i in 0..<30 { try stream.put(partitionKey: "k\(i)", data: Array("{\"n\":\(i)}".utf8)) }
            // A mapping that handles all 30, then 5 more records it has not seen.
            let map = try await runShardlog([
                "--data-dir", dir, "map", "orders", "--mapping-name", "billing", "--handler", "exec:cat > /dev/null",
                "--starting-position", "TRIM_HORIZON", "--exit-when-idle",
            ])
            #expect(map.status == 0, "\(map.stderr)")
            for i in 0..<5 { try stream.put(partitionKey: "late\(i)", data: Array("x".utf8)) }

            let status = try await runShardlog(["--data-dir", dir, "status"])
            #expect(status.status == 0, "\(status.stderr)")
            let text = status.stdout
            #expect(Self.row(text, "orders") == ["orders", "2", "2", "36 h", "35"], "\(text)")
            let billing = try #require(Self.row(text, "billing"), "\(text)")
            #expect(billing.prefix(3) == ["billing", "orders", "stopped"], "\(text)")
            #expect(billing[5] == "5", "records behind: \(text)")
            #expect(billing.last == "OK", "\(text)")
            // Per shard: records, and the mapping's records behind summing to 5.
            let shards = try stream.describe().shards.map(\.shardId)
            var behind = 0
            var records = 0
            for id in shards {
                let row = try #require(Self.row(text, id), "\(text)")
                records += Int(row[2]) ?? -1
                behind += Int(row[3]) ?? -1
            }
            #expect(records == 35 && behind == 5, "\(text)")
        }
    }

    @Test func statusOfAThousandShardsIsCompact() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            _ = try store.createStream(named: "wide", shardCount: 1000, segmentByteCount: 16 << 10)
            try store.stream(named: "wide").put(partitionKey: "k", data: Array("x".utf8))
            let status = try await runShardlog(["--data-dir", dir, "status"])
            #expect(status.status == 0, "\(status.stderr)")
            let lines = status.stdout.split(separator: "\n")
            #expect(lines.count < 40, "\(status.stdout)")
            #expect(Self.row(status.stdout, "wide") == ["wide", "1000", "1000", "24 h", "1"], "\(status.stdout)")
            #expect(status.stdout.contains("1000 shards, the 20 most behind"), "\(status.stdout)")
            #expect(status.stdout.contains("… 980 more shards (980 open)"), "\(status.stdout)")
        }
    }

    /// `--watch` redraws (home and clear before each frame) until interrupted, and shows records put meanwhile.
    @Test func statusWatchRedrawsWithNewRecords() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            _ = try store.createStream(named: "live", shardCount: 1)
            let process = try await BackgroundProcess.start([
                "--data-dir", dir, "status", "--watch", "--interval", "0.2",
            ])
            let box = process.stdout
            let clear = "\u{1B}[H\u{1B}[2J"
            func lastFrame() -> String {
                String(decoding: box.data, as: UTF8.self).components(separatedBy: clear).last ?? ""
            }
            let deadline = ContinuousClock.now + .seconds(30)
            while Self.row(lastFrame(), "live")?.last != "0" && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(Self.row(lastFrame(), "live") == ["live", "1", "1", "24 h", "0"], "\(lastFrame())")
            for i in 0..<7 { try store.stream(named: "live").put(partitionKey: "k", data: Array("\(i)".utf8)) }
            while Self.row(lastFrame(), "live")?.last != "7" && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(Self.row(lastFrame(), "live") == ["live", "1", "1", "24 h", "7"], "\(lastFrame())")
            #expect(String(decoding: box.data, as: UTF8.self).components(separatedBy: clear).count > 2)
            #expect(process.isRunning)
            process.signal(SIGINT)
            #expect(try await process.exitStatus() == 130, "\(process.stderrText)")
        }
    }

    @Test func getDecodePrintsJSONTextAndBase64() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            _ = try store.createStream(named: "s", shardCount: 1)
            let stream = try store.stream(named: "s")
            try stream.put(partitionKey: "a", data: Array(#"{"user": "ann", "n": 3, "tags": ["x"]}"#.utf8))
            try stream.put(partitionKey: "b", data: Array("héllo wörld".utf8))
            try stream.put(partitionKey: "c", data: [0xff, 0x00, 0xfe, 0x80])
            try stream.put(partitionKey: "d", data: Array("42".utf8))
            let decoded = try await runShardlog(["--data-dir", dir, "get", "s", "--decode"])
            #expect(decoded.status == 0, "\(decoded.stderr)")
            let lines = decoded.stdout.split(separator: "\n")
            try #require(lines.count == 4, "\(decoded.stdout)")
            let objects = try lines.map { line in
                try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            }
            let first = try #require(objects[0]["data"] as? [String: Any])
            #expect(first["user"] as? String == "ann" && first["n"] as? Int == 3)
            #expect(objects[0]["dataEncoding"] as? String == "json")
            #expect(objects[1]["data"] as? String == "héllo wörld")
            #expect(objects[1]["dataEncoding"] as? String == "utf8")
            #expect(objects[2]["data"] as? String == Data([0xff, 0x00, 0xfe, 0x80]).base64EncodedString())
            #expect(objects[2]["dataEncoding"] as? String == "base64")
            #expect(lines[3].contains(#""data":42,"dataEncoding":"json""#), "\(lines[3])")
            // Without --decode: base64, as before.
            let plain = try await runShardlog(["--data-dir", dir, "get", "s", "--limit", "1"])
            #expect(
                plain.stdout.contains(
                    #""data":"\#(Data(#"{"user": "ann", "n": 3, "tags": ["x"]}"#.utf8).base64EncodedString())"}"#),
                "\(plain.stdout)")
        }
    }

    @Test func mappingsDescribePrintsNumbersAndBooleansAndATable() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            _ = try store.createStream(named: "s", shardCount: 1)
            let stream = try store.stream(named: "s")
            for i in 0..<10 { try stream.put(partitionKey: "k", data: Array("r\(i)".utf8)) }
            let map = try await runShardlog([
                "--data-dir", dir, "map", "s", "--handler", "exec:cat > /dev/null", "--starting-position",
                "TRIM_HORIZON", "--exit-when-idle",
            ])
            #expect(map.status == 0, "\(map.stderr)")
            for _ in 0..<3 { try stream.put(partitionKey: "k", data: Array("late".utf8)) }
            let describe = try await runShardlog(["--data-dir", dir, "mappings", "describe", "s"])
            #expect(describe.status == 0, "\(describe.stderr)")
            #expect(describe.stdout.contains(#""RecordsBehind" : 3"#), "\(describe.stdout)")
            #expect(describe.stdout.contains(#""Finished" : false"#), "\(describe.stdout)")
            #expect(!describe.stdout.contains(#""RecordsBehind" : ""#), "\(describe.stdout)")
            let json = try #require(
                try JSONSerialization.jsonObject(with: Data(describe.stdout.utf8)) as? [String: Any])
            let shard = try #require((json["Checkpoints"] as? [String: Any])?["shardId-000000000000"] as? [String: Any])
            #expect(shard["RecordsBehind"] is NSNumber)
            #expect(shard["SequenceNumber"] is String)
            #expect(json["State"] as? String == "stopped")

            let list = try await runShardlog(["--data-dir", dir, "mappings", "list", "--json"])
            #expect(list.status == 0, "\(list.stderr)")
            for field in [#""Shards" : 1"#, #""FinishedShards" : 0"#, #""State" : "stopped""#] {
                #expect(list.stdout.contains(field), "\(list.stdout)")
            }

            let table = try await runShardlog(["--data-dir", dir, "mappings", "describe", "s", "--table"])
            #expect(table.status == 0, "\(table.stderr)")
            #expect(table.stdout.hasPrefix("mapping s  stream s  stopped  OK\n"), "\(table.stdout)")
            let row = try #require(Self.row(table.stdout, "shardId-000000000000"), "\(table.stdout)")
            #expect(row.prefix(3) == ["shardId-000000000000", "no", "3"], "\(table.stdout)")
        }
    }
}
