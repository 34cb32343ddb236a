import CoreMetrics
import Foundation
import Prometheus
import ShardLog
import Synchronization

/// The series behind `GET /metrics`, kept in one ``PrometheusCollectorRegistry`` per server (no process-wide
/// bootstrap, so several servers in one process stay apart) and written in the Prometheus text format by it.
///
/// Three sources feed it (the names are a contract, listed in the README's "Metrics" section):
/// - the API itself, through swift-metrics handlers made by a ``PrometheusMetricsFactory`` on this registry:
///   `shardlog_api_requests_total{operation,code}`, `shardlog_api_request_duration_seconds{operation}` and the
///   per-shard traffic and throttling of the API (`shardlog_api_outgoing_*`, `shardlog_api_*_throttles_total`);
/// - the store, read at scrape time by ``StoreMetricsCollector``: records and bytes per shard from the committed
///   ends and batch headers on disk, whichever process wrote them, shards by state, retention;
/// - every mapping's `status.json`, read at scrape time by ``MappingMetricsCollector``: the mappings hosted by
///   this server and those run by `shardlog map` in other processes alike.
///
/// Series of a stream or mapping take their identifying labels from ``MetricLabels`` only: `account`, `region`
/// and the stream (and shard) or mapping.
/// Thread-safety: safe from any thread; a scrape is serialized with other scrapes.
final class ServerMetrics: Sendable {
    /// The registry every series lives in.
    let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory
    private let storeCollector: StoreMetricsCollector
    private let mappingCollector: MappingMetricsCollector
    /// Per-shard totals of every store, shared with the console.
    let shardTotals = ShardTotals()
    /// Serializes scrapes: the collectors turn on-disk totals into counter increments and must not count twice.
    private let scrapeGate = Mutex<Void>(())
    private let handles = Mutex(Handles())

    private struct Handles {
        var requests: [String: CoreMetrics.Counter] = [:]
        var durations: [String: CoreMetrics.Timer] = [:]
        /// The API's per-shard counters, by account, region and stream (to remove them with the stream).
        var shardCounters: [String: [Prometheus.Counter]] = [:]
    }

    static let requestsName = "shardlog_api_requests_total"
    static let requestDurationName = "shardlog_api_request_duration_seconds"

    /// Creates empty metrics.
    init() {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets[Self.requestDurationName] = [
            .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .microseconds(2500),
            .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
            .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
        ]
        self.registry = registry
        self.factory = factory
        self.storeCollector = StoreMetricsCollector(registry: registry, totals: shardTotals)
        self.mappingCollector = MappingMetricsCollector(registry: registry)
    }

