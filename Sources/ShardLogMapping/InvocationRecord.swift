import Foundation
import ShardLogWire

/// The record sent to a mapping's on-failure destination when it discards a batch: Lambda's Kinesis invocation
/// record, plus the discarded records themselves.
///
/// Lambda sends only metadata (`KinesisBatchInfo`); ShardLog adds two documented extensions:
/// - `records`, each in the shape of an element of the Kinesis event's `Records` array, so a discarded batch can be
///   inspected and replayed without reading the stream;
/// - `lastError`, why the last invocation failed: `{"errorType":"TypeError","errorMessage":"boom"}` — the Runtime
///   API error body's fields, `ExecError` with an exec handler's exit status and standard error tail,
///   `Sandbox.Timedout`, `Runtime.ExitError` with the signal of a crash, `InvalidResponse` for a response that is
///   not valid JSON or names unknown items, `PartialBatchFailure` for reported items. Left out when no invocation
///   failed (records too old before their first invocation).
///
/// ``jsonBytes()`` writes sorted keys; timestamps are ISO 8601 UTC with milliseconds:
///
/// ```json
/// {"KinesisBatchInfo":{"approximateArrivalOfFirstRecord":"2019-11-14T00:38:04.835Z",…,"batchSize":500,
/// "endSequenceNumber":"…","shardId":"shardId-000000000001","startSequenceNumber":"…","streamArn":"…"},
/// "lastError":{"errorMessage":"boom","errorType":"TypeError"},"records":[…],
/// "requestContext":{"approximateInvokeCount":1,"condition":"RetryAttemptsExhausted","functionArn":"…",
/// "requestId":"…"},"responseContext":{"executedVersion":"$LATEST","functionError":"Unhandled",
/// "statusCode":200},"timestamp":"2019-11-14T00:38:06.021Z","version":"1.0"}
/// ```
public struct InvocationRecord: Encodable, Sendable, Equatable {
    /// Why the batch was discarded.
    public enum Condition: String, Encodable, Sendable, CaseIterable {
        /// `MaximumRetryAttempts` failed attempts were made.
        case retryAttemptsExhausted = "RetryAttemptsExhausted"
        /// A record was older than `MaximumRecordAgeInSeconds` before an invocation.
        case recordAgeExceeded = "RecordAgeExceeded"
    }

    /// `requestContext`: the last invocation.
    public struct RequestContext: Encodable, Sendable, Equatable {
        /// The id of the last invocation.
        public var requestId: String
        /// The function's ARN.
        public var functionArn: String
        /// Why the batch was discarded.
        public var condition: Condition
        /// How many times the batch was invoked.
        public var approximateInvokeCount: Int

        /// Creates a request context.
        /// - Parameters:
        ///   - requestId: The id of the last invocation.
        ///   - functionArn: The function's ARN.
        ///   - condition: Why the batch was discarded.
        ///   - approximateInvokeCount: How many times the batch was invoked.
        public init(requestId: String, functionArn: String, condition: Condition, approximateInvokeCount: Int) {
            self.requestId = requestId
            self.functionArn = functionArn
            self.condition = condition
            self.approximateInvokeCount = approximateInvokeCount
        }
    }

    /// `lastError`: why the last invocation failed (a ShardLog extension).
    public struct LastError: Encodable, Sendable, Equatable, CustomStringConvertible {
        /// The error's type: `TypeError`, `ExecError`, `Sandbox.Timedout`, `Runtime.ExitError`, ….
        public var errorType: String
        /// The error's message.
        public var errorMessage: String

        /// Creates an error.
        /// - Parameters:
        ///   - errorType: The type.
        ///   - errorMessage: The message.
        public init(errorType: String, errorMessage: String) {
            self.errorType = errorType
            self.errorMessage = errorMessage
        }

        /// `TypeError: boom`.
        public var description: String {
            errorMessage.isEmpty ? errorType : "\(errorType): \(errorMessage)"
        }
    }

    /// `responseContext`: the outcome of the last invocation.
    public struct ResponseContext: Encodable, Sendable, Equatable {
        /// The invocation's status code (200 when the handler ran, even if it failed).
        public var statusCode: Int
        /// The function version that ran.
        public var executedVersion: String
        /// The function error type (`Unhandled`, `Handled`), or `nil` (written as `null`, as Lambda does) when
        /// there was none.
        public var functionError: String?

