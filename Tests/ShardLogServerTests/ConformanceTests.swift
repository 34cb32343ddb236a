import Foundation
import ShardLogTestSupport
import ShardLogWire
import Testing

@testable import ShardLogServer

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// One answer of the server: status, headers (lower-cased names) and the JSON body's string members.
struct KinesisReply: Sendable {
    var status: Int
    var headers: [String: String]
    var body: [String: String]
    /// The body as sent.
    var raw: Data
}

/// Sends one raw request to the server on `port` (no SDK in between, so exact texts and keys are visible).
func kinesisRequest(
    port: Int, operation: String?, body: String, method: String = "POST", headers: [String: String] = [:]
) async throws -> KinesisReply {
    var request = URLRequest(url: try #require(URL(string: "http://127.0.0.1:\(port)/")))
    request.httpMethod = method
    request.setValue("application/x-amz-json-1.1", forHTTPHeaderField: "Content-Type")
    if let operation { request.setValue("Kinesis_20131202." + operation, forHTTPHeaderField: "X-Amz-Target") }
    for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
    if method != "OPTIONS" { request.httpBody = Data(body.utf8) }
    let (data, response) = try await URLSession.shared.data(for: request)
    let http = try #require(response as? HTTPURLResponse)
    var fields: [String: String] = [:]
    for (name, value) in http.allHeaderFields {
        if let n = name as? String, let v = value as? String { fields[n.lowercased()] = v }
    }
    var members: [String: String] = [:]
    if let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
        for (k, v) in object { members[k] = (v as? String) ?? "\(v)" }
    }
    return KinesisReply(status: http.statusCode, headers: fields, body: members, raw: data)
}

private let pattern = "[a-zA-Z0-9_.-]+"
private let streamARNPattern = "arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+"
private let arn = "arn:aws:kinesis:us-east-1:000000000000:stream/s"

