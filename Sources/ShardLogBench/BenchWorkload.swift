import Foundation
import ShardLog

/// What record payloads look like.
enum PayloadKind: String, Sendable, CaseIterable, Codable {
    /// JSON-like text (an event with user, item, amount… fields, padded), which LZ4 compresses about 2–3×.
    case json
    /// Pseudo-random bytes, which do not compress.
    case random

    /// `count` distinct payloads of exactly `byteCount` bytes.
    /// - Parameters:
    ///   - byteCount: Bytes per payload.
    ///   - count: How many different payloads.
    /// - Returns: The payloads.
    func payloads(byteCount: Int, count: Int) -> [[UInt8]] {
        var generator = SplitMix64(seed: 0x5EED)
        return (0..<count).map { index in
            switch self {
            case .random:
                return (0..<byteCount).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            case .json:
                let user = 100_000 + generator.next() % 900_000
                let item = generator.next() % 100_000
                let amount = Double(generator.next() % 100_000) / 100
                let events = ["click", "view", "purchase", "search"]
                let event = events[Int(generator.next() % UInt64(events.count))]
                var text =
                    #"{"user":"u\#(user)","event":"\#(event)","seq":\#(index),"amount":\#(amount),"#
                    + #""item":"sku-\#(item)","country":"FR","ua":"ios","page":"/c/kitchen/\#(item % 5000)"}"#
                while text.utf8.count < byteCount {
                    text += #" {"pad":"lorem ipsum dolor sit amet"}"#
                }
                return Array(text.utf8.prefix(byteCount))
            }
        }
    }
}

/// How producers choose partition keys.
enum KeyMode: String, Sendable, CaseIterable, Codable {
    /// Each producer writes to its own shards (producer p: shards s with s mod producers = p), so producers do
    /// not contend on a shard; with fewer shards than producers, producers share shards round-robin.
    case affine
    /// Every producer uses all keys, so each batch is spread over every shard.
    case spread
}

/// A small, fast, seeded random generator (SplitMix64), so generated workloads are the same on every run.
struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator starting from `seed`.
    /// - Parameter seed: Any value.
    init(seed: UInt64) {
        state = seed
    }

    /// The next 64 random bits.
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The partition keys each producer cycles through.
enum KeyPlan {
    /// Keys for `producers` producers on `stream`.
    /// - Parameters:
    ///   - stream: The stream (for routing).
    ///   - shardIds: Its open shards.
    ///   - producers: The number of producers.
    ///   - mode: Affine or spread.
    ///   - keysPerShard: Distinct keys per shard (many keys spread records evenly over mapping lanes).
    /// - Returns: One key list per producer.
    static func keys(
        stream: DataStream, shardIds: [String], producers: Int, mode: KeyMode, keysPerShard: Int
    ) -> [[String]] {
        var byShard: [String: [String]] = [:]
        var candidate = 0
        let wanted = shardIds.count * keysPerShard
        var found = 0
        while found < wanted && candidate < wanted * 64 + 10_000 {
            let key = "key-\(candidate)"
            candidate += 1
            let shard = stream.shardId(forPartitionKey: key)
            if byShard[shard, default: []].count < keysPerShard {
                byShard[shard, default: []].append(key)
                found += 1
            }
        }
        let perShard = shardIds.map { byShard[$0] ?? [] }
        switch mode {
        case .spread:
            // Interleave shards so consecutive records go to different shards.
            var all: [String] = []
            for index in 0..<keysPerShard {
                for keys in perShard where index < keys.count { all.append(keys[index]) }
            }
            return Array(repeating: all, count: producers)
        case .affine:
            return (0..<producers).map { producer in
                let mine =
                    shardIds.count >= producers
                    ? perShard.indices.filter { $0 % producers == producer }
                    : [producer % shardIds.count]
                var keys: [String] = []
                for index in 0..<keysPerShard {
                    for shard in mine where index < perShard[shard].count { keys.append(perShard[shard][index]) }
                }
                return keys
            }
        }
    }
}

/// Records and bytes one producer or reader handled.
struct Tally: Sendable, Equatable {
    /// Records.
    var records = 0
    /// Data bytes (payload only, as the peers count `MB/s`).
    var bytes = 0

    /// The sum of tallies.
    static func sum(_ tallies: [Tally]) -> Tally {
        tallies.reduce(into: Tally()) {
            $0.records += $1.records
            $0.bytes += $1.bytes
        }
    }
}

/// Nanosecond timestamps embedded in record data (little-endian, in the first 8 bytes) to measure put-to-handler
/// latency with the continuous clock: both ends run in this process, so they share `epoch`.
struct Stamp: Sendable {
    /// The zero of the timestamps.
    let epoch: ContinuousClock.Instant

    /// A clock starting now.
    init() {
        epoch = .now
    }

    /// Nanoseconds from `epoch` to now.
    var now: UInt64 {
        Self.nanoseconds(ContinuousClock.now - epoch)
    }

    /// A non-negative duration in whole nanoseconds.
    static func nanoseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0 else { return 0 }
        return UInt64(seconds) &* 1_000_000_000 &+ UInt64(max(0, attoseconds) / 1_000_000_000)
    }

    /// Writes `value` into the first 8 bytes of `data` (which must hold at least 8).
    static func write(_ value: UInt64, into data: inout [UInt8]) {
        for index in 0..<8 { data[index] = UInt8(truncatingIfNeeded: value >> (8 * index)) }
    }

    /// Reads the value written by ``write(_:into:)``; nil when `data` is shorter than 8 bytes.
    static func read(_ data: [UInt8]) -> UInt64? {
        guard data.count >= 8 else { return nil }
        var value: UInt64 = 0
        for index in 0..<8 { value |= UInt64(data[index]) << (8 * index) }
        return value
    }
}

