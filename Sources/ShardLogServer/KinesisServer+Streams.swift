import Foundation
import Hummingbird
import ShardLog
import ShardLogWire

/// The Kinesis operations served (`X-Amz-Target: Kinesis_20131202.<Operation>`).
enum Operation: String, CaseIterable, Sendable {
    case createStream = "CreateStream"
    case deleteStream = "DeleteStream"
    case describeStream = "DescribeStream"
    case describeStreamSummary = "DescribeStreamSummary"
    case listStreams = "ListStreams"
    case listShards = "ListShards"
    case putRecord = "PutRecord"
    case putRecords = "PutRecords"
    case getShardIterator = "GetShardIterator"
    case getRecords = "GetRecords"
    case splitShard = "SplitShard"
    case mergeShards = "MergeShards"
    case updateShardCount = "UpdateShardCount"
    case increaseStreamRetentionPeriod = "IncreaseStreamRetentionPeriod"
    case decreaseStreamRetentionPeriod = "DecreaseStreamRetentionPeriod"
    case addTagsToStream = "AddTagsToStream"
    case removeTagsFromStream = "RemoveTagsFromStream"
    case listTagsForStream = "ListTagsForStream"
    case tagResource = "TagResource"
    case untagResource = "UntagResource"
    case listTagsForResource = "ListTagsForResource"
    case registerStreamConsumer = "RegisterStreamConsumer"
    case describeStreamConsumer = "DescribeStreamConsumer"
    case listStreamConsumers = "ListStreamConsumers"
    case deregisterStreamConsumer = "DeregisterStreamConsumer"
    case enableEnhancedMonitoring = "EnableEnhancedMonitoring"
    case disableEnhancedMonitoring = "DisableEnhancedMonitoring"
    case subscribeToShard = "SubscribeToShard"
    case startStreamEncryption = "StartStreamEncryption"
    case stopStreamEncryption = "StopStreamEncryption"
    case updateStreamMode = "UpdateStreamMode"
    case describeLimits = "DescribeLimits"
    case putResourcePolicy = "PutResourcePolicy"
    case getResourcePolicy = "GetResourcePolicy"
    case deleteResourcePolicy = "DeleteResourcePolicy"
    case describeAccountSettings = "DescribeAccountSettings"
    case updateAccountSettings = "UpdateAccountSettings"
    case updateMaxRecordSize = "UpdateMaxRecordSize"
    case updateStreamWarmThroughput = "UpdateStreamWarmThroughput"
}

/// How long ListShards/ListStreams `NextToken`s stay valid.
let nextTokenValidityMilliseconds: Int64 = 300_000

extension KinesisServer {
    func perform(_ operation: Operation, _ p: Params, requestID: String) async throws -> Response {
        let json: JSON
        switch operation {
        case .createStream: json = try createStream(p)
        case .deleteStream: json = try deleteStream(p)
        case .describeStream: json = try describeStream(p)
        case .describeStreamSummary: json = try describeStreamSummary(p)
        case .listStreams: json = try listStreams(p)
        case .listShards: json = try listShards(p)
        case .putRecord: json = try putRecord(p)
        case .putRecords: json = try putRecords(p)
        case .getShardIterator: json = try getShardIterator(p)
        case .getRecords: json = try getRecords(p)
        case .splitShard: json = try splitShard(p)
        case .mergeShards: json = try mergeShards(p)
        case .updateShardCount: json = try updateShardCount(p)
        case .increaseStreamRetentionPeriod: json = try changeRetention(p, increase: true)
        case .decreaseStreamRetentionPeriod: json = try changeRetention(p, increase: false)
        case .addTagsToStream: json = try addTags(p, arnKey: nil)
        case .removeTagsFromStream: json = try removeTags(p, arnKey: nil)
        case .listTagsForStream: json = try listTagsForStream(p)
        case .tagResource: json = try addTags(p, arnKey: "ResourceARN")
        case .untagResource: json = try removeTags(p, arnKey: "ResourceARN")
        case .listTagsForResource: json = try listTagsForResource(p)
        case .registerStreamConsumer: json = try registerStreamConsumer(p)
        case .describeStreamConsumer: json = try describeStreamConsumer(p)
        case .listStreamConsumers: json = try listStreamConsumers(p)
        case .deregisterStreamConsumer: json = try deregisterStreamConsumer(p)
        case .enableEnhancedMonitoring: json = try changeMonitoring(p, enable: true)
        case .disableEnhancedMonitoring: json = try changeMonitoring(p, enable: false)
        case .subscribeToShard: return try subscribeToShard(p, requestID: requestID)
        case .startStreamEncryption: json = try changeEncryption(p, start: true)
        case .stopStreamEncryption: json = try changeEncryption(p, start: false)
        case .updateStreamMode: json = try updateStreamMode(p)
        case .describeLimits: json = try describeLimits(p)
        case .putResourcePolicy: json = try putResourcePolicy(p)
        case .getResourcePolicy: json = try getResourcePolicy(p)
        case .deleteResourcePolicy: json = try deleteResourcePolicy(p)
        case .describeAccountSettings: json = try regional(p).accountSettings.describe()
        case .updateAccountSettings: json = try updateAccountSettings(p)
        case .updateMaxRecordSize: json = try updateMaxRecordSize(p)
        case .updateStreamWarmThroughput: json = try updateStreamWarmThroughput(p)
        }
        return ok(json, requestID: requestID)
    }

