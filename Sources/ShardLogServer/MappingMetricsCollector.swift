import Foundation
import Prometheus
import ShardLog
import ShardLogMapping
import Synchronization

/// The mappings' series, read at scrape time from each mapping's `status.json` (``MappingStatusFile``), which a
/// running mapping rewrites at most about once a second — whether this server hosts it or `shardlog map` runs it
/// in another process:
/// - `shardlog_mapping_iterator_age_milliseconds{mapping,shard}`, `shardlog_mapping_records_behind{mapping,shard}`
///   (gauges; a stopped mapping keeps the values it stopped with);
/// - `shardlog_mapping_invocations_total{mapping}`, `shardlog_mapping_errors_total{mapping,kind}` (`kind`:
///   `function`, `partial_batch`, `service`), `shardlog_mapping_discarded_records_total{mapping}`;
/// - `shardlog_mapping_invocation_duration_seconds{mapping}` (histogram).
///
/// A status counts from the start of its run (``MappingStatusMetrics/runId``): the collector adds what grew since
/// the status it read last, and the whole of a new run's counts, so counters never go backwards. Histogram bucket
/// counts and sums are rebuilt exactly from the per-bucket counts and sums of the file (each new duration of a
/// bucket is recorded as the bucket's mean of the new ones, which lies in the bucket), at most
/// ``maxObservationsPerScrape`` per bucket and scrape; the rest follows at the next scrapes.
/// Thread-safety: ``collect(stores:)`` is called under the scrape lock of ``ServerMetrics``; state is in a `Mutex`.
final class MappingMetricsCollector: Sendable {
    /// The most durations one scrape records into one bucket.
    static let maxObservationsPerScrape = 100_000

    private struct Counted {
        var runId = ""
        var invocations = 0
        var errors: [String: Int] = [:]
        var discarded = 0
        var durations = DurationBuckets()
    }

    private struct MappingState {
        var counted = Counted()
        let invocations: Prometheus.Counter
        let errors: [String: Prometheus.Counter]
        let discarded: Prometheus.Counter
        let durations: ValueHistogram
        var ages: [String: Prometheus.Gauge] = [:]
        var behind: [String: Prometheus.Gauge] = [:]
    }

    static var iteratorAge: MetricNameDescriptor {
        MetricNameDescriptor(
            metricName: "shardlog_mapping_iterator_age", unitName: "milliseconds",
            helpText: "Age of the last record the mapping handled in the shard (0 once caught up).")
    }
    static var recordsBehind: MetricNameDescriptor {
        MetricNameDescriptor(
            metricName: "shardlog_mapping_records_behind", unitName: "",
            helpText: "Records written to the shard and not yet handled by the mapping.")
    }
    static var invocations: MetricNameDescriptor {
        MetricNameDescriptor(
            metricName: "shardlog_mapping_invocations", unitName: "total",
            helpText: "Handler invocations (every attempt of every batch).")
    }
    static var errors: MetricNameDescriptor {
        MetricNameDescriptor(
            metricName: "shardlog_mapping_errors", unitName: "total",
            helpText:
                "Failed invocations by kind: function (error, timeout, crash), partial_batch, service (not started).")
    }
    static var discarded: MetricNameDescriptor {
        MetricNameDescriptor(
            metricName: "shardlog_mapping_discarded_records", unitName: "total",
            helpText: "Records discarded after retries ran out or for their age.")
    }
    static var duration: MetricNameDescriptor {
        MetricNameDescriptor(
            metricName: "shardlog_mapping_invocation_duration", unitName: "seconds",
            helpText: "How long handler invocations took.")
    }

    /// The error kinds, with the status field each counts.
    static var errorKinds: [(String, KeyPath<MappingStatusMetrics, Int>)] {
        [("function", \.functionErrors), ("partial_batch", \.partialFailures), ("service", \.serviceErrors)]
    }

    private let registry: PrometheusCollectorRegistry
    private let mappings = Mutex<[String: MappingState]>([:])

