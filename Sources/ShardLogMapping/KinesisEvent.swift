import Foundation
import ShardLogWire

/// One stream record as an event source mapping sees it: the input of event encoding, filtering and failure records.
public struct EventRecord: Sendable, Hashable {
    /// The record's partition key.
    public var partitionKey: String
    /// The record's sequence number: a decimal string, increasing within its shard.
    public var sequenceNumber: String
    /// The record's payload.
    public var data: [UInt8]
    /// When the store accepted the record.
    public var approximateArrivalTimestamp: Date
    /// For a user record unpacked from a KPL aggregated record (``KPLAggregation/expand(_:)``): its index in the
    /// aggregate, written as `subSequenceNumber` (the Kinesis Client Library's numbering); `nil` otherwise.
    public var subSequenceNumber: Int? = nil
    /// For a user record unpacked from a KPL aggregated record: its explicit hash key, if it had one.
    public var explicitHashKey: String? = nil

    /// Creates a record.
    /// - Parameters:
    ///   - partitionKey: The record's partition key.
    ///   - sequenceNumber: The record's decimal sequence number.
    ///   - data: The record's payload.
    ///   - approximateArrivalTimestamp: When the store accepted the record.
    public init(partitionKey: String, sequenceNumber: String, data: [UInt8], approximateArrivalTimestamp: Date) {
        self.partitionKey = partitionKey
        self.sequenceNumber = sequenceNumber
        self.data = data
        self.approximateArrivalTimestamp = approximateArrivalTimestamp
    }
}

/// The shard and identity that the Lambda event names: the fixed fields of every record in an event.
public struct KinesisEventSource: Sendable, Hashable {
    /// The stream name.
    public var streamName: String
    /// The shard the batch comes from (`shardId-000000000000`).
    public var shardId: String
    /// The region written to `awsRegion` and the ARNs.
    public var region: String
    /// The account id written to the stream ARN.
    public var accountId: String
    /// The role ARN written to `invokeIdentityArn`.
    public var invokeIdentityArn: String

    /// Creates an event source.
    /// - Parameters:
    ///   - streamName: The stream name.
    ///   - shardId: The shard id.
    ///   - region: The region (default `us-east-1`).
    ///   - accountId: The account id (default `000000000000`).
    ///   - invokeIdentityArn: The execution role ARN (default `arn:aws:iam::000000000000:role/shardlog`).
    public init(
        streamName: String,
        shardId: String,
        region: String = "us-east-1",
        accountId: String = "000000000000",
        invokeIdentityArn: String = "arn:aws:iam::000000000000:role/shardlog"
    ) {
        self.streamName = streamName
        self.shardId = shardId
        self.region = region
        self.accountId = accountId
        self.invokeIdentityArn = invokeIdentityArn
    }

    /// `arn:aws:kinesis:<region>:<account>:stream/<name>`.
    public var eventSourceARN: String {
        "arn:aws:kinesis:\(region):\(accountId):stream/\(streamName)"
    }
}

/// The tumbling-window fields that Lambda adds to an event when `TumblingWindowInSeconds` is set.
public struct TumblingWindow: Sendable, Hashable {
    /// The window's start (inclusive), written as ISO 8601 UTC with second precision.
    public var start: Date
    /// The window's end (exclusive), written as ISO 8601 UTC with second precision.
    public var end: Date
    /// The state the handler returned for this window so far: the UTF-8 text of a JSON object, written verbatim
    /// (empty means `{}`). ``TumblingWindowResponse/state`` has this form.
    public var state: [UInt8]
    /// Whether this is the last invocation of the window.
    public var isFinalInvokeForWindow: Bool
    /// Whether the window ended before its time (state over 1 MB, or a reshard).
    public var isWindowTerminatedEarly: Bool

    /// Creates the window fields.
    /// - Parameters:
    ///   - start: The window's start.
    ///   - end: The window's end.
    ///   - state: The JSON object text of the state so far (empty means `{}`).
    ///   - isFinalInvokeForWindow: Whether this is the last invocation of the window.
    ///   - isWindowTerminatedEarly: Whether the window ended early.
    public init(
        start: Date,
        end: Date,
        state: [UInt8] = [],
        isFinalInvokeForWindow: Bool = false,
        isWindowTerminatedEarly: Bool = false
    ) {
        self.start = start
        self.end = end
        self.state = state
        self.isFinalInvokeForWindow = isFinalInvokeForWindow
        self.isWindowTerminatedEarly = isWindowTerminatedEarly
    }
}