    // MARK: - Addressing

    /// Checks a stream name against the model's pattern and length.
    static func validateStreamName(_ name: String, key: String = "streamName") throws(KinesisError) {
        do {
            try Store.validate(streamName: name)
        } catch {
            throw KinesisError(
                .validation,
                "1 validation error detected: Value '\(name)' at '\(key)' failed to satisfy constraint: Member must"
                    + " satisfy regular expression pattern: [a-zA-Z0-9_.-]+ and have length between 1 and 128")
        }
    }

    /// The stream name inside `arn:aws:kinesis:<region>:<account>:stream/<name>` (see ``ShardLog/StreamARN``).
    /// - Parameters:
    ///   - arn: the ARN.
    ///   - scope: the request's account and region, which the ARN's must be (``RequestScope/check(_:text:)``);
    ///     `nil` accepts any (a mappings file names streams of the data directory).
    /// - Throws: `InvalidArgumentException` naming what is wrong with the ARN; `AccessDeniedException` or
    ///   `ResourceNotFoundException` for another account's or region's stream.
    static func streamName(fromARN arn: String, scope: RequestScope? = nil) throws(KinesisError) -> String {
        let parsed: StreamARN
        do {
            parsed = try StreamARN(parsing: arn)
        } catch {
            throw KinesisError(.invalidArgument, error.message)
        }
        try scope?.check(parsed, text: arn)
        return parsed.streamName
    }

    /// The stream addressed by `StreamName` or `StreamARN` (both must agree when both are given).
    static func streamName(_ p: Params) throws(KinesisError) -> String {
        let name = try p.string("StreamName")
        let arn = try p.string("StreamARN")
        switch (name, arn) {
        case (let n?, nil):
            try validateStreamName(n)
            return n
        case (nil, let a?):
            return try streamName(fromARN: a, scope: p.scope)
        case (let n?, let a?):
            try validateStreamName(n)
            guard try streamName(fromARN: a, scope: p.scope) == n else {
                throw KinesisError(.invalidArgument, "StreamName \(n) and StreamARN \(a) name different streams")
            }
            return n
        case (nil, nil):
            throw KinesisError(.invalidArgument, "either StreamName or StreamARN must be given")
        }
    }

    /// The stream addressed by `StreamName` or `StreamARN`, in the request's account and region.
    func openStream(_ p: Params) throws -> DataStream {
        try regional(p).store.stream(named: try Self.streamName(p))
    }

    // MARK: - JSON shapes

    /// Milliseconds since the epoch of `date`, clamped to `Int64` (a date read from a file or a forged token can be
    /// anything; request timestamps are range-checked by ``Params/timestamp(_:)`` before they get here).
    static func milliseconds(_ date: Date) -> Int64 {
        let ms = (date.timeIntervalSince1970 * 1000).rounded()
        guard !ms.isNaN else { return 0 }
        guard ms < 9.2e18 else { return .max }
        guard ms > -9.2e18 else { return .min }
        return Int64(ms)
    }

