import Foundation
import ShardLog
import ShardLogClient
import ShardLogWire

/// A stream read through the Kinesis Data Streams JSON API of an endpoint: another `shardlog serve`, moto, or
/// Amazon Kinesis (SigV4 with `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN`; dummy credentials
/// when none are set).
///
/// Uses `ListShards`, `DescribeStreamSummary`, `GetShardIterator` and `GetRecords`. Each shard is polled at most
/// about five times a second while idle; an expired iterator is renewed after the last record read;
/// throughput and limit errors are retried with back-off. Records keep the endpoint's sequence numbers
/// (``Record/sourceSequenceNumber``), which the mapping checkpoints locally. Thread-safety: immutable.
package struct KinesisSource: StreamSource {
    /// The endpoint, e.g. `http://127.0.0.1:4567` or `https://kinesis.eu-west-1.amazonaws.com`.
    package let endpoint: URL
    /// The stream name or ARN given.
    package let stream: String
    /// The signing region.
    package let region: String
    private let client: KinesisClient

    /// Creates a source.
    /// - Parameters:
    ///   - endpoint: the endpoint URL (`http` or `https`).
    ///   - stream: the remote stream's name or ARN.
    ///   - environment: where credentials and `AWS_REGION`/`AWS_DEFAULT_REGION` are read.
    /// - Throws: ``MappingError/Code/invalidParameter`` for an endpoint that is not an http(s) URL.
    package init(
        endpoint: String, stream: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(MappingError) {
        do {
            self.init(client: try KinesisClient(endpoint: endpoint, environment: environment), stream: stream)
        } catch {
            throw MappingError(code: .invalidParameter, message: "--source-endpoint \(error)")
        }
    }

    /// Creates a source reading `stream` through `client` (the CLI's `--endpoint-url` client).
    package init(client: KinesisClient, stream: String) {
        self.client = client
        self.endpoint = client.endpoint
        self.stream = stream
        self.region = client.region
    }

    /// The stream's name (that of a stream's or a consumer's ARN).
    package var streamName: String {
        guard stream.hasPrefix("arn:") else { return stream }
        if let arn = try? StreamARN(parsing: stream) { return arn.streamName }
        if let consumer = try? ConsumerARN(parsing: stream) { return consumer.stream.streamName }
        return stream
    }

    /// Starting positions are applied when a shard is opened.
    package var resolvesStartingPositions: Bool { false }

    private var streamKey: (String, String) {
        stream.hasPrefix("arn:") ? ("StreamARN", stream) : ("StreamName", stream)
    }

    /// The stream's ARN, from `DescribeStreamSummary`.
    /// - Throws: the endpoint's error (``KinesisServiceError``, ``KinesisTransportError``).
    package func streamARN() async throws -> String {
        if stream.hasPrefix("arn:") { return stream }
        let response = try await client.call("DescribeStreamSummary", [streamKey.0: .string(stream)])
        if let arn = response["StreamDescriptionSummary"]?["StreamARN"]?.stringValue { return arn }
        return StreamARN(region: region, account: "000000000000", streamName: stream).description
    }

    /// Every shard, from `ListShards` (all pages).
    /// - Throws: the endpoint's error (``KinesisServiceError``, ``KinesisTransportError``), or
    ///   ``KinesisClientError`` for an answer that does not describe shards.
    package func shards() async throws -> [ShardDescription] {
        try await client.listShards(streamKey: streamKey)
    }

    /// Always `nil`: positions are applied when the shard is opened.
    package func checkpoint(shardId: String, position: IteratorPosition) async throws -> String? {
        nil
    }

    /// Gets a shard iterator at `position`.
    /// - Throws: ``MappingError`` when the endpoint fails.
    package func openShard(shardId: String, position: IteratorPosition, checkpoint: String?) async throws
        -> any ShardSource
    {
        let reader = KinesisShardSource(
            client: client, streamKey: streamKey, shardId: shardId, position: position, checkpoint: checkpoint)
        try await reader.renewIterator()
        return reader
    }
}

/// Reads one remote shard: ordinal 0 is the starting checkpoint, records get 1, 2, …
final class KinesisShardSource: ShardSource {
    /// The pause after a read that found nothing at the tip: at most about five reads a second.
    static let idlePause = Duration.milliseconds(200)

    private let client: KinesisClient
    private let streamKey: (String, String)
    private let shardId: String
    private let shardIndex: Int
    private let position: IteratorPosition
    private let checkpoint: String?
    private var iterator: String?
    private var lastSequenceNumber: String?
    private var ended = false
    private var quietUntil: ContinuousClock.Instant?
    private var read = FIFO<(ordinal: UInt64, sequenceNumber: String)>()
    private var answered: (ordinal: UInt64, sequenceNumber: String?)

    private(set) var nextOrdinal: UInt64 = 1

    init(
        client: KinesisClient, streamKey: (String, String), shardId: String, position: IteratorPosition,
        checkpoint: String?
    ) {
        self.client = client
        self.streamKey = streamKey
        self.shardId = shardId
        self.shardIndex = (try? ShardID.index(shardId)) ?? 0
        self.position = position
        self.checkpoint = checkpoint
        self.answered = (0, checkpoint)
    }

    /// Gets a new iterator: after the last record read, or at the starting position.
    func renewIterator() async throws {
        var body: [String: JSON] = [streamKey.0: .string(streamKey.1), "ShardId": .string(shardId)]
        let start: IteratorPosition = lastSequenceNumber.map { .afterSequenceNumber($0) } ?? position
        switch start {
        case .trimHorizon:
            body["ShardIteratorType"] = .string("TRIM_HORIZON")
        case .latest:
            body["ShardIteratorType"] = .string("LATEST")
        case .atSequenceNumber(let s):
            body["ShardIteratorType"] = .string("AT_SEQUENCE_NUMBER")
            body["StartingSequenceNumber"] = .string(s)
        case .afterSequenceNumber(let s):
            body["ShardIteratorType"] = .string("AFTER_SEQUENCE_NUMBER")
            body["StartingSequenceNumber"] = .string(s)
        case .atTimestamp(let date):
            body["ShardIteratorType"] = .string("AT_TIMESTAMP")
            body["Timestamp"] = .number(date.timeIntervalSince1970)
        }
        let response = try await client.call("GetShardIterator", body)
        guard case .string(let iterator) = response["ShardIterator"] else {
            throw MappingError(code: .io, message: "GetShardIterator for \(shardId) returned no ShardIterator")
        }
        self.iterator = iterator
    }

    func read(limit: Int) async throws -> ShardRead {
        guard !ended, let iterator else { return .ended }
        if let quietUntil, ContinuousClock.now < quietUntil { return .caughtUp }
        quietUntil = nil
        let response: JSON
        do {
            response = try await client.call(
                "GetRecords", ["ShardIterator": .string(iterator), "Limit": .integer(min(max(limit, 1), 10_000))])
        } catch let error as KinesisServiceError where error.type == "ExpiredIteratorException" {
            try await renewIterator()
            return .records([])
        }
        let entries = response["Records"]?.arrayValue ?? []
        var records: [Record] = []
        records.reserveCapacity(entries.count)
        for entry in entries {
            guard let sequenceNumber = entry["SequenceNumber"]?.stringValue,
                let partitionKey = entry["PartitionKey"]?.stringValue,
                let data = entry["Data"]?.stringValue.flatMap(Base64Text.decode)
            else {
                throw KinesisClientError.malformedAnswer(
                    operation: "GetRecords", reason: "a record of \(shardId) lacks SequenceNumber, PartitionKey or Data"
                )
            }
            let ordinal = nextOrdinal
            nextOrdinal += 1
            read.append((ordinal, sequenceNumber))
            lastSequenceNumber = sequenceNumber
            let arrival = entry["ApproximateArrivalTimestamp"]?.doubleValue ?? 0
            records.append(
                Record(
                    sequence: SequenceNumber(shardIndex: shardIndex, offset: ordinal),
                    partitionKey: partitionKey, data: data, arrivalMilliseconds: Int64((arrival * 1000).rounded()),
                    sourceSequenceNumber: sequenceNumber))
        }
        let next = response["NextShardIterator"]?.stringValue
        let millisBehindLatest = response["MillisBehindLatest"]?.intValue ?? 0
        self.iterator = next
        if next == nil {
            ended = true
            return records.isEmpty ? .ended : .records(records)
        }
        if records.isEmpty && millisBehindLatest == 0 {
            quietUntil = ContinuousClock.now.advanced(by: Self.idlePause)
            return .caughtUp
        }
        return .records(records)
    }

    func sequenceNumber(ordinal: UInt64) -> String? {
        if ordinal == answered.ordinal { return answered.sequenceNumber }
        while let first = read.first, first.ordinal < ordinal {
            read.removeFirst()
        }
        if let first = read.first, first.ordinal == ordinal {
            answered = (ordinal, first.sequenceNumber)
        }
        return answered.sequenceNumber
    }
}