/// Every served operation against AWS's answers: the model's constraints checked before anything else, one
/// `ValidationException` listing every violation, `SerializationException` (with AWS's capital `Message` key) for
/// members of the wrong JSON type, AWS's not-found texts, iterator and tag rules, CORS. Texts are AWS's as captured
/// by kinesalite's tests against the real service, or the model's constraint texts (see docs/kinesis-compatibility.md).
@Suite struct ConformanceTests {
    /// At least one shape violation per operation, with AWS's exact message; none of these streams exist, so any
    /// `ResourceNotFoundException` would mean the lookup ran before validation.
    @Test(arguments: [
        (
            "CreateStream", #"{"StreamName":"a?","ShardCount":0}"#,
            "2 validation errors detected: Value 'a?' at 'streamName' failed to satisfy constraint: Member must satisfy"
                + " regular expression pattern: \(pattern); Value '0' at 'shardCount' failed to satisfy constraint:"
                + " Member must have value greater than or equal to 1"
        ),
        (
            "DeleteStream", #"{"StreamName":""}"#,
            "2 validation errors detected: Value '' at 'streamName' failed to satisfy constraint: Member must satisfy"
                + " regular expression pattern: \(pattern); Value '' at 'streamName' failed to satisfy constraint:"
                + " Member must have length greater than or equal to 1"
        ),
        (
            "DescribeStream", #"{"StreamName":"s","Limit":10001}"#,
            "1 validation error detected: Value '10001' at 'limit' failed to satisfy constraint: Member must have value"
                + " less than or equal to 10000"
        ),
        (
            "DescribeStreamSummary", #"{"StreamARN":"arn:nope"}"#,
            "1 validation error detected: Value 'arn:nope' at 'streamARN' failed to satisfy constraint: Member must"
                + " satisfy regular expression pattern: \(streamARNPattern)"
        ),
        (
            "ListStreams", #"{"Limit":0}"#,
            "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value"
                + " greater than or equal to 1"
        ),
        (
            "ListShards", #"{"StreamName":"s","MaxResults":10001}"#,
            "1 validation error detected: Value '10001' at 'maxResults' failed to satisfy constraint: Member must have"
                + " value less than or equal to 10000"
        ),
        (
            "PutRecord", #"{"StreamName":"s","PartitionKey":"k"}"#,
            "1 validation error detected: Value null at 'data' failed to satisfy constraint: Member must not be null"
        ),
        (
            "PutRecords", #"{"StreamName":"s","Records":[{"Data":"AAAA","PartitionKey":"k"},{"PartitionKey":""}]}"#,
            "2 validation errors detected: Value null at 'records.2.member.data' failed to satisfy constraint: Member"
                + " must not be null; Value '' at 'records.2.member.partitionKey' failed to satisfy constraint: Member"
                + " must have length greater than or equal to 1"
        ),
        (
            "GetShardIterator", #"{"StreamName":"s","ShardId":"shardId-0","ShardIteratorType":"OLDEST"}"#,
            "1 validation error detected: Value 'OLDEST' at 'shardIteratorType' failed to satisfy constraint: Member"
                + " must satisfy enum value set: [AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER, TRIM_HORIZON, LATEST,"
                + " AT_TIMESTAMP]"
        ),
        (
            "GetRecords", #"{"ShardIterator":"x","Limit":10001}"#,
            "1 validation error detected: Value '10001' at 'limit' failed to satisfy constraint: Member must have value"
                + " less than or equal to 10000"
        ),
        (
            "SplitShard", #"{"StreamName":"s","ShardToSplit":"?","NewStartingHashKey":"x"}"#,
            "2 validation errors detected: Value '?' at 'shardToSplit' failed to satisfy constraint: Member must"
                + " satisfy regular expression pattern: \(pattern); Value 'x' at 'newStartingHashKey' failed to"
                + " satisfy constraint: Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})"
        ),
        (
            "MergeShards", #"{"StreamName":"s","ShardToMerge":"a b"}"#,
            "2 validation errors detected: Value 'a b' at 'shardToMerge' failed to satisfy constraint: Member must"
                + " satisfy regular expression pattern: \(pattern); Value null at 'adjacentShardToMerge' failed to"
                + " satisfy constraint: Member must not be null"
        ),
        (
            "UpdateShardCount", #"{"StreamName":"s","TargetShardCount":0,"ScalingType":"FAST"}"#,
            "2 validation errors detected: Value '0' at 'targetShardCount' failed to satisfy constraint: Member must"
                + " have value greater than or equal to 1; Value 'FAST' at 'scalingType' failed to satisfy"
                + " constraint: Member must satisfy enum value set: [UNIFORM_SCALING]"
        ),
        (
            "IncreaseStreamRetentionPeriod", #"{"StreamName":"s"}"#,
            "1 validation error detected: Value null at 'retentionPeriodHours' failed to satisfy constraint: Member"
                + " must not be null"
        ),
        (
            "DecreaseStreamRetentionPeriod", #"{"StreamName":"s"}"#,
            "1 validation error detected: Value null at 'retentionPeriodHours' failed to satisfy constraint: Member"
                + " must not be null"
        ),
        (
            "AddTagsToStream", #"{"StreamName":"s","Tags":{}}"#,
            "1 validation error detected: Value '{}' at 'tags' failed to satisfy constraint: Member must have length"
                + " greater than or equal to 1"
        ),
        (
            "RemoveTagsFromStream", #"{"StreamName":"s","TagKeys":[""]}"#,
            "1 validation error detected: Value '[]' at 'tagKeys' failed to satisfy constraint: Member must satisfy"
                + " constraint: [Member must have length less than or equal to 128, Member must have length greater"
                + " than or equal to 1]"
        ),
        (
            "ListTagsForStream", #"{"StreamName":"s","Limit":51}"#,
            "1 validation error detected: Value '51' at 'limit' failed to satisfy constraint: Member must have value"
                + " less than or equal to 50"
        ),
        (
            "TagResource", #"{"ResourceARN":"x","Tags":{"k":"v"}}"#,
            "1 validation error detected: Value 'x' at 'resourceARN' failed to satisfy constraint: Member must satisfy"
                + " regular expression pattern: arn:aws.*:kinesis:.*:\\d{12}:.*stream/\\S+"
        ),
        (
            "UntagResource", #"{"ResourceARN":"\#(arn)","TagKeys":[]}"#,
            "1 validation error detected: Value '[]' at 'tagKeys' failed to satisfy constraint: Member must have"
                + " length greater than or equal to 1"
        ),
        (
            "ListTagsForResource", "{}",
            "1 validation error detected: Value null at 'resourceARN' failed to satisfy constraint: Member must not"
                + " be null"
        ),
        (
            "RegisterStreamConsumer", #"{"StreamARN":"\#(arn)","ConsumerName":""}"#,
            "2 validation errors detected: Value '' at 'consumerName' failed to satisfy constraint: Member must"
                + " satisfy regular expression pattern: \(pattern); Value '' at 'consumerName' failed to satisfy"
                + " constraint: Member must have length greater than or equal to 1"
        ),
        (
            "DescribeStreamConsumer", #"{"ConsumerARN":"nope"}"#,
            "1 validation error detected: Value 'nope' at 'consumerARN' failed to satisfy constraint: Member must"
                + " satisfy regular expression pattern:"
                + " ^(arn):aws.*:kinesis:.*:\\d{12}:.*stream\\/[a-zA-Z0-9_.-]+\\/consumer\\/[a-zA-Z0-9_.-]+:[0-9]+"
        ),
        (
            "ListStreamConsumers", "{}",
            "1 validation error detected: Value null at 'streamARN' failed to satisfy constraint: Member must not be"
                + " null"
        ),
        (
            "DeregisterStreamConsumer", #"{"StreamARN":"\#(arn)","ConsumerName":"a?"}"#,
            "1 validation error detected: Value 'a?' at 'consumerName' failed to satisfy constraint: Member must"
                + " satisfy regular expression pattern: \(pattern)"
        ),
        (
            "EnableEnhancedMonitoring", #"{"StreamName":"s","ShardLevelMetrics":["Bogus"]}"#,
            "1 validation error detected: Value '[Bogus]' at 'shardLevelMetrics' failed to satisfy constraint: Member"
                + " must satisfy constraint: [Member must satisfy enum value set: [IncomingBytes, IncomingRecords,"
                + " OutgoingBytes, OutgoingRecords, WriteProvisionedThroughputExceeded,"
                + " ReadProvisionedThroughputExceeded, IteratorAgeMilliseconds, ALL]]"
        ),
        (
            "DisableEnhancedMonitoring", #"{"StreamName":"s","ShardLevelMetrics":[]}"#,
            "1 validation error detected: Value '[]' at 'shardLevelMetrics' failed to satisfy constraint: Member must"
                + " have length greater than or equal to 1"
        ),
        (
            "SubscribeToShard",
            #"{"ConsumerARN":"\#(arn)/consumer/c:1","ShardId":"shardId-0","StartingPosition":{"Type":"NOW"}}"#,
            "1 validation error detected: Value 'NOW' at 'startingPosition.type' failed to satisfy constraint: Member"
                + " must satisfy enum value set: [AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER, TRIM_HORIZON, LATEST,"
                + " AT_TIMESTAMP]"
        ),
    ])
    func shapeViolationsComeFirst(operation: String, body: String, message: String) async throws {
        try await withServer { port in
            let reply = try await kinesisRequest(port: port, operation: operation, body: body)
            #expect(reply.status == 400)
            #expect(reply.body["__type"] == "ValidationException")
            #expect(reply.body["message"] == message)
            #expect(reply.headers["x-amzn-errortype"] == "ValidationException")
        }
    }