    static func shardJSON(_ s: ShardDescription) -> JSON {
        .fields([
            "ShardId": .string(s.shardId),
            "ParentShardId": s.parentShardId.map(JSON.string),
            "AdjacentParentShardId": s.adjacentParentShardId.map(JSON.string),
            "HashKeyRange": .fields([
                "StartingHashKey": .string(s.hashKeyRange.startingHashKey),
                "EndingHashKey": .string(s.hashKeyRange.endingHashKey),
            ]),
            "SequenceNumberRange": .fields([
                "StartingSequenceNumber": .string(s.sequenceNumberRange.startingSequenceNumber),
                "EndingSequenceNumber": s.sequenceNumberRange.endingSequenceNumber.map(JSON.string),
            ]),
        ])
    }

    /// `ChildShards` of a closed shard: the shards naming it as parent or adjacent parent.
    static func childShardsJSON(of shardId: String, in d: StreamDescription) -> JSON {
        .array(
            d.shards.filter { $0.parentShardId == shardId || $0.adjacentParentShardId == shardId }.map { child in
                .fields([
                    "ShardId": .string(child.shardId),
                    "ParentShards": .array(
                        [child.parentShardId, child.adjacentParentShardId].compactMap { $0 }.map(JSON.string)),
                    "HashKeyRange": .fields([
                        "StartingHashKey": .string(child.hashKeyRange.startingHashKey),
                        "EndingHashKey": .string(child.hashKeyRange.endingHashKey),
                    ]),
                ])
            })
    }

    static func monitoringJSON(_ metrics: [String]) -> JSON {
        .array([.fields(["ShardLevelMetrics": .array(metrics.map(JSON.string))])])
    }

    // MARK: - Stream lifecycle

    func createStream(_ p: Params) throws -> JSON {
        let name = try p.requiredString("StreamName")
        try Self.validateStreamName(name)
        let shardCount = try p.int("ShardCount")
        // Neither a shard count nor a mode: an on-demand stream, as AWS creates one (`aws kinesis create-stream
        // --stream-name x`).
        let modeText =
            try p.object("StreamModeDetails")?.requiredString("StreamMode")
            ?? (shardCount == nil ? "ON_DEMAND" : "PROVISIONED")
        guard let mode = StreamMode(rawValue: modeText) else {
            throw KinesisError(.validation, "StreamMode must be PROVISIONED or ON_DEMAND, not \(modeText)")
        }
        var count = 4
        switch mode {
        case .onDemand:
            guard shardCount == nil else {
                throw KinesisError(.validation, "ShardCount is not expected when StreamMode=ON_DEMAND")
            }
        case .provisioned:
            guard let n = shardCount else {
                throw KinesisError(.validation, "ShardCount is required when StreamMode=PROVISIONED")
            }
            guard n >= 1 else {
                throw KinesisError(
                    .validation, "1 validation error detected: Value '\(n)' at 'shardCount' must be at least 1")
            }
            count = n
        }
        let tags = try p.stringMap("Tags") ?? [:]
        try Self.validateTags(tags, stream: name, account: p.scope.account)
        let r = try regional(p)
        let open = try Self.openShardCount(r.store)
        guard open + count <= Limits.shardCount.upperBound else {
            throw KinesisError(
                .limitExceeded,
                "This request would exceed the shard limit for the account \(p.scope.account) in \(p.scope.region)."
                    + " Current shard count for the account: \(open). Limit: \(Limits.shardCount.upperBound). Number of"
                    + " additional shards that would have resulted from this request: \(count). Refer to the AWS"
                    + " Service Limits page (http://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) for"
                    + " current limits and how to request higher limits.")
        }
        try r.store.createStream(named: name, shardCount: count, mode: mode)
        metrics.removeStream(name, MetricLabels.Scope(account: p.scope.account, region: p.scope.region))
        if !tags.isEmpty { try r.extras.update(name) { $0.tags = tags } }
        return .fields([:])
    }