/// Writes Lambda's Kinesis event JSON, byte for byte the shape AWS delivers:
///
/// ```json
/// {"Records":[{"kinesis":{"kinesisSchemaVersion":"1.0","partitionKey":"k","sequenceNumber":"1",
/// "data":"<base64>","approximateArrivalTimestamp":1545084650.987},"eventSource":"aws:kinesis",
/// "eventVersion":"1.0","eventID":"shardId-000000000000:1","eventName":"aws:kinesis:record",
/// "invokeIdentityArn":"arn:aws:iam::000000000000:role/shardlog","awsRegion":"us-east-1",
/// "eventSourceARN":"arn:aws:kinesis:us-east-1:000000000000:stream/s"}]}
/// ```
///
/// Field order is AWS's; there is no `encryptionType`; `approximateArrivalTimestamp` is seconds with exactly three
/// decimals. The encoder precomputes the per-shard fragments, so create one per shard and reuse it. It is a value
/// type and safe to share between threads.
public struct KinesisEventEncoder: Sendable {
    /// The shard and identity every record names.
    public let source: KinesisEventSource

    private let recordPrefix: [UInt8]
    private let sequenceNumberPrefix: [UInt8]
    private let dataPrefix: [UInt8]
    private let timestampPrefix: [UInt8]
    private let eventIDPrefix: [UInt8]
    private let recordSuffix: [UInt8]

