import ArgumentParser
import Foundation
import ShardLog

/// The workloads of `shardlog bench`, for the CLI's thin `bench` command to list as its subcommands.
package enum BenchWorkloads {
    /// `scaling`, `ingest`, `read`, `runtime-api`, `idle`, `lambda`, `follow`.
    package static var subcommands: [any ParsableCommand.Type] {
        [
            BenchScaling.self, BenchIngest.self, BenchRead.self, BenchRuntimeAPI.self, BenchIdle.self,
            BenchLambda.self, BenchFollow.self,
        ]
    }
}

/// Writes a line to standard error.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Whether standard error is a terminal (for a redrawn progress bar).
var standardErrorIsTerminal: Bool { isatty(2) != 0 }

/// Options every `bench` workload takes.
struct BenchOptions: ParsableArguments {
    /// Seconds each measurement runs.
    @Option(help: "Seconds each measurement runs.")
    var duration: Double = 1

    /// Measurements per point (median and spread are reported).
    @Option(help: "Measurements per point (median and spread are reported).")
    var repeats: Int = 3

    /// Print the results as JSON on standard output instead of a table.
    @Flag(help: "Print the results as JSON on standard output instead of a table.")
    var json = false

    /// Also write report.html, report.json and the charts as SVG into this directory.
    @Option(help: "Also write report.html, report.json and the charts as SVG into this directory.")
    var report: String?

    /// Keep each point's data directory (its path is printed).
    @Flag(help: "Keep each point's data directory (its path is printed).")
    var keep = false

    /// Where the per-point data directories go (default: the system's temporary directory).
    @Option(help: "Where the per-point data directories go (default: the system's temporary directory).")
    var scratchDir: String?

    /// Segment size in MiB for the benchmark's streams.
    @Option(help: "Segment size in MiB for the benchmark's streams.")
    var segmentMib: Int = 32

    /// No progress on standard error.
    @Flag(help: "No progress on standard error.")
    var quiet = false

    /// Re-measure a run (at most twice) while other processes use more than this percentage of a core.
    @Option(help: "Re-measure a run (at most twice) while other processes use more than this % of a core.")
    var othersLimit: Double = 20

    /// Rejects out-of-range options before anything runs.
    func validate() throws {
        guard duration > 0, duration <= 600 else {
            throw ValidationError("--duration must be more than 0 and at most 600 seconds, not \(duration)")
        }
        guard (1...100).contains(repeats) else {
            throw ValidationError("--repeats must be between 1 and 100, not \(repeats)")
        }
        guard (1...4096).contains(segmentMib) else {
            throw ValidationError("--segment-mib must be between 1 and 4096, not \(segmentMib)")
        }
        if let report, report.isEmpty { throw ValidationError("--report needs a directory") }
        guard othersLimit >= 0 else { throw ValidationError("--others-limit must be 0 or more, not \(othersLimit)") }
    }

    /// Runs `measure`, and again (at most twice more) while other work used more than `othersLimit` percent of a
    /// core during it; keeps the attempt with the least interference. Stops retrying once a stop was requested.
    /// - Parameters:
    ///   - measure: One measurement.
    ///   - others: Other work's CPU during a measurement, percent of one core.
    /// - Returns: The kept measurement, the attempts made, and whether every attempt was over the limit.
    /// - Throws: What `measure` throws.
    func leastContended<S>(
        _ measure: () async throws -> S, others: (S) -> Double
    ) async throws -> (value: S, attempts: Int, contended: Bool) {
        var best = try await measure()
        var attempts = 1
        while others(best) > othersLimit && attempts < 3 && !BenchInterrupt.requested {
            if !quiet {
                printError("bench: other work used \(NumberText.fixed(others(best), 0))% of a core; measuring again")
            }
            let again = try await measure()
            attempts += 1
            if others(again) < others(best) { best = again }
        }
        return (best, attempts, others(best) > othersLimit)
    }

    /// The measurement time.
    var measureDuration: Duration { .milliseconds(Int64(duration * 1000)) }