    func deleteStream(_ p: Params) throws -> JSON {
        let name = try Self.streamName(p)
        let r = try regional(p)
        _ = try r.store.stream(named: name)
        let enforce = try p.bool("EnforceConsumerDeletion") ?? false
        let consumers = try r.extras.load(name).consumers
        guard enforce || consumers.isEmpty else {
            throw KinesisError(
                .resourceInUse,
                "Stream \(name) under account \(p.scope.account) has \(consumers.count) registered consumers;"
                    + " deregister them or pass EnforceConsumerDeletion=true")
        }
        try r.store.deleteStream(named: name)
        metrics.removeStream(name, MetricLabels.Scope(account: p.scope.account, region: p.scope.region))
        return .fields([:])
    }

    func describeStream(_ p: Params) throws -> JSON {
        let stream = try openStream(p)
        // As AWS: a Limit over 100 returns at most 100 shards.
        let limit = min(try p.int("Limit", in: 1...10_000) ?? 100, 100)
        let start = try p.string("ExclusiveStartShardId")
        let d = try stream.describe()
        var shards = d.shards
        if let start { shards = shards.filter { $0.shardId > start } }
        let page = shards.prefix(limit)
        let extra = try regional(p).extras.load(stream.name)
        return .fields([
            "StreamDescription": .fields([
                "StreamName": .string(d.streamName),
                "StreamARN": .string(d.streamARN),
                "StreamStatus": .string(d.streamStatus),
                "StreamModeDetails": .fields(["StreamMode": .string(d.streamModeDetails.streamMode.rawValue)]),
                "Shards": .array(page.map(Self.shardJSON)),
                "HasMoreShards": .bool(shards.count > page.count),
                "RetentionPeriodHours": .integer(d.retentionPeriodHours),
                "StreamCreationTimestamp": .epochMilliseconds(Self.milliseconds(d.streamCreationTimestamp)),
                "EnhancedMonitoring": Self.monitoringJSON(extra.shardLevelMetrics),
                "EncryptionType": .string(d.encryptionType),
                "KeyId": d.keyId.map(JSON.string),
            ])
        ])
    }

    func describeStreamSummary(_ p: Params) throws -> JSON {
        let stream = try openStream(p)
        let d = try stream.describe()
        let extra = try regional(p).extras.load(stream.name)
        return .fields([
            "StreamDescriptionSummary": .fields([
                "StreamName": .string(d.streamName),
                "StreamARN": .string(d.streamARN),
                "StreamStatus": .string(d.streamStatus),
                "StreamModeDetails": .fields(["StreamMode": .string(d.streamModeDetails.streamMode.rawValue)]),
                "RetentionPeriodHours": .integer(d.retentionPeriodHours),
                "StreamCreationTimestamp": .epochMilliseconds(Self.milliseconds(d.streamCreationTimestamp)),
                "EnhancedMonitoring": Self.monitoringJSON(extra.shardLevelMetrics),
                "EncryptionType": .string(d.encryptionType),
                "KeyId": d.keyId.map(JSON.string),
                "OpenShardCount": .integer(d.openShards.count),
                "ConsumerCount": .integer(extra.consumers.count),
                "WarmThroughput": d.warmThroughputMiBps.map(Self.warmThroughputJSON),
                "MaxRecordSizeInKiB": .integer(d.maxRecordSizeInKiB),
            ])
        ])
    }

