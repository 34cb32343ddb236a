import ArgumentParser
import Foundation
import ShardLog
import ShardLogMapping
import ShardLogWire

struct Get: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print records as JSON lines (Kinesis field names, data in base64; --decode: as JSON or text).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var remote: RemoteOptions
    @Argument var name: String
    @Option(help: "Read only this shard (default: every shard, parents before children).") var shard: String?
    @Option(help: "trim-horizon | latest | at:SEQ | after:SEQ | timestamp:ISO8601") var from: String = "trim-horizon"
    @Option(help: "Stop after N records.") var limit: Int?
    @Flag(help: "Keep waiting for new records.") var follow = false
    @Flag(
        help: ArgumentHelp(
            "Print data decoded: a JSON value as itself, UTF-8 text as a string, other bytes in base64.",
            discussion: "Each line then says which in \"dataEncoding\": json, utf8 or base64."))
    var decode = false

    func validate() throws {
        _ = try position()
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
    }

    func position() throws -> IteratorPosition {
        switch from {
        case "trim-horizon": return .trimHorizon
        case "latest": return .latest
        default:
            if from.hasPrefix("at:") { return .atSequenceNumber(String(from.dropFirst(3))) }
            if from.hasPrefix("after:") { return .afterSequenceNumber(String(from.dropFirst(6))) }
            if from.hasPrefix("timestamp:") {
                let text = String(from.dropFirst(10))
                let iso = ISO8601DateFormatter()
                iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
                if let d = iso.date(from: text) ?? ISO8601DateFormatter().date(from: text) { return .atTimestamp(d) }
                if let seconds = Double(text) { return .atTimestamp(Date(timeIntervalSince1970: seconds)) }
                throw ValidationError("--from timestamp:'\(text)' is not an ISO 8601 time or epoch seconds")
            }
            throw ValidationError(
                "--from '\(from)' must be trim-horizon, latest, at:SEQ, after:SEQ or timestamp:ISO8601")
        }
    }

    func run() async throws {
        if let client = try remote.client() {
            return try await RemoteStreamCommands.run(client) { try await runRemote(client) }
        }
        let stream = try global.open().stream(named: name)
        let start = try position()
        var remaining = limit ?? Int.max
        var iterators: [String: ShardIterator] = [:]
        var finished: Set<String> = []
        let out = FileHandle.standardOutput
        let doorbell = stream.doorbell
        var shards: [ShardDescription] = []
        var describedEpoch: UInt32?
        while remaining > 0 {
            // Taken before looking: an append from now on (any process) ends the wait below at once.
            let ticket = doorbell.streamTicket()
            // The shard list is read from disk only when it may have changed: at the start, and when the stream's
            // epoch moved (a reshard, a closed shard, a deletion, in any process). Reading it on every wake-up put
            // a locked metadata load between each append and its line. Without a doorbell it is read every time.
            let epoch = doorbell.epoch
            if describedEpoch != epoch || !doorbell.isWaking {
                shards = try stream.describe().shards
                describedEpoch = epoch
            }
            for (id, isChild) in Self.shardsToStart(shards, started: iterators, finished: finished, only: shard) {
                iterators[id] = try stream.iterator(shardId: id, position: isChild ? .trimHorizon : start)
            }
            var progressed = false
            for id in iterators.keys.sorted() {
                guard var it = iterators[id], remaining > 0 else { continue }
                let records = try it.next(limit: min(remaining, 1000))
                if !records.isEmpty {
                    progressed = true
                    var lines: [UInt8] = []
                    lines.reserveCapacity(records.count * 160)
                    for r in records { Self.appendLine(r, decode: decode, to: &lines) }
                    out.write(Data(lines))
                    remaining -= records.count
                }
                if records.isEmpty, try it.isAtShardEnd() {
                    finished.insert(id)
                    iterators[id] = nil
                    progressed = true
                } else {
                    iterators[id] = it
                }
            }
            if progressed { continue }
            if !follow { break }
            await doorbell.wait(for: ticket, timeout: StreamDoorbell.safetyNet)
        }
    }

    /// The shards to start reading now, parents before children: with `only`, that shard; otherwise each shard
    /// not started or finished whose parents (those still in `shards`) are finished. A child starts at its trim
    /// horizon (`isChild`), the others at `--from`.
    static func shardsToStart<Reader>(
        _ shards: [ShardDescription], started: [String: Reader], finished: Set<String>, only: String?
    ) -> [(shardId: String, isChild: Bool)] {
        let ids = Set(shards.map(\.shardId))
        var out: [(shardId: String, isChild: Bool)] = []
        for s in shards where started[s.shardId] == nil && !finished.contains(s.shardId) {
            if let only, only != s.shardId { continue }
            let parents = [s.parentShardId, s.adjacentParentShardId].compactMap { $0 }.filter(ids.contains)
            if only == nil && !parents.allSatisfy(finished.contains) { continue }
            out.append((s.shardId, only == nil && !parents.isEmpty))
        }
        return out
    }

    /// One record as a JSON line; with `decode`, `data` is the record's JSON value (a JSON document, compacted) or
    /// its UTF-8 text as a string, else base64, and `dataEncoding` says which (`json`, `utf8`, `base64`).
    static func line(_ r: Record, decode: Bool = false) -> String {
        var out: [UInt8] = []
        appendLine(r, decode: decode, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends ``line(_:decode:)`` of `r` to `out`, without intermediate strings or `printf` formatting (`get`
    /// prints millions of lines; formatting them as strings made it about 20 times slower than `put`).
    static func appendLine(_ r: Record, decode: Bool, to out: inout [UInt8]) {
        out.append(contentsOf: #"{"shardId":""#.utf8)
        out.append(contentsOf: r.shardId.utf8)
        out.append(contentsOf: #"","sequenceNumber":""#.utf8)
        out.append(contentsOf: r.sequenceNumber.utf8)
        out.append(contentsOf: #"","partitionKey":"#.utf8)
        out.appendJSONString(r.partitionKey)
        out.append(contentsOf: #","approximateArrivalTimestamp":"#.utf8)
        JSONTimestamp.appendEpochSeconds(milliseconds: r.arrivalMilliseconds, to: &out)
        out.append(contentsOf: #","data":"#.utf8)
        if decode {
            let data = DecodedData(r.data)
            out.append(contentsOf: data.json.utf8)
            out.append(contentsOf: #","dataEncoding":""#.utf8)
            out.append(contentsOf: data.encoding.utf8)
        } else {
            out.append(UInt8(ascii: "\""))
            out.appendBase64(r.data)
        }
        out.append(contentsOf: "\"}\n".utf8)
    }
}