        /// Creates a response context.
        /// - Parameters:
        ///   - statusCode: The invocation's status code.
        ///   - executedVersion: The function version that ran.
        ///   - functionError: The function error type, if any.
        public init(statusCode: Int = 200, executedVersion: String = "$LATEST", functionError: String? = nil) {
            self.statusCode = statusCode
            self.executedVersion = executedVersion
            self.functionError = functionError
        }

        enum CodingKeys: String, CodingKey {
            case statusCode, executedVersion, functionError
        }

        /// Encodes the fields; `functionError` is `null` when there was none, as in Lambda's records.
        /// - Parameter encoder: The encoder.
        /// - Throws: Whatever the encoder throws.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(statusCode, forKey: .statusCode)
            try container.encode(executedVersion, forKey: .executedVersion)
            try container.encode(functionError, forKey: .functionError)
        }
    }

    /// `KinesisBatchInfo`: which records were discarded.
    public struct KinesisBatchInfo: Encodable, Sendable, Equatable {
        /// The shard.
        public var shardId: String
        /// The lowest discarded sequence number.
        public var startSequenceNumber: String
        /// The highest discarded sequence number.
        public var endSequenceNumber: String
        /// The arrival time of the record with the lowest sequence number.
        public var approximateArrivalOfFirstRecord: Date
        /// The arrival time of the record with the highest sequence number.
        public var approximateArrivalOfLastRecord: Date
        /// The number of discarded records.
        public var batchSize: Int
        /// The stream's ARN.
        public var streamArn: String

        /// Creates batch information.
        /// - Parameters:
        ///   - shardId: The shard.
        ///   - startSequenceNumber: The lowest discarded sequence number.
        ///   - endSequenceNumber: The highest discarded sequence number.
        ///   - approximateArrivalOfFirstRecord: The first record's arrival time.
        ///   - approximateArrivalOfLastRecord: The last record's arrival time.
        ///   - batchSize: The number of discarded records.
        ///   - streamArn: The stream's ARN.
        public init(
            shardId: String,
            startSequenceNumber: String,
            endSequenceNumber: String,
            approximateArrivalOfFirstRecord: Date,
            approximateArrivalOfLastRecord: Date,
            batchSize: Int,
            streamArn: String
        ) {
            self.shardId = shardId
            self.startSequenceNumber = startSequenceNumber
            self.endSequenceNumber = endSequenceNumber
            self.approximateArrivalOfFirstRecord = approximateArrivalOfFirstRecord
            self.approximateArrivalOfLastRecord = approximateArrivalOfLastRecord
            self.batchSize = batchSize
            self.streamArn = streamArn
        }

        enum CodingKeys: String, CodingKey {
            case shardId
            case startSequenceNumber
            case endSequenceNumber
            case approximateArrivalOfFirstRecord
            case approximateArrivalOfLastRecord
            case batchSize
            case streamArn
        }

        /// Encodes the fields, with dates as ISO 8601 UTC strings with milliseconds.
        /// - Parameter encoder: The encoder.
        /// - Throws: Whatever the encoder throws.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(shardId, forKey: .shardId)
            try container.encode(startSequenceNumber, forKey: .startSequenceNumber)
            try container.encode(endSequenceNumber, forKey: .endSequenceNumber)
            try container.encode(
                JSONTimestamp.iso8601(approximateArrivalOfFirstRecord, milliseconds: true),
                forKey: .approximateArrivalOfFirstRecord
            )
            try container.encode(
                JSONTimestamp.iso8601(approximateArrivalOfLastRecord, milliseconds: true),
                forKey: .approximateArrivalOfLastRecord
            )
            try container.encode(batchSize, forKey: .batchSize)
            try container.encode(streamArn, forKey: .streamArn)
        }
    }

    /// `requestContext`.
    public var requestContext: RequestContext
    /// `responseContext`.
    public var responseContext: ResponseContext
    /// `version`: always `1.0`.
    public var version: String
    /// `timestamp`: when the batch was discarded.
    public var timestamp: Date
    /// `KinesisBatchInfo`.
    public var kinesisBatchInfo: KinesisBatchInfo
    /// The discarded records, encoded as `records` in the Kinesis event shape.
    public var records: [EventRecord]
    /// The shard and identity the encoded records name.
    public var source: KinesisEventSource
    /// Why the last invocation failed, encoded as `lastError` (left out when `nil`).
    public var lastError: LastError?

    /// Creates the record for a discarded batch; `KinesisBatchInfo` is derived from `records`.
    /// - Parameters:
    ///   - requestContext: The last invocation.
    ///   - responseContext: The outcome of the last invocation.
    ///   - source: The shard and identity of the records.
    ///   - records: The discarded records; must not be empty.
    ///   - lastError: Why the last invocation failed, if one did.
    ///   - timestamp: When the batch was discarded (default now).
    public init(
        requestContext: RequestContext,
        responseContext: ResponseContext,
        source: KinesisEventSource,
        records: [EventRecord],
        lastError: LastError? = nil,
        timestamp: Date = Date()
    ) {
        precondition(!records.isEmpty, "an invocation record needs at least one discarded record")
        var first = records[records.startIndex]
        var last = first
        for record in records.dropFirst() {
            if SequenceNumberOrder.precedes(record.sequenceNumber, first.sequenceNumber) {
                first = record
            }
            if SequenceNumberOrder.precedes(last.sequenceNumber, record.sequenceNumber) {
                last = record
            }
        }
        self.requestContext = requestContext
        self.responseContext = responseContext
        self.version = "1.0"
        self.timestamp = timestamp
        self.kinesisBatchInfo = KinesisBatchInfo(
            shardId: source.shardId,
            startSequenceNumber: first.sequenceNumber,
            endSequenceNumber: last.sequenceNumber,
            approximateArrivalOfFirstRecord: first.approximateArrivalTimestamp,
            approximateArrivalOfLastRecord: last.approximateArrivalTimestamp,
            batchSize: records.count,
            streamArn: source.eventSourceARN
        )
        self.records = records
        self.source = source
        self.lastError = lastError
    }

    enum CodingKeys: String, CodingKey {
        case requestContext
        case responseContext
        case version
        case timestamp
        case kinesisBatchInfo = "KinesisBatchInfo"
        case records
        case lastError
    }

    /// Encodes the record in Lambda's shape plus `records` and `lastError`.
    /// - Parameter encoder: The encoder.
    /// - Throws: Whatever the encoder throws.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(requestContext, forKey: .requestContext)
        try container.encode(responseContext, forKey: .responseContext)
        try container.encode(version, forKey: .version)
        try container.encode(JSONTimestamp.iso8601(timestamp, milliseconds: true), forKey: .timestamp)
        try container.encode(kinesisBatchInfo, forKey: .kinesisBatchInfo)
        try container.encode(records.map { EncodedRecord($0, source: source) }, forKey: .records)
        try container.encodeIfPresent(lastError, forKey: .lastError)
    }

    /// The record's JSON text with sorted keys.
    /// - Returns: UTF-8 JSON.
    /// - Throws: ``MappingError/Code/unknown`` if encoding fails (it does not for these types).
    public func jsonBytes() throws(MappingError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return Array(try encoder.encode(self))
        } catch {
            throw MappingError(
                code: .unknown,
                message: "cannot encode the invocation record for \(kinesisBatchInfo.shardId): \(error)",
                cause: error
            )
        }
    }
}

/// One record in the shape of an element of the Kinesis event's `Records` array.
private struct EncodedRecord: Encodable {
    struct Kinesis: Encodable {
        var kinesisSchemaVersion = "1.0"
        var partitionKey: String
        var sequenceNumber: String
        var data: String
        var approximateArrivalTimestamp: Decimal
    }

    var kinesis: Kinesis
    var eventSource = "aws:kinesis"
    var eventVersion = "1.0"
    var eventID: String
    var eventName = "aws:kinesis:record"
    var invokeIdentityArn: String
    var awsRegion: String
    var eventSourceARN: String

    init(_ record: EventRecord, source: KinesisEventSource) {
        var base64: [UInt8] = []
        base64.appendBase64(record.data)
        kinesis = Kinesis(
            partitionKey: record.partitionKey,
            sequenceNumber: record.sequenceNumber,
            data: String(decoding: base64, as: UTF8.self),
            approximateArrivalTimestamp: Decimal(JSONTimestamp.epochMilliseconds(record.approximateArrivalTimestamp))
                / 1000
        )
        eventID = "\(source.shardId):\(record.sequenceNumber)"
        invokeIdentityArn = source.invokeIdentityArn
        awsRegion = source.region
        eventSourceARN = source.eventSourceARN
    }
}