    func listStreams(_ p: Params) throws -> JSON {
        // As AWS: a Limit over 100 returns at most 100 streams.
        let limit = min(try p.int("Limit", in: 1...10_000) ?? 100, 100)
        var start = try p.string("ExclusiveStartStreamName")
        if let token = try p.string("NextToken") {
            guard let (fields, issued) = OpaqueToken.decode(kind: "ls", scope: p.scope, fieldCount: 1, token) else {
                throw KinesisError(.invalidArgument, "NextToken is not valid")
            }
            guard nowMilliseconds() - issued <= nextTokenValidityMilliseconds else {
                throw KinesisError(.expiredNextToken, "NextToken has expired (valid for 300 seconds)")
            }
            start = fields[0]
        }
        let store = try regional(p).store
        var names = try store.listStreams()
        if let start { names = names.filter { $0 > start } }
        let page = Array(names.prefix(limit))
        let more = names.count > page.count
        var summaries: [JSON] = []
        for name in page {
            guard let d = try? store.stream(named: name).describe() else { continue }
            summaries.append(
                .fields([
                    "StreamName": .string(d.streamName),
                    "StreamARN": .string(d.streamARN),
                    "StreamStatus": .string(d.streamStatus),
                    "StreamModeDetails": .fields(["StreamMode": .string(d.streamModeDetails.streamMode.rawValue)]),
                    "StreamCreationTimestamp": .epochMilliseconds(Self.milliseconds(d.streamCreationTimestamp)),
                ]))
        }
        return .fields([
            "StreamNames": .array(page.map(JSON.string)),
            "HasMoreStreams": .bool(more),
            "NextToken": more && !page.isEmpty
                ? .string(
                    OpaqueToken.encode(
                        kind: "ls", scope: p.scope, fields: [page[page.count - 1]],
                        issuedMilliseconds: nowMilliseconds()))
                : nil,
            "StreamSummaries": .array(summaries),
        ])
    }

    // MARK: - ListShards

    func listShards(_ p: Params) throws -> JSON {
        // As AWS: MaxResults over 1000 returns at most 1000 shards.
        let maxResults = min(try p.int("MaxResults", in: 1...10_000) ?? 1000, 1000)
        let name: String
        var exclusiveStart: String?
        var filterType: String?
        var filterShard: String?
        var filterTime: Date?
        if let token = try p.string("NextToken") {
            guard !p.has("StreamName"), !p.has("StreamARN") else {
                throw KinesisError(.invalidArgument, "NextToken and StreamName cannot be provided together.")
            }
            guard !p.has("ExclusiveStartShardId"), !p.has("ShardFilter") else {
                throw KinesisError(
                    .invalidArgument, "NextToken cannot be combined with ExclusiveStartShardId or ShardFilter.")
            }
            guard let (fields, issued) = OpaqueToken.decode(kind: "sh", scope: p.scope, fieldCount: 5, token) else {
                throw KinesisError(.invalidArgument, "NextToken is not valid")
            }
            guard nowMilliseconds() - issued <= nextTokenValidityMilliseconds else {
                throw KinesisError(.expiredNextToken, "NextToken has expired (valid for 300 seconds)")
            }
            name = fields[0]
            exclusiveStart = fields[1]
            filterType = fields[2].isEmpty ? nil : fields[2]
            filterShard = fields[3].isEmpty ? nil : fields[3]
            if !fields[4].isEmpty {
                guard let ms = Int64(fields[4]), Params.timestampSeconds.contains(Double(ms) / 1000) else {
                    throw KinesisError(.invalidArgument, "NextToken is not valid")
                }
                filterTime = Date(timeIntervalSince1970: Double(ms) / 1000)
            }
        } else {
            guard p.has("StreamName") || p.has("StreamARN") else {
                throw KinesisError(.invalidArgument, "Either NextToken or StreamName should be provided.")
            }
            name = try Self.streamName(p)
            exclusiveStart = try p.string("ExclusiveStartShardId")
            if let filter = try p.object("ShardFilter") {
                filterType = try filter.requiredString("Type")
                filterShard = try filter.string("ShardId")
                filterTime = try filter.timestamp("Timestamp")
                // AWS's documented rules: ShardId only with AFTER_SHARD_ID, Timestamp only with the timestamp types.
                if filterShard != nil, filterType != "AFTER_SHARD_ID" {
                    throw KinesisError(
                        .invalidArgument,
                        "ShardFilter ShardId can only be used with type AFTER_SHARD_ID, not \(filterType ?? "")")
                }
                if filterTime != nil, filterType != "AT_TIMESTAMP", filterType != "FROM_TIMESTAMP" {
                    throw KinesisError(
                        .invalidArgument,
                        "ShardFilter Timestamp can only be used with type AT_TIMESTAMP or FROM_TIMESTAMP, not"
                            + " \(filterType ?? "")")
                }
            }
        }
        let r = try regional(p)
        let stream = try r.store.stream(named: name)
        let d = try stream.describe()
        let times = try r.extras.load(name).shardTimes
        var shards = try Self.filterShards(
            d, times: times, type: filterType, shardId: filterShard, timestamp: filterTime)
        if let start = exclusiveStart, !start.isEmpty { shards = shards.filter { $0.shardId > start } }
        let page = Array(shards.prefix(maxResults))
        let more = shards.count > page.count
        var token: JSON?
        if more, let last = page.last {
            token = .string(
                OpaqueToken.encode(
                    kind: "sh", scope: p.scope,
                    fields: [
                        name, last.shardId, filterType ?? "", filterShard ?? "",
                        filterTime.map { String(Self.milliseconds($0)) } ?? "",
                    ],
                    issuedMilliseconds: nowMilliseconds()))
        }
        return .fields(["Shards": .array(page.map(Self.shardJSON)), "NextToken": token])
    }

