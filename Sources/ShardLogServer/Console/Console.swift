import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ShardLog
import ShardLogMapping
import ShardLogWire
import Synchronization

/// The live console of `shardlog serve`: the page at `/` (``ConsolePage``) and the JSON it polls.
///
/// - `GET /console/api/overview`: every stream with its shards (hash ranges, lineage, records and bytes stored),
///   consumers and retention, and every mapping with its state, per-shard lag and counters. One request per second
///   covers the whole page whatever the number of shards; per-shard counts come from the server's ``ShardTotals``
///   (shared with `/metrics`), so a poll reads only the batch headers published since, and nothing of idle shards.
/// - `GET /console/api/records?stream=S&shard=ID&type=TRIM_HORIZON|LATEST|AT_SEQUENCE_NUMBER|AFTER_SEQUENCE_NUMBER|
///   AT_TIMESTAMP&sequenceNumber=N&timestamp=EPOCH_SECONDS&limit=25`: records with their data decoded (JSON, UTF-8
///   text, else base64); the type and its parameters follow GetShardIterator's rules and messages.
/// - `GET /console/api/failures?limit=10`: the newest entries of every mapping's on-failure destination, with the
///   discarded records decoded.
///
/// Every endpoint takes `scope=ACCOUNT/REGION` (one of the overview's `scopes`: the data directory's own account in
/// `us-east-1`, the default, and every account and region under `regions/`), and shows that account and region.
/// Thread-safety: safe from any thread.
final class Console: Sendable {
    private let regions: RegionalStores
    private let totals: ShardTotals

    /// Creates the console of every account and region in `regions`, reading per-shard totals through `totals`.
    init(regions: RegionalStores, totals: ShardTotals) {
        self.regions = regions
        self.totals = totals
    }

    /// `ACCOUNT/REGION` of a store.
    private static func scope(_ store: Store) -> String { store.options.accountId + "/" + store.options.region }

    /// The account and region named by the request's `scope` parameter (default: the data directory's own).
    /// - Throws: ``ConsoleRequestError`` for a scope that is not `ACCOUNT/REGION` of an existing store.
    func resources(_ q: Hummingbird.Parameters) throws -> RegionalResources {
        guard let text = q["scope"].map(String.init), !text.isEmpty, text != Self.scope(regions.root.store) else {
            return regions.root
        }
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2,
            RegionalStores.regionalDirectories(of: regions.root.store.directory).contains(where: {
                $0.account == parts[0] && $0.region == parts[1]
            })
        else {
            throw ConsoleRequestError("scope '\(text)' names no account and region of this server (ACCOUNT/REGION)")
        }
        do {
            return try regions.resources(for: RequestScope(account: parts[0], region: parts[1]))
        } catch {
            throw ConsoleRequestError("scope '\(text)': \(error)")
        }
    }

    /// Every account and region there is, the data directory's own first.
    func scopes() -> [String] {
        [Self.scope(regions.root.store)]
            + RegionalStores.regionalDirectories(of: regions.root.store.directory).map { $0.account + "/" + $0.region }
            .filter { $0 != Self.scope(regions.root.store) }
    }

