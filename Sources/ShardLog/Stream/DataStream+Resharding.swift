import Foundation

/// Split, merge and uniform scaling with Kinesis' lineage rules: the parent closes with an ending sequence number,
/// children get new ids and `ParentShardId`/`AdjacentParentShardId`, and writes go to open shards only.
///
/// Refusals carry Amazon Kinesis' own texts (unknown shard, closed shard, shards not adjacent), naming the store's
/// account (``StoreOptions/accountId``), so the server passes them on unchanged.
extension DataStream {
    /// Splits an open shard into two at `newStartingHashKey`: children cover [start, key − 1] and [key, end].
    /// - Throws: `.invalidArgument` if the shard is closed or the key is not strictly inside its range,
    ///   `.resourceNotFound` for an unknown shard.
    public func splitShard(_ shardId: String, newStartingHashKey key: UInt128) throws(ShardLogError) {
        try updateMetadata { (m: inout StreamMetadata) throws(ShardLogError) in
            try requireProvisioned(m, "SplitShard")
            try split(&m, index: try openShard(m, shardId), at: key)
        }
    }

    /// Merges two adjacent open shards into one child covering both ranges.
    /// - Throws: `.invalidArgument` if either is closed or their ranges do not touch.
    public func mergeShards(_ shardId: String, adjacentShardId: String) throws(ShardLogError) {
        try updateMetadata { (m: inout StreamMetadata) throws(ShardLogError) in
            try requireProvisioned(m, "MergeShards")
            try merge(&m, try openShard(m, shardId), try openShard(m, adjacentShardId))
        }
    }

    /// Reshards to `target` open shards with even hash-key ranges (Kinesis `UNIFORM_SCALING`), by splits and merges.
    /// - Throws: `.limitExceeded` if `target` is more than double or less than half the open shard count.
    public func updateShardCount(target: Int) throws(ShardLogError) {
        try updateMetadata { (m: inout StreamMetadata) throws(ShardLogError) in
            try requireProvisioned(m, "UpdateShardCount")
            let open = m.shards.filter(\.isOpen).count
            guard Limits.shardCount.contains(target), target <= open * 2, target * 2 >= open else {
                throw ShardLogError(
                    .limitExceeded,
                    "UpdateShardCount to \(target) for stream \(name): the target must be between half and double"
                        + " the current \(open) open shards")
            }
            let wanted = HashKey.evenRanges(count: target)
            // Split at every wanted boundary that is not a boundary yet.
            for range in wanted.dropFirst() {
                let b = range.lowerBound
                if let s = m.shards.first(where: { $0.isOpen && $0.range.lowerBound < b && b <= $0.range.upperBound }) {
                    try split(&m, index: s.index, at: b)
                }
            }
            // Merge neighbours that lie inside one wanted range.
            for range in wanted {
                while true {
                    let inside = m.shards.filter { $0.isOpen && range.contains($0.range.lowerBound) }
                        .sorted { $0.range.lowerBound < $1.range.lowerBound }
                    guard inside.count >= 2 else { break }
                    try merge(&m, inside[0].index, inside[1].index)
                }
            }
        }
    }

    private func requireProvisioned(_ m: StreamMetadata, _ op: String) throws(ShardLogError) {
        guard m.mode == .provisioned else {
            throw ShardLogError(.invalidArgument, "\(op) is not supported for stream \(name) in ON_DEMAND mode")
        }
    }

    private func openShard(_ m: StreamMetadata, _ id: String) throws(ShardLogError) -> Int {
        guard let index = try? ShardID.index(id), let s = m.shards.first(where: { $0.index == index }) else {
            throw ShardLogError(
                .resourceNotFound, "Could not find shard \(id) in stream \(name) under account \(options.accountId).")
        }
        guard s.isOpen else {
            throw ShardLogError(
                .invalidArgument,
                "Shard \(id) in stream \(name) under account \(options.accountId) has already been merged or split, and"
                    + " thus is not eligible for merging or splitting.")
        }
        return index
    }

    private func split(_ m: inout StreamMetadata, index: Int, at key: UInt128) throws(ShardLogError) {
        guard let i = m.shards.firstIndex(where: { $0.index == index }) else { return }
        let range = m.shards[i].range
        guard key > range.lowerBound, key <= range.upperBound else {
            throw ShardLogError(
                .invalidArgument,
                "NewStartingHashKey \(key) must be strictly inside the range of \(ShardID.name(index))"
                    + " (\(range.lowerBound + 1)...\(range.upperBound))")
        }
        m.shards[i].closedAt = try shard(index, checked: false).close()
        let now = Date().timeIntervalSince1970
        let a = m.nextShardIndex
        m.shards.append(
            .init(
                index: a, parent: index, adjacentParent: nil, startingHashKey: String(range.lowerBound),
                endingHashKey: String(key - 1), closedAt: nil, createdAt: now))
        m.shards.append(
            .init(
                index: a + 1, parent: index, adjacentParent: nil, startingHashKey: String(key),
                endingHashKey: String(range.upperBound), closedAt: nil, createdAt: now))
        m.nextShardIndex += 2
    }

    private func merge(_ m: inout StreamMetadata, _ first: Int, _ second: Int) throws(ShardLogError) {
        guard let i = m.shards.firstIndex(where: { $0.index == first }),
            let j = m.shards.firstIndex(where: { $0.index == second }), i != j
        else { throw ShardLogError(.invalidArgument, "MergeShards needs two different shards") }
        let a = m.shards[i].range
        let b = m.shards[j].range
        guard
            (a.upperBound < UInt128.max && a.upperBound + 1 == b.lowerBound)
                || (b.upperBound < UInt128.max && b.upperBound + 1 == a.lowerBound)
        else {
            throw ShardLogError(
                .invalidArgument,
                "Shards \(ShardID.name(first)) and \(ShardID.name(second)) in stream \(name) under account"
                    + " \(options.accountId) are not an adjacent pair of shards eligible for merging")
        }
        m.shards[i].closedAt = try shard(first, checked: false).close()
        m.shards[j].closedAt = try shard(second, checked: false).close()
        m.shards.append(
            .init(
                index: m.nextShardIndex, parent: first, adjacentParent: second,
                startingHashKey: String(min(a.lowerBound, b.lowerBound)),
                endingHashKey: String(max(a.upperBound, b.upperBound)), closedAt: nil,
                createdAt: Date().timeIntervalSince1970))
        m.nextShardIndex += 1
    }
}
