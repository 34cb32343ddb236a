import Foundation
import Synchronization

/// What the report says about the binary that measured: its build configuration and git commit. The `shardlog`
/// executable, which knows its commit (`BuildInfo`), sets ``commit`` before running a benchmark.
package enum BenchBuild {
    private static let stored = Mutex<String?>(nil)

    /// The git commit the binary was built from (`make` records it; `nil`: not told).
    package static var commit: String? {
        get { stored.withLock { $0 } }
        set { stored.withLock { $0 = newValue } }
    }

    /// `release build of commit 5942fc4df696`, or `… of an unknown commit` when the binary was not told.
    static var description: String {
        "\(HTMLReport.buildConfiguration) build of \(commit.map { "commit \($0)" } ?? "an unknown commit")"
    }
}

/// A chart with the file name it is also written to (`<name>.svg` next to `report.html`).
struct NamedChart: Sendable, Equatable {
    /// File name without extension: lower-case letters, digits and dashes.
    var name: String
    /// The chart.
    var chart: LineChart
}

/// The self-contained `report.html` of `--report DIR`: summary, machine, the results table, inline SVG charts and
/// the raw JSON. It has no scripts, styles from elsewhere or network fetches, so it renders anywhere (headless
/// Chromium included) exactly as written. A value type.
struct HTMLReport: Sendable {
    /// The page's heading.
    var title: String
    /// The command line that produced the figures.
    var command: String
    /// The machine.
    var machine: MachineInfo
    /// When the run started.
    var startedAt: String
    /// Paragraphs explaining what was measured.
    var notes: [String]
    /// The results.
    var table: TextTable
    /// The charts, in page order.
    var charts: [NamedChart]
    /// The raw JSON document, embedded verbatim (escaped) and written to `report.json`.
    var json: String

    /// How this binary was compiled: `release` or `debug` (figures of a debug build are not comparable).
    static var buildConfiguration: String {
        #if DEBUG
            "debug"
        #else
            "release"
        #endif
    }

    /// The page.
    func html() -> String {
        var page = """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <title>\(escape(title))</title>
            <style>
            body { font-family: sans-serif; margin: 24px; color: #222; background: #fff; }
            table { border-collapse: collapse; font-size: 13px; margin: 12px 0; }
            th, td { border: 1px solid #ccc; padding: 3px 8px; white-space: nowrap; }
            td.n { text-align: right; font-variant-numeric: tabular-nums; }
            th { background: #f2f2f2; }
            pre { background: #f6f6f6; padding: 8px; overflow-x: auto; font-size: 12px; }
            figure { margin: 16px 0; }
            figure svg { width: 100%; height: auto; }
            </style>
            </head>
            <body>
            <h1>\(escape(title))</h1>
            <p><code>\(escape(command))</code></p>
            <p>Started \(escape(startedAt)) on \(escape(machine.hostName)): \(machine.cores) cores, \
            \(escape(machine.cpuModel)), \(NumberText.fixed(machine.memoryGiB, 1)) GiB, \
            \(escape(machine.operatingSystem)); \(escape(BenchBuild.description)).</p>

            """
        for note in notes {
            page += "<p>\(escape(note))</p>\n"
        }
        page += "<h2>Results</h2>\n<table>\n<tr>"
        page += table.headers.map { "<th>\(escape($0))</th>" }.joined()
        page += "</tr>\n"
        for row in table.rows {
            page += "<tr>"
            page += row.map { cell in
                let numeric = cell.first.map { $0.isNumber || $0 == "±" } ?? false
                return numeric ? "<td class=\"n\">\(escape(cell))</td>" : "<td>\(escape(cell))</td>"
            }.joined()
            page += "</tr>\n"
        }
        page += "</table>\n"
        if !charts.isEmpty {
            page += "<h2>Charts</h2>\n"
        }
        for named in charts {
            page += "<figure id=\"\(escape(named.name))\">\n\(named.chart.svg())</figure>\n"
        }
        page += """
            <h2>Raw data</h2>
            <p>Also in <a href="report.json">report.json</a>.</p>
            <pre>\(escape(json))</pre>
            </body>
            </html>

            """
        return page
    }

    /// Writes `report.html`, `report.json` and one `<name>.svg` per chart into `directory` (created if needed).
    /// - Parameter directory: The report directory.
    /// - Returns: The path of `report.html`.
    /// - Throws: File-system errors.
    @discardableResult
    func write(to directory: String) throws -> String {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let base = URL(fileURLWithPath: directory)
        try Data(json.utf8).write(to: base.appendingPathComponent("report.json"), options: .atomic)
        for named in charts {
            try Data(named.chart.svg().utf8).write(
                to: base.appendingPathComponent(named.name + ".svg"), options: .atomic)
        }
        let page = base.appendingPathComponent("report.html")
        try Data(html().utf8).write(to: page, options: .atomic)
        return page.path
    }
}
