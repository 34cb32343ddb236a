import Foundation
import ShardLog
import ShardLogTestSupport
import Testing

/// A `put` that ends early, with the real binary: Ctrl-C (SIGINT) and a store failure must print a summary whose
/// count is exactly what `get` reads back.
@Suite(.timeLimit(.minutes(3)))
struct PutStopTests {
    /// Records `get` reads back from the whole stream.
    func storedCount(_ dir: String, _ stream: String) async throws -> Int {
        let r = try await runShardlog(["--data-dir", dir, "get", stream], timeout: .seconds(120))
        #expect(r.status == 0, "\(r.stderr)")
        return r.stdout.split(separator: "\n").count
    }

    /// Waits (generously) until the stream holds at least `count` records.
    func waitForRecords(_ stream: DataStream, atLeast count: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            var total = 0
            for shard in try stream.describe().shards {
                var it = try stream.iterator(shardId: shard.shardId, position: .trimHorizon)
                while true {
                    let batch = try it.next()
                    if batch.isEmpty { break }
                    total += batch.count
                }
            }
            if total >= count { return }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw TestFailure("the stream never held \(count) records")
    }

    /// The `put N records` count from the summary line on standard error.
    func summaryCount(_ stderr: String) -> Int? {
        guard let line = stderr.split(separator: "\n").last(where: { $0.hasPrefix("put ") }) else { return nil }
        return Int(line.dropFirst(4).prefix { $0.isNumber })
    }

