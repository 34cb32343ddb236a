import Crypto
import Foundation
import ShardLog
import ShardLogWire

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

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
        guard let url = URL(string: endpoint), let scheme = url.scheme?.lowercased(),
            scheme == "http" || scheme == "https", url.host != nil
        else {
            throw MappingError(
                code: .invalidParameter,
                message: "--source-endpoint '\(endpoint)' is not an http:// or https:// URL")
        }
        self.endpoint = url
        self.stream = stream
        let host = url.host ?? ""
        let fromHost: String? =
            host.hasPrefix("kinesis.") && host.hasSuffix(".amazonaws.com")
            ? host.split(separator: ".").dropFirst().first.map(String.init) : nil
        let region = environment["AWS_REGION"] ?? environment["AWS_DEFAULT_REGION"] ?? fromHost ?? "us-east-1"
        self.region = region
        let signer = SigV4Signer(
            accessKeyId: environment["AWS_ACCESS_KEY_ID"] ?? "AKIDSHARDLOGDUMMY",
            secretAccessKey: environment["AWS_SECRET_ACCESS_KEY"] ?? "shardlog-dummy-secret",
            sessionToken: environment["AWS_SESSION_TOKEN"], region: region, service: "kinesis")
        self.client = KinesisClient(endpoint: url, signer: signer)
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
    /// - Throws: ``MappingError`` when the endpoint fails.
    package func streamARN() async throws -> String {
        if stream.hasPrefix("arn:") { return stream }
        let response = try await client.call("DescribeStreamSummary", [streamKey.0: .string(stream)])
        if case .object(let summary) = response["StreamDescriptionSummary"],
            case .string(let arn) = summary["StreamARN"]
        {
            return arn
        }
        return "arn:aws:kinesis:\(region):000000000000:stream/\(stream)"
    }

    /// Every shard, from `ListShards` (all pages).
    /// - Throws: ``MappingError`` when the endpoint fails.
    package func shards() async throws -> [ShardDescription] {
        var shards: [ShardDescription] = []
        var body: [String: JSON] = [streamKey.0: .string(stream)]
        while true {
            let data = try await client.callData("ListShards", .object(body))
            let page = try JSONDecoder().decode(ListShardsPage.self, from: data)
            shards += page.shards
            guard let token = page.nextToken, !token.isEmpty else { return shards }
            body = ["NextToken": .string(token)]
        }
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

/// One page of `ListShards`.
private struct ListShardsPage: Decodable {
    var shards: [ShardDescription]
    var nextToken: String?

    enum CodingKeys: String, CodingKey {
        case shards = "Shards"
        case nextToken = "NextToken"
    }
}

/// One `GetRecords` response.
private struct GetRecordsResponse: Decodable {
    struct Entry: Decodable {
        var sequenceNumber: String
        var approximateArrivalTimestamp: Double?
        var data: String
        var partitionKey: String

        enum CodingKeys: String, CodingKey {
            case sequenceNumber = "SequenceNumber"
            case approximateArrivalTimestamp = "ApproximateArrivalTimestamp"
            case data = "Data"
            case partitionKey = "PartitionKey"
        }
    }

    var records: [Entry]
    var nextShardIterator: String?
    var millisBehindLatest: Int64?

    enum CodingKeys: String, CodingKey {
        case records = "Records"
        case nextShardIterator = "NextShardIterator"
        case millisBehindLatest = "MillisBehindLatest"
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
        let data: Data
        do {
            data = try await client.callData(
                "GetRecords",
                .object(["ShardIterator": .string(iterator), "Limit": .number(Double(min(max(limit, 1), 10_000)))]))
        } catch let error as KinesisServiceError where error.type == "ExpiredIteratorException" {
            try await renewIterator()
            return .records([])
        }
        let response = try JSONDecoder().decode(GetRecordsResponse.self, from: data)
        var records: [Record] = []
        records.reserveCapacity(response.records.count)
        for entry in response.records {
            let ordinal = nextOrdinal
            nextOrdinal += 1
            read.append((ordinal, entry.sequenceNumber))
            lastSequenceNumber = entry.sequenceNumber
            records.append(
                Record(
                    sequence: SequenceNumber(shardIndex: shardIndex, offset: ordinal),
                    partitionKey: entry.partitionKey, data: Array(Data(base64Encoded: entry.data) ?? Data()),
                    arrivalMilliseconds: Int64(((entry.approximateArrivalTimestamp ?? 0) * 1000).rounded()),
                    sourceSequenceNumber: entry.sequenceNumber))
        }
        self.iterator = response.nextShardIterator
        if response.nextShardIterator == nil {
            ended = true
            return records.isEmpty ? .ended : .records(records)
        }
        if records.isEmpty && (response.millisBehindLatest ?? 0) == 0 {
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

/// An error response of a Kinesis endpoint.
struct KinesisServiceError: Error, CustomStringConvertible {
    /// The exception name (`__type` without its namespace).
    var type: String
    var message: String
    var status: Int

    var description: String { "\(type) (HTTP \(status)): \(message)" }
}

/// Sends signed Kinesis JSON requests, retrying throttling, 5xx and connection errors with back-off.
struct KinesisClient: Sendable {
    let endpoint: URL
    let signer: SigV4Signer
    let session: URLSession

    init(endpoint: URL, signer: SigV4Signer) {
        self.endpoint = endpoint
        self.signer = signer
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 30
        self.session = URLSession(configuration: configuration)
    }

    /// Calls an operation and returns its JSON object.
    func call(_ operation: String, _ body: [String: JSON]) async throws -> [String: JSON] {
        let data = try await callData(operation, .object(body))
        guard case .object(let object) = try JSON(parsing: Array(data)) else { return [:] }
        return object
    }

    /// Calls an operation and returns the response body.
    /// - Throws: ``KinesisServiceError`` for an error response, after retries for throttling and server errors;
    ///   ``MappingError/Code/io`` when the endpoint cannot be reached.
    func callData(_ operation: String, _ body: JSON) async throws -> Data {
        let payload = Data(body.bytes)
        var delay = Duration.milliseconds(100)
        var attempt = 0
        while true {
            attempt += 1
            var request = URLRequest(url: endpoint)
            request.httpMethod = "POST"
            request.httpBody = payload
            let headers = [
                "Content-Type": "application/x-amz-json-1.1",
                "X-Amz-Target": "Kinesis_20131202.\(operation)",
            ]
            for (name, value) in signer.sign(url: endpoint, headers: headers, body: payload, date: Date()) {
                request.setValue(value, forHTTPHeaderField: name)
            }
            let retryable: any Error
            do {
                let (data, response) = try await session.data(for: request)
                let status = (response as? HTTPURLResponse)?.statusCode ?? 0
                if status == 200 { return data }
                let error = Self.serviceError(data: data, status: status)
                let throttled = [
                    "ProvisionedThroughputExceededException", "LimitExceededException", "ThrottlingException",
                ]
                guard throttled.contains(error.type) || status >= 500 else { throw error }
                retryable = error
            } catch let error as KinesisServiceError {
                throw error
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                retryable = MappingError(
                    code: .io, message: "cannot call \(operation) at \(endpoint.absoluteString): \(error)",
                    cause: error)
            }
            if attempt >= 10 { throw retryable }
            try await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(5))
        }
    }

    private static func serviceError(data: Data, status: Int) -> KinesisServiceError {
        var type = "HTTP\(status)"
        var message = String(decoding: data.prefix(500), as: UTF8.self)
        if case .object(let object)? = try? JSON(parsing: Array(data)) {
            if case .string(let t) = object["__type"] {
                type = String(t.split(separator: "#").last ?? Substring(t))
            }
            if case .string(let m) = object["message"] ?? object["Message"] {
                message = m
            }
        }
        return KinesisServiceError(type: type, message: message, status: status)
    }
}