    /// Applies a `ShardFilter`. Times come from `server.json` for shards this server created or closed; others count
    /// as created with the stream and, if closed, closed now (the store does not record those times yet).
    static func filterShards(
        _ d: StreamDescription, times: [String: StreamExtras.ShardTimes], type: String?, shardId: String?,
        timestamp: Date?
    ) throws(KinesisError) -> [ShardDescription] {
        let created = milliseconds(d.streamCreationTimestamp)
        let now = nowMilliseconds()
        func openAt(_ s: ShardDescription, _ t: Int64) -> Bool {
            let c = times[s.shardId]?.created ?? created
            let end = s.isOpen ? Int64.max : (times[s.shardId]?.closed ?? now)
            return c <= t && t < end
        }
        func openFrom(_ s: ShardDescription, _ t: Int64) -> Bool {
            s.isOpen || (times[s.shardId]?.closed ?? now) > t
        }
        let retentionMilliseconds = Int64(min(max(d.retentionPeriodHours, 0), 1_000_000)) * 3_600_000
        let horizon = max(created, now - retentionMilliseconds)
        switch type {
        case nil, "FROM_TRIM_HORIZON"?:
            return d.shards.filter { openFrom($0, horizon) }
        case "AT_TRIM_HORIZON"?:
            return d.shards.filter { openAt($0, horizon) }
        case "AT_LATEST"?:
            return d.openShards
        case "AFTER_SHARD_ID"?:
            guard let shardId else {
                throw KinesisError(.invalidArgument, "ShardFilter type AFTER_SHARD_ID requires ShardId")
            }
            return d.shards.filter { $0.shardId > shardId }
        case "AT_TIMESTAMP"?, "FROM_TIMESTAMP"?:
            guard let timestamp else {
                throw KinesisError(.invalidArgument, "ShardFilter type \(type ?? "") requires Timestamp")
            }
            let t = max(created, milliseconds(timestamp))
            return d.shards.filter { type == "AT_TIMESTAMP" ? openAt($0, t) : openFrom($0, t) }
        case let other?:
            throw KinesisError(
                .validation,
                "ShardFilter Type '\(other)' must be one of AFTER_SHARD_ID, AT_TRIM_HORIZON, FROM_TRIM_HORIZON,"
                    + " AT_LATEST, AT_TIMESTAMP, FROM_TIMESTAMP")
        }
    }

    // MARK: - Resharding and retention

    /// Runs a reshard and records the creation/close times of the shards it opened and closed.
    private func reshard(_ stream: DataStream, _ p: Params, _ change: () throws -> Void) throws {
        let before = try stream.describe()
        try change()
        let after = try stream.describe()
        let now = nowMilliseconds()
        let wasOpen = Set(before.openShards.map(\.shardId))
        let known = Set(before.shards.map(\.shardId))
        try regional(p).extras.update(stream.name) { e in
            for s in after.shards {
                if !known.contains(s.shardId) { e.shardTimes[s.shardId, default: .init()].created = now }
                if wasOpen.contains(s.shardId) && !s.isOpen { e.shardTimes[s.shardId, default: .init()].closed = now }
            }
        }
    }

