import Foundation
import ShardLog
import ShardLogClient
import ShardLogMapping
import ShardLogWire

/// The open shards of a remote stream by starting hash key, to group records by the shard they go to.
struct ShardRouter: Sendable {
    /// Starting hash keys of the open shards, ascending.
    let starts: [UInt128]

    init(starts: [UInt128]) { self.starts = starts.sorted() }

    /// Reads the open shards with `DescribeStream`.
    /// - Throws: the endpoint's error, or `CLIError` when a shard's hash key range cannot be read.
    init(_ client: KinesisClient, streamName: String) async throws {
        let description = try await RemoteStreamCommands.describe(client, name: streamName)
        var starts: [UInt128] = []
        for shard in description["Shards"]?.arrayValue ?? [] {
            guard shard["SequenceNumberRange"]?["EndingSequenceNumber"] == nil else { continue }
            guard let text = shard["HashKeyRange"]?["StartingHashKey"]?.stringValue, let start = UInt128(text) else {
                throw CLIError("DescribeStream of \(streamName) gave a shard without a StartingHashKey")
            }
            starts.append(start)
        }
        self.init(starts: starts)
    }

    /// The open shards of a stream of the data directory.
    /// - Throws: the store's error reading the stream's shards.
    init(_ stream: DataStream) throws {
        let shards = try stream.describe().shards.filter(\.isOpen)
        self.init(starts: shards.compactMap { UInt128($0.hashKeyRange.startingHashKey) })
    }

    /// The position (in ``starts``) of the shard whose range holds `hashKey`.
    func shard(of hashKey: UInt128) -> Int {
        var (low, high) = (0, starts.count)
        while high - low > 1 {
            let middle = (low + high) / 2
            if starts[middle] <= hashKey { low = middle } else { high = middle }
        }
        return low
    }
}

/// KPL aggregated records (or single records, which the KPL sends as they are) ready for PutRecords.
struct AggregatedEntries: PutEntries {
    struct Entry: Sendable {
        var partitionKey: String
        var explicitHashKey: UInt128?
        var data: [UInt8]
        var shard: [UInt8]
        var userRecords: Int
        var userBytes: Int
    }

    var entries: [Entry] = []

    var count: Int { entries.count }
    func orderKey(_ i: Int) -> ArraySlice<UInt8> { entries[i].shard[...] }
    func byteCount(_ i: Int) -> Int { entries[i].partitionKey.utf8.count + entries[i].data.count }
    func appendEntry(_ i: Int, to body: inout [UInt8]) {
        let entry = entries[i]
        body.append(contentsOf: "{\"Data\":\"".utf8)
        body.appendBase64(of: entry.data, in: entry.data.indices)
        body.append(contentsOf: "\",\"PartitionKey\":".utf8)
        body.appendJSONString(entry.partitionKey)
        if let key = entry.explicitHashKey { body.append(contentsOf: ",\"ExplicitHashKey\":\"\(key)\"".utf8) }
        body.append(UInt8(ascii: "}"))
    }
    func userRecordCount(_ i: Int) -> Int { entries[i].userRecords }
    func userByteCount(_ i: Int) -> Int { entries[i].userBytes }
}

extension AggregatedEntries {
    /// Packs `buffer` into KPL aggregated records as the Kinesis Producer Library does: records are grouped by the
    /// shard their partition key hashes to and packed in input order into records of at most `maxRecordByteCount`
    /// (partition key and data, the stream's record limit), each with partition key `"a"` and the explicit hash key
    /// of its first user record; a record that is alone (or too big to share) is kept as it is. The shard is each
    /// entry's order key, so every shard's records stay in order. `put --aggregate` uses it for both a remote
    /// endpoint and the data directory.
    init(packing buffer: RecordBuffer, shards: ShardRouter, maxRecordByteCount: Int = 1 << 20) {
        let maxByteCount = min(
            KPLAggregation.maxAggregateByteCount, maxRecordByteCount - KPLAggregation.aggregatePartitionKey.utf8.count)
        var out = AggregatedEntries()
        var open: [Int: (aggregator: KPLAggregation.Aggregator, first: Int, bytes: Int)] = [:]
        func flush(_ shard: Int) {
            guard let packed = open.removeValue(forKey: shard), !packed.aggregator.isEmpty else { return }
            let (aggregator, first, bytes) = packed
            let order = Array(String(shard).utf8)
            if aggregator.count == 1 {
                out.entries.append(
                    .init(
                        partitionKey: buffer.partitionKey(first), explicitHashKey: nil, data: Array(buffer.data(first)),
                        shard: order, userRecords: 1, userBytes: bytes))
            } else {
                out.entries.append(
                    .init(
                        partitionKey: KPLAggregation.aggregatePartitionKey,
                        explicitHashKey: HashKey.of(partitionKey: buffer.partitionKey(first)),
                        data: aggregator.encoded(), shard: order, userRecords: aggregator.count, userBytes: bytes))
            }
        }
        for i in 0..<buffer.count {
            let key = buffer.partitionKey(i)
            let shard = shards.shard(of: HashKey.of(partitionKey: key))
            let record = KPLAggregation.UserRecord(partitionKey: key, data: Array(buffer.data(i)))
            var current = open[shard] ?? (KPLAggregation.Aggregator(maxByteCount: maxByteCount), i, 0)
            if !current.aggregator.add(record) {
                flush(shard)
                current = (KPLAggregation.Aggregator(maxByteCount: maxByteCount), i, 0)
                if !current.aggregator.add(record) {
                    // Too big for an aggregate: sent alone, as the KPL does.
                    out.entries.append(
                        .init(
                            partitionKey: key, explicitHashKey: nil, data: record.data,
                            shard: Array(String(shard).utf8),
                            userRecords: 1, userBytes: record.data.count))
                    continue
                }
            }
            current.bytes += record.data.count
            open[shard] = current
        }
        for shard in open.keys.sorted() { flush(shard) }
        self = out
    }
}
