import Foundation
import ShardLogTestSupport
import Testing

/// Ctrl-C on a running `shardlog bench` (a real process): it prints the points it finished as JSON, writes the
/// report, exits with 130 and leaves no scratch directory behind.
@Suite(.timeLimit(.minutes(2)))
struct BenchInterruptTests {
    /// How the interrupted process ended.
    struct Finished {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Starts `shardlog bench ARGS`, sends SIGINT once its progress shows `after` finished steps, and waits for it.
    static func interrupt(_ arguments: [String], after finished: Int) async throws -> Finished {
        let process = try await BackgroundProcess.start(["bench"] + arguments)
        // Progress lines (standard error is not a terminal) read "bench: [###...] 3/40 ingest: …".
        let marker = " \(finished + 1)/"
        let deadline = ContinuousClock.now + .seconds(60)
        while !process.stderrText.contains(marker) && process.isRunning && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        process.signal(SIGINT)
        let status = try await process.exitStatus(within: .seconds(60))
        return Finished(
            status: status, stdout: String(decoding: process.stdout.data, as: UTF8.self), stderr: process.stderrText)
    }

    @Test func ctrlCWritesTheFinishedPointsAndRemovesScratchDirectories() async throws {
        try await withTemporaryDirectory { directory in
            let scratch = directory + "/scratch"
            let report = directory + "/report"
            try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
            let result = try await Self.interrupt(
                [
                    "ingest", "--shards", "1,2", "--producers", "1", "--duration", "0.3", "--repeats", "50",
                    "--json", "--report", report, "--scratch-dir", scratch,
                ], after: 3)
            #expect(result.status == 130, "\(result.stderr)")
            #expect(result.stderr.contains("interrupted (SIGINT)"))
            let json = try #require(
                try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.stdout)")
            #expect(json["interrupted"] as? Bool == true)
            let points = try #require(json["points"] as? [[String: Any]])
            // Three runs finished before the signal (one more may have been in progress): both points have runs.
            #expect(points.count == 2)
            let runs = try points.map { point in
                try #require((point["recordsPerSecond"] as? [String: Any])?["samples"] as? [Double]).count
            }
            #expect(runs.reduce(0, +) >= 3 && runs.reduce(0, +) < 100, "\(runs)")
            #expect(FileManager.default.fileExists(atPath: report + "/report.json"))
            #expect(try FileManager.default.contentsOfDirectory(atPath: scratch) == [])
        }
    }

    @Test func ctrlCDuringTheIdleMeasurementStopsTheMappingProcess() async throws {
        try await withTemporaryDirectory { directory in
            let scratch = directory + "/scratch"
            try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
            let result = try await Self.interrupt(
                [
                    "idle", "--shards", "4,8", "--warmup", "0.5", "--duration", "1", "--repeats", "20", "--json",
                    "--scratch-dir", scratch, "--shardlog", shardlogBinary,
                ], after: 2)
            #expect(result.status == 130, "\(result.stderr)")
            let json = try #require(
                try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.stdout)")
            let points = try #require(json["points"] as? [[String: Any]])
            #expect(points.map { $0["shards"] as? Int } == [4, 8])
            for point in points {
                let cpu = try #require(point["cpuPercentOfCore"] as? [String: Any])
                #expect((cpu["samples"] as? [Double])?.isEmpty == false)
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: scratch) == [])
        }
    }
}