    /// Prints `document` (JSON) or `table` on standard output and writes the report when asked.
    /// - Throws: Encoding or file-system errors.
    func emit<Point: Codable & Sendable>(
        _ document: BenchDocument<Point>, table: TextTable, charts: [NamedChart], title: String
    ) throws {
        var document = document
        if BenchInterrupt.requested {
            document.interrupted = true
            document.notes.append("Interrupted: only the points with runs finished before the signal are included.")
        }
        let jsonText = try benchJSON(document)
        if json {
            print(jsonText)
        } else {
            print(table.render(), terminator: "")
        }
        if let report {
            let page = HTMLReport(
                title: title, command: document.command, machine: document.machine, startedAt: document.startedAt,
                notes: document.notes, table: table, charts: charts, json: jsonText)
            let path = try page.write(to: report)
            if !quiet { printError("bench: report written to \(path)") }
        }
        if let code = BenchInterrupt.exitCode { throw code }
    }
}

/// The benchmark's JSON: pretty, sorted keys, no escaped slashes.
/// - Throws: Encoding errors.
func benchJSON<T: Encodable>(_ value: T) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(
        positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}

/// The command line as typed, quoted where needed, for reports.
var benchCommandLine: String {
    CommandLine.arguments.enumerated().map { index, argument in
        let word = index == 0 ? "shardlog" : argument
        let plain = word.allSatisfy { $0.isLetter || $0.isNumber || "-_.,=/:@".contains($0) }
        return plain && !word.isEmpty ? word : "'" + word.replacingOccurrences(of: "'", with: #"'\''"#) + "'"
    }.joined(separator: " ")
}

/// A comma-separated list argument: `--shards 1,2,4`.
struct CommaSeparated<Element: LosslessStringConvertible & Sendable & Equatable>: ExpressibleByArgument, Sendable,
    Equatable, CustomStringConvertible
{
    /// The values in the order given.
    var values: [Element]

    /// A list of values.
    init(_ values: [Element]) {
        self.values = values
    }

    /// Parses `1,2,4` (spaces allowed); nil when any item does not parse or the list is empty.
    init?(argument: String) {
        let items = argument.split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        var values: [Element] = []
        for item in items {
            guard let value = Element(item) else { return nil }
            values.append(value)
        }
        guard !values.isEmpty else { return nil }
        self.values = values
    }

    /// `1,2,4`.
    var description: String { values.map(\.description).joined(separator: ",") }

    /// How the default value is shown in help.
    var defaultValueDescription: String { description }
}

/// Validation shared by the workloads.
enum BenchValidation {
    /// Throws unless every value lies in `range`.
    static func require<T: Comparable & CustomStringConvertible>(
        _ values: [T], in range: ClosedRange<T>, _ option: String
    ) throws {
        for value in values where !range.contains(value) {
            throw ValidationError(
                "\(option) values must be between \(range.lowerBound) and \(range.upperBound), not \(value)")
        }
        guard Set(values.map(\.description)).count == values.count else {
            throw ValidationError("\(option) lists a value twice")
        }
    }

    /// Parses durability names.
    static func durabilities(_ names: [String]) throws -> [Durability] {
        try names.map { name in
            guard let durability = Durability(rawValue: name) else {
                throw ValidationError("--durability values must be none, interval or always, not '\(name)'")
            }
            return durability
        }
    }

    /// Throws unless `recordSize` is a valid record size of at least `minimum` bytes.
    static func recordSize(_ recordSize: Int, minimum: Int) throws {
        guard (minimum...Limits.recordByteCount - 256).contains(recordSize) else {
            throw ValidationError(
                "--record-size must be between \(minimum) and \(Limits.recordByteCount - 256) bytes, not \(recordSize)")
        }
    }
}

extension PayloadKind: ExpressibleByArgument {}
extension KeyMode: ExpressibleByArgument {}

/// `on` / `off`.
enum Toggle: String, ExpressibleByArgument, CaseIterable, Codable, Sendable {
    /// Enabled.
    case on
    /// Disabled.
    case off

    /// Whether it is on.
    var isOn: Bool { self == .on }
}

/// A benchmark that could not produce a valid measurement.
struct BenchError: Error, CustomStringConvertible {
    /// What went wrong and what to do.
    var description: String

    /// An error with `description`.
    init(_ description: String) {
        self.description = description
    }
}
