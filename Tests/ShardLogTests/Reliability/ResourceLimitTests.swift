import Foundation
import ShardLogTestSupport
import Testing

@testable import ShardLog

/// Descriptors and mappings stay bounded: a shard of thousands of segments is readable, and a thousand streams of
/// four shards are served correctly, under a low `ulimit -n` (the child processes run under it, not the tests).
@Suite struct ResourceLimitTests {
    /// Runs the built `shardlog` with `arguments` under `ulimit -n <limit>`.
    func shardlog(limit: Int, _ arguments: [String]) async throws -> ProcessResult {
        try await runProcess(
            "/bin/bash", ["-c", "ulimit -n \(limit) && exec \"$0\" \"$@\"", shardlogBinary] + arguments,
            timeout: .seconds(120))
    }

    /// A fresh directory on tmpfs when there is one (these tests create thousands of files, each `fsync`ed with its
    /// directory, which a disk makes take a minute), else in the temporary directory; removed afterwards.
    func withScratchDirectory(_ body: (String) async throws -> Void) async throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: "/dev/shm", isDirectory: &isDirectory), isDirectory.boolValue,
            FileManager.default.isWritableFile(atPath: "/dev/shm")
        else { return try await withTemporaryDirectory(body) }
        let path = "/dev/shm/shardlog-test-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: path) }
        try await body(path)
    }

    /// Reads the whole shard of stream `many` in process with at most `cap` mapped segments.
    /// - Returns: the number of records, whether they were in order, the most descriptors seen, and the duration.
    func readInProcess(_ dir: String, cap: Int?) throws -> (count: Int, ordered: Bool, descriptors: Int, Duration) {
        var options = StoreOptions()
        options.maxMappedSegments = cap
        let clock = ContinuousClock()
        let started = clock.now
        let store = try Store(directory: dir, options: options)
        var it = try store.stream(named: "many").iterator(shardId: "shardId-000000000000", position: .trimHorizon)
        var expected: UInt64 = 0
        var ordered = true
        var mostDescriptors = 0
        while true {
            let batch = try it.next(limit: 100)
            if batch.isEmpty { break }
            for r in batch {
                let n = r.data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * $1.offset) }
                if n != expected { ordered = false }
                expected += 1
            }
            mostDescriptors = max(mostDescriptors, openDescriptors())
        }
        return (Int(expected), ordered, mostDescriptors, clock.now - started)
    }

    /// Open descriptors of this process.
    func openDescriptors() -> Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).count
    }

    @Test(.timeLimit(.minutes(2)))
    func shardOfThousandsOfSegmentsIsReadCompletelyUnderALowDescriptorLimit() async throws {
        try await withScratchDirectory { dir in
            let segmentCount = 3000
            do {
                let store = try Store(directory: dir)
                try store.createStream(named: "many", shardCount: 1, segmentByteCount: 16 << 10)
                let s = try store.stream(named: "many")
                // 12 KiB records: one per 16 KiB segment.
                for i in 0..<segmentCount {
                    var data = [UInt8](repeating: UInt8(i % 251), count: 12_000)
                    data.replaceSubrange(0..<8, with: withUnsafeBytes(of: UInt64(i).littleEndian, Array.init))
                    _ = try s.put(partitionKey: "k", data: data)
                }
            }
            let files = try SegmentSurgery.segments(dir, stream: "many", shard: "shardId-000000000000")
            #expect(files.count >= segmentCount)

            let clock = ContinuousClock()
            let started = clock.now
            let result = try await shardlog(limit: 256, ["get", "many", "--data-dir", dir])
            let elapsed = clock.now - started
            #expect(result.status == 0, "\(result.stderr)")
            let lines = result.stdout.split(separator: "\n")
            #expect(lines.count == segmentCount)
            let sequences = lines.compactMap { line -> String? in
                guard let data = line.data(using: .utf8),
                    let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
                else { return nil }
                return object["sequenceNumber"] as? String
            }
            #expect(sequences.count == segmentCount)
            #expect(sequences == sequences.sorted())
            print("read \(segmentCount) segments of one shard under ulimit -n 256 in \(elapsed)")

            // In process, with a cap of 16 mapped segments: every record, in order, and a bounded descriptor count
            // (other suites run in parallel and hold descriptors of their own; 3000 segments held would be above).
            let capped = try readInProcess(dir, cap: 16)
            #expect(capped.count == segmentCount && capped.ordered)
            #expect(capped.descriptors < 1000, "\(capped.descriptors) descriptors open while reading")
            let uncapped = try readInProcess(dir, cap: 100_000)
            #expect(uncapped.count == segmentCount && uncapped.ordered)
            print(
                "in process: \(capped.count) records from \(segmentCount) segments in \(capped.3) with 16 mapped"
                    + " (most descriptors \(capped.descriptors)), in \(uncapped.3) with all mapped"
                    + " (most descriptors \(uncapped.descriptors))")
        }
    }

    /// With two mapped segments per process, appends that roll evict their own shard's previous segment while
    /// holding the shard's writer lock, and readers in between re-open evicted segments: nothing is lost.
    @Test func tinyMappedSegmentCapKeepsAppendsAndReadsCorrect() async throws {
        try await withScratchDirectory { dir in
            var options = StoreOptions()
            options.maxMappedSegments = 2
            let store = try Store(directory: dir, options: options)
            try store.createStream(named: "tiny", shardCount: 3, segmentByteCount: 16 << 10)
            let s = try store.stream(named: "tiny")
            let data = [UInt8](repeating: 7, count: 3000)
            var acknowledged: [String: Int] = [:]
            for i in 0..<300 {
                let r = try s.put(partitionKey: "key-\(i)", data: data)
                acknowledged[r.shardId, default: 0] += 1
                guard i % 50 == 49 else { continue }
                for shard in ["shardId-000000000000", "shardId-000000000001", "shardId-000000000002"] {
                    var it = try s.iterator(shardId: shard, position: .trimHorizon)
                    var count = 0
                    while true {
                        let batch = try it.next(limit: 7)
                        if batch.isEmpty { break }
                        count += batch.count
                    }
                    #expect(count == acknowledged[shard, default: 0])
                }
            }
            #expect(acknowledged.values.reduce(0, +) == 300)
            let files = try ["0", "1", "2"].map {
                try SegmentSurgery.segments(dir, stream: "tiny", shard: "shardId-00000000000" + $0).count
            }
            #expect(files.reduce(0, +) > 20)
        }
    }

    @Test func segmentSizeIsValidatedAndPersistedPerStream() async throws {
        try await withTemporaryDirectory { dir in
            let tooSmall = try await runShardlog(["create-stream", "s", "--segment-mib", "0", "--data-dir", dir])
            #expect(tooSmall.status != 0)
            #expect(tooSmall.stderr.contains("--segment-mib"))
            let ok = try await runShardlog(["create-stream", "s", "--segment-mib", "1", "--data-dir", dir])
            #expect(ok.status == 0, "\(ok.stderr)")
            let put = try await runShardlog(["put", "s", "--data-dir", dir], input: Data("{\"a\":1}\n".utf8))
            #expect(put.status == 0, "\(put.stderr)")
            let files = try SegmentSurgery.segments(dir, stream: "s", shard: "shardId-000000000000")
            let size = try FileManager.default.attributesOfItem(atPath: try #require(files.first))[.size] as? Int
            #expect(size == 1 << 20)
            let store = try Store(directory: dir)
            #expect(throws: ShardLogError.self) {
                try store.createStream(named: "t", shardCount: 1, segmentByteCount: 100)
            }
        }
    }

    /// A thousand streams of four shards behind `shardlog serve` under `ulimit -n 256` (an idle server used to
    /// hold 5,017 descriptors for them): every stream listed, described and written to, every record read back.
    @Test(.timeLimit(.minutes(3)))
    func thousandStreamsOfFourShardsAreServedUnderALowDescriptorLimit() async throws {
        try await withScratchDirectory { dir in
            let streamCount = 1000
            let store = try Store(directory: dir)
            for i in 0..<streamCount {
                try store.createStream(named: "s\(i)", shardCount: 4, segmentByteCount: 16 << 10)
            }
            let script = """
                import json, os, re, subprocess, sys, urllib.request
                from concurrent.futures import ThreadPoolExecutor
                binary, data, limit, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
                server = subprocess.Popen(["/bin/bash", "-c", f"ulimit -n {limit} && exec \\"$0\\" \\"$@\\"", binary,
                    "serve", "--port", "0", "--data-dir", data], stderr=subprocess.PIPE, text=True)
                try:
                    port = None
                    for line in server.stderr:
                        m = re.search(r"listening on http://[0-9.]+:([0-9]+)", line)
                        if m:
                            port = int(m.group(1))
                            break
                    assert port, "server did not start"
                    def call(op, body):
                        req = urllib.request.Request(f"http://127.0.0.1:{port}/", data=json.dumps(body).encode(),
                            headers={"X-Amz-Target": "Kinesis_20131202." + op,
                                     "Content-Type": "application/x-amz-json-1.1"})
                        try:
                            with urllib.request.urlopen(req, timeout=30) as r:
                                return json.loads(r.read() or b"{}")
                        except urllib.error.HTTPError as e:
                            raise AssertionError(f"{op} {body}: HTTP {e.code} {e.read()[:300]}")
                    keys = [str(i * (2**128 // 4) + 7) for i in range(4)]
                    def write(i):
                        name = f"s{i}"
                        out = call("PutRecords", {"StreamName": name, "Records": [
                            {"PartitionKey": "k", "ExplicitHashKey": k, "Data": "aGVsbG8="} for k in keys]})
                        assert out.get("FailedRecordCount", 0) == 0, out
                        assert len({r["ShardId"] for r in out["Records"]}) == 4, out
                    def check(i):
                        name = f"s{i}"
                        d = call("DescribeStreamSummary", {"StreamName": name})["StreamDescriptionSummary"]
                        assert d["StreamName"] == name and d["OpenShardCount"] == 4, d
                        got = 0
                        for s in range(4):
                            it = call("GetShardIterator", {"StreamName": name, "ShardId": f"shardId-{s:012d}",
                                "ShardIteratorType": "TRIM_HORIZON"})["ShardIterator"]
                            got += len(call("GetRecords", {"ShardIterator": it})["Records"])
                        assert got == 4, f"{name}: {got} records"
                    with ThreadPoolExecutor(8) as pool:
                        list(pool.map(write, range(count)))
                        names, start = [], None
                        while True:
                            body = {"Limit": 100}
                            if start: body["ExclusiveStartStreamName"] = start
                            page = call("ListStreams", body)
                            names += page["StreamNames"]
                            if not page.get("HasMoreStreams") or not page["StreamNames"]: break
                            start = page["StreamNames"][-1]
                        assert sorted(names) == sorted(f"s{i}" for i in range(count)), f"{len(names)} streams listed"
                        list(pool.map(check, range(count)))
                    fds = len(os.listdir(f"/proc/{server.pid}/fd"))
                    print(f"descriptors held by serve after {count} streams x 4 shards: {fds}")
                finally:
                    server.terminate()
                    server.wait(timeout=30)
                """
            let result = try await runProcess(
                "/usr/bin/env", ["python3", "-c", script, shardlogBinary, dir, "256", String(streamCount)],
                timeout: .seconds(170))
            #expect(result.status == 0, "\(result.stdout)\n\(result.stderr.suffix(3000))")
            print(result.stdout)
        }
    }
}
