import Foundation
import ShardLogTestSupport
import Testing

/// The live console of `shardlog serve`: its JSON through a real server process over a store that real `shardlog
/// put`/`split-shard`/`map` processes wrote, and its page in headless Chromium (DOM after the scripts ran, and a
/// screenshot kept in `.build/artifacts/`).
@Suite(.serialized, .timeLimit(.minutes(5)))
struct ConsoleTests {
    static let chromium: String? = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }
    /// `make deps` installs chromium, so under CI (CI=true) the browser tests run and fail without it, never skip.
    static let browserAvailable = chromium != nil || ProcessInfo.processInfo.environment["CI"] != nil

    /// Where screenshots are kept: `.build/artifacts/` of the package.
    static var artifacts: String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return root.appendingPathComponent(".build/artifacts").path
    }

    /// GETs `path` of the server on `port` with curl and parses the JSON answer.
    static func json(_ port: Int, _ path: String) async throws -> [String: Any] {
        let result = try await runProcess(
            "/usr/bin/env", ["curl", "-sS", "--max-time", "30", "http://127.0.0.1:\(port)\(path)"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        return try #require(object, "not a JSON object: \(result.stdout.prefix(300))")
    }

    /// Runs headless Chromium on the console: the DOM once the page's scripts ran, and a screenshot.
    static func render(port: Int, screenshot name: String, height: Int = 1600) async throws -> String {
        let chromium = try #require(Self.chromium)
        try FileManager.default.createDirectory(atPath: artifacts, withIntermediateDirectories: true)
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("console-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: profile) }
        let common = [
            "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
            "--user-data-dir=\(profile)", "--window-size=1400,\(height)", "--virtual-time-budget=6000",
        ]
        let url = "http://127.0.0.1:\(port)/"
        let dom = try await runProcess(chromium, common + ["--dump-dom", url], timeout: .seconds(90))
        #expect(dom.status == 0, "\(dom.stderr)")
        let png = artifacts + "/\(name).png"
        try? FileManager.default.removeItem(atPath: png)
        let shot = try await runProcess(chromium, common + ["--screenshot=\(png)", url], timeout: .seconds(90))
        #expect(shot.status == 0, "\(shot.stderr)")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: png))
        #expect(bytes.count > 20_000, "the screenshot is suspiciously small (\(bytes.count) bytes)")
        return dom.stdout
    }

    /// Two shards, one split (lineage), 300 JSON records and one poison record drained by a mapping whose exec
    /// handler fails on it: the console shows the stream, every shard with its parent, the records, the mapping
    /// caught up, and the poison record decoded from the on-failure file.
    @Test func showsStreamsShardsMappingLagAndADecodedFailedRecord() async throws {
        try await withTemporaryDirectory { dir in
            let data = dir + "/data"
            let cli = { (args: [String], input: String) async throws -> ProcessResult in
                let r = try await runShardlog(["--data-dir", data] + args, input: Data(input.utf8))
                #expect(r.status == 0, "shardlog \(args.joined(separator: " ")): \(r.stderr)")
                return r
            }
            _ = try await cli(["create-stream", "orders", "--shards", "2"], "")
            _ = try await cli(["split-shard", "orders", "shardId-000000000000"], "")
            var lines = (0..<300).map { #"{"user":"u\#($0 % 17)","n":\#($0)}"# }
            lines.insert(#"{"user":"u7","poison":true,"why":"console test"}"#, at: 150)
            _ = try await cli(
                ["put", "orders", "--format", "jsonl", "--key-field", "user"], lines.joined(separator: "\n"))
            let handler = dir + "/handler.py"
            try """
            import base64, json, sys
            event = json.load(sys.stdin)
            for r in event["Records"]:
                if b"poison" in base64.b64decode(r["kinesis"]["data"]):
                    sys.stderr.write("poison record\\n")
                    sys.exit(3)
            """.write(toFile: handler, atomically: true, encoding: .utf8)
            _ = try await cli(
                [
                    "map", "orders", "--handler", "exec:\(projectPython) \(handler)", "--starting-position",
                    "TRIM_HORIZON", "--bisect-batch-on-function-error", "--maximum-retry-attempts", "0",
                    "--on-failure", "file:\(dir)/failed.jsonl", "--exit-when-idle",
                ], "")

            try await withServe(data) { port in
                let overview = try await Self.json(port, "/console/api/overview")
                let streams = try #require(overview["streams"] as? [[String: Any]])
                #expect(streams.map { $0["name"] as? String } == ["orders"])
                let shards = try #require(streams.first?["shards"] as? [[String: Any]])
                #expect(shards.count == 4)
                #expect(shards.filter { $0["open"] as? Bool == true }.count == 3)
                #expect(
                    shards.compactMap { $0["parentShardId"] as? String } == [
                        "shardId-000000000000", "shardId-000000000000",
                    ])
                #expect(shards.reduce(0) { $0 + (($1["records"] as? Int) ?? 0) } == 301)
                let mappings = try #require(overview["mappings"] as? [[String: Any]])
                let mapping = try #require(mappings.first)
                #expect(mapping["name"] as? String == "orders")
                let lag = try #require(mapping["shards"] as? [[String: Any]])
                #expect(!lag.isEmpty && lag.allSatisfy { ($0["recordsBehind"] as? Int) == 0 }, "\(lag)")
                #expect((mapping["discardedRecords"] as? Int) == 1)

                let failures = try #require(
                    try await Self.json(port, "/console/api/failures")["failures"] as? [[String: Any]])
                #expect(failures.count == 1)
                let failed = try #require((failures.first?["records"] as? [[String: Any]])?.first)
                #expect(failed["dataEncoding"] as? String == "json")
                #expect((failed["data"] as? String)?.contains(#""poison":true"#) == true)
                #expect((failures.first?["lastError"] as? [String: Any])?["errorType"] as? String == "ExecError")

                let records = try await Self.json(
                    port,
                    "/console/api/records?stream=orders&shard=shardId-000000000001&type=TRIM_HORIZON&limit=5")
                let page = try #require(records["records"] as? [[String: Any]])
                #expect(page.count == 5)
                #expect(page.allSatisfy { $0["dataEncoding"] as? String == "json" })
                let bad = try await runProcess(
                    "/usr/bin/env",
                    [
                        "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                        "http://127.0.0.1:\(port)/console/api/records?stream=orders&shard=nope",
                    ])
                #expect(bad.stdout == "400")

                guard Self.browserAvailable else { return }
                let dom = try await Self.render(port: port, screenshot: "console")
                #expect(dom.contains(#"<h3 class="stream-name">orders</h3>"#), "\(dom.prefix(2000))")
                #expect(dom.contains("shardId-000000000003"))
                #expect(dom.contains(#"<b class="stream-records">301</b>"#))
                #expect(dom.contains(#"<b class="mapping-behind">0</b>"#))
                #expect(dom.contains(#"class="failed-record""#) && dom.contains(#""poison": true"#))
                #expect(dom.contains("ExecError"))
            }
        }
    }

    /// 1,000 shards: one overview request carries them all, and the page renders (a bounded shard table).
    @Test func rendersAThousandShards() async throws {
        try await withTemporaryDirectory { dir in
            let data = dir + "/data"
            // 1 MiB segments: each shard's first segment is preallocated, and 1,000 of the default size would take
            // 128 GB of disk.
            let create = try await runShardlog(
                ["--data-dir", data, "create-stream", "wide", "--shards", "1000", "--segment-mib", "1"])
            #expect(create.status == 0, "\(create.stderr)")
            let lines = (0..<5000).map { #"{"k":"k\#($0)","n":\#($0)}"# }.joined(separator: "\n")
            let put = try await runShardlog(
                ["--data-dir", data, "put", "wide", "--key-field", "k"], input: Data(lines.utf8))
            #expect(put.status == 0, "\(put.stderr)")
            try await withServe(data) { port in
                let overview = try await Self.json(port, "/console/api/overview")
                let shards = try #require(
                    (overview["streams"] as? [[String: Any]])?.first?["shards"] as? [[String: Any]])
                #expect(shards.count == 1000)
                #expect(shards.reduce(0) { $0 + (($1["records"] as? Int) ?? 0) } == 5000)
                guard Self.browserAvailable else { return }
                let dom = try await Self.render(port: port, screenshot: "console-1000-shards", height: 900)
                #expect(dom.contains("1000 open / 1000 shards"), "\(dom.prefix(2000))")
                #expect(dom.contains(#"<b class="stream-records">5,000</b>"#))
                #expect(dom.contains("First 200 of 1000 shards shown"))
            }
        }
    }
}