    /// Adds the page and its endpoints to `router`.
    func register(on router: Router<KinesisRequestContext>) {
        router.get("/") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(string: ConsolePage.html)))
        }
        router.get("/console/api/overview") { [self] request, _ in
            do {
                return Self.json(overview(try resources(request.uri.queryParameters)))
            } catch {
                return Self.json(ConsoleError(message: "\(error)"), status: .badRequest)
            }
        }
        router.get("/console/api/records") { [self] request, _ in
            do {
                let q = request.uri.queryParameters
                return Self.json(try records(q, store: try resources(q).store))
            } catch {
                return Self.json(ConsoleError(message: "\(error)"), status: .badRequest)
            }
        }
        router.get("/console/api/failures") { [self] request, _ in
            let q = request.uri.queryParameters
            let limit = q["limit"].flatMap { Int($0) } ?? 10
            do {
                let store = try resources(q).store
                return Self.json(Failures(failures: failures(limit: min(max(limit, 1), 100), store: store)))
            } catch {
                return Self.json(ConsoleError(message: "\(error)"), status: .badRequest)
            }
        }
    }

    // MARK: - Overview

    struct Overview: Encodable {
        var time: String
        var dataDirectory: String
        /// `ACCOUNT/REGION` shown.
        var scope: String
        /// Every `ACCOUNT/REGION` there is.
        var scopes: [String]
        var streams: [StreamView]
        var mappings: [MappingView]
    }

    struct StreamView: Encodable {
        var name: String
        var arn: String
        var status: String
        var mode: String
        var retentionHours: Int
        var shards: [ShardView]
        var consumers: [ConsumerView]
    }

    struct ShardView: Encodable {
        var shardId: String
        var parentShardId: String?
        var adjacentParentShardId: String?
        var startingHashKey: String
        var endingHashKey: String
        var open: Bool
        var records: UInt64?
        var bytes: UInt64?
    }

    struct ConsumerView: Encodable {
        var name: String
        var status: String
    }

    struct MappingView: Encodable {
        var name: String
        var state: String
        var stream: String
        var function: String
        var lastProcessingResult: String?
        var invocations: Int?
        var functionErrors: Int?
        var partialFailures: Int?
        var discardedRecords: Int?
        var shards: [MappingShardView]
    }

    struct MappingShardView: Encodable {
        var shardId: String
        var recordsBehind: Int?
        var iteratorAgeMilliseconds: Int64
    }

    struct ConsoleError: Encodable {
        var message: String
    }

    func overview(_ resources: RegionalResources) -> Overview {
        let store = resources.store
        var streams: [StreamView] = []
        for name in (try? store.listStreams()) ?? [] {
            guard let stream = try? store.stream(named: name), let d = try? stream.describe() else { continue }
            var shards: [ShardView] = []
            for s in d.shards {
                let cursor = totals.totals(stream, shardId: s.shardId)
                shards.append(
                    ShardView(
                        shardId: s.shardId, parentShardId: s.parentShardId,
                        adjacentParentShardId: s.adjacentParentShardId,
                        startingHashKey: s.hashKeyRange.startingHashKey, endingHashKey: s.hashKeyRange.endingHashKey,
                        open: s.isOpen, records: cursor?.records, bytes: cursor?.payloadBytes))
            }
            streams.append(
                StreamView(
                    name: name, arn: d.streamARN, status: d.streamStatus,
                    mode: d.streamModeDetails.streamMode.rawValue, retentionHours: d.retentionPeriodHours,
                    shards: shards, consumers: consumers(of: name, resources.extras)))
        }
        return Overview(
            time: JSONTimestamp.iso8601(Date(), milliseconds: true), dataDirectory: store.directory,
            scope: Self.scope(store), scopes: scopes(), streams: streams, mappings: mappings(store))
    }

    func consumers(of stream: String, _ extras: StreamExtrasStore) -> [ConsumerView] {
        ((try? extras.load(stream))?.consumers ?? []).map { ConsumerView(name: $0.name, status: "ACTIVE") }
    }

    func mappings(_ store: Store) -> [MappingView] {
        MappingCatalog.names(store: store).map { name in
            let definition = try? MappingCatalog.definition(store: store, name: name)
            let status = try? MappingStatusFile.read(store: store, name: name)
            let metrics = status?.metrics
            let shards = (metrics?.shards ?? [:]).sorted { $0.key < $1.key }.map {
                MappingShardView(
                    shardId: $0.key, recordsBehind: $0.value.recordsBehind,
                    iteratorAgeMilliseconds: $0.value.iteratorAgeMilliseconds)
            }
            return MappingView(
                name: name, state: metrics?.running == true ? "Enabled" : "Stopped",
                stream: definition?.streamName ?? "?", function: definition?.handler ?? "?",
                lastProcessingResult: status?.lastProcessingResult, invocations: metrics?.invocations,
                functionErrors: metrics?.functionErrors, partialFailures: metrics?.partialFailures,
                discardedRecords: metrics?.discardedRecords, shards: shards)
        }
    }

    // MARK: - Records

    struct RecordView: Encodable {
        var sequenceNumber: String
        var partitionKey: String
        var approximateArrivalTimestamp: String
        /// `json` (``data`` is JSON text), `utf8` (text) or `base64`.
        var dataEncoding: String
        var data: String

        init(sequenceNumber: String, partitionKey: String, arrival: String, bytes: [UInt8]) {
            self.sequenceNumber = sequenceNumber
            self.partitionKey = partitionKey
            self.approximateArrivalTimestamp = arrival
            let decoded = DecodedData(bytes)
            self.dataEncoding = decoded.encoding
            self.data =
                decoded.encoding == "json"
                ? decoded.json : (try? JSONDecoder().decode(String.self, from: Data(decoded.json.utf8))) ?? ""
        }
    }

    struct Records: Encodable {
        var records: [RecordView]
        var nextSequenceNumber: String
    }

    func records(_ q: Hummingbird.Parameters, store: Store) throws -> Records {
        guard let name = q["stream"].map(String.init), !name.isEmpty else {
            throw ConsoleRequestError("the parameter 'stream' is missing")
        }
        guard let shard = q["shard"].map(String.init), !shard.isEmpty else {
            throw ConsoleRequestError("the parameter 'shard' is missing")
        }
        let limit = min(max(q["limit"].flatMap { Int($0) } ?? 25, 1), 1000)
        let sequence = q["sequenceNumber"].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
        var timestamp: Date?
        if let text = q["timestamp"].map(String.init), !text.isEmpty {
            guard let seconds = Double(text) else {
                throw ConsoleRequestError("the parameter 'timestamp' must be epoch seconds, not '\(text)'")
            }
            timestamp = Date(timeIntervalSince1970: seconds)
        }
        let position: IteratorPosition
        do {
            position = try KinesisServer.position(
                type: q["type"].map(String.init) ?? "TRIM_HORIZON", sequenceNumber: sequence, timestamp: timestamp)
        } catch {
            throw ConsoleRequestError(error.message)
        }
        var iterator = try store.stream(named: name).iterator(shardId: shard, position: position)
        let records = try iterator.next(limit: limit, maxBytes: 4 << 20)
        return Records(
            records: records.map {
                RecordView(
                    sequenceNumber: $0.sequenceNumber, partitionKey: $0.partitionKey,
                    arrival: JSONTimestamp.iso8601($0.approximateArrivalTimestamp, milliseconds: true), bytes: $0.data)
            }, nextSequenceNumber: iterator.nextSequenceNumber)
    }

    // MARK: - Failures

    struct Failures: Encodable {
        var failures: [FailureView]
    }

    struct FailureView: Encodable {
        var mapping: String
        var timestamp: String
        var condition: String
        var shardId: String
        var startSequenceNumber: String
        var endSequenceNumber: String
        var batchSize: Int
        var lastError: LastErrorView?
        var records: [RecordView]
    }

    struct LastErrorView: Encodable {
        var errorType: String
        var errorMessage: String
    }

    /// The newest `limit` entries over all mappings' destinations, newest first.
    func failures(limit: Int, store: Store) -> [FailureView] {
        var all: [FailureView] = []
        for name in MappingCatalog.names(store: store) {
            guard let definition = try? MappingCatalog.definition(store: store, name: name),
                let text = definition.onFailure, let destination = try? FailureDestination(parsing: text)
            else { continue }
            for document in newestEntries(destination, limit: limit, store: store) {
                if let view = Self.failureView(document, mapping: name) { all.append(view) }
            }
        }
        return Array(all.sorted { $0.timestamp > $1.timestamp }.prefix(limit))
    }

    /// The newest `limit` JSON documents of a destination (a file's last lines, or a stream's newest records).
    func newestEntries(_ destination: FailureDestination, limit: Int, store: Store) -> [[UInt8]] {
        switch destination {
        case .file(let path):
            guard let handle = FileHandle(forReadingAtPath: path) else { return [] }
            defer { try? handle.close() }
            let size = (try? handle.seekToEnd()) ?? 0
            let window: UInt64 = 4 << 20
            try? handle.seek(toOffset: size > window ? size - window : 0)
            let tail = [UInt8]((try? handle.readToEnd()) ?? Data())
            let lines = tail.split(separator: UInt8(ascii: "\n")).map(Array.init)
            return Array(lines.suffix(limit))
        case .stream(let name):
            guard let stream = try? store.stream(named: name), let d = try? stream.describe() else { return [] }
            var documents: [[UInt8]] = []
            for shard in d.shards {
                guard let tip = try? stream.iterator(shardId: shard.shardId, position: .latest),
                    let start = try? stream.iterator(shardId: shard.shardId, position: .trimHorizon)
                else { continue }
                let from = max(start.offset, tip.offset > UInt64(limit) ? tip.offset - UInt64(limit) : 0)
                guard from < tip.offset else { continue }
                let sequence = SequenceNumber(shardIndex: tip.shardIndex, offset: from).description
                guard var it = try? stream.iterator(shardId: shard.shardId, position: .atSequenceNumber(sequence)),
                    let records = try? it.next(limit: limit, maxBytes: 16 << 20)
                else { continue }
                documents += records.map(\.data)
            }
            return documents
        }
    }

    /// The view of one on-failure record (Lambda's invocation record, as ``ShardLogMapping/InvocationRecord`` writes
    /// it), or `nil` when `document` is not one.
    static func failureView(_ document: [UInt8], mapping: String) -> FailureView? {
        guard let object = try? JSON(parsing: document), let info = object["KinesisBatchInfo"], info["shardId"] != nil
        else { return nil }
        func text(_ value: JSON?) -> String { value?.stringValue ?? "" }
        let lastError = object["lastError"].map {
            LastErrorView(errorType: text($0["errorType"]), errorMessage: text($0["errorMessage"]))
        }
        let records = (object["records"]?.arrayValue ?? []).compactMap { element -> RecordView? in
            guard let k = element["kinesis"] else { return nil }
            let data = k["data"]?.stringValue.flatMap { Data(base64Encoded: $0) }.map { [UInt8]($0) } ?? []
            let arrival = k["approximateArrivalTimestamp"]?.doubleValue.map {
                JSONTimestamp.iso8601(Date(timeIntervalSince1970: $0), milliseconds: true)
            }
            return RecordView(
                sequenceNumber: text(k["sequenceNumber"]), partitionKey: text(k["partitionKey"]),
                arrival: arrival ?? "", bytes: data)
        }
        return FailureView(
            mapping: mapping, timestamp: text(object["timestamp"]),
            condition: text(object["requestContext"]?["condition"]), shardId: text(info["shardId"]),
            startSequenceNumber: text(info["startSequenceNumber"]), endSequenceNumber: text(info["endSequenceNumber"]),
            batchSize: info["batchSize"]?.intValue ?? records.count, lastError: lastError, records: records)
    }

    // MARK: - Encoding

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let bytes = (try? encoder.encode(value)) ?? Data(#"{"message":"cannot encode"}"#.utf8)
        return Response(
            status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

/// A console request with a missing or bad parameter (answered 400 with this message).
struct ConsoleRequestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
