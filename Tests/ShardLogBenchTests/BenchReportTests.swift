import Foundation
import FoundationXML
import ShardLogTestSupport
import Testing

@testable import ShardLogBench

/// Tables, number formatting, SVG charts and the HTML report.
@Suite struct BenchReportTests {
    static func samplePoints() -> [BenchScaling.Point] {
        var points: [BenchScaling.Point] = []
        for latency in [0.0, 10] {
            for shards in [1, 2, 4] {
                for factor in [1, 2] {
                    let ideal = DeliveryRun.ideal(
                        shards: shards, parallelizationFactor: factor, batchSize: 100,
                        handlerLatency: .milliseconds(Int64(latency)))
                    let delivered = (ideal ?? 900_000) * 0.95
                    points.append(
                        BenchScaling.Point(
                            shards: shards, parallelizationFactor: factor, handlerLatencyMilliseconds: latency,
                            batchSize: 100, recordByteCount: 100, backlogRecords: 10_000,
                            ingestRecordsPerSecond: Spread([2e6, 2.1e6, 1.9e6]),
                            ingestMegabytesPerSecond: Spread([200, 210, 190]),
                            deliveryRecordsPerSecond: Spread([delivered, delivered * 1.01, delivered * 0.99]),
                            idealRecordsPerSecond: ideal, fractionOfIdeal: ideal.map { delivered / $0 },
                            latencyOfferedRecordsPerSecond: 5000,
                            latency: LatencySummary(
                                count: 5000, p50Microseconds: 800 + latency * 500,
                                p99Microseconds: 2500 + latency * 900, p999Microseconds: 4000 + latency * 1000,
                                maxMicroseconds: 9000),
                            latencyP99Microseconds: Spread([2500]), cpuPercent: Spread([150]),
                            othersCPUPercent: Spread([3])))
                }
            }
        }
        return points
    }

    /// Whether `text` parses as XML.
    static func isWellFormedXML(_ text: String) -> Bool {
        XMLParser(data: Data(text.utf8)).parse()
    }

    @Test func numberText() {
        #expect(NumberText.grouped(1_234_567.4) == "1,234,567")
        #expect(NumberText.grouped(999) == "999")
        #expect(NumberText.grouped(-1234) == "-1,234")
        #expect(NumberText.fixed(3.14159, 2) == "3.14")
        #expect(NumberText.fixed(0.25, 1) == "0.3")
        #expect(NumberText.fixed(-2.5, 0) == "-3")
        #expect(NumberText.fixed(7, 0) == "7")
        #expect(NumberText.compact(1500) == "1.5k")
        #expect(NumberText.compact(2_000_000) == "2M")
        #expect(NumberText.compact(950) == "950")
        #expect(NumberText.compact(0.5) == "0.5")
        #expect(NumberText.duration(microseconds: 850) == "850 µs")
        #expect(NumberText.duration(microseconds: 12_345) == "12.3 ms")
        #expect(NumberText.duration(microseconds: 1_520_000) == "1.52 s")
        #expect(NumberText.plusMinus(Spread([90, 100, 110])) == "±10%")
        #expect(NumberText.plusMinus(Spread([99, 100, 101])) == "±1.0%")
        #expect(NumberText.plusMinus(Spread([100])) == "-")
    }