/// One producer: puts batches of records with `putRecords` until a deadline or a record count.
struct Producer: Sendable {
    /// The stream.
    var stream: DataStream
    /// Keys to cycle through.
    var keys: [String]
    /// Payloads to cycle through.
    var payloads: [[UInt8]]
    /// Records per `putRecords` call.
    var batchRecords: Int
    /// When set, each record's first 8 bytes carry the put time.
    var stamp: Stamp? = nil
    /// Pass each key's hash key as `explicitHashKey` (computed once here), so the store routes without an MD5 per
    /// record, as a client that sets `ExplicitHashKey` does.
    var explicitHashKeys = false

    /// Puts full batches until `deadline` passes or `limit` records are written (a final short batch makes the
    /// count exact).
    /// - Returns: What was written.
    /// - Throws: The store's errors.
    func run(until deadline: ContinuousClock.Instant, limit: Int = .max) throws -> Tally {
        // A few prebuilt batches, reused (and stamped in place), so building records costs nothing per put.
        let ringCount = max(1, min(8, (keys.count + batchRecords - 1) / batchRecords))
        var ring = (0..<ringCount).map { makeBatch(offset: $0 * batchRecords) }
        var tally = Tally()
        var next = 0
        while tally.records < limit && ContinuousClock.now < deadline {
            let slot = next % ring.count
            next += 1
            if limit - tally.records < ring[slot].count {
                ring[slot].removeLast(ring[slot].count - (limit - tally.records))
            }
            if let stamp {
                let now = stamp.now
                for index in ring[slot].indices { Stamp.write(now, into: &ring[slot][index].data) }
            }
            _ = try stream.putRecords(ring[slot])
            tally.records += ring[slot].count
            tally.bytes += ring[slot].reduce(0) { $0 + $1.data.count }
        }
        return tally
    }

    /// Puts `rate` records per second (in small batches every 2 ms) until `deadline`, stamping each.
    /// - Returns: What was written.
    /// - Throws: The store's errors.
    func run(rate: Double, until deadline: ContinuousClock.Instant) throws -> Tally {
        let start = ContinuousClock.now
        var tally = Tally()
        var offset = 0
        while ContinuousClock.now < deadline {
            let due = Int((ContinuousClock.now - start) / .seconds(1) * rate)
            if due > tally.records {
                var batch = makeBatch(offset: offset, count: min(due - tally.records, batchRecords))
                if let stamp {
                    let now = stamp.now
                    for index in batch.indices { Stamp.write(now, into: &batch[index].data) }
                }
                _ = try stream.putRecords(batch)
                tally.records += batch.count
                tally.bytes += batch.reduce(0) { $0 + $1.data.count }
                offset += batch.count
            } else {
                Thread.sleep(forTimeInterval: 0.002)
            }
        }
        return tally
    }

    private func makeBatch(offset: Int, count: Int? = nil) -> [PutRecordsEntry] {
        (0..<(count ?? batchRecords)).map { index in
            let n = offset + index
            let key = keys[n % keys.count]
            return PutRecordsEntry(
                partitionKey: key, data: payloads[n % payloads.count],
                explicitHashKey: explicitHashKeys ? HashKey.of(partitionKey: key) : nil)
        }
    }
}

/// Runs `body(index)` for each index in `0..<count`, each on its own thread (store calls block, so they stay off
/// Swift's cooperative pool, which the mapping needs), and returns the results in index order.
/// - Throws: The first error a body threw.
func onThreads<T: Sendable>(_ count: Int, _ body: @escaping @Sendable (Int) throws -> T) async throws -> [T] {
    let results = await withTaskGroup(of: (Int, Result<T, any Error>).self) { group in
        for index in 0..<count {
            group.addTask {
                await withCheckedContinuation { continuation in
                    let thread = Thread {
                        continuation.resume(returning: (index, Result { try body(index) }))
                    }
                    thread.start()
                }
            }
        }
        var collected: [(Int, Result<T, any Error>)] = []
        for await entry in group { collected.append(entry) }
        return collected.sorted { $0.0 < $1.0 }.map(\.1)
    }
    return try results.map { try $0.get() }
}

/// Runs `body` with a fresh directory `<parent>/shardlog-bench-<label>-<random>`, removed afterwards unless `keep`.
/// - Throws: What `body` throws, or a failure to create the directory.
func withScratchDirectory<R>(
    parent: String?, label: String, keep: Bool, _ body: (String) async throws -> R
) async throws -> R {
    let base = parent ?? FileManager.default.temporaryDirectory.path
    let path = base + "/shardlog-bench-\(label)-\(UUID().uuidString.prefix(8).lowercased())"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    BenchInterrupt.using(path)
    defer {
        BenchInterrupt.done(with: path)
        if keep {
            printError("bench: kept \(path)")
        } else {
            try? FileManager.default.removeItem(atPath: path)
        }
    }
    return try await body(path)
}

/// Store options for benchmarks: the given durability and compression, with smaller segments (so streams of many
/// shards do not preallocate gigabytes).
func benchStoreOptions(durability: Durability, compression: Bool, segmentMiB: Int) -> StoreOptions {
    var options = StoreOptions()
    options.durability = durability
    options.segmentByteCount = segmentMiB << 20
    if !compression { options.compressionThreshold = .max }
    return options
}
