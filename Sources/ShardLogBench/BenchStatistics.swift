import Foundation
import Histogram

/// The median and range of repeated measurements of one quantity (for example records/s over three runs).
///
/// A value type.
struct Spread: Codable, Sendable, Equatable {
    /// The median of the samples (the mean of the middle two for an even count); 0 without samples.
    var median: Double
    /// The smallest sample; 0 without samples.
    var min: Double
    /// The largest sample; 0 without samples.
    var max: Double
    /// Every sample, in measurement order.
    var samples: [Double]

    /// Summarises `samples`.
    /// - Parameter samples: The measurements, in any order.
    init(_ samples: [Double]) {
        self.samples = samples
        let sorted = samples.sorted()
        median = Statistics.median(sorted: sorted)
        min = sorted.first ?? 0
        max = sorted.last ?? 0
    }

    /// Half the range relative to the median, in percent: 0 with fewer than two samples or a zero median.
    var halfRangePercent: Double {
        median > 0 ? (max - min) / 2 / median * 100 : 0
    }
}

/// Order statistics on small sample sets (run-level figures; per-record latencies go to ``LatencyHistogram``).
enum Statistics {
    /// The median of sorted values: the middle one, or the mean of the middle two; 0 when empty.
    /// - Parameter sorted: Values in ascending order.
    /// - Returns: The median.
    static func median(sorted: [Double]) -> Double {
        guard !sorted.isEmpty else { return 0 }
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// The nearest-rank percentile: the smallest value such that at least `percentile`% of the values are less
    /// than or equal to it (so p0 is the minimum and p100 the maximum); 0 when empty.
    /// - Parameters:
    ///   - percentile: 0–100.
    ///   - sorted: Values in ascending order.
    /// - Returns: The percentile.
    static func percentile(_ percentile: Double, sorted: [Double]) -> Double {
        guard !sorted.isEmpty else { return 0 }
        let rank = Int((percentile / 100 * Double(sorted.count)).rounded(.up))
        return sorted[Swift.min(Swift.max(rank, 1), sorted.count) - 1]
    }
}

/// Latency percentiles of one measurement, in microseconds.
struct LatencySummary: Codable, Sendable, Equatable {
    /// How many latencies were recorded.
    var count: Int
    /// The median.
    var p50Microseconds: Double
    /// The 99th percentile.
    var p99Microseconds: Double
    /// The 99.9th percentile.
    var p999Microseconds: Double
    /// The largest.
    var maxMicroseconds: Double
}

/// Latencies in nanoseconds in an HdrHistogram: 3 significant digits from 1 ns to 10 minutes (larger values are
/// clamped to 10 minutes). A value type; share it behind a lock.
struct LatencyHistogram: Sendable {
    /// The largest value recorded exactly: 10 minutes in nanoseconds.
    static let highestTrackableNanoseconds: UInt64 = 600_000_000_000

    /// The underlying histogram.
    private(set) var histogram = Histogram<UInt64>(
        lowestDiscernibleValue: 1, highestTrackableValue: highestTrackableNanoseconds,
        numberOfSignificantValueDigits: .three)

    /// An empty histogram.
    init() {}

    /// Records one latency.
    /// - Parameter nanoseconds: The latency; clamped to 1 ns … 10 min.
    mutating func record(nanoseconds: UInt64) {
        histogram.record(Swift.min(Swift.max(nanoseconds, 1), Self.highestTrackableNanoseconds))
    }

    /// Adds every value of `other` (to pool repeated runs).
    /// - Parameter other: Another latency histogram.
    mutating func add(_ other: LatencyHistogram) {
        histogram.add(other.histogram)
    }

    /// The number of recorded values.
    var count: Int { Int(histogram.totalCount) }

    /// The value at `percentile` (0–100) in microseconds; 0 when empty.
    /// - Parameter percentile: 0–100.
    /// - Returns: HdrHistogram's value at that percentile, in microseconds.
    func microseconds(atPercentile percentile: Double) -> Double {
        guard histogram.totalCount > 0 else { return 0 }
        return Double(histogram.valueAtPercentile(percentile)) / 1000
    }

    /// p50, p99, p99.9 and the maximum.
    var summary: LatencySummary {
        LatencySummary(
            count: count,
            p50Microseconds: microseconds(atPercentile: 50),
            p99Microseconds: microseconds(atPercentile: 99),
            p999Microseconds: microseconds(atPercentile: 99.9),
            maxMicroseconds: histogram.totalCount > 0 ? Double(histogram.max) / 1000 : 0)
    }
}