    /// A member of the wrong JSON type in every operation: `SerializationException` with AWS's Coral text under
    /// the key `Message`.
    @Test(arguments: [
        ("CreateStream", #"{"StreamName":5}"#, "class java.math.BigDecimal can not be converted to an String"),
        (
            "DeleteStream", #"{"StreamName":"s","EnforceConsumerDeletion":"yes"}"#,
            "'YES' can not be converted to an Boolean"
        ),
        (
            "DescribeStream", #"{"StreamName":"s","Limit":"5"}"#,
            "class java.lang.String can not be converted to an Integer"
        ),
        ("DescribeStreamSummary", #"{"StreamName":true}"#, "class java.lang.Boolean can not be converted to an String"),
        ("ListStreams", #"{"Limit":true}"#, "class java.lang.Boolean can not be converted to an Integer"),
        ("ListShards", #"{"StreamName":"s","ShardFilter":"AT_LATEST"}"#, "Expected null"),
        (
            "PutRecord", #"{"StreamName":"s","PartitionKey":"k","Data":5}"#,
            "class java.math.BigDecimal can not be converted to a Blob"
        ),
        (
            "PutRecord", #"{"StreamName":"s","PartitionKey":"k","Data":"abc"}"#,
            "'abc' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4 bytes but found: 3"
        ),
        ("PutRecords", #"{"StreamName":"s","Records":{"a":1}}"#, "Start of structure or map found where not expected."),
        ("GetShardIterator", #"{"StreamName":"s","ShardId":["a"]}"#, "Start of list found where not expected"),
        ("GetRecords", #"{"ShardIterator":{}}"#, "Start of structure or map found where not expected."),
        (
            "SplitShard", #"{"StreamName":"s","NewStartingHashKey":1}"#,
            "class java.math.BigDecimal can not be converted to an String"
        ),
        (
            "MergeShards", #"{"StreamName":"s","ShardToMerge":false}"#,
            "class java.lang.Boolean can not be converted to an String"
        ),
        (
            "UpdateShardCount", #"{"StreamName":"s","TargetShardCount":"2"}"#,
            "class java.lang.String can not be converted to an Integer"
        ),
        (
            "IncreaseStreamRetentionPeriod", #"{"StreamName":"s","RetentionPeriodHours":"48"}"#,
            "class java.lang.String can not be converted to an Integer"
        ),
        (
            "DecreaseStreamRetentionPeriod", #"{"StreamName":"s","RetentionPeriodHours":[48]}"#,
            "Start of list found where not expected"
        ),
        ("AddTagsToStream", #"{"StreamName":"s","Tags":["a"]}"#, "Start of list found where not expected"),
        ("RemoveTagsFromStream", #"{"StreamName":"s","TagKeys":"a"}"#, "Expected list or null"),
        (
            "ListTagsForStream", #"{"StreamName":"s","ExclusiveStartTagKey":1}"#,
            "class java.math.BigDecimal can not be converted to an String"
        ),
        ("TagResource", #"{"ResourceARN":"\#(arn)","Tags":"k=v"}"#, "Expected map or null"),
        (
            "UntagResource", #"{"ResourceARN":"\#(arn)","TagKeys":[1]}"#,
            "class java.math.BigDecimal can not be converted to an String"
        ),
        ("ListTagsForResource", #"{"ResourceARN":1}"#, "class java.math.BigDecimal can not be converted to an String"),
        (
            "RegisterStreamConsumer", #"{"StreamARN":"\#(arn)","ConsumerName":true}"#,
            "class java.lang.Boolean can not be converted to an String"
        ),
        ("DescribeStreamConsumer", #"{"ConsumerARN":[]}"#, "Start of list found where not expected"),
        (
            "ListStreamConsumers", #"{"StreamARN":"\#(arn)","MaxResults":"x"}"#,
            "class java.lang.String can not be converted to an Integer"
        ),
        ("DeregisterStreamConsumer", #"{"StreamARN":{}}"#, "Start of structure or map found where not expected."),
        ("EnableEnhancedMonitoring", #"{"StreamName":"s","ShardLevelMetrics":"ALL"}"#, "Expected list or null"),
        (
            "DisableEnhancedMonitoring", #"{"StreamName":"s","ShardLevelMetrics":[true]}"#,
            "class java.lang.Boolean can not be converted to an String"
        ),
        (
            "SubscribeToShard", #"{"ShardId":"shardId-0","StartingPosition":[]}"#,
            "Start of list found where not expected"
        ),
    ])
    func wrongTypesAreSerializationExceptions(operation: String, body: String, message: String) async throws {
        try await withServer { port in
            let reply = try await kinesisRequest(port: port, operation: operation, body: body)
            #expect(reply.status == 400)
            #expect(reply.body["__type"] == "SerializationException")
            #expect(reply.body["Message"] == message)
            #expect(reply.body["message"] == nil)
        }
    }

    /// AWS reports at most ten violations, and counts what it reports.
    @Test func tenViolationsAtMost() async throws {
        try await withServer { port in
            let records = Array(repeating: #"{"PartitionKey":""}"#, count: 6).joined(separator: ",")
            let reply = try await kinesisRequest(
                port: port, operation: "PutRecords", body: #"{"StreamName":"s","Records":[\#(records)]}"#)
            let message = try #require(reply.body["message"])
            #expect(message.hasPrefix("10 validation errors detected: Value null at 'records.1.member.data'"))
            #expect(message.components(separatedBy: "; ").count == 10)
        }
    }

    /// The store's texts in AWS's words: streams, shards, retention.
    @Test func notFoundAndRuleTextsAreAWSs() async throws {
        try await withServer { port in
            func call(_ op: String, _ body: String) async throws -> KinesisReply {
                try await kinesisRequest(port: port, operation: op, body: body)
            }
            #expect(try await call("CreateStream", #"{"StreamName":"s","ShardCount":1}"#).status == 200)
            // A fractional number for an integer member is truncated, as AWS does, not refused.
            #expect(try await call("ListStreams", #"{"Limit":1.5}"#).status == 200)
            let missing = try await call("DescribeStream", #"{"StreamName":"nope"}"#)
            #expect(missing.body["__type"] == "ResourceNotFoundException")
            #expect(missing.body["message"] == "Stream nope under account 000000000000 not found.")
            let again = try await call("CreateStream", #"{"StreamName":"s","ShardCount":1}"#)
            #expect(again.body["__type"] == "ResourceInUseException")
            #expect(again.body["message"] == "Stream s under account 000000000000 already exists.")
            let unknownShard = try await call(
                "GetShardIterator", #"{"StreamName":"s","ShardId":"unknown","ShardIteratorType":"LATEST"}"#)
            #expect(
                unknownShard.body["message"] == "Could not find shard unknown in stream s under account 000000000000.")
            let absentShard = try await call(
                "GetShardIterator", #"{"StreamName":"s","ShardId":"shardId-5","ShardIteratorType":"LATEST"}"#)
            #expect(
                absentShard.body["message"]
                    == "Shard shardId-000000000005 in stream s under account 000000000000 does not exist")
            let split = try await call(
                "SplitShard", #"{"StreamName":"s","ShardToSplit":"shardId-000000000007","NewStartingHashKey":"5"}"#)
            #expect(split.body["__type"] == "ResourceNotFoundException")
            #expect(
                split.body["message"]
                    == "Could not find shard shardId-000000000007 in stream s under account 000000000000.")
            #expect(
                try await call("IncreaseStreamRetentionPeriod", #"{"StreamName":"s","RetentionPeriodHours":48}"#)
                    .status == 200)
            let shorter = try await call(
                "IncreaseStreamRetentionPeriod", #"{"StreamName":"s","RetentionPeriodHours":30}"#)
            #expect(
                shorter.body["message"]
                    == "Requested retention period (30 hours) for stream s can not be shorter than existing retention"
                    + " period (48 hours). Use DecreaseRetentionPeriod API.")
            let longer = try await call(
                "DecreaseStreamRetentionPeriod", #"{"StreamName":"s","RetentionPeriodHours":72}"#)
            #expect(
                longer.body["message"]
                    == "Requested retention period (72 hours) for stream s can not be longer than existing retention"
                    + " period (48 hours). Use IncreaseRetentionPeriod API.")
        }
    }

    /// Resharding refusals, on-demand streams and unknown consumers in AWS's words.
    @Test func reshardingTextsAreAWSs() async throws {
        try await withServer { port in
            func call(_ op: String, _ body: String) async throws -> KinesisReply {
                try await kinesisRequest(port: port, operation: op, body: body)
            }
            #expect(try await call("CreateStream", #"{"StreamName":"r","ShardCount":1}"#).status == 200)
            let low = try await call(
                "SplitShard", #"{"StreamName":"r","ShardToSplit":"shardId-000000000000","NewStartingHashKey":"1"}"#)
            #expect(low.body["__type"] == "InvalidArgumentException")
            #expect(
                low.body["message"]
                    == "NewStartingHashKey 1 used in SplitShard() on shard shardId-000000000000 in stream r under"
                    + " account 000000000000 is not both greater than one plus the shard's StartingHashKey 0 and less"
                    + " than the shard's EndingHashKey 340282366920938463463374607431768211455.")
            let half = "170141183460469231731687303715884105728"
            #expect(
                try await call(
                    "SplitShard", #"{"StreamName":"r","ShardToSplit":"shardId-000000000000","NewStartingHashKey":"2"}"#
                ).status == 200)
            let closed = try await call(
                "SplitShard",
                #"{"StreamName":"r","ShardToSplit":"shardId-000000000000","NewStartingHashKey":"\#(half)"}"#)
            #expect(
                closed.body["message"]
                    == "Shard shardId-000000000000 in stream r under account 000000000000 has already been merged or"
                    + " split, and thus is not eligible for merging or splitting.")
            #expect(try await call("CreateStream", #"{"StreamName":"m","ShardCount":3}"#).status == 200)
            let apart = try await call(
                "MergeShards",
                #"{"StreamName":"m","ShardToMerge":"shardId-000000000000","AdjacentShardToMerge":"shardId-000000000002"}"#
            )
            #expect(
                apart.body["message"]
                    == "Shards shardId-000000000000 and shardId-000000000002 in stream m under account 000000000000 are"
                    + " not an adjacent pair of shards eligible for merging")
            #expect(
                try await call("CreateStream", #"{"StreamName":"od","StreamModeDetails":{"StreamMode":"ON_DEMAND"}}"#)
                    .status == 200)
            // Neither ShardCount nor StreamModeDetails: AWS creates an on-demand stream (4 shards to start with).
            #expect(try await call("CreateStream", #"{"StreamName":"bare"}"#).status == 200)
            let bare = try JSON(
                parsing: Array(try await call("DescribeStreamSummary", #"{"StreamName":"bare"}"#).raw))
            #expect(bare["StreamDescriptionSummary"]?["StreamModeDetails"]?["StreamMode"] == .string("ON_DEMAND"))
            #expect(bare["StreamDescriptionSummary"]?["OpenShardCount"]?.intValue == 4)
            let onDemand = try await call(
                "SplitShard", #"{"StreamName":"od","ShardToSplit":"shardId-000000000000","NewStartingHashKey":"5"}"#)
            #expect(onDemand.body["__type"] == "ValidationException")
            #expect(
                onDemand.body["message"]
                    == "Request is invalid. Stream od under account 000000000000 is in On-Demand mode.")
            let consumer = try await call(
                "DescribeStreamConsumer",
                #"{"StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/r","ConsumerName":"c"}"#)
            #expect(consumer.body["__type"] == "ResourceNotFoundException")
            #expect(consumer.body["message"] == "Consumer c, account 000000000000 not found.")
        }
    }

    /// ListShards' addressing rules and the tag limit in AWS's words (kinesalite's texts, recorded from AWS).
    @Test func listShardsAndTagLimitTextsAreAWSs() async throws {
        try await withServer { port in
            func call(_ op: String, _ body: String) async throws -> KinesisReply {
                try await kinesisRequest(port: port, operation: op, body: body)
            }
            #expect(try await call("CreateStream", #"{"StreamName":"s","ShardCount":2}"#).status == 200)
            let neither = try await call("ListShards", "{}")
            #expect(neither.body["__type"] == "InvalidArgumentException")
            #expect(neither.body["message"] == "Either NextToken or StreamName should be provided.")
            let first = try await call("ListShards", #"{"StreamName":"s","MaxResults":1}"#)
            let token = try #require(first.body["NextToken"])
            for addressing in [#""StreamName":"s""#, #""StreamARN":"\#(arn)""#] {
                let both = try await call("ListShards", #"{"NextToken":"\#(token)",\#(addressing)}"#)
                #expect(both.body["__type"] == "InvalidArgumentException")
                #expect(both.body["message"] == "NextToken and StreamName cannot be provided together.")
            }
            #expect(try await call("ListShards", #"{"NextToken":"\#(token)"}"#).status == 200)
            // ShardFilter members only with the types AWS documents them for (our wording).
            for filter in [
                #"{"Type":"AT_LATEST","ShardId":"shardId-000000000000"}"#, #"{"Type":"AT_LATEST","Timestamp":1}"#,
                #"{"Type":"AFTER_SHARD_ID"}"#, #"{"Type":"AT_TIMESTAMP"}"#,
            ] {
                let refused = try await call("ListShards", #"{"StreamName":"s","ShardFilter":\#(filter)}"#)
                #expect(refused.body["__type"] == "InvalidArgumentException", "\(filter)")
            }
            #expect(
                try await call(
                    "ListShards", #"{"StreamName":"s","ShardFilter":{"Type":"AT_TIMESTAMP","Timestamp":1}}"#
                ).status == 200)
            let fifty = (0..<50).map { #""k\#($0)":"v""# }.joined(separator: ",")
            #expect(try await call("AddTagsToStream", #"{"StreamName":"s","Tags":{\#(fifty)}}"#).status == 200)
            let over = try await call("AddTagsToStream", #"{"StreamName":"s","Tags":{"one":"more"}}"#)
            #expect(over.body["__type"] == "InvalidArgumentException")
            #expect(
                over.body["message"]
                    == "Failed to add tags to stream s under account 000000000000 because a given stream cannot have"
                    + " more than 50 tags associated with it.")
            // Replacing the value of a tag the stream has is not a 51st tag.
            #expect(try await call("AddTagsToStream", #"{"StreamName":"s","Tags":{"k0":"w"}}"#).status == 200)
        }
    }

    /// Consumers have tags of their own (RegisterStreamConsumer `Tags`, the generic tag APIs on a consumer ARN),
    /// checked as a stream's are; none is lost and the stream's tags stay apart.
    @Test func consumerTagsAreKept() async throws {
        try await withServer { port in
            func call(_ op: String, _ body: String) async throws -> KinesisReply {
                try await kinesisRequest(port: port, operation: op, body: body)
            }
            func object(_ op: String, _ body: String) async throws -> [String: Any] {
                try await kinesisJSON(port, op, body).json
            }
            func tags(_ resource: String) async throws -> [String: String] {
                let reply = try await object("ListTagsForResource", #"{"ResourceARN":"\#(resource)"}"#)
                let list = try #require(reply["Tags"] as? [[String: String]])
                return Dictionary(
                    uniqueKeysWithValues: list.compactMap { t in t["Key"].map { ($0, t["Value"] ?? "") } })
            }
            #expect(try await call("CreateStream", #"{"StreamName":"s","ShardCount":1}"#).status == 200)
            let refused = try await call(
                "RegisterStreamConsumer", #"{"StreamARN":"\#(arn)","ConsumerName":"c","Tags":{"k":"v!"}}"#)
            #expect(refused.body["__type"] == "InvalidArgumentException")
            let registered = try await object(
                "RegisterStreamConsumer", #"{"StreamARN":"\#(arn)","ConsumerName":"c","Tags":{"team":"core"}}"#)
            let consumer = try #require(registered["Consumer"] as? [String: Any])
            let consumerARN = try #require(consumer["ConsumerARN"] as? String)
            #expect(try await tags(consumerARN) == ["team": "core"])
            #expect(
                try await call("TagResource", #"{"ResourceARN":"\#(consumerARN)","Tags":{"env":"dev"}}"#).status == 200)
            #expect(
                try await call("UntagResource", #"{"ResourceARN":"\#(consumerARN)","TagKeys":["team"]}"#).status
                    == 200)
            #expect(try await tags(consumerARN) == ["env": "dev"])
            #expect(try await tags(arn) == [:])
            let gone = try await call(
                "ListTagsForResource", #"{"ResourceARN":"\#(arn)/consumer/other:1"}"#)
            #expect(gone.body["__type"] == "ResourceNotFoundException")
        }
    }

    /// A record over the stream's 1 MiB is refused with AWS's (pre-UpdateMaxRecordSize) text and member path.
    @Test func oversizeRecordTextIsAWSs() async throws {
        try await withServer { port in
            _ = try await kinesisRequest(
                port: port, operation: "CreateStream", body: #"{"StreamName":"s","ShardCount":1}"#)
            let big = Data(repeating: 7, count: 1_048_577).base64EncodedString()
            let reply = try await kinesisRequest(
                port: port, operation: "PutRecords",
                body:
                    #"{"StreamName":"s","Records":[{"Data":"AA==","PartitionKey":"k"},{"Data":"\#(big)","PartitionKey":"k"}]}"#
            )
            #expect(reply.body["__type"] == "ValidationException")
            #expect(
                reply.body["message"]
                    == "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=1048577 cap=1048577]' at"
                    + " 'records.2.member.data' failed to satisfy constraint: Member must have length less than or"
                    + " equal to 1048576")
        }
    }

    /// Iterator types with a sequence number they must not carry, or without one they need, as AWS refuses them.
    @Test func iteratorRulesAreAWSs() async throws {
        try await withServer { port in
            func iterator(_ extra: String) async throws -> KinesisReply {
                try await kinesisRequest(
                    port: port, operation: "GetShardIterator",
                    body: #"{"StreamName":"s","ShardId":"shardId-000000000000",\#(extra)}"#)
            }
            _ = try await kinesisRequest(
                port: port, operation: "CreateStream", body: #"{"StreamName":"s","ShardCount":1}"#)
            let rule =
                "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or (2)"
                + " TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified "
            for type in ["LATEST", "TRIM_HORIZON", "AT_TIMESTAMP"] {
                let reply = try await iterator(
                    #""ShardIteratorType":"\#(type)","StartingSequenceNumber":"1","Timestamp":1"#)
                #expect(reply.body["__type"] == "InvalidArgumentException")
                #expect(reply.body["message"] == rule + type + " and also a StartingSequenceNumber.")
            }
            for type in ["AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"] {
                let reply = try await iterator(#""ShardIteratorType":"\#(type)""#)
                #expect(reply.body["__type"] == "InvalidArgumentException")
                #expect(reply.body["message"] == rule + type + " and no StartingSequenceNumber.")
            }
            let noTime = try await iterator(#""ShardIteratorType":"AT_TIMESTAMP""#)
            #expect(
                noTime.body["message"]
                    == "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request"
                    + " has no timestamp parameter.")
            let future = try await iterator(#""ShardIteratorType":"AT_TIMESTAMP","Timestamp":4102444800"#)
            #expect(
                future.body["message"]?.hasPrefix(
                    "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis."
                        + " timestampInMillis: 4102444800000, currentTimestampInMillis: ") == true)
            #expect(try await iterator(#""ShardIteratorType":"LATEST""#).status == 200)
        }
    }

    /// GetRecords as AWS answers it: an iterator in double quotes is read, every NextShardIterator is new even when
    /// nothing moved, and an iterator of a deleted stream names its shard.
    @Test func getRecordsIteratorsAsAWS() async throws {
        try await withServer { port in
            func call(_ operation: String, _ body: String) async throws -> KinesisReply {
                try await kinesisRequest(port: port, operation: operation, body: body)
            }
            _ = try await call("CreateStream", #"{"StreamName":"q","ShardCount":1}"#)
            _ = try await call("PutRecord", #"{"StreamName":"q","PartitionKey":"k","Data":"aGk="}"#)
            let issued = try await call(
                "GetShardIterator",
                #"{"StreamName":"q","ShardId":"shardId-000000000000","ShardIteratorType":"TRIM_HORIZON"}"#)
            let iterator = try #require(issued.body["ShardIterator"])
            let quoted = try await call("GetRecords", #"{"ShardIterator":"\"\#(iterator)\""}"#)
            #expect(quoted.status == 200, "\(quoted.body)")
            let records = try JSON(parsing: Array(quoted.raw))["Records"]?.arrayValue
            #expect(records?.count == 1)
            // At the tip, with nothing new: each call still hands out a new iterator.
            var next = try #require(quoted.body["NextShardIterator"])
            var seen: Set<String> = [iterator, next]
            for _ in 0..<20 {
                let reply = try await call("GetRecords", #"{"ShardIterator":"\#(next)"}"#)
                next = try #require(reply.body["NextShardIterator"])
                #expect(seen.insert(next).inserted, "NextShardIterator repeated an iterator")
            }
            _ = try await call("DeleteStream", #"{"StreamName":"q"}"#)
            let gone = try await call("GetRecords", #"{"ShardIterator":"\#(next)"}"#)
            #expect(gone.body["__type"] == "ResourceNotFoundException")
            #expect(
                gone.body["message"]
                    == "Shard shardId-000000000000 in stream q under account 000000000000 does not exist")
        }
    }

    /// Page sizes over AWS's maximum return the maximum (DescribeStream 100 shards), and a sequence number of
    /// another shard is refused with AWS's text.
    @Test func pageMaximumsAndForeignSequenceNumbersAsAWS() async throws {
        try await withServer { port in
            func call(_ operation: String, _ body: String) async throws -> KinesisReply {
                try await kinesisRequest(port: port, operation: operation, body: body)
            }
            _ = try await call("CreateStream", #"{"StreamName":"wide","ShardCount":120}"#)
            let page = try JSON(
                parsing: Array(try await call("DescribeStream", #"{"StreamName":"wide","Limit":10000}"#).raw))
            #expect(page["StreamDescription"]?["Shards"]?.arrayValue?.count == 100)
            #expect(page["StreamDescription"]?["HasMoreShards"] == .bool(true))
            let all = try JSON(
                parsing: Array(try await call("ListShards", #"{"StreamName":"wide","MaxResults":10000}"#).raw))
            #expect(all["Shards"]?.arrayValue?.count == 120)
            let put = try await call("PutRecord", #"{"StreamName":"wide","PartitionKey":"k","Data":"aGk="}"#)
            let sequence = try #require(put.body["SequenceNumber"])
            let shard = try #require(put.body["ShardId"])
            let other = shard == "shardId-000000000000" ? "shardId-000000000001" : "shardId-000000000000"
            let foreign = try await call(
                "GetShardIterator",
                #"{"StreamName":"wide","ShardId":"\#(other)","ShardIteratorType":"AT_SEQUENCE_NUMBER","StartingSequenceNumber":"\#(sequence)"}"#
            )
            #expect(foreign.body["__type"] == "InvalidArgumentException")
            #expect(
                foreign.body["message"]
                    == "Invalid StartingSequenceNumber. It encodes \(shard), while it was used in a call to a shard with \(other)"
            )
        }
    }

    /// Tags outside AWS's lengths and character set are refused with AWS's texts; valid Unicode tags are kept.
    @Test func tagRulesAreAWSs() async throws {
        try await withServer { port in
            func tag(_ tags: String) async throws -> KinesisReply {
                try await kinesisRequest(
                    port: port, operation: "AddTagsToStream", body: #"{"StreamName":"s","Tags":\#(tags)}"#)
            }
            _ = try await kinesisRequest(
                port: port, operation: "CreateStream", body: #"{"StreamName":"s","ShardCount":1}"#)
            let bang = try await tag(#"{"k":"v!"}"#)
            #expect(bang.body["__type"] == "InvalidArgumentException")
            #expect(
                bang.body["message"]
                    == "Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space,"
                    + " _ . / = + - % @ :.")
            let percent = try await tag(#"{"k%":"v"}"#)
            #expect(
                percent.body["message"]
                    == "Failed to add tags to stream s under account 000000000000 because some tags contained illegal"
                    + " characters. The allowed characters are Unicode letters, white-spaces,"
                    + " '_',',','/','=','+','-','@',':'.")
            let longKey = String(repeating: "k", count: 129)
            let keyReply = try await tag(#"{"\#(longKey)":"v"}"#)
            #expect(
                keyReply.body["message"]
                    == "1 validation error detected: Value '{\(longKey)=v}' at 'tags' failed to satisfy constraint: Map"
                    + " keys must satisfy constraint: [Member must have length less than or equal to 128, Member must"
                    + " have length greater than or equal to 1]")
            let longValue = String(repeating: "v", count: 257)
            let valueReply = try await tag(#"{"k":"\#(longValue)"}"#)
            #expect(
                valueReply.body["message"]
                    == "1 validation error detected: Value '{k=\(longValue)}' at 'tags' failed to satisfy constraint:"
                    + " Map value must satisfy constraint: [Member must have length less than or equal to 256, Member"
                    + " must have length greater than or equal to 0]")
            #expect(try await tag(#"{"Équipe":"données 1/2 @x:y=z+w-v_u.t"}"#).status == 200)
            let listed = try await kinesisRequest(
                port: port, operation: "ListTagsForStream", body: #"{"StreamName":"s"}"#)
            #expect(listed.status == 200)
        }
    }

    /// Preflights are answered without a signature; responses to requests with an `Origin` carry AWS's headers.
    @Test func corsAsAWSSendsIt() async throws {
        var options = KinesisServerOptions()
        options.credentials = ["AKIDCORS": "secret"]
        try await withServer(options) { port in
            let preflight = try await kinesisRequest(
                port: port, operation: nil, body: "", method: "OPTIONS",
                headers: [
                    "Origin": "http://app.example", "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "content-type,x-amz-target,x-amz-date,authorization",
                ])
            #expect(preflight.status == 200)
            #expect(preflight.headers["access-control-allow-origin"] == "*")
            #expect(preflight.headers["access-control-allow-methods"] == "POST")
            #expect(
                preflight.headers["access-control-allow-headers"]
                    == "content-type,x-amz-target,x-amz-date,authorization")
            #expect(preflight.headers["access-control-max-age"] == "172800")
            #expect(preflight.headers["access-control-expose-headers"]?.contains("x-amzn-RequestId") == true)
            let refused = try await kinesisRequest(
                port: port, operation: "ListStreams", body: "{}", headers: ["Origin": "http://app.example"])
            #expect(refused.body["__type"] == "MissingAuthenticationTokenException")
            #expect(refused.headers["access-control-allow-origin"] == "*")
            #expect(
                refused.headers["access-control-expose-headers"]
                    == "x-amzn-RequestId,x-amzn-ErrorType,x-amz-request-id,x-amz-id-2,x-amzn-ErrorMessage,Date")
            let noOrigin = try await kinesisRequest(port: port, operation: "ListStreams", body: "{}")
            #expect(noOrigin.headers["access-control-allow-origin"] == nil)
        }
    }
}
