import Benchmark
import Foundation
import ShardLog

/// Micro-benchmarks of the store: append, read, routing, batch codec and checksum.
/// Run: `swift package benchmark --target ShardLogBenchmarks --no-progress --format markdown`.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        maxDuration: .seconds(2),
        maxIterations: 1_000_000
    )

    func temporaryStore(_ options: StoreOptions) -> (Store, String) {
        let path = NSTemporaryDirectory() + "shardlog-bench-\(UUID().uuidString)"
        guard let store = try? Store(directory: path, options: options) else { preconditionFailure("store") }
        return (store, path)
    }

    // Appends of 1,000-record putRecords calls; one iteration = one record (scaledIterations in thousands).
    for recordSize in [100, 1024] {
        for shards in [1, 4] {
            for compress in [false, true] {
                for durability in [Durability.none, .always] where !(durability == .always && recordSize == 1024) {
                    let name =
                        "append \(recordSize) B, \(shards) shard(s), lz4 \(compress ? "on" : "off"), \(durability)"
                    Benchmark(name, configuration: .init(scalingFactor: .kilo)) { benchmark in
                        var options = StoreOptions()
                        options.compressionThreshold = compress ? 16 << 10 : Int.max
                        options.durability = durability
                        let (store, path) = temporaryStore(options)
                        defer { try? FileManager.default.removeItem(atPath: path) }
                        guard (try? store.createStream(named: "b", shardCount: shards)) != nil,
                            let stream = try? store.stream(named: "b")
                        else { return }
                        let payload = [UInt8]((0..<recordSize).map { UInt8(truncatingIfNeeded: 32 + $0 % 90) })
                        let batch = (0..<1000).map { PutRecordsEntry(partitionKey: "key-\($0 % 100)", data: payload) }
                        benchmark.startMeasurement()
                        for _ in benchmark.scaledIterations {
                            blackHole(try? stream.putRecords(batch))
                        }
                    }
                }
            }
        }
    }

    Benchmark("read 100 B records", configuration: .init(scalingFactor: .kilo)) { benchmark in
        let (store, path) = temporaryStore(StoreOptions())
        defer { try? FileManager.default.removeItem(atPath: path) }
        guard (try? store.createStream(named: "r", shardCount: 1)) != nil, let stream = try? store.stream(named: "r")
        else { return }
        let payload = [UInt8](repeating: 65, count: 100)
        let batch = (0..<1000).map { PutRecordsEntry(partitionKey: "key-\($0)", data: payload) }
        for _ in 0..<200 { _ = try? stream.putRecords(batch) }
        guard var it = try? stream.iterator(shardId: "shardId-000000000000", position: .trimHorizon) else { return }
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            var records = (try? it.next(limit: 1000)) ?? []
            if records.isEmpty {
                it = (try? stream.iterator(shardId: "shardId-000000000000", position: .trimHorizon)) ?? it
                records = (try? it.next(limit: 1000)) ?? []
            }
            blackHole(records)
        }
    }

    Benchmark("MD5 routing of 16-byte keys", configuration: .init(scalingFactor: .kilo)) { benchmark in
        let keys = (0..<1000).map { String(format: "user-%011d", $0) }
        for _ in benchmark.scaledIterations {
            for k in keys { blackHole(HashKey.of(partitionKey: k)) }
        }
    }
}
