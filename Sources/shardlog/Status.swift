import ArgumentParser
import Foundation
import ShardLog
import ShardLogMapping
import ShardLogWire

/// `shardlog status [--watch]`: streams, their shards and the mappings reading them, with lag, on one screen.
struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show streams, shards and mappings with their lag on one screen.",
        discussion: """
            Lag (records behind, iterator age) is the mapping's own last report in mappings/NAME/status.json when \
            it has one, else computed from its checkpoints. A stream with more shards than --shard-rows shows the \
            shards most behind and one line for the rest.
            """)

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Redraw every --interval seconds until interrupted.") var watch = false
    @Option(help: "Seconds between redraws with --watch (default 1).") var interval: Double = 1
    @Option(help: "Most shard rows per stream before the compact form (default 20).") var shardRows: Int = 20

    func validate() throws {
        guard interval >= 0.1, interval <= 3600 else {
            throw ValidationError("--interval \(interval) is out of range: 0.1 to 3600 seconds")
        }
        guard shardRows >= 1 else { throw ValidationError("--shard-rows must be at least 1") }
    }

    func run() async throws {
        let store = try global.open()
        guard watch else {
            print(try StatusScreen.render(store: store, shardRows: shardRows), terminator: "")
            return
        }
        while !Task.isCancelled {
            let text = try StatusScreen.render(store: store, shardRows: shardRows)
            // Home, clear: a full redraw each time.
            FileHandle.standardOutput.write(Data(("\u{1B}[H\u{1B}[2J" + text).utf8))
            try await Task.sleep(for: .milliseconds(Int(interval * 1000)))
        }
    }
}

/// One shard of a mapping as `status` and `mappings describe` show it.
struct MappingShardView: Encodable, Equatable {
    /// Whether the shard is closed and fully handled.
    var finished: Bool
    /// The checkpoint: the last handled sequence number.
    var sequenceNumber: String?
    /// Records written and not yet handled.
    var recordsBehind: Int?
    /// The age of the last handled record (from the mapping's report only).
    var iteratorAgeMilliseconds: Int64?

    enum CodingKeys: String, CodingKey {
        case finished = "Finished"
        case sequenceNumber = "SequenceNumber"
        case recordsBehind = "RecordsBehind"
        case iteratorAgeMilliseconds = "IteratorAgeMilliseconds"
    }
}

/// A mapping's definition, checkpoints and last report, read from `mappings/NAME/`.
struct MappingView {
    /// A report older than this is from a process that no longer runs (a running mapping rewrites it every 5 s).
    static let staleAfter: TimeInterval = 15

    var name: String
    var definition: MappingDefinition?
    var checkpoints: CheckpointFile?
    var status: MappingStatusFile?
    var shards: [String: MappingShardView] = [:]

    /// The stream read.
    var streamName: String? { definition?.streamName ?? checkpoints?.streamName ?? status?.metrics?.streamName }

    /// `running`, `stopped`, `not running` (its process stopped reporting) or `never ran`.
    var state: String {
        guard let status else { return checkpoints == nil ? "never ran" : "stopped" }
        guard let metrics = status.metrics else { return "stopped" }
        guard metrics.running else { return "stopped" }
        let iso = ISO8601DateFormatter()
        iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        guard let at = iso.date(from: status.updatedAt) else { return "running" }
        return Date().timeIntervalSince(at) > Self.staleAfter ? "not running" : "running"
    }

    /// Records behind summed over shards, if known for every shard.
    var recordsBehind: Int? {
        let values = shards.values.map(\.recordsBehind)
        guard !values.contains(where: { $0 == nil }) else { return nil }
        return values.compactMap { $0 }.reduce(0, +)
    }

    /// The largest iterator age over shards.
    var maxIteratorAgeMilliseconds: Int64? { shards.values.compactMap(\.iteratorAgeMilliseconds).max() }

