import ArgumentParser
import Foundation
import ShardLogServer

/// `shardlog logs FUNCTION [--follow] [--since 10m]`: prints a deployed function's log, as `aws logs tail` would.
struct Logs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the log of a function deployed with `aws lambda create-function` (its output, START/END/"
            + "REPORT lines and failed invocations' errorType, errorMessage and stackTrace with request id).")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The function's name.") var function: String
    @Flag(name: .shortAndLong, help: "Keep printing new lines as they are written (Ctrl-C to stop).")
    var follow = false
    @Option(help: "Only lines from this long ago on: 30s, 10m, 2h, 1d (default: everything).")
    var since: String?
    @Option(help: "The function's region, when functions of that name exist in several (default: the one there is).")
    var region: String?

    func validate() throws {
        if let since, Self.seconds(since) == nil {
            throw ValidationError("--since \(since) is not a duration: write e.g. 30s, 10m, 2h or 1d")
        }
    }

    func run() async throws {
        guard !function.contains("/"), !function.hasPrefix("."), let handle = try logFile() else {
            throw ValidationError(
                "function \(function) has no log in \(global.directory)/functions: deploy it with "
                    + "`aws lambda create-function` against `shardlog serve --data-dir \(global.directory)`")
        }
        defer { try? handle.close() }
        let cutoff = since.flatMap(Self.seconds).map { Date().addingTimeInterval(-$0) }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var pending: [UInt8] = []
        func emit(_ chunk: Data) {
            pending.append(contentsOf: chunk)
            var output = ""
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeSubrange(...newline)
                if let cutoff, let tab = line.firstIndex(of: "\t"),
                    let time = formatter.date(from: String(line[..<tab])), time < cutoff
                {
                    continue
                }
                output +=
                    line.replacingOccurrences(of: "\t", with: " ", options: [], range: line.range(of: "\t"))
                    + "\n"
            }
            if !output.isEmpty { FileHandle.standardOutput.write(Data(output.utf8)) }
        }
        emit(handle.readDataToEndOfFile())
        while follow {
            try await Task.sleep(for: .milliseconds(250))
            emit(handle.readDataToEndOfFile())
        }
    }

    /// The function's log: in the data directory's `functions/` (the server's own account in `us-east-1`), else in
    /// the one account and region under `regions/` that has the function (`--region` chooses among several).
    private func logFile() throws -> FileHandle? {
        var found: [(scope: String, path: String)] = [("", global.directory + "/functions/" + function + "/log")]
        for (account, region, directory) in RegionalStores.regionalDirectories(of: global.directory) {
            found.append((account + "/" + region, directory + "/functions/" + function + "/log"))
        }
        found = found.filter { FileManager.default.fileExists(atPath: $0.path) }
        if let region {
            found = found.filter { $0.scope.hasSuffix("/" + region) || ($0.scope.isEmpty && region == "us-east-1") }
        }
        guard found.count <= 1 else {
            throw ValidationError(
                "function \(function) exists in several regions (\(found.map { $0.scope.isEmpty ? "us-east-1" : $0.scope }.joined(separator: ", "))): "
                    + "choose one with --region")
        }
        return found.first.flatMap { FileHandle(forReadingAtPath: $0.path) }
    }

    /// Seconds in `30s`, `10m`, `2h`, `1d` (a bare number is seconds).
    static func seconds(_ text: String) -> Double? {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604_800]
        guard let last = text.last else { return nil }
        if let unit = units[last], let value = Double(text.dropLast()), value >= 0 { return value * unit }
        if let value = Double(text), value >= 0 { return value }
        return nil
    }
}
