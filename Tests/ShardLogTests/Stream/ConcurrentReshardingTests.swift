import Foundation
import ShardLogTestSupport
import Synchronization
import Testing

@testable import ShardLog

/// Many threads and processes resharding one stream at once: `stream.json` always parses, the open shards cover the
/// hash-key space exactly once, every acknowledged reshard is in the lineage and losers get a clean error.
@Suite struct ConcurrentReshardingTests {
    /// Small segments: every closed shard gets one.
    static var options: StoreOptions {
        var o = StoreOptions()
        o.segmentByteCount = 64 << 10
        return o
    }

    /// A reshard that returned success.
    enum Acknowledged: Sendable, Hashable {
        case split(Int)
        case merge(Int, Int)
    }

    /// What the racing callers saw.
    final class Outcomes: Sendable {
        let acknowledged = Mutex<[Acknowledged]>([])
        let failures = Mutex<[String]>([])
        let successes = Mutex(0)

        func record(_ body: () throws(ShardLogError) -> Acknowledged?) {
            do {
                let done = try body()
                successes.withLock { $0 += 1 }
                if let done { acknowledged.withLock { $0.append(done) } }
            } catch {
                failures.withLock { $0.append("\(error.code): \(error.message)") }
            }
        }
    }

    @Test(.timeLimit(.minutes(1)), arguments: [0x5eed, 7])
    func threadsSplittingAndMergingOneStreamLoseNothing(seed: UInt64) async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir, options: Self.options)
            try store.createStream(named: "rs", shardCount: 2)
            let outcomes = Outcomes()
            let threads = 6
            let rounds = 12
            for round in 0..<rounds {
                // Every thread reads the description first (possibly stale by the time it acts), as a client does.
                let open = try store.stream(named: "rs").describe().shards.filter(\.isOpen)
                runOnThreads(threads) { t in
                    var random = SeededGenerator(seed: seed &+ UInt64(round * threads + t))
                    outcomes.record { () throws(ShardLogError) -> Acknowledged? in
                        // Each thread opens the stream through its own store, as separate requests may.
                        let stream = try (t % 2 == 0 ? store : try Store(directory: dir, options: Self.options))
                            .stream(named: "rs")
                        let choice = Int.random(in: 0..<6, using: &random)
                        if choice < 3 && open.count < 10 {
                            let shard = open[Int.random(in: 0..<open.count, using: &random)]
                            try stream.splitShard(shard.shardId, newStartingHashKey: Self.middle(shard))
                            return .split(try ShardID.index(shard.shardId))
                        } else if choice < 5 && open.count > 1 {
                            let i = Int.random(in: 0..<(open.count - 1), using: &random)
                            try stream.mergeShards(open[i].shardId, adjacentShardId: open[i + 1].shardId)
                            return .merge(try ShardID.index(open[i].shardId), try ShardID.index(open[i + 1].shardId))
                        } else {
                            let target = max(
                                1, min(open.count * 2, open.count + Int.random(in: -1...1, using: &random)))
                            try stream.updateShardCount(target: target)
                            return nil
                        }
                    }
                }
                try Self.checkInvariants(dir: dir, stream: "rs", acknowledged: outcomes.acknowledged.withLock { $0 })
            }
            try Self.checkFailures(outcomes.failures.withLock { $0 })
            // In every round the first caller to take the lock acts on the state it read, so it wins.
            #expect(outcomes.successes.withLock { $0 } >= rounds)
            try Self.checkWritesReachEveryRange(store: Store(directory: dir, options: Self.options), stream: "rs")
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func processesAndThreadsSplittingTheSameShardsLoseNothing() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir, options: Self.options)
            try store.createStream(named: "rs", shardCount: 2)
            let outcomes = Outcomes()
            for _ in 0..<5 {
                let open = try store.stream(named: "rs").describe().shards.filter(\.isOpen)
                let targets = [open[0], open[open.count - 1]]
                // One `shardlog split-shard` process per target, racing an in-process split of the same shard.
                async let processes = withThrowingTaskGroup(of: (Int, ProcessResult).self) { group in
                    for target in targets {
                        group.addTask {
                            let result = try await runShardlog([
                                "--data-dir", dir, "split-shard", "rs", target.shardId, "--at",
                                Self.middle(target).description,
                            ])
                            return (try ShardID.index(target.shardId), result)
                        }
                    }
                    var results: [(Int, ProcessResult)] = []
                    for try await r in group { results.append(r) }
                    return results
                }
                runOnThreads(targets.count) { i in
                    outcomes.record { () throws(ShardLogError) -> Acknowledged? in
                        try store.stream(named: "rs").splitShard(
                            targets[i].shardId, newStartingHashKey: Self.middle(targets[i]))
                        return .split(try ShardID.index(targets[i].shardId))
                    }
                }
                for (index, result) in try await processes {
                    if result.status == 0 {
                        outcomes.acknowledged.withLock { $0.append(.split(index)) }
                    } else {
                        #expect(result.status == 1, "split-shard crashed: \(result.status) \(result.stderr)")
                        outcomes.failures.withLock { $0.append(result.stderr) }
                    }
                }
                let acknowledged = outcomes.acknowledged.withLock { $0 }
                // Each target shard was split exactly once: by the process or by the thread, never both.
                for target in targets {
                    let index = try ShardID.index(target.shardId)
                    #expect(acknowledged.filter { $0 == .split(index) }.count == 1, "\(target.shardId)")
                }
                try Self.checkInvariants(dir: dir, stream: "rs", acknowledged: acknowledged)
            }
            try Self.checkFailures(outcomes.failures.withLock { $0 })
            try Self.checkWritesReachEveryRange(store: store, stream: "rs")
        }
    }

    @Test func concurrentCreateAndDeleteOfOneNameLeaveAConsistentCatalog() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir, options: Self.options)
            let errors = Locked<[String]>([])
            runOnThreads(8) { t in
                for i in 0..<20 {
                    do throws(ShardLogError) {
                        if (t + i) % 2 == 0 {
                            try store.createStream(named: "cd", shardCount: 2)
                        } else {
                            try store.deleteStream(named: "cd")
                        }
                    } catch {
                        // Only "exists" and "not found" are acceptable losers.
                        if error.code != .resourceInUse && error.code != .resourceNotFound {
                            errors.value.withLock { $0.append("\(error.code): \(error.message)") }
                        }
                    }
                }
            }
            #expect(errors.value.withLock { $0 } == [])
            if try store.listStreams().contains("cd") {
                try Self.checkInvariants(dir: dir, stream: "cd", acknowledged: [])
                try Self.checkWritesReachEveryRange(store: store, stream: "cd")
            } else {
                try store.createStream(named: "cd", shardCount: 1)
                #expect(try store.stream(named: "cd").describe().shards.count == 1)
            }
        }
    }

    // MARK: - Checks

    /// The split point in the middle of an open shard's range.
    static func middle(_ shard: ShardDescription) -> UInt128 {
        let lo = UInt128(shard.hashKeyRange.startingHashKey) ?? 0
        let hi = UInt128(shard.hashKeyRange.endingHashKey) ?? 0
        return lo + (hi - lo) / 2 + 1
    }

    /// `stream.json` parses (with JSONSerialization, independently of ShardLog's own validation), the open shards
    /// cover 0...2^128-1 exactly once, and every acknowledged reshard is in the lineage.
    static func checkInvariants(dir: String, stream: String, acknowledged: [Acknowledged]) throws {
        let path = "\(dir)/streams/\(stream)/stream.json"
        let data = try #require(FileManager.default.contents(atPath: path))
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "\(path) parses")
        let shards = try #require(json["shards"] as? [[String: Any]])
        var open: [(UInt128, UInt128)] = []
        var byIndex: [Int: [String: Any]] = [:]
        for s in shards {
            let index = try #require(s["index"] as? Int)
            #expect(byIndex[index] == nil, "shard \(index) appears twice")
            byIndex[index] = s
            if s["closedAt"] == nil {
                let start = try #require(s["startingHashKey"] as? String)
                let end = try #require(s["endingHashKey"] as? String)
                let lo = try #require(UInt128(start))
                let hi = try #require(UInt128(end))
                open.append((lo, hi))
            }
        }
        open.sort { $0.0 < $1.0 }
        try #require(!open.isEmpty)
        #expect(open[0].0 == 0)
        #expect(open[open.count - 1].1 == UInt128.max)
        for (a, b) in zip(open, open.dropFirst()) {
            #expect(a.1 < UInt128.max && a.1 + 1 == b.0, "open ranges must touch: \(a) then \(b)")
        }
        for done in acknowledged {
            switch done {
            case .split(let parent):
                #expect(byIndex[parent]?["closedAt"] != nil, "acknowledged split of \(parent) is not closed")
                let children = byIndex.values.filter {
                    $0["parent"] as? Int == parent && $0["adjacentParent"] == nil
                }
                #expect(children.count == 2, "acknowledged split of \(parent) has \(children.count) children")
            case .merge(let a, let b):
                let child = byIndex.values.contains {
                    ($0["parent"] as? Int == a && $0["adjacentParent"] as? Int == b)
                        || ($0["parent"] as? Int == b && $0["adjacentParent"] as? Int == a)
                }
                #expect(child, "acknowledged merge of \(a) and \(b) is not in the lineage")
            }
        }
        // ShardLog's own reader agrees.
        _ = try StreamMetadata.load(path: path, name: stream)
    }

    /// Losers got a clean Kinesis-style error, never a failed rename of a shared temporary file.
    static func checkFailures(_ failures: [String]) throws {
        for failure in failures {
            #expect(!failure.contains("rename") && !failure.contains(".tmp"), "\(failure)")
            #expect(!failure.contains("CorruptionException") && !failure.contains("InternalFailure"), "\(failure)")
        }
    }

    /// A record put at the first hash key of every open shard lands in that shard.
    static func checkWritesReachEveryRange(store: Store, stream name: String) throws {
        let stream = try store.stream(named: name)
        for shard in try stream.describe().shards where shard.isOpen {
            let key = try #require(UInt128(shard.hashKeyRange.startingHashKey))
            let result = try stream.put(partitionKey: "k", data: [1], explicitHashKey: key)
            #expect(result.shardId == shard.shardId)
        }
    }
}

/// A SplitMix64 generator: deterministic per seed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Runs `body(0..<count)` on `count` new threads at once (real threads: the calls block) and waits for all.
func runOnThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    final class Counter: Sendable { let value = Mutex(0) }
    let finished = Counter()
    for i in 0..<count {
        let thread = Thread {
            body(i)
            finished.value.withLock { $0 += 1 }
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
    while finished.value.withLock({ $0 }) < count { usleep(1000) }
}

/// A value shared by test threads.
final class Locked<Value: Sendable>: Sendable {
    let value: Mutex<Value>
    init(_ value: Value) { self.value = Mutex(value) }
}