    /// Reads mapping `name`; `stream` (when given, the stream it reads) computes records behind from checkpoints
    /// for shards the mapping's report does not cover.
    /// - Throws: ``MappingError`` for a file that cannot be read.
    static func load(store: Store, name: String, stream: DataStream?) throws -> MappingView {
        var view = MappingView(
            name: name, definition: try MappingCatalog.definition(store: store, name: name),
            checkpoints: try MappingCatalog.checkpoints(store: store, name: name),
            status: try MappingStatusFile.read(store: store, name: name))
        // The report's records behind holds while the mapping runs; once stopped, records written since count too.
        let reported = view.status?.metrics?.shards ?? [:]
        let live = view.state == "running"
        let ids = Set((view.checkpoints?.shards ?? [:]).keys).union(reported.keys)
        for id in ids {
            let checkpoint = view.checkpoints?.shards[id]
            var row = MappingShardView(
                finished: checkpoint?.finished ?? false, sequenceNumber: checkpoint?.sequenceNumber,
                recordsBehind: live ? reported[id]?.recordsBehind : nil,
                iteratorAgeMilliseconds: reported[id]?.iteratorAgeMilliseconds)
            if row.recordsBehind == nil, let stream {
                row.recordsBehind = Self.recordsBehind(stream: stream, shardId: id, checkpoint: checkpoint)
            }
            if row.finished { row.recordsBehind = 0 }
            view.shards[id] = row
        }
        return view
    }

    /// Records between the checkpoint and the shard's tip (from the trim horizon without a checkpoint).
    static func recordsBehind(stream: DataStream, shardId: String, checkpoint: ShardCheckpoint?) -> Int? {
        guard let tip = try? stream.iterator(shardId: shardId, position: .latest).offset else { return nil }
        let next =
            checkpoint?.sequenceNumber.flatMap { try? SequenceNumber(parsing: $0) }.map { $0.offset + 1 }
            ?? (try? stream.iterator(shardId: shardId, position: .trimHorizon).offset)
        guard let next else { return nil }
        return Int(clamping: tip > next ? tip - next : 0)
    }
}

/// The text of `shardlog status`.
enum StatusScreen {
    /// Renders the whole screen.
    /// - Parameter shardRows: The most shard rows per stream; above it, the shards most behind and a summary line.
    /// - Throws: `ShardLogError` when the store cannot be listed.
    static func render(store: Store, shardRows: Int) throws -> String {
        let streamNames = try store.listStreams()
        var streams: [String: (DataStream, StreamDescription)] = [:]
        for name in streamNames {
            if let s = try? store.stream(named: name), let d = try? s.describe() { streams[name] = (s, d) }
        }
        var mappings: [MappingView] = []
        for name in MappingCatalog.names(store: store) {
            let stream =
                (try? MappingCatalog.definition(store: store, name: name))??.streamName
                ?? (try? MappingCatalog.checkpoints(store: store, name: name))??.streamName
            if let view = try? MappingView.load(store: store, name: name, stream: stream.flatMap { streams[$0]?.0 }) {
                mappings.append(view)
            }
        }
        var out = "shardlog status  \(store.directory)  \(JSONTimestamp.iso8601(Date(), milliseconds: false))\n\n"
        var tips: [String: [String: UInt64]] = [:]
        var rows: [[String]] = [["STREAM", "SHARDS", "OPEN", "RETENTION", "RECORDS"]]
        for name in streamNames {
            guard let (stream, d) = streams[name] else {
                rows.append([name, "?", "?", "?", "unreadable"])
                continue
            }
            var perShard: [String: UInt64] = [:]
            for shard in d.shards {
                perShard[shard.shardId] = (try? stream.iterator(shardId: shard.shardId, position: .latest).offset) ?? 0
            }
            tips[name] = perShard
            rows.append([
                name, String(d.shards.count), String(d.openShards.count), "\(d.retentionPeriodHours) h",
                String(perShard.values.reduce(0, +)),
            ])
        }
        out += streamNames.isEmpty ? "no streams\n" : Table.render(rows)
        out += "\n"
        rows = [["MAPPING", "STREAM", "STATE", "INVOCATIONS", "ERRORS", "BEHIND", "MAX AGE", "LAST RESULT"]]
        for m in mappings {
            let metrics = m.status?.metrics
            let errors = metrics.map { $0.functionErrors + $0.partialFailures + $0.serviceErrors }
            rows.append([
                m.name, m.streamName ?? "?", m.state, metrics.map { String($0.invocations) } ?? "-",
                errors.map(String.init) ?? "-", m.recordsBehind.map(String.init) ?? "?",
                m.maxIteratorAgeMilliseconds.map(Self.age) ?? "-",
                m.status?.lastProcessingResult ?? "No records processed",
            ])
        }
        out += mappings.isEmpty ? "no mappings\n" : Table.render(rows)
        for name in streamNames {
            guard let (_, d) = streams[name] else { continue }
            let readers = mappings.filter { $0.streamName == name }
            out += "\n" + shardTable(d, tips: tips[name] ?? [:], mappings: readers, limit: shardRows)
        }
        return out
    }