    private func requireProvisioned(_ stream: DataStream, _ op: String) throws {
        guard try stream.describe().streamModeDetails.streamMode == .provisioned else {
            throw KinesisError(
                .validation,
                "Request is invalid. Stream \(stream.name) under account \(stream.arn.account) is in On-Demand mode."
            )
        }
    }

    /// The canonical id (`shardId-000000000005`) of a shard id as AWS reads one: the digits after its last `-` (or
    /// all of it), below 2^31, whatever comes before (`shardId-5`, `shard-5`, `x-0005`, `5`); `nil` when they are
    /// not such digits.
    static func awsShardID(_ text: String) -> String? {
        let digits = text.split(separator: "-", omittingEmptySubsequences: false).last ?? Substring(text)
        guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        let significant = digits.drop { $0 == "0" }
        guard significant.count <= 10, let value = Int(significant.isEmpty ? "0" : significant), value < 1 << 31
        else { return nil }
        return ShardID.name(value)
    }

    /// The shard ids of a SplitShard/MergeShards request as AWS checks them: one that is not a shard id at all is
    /// `ResourceNotFoundException` before the stream is looked up (even for a stream that does not exist).
    private func reshardTargets(_ p: Params, _ keys: [String]) throws -> (DataStream, [String]) {
        var ids: [String] = []
        for key in keys {
            let text = try p.requiredString(key)
            guard let id = Self.awsShardID(text) else {
                let name = try Self.streamName(p)
                throw KinesisError(
                    .resourceNotFound,
                    "Could not find shard \(text) in stream \(name) under account \(p.scope.account).")
            }
            ids.append(id)
        }
        return (try openStream(p), ids)
    }

    func splitShard(_ p: Params) throws -> JSON {
        let (stream, ids) = try reshardTargets(p, ["ShardToSplit"])
        let shard = ids[0]
        let keyText = try p.requiredString("NewStartingHashKey")
        try requireProvisioned(stream, "SplitShard")
        // The model's pattern admits 39 digits; a key over 2^128-1 is outside every shard (AWS's range text below).
        let key = try? HashKey.parse(keyText)
        try Self.checkSplitKey(key, keyText: keyText, shard: shard, in: stream)
        // (`nil` reaches the store only for a shard that does not exist or is closed, which it refuses first.)
        try reshard(stream, p) { try stream.splitShard(shard, newStartingHashKey: key ?? .max) }
        return .fields([:])
    }

    /// AWS's rule for a split point, checked before the store is asked: strictly greater than one plus the shard's
    /// starting hash key and strictly less than its ending hash key, with AWS's text.
    static func checkSplitKey(_ key: UInt128?, keyText: String, shard: String, in stream: DataStream) throws {
        guard let index = try? ShardID.index(shard) else { return }
        let name = ShardID.name(index)
        guard let description = try stream.describe().shards.first(where: { $0.shardId == name }), description.isOpen,
            let start = UInt128(description.hashKeyRange.startingHashKey),
            let end = UInt128(description.hashKeyRange.endingHashKey)
        else { return }
        guard let key, key > start, key - start > 1, key < end else {
            throw KinesisError(
                .invalidArgument,
                "NewStartingHashKey \(keyText) used in SplitShard() on shard \(name) in stream \(stream.name) under"
                    + " account \(stream.arn.account) is not both greater than one plus the shard's StartingHashKey"
                    + " \(start) and less than the shard's EndingHashKey \(end).")
        }
    }

    func mergeShards(_ p: Params) throws -> JSON {
        let (stream, ids) = try reshardTargets(p, ["ShardToMerge", "AdjacentShardToMerge"])
        let (first, second) = (ids[0], ids[1])
        try requireProvisioned(stream, "MergeShards")
        try Self.checkMergeOrder(first, second, in: stream)
        try reshard(stream, p) { try stream.mergeShards(first, adjacentShardId: second) }
        return .fields([:])
    }

