import Foundation
import ShardLog
import ShardLogTestSupport
import Testing

/// `shardlog put` and `get` with records up to a stream's `MaxRecordSizeInKiB` (10 MiB at most), and a put
/// pipeline over several shards keeping every key's order.
@Suite(.timeLimit(.minutes(2)))
struct PutLargeRecordTests {
    @Test func aTenMebibyteLineIsStoredAndPrintedWhole() async throws {
        try await withTemporaryDirectory { dir in
            _ = try await runShardlog(["--data-dir", dir, "create-stream", "big", "--shards", "2"])
            try Store(directory: dir).stream(named: "big").setMaxRecordSize(kibibytes: 10240)
            // One byte for the key "k": the line is exactly the 10 MiB limit.
            var line = Data(count: (10 << 20) - 1)
            for i in line.indices { line[i] = UInt8(65 + i % 26) }
            var input = Data("small\n".utf8)
            input.append(line)
            input.append(Data("\n".utf8))
            let put = try await runShardlog(["--data-dir", dir, "put", "big", "--key", "k"], input: input)
            #expect(put.status == 0, "\(put.stderr)")
            #expect(put.stderr.contains("put 2 records"), "\(put.stderr)")
            let get = try await runShardlog(["--data-dir", dir, "get", "big"])
            #expect(get.status == 0, "\(get.stderr)")
            let rows = get.stdout.split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
            let blobs = rows.compactMap { ($0["data"] as? String).flatMap { Data(base64Encoded: $0) } }
            #expect(blobs.map(\.count) == [5, line.count])
            #expect(blobs.last == line)

            // One byte more is refused with the stream's limit named.
            var over = line
            over.append(65)
            over.append(Data("\n".utf8))
            let refused = try await runShardlog(["--data-dir", dir, "put", "big", "--key", "k"], input: over)
            #expect(refused.status == 1)
            #expect(refused.stderr.contains("line 1: record is 10485761 bytes"), "\(refused.stderr)")
            #expect(refused.stderr.contains("the limit is 10485760 bytes (10 MiB)"), "\(refused.stderr)")
        }
    }

    @Test func jsonLinesOverFourShardsKeepEachKeysOrder() async throws {
        try await withTemporaryDirectory { dir in
            _ = try await runShardlog(["--data-dir", dir, "create-stream", "s", "--shards", "4"])
            let count = 50_000
            let text = (0..<count).map { #"{"user":"u\#($0 % 97)","n":\#($0)}"# }.joined(separator: "\n") + "\n"
            let put = try await runShardlog(
                ["--data-dir", dir, "put", "s", "--key-field", "user", "--json"], input: Data(text.utf8))
            #expect(put.status == 0, "\(put.stderr)")
            let summary = try JSONSerialization.jsonObject(with: Data(put.stdout.utf8)) as? [String: Any]
            #expect(summary?["records"] as? Int == count)
            #expect((summary?["shards"] as? [String: Int])?.values.reduce(0, +) == count)
            let get = try await runShardlog(["--data-dir", dir, "get", "s"])
            var last: [String: Int] = [:]
            var seen = 0
            for row in get.stdout.split(separator: "\n") {
                let record = try JSONSerialization.jsonObject(with: Data(row.utf8)) as? [String: Any]
                let data = try #require((record?["data"] as? String).flatMap { Data(base64Encoded: $0) })
                let body = try JSONSerialization.jsonObject(with: data) as? [String: Any]
                let (user, n) = (body?["user"] as? String ?? "", body?["n"] as? Int ?? -1)
                #expect(record?["partitionKey"] as? String == user)
                #expect(n > last[user, default: -1], "record \(n) of \(user) out of order")
                last[user] = n
                seen += 1
            }
            #expect(seen == count)
        }
    }
}
