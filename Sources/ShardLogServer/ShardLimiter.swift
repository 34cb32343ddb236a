import ShardLog
import Synchronization

/// Kinesis' provisioned per-shard limits, enforced with token buckets when `--enforce-shard-limits` is on: writes
/// 1 MiB/s and 1000 records/s, reads 5 `GetRecords` calls/s. Each bucket holds one second of capacity and refills
/// continuously.
/// Thread-safety: safe from any thread.
final class ShardLimiter: Sendable {
    /// Bytes a shard accepts per second.
    static let writeBytesPerSecond = 1 << 20
    /// Records a shard accepts per second.
    static let writeRecordsPerSecond = 1000
    /// `GetRecords` calls a shard serves per second.
    static let readsPerSecond = 5

    private struct Buckets {
        var updated: Int64
        var bytes = Double(ShardLimiter.writeBytesPerSecond)
        var records = Double(ShardLimiter.writeRecordsPerSecond)
        var reads = Double(ShardLimiter.readsPerSecond)

        mutating func refill(now: Int64) {
            let seconds = Double(max(0, now - updated)) / 1000
            updated = now
            bytes = min(
                Double(ShardLimiter.writeBytesPerSecond), bytes + seconds * Double(ShardLimiter.writeBytesPerSecond))
            records = min(
                Double(ShardLimiter.writeRecordsPerSecond),
                records + seconds * Double(ShardLimiter.writeRecordsPerSecond))
            reads = min(Double(ShardLimiter.readsPerSecond), reads + seconds * Double(ShardLimiter.readsPerSecond))
        }
    }

    private let buckets = Mutex<[ShardKey: Buckets]>([:])

    /// Takes write capacity for one record of `byteCount` bytes (data + key) if the shard has it left.
    /// - Returns: whether the record may be written.
    func admitWrite(_ key: ShardKey, byteCount: Int, now: Int64 = nowMilliseconds()) -> Bool {
        buckets.withLock { all in
            var b = all[key] ?? Buckets(updated: now)
            b.refill(now: now)
            defer { all[key] = b }
            guard b.records >= 1, b.bytes >= Double(byteCount) else { return false }
            b.records -= 1
            b.bytes -= Double(byteCount)
            return true
        }
    }

    /// Takes one read call from the shard's budget if it has one left.
    /// - Returns: whether the `GetRecords` call may proceed.
    func admitRead(_ key: ShardKey, now: Int64 = nowMilliseconds()) -> Bool {
        buckets.withLock { all in
            var b = all[key] ?? Buckets(updated: now)
            b.refill(now: now)
            defer { all[key] = b }
            guard b.reads >= 1 else { return false }
            b.reads -= 1
            return true
        }
    }
}

/// A shard of a stream of an account and region, as a dictionary key: streams of one name in two regions or
/// accounts are different streams, with their own limits.
struct ShardKey: Hashable, Sendable, Comparable {
    var account: String
    var region: String
    var stream: String
    var shard: String

    /// The key of shard `shard` of `stream` (its account and region from its ARN).
    init(stream: DataStream, shard: String) {
        self.account = stream.arn.account
        self.region = stream.arn.region
        self.stream = stream.name
        self.shard = shard
    }

    /// A key from its parts.
    init(account: String, region: String, stream: String, shard: String) {
        self.account = account
        self.region = region
        self.stream = stream
        self.shard = shard
    }

    static func < (a: ShardKey, b: ShardKey) -> Bool {
        (a.account, a.region, a.stream, a.shard) < (b.account, b.region, b.stream, b.shard)
    }
}