    /// Creates a collector registering its series in `registry`.
    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    /// Brings every mapping's series up to date with its `status.json`, over the mappings of every store (each
    /// account and region); a mapping whose file is missing or unreadable keeps its last values; a mapping whose
    /// directory is gone loses its series.
    func collect(stores: [Store]) {
        var states = mappings.withLock { $0 }
        var seen: Set<String> = []
        for store in stores {
            let scope = MetricLabels.Scope(store)
            for name in MappingCatalog.names(store: store) {
                let key = scope.account + "/" + scope.region + "/" + name
                seen.insert(key)
                guard let file = try? MappingStatusFile.read(store: store, name: name), let status = file.metrics
                else { continue }
                var state = states[key] ?? makeState(name, scope)
                update(&state, labels: MetricLabels.mapping(name, scope), status: status)
                states[key] = state
            }
        }
        for gone in Set(states.keys).subtracting(seen) {
            if let state = states.removeValue(forKey: gone) { unregister(state) }
        }
        mappings.withLock { $0 = states }
    }

    private func makeState(_ name: String, _ scope: MetricLabels.Scope) -> MappingState {
        let labels = MetricLabels.mapping(name, scope)
        var errors: [String: Prometheus.Counter] = [:]
        for (kind, _) in Self.errorKinds {
            errors[kind] = registry.makeCounter(descriptor: Self.errors, labels: labels + [("kind", kind)])
        }
        return MappingState(
            invocations: registry.makeCounter(descriptor: Self.invocations, labels: labels), errors: errors,
            discarded: registry.makeCounter(descriptor: Self.discarded, labels: labels),
            durations: registry.makeValueHistogram(
                descriptor: Self.duration, labels: labels, buckets: DurationBuckets.bounds))
    }

    private func update(_ state: inout MappingState, labels: [(String, String)], status: MappingStatusMetrics) {
        var c = state.counted
        if c.runId != status.runId { c = Counted(runId: status.runId) }
        state.invocations.increment(by: Int64(max(0, status.invocations - c.invocations)))
        c.invocations = max(c.invocations, status.invocations)
        for (kind, path) in Self.errorKinds {
            let value = status[keyPath: path]
            state.errors[kind]?.increment(by: Int64(max(0, value - c.errors[kind, default: 0])))
            c.errors[kind] = max(c.errors[kind, default: 0], value)
        }
        state.discarded.increment(by: Int64(max(0, status.discardedRecords - c.discarded)))
        c.discarded = max(c.discarded, status.discardedRecords)
        let bounds = DurationBuckets.bounds
        let seen = status.invocationDurations
        for i in c.durations.counts.indices where seen.counts.indices.contains(i) && seen.sums.indices.contains(i) {
            let new = seen.counts[i] - c.durations.counts[i]
            guard new > 0 else { continue }
            let upper = i < bounds.count ? bounds[i] : Double.infinity
            let lower = i > 0 ? bounds[i - 1] : 0
            let mean = min(upper, max(lower, (seen.sums[i] - c.durations.sums[i]) / Double(new)))
            let recorded = min(new, Self.maxObservationsPerScrape)
            for _ in 0..<recorded { state.durations.record(mean) }
            c.durations.counts[i] += recorded
            c.durations.sums[i] += mean * Double(recorded)
        }
        state.counted = c
        for gone in Set(state.ages.keys).subtracting(status.shards.keys) {
            if let g = state.ages.removeValue(forKey: gone) { registry.unregisterGauge(g) }
        }
        for (shard, lag) in status.shards {
            let age =
                state.ages[shard]
                ?? registry.makeGauge(descriptor: Self.iteratorAge, labels: labels + [("shard", shard)])
            state.ages[shard] = age
            age.set(lag.iteratorAgeMilliseconds)
        }
        let known = status.shards.filter { $0.value.recordsBehind != nil }
        for gone in Set(state.behind.keys).subtracting(known.keys) {
            if let g = state.behind.removeValue(forKey: gone) { registry.unregisterGauge(g) }
        }
        for (shard, lag) in known {
            guard let records = lag.recordsBehind else { continue }
            let gauge =
                state.behind[shard]
                ?? registry.makeGauge(descriptor: Self.recordsBehind, labels: labels + [("shard", shard)])
            state.behind[shard] = gauge
            gauge.set(Int64(records))
        }
    }

    private func unregister(_ state: MappingState) {
        registry.unregisterCounter(state.invocations)
        for counter in state.errors.values { registry.unregisterCounter(counter) }
        registry.unregisterCounter(state.discarded)
        registry.unregisterValueHistogram(state.durations)
        for g in state.ages.values { registry.unregisterGauge(g) }
        for g in state.behind.values { registry.unregisterGauge(g) }
    }
}