    /// AWS's rule for a merge, checked before the store is asked: `AdjacentShardToMerge` starts right after
    /// `ShardToMerge` ends (the inverse order is refused too), with AWS's text. Unknown or closed shards are left to
    /// the store's texts.
    static func checkMergeOrder(_ first: String, _ second: String, in stream: DataStream) throws {
        let shards = try stream.describe().shards
        guard let a = shards.first(where: { $0.shardId == first }), a.isOpen,
            let b = shards.first(where: { $0.shardId == second }), b.isOpen,
            let end = UInt128(a.hashKeyRange.endingHashKey), let start = UInt128(b.hashKeyRange.startingHashKey)
        else { return }
        guard end < .max, end + 1 == start else {
            throw KinesisError(
                .invalidArgument,
                "Shards \(first) and \(second) in stream \(stream.name) under account \(stream.arn.account) are not an"
                    + " adjacent pair of shards eligible for merging")
        }
    }

    func updateShardCount(_ p: Params) throws -> JSON {
        let stream = try openStream(p)
        let target = try p.requiredInt("TargetShardCount")
        let scaling = try p.requiredString("ScalingType")
        guard scaling == "UNIFORM_SCALING" else {
            throw KinesisError(.validation, "ScalingType must be UNIFORM_SCALING, not \(scaling)")
        }
        guard target >= 1 else {
            throw KinesisError(.validation, "TargetShardCount must be at least 1")
        }
        try requireProvisioned(stream, "UpdateShardCount")
        let current = try stream.describe().openShards.count
        try Self.checkShardCountTarget(target, open: current)
        try reshard(stream, p) { try stream.updateShardCount(target: target) }
        return .fields([
            "StreamName": .string(stream.name),
            "CurrentShardCount": .integer(current),
            "TargetShardCount": .integer(target),
            "StreamARN": .string(stream.arn.description),
        ])
    }

    /// AWS's `UpdateShardCount` limits, checked before the store is asked, with AWS's texts: at most the shard limit,
    /// at most double and at least half the open shards.
    static func checkShardCountTarget(_ target: Int, open: Int) throws(KinesisError) {
        let counts = " Current open shard count: \(open), Target shard count: \(target)"
        if target > Limits.shardCount.upperBound {
            throw KinesisError(
                .limitExceeded,
                "Target shard count or number of open shards cannot be greater than \(Limits.shardCount.upperBound)."
                    + counts)
        }
        if target > open * 2 {
            throw KinesisError(
                .limitExceeded, "UpdateShardCount cannot scale up over double your current open shard count." + counts)
        }
        if target * 2 < open {
            throw KinesisError(
                .limitExceeded, "UpdateShardCount cannot scale down below half your current open shard count." + counts)
        }
    }

    func changeRetention(_ p: Params, increase: Bool) throws -> JSON {
        let stream = try openStream(p)
        let hours = try p.requiredInt("RetentionPeriodHours")
        let current = try stream.describe().retentionPeriodHours
        if hours < Limits.retentionHours.lowerBound {
            throw KinesisError(
                .invalidArgument,
                "Minimum allowed retention period is \(Limits.retentionHours.lowerBound) hours. Requested retention"
                    + " period (\(hours) hours) is too short.")
        }
        if hours > Limits.retentionHours.upperBound {
            throw KinesisError(
                .invalidArgument,
                "Maximum allowed retention period is \(Limits.retentionHours.upperBound) hours. Requested retention"
                    + " period (\(hours) hours) is too long.")
        }
        if increase && hours < current {
            throw KinesisError(
                .invalidArgument,
                "Requested retention period (\(hours) hours) for stream \(stream.name) can not be shorter than"
                    + " existing retention period (\(current) hours). Use DecreaseRetentionPeriod API.")
        }
        if !increase && hours > current {
            throw KinesisError(
                .invalidArgument,
                "Requested retention period (\(hours) hours) for stream \(stream.name) can not be longer than"
                    + " existing retention period (\(current) hours). Use IncreaseRetentionPeriod API.")
        }
        try stream.setRetention(hours: hours)
        return .fields([:])
    }
}