    /// Creates an encoder for the records of one shard.
    /// - Parameter source: The shard and identity the event names.
    public init(source: KinesisEventSource) {
        self.source = source
        recordPrefix = Array(#"{"kinesis":{"kinesisSchemaVersion":"1.0","partitionKey":"#.utf8)
        sequenceNumberPrefix = Array(#","sequenceNumber":""#.utf8)
        dataPrefix = Array(#"","data":""#.utf8)
        timestampPrefix = Array(#"","approximateArrivalTimestamp":"#.utf8)
        var eventID = Array(#"},"eventSource":"aws:kinesis","eventVersion":"1.0","eventID":""#.utf8)
        eventID.appendJSONStringContents(source.shardId)
        eventID.append(UInt8(ascii: ":"))
        eventIDPrefix = eventID
        var suffix = Array(#"","eventName":"aws:kinesis:record","invokeIdentityArn":"#.utf8)
        suffix.appendJSONString(source.invokeIdentityArn)
        suffix.append(contentsOf: #","awsRegion":"#.utf8)
        suffix.appendJSONString(source.region)
        suffix.append(contentsOf: #","eventSourceARN":"#.utf8)
        suffix.appendJSONString(source.eventSourceARN)
        suffix.append(UInt8(ascii: "}"))
        recordSuffix = suffix
    }

    /// Encodes the event for one invocation.
    /// - Parameters:
    ///   - records: The batch, in order.
    ///   - window: The tumbling-window fields, or `nil` for a plain event.
    /// - Returns: The event's UTF-8 JSON text.
    /// - Complexity: O(total size of the records).
    public func encode(_ records: some Collection<EventRecord>, window: TumblingWindow? = nil) -> [UInt8] {
        var bytes: [UInt8] = []
        var capacity = envelopeByteCount(window: window)
        for record in records {
            capacity += encodedByteCount(of: record) + 1
        }
        bytes.reserveCapacity(capacity)
        bytes.append(contentsOf: #"{"Records":["#.utf8)
        var first = true
        for record in records {
            if !first {
                bytes.append(UInt8(ascii: ","))
            }
            first = false
            appendRecord(record, to: &bytes)
        }
        bytes.append(UInt8(ascii: "]"))
        if let window {
            appendWindowFields(window, to: &bytes)
        }
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    /// Appends one element of the `Records` array.
    /// - Parameters:
    ///   - record: The record.
    ///   - bytes: The buffer to append to.
    public func appendRecord(_ record: EventRecord, to bytes: inout [UInt8]) {
        bytes.append(contentsOf: recordPrefix)
        bytes.append(UInt8(ascii: "\""))
        Self.appendEscaped(record.partitionKey, to: &bytes)
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: sequenceNumberPrefix)
        Self.appendEscaped(record.sequenceNumber, to: &bytes)
        if record.subSequenceNumber != nil {
            bytes.append(UInt8(ascii: "\""))
            appendUserRecordFields(record, to: &bytes)
            bytes.append(contentsOf: dataPrefix.dropFirst())
        } else {
            bytes.append(contentsOf: dataPrefix)
        }
        bytes.appendBase64(record.data)
        bytes.append(contentsOf: timestampPrefix)
        JSONTimestamp.appendEpochSeconds(record.approximateArrivalTimestamp, to: &bytes)
        bytes.append(contentsOf: eventIDPrefix)
        Self.appendEscaped(record.sequenceNumber, to: &bytes)
        bytes.append(contentsOf: recordSuffix)
    }

    /// Appends `text` JSON-escaped: copied whole when nothing in it needs escaping (sequence numbers, most
    /// partition keys), which is several times faster than escaping byte by byte.
    private static func appendEscaped(_ text: String, to bytes: inout [UInt8]) {
        let copied: Bool? = text.utf8.withContiguousStorageIfAvailable { utf8 in
            guard utf8.allSatisfy({ $0 >= 0x20 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }) else {
                return false
            }
            bytes.append(contentsOf: utf8)
            return true
        }
        if copied != true {
            bytes.appendJSONStringContents(text)
        }
    }

    /// The exact size of one element of the `Records` array, without encoding it; for the 6 MB payload cap.
    ///
    /// An event of `n` records takes ``envelopeByteCount(window:)`` plus the records' sizes plus `n - 1` commas.
    /// - Parameter record: The record.
    /// - Returns: The number of bytes ``appendRecord(_:to:)`` writes.
    public func encodedByteCount(of record: EventRecord) -> Int {
        var extra: [UInt8] = []
        if record.subSequenceNumber != nil { appendUserRecordFields(record, to: &extra) }
        return extra.count
            + encodedByteCount(
                partitionKey: record.partitionKey,
                sequenceNumberByteCount: [UInt8].jsonEscapedByteCount(record.sequenceNumber),
                dataByteCount: record.data.count, arrival: record.approximateArrivalTimestamp)
    }

    /// The size of one record's entry from its parts, without building an ``EventRecord`` (the delivery engine sizes
    /// every record it reads for the 6 MB payload cap).
    /// - Parameters:
    ///   - partitionKey: the record's partition key.
    ///   - sequenceNumberByteCount: the length of its sequence number (digits need no escaping).
    ///   - dataByteCount: the length of its data before base64.
    ///   - arrival: its approximate arrival time.
    /// - Returns: the number of bytes ``appendRecord(_:to:)`` writes for it.
    public func encodedByteCount(
        partitionKey: String, sequenceNumberByteCount: Int, dataByteCount: Int, arrival: Date
    ) -> Int {
        recordPrefix.count + 2 + [UInt8].jsonEscapedByteCount(partitionKey)
            + sequenceNumberPrefix.count + sequenceNumberByteCount
            + dataPrefix.count + [UInt8].base64ByteCount(dataByteCount)
            + timestampPrefix.count + JSONTimestamp.epochSecondsByteCount(arrival)
            + eventIDPrefix.count + sequenceNumberByteCount + recordSuffix.count
    }

    /// The size of an event without its records (the `{"Records":[` … `]}` frame and the window fields).
    /// - Parameter window: The tumbling-window fields, or `nil`.
    /// - Returns: The number of bytes ``encode(_:window:)`` writes for an empty batch.
    public func envelopeByteCount(window: TumblingWindow? = nil) -> Int {
        var count = #"{"Records":[]}"#.utf8.count
        if let window {
            var fields: [UInt8] = []
            appendWindowFields(window, to: &fields)
            count += fields.count
        }
        return count
    }

    /// The fields `aws-kinesis-agg` gives a de-aggregated user record: `"subSequenceNumber":N,"aggregated":true`
    /// and `"explicitHashKey":"…"` when the user record has one.
    private func appendUserRecordFields(_ record: EventRecord, to bytes: inout [UInt8]) {
        bytes.append(contentsOf: #","subSequenceNumber":"#.utf8)
        bytes.append(contentsOf: String(record.subSequenceNumber ?? 0).utf8)
        bytes.append(contentsOf: #","aggregated":true"#.utf8)
        if let key = record.explicitHashKey {
            bytes.append(contentsOf: #","explicitHashKey":"#.utf8)
            bytes.appendJSONString(key)
        }
    }

    private func appendWindowFields(_ window: TumblingWindow, to bytes: inout [UInt8]) {
        bytes.append(contentsOf: #","window":{"start":"#.utf8)
        bytes.appendJSONString(JSONTimestamp.iso8601(window.start, milliseconds: false))
        bytes.append(contentsOf: #","end":"#.utf8)
        bytes.appendJSONString(JSONTimestamp.iso8601(window.end, milliseconds: false))
        bytes.append(contentsOf: #"},"state":"#.utf8)
        if window.state.isEmpty {
            bytes.append(contentsOf: "{}".utf8)
        } else {
            bytes.append(contentsOf: window.state)
        }
        bytes.append(contentsOf: #","shardId":"#.utf8)
        bytes.appendJSONString(source.shardId)
        bytes.append(contentsOf: #","eventSourceARN":"#.utf8)
        bytes.appendJSONString(source.eventSourceARN)
        bytes.append(contentsOf: #","isFinalInvokeForWindow":"#.utf8)
        bytes.append(contentsOf: (window.isFinalInvokeForWindow ? "true" : "false").utf8)
        bytes.append(contentsOf: #","isWindowTerminatedEarly":"#.utf8)
        bytes.append(contentsOf: (window.isWindowTerminatedEarly ? "true" : "false").utf8)
    }
}