    /// Starts `shardlog <arguments>` (or another executable) with `stdin` as its standard input; returns the
    /// process and its output boxes.
    func start(
        _ arguments: [String], executable: String = shardlogBinary, stdin: Any
    ) throws -> (Process, DataBox, DataBox) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = stdin
        let (out, err) = (Pipe(), Pipe())
        process.standardOutput = out
        process.standardError = err
        let (outBox, errBox) = (DataBox(), DataBox())
        out.fileHandleForReading.readabilityHandler = { outBox.append($0.availableData) }
        err.fileHandleForReading.readabilityHandler = { errBox.append($0.availableData) }
        signal(SIGPIPE, SIG_IGN)
        try process.run()
        return (process, outBox, errBox)
    }

    /// Waits for `process` to exit (at most 60 s) and returns its status (128 + signal if killed).
    func exitStatus(_ process: Process) async throws -> Int32 {
        let deadline = ContinuousClock.now + .seconds(60)
        while process.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        guard !process.isRunning else {
            kill(process.processIdentifier, SIGKILL)
            throw TestFailure("shardlog did not exit within 60 s")
        }
        // Let the readability handlers drain what the process wrote last.
        try await Task.sleep(for: .milliseconds(100))
        return process.terminationStatus + (process.terminationReason == .uncaughtSignal ? 128 : 0)
    }

    /// `seq 1 3000000 | shardlog put big`, Ctrl-C mid-ingest: summary with exactly the stored records, exit 130.
    @Test func ctrlCDuringPutPrintsExactlyWhatIsStored() async throws {
        try await withTemporaryDirectory { dir in
            _ = try await runShardlog(["--data-dir", dir, "create-stream", "big", "--shards", "2"])
            let pipe = Pipe()
            let seq = Process()
            seq.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            seq.arguments = ["seq", "1", "3000000"]
            seq.standardOutput = pipe
            try seq.run()
            let (put, out, err) = try start(["--data-dir", dir, "put", "big", "--json"], stdin: pipe)
            try? pipe.fileHandleForReading.close()
            try? pipe.fileHandleForWriting.close()
            let stream = try Store(directory: dir).stream(named: "big")
            try await waitForRecords(stream, atLeast: 1)
            kill(put.processIdentifier, SIGINT)
            let status = try await exitStatus(put)
            seq.terminate()
            let stderr = String(decoding: err.data, as: UTF8.self)
            #expect(status == 130, "\(stderr)")
            #expect(stderr.contains("interrupted (SIGINT)"), "\(stderr)")
            let summary = try #require(try JSONSerialization.jsonObject(with: out.data) as? [String: Any], "\(stderr)")
            let reported = try #require(summary["records"] as? Int)
            #expect(summary["outcome"] as? String == "interrupted")
            #expect(summaryCount(stderr) == reported, "\(stderr)")
            let stored = try await storedCount(dir, "big")
            #expect(reported == stored, "summary says \(reported), get reads \(stored)")
            #expect(stored > 0 && stored < 3_000_000)
        }
    }

    /// Ctrl-C while `put` waits for input that does not come: it does not hang in read(2).
    @Test func ctrlCWhileWaitingForInputPrintsTheSummary() async throws {
        try await withTemporaryDirectory { dir in
            _ = try await runShardlog(["--data-dir", dir, "create-stream", "idle"])
            let pipe = Pipe()
            let (put, _, err) = try start(["--data-dir", dir, "put", "idle", "--key", "k"], stdin: pipe)
            try pipe.fileHandleForWriting.write(contentsOf: Data((1...10).map { "line \($0)\n" }.joined().utf8))
            try await waitForRecords(try Store(directory: dir).stream(named: "idle"), atLeast: 10)
            kill(put.processIdentifier, SIGINT)
            let status = try await exitStatus(put)
            try? pipe.fileHandleForWriting.close()
            let stderr = String(decoding: err.data, as: UTF8.self)
            #expect(status == 130, "\(stderr)")
            #expect(summaryCount(stderr) == 10, "\(stderr)")
            #expect(try await storedCount(dir, "idle") == 10)
        }
    }

    /// A store failure mid-ingest (a new segment cannot be created: the file-size limit stands in for a full disk)
    /// stops `put` with the cause, a summary of the records stored before it, and a non-zero exit.
    @Test func storeFailureReportsTheRecordsStoredBeforeIt() async throws {
        try await withTemporaryDirectory { dir in
            _ = try await runShardlog(["--data-dir", dir, "create-stream", "full", "--shards", "2"])
            let stream = try Store(directory: dir).stream(named: "full")
            let shardOf = { (key: String) in stream.shardId(forPartitionKey: key) }
            let first = "key-a"
            let other = try #require((0..<100).map { "key-\($0)" }.first { shardOf($0) != shardOf(first) })
            // The first shard gets its segment before the limit; the other shard's segment is created under it.
            _ = try await runShardlog(["--data-dir", dir, "put", "full", "--key", first], input: Data("seed\n".utf8))
            let pipe = Pipe()
            let script = "trap '' XFSZ; ulimit -f 1024; exec \"$0\" \"$@\""
            let (process, outBox, errBox) = try start(
                ["-c", script, shardlogBinary, "--data-dir", dir, "put", "full", "--key-field", "k", "--json"],
                executable: "/bin/sh", stdin: pipe)
            let goodLines = (0..<100).map { "{\"k\":\"\(first)\",\"n\":\($0)}\n" }.joined()
            try pipe.fileHandleForWriting.write(contentsOf: Data(goodLines.utf8))
            try await waitForRecords(stream, atLeast: 101)
            try pipe.fileHandleForWriting.write(contentsOf: Data("{\"k\":\"\(other)\",\"n\":100}\n".utf8))
            try? pipe.fileHandleForWriting.close()
            let status = try await exitStatus(process)
            let stderr = String(decoding: errBox.data, as: UTF8.self)
            #expect(status == 1, "\(stderr)")
            #expect(stderr.contains("error: "), "\(stderr)")
            #expect(
                stderr.contains("put 100 records") && stderr.contains("(failed: these records are stored"), "\(stderr)")
            let summary = try #require(try JSONSerialization.jsonObject(with: outBox.data) as? [String: Any])
            #expect(summary["records"] as? Int == 100)
            #expect(summary["outcome"] as? String == "failed")
            #expect(try await storedCount(dir, "full") == 101)
        }
    }
}