    @Test func tableAlignsNumbersRight() {
        let table = TextTable(headers: ["name", "records/s"], rows: [["a", "1,000"], ["long name", "20"]])
        #expect(
            table.render() == """
                name       records/s
                ---------  ---------
                a              1,000
                long name         20

                """)
    }

    @Test func scalingTableHasOneRowPerPoint() {
        let points = Self.samplePoints()
        let table = BenchScaling.table(points)
        #expect(table.rows.count == points.count)
        #expect(table.rows.allSatisfy { $0.count == table.headers.count })
        let row = table.rows.first { $0[0] == "4" && $0[1] == "2" && $0[2] == "10" }
        #expect(row?[7] == "80,000")
        #expect(row?[8] == "95")
    }

    @Test func chartScalesAndTicks() {
        #expect(LineChart.range([1, 32], .log(base: 2), padLinear: false) == 1...32)
        #expect(LineChart.range([3, 30], .log(base: 2), padLinear: false) == 2...32)
        #expect(LineChart.range([1500, 80_000], .log(base: 10), padLinear: true) == 1000...100_000)
        #expect(LineChart.range([0, 37], .linear, padLinear: true) == 0...50)
        #expect(LineChart.ticks(1...32, .log(base: 2), data: [1, 2, 4, 32, 2]) == [1, 2, 4, 32])
        #expect(LineChart.ticks(1000...10_000, .log(base: 10), data: []) == [1000, 2000, 5000, 10_000])
        #expect(LineChart.ticks(0...40, .linear, data: []) == [0, 10, 20, 30, 40])
        #expect(LineChart.niceCeiling(37) == 50)
        #expect(LineChart.niceCeiling(0.3) == 0.5)
        #expect(abs(LineChart.position(10, 1...100, .log(base: 10), 0, 200) - 100) < 1e-9)
        #expect(LineChart.position(25, 0...100, .linear, 100, 0) == 75)
    }

    @Test func scalingChartsAreWellFormedSVGWithIdealLines() {
        let charts = BenchScaling.charts(Self.samplePoints())
        let names = charts.map(\.name)
        #expect(names.contains("delivery-10ms"))
        #expect(names.contains("delivery-0ms"))
        #expect(names.contains("latency-p99-10ms"))
        #expect(names.contains("ingest-throughput"))
        for named in charts {
            let svg = named.chart.svg()
            #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
            #expect(Self.isWellFormedXML(svg), "\(named.name)")
            #expect(!svg.contains("nan") && !svg.contains("inf"), "\(named.name)")
        }
        let delivery10 = charts.first { $0.name == "delivery-10ms" }?.chart
        #expect(delivery10?.series.count == 4)  // P=1, P=1 ideal, P=2, P=2 ideal
        #expect(delivery10?.series.filter(\.dashed).map(\.name) == ["P=1 ideal", "P=2 ideal"])
        let svg = delivery10?.svg() ?? ""
        #expect(svg.components(separatedBy: "<polyline").count - 1 == 4)
        #expect(svg.components(separatedBy: "stroke-dasharray").count - 1 == 4)  // 2 lines + 2 legend keys
        // The 0 ms handler has no ideal.
        #expect(charts.first { $0.name == "delivery-0ms" }?.chart.series.allSatisfy { !$0.dashed } == true)
    }

    @Test func chartEscapesTextAndSurvivesEmptyAndNonPositiveData() {
        let chart = LineChart(
            title: "a < b & \"c\"", xLabel: "x", yLabel: "y",
            series: [
                LineChart.Series(
                    name: "<P>", points: [.init(x: 1, y: 0), .init(x: 2, y: -1), .init(x: 4, y: .nan)], colorIndex: 9)
            ])
        let svg = chart.svg()
        #expect(Self.isWellFormedXML(svg))
        #expect(svg.contains("a &lt; b &amp; &quot;c&quot;"))
        #expect(svg.contains("&lt;P&gt;"))
        #expect(svg.contains("no data"))
        #expect(!svg.contains("<polyline"))
    }

    @Test func reportWritesHTMLJSONAndCharts() async throws {
        try await withTemporaryDirectory { directory in
            let points = Self.samplePoints()
            let document = BenchDocument(
                benchmark: "scaling", command: "shardlog bench scaling", startedAt: "2026-11-22T16:00:00Z",
                elapsedSeconds: 1, machine: .current(), parameters: ["shards": "1,2,4"], points: points,
                notes: ["<note> & more"])
            let json = try benchJSON(document)
            let report = HTMLReport(
                title: "ShardLog scaling benchmark", command: document.command, machine: document.machine,
                startedAt: document.startedAt, notes: document.notes, table: BenchScaling.table(points),
                charts: BenchScaling.charts(points), json: json)
            let path = try report.write(to: directory + "/report")
            let html = try String(contentsOfFile: path, encoding: .utf8)
            #expect(html.hasPrefix("<!DOCTYPE html>"))
            #expect(html.contains("&lt;note&gt; &amp; more"))
            #expect(html.components(separatedBy: "<svg ").count - 1 == report.charts.count)
            #expect(!html.contains("<script"))
            // No fetches: the only URL is the SVG namespace.
            let withoutNamespace = html.replacingOccurrences(of: "http://www.w3.org/2000/svg", with: "")
            #expect(!withoutNamespace.contains("http:") && !withoutNamespace.contains("https:"))
            let written = try Data(contentsOf: URL(fileURLWithPath: directory + "/report/report.json"))
            let decoded = try JSONDecoder().decode(BenchDocument<BenchScaling.Point>.self, from: written)
            #expect(decoded.points == points)
            #expect(FileManager.default.fileExists(atPath: directory + "/report/delivery-10ms.svg"))
            #expect(html.contains(" build of "), "the build configuration and commit are on the page")
        }
    }

    @Test func ingestChartDrawsTheSpreadAndThePeersOfTheRun() async throws {
        try await withTemporaryDirectory { directory in
            // A peers.json as Benchmarks/peers/run_all.sh writes it: rates, and per-point flags in other units.
            let peersFile = directory + "/peers.json"
            try Data(
                #"""
                {"header": ["test"], "keys": {
                  "redis_xadd_nopersist_p64_c4": {"unit": "ops/s", "value": 773694},
                  "redis_xadd_nopersist_p64_c4_attempts": {"unit": "count", "value": 1},
                  "redis_xadd_aof_no_p1_c1": {"unit": "ops/s", "value": 11527},
                  "redis_ping_p1_c1": {"unit": "ops/s", "value": 14981},
                  "nats_js_file_async_w256": {"unit": "msg/s", "value": 116207},
                  "nats_js_file_sync": {"unit": "msg/s", "value": 8339},
                  "memcpy_1gib_64mib_chunks": {"unit": "GB/s", "value": 11.8}}}
                """#.utf8
            ).write(to: URL(fileURLWithPath: peersFile))
            let peers = try PeerFigures(contentsOf: peersFile)
            #expect(peers.references.map(\.value) == [773_694, 116_207])
            #expect(throws: (any Error).self) { try PeerFigures(contentsOf: directory + "/missing.json") }

            let points = [1, 2, 4].map { shards in
                BenchIngest.Point(
                    shards: shards, producers: 2, durability: "none", compression: true, recordByteCount: 100,
                    batchRecords: 1000, hashKeys: "md5", recordsPerSecond: Spread([4e6, 4.5e6, 5e6]),
                    megabytesPerSecond: Spread([450]), cpuPercent: Spread([195]), othersCPUPercent: Spread([1]))
            }
            let chart = try #require(BenchIngest.charts(points, peers: peers).first).chart
            let svg = chart.svg()
            #expect(Self.isWellFormedXML(svg))
            // One error bar (min–max of the runs) per measured point; none on the reference lines.
            #expect(svg.components(separatedBy: #"class="error-bar""#).count - 1 == points.count)
            #expect(svg.contains("best Redis XADD") && svg.contains("JetStream async"))
            let dashed = chart.series.filter(\.dashed)
            #expect(dashed.map { $0.points.map(\.y) } == [[773_694, 773_694], [116_207, 116_207]])
            #expect(dashed.allSatisfy { $0.points.map(\.x) == [1, 4] })
            #expect(svg.contains("records/s (log scale)") && svg.contains("shards (log scale)"))
        }
    }

    @Test func machineInfoDescribesThisMachine() {
        let machine = MachineInfo.current()
        #expect(machine.cores >= 1)
        #expect(!machine.cpuModel.isEmpty)
        #expect(machine.memoryGiB > 0)
    }

    @Test func progressBar() {
        #expect(BenchProgress.bar(done: 0, total: 4, width: 8) == "[........]")
        #expect(BenchProgress.bar(done: 2, total: 4, width: 8) == "[####....]")
        #expect(BenchProgress.bar(done: 4, total: 4, width: 8) == "[########]")
    }
}