    /// Counts one API request and its duration.
    /// - Parameters:
    ///   - operation: The Kinesis operation (`PutRecord`), `unknown` when the target names no known operation (so clients cannot add series).
    ///   - code: `OK`, or the error code of the response (`ResourceNotFoundException`).
    ///   - duration: From the request's arrival to its response.
    func recordRequest(operation: String, code: String, duration: Duration) {
        let key = operation + "\u{1F}" + code
        let (counter, timer) = handles.withLock { h in
            let counter =
                h.requests[key]
                ?? {
                    let c = CoreMetrics.Counter(
                        label: Self.requestsName, dimensions: [("operation", operation), ("code", code)],
                        factory: factory)
                    h.requests[key] = c
                    return c
                }()
            let timer =
                h.durations[operation]
                ?? {
                    let t = CoreMetrics.Timer(
                        label: Self.requestDurationName, dimensions: [("operation", operation)], factory: factory)
                    h.durations[operation] = t
                    return t
                }()
            return (counter, timer)
        }
        counter.increment()
        let (seconds, attoseconds) = duration.components
        timer.recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    /// Records written through the API are counted from the store at scrape time (``StoreMetricsCollector``), so
    /// that records of every process count once; this call is kept for the API's call sites and does nothing.
    func recordIncoming(_ key: ShardKey, records: Int, bytes: Int) {}

    /// Counts records read through `GetRecords` or `SubscribeToShard`.
    func recordOutgoing(_ key: ShardKey, records: Int, bytes: Int) {
        shardCounter(Self.outgoingRecords, key).increment(by: Int64(records))
        shardCounter(Self.outgoingBytes, key).increment(by: Int64(bytes))
    }

    /// Counts a request refused by the per-shard limits.
    func recordThrottle(_ key: ShardKey, write: Bool) {
        shardCounter(write ? Self.writeThrottles : Self.readThrottles, key).increment()
    }

    /// Forgets the API's series of a stream deleted (or created again) through the API; the store's series of a
    /// deleted stream go at the next scrape.
    func removeStream(_ stream: String, _ scope: MetricLabels.Scope) {
        let key = Self.streamKey(stream, scope)
        let counters = handles.withLock { $0.shardCounters.removeValue(forKey: key) ?? [] }
        for counter in counters { registry.unregisterCounter(counter) }
    }

    /// The API counter `descriptor` of a shard (the registry returns the existing one after the first call).
    private func shardCounter(_ descriptor: MetricNameDescriptor, _ key: ShardKey) -> Prometheus.Counter {
        let scope = MetricLabels.Scope(account: key.account, region: key.region)
        let stream = Self.streamKey(key.stream, scope)
        return handles.withLock { h in
            let counter = registry.makeCounter(
                descriptor: descriptor, labels: MetricLabels.shard(stream: key.stream, shard: key.shard, scope))
            if !(h.shardCounters[stream]?.contains { $0 === counter } ?? false) {
                h.shardCounters[stream, default: []].append(counter)
            }
            return counter
        }
    }

    /// The key of a stream's API counters in ``Handles/shardCounters``.
    private static func streamKey(_ stream: String, _ scope: MetricLabels.Scope) -> String {
        scope.account + "/" + scope.region + "/" + stream
    }

    static var outgoingRecords: MetricNameDescriptor {
        MetricNameDescriptor(
            metricName: "shardlog_api_outgoing_records", unitName: "total",
            helpText: "Records read through GetRecords and SubscribeToShard.")
    }
    static var outgoingBytes: MetricNameDescriptor {
        MetricNameDescriptor(
            metricName: "shardlog_api_outgoing_bytes", unitName: "total",
            helpText: "Bytes (data and partition key) read through GetRecords and SubscribeToShard.")
    }
    static var writeThrottles: MetricNameDescriptor {
        MetricNameDescriptor(
            metricName: "shardlog_api_write_throttles", unitName: "total",
            helpText: "Records refused by the per-shard write limits.")
    }
    static var readThrottles: MetricNameDescriptor {
        MetricNameDescriptor(
            metricName: "shardlog_api_read_throttles", unitName: "total",
            helpText: "GetRecords calls refused by the per-shard read limit.")
    }

    /// Reads `stores` (every account's and region's) and their mappings' status files, then writes every series
    /// (Prometheus text format 0.0.4).
    ///
    /// Cost of one scrape: one listing of `streams/` and one read of each stream's `stream.json`; per shard, one
    /// atomic load of the stream's doorbell word, and, only for shards written to since the previous scrape (or
    /// never seen), one read of each new batch header of their newest segments (mapped through the process's
    /// segment cache); one listing of `mappings/` and one read of each mapping's `status.json`; then the text of
    /// every series. An idle store of 1,000 shards thus costs no segment access and no per-shard file open.
    func scrape(stores: [Store]) -> [UInt8] {
        scrapeGate.withLock { _ in
            storeCollector.collect(stores: stores)
            mappingCollector.collect(stores: stores)
            return registry.emitToBuffer()
        }
    }
}

/// The identifying labels of stream, shard and mapping series, in one place: series carry exactly these.
enum MetricLabels {
    /// The account and region a stream or mapping belongs to.
    struct Scope: Sendable, Hashable {
        /// The AWS account id (`000000000000` by default).
        var account: String
        /// The region (`us-east-1` by default).
        var region: String

        /// The scope of `store`'s streams.
        init(_ store: Store) { self.init(account: store.options.accountId, region: store.options.region) }

        /// The scope `account`/`region`.
        init(account: String, region: String) {
            self.account = account
            self.region = region
        }
    }

    /// Labels of a stream's series.
    static func stream(_ stream: String, _ scope: Scope) -> [(String, String)] {
        [("account", scope.account), ("region", scope.region), ("stream", stream)]
    }

    /// Labels of a shard's series.
    static func shard(stream: String, shard: String, _ scope: Scope) -> [(String, String)] {
        Self.stream(stream, scope) + [("shard", shard)]
    }

    /// Labels of a mapping's series.
    static func mapping(_ mapping: String, _ scope: Scope) -> [(String, String)] {
        [("account", scope.account), ("region", scope.region), ("mapping", mapping)]
    }
}