    /// The shards of one stream, with each mapping's lag; above `limit` shards, the most behind and a summary.
    static func shardTable(_ d: StreamDescription, tips: [String: UInt64], mappings: [MappingView], limit: Int)
        -> String
    {
        var header = ["SHARD", "STATE", "RECORDS"]
        for m in mappings { header += ["\(m.name) BEHIND", "AGE"] }
        func behind(_ id: String) -> Int { mappings.compactMap { $0.shards[id]?.recordsBehind }.max() ?? 0 }
        var shards = d.shards
        let compact = shards.count > limit
        if compact {
            shards = Array(
                shards.sorted { (behind($0.shardId), $1.shardId) > (behind($1.shardId), $0.shardId) }
                    .prefix(limit))
        }
        var rows = [header]
        for s in shards {
            var row = [s.shardId, s.isOpen ? "open" : "closed", String(tips[s.shardId] ?? 0)]
            for m in mappings {
                let v = m.shards[s.shardId]
                row += [v?.recordsBehind.map(String.init) ?? "-", v?.iteratorAgeMilliseconds.map(age) ?? "-"]
            }
            rows.append(row)
        }
        var out = "stream \(d.streamName): "
        out +=
            compact
            ? "\(d.shards.count) shards, the \(limit) most behind (--shard-rows to show more)\n"
            : "\(d.shards.count) shards\n"
        out += Table.render(rows)
        if compact {
            let shown = Set(shards.map(\.shardId))
            let rest = d.shards.filter { !shown.contains($0.shardId) }
            let records = rest.reduce(0) { $0 + (tips[$1.shardId] ?? 0) }
            let restBehind = rest.reduce(0) { $0 + behind($1.shardId) }
            out +=
                "… \(rest.count) more shards (\(rest.filter(\.isOpen).count) open): \(records) records, "
                + "\(restBehind) behind\n"
        }
        return out
    }

    /// `850 ms`, `12.3 s`, `4.0 min`, `2.5 h`.
    static func age(_ milliseconds: Int64) -> String {
        let ms = Double(milliseconds)
        if ms < 1000 { return "\(milliseconds) ms" }
        if ms < 60_000 { return String(format: "%.1f s", ms / 1000) }
        if ms < 3_600_000 { return String(format: "%.1f min", ms / 60_000) }
        return String(format: "%.1f h", ms / 3_600_000)
    }
}

/// Left-aligned text columns separated by two spaces.
enum Table {
    /// The rows as lines; the first row is the header.
    static func render(_ rows: [[String]]) -> String {
        let columns = rows.map(\.count).max() ?? 0
        var widths = Array(repeating: 0, count: columns)
        for row in rows {
            for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) }
        }
        var out = ""
        for row in rows {
            var line = ""
            for (i, cell) in row.enumerated() {
                line += i == row.count - 1 ? cell : cell.padding(toLength: widths[i] + 2, withPad: " ", startingAt: 0)
            }
            out += line + "\n"
        }
        return out
    }
}
