import Foundation
import Prometheus
import ShardLog
import Synchronization

/// The store's series, read from disk at scrape time, so that records written by any process (`shardlog put`,
/// the library, another server) are counted:
/// - `shardlog_incoming_records_total{stream,shard}`: records appended to the shard (its committed tip);
/// - `shardlog_incoming_bytes_total{stream,shard}`: uncompressed payload bytes of the shard's batches (partition
///   keys and data plus a few bytes of varints per record), from the batch headers; batches removed by retention
///   before this server first saw them are not in it;
/// - `shardlog_stream_shards{stream,state}` (`open`, `closed`) and `shardlog_stream_retention_hours{stream}`.
///
/// Every series also carries the `account` and `region` of the stream's store. Per-shard totals come from the
/// server's ``ShardTotals`` (shared with the console): a shard is read again only when its stream's doorbell word for
/// it moved since the last look, and then only the batch headers published since.
/// Thread-safety: ``collect(store:)`` is called under the scrape lock of ``ServerMetrics``; state is in a `Mutex`.
final class StoreMetricsCollector: Sendable {
    private struct ShardState {
        var countedRecords: UInt64 = 0
        var countedBytes: UInt64 = 0
        let records: Prometheus.Counter
        let bytes: Prometheus.Counter
    }

    private struct StreamState {
        let stream: DataStream
        let scope: MetricLabels.Scope
        var shards: [String: ShardState] = [:]
        var shardCounts: [String: Prometheus.Gauge] = [:]
        let retention: Prometheus.Gauge
    }

    static var incomingRecords: MetricNameDescriptor {
        MetricNameDescriptor(
            metricName: "shardlog_incoming_records", unitName: "total",
            helpText: "Records appended to the shard by any process (its committed tip).")
    }
    static var incomingBytes: MetricNameDescriptor {
        MetricNameDescriptor(
            metricName: "shardlog_incoming_bytes", unitName: "total",
            helpText:
                "Uncompressed batch payload bytes of the shard (keys, data and per-record varints), from batch headers."
        )
    }
    static var streamShards: MetricNameDescriptor {
        MetricNameDescriptor(
            metricName: "shardlog_stream_shards", unitName: "",
            helpText: "Shards of the stream by state (open, closed).")
    }
    static var retentionHours: MetricNameDescriptor {
        MetricNameDescriptor(
            metricName: "shardlog_stream_retention_hours", unitName: "",
            helpText: "The stream's retention period in hours.")
    }

    private let registry: PrometheusCollectorRegistry
    private let totals: ShardTotals
    private let streams = Mutex<[String: StreamState]>([:])

    /// Creates a collector registering its series in `registry`, reading per-shard totals through `totals`.
    init(registry: PrometheusCollectorRegistry, totals: ShardTotals) {
        self.registry = registry
        self.totals = totals
    }

    /// Brings every series up to date with the stores (the data directory's and those of other accounts and
    /// regions). A stream that cannot be read keeps its last values; a deleted stream's series are removed.
    func collect(stores: [Store]) {
        var listed: [(key: String, name: String, store: Store)] = []
        for store in stores {
            guard let names = try? store.listStreams() else { continue }
            listed += names.map { (store.directory + "\u{0}" + $0, $0, store) }
        }
        var states = streams.withLock { $0 }
        for gone in Set(states.keys).subtracting(listed.map(\.key)) {
            if let state = states.removeValue(forKey: gone) { unregister(state) }
        }
        for (key, name, store) in listed {
            var state: StreamState
            if let known = states[key] {
                state = known
            } else {
                guard let stream = try? store.stream(named: name) else { continue }
                let scope = MetricLabels.Scope(store)
                state = StreamState(
                    stream: stream, scope: scope,
                    retention: registry.makeGauge(
                        descriptor: Self.retentionHours, labels: MetricLabels.stream(name, scope)))
            }
            do {
                try update(&state)
                states[key] = state
            } catch {
                // Deleted (and perhaps created again) between the listing and now: start over next time.
                if let old = states.removeValue(forKey: key) { unregister(old) }
            }
        }
        totals.retain(states.values.map(\.stream))
        streams.withLock { $0 = states }
    }

    private func update(_ state: inout StreamState) throws(ShardLogError) {
        let stream = state.stream
        let description = try stream.describe()
        state.retention.set(Int64(description.retentionPeriodHours))
        let open = description.shards.filter(\.isOpen).count
        for (label, count) in [("open", open), ("closed", description.shards.count - open)] {
            let gauge =
                state.shardCounts[label]
                ?? registry.makeGauge(
                    descriptor: Self.streamShards,
                    labels: MetricLabels.stream(stream.name, state.scope) + [("state", label)])
            state.shardCounts[label] = gauge
            gauge.set(Int64(count))
        }
        for shard in description.shards {
            let id = shard.shardId
            var s =
                state.shards[id]
                ?? {
                    let labels = MetricLabels.shard(stream: stream.name, shard: id, state.scope)
                    return ShardState(
                        records: registry.makeCounter(descriptor: Self.incomingRecords, labels: labels),
                        bytes: registry.makeCounter(descriptor: Self.incomingBytes, labels: labels))
                }()
            if let cursor = totals.totals(stream, shardId: id) {
                if cursor.records > s.countedRecords {
                    s.records.increment(by: Int64(clamping: cursor.records - s.countedRecords))
                    s.countedRecords = cursor.records
                }
                if cursor.payloadBytes > s.countedBytes {
                    s.bytes.increment(by: Int64(clamping: cursor.payloadBytes - s.countedBytes))
                    s.countedBytes = cursor.payloadBytes
                }
            }
            state.shards[id] = s
        }
    }

    private func unregister(_ state: StreamState) {
        for s in state.shards.values {
            registry.unregisterCounter(s.records)
            registry.unregisterCounter(s.bytes)
        }
        for gauge in state.shardCounts.values { registry.unregisterGauge(gauge) }
        registry.unregisterGauge(state.retention)
    }
}
