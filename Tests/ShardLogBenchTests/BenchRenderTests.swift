import Foundation
import ShardLogTestSupport
import Testing

@testable import ShardLogBench

/// Renders report.html in headless Chromium (Debian's `chromium` package) and checks the screenshot is not blank.
@Suite(.timeLimit(.minutes(1)))
struct BenchRenderTests {
    /// Debian's Chromium, if installed.
    static let chromium: String? = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    /// Takes a screenshot of `page` and returns the PNG's bytes and Chromium's standard error.
    static func screenshot(_ chromium: String, page: String, into directory: String) async throws -> (Data, String) {
        let png = directory + "/shot-\(UUID().uuidString).png"
        let result = try await runProcess(
            chromium,
            [
                "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                "--user-data-dir=\(directory)/profile-\(UUID().uuidString)", "--window-size=1000,1600",
                "--screenshot=\(png)", URL(fileURLWithPath: page).absoluteString,
            ],
            timeout: .seconds(45))
        #expect(result.status == 0, "\(result.stderr)")
        return (try Data(contentsOf: URL(fileURLWithPath: png)), result.stderr)
    }

    @Test(
        .enabled(
            // `make deps` installs chromium, so under CI (CI=true) the test runs and fails without it, never skips.
            if: chromium != nil || ProcessInfo.processInfo.environment["CI"] != nil,
            "needs Debian's chromium, which `make deps` installs, to render the report"))
    func reportRendersInHeadlessChromium() async throws {
        let chromium = try #require(Self.chromium)
        try await withTemporaryDirectory { directory in
            let points = BenchReportTests.samplePoints()
            let report = HTMLReport(
                title: "ShardLog scaling benchmark", command: "shardlog bench scaling", machine: .current(),
                startedAt: "2026-11-22T16:00:00Z", notes: ["A test report."], table: BenchScaling.table(points),
                charts: BenchScaling.charts(points), json: "{}")
            let page = try report.write(to: directory + "/report")
            let blankPage = directory + "/blank.html"
            try Data("<!DOCTYPE html><html><body></body></html>".utf8).write(to: URL(fileURLWithPath: blankPage))

            let (shot, errors) = try await Self.screenshot(chromium, page: page, into: directory)
            let (blank, _) = try await Self.screenshot(chromium, page: blankPage, into: directory)
            // A PNG, and far larger than a blank page's (which compresses to almost nothing).
            #expect(shot.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
            #expect(shot.count > 20_000, "screenshot is \(shot.count) bytes")
            #expect(shot.count > blank.count * 4, "screenshot \(shot.count) bytes, blank page \(blank.count)")
            #expect(!errors.contains("Uncaught") && !errors.contains(":CONSOLE("), "\(errors)")
        }
    }
}
