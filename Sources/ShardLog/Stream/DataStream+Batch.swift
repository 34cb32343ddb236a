/// The batch put: records packed in a ``RecordBuffer``, grouped by shard with a counting sort, results written into
/// the caller's array. ``putRecords(_:)-([PutRecordsEntry])`` and ``put(partitionKey:data:explicitHashKey:)`` are
/// conveniences on top of it.
extension DataStream {
    /// The largest record (key plus data bytes) this stream takes: its `MaxRecordSizeInKiB` (1 MiB unless raised
    /// by `UpdateMaxRecordSize`, up to 10 MiB), as this process last read `stream.json`.
    public var maxRecordByteCount: Int {
        (metadata.maxRecordSizeInKiB ?? Limits.maxRecordSizeInKiB.lowerBound) << 10
    }

    /// Puts every record of `records` in order and writes where each landed into `results` (replacing its
    /// contents; its capacity is reused): `results[i]` is record `i`'s shard index and offset.
    ///
    /// Each record goes to the open shard whose hash-key range holds its hash key (MD5 of the key, computed here
    /// for records not yet hashed by ``RecordBuffer/computeHashKeys()``, or its explicit hash key). Records are
    /// grouped by shard with a counting sort (no dictionary, no per-record allocation) and each shard's records
    /// are appended in their original order as one or more batches. A shard closed meanwhile by a reshard in
    /// another process is re-routed after reloading the stream.
    /// - Parameters:
    ///   - records: the records; sizes are checked against ``maxRecordByteCount`` first.
    ///   - results: receives one sequence number per record.
    /// - Throws: `.invalidArgument` naming the record when one is too large (nothing is written then); I/O errors
    ///   from a shard (records appended to other shards before it stay stored; `results` is then incomplete).
    /// - Complexity: O(total bytes + shards).
    public func putRecords(_ records: RecordBuffer, into results: inout [SequenceNumber]) throws(ShardLogError) {
        results.removeAll(keepingCapacity: true)
        let n = records.count
        guard n > 0 else { return }
        try checkSizes(records)
        if let failure = takeFlushFailure() { throw failure }
        results.append(contentsOf: repeatElement(SequenceNumber(shardIndex: 0, offset: 0), count: n))
        var hashed = records
        var pending = Array(0..<Int32(n))
        var attempts = 0
        while !pending.isEmpty {
            attempts += 1
            let routes = self.routes
            if routes.count > 1 { hashed.computeHashKeys() }
            let (order, starts) = Self.group(pending, hashed, routes)
            pending.removeAll(keepingCapacity: true)
            let now = Clock.milliseconds()
            for r in routes.indices where starts[r] < starts[r + 1] {
                let index = routes[r].index
                let members = order[starts[r]..<starts[r + 1]]
                do {
                    var k = members.startIndex
                    for placed in try shard(index).append(records, members: members, timestamp: now) {
                        for o in 0..<placed.count {
                            results[Int(members[k])] = SequenceNumber(
                                shardIndex: index, offset: placed.firstOffset + UInt64(o))
                            k += 1
                        }
                    }
                } catch  where error.code == .resourceInUse && attempts < 50 {
                    // Closed by a reshard in another process: reload and re-route.
                    pending.append(contentsOf: members)
                }
            }
            if !pending.isEmpty {
                pending.sort()
                try reload()
            }
        }
    }

    /// Refuses the first record above ``maxRecordByteCount`` (re-reading `stream.json` once, in case another
    /// process raised the limit).
    private func checkSizes(_ records: RecordBuffer) throws(ShardLogError) {
        var limit = maxRecordByteCount
        for i in 0..<records.count {
            let size = records.keyRange(i).count + records.dataRange(i).count
            if size > limit && limit == maxRecordByteCount {
                limit = (try reload().maxRecordSizeInKiB ?? Limits.maxRecordSizeInKiB.lowerBound) << 10
            }
            guard size <= limit else { throw Self.tooLarge(size, limit: limit, record: i) }
        }
    }

    /// The error for a record of `size` bytes over `limit`: `record is N bytes (data + partition key); the limit
    /// is L bytes (1 MiB)`, naming the record's index in a batch when given.
    package static func tooLarge(_ size: Int, limit: Int, record: Int?) -> ShardLogError {
        let which = record.map { "record \($0) is" } ?? "record is"
        let readable =
            limit % (1 << 20) == 0 ? " (\(limit >> 20) MiB)" : limit % (1 << 10) == 0 ? " (\(limit >> 10) KiB)" : ""
        return ShardLogError(
            .invalidArgument, "\(which) \(size) bytes (data + partition key); the limit is \(limit) bytes\(readable)")
    }

    /// Orders `members` by route position (stable, so each shard keeps the records' order): a counting sort over
    /// the routes. Returns the ordered record indices and, for route `r`, the range `starts[r]..<starts[r + 1]`.
    private static func group(
        _ members: [Int32], _ records: RecordBuffer, _ routes: [(range: ClosedRange<UInt128>, index: Int)]
    ) -> (order: [Int32], starts: [Int]) {
        if routes.count == 1 { return (members, [0, members.count]) }
        var slot = [Int32](repeating: 0, count: members.count)
        var starts = [Int](repeating: 0, count: routes.count + 1)
        for (k, i) in members.enumerated() {
            let r = route(position: records.hashKey(Int(i)), routes)
            slot[k] = Int32(r)
            starts[r + 1] += 1
        }
        for r in 0..<routes.count { starts[r + 1] += starts[r] }
        var next = starts
        var order = [Int32](repeating: 0, count: members.count)
        for (k, i) in members.enumerated() {
            let r = Int(slot[k])
            order[next[r]] = i
            next[r] += 1
        }
        return (order, starts)
    }
}

extension DataStream {
    /// How many open shards records are routed over (as this process last read `stream.json`); with one, no hash
    /// key is needed, so producers may skip ``RecordBuffer/computeHashKeys()``.
    public var openShardCount: Int { routes.count }
}
