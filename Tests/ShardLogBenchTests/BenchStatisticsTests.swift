import Testing

@testable import ShardLogBench

/// Median, nearest-rank percentiles, spreads and the HdrHistogram wrapper on inputs with known answers.
@Suite struct BenchStatisticsTests {
    @Test func medianOfOddAndEvenCounts() {
        #expect(Statistics.median(sorted: []) == 0)
        #expect(Statistics.median(sorted: [7]) == 7)
        #expect(Statistics.median(sorted: [1, 2, 9]) == 2)
        #expect(Statistics.median(sorted: [1, 2, 4, 9]) == 3)
    }

    @Test(arguments: [(0.0, 1.0), (1, 1), (50, 50), (90, 90), (99, 99), (99.5, 100), (100, 100)])
    func nearestRankPercentilesOfOneToHundred(percentile: Double, expected: Double) {
        let values = (1...100).map(Double.init)
        #expect(Statistics.percentile(percentile, sorted: values) == expected)
    }

    @Test func percentilesOfSmallSets() {
        #expect(Statistics.percentile(50, sorted: []) == 0)
        #expect(Statistics.percentile(50, sorted: [3, 5]) == 3)
        #expect(Statistics.percentile(51, sorted: [3, 5]) == 5)
        #expect(Statistics.percentile(99.9, sorted: [1, 2, 3, 4, 5]) == 5)
    }

    @Test func spreadSummarisesSamplesInAnyOrder() {
        let spread = Spread([300, 100, 200])
        #expect(spread.median == 200)
        #expect(spread.min == 100)
        #expect(spread.max == 300)
        #expect(spread.samples == [300, 100, 200])
        #expect(spread.halfRangePercent == 50)
        #expect(Spread([]).median == 0)
        #expect(Spread([]).halfRangePercent == 0)
        #expect(Spread([42]).halfRangePercent == 0)
    }

    @Test func histogramPercentilesOfAUniformMillisecond() throws {
        // 1 µs … 1000 µs, once each: p50 = 500 µs, p99 = 990 µs, p99.9 = 999 µs, within HdrHistogram's
        // 3 significant digits.
        var histogram = LatencyHistogram()
        for microsecond in 1...1000 { histogram.record(nanoseconds: UInt64(microsecond) * 1000) }
        let summary = histogram.summary
        #expect(summary.count == 1000)
        #expect(abs(summary.p50Microseconds - 500) <= 0.5)
        #expect(abs(summary.p99Microseconds - 990) <= 1)
        #expect(abs(summary.p999Microseconds - 999) <= 1)
        #expect(abs(summary.maxMicroseconds - 1000) <= 1)
    }

    @Test func histogramsPoolAndClamp() {
        var fast = LatencyHistogram()
        var slow = LatencyHistogram()
        for _ in 0..<900 { fast.record(nanoseconds: 100_000) }
        for _ in 0..<100 { slow.record(nanoseconds: 10_000_000) }
        fast.add(slow)
        #expect(fast.count == 1000)
        #expect(abs(fast.microseconds(atPercentile: 50) - 100) <= 0.1)
        #expect(abs(fast.microseconds(atPercentile: 95) - 10_000) <= 10)

        var extremes = LatencyHistogram()
        extremes.record(nanoseconds: 0)
        extremes.record(nanoseconds: .max)
        #expect(extremes.count == 2)
        #expect(extremes.summary.maxMicroseconds >= 599_000_000)
        #expect(
            LatencyHistogram().summary
                == LatencySummary(
                    count: 0, p50Microseconds: 0, p99Microseconds: 0, p999Microseconds: 0, maxMicroseconds: 0))
    }

    @Test func stampsRoundTripThroughRecordData() {
        var data = [UInt8](repeating: 0xAA, count: 12)
        Stamp.write(0x0102_0304_0506_0708, into: &data)
        #expect(Stamp.read(data) == 0x0102_0304_0506_0708)
        #expect(data[8...] == [0xAA, 0xAA, 0xAA, 0xAA])
        #expect(Stamp.read([1, 2, 3]) == nil)
        #expect(Stamp.nanoseconds(.milliseconds(1500)) == 1_500_000_000)
        #expect(Stamp.nanoseconds(.zero - .seconds(1)) == 0)
    }

    @Test func idealDeliveryRate() {
        #expect(
            DeliveryRun.ideal(shards: 4, parallelizationFactor: 10, batchSize: 100, handlerLatency: .milliseconds(10))
                == 400_000)
        #expect(DeliveryRun.ideal(shards: 4, parallelizationFactor: 1, batchSize: 100, handlerLatency: .zero) == nil)
    }
}
