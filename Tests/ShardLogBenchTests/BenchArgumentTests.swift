import ArgumentParser
import Testing

@testable import ShardLogBench

/// The workloads under a root command, as the CLI's `bench` command lists them (arguments after `bench`).
struct BenchRoot: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench", subcommands: BenchWorkloads.subcommands)
}

/// `shardlog bench …` argument parsing and validation.
@Suite struct BenchArgumentTests {
    @Test func scalingDefaultsFollowTheIssue() throws {
        let command = try #require(try BenchRoot.parseAsRoot(["scaling"]) as? BenchScaling)
        #expect(command.shards.values == [1, 2, 4, 8, 16, 32])
        #expect(command.parallelizationFactors.values == [1, 2, 5, 10])
        #expect(command.handlerLatencyMs.values == [0, 10])
        #expect(command.recordSize == 100)
        #expect(command.batchSize == 100)
        #expect(!command.options.json)
        #expect(command.options.report == nil)
    }

    @Test func scalingParsesListsAndOutputOptions() throws {
        let command = try #require(
            try BenchRoot.parseAsRoot([
                "scaling", "--shards", "1, 2,8", "--parallelization-factors", "1,10", "--handler-latency-ms",
                "2.5", "--json", "--report", "/tmp/r", "--keep", "--repeats", "5", "--duration", "0.5",
            ]) as? BenchScaling)
        #expect(command.shards.values == [1, 2, 8])
        #expect(command.parallelizationFactors.values == [1, 10])
        #expect(command.handlerLatencyMs.values == [2.5])
        #expect(command.options.json && command.options.keep)
        #expect(command.options.report == "/tmp/r")
        #expect(command.options.repeats == 5)
        #expect(command.options.measureDuration == .milliseconds(500))
    }

    @Test(arguments: [
        ["bench", "scaling", "--parallelization-factors", "11"],
        ["bench", "scaling", "--parallelization-factors", "0"],
        ["bench", "scaling", "--shards", "0"],
        ["bench", "scaling", "--shards", "1,1"],
        ["bench", "scaling", "--shards", "1,,2"],
        ["bench", "scaling", "--shards", "two"],
        ["bench", "scaling", "--record-size", "4"],
        ["bench", "scaling", "--batch-size", "10001"],
        ["bench", "scaling", "--handler-latency-ms", "-1"],
        ["bench", "scaling", "--duration", "0"],
        ["bench", "scaling", "--repeats", "0"],
        ["bench", "scaling", "--report", ""],
        ["bench", "ingest", "--durability", "sometimes"],
        ["bench", "ingest", "--producers", "0"],
        ["bench", "ingest", "--record-size", "2000000"],
        ["bench", "ingest", "--compression", "maybe"],
        ["bench", "ingest", "--keys", "sideways"],
        ["bench", "read", "--records", "0"],
        ["bench", "read", "--batch-limit", "20000"],
        ["bench", "runtime-api", "--parallelization-factors", "0"],
        ["bench", "runtime-api", "--handler-directory", "/tmp"],
        ["bench", "nonsense"],
    ])
    func rejectsInvalidArguments(_ arguments: [String]) {
        #expect(throws: (any Error).self) { try BenchRoot.parseAsRoot(Array(arguments.dropFirst())) }
    }

    @Test func otherWorkloadsParse() throws {
        let ingest = try #require(
            try BenchRoot.parseAsRoot([
                "ingest", "--durability", "none,always", "--producers", "2", "--compression", "off",
                "--payload", "random", "--keys", "spread",
            ]) as? BenchIngest)
        #expect(ingest.durability.values == ["none", "always"])
        #expect(ingest.compression == .off)
        #expect(ingest.payload == .random)
        #expect(ingest.keys == .spread)
        #expect(try BenchRoot.parseAsRoot(["read", "--readers", "1,2"]) is BenchRead)
        #expect(try BenchRoot.parseAsRoot(["runtime-api"]) is BenchRuntimeAPI)
    }

    @Test func commaSeparatedLists() {
        #expect(CommaSeparated<Int>(argument: "1,2,4")?.values == [1, 2, 4])
        #expect(CommaSeparated<Int>(argument: "") == nil)
        #expect(CommaSeparated<Int>(argument: "1,x") == nil)
        #expect(CommaSeparated<Double>(argument: "0,0.5")?.values == [0, 0.5])
        #expect(CommaSeparated([1, 2]).description == "1,2")
    }
}

/// Re-measuring a run while other work is busy (`--others-limit`).
@Suite struct BenchRemeasureTests {
    /// Measurements whose "others" figures come from a list, in order.
    final class Script: @unchecked Sendable {
        // @unchecked: used from one task at a time.
        var others: [Double]
        var calls = 0
        init(_ others: [Double]) { self.others = others }
        func next() -> Double {
            calls += 1
            return others.removeFirst()
        }
    }

    @Test func aBusyRunIsMeasuredAtMostThreeTimesAndTheQuietestKept() async throws {
        let command = try #require(try BenchRoot.parseAsRoot(["ingest", "--others-limit", "10"]) as? BenchIngest)
        let busy = Script([50, 30, 40, 1])
        let kept = try await command.options.leastContended({ busy.next() }, others: { $0 })
        #expect(busy.calls == 3)
        #expect(kept.value == 30 && kept.attempts == 3 && kept.contended)
        let calm = Script([50, 5, 1])
        let second = try await command.options.leastContended({ calm.next() }, others: { $0 })
        #expect(calm.calls == 2)
        #expect(second.value == 5 && second.attempts == 2 && !second.contended)
        let quiet = Script([3])
        let first = try await command.options.leastContended({ quiet.next() }, others: { $0 })
        #expect(first.attempts == 1 && !first.contended)
    }
}
