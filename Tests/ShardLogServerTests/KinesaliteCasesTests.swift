import Foundation
import ShardLogTestSupport
import Testing

@testable import ShardLogServer

/// One assertion of kinesalite's test suite (github.com/mhart/kinesalite, `test/*.js`), whose expected answers were
/// recorded against Amazon Kinesis, ported as data: the request, then the error code and either the exact message or,
/// for a `ValidationException`, its violations in any order (as kinesalite's `assertValidation` compares them).
///
/// Placeholders: `{stream}` is a 3-shard stream created before the request (kinesalite's `helpers.testStream`),
/// `{unknown}` a stream that does not exist, `{account}` the account (`000000000000`).
struct KinesaliteCase: Sendable, CustomTestStringConvertible {
    /// The kinesalite test file and the test's name.
    var source: String
    var operation: String
    var body: String
    var code: String
    var message: String? = nil
    var violations: [String] = []
    /// Requests made before this one (operation, body), e.g. streams of other shard counts.
    var setup: [(String, String)] = []
    /// Why this server still answers otherwise: the case runs as a known issue until it is fixed.
    var knownIssue: String? = nil

    var testDescription: String { source }
}

private let unknownStream = "kinesalite-unknown-stream"
private let testStream = "kinesalite-test"
private let long128 = String(repeating: "a", count: 129)
private let streamPattern = "[a-zA-Z0-9_.-]+"
private let hashPattern = "0|([1-9]\\d{0,38})"

private func notFound(_ source: String, _ operation: String, _ body: String) -> KinesaliteCase {
    KinesaliteCase(
        source: source, operation: operation, body: body, code: "ResourceNotFoundException",
        message: "Stream {unknown} under account {account} not found.")
}

private func noShard(_ source: String, _ operation: String, _ body: String, _ shard: String, stream: String)
    -> KinesaliteCase
{
    KinesaliteCase(
        source: source, operation: operation, body: body, code: "ResourceNotFoundException",
        message: "Could not find shard \(shard) in stream \(stream) under account {account}.")
}

private func empty(_ member: String) -> [String] {
    [
        "Value '' at '\(member)' failed to satisfy constraint: Member must satisfy regular expression pattern:"
            + " \(streamPattern)",
        "Value '' at '\(member)' failed to satisfy constraint: Member must have length greater than or equal to 1",
    ]
}

private func tooLong(_ member: String) -> String {
    "Value '\(long128)' at '\(member)' failed to satisfy constraint: Member must have length less than or equal to 128"
}

private let iteratorRule =
    "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or (2)"
    + " TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified "

/// Shard ids AWS reads as shard 2147483647 (the largest) and ids it cannot read as a shard id at all.
private let readableShardIDs = ["2147483647", "abc-2147483647", "a-00002147483647", "-00002147483647"]
private let unreadableShardIDs = ["2147483648", "shardId-002147483648", "ABKLFD8", "2.14E4"]

private let kinesaliteCases: [KinesaliteCase] = {
    var cases: [KinesaliteCase] = []

    // createStream.js
    cases.append(
        KinesaliteCase(
            source: "createStream.js: empty StreamName", operation: "CreateStream",
            body: #"{"StreamName":"","ShardCount":0}"#, code: "ValidationException",
            violations: [
                "Value '0' at 'shardCount' failed to satisfy constraint: Member must have value greater than or equal"
                    + " to 1"
            ] + empty("streamName")))
    cases.append(
        KinesaliteCase(
            source: "createStream.js: LimitExceededException for large ShardCount (this server's limit: 10000)",
            operation: "CreateStream", body: #"{"StreamName":"big","ShardCount":10001}"#,
            code: "LimitExceededException",
            message: "This request would exceed the shard limit for the account {account} in us-east-1. Current shard"
                + " count for the account: 3. Limit: 10000. Number of additional shards that would have resulted from"
                + " this request: 10001. Refer to the AWS Service Limits page"
                + " (http://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) for current limits and how"
                + " to request higher limits."))

    // listShards.js
    cases.append(notFound("listShards.js: stream does not exist", "ListShards", #"{"StreamName":"{unknown}"}"#))

    // putRecords.js
    cases.append(
        KinesaliteCase(
            source: "putRecords.js: empty StreamName", operation: "PutRecords",
            body: #"{"StreamName":"","Records":[]}"#, code: "ValidationException",
            violations: [
                "Value '[]' at 'records' failed to satisfy constraint: Member must have length greater than or equal"
                    + " to 1"
            ] + empty("streamName")))
    cases.append(
        KinesaliteCase(
            source: "putRecords.js: empty PartitionKey", operation: "PutRecords",
            body: #"{"StreamName":"","Records":[{"PartitionKey":"","Data":"","ExplicitHashKey":""}]}"#,
            code: "ValidationException",
            violations: [
                "Value '' at 'records.1.member.partitionKey' failed to satisfy constraint: Member must have length"
                    + " greater than or equal to 1",
                "Value '' at 'records.1.member.explicitHashKey' failed to satisfy constraint: Member must satisfy"
                    + " regular expression pattern: \(hashPattern)",
            ] + empty("streamName")))
    cases.append(
        notFound(
            "putRecords.js: stream does not exist", "PutRecords",
            #"{"StreamName":"{unknown}","Records":[{"PartitionKey":"a","Data":""}]}"#))
    cases.append(
        KinesaliteCase(
            source: "putRecords.js: out of bounds ExplicitHashKey", operation: "PutRecords",
            body:
                #"{"StreamName":"{stream}","Records":[{"PartitionKey":"a","Data":"","ExplicitHashKey":"\#(twoTo128)"},"#
                + #"{"PartitionKey":"a","Data":""}]}"#,
            code: "InvalidArgumentException",
            message: "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was"
                + " \(twoTo128)"))

    // getShardIterator.js
    cases.append(
        KinesaliteCase(
            source: "getShardIterator.js: long StreamName", operation: "GetShardIterator",
            body: #"{"StreamName":"\#(long128)","ShardId":"\#(long128)","ShardIteratorType":"LATEST"}"#,
            code: "ValidationException", violations: [tooLong("shardId"), tooLong("streamName")]))
    for type in ["AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"] {
        cases.append(
            KinesaliteCase(
                source: "getShardIterator.js: \(type) and no StartingSequenceNumber", operation: "GetShardIterator",
                body: #"{"StreamName":"{stream}","ShardId":"shardId-0","ShardIteratorType":"\#(type)"}"#,
                code: "InvalidArgumentException", message: iteratorRule + type + " and no StartingSequenceNumber."))
    }
    for type in ["LATEST", "TRIM_HORIZON"] {
        cases.append(
            KinesaliteCase(
                source: "getShardIterator.js: \(type) and StartingSequenceNumber", operation: "GetShardIterator",
                body: #"{"StreamName":"{stream}","ShardId":"shardId-0","ShardIteratorType":"\#(type)","#
                    + #""StartingSequenceNumber":"5"}"#,
                code: "InvalidArgumentException", message: iteratorRule + type + " and also a StartingSequenceNumber."))
    }
    cases.append(
        KinesaliteCase(
            source: "getShardIterator.js: AT_TIMESTAMP and no Timestamp", operation: "GetShardIterator",
            body: #"{"StreamName":"{stream}","ShardId":"shardId-0","ShardIteratorType":"AT_TIMESTAMP"}"#,
            code: "InvalidArgumentException",
            message: "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request has"
                + " no timestamp parameter."))
    cases.append(
        KinesaliteCase(
            source: "getShardIterator.js: unknown stream and shard ID just small enough", operation: "GetShardIterator",
            body: #"{"StreamName":"{unknown}","ShardId":"2147483647","ShardIteratorType":"LATEST"}"#,
            code: "ResourceNotFoundException",
            message: "Shard shardId-002147483647 in stream {unknown} under account {account} does not exist"))
    cases.append(
        KinesaliteCase(
            source: "getShardIterator.js: unknown stream and string shard ID", operation: "GetShardIterator",
            body: #"{"StreamName":"{unknown}","ShardId":"ABKLFD8","ShardIteratorType":"LATEST"}"#,
            code: "ResourceNotFoundException",
            message: "Could not find shard ABKLFD8 in stream {unknown} under account {account}."))

    // getRecords.js
    cases.append(
        KinesaliteCase(
            source: "getRecords.js: empty ShardIterator", operation: "GetRecords",
            body: #"{"ShardIterator":"","Limit":0}"#, code: "ValidationException",
            violations: [
                "Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1",
                "Value '' at 'shardIterator' failed to satisfy constraint: Member must have length greater than or"
                    + " equal to 1",
            ]))
    cases.append(
        KinesaliteCase(
            source: "getRecords.js: ShardIterator of incorrect format", operation: "GetRecords",
            body: #"{"ShardIterator":"kinesalite-iterator"}"#, code: "InvalidArgumentException",
            message: "Invalid ShardIterator."))

    // splitShard.js
    cases.append(
        KinesaliteCase(
            source: "splitShard.js: empty StreamName", operation: "SplitShard",
            body: #"{"StreamName":"","ShardToSplit":"","NewStartingHashKey":""}"#, code: "ValidationException",
            violations: [
                "Value '' at 'newStartingHashKey' failed to satisfy constraint: Member must satisfy regular expression"
                    + " pattern: \(hashPattern)"
            ] + empty("streamName") + empty("shardToSplit")))
    cases.append(
        KinesaliteCase(
            source: "splitShard.js: long StreamName", operation: "SplitShard",
            body: #"{"StreamName":"\#(long128)","ShardToSplit":"\#(long128)","NewStartingHashKey":"0"}"#,
            code: "ValidationException", violations: [tooLong("streamName"), tooLong("shardToSplit")]))
    for id in readableShardIDs {
        cases.append(
            notFound(
                "splitShard.js: unknown stream and shard ID \(id)", "SplitShard",
                #"{"StreamName":"{unknown}","ShardToSplit":"\#(id)","NewStartingHashKey":"0"}"#))
    }
    for id in unreadableShardIDs {
        cases.append(
            noShard(
                "splitShard.js: unknown stream and shard ID \(id)", "SplitShard",
                #"{"StreamName":"{unknown}","ShardToSplit":"\#(id)","NewStartingHashKey":"0"}"#, id,
                stream: "{unknown}"))
    }
    cases.append(
        noShard(
            "splitShard.js: known stream and raw shard ID does not exist", "SplitShard",
            #"{"StreamName":"{stream}","ShardToSplit":"shardId-5","NewStartingHashKey":"0"}"#,
            "shardId-000000000005", stream: "{stream}"))
    let third = "113427455640312821154458202477256070484"
    for (name, key, shard, low, high) in [
        ("hash too small", "1", "0", "0", third),
        ("hash too big", third, "0", "0", third),
        (
            "hash much too big", "999999999999999999999999999999999999999", "2",
            "226854911280625642308916404954512140970", "340282366920938463463374607431768211455"
        ),
    ] {
        cases.append(
            KinesaliteCase(
                source: "splitShard.js: \(name)", operation: "SplitShard",
                body: #"{"StreamName":"{stream}","NewStartingHashKey":"\#(key)","ShardToSplit":"shard-\#(shard)"}"#,
                code: "InvalidArgumentException",
                message: "NewStartingHashKey \(key) used in SplitShard() on shard shardId-00000000000\(shard) in stream"
                    + " {stream} under account {account} is not both greater than one plus the shard's StartingHashKey"
                    + " \(low) and less than the shard's EndingHashKey \(high)."))
    }

    // mergeShards.js
    cases.append(
        KinesaliteCase(
            source: "mergeShards.js: empty StreamName", operation: "MergeShards",
            body: #"{"StreamName":"","ShardToMerge":"","AdjacentShardToMerge":""}"#, code: "ValidationException",
            violations: empty("shardToMerge") + empty("adjacentShardToMerge") + empty("streamName")))
    cases.append(
        KinesaliteCase(
            source: "mergeShards.js: long StreamName", operation: "MergeShards",
            body: #"{"StreamName":"\#(long128)","ShardToMerge":"\#(long128)","AdjacentShardToMerge":"\#(long128)"}"#,
            code: "ValidationException",
            violations: [tooLong("shardToMerge"), tooLong("adjacentShardToMerge"), tooLong("streamName")]))
    for id in readableShardIDs {
        cases.append(
            notFound(
                "mergeShards.js: unknown stream and shard ID \(id)", "MergeShards",
                #"{"StreamName":"{unknown}","ShardToMerge":"\#(id)","AdjacentShardToMerge":"x-0"}"#))
        cases.append(
            notFound(
                "mergeShards.js: unknown stream and shard ID \(id) ADJ", "MergeShards",
                #"{"StreamName":"{unknown}","ShardToMerge":"x-0","AdjacentShardToMerge":"\#(id)"}"#))
    }
    for id in unreadableShardIDs {
        cases.append(
            noShard(
                "mergeShards.js: unknown stream and shard ID \(id)", "MergeShards",
                #"{"StreamName":"{unknown}","ShardToMerge":"\#(id)","AdjacentShardToMerge":"x-0"}"#, id,
                stream: "{unknown}"))
        cases.append(
            noShard(
                "mergeShards.js: unknown stream and shard ID \(id) ADJ", "MergeShards",
                #"{"StreamName":"{unknown}","ShardToMerge":"x-0","AdjacentShardToMerge":"\#(id)"}"#, id,
                stream: "{unknown}"))
    }
    cases.append(
        noShard(
            "mergeShards.js: known stream and raw shard ID does not exist", "MergeShards",
            #"{"StreamName":"{stream}","ShardToMerge":"shardId-5","AdjacentShardToMerge":"x-0"}"#,
            "shardId-000000000005", stream: "{stream}"))
    cases.append(
        noShard(
            "mergeShards.js: known stream and raw shard ID does not exist ADJ", "MergeShards",
            #"{"StreamName":"{stream}","ShardToMerge":"x-0","AdjacentShardToMerge":"shardId-5"}"#,
            "shardId-000000000005", stream: "{stream}"))
    for (name, first, second) in [("shards not adjacent", "0", "2"), ("adjacency is inverted", "1", "0")] {
        cases.append(
            KinesaliteCase(
                source: "mergeShards.js: \(name)", operation: "MergeShards",
                body: #"{"StreamName":"{stream}","ShardToMerge":"x-\#(first)","AdjacentShardToMerge":"y-\#(second)"}"#,
                code: "InvalidArgumentException",
                message: "Shards shardId-00000000000\(first) and shardId-00000000000\(second) in stream {stream} under"
                    + " account {account} are not an adjacent pair of shards eligible for merging"))
    }

    // updateShardCount.js
    cases.append(
        KinesaliteCase(
            source: "updateShardCount.js: empty StreamName", operation: "UpdateShardCount",
            body: #"{"StreamName":"","ScalingType":"","TargetShardCount":0}"#, code: "ValidationException",
            violations: [
                "Value '' at 'scalingType' failed to satisfy constraint: Member must satisfy enum value set:"
                    + " [UNIFORM_SCALING]",
                "Value '0' at 'targetShardCount' failed to satisfy constraint: Member must have value greater than or"
                    + " equal to 1",
            ] + empty("streamName")))
    cases.append(
        KinesaliteCase(
            source: "updateShardCount.js: long StreamName", operation: "UpdateShardCount",
            body: #"{"StreamName":"\#(long128)","ScalingType":"UNIFORM_SCALING","TargetShardCount":1}"#,
            code: "ValidationException", violations: [tooLong("streamName")]))
    cases.append(
        notFound(
            "updateShardCount.js: stream does not exist", "UpdateShardCount",
            #"{"StreamName":"{unknown}","ScalingType":"UNIFORM_SCALING","TargetShardCount":2}"#))
    for (name, shards, target, text) in [
        (
            "increasing over shards limit (this server's: 10000)", 2, 10002,
            "Target shard count or number of open shards cannot be greater than 10000."
        ),
        (
            "scaling above double open shards", 2, 6,
            "UpdateShardCount cannot scale up over double your current open shard count."
        ),
        (
            "scaling down below half open shards", 6, 2,
            "UpdateShardCount cannot scale down below half your current open shard count."
        ),
    ] {
        cases.append(
            KinesaliteCase(
                source: "updateShardCount.js: \(name)", operation: "UpdateShardCount",
                body: #"{"StreamName":"resize","ScalingType":"UNIFORM_SCALING","TargetShardCount":\#(target)}"#,
                code: "LimitExceededException",
                message: text + " Current open shard count: \(shards), Target shard count: \(target)",
                setup: [("CreateStream", #"{"StreamName":"resize","ShardCount":\#(shards)}"#)]))
    }

    // addTagsToStream.js
    cases.append(
        KinesaliteCase(
            source: "addTagsToStream.js: empty StreamName", operation: "AddTagsToStream",
            body: #"{"StreamName":"","Tags":{}}"#, code: "ValidationException",
            violations: [
                "Value '{}' at 'tags' failed to satisfy constraint: Member must have length greater than or equal to 1"
            ] + empty("streamName")))
    cases.append(
        KinesaliteCase(
            source: "addTagsToStream.js: long StreamName", operation: "AddTagsToStream",
            body: #"{"StreamName":"\#(long128)","Tags":{"a;b":"b"}}"#, code: "ValidationException",
            violations: [tooLong("streamName")]))
    cases.append(
        notFound(
            "addTagsToStream.js: stream does not exist", "AddTagsToStream",
            #"{"StreamName":"{unknown}","Tags":{"a":"b"}}"#))
    return cases
}()

private let twoTo128 = "340282366920938463463374607431768211456"

/// kinesalite's AWS-recorded assertions (see ``KinesaliteCase``), run through the real HTTP server.
@Suite struct KinesaliteCasesTests {
    @Test(arguments: kinesaliteCases)
    func answersAsRecordedFromAWS(_ kase: KinesaliteCase) async throws {
        try await withServer { port in
            func fill(_ text: String) -> String {
                text.replacingOccurrences(of: "{stream}", with: testStream)
                    .replacingOccurrences(of: "{unknown}", with: unknownStream)
                    .replacingOccurrences(of: "{account}", with: "000000000000")
            }
            let created = try await kinesisRequest(
                port: port, operation: "CreateStream", body: #"{"StreamName":"\#(testStream)","ShardCount":3}"#)
            try #require(created.status == 200)
            for (operation, body) in kase.setup {
                try #require(try await kinesisRequest(port: port, operation: operation, body: body).status == 200)
            }
            let reply = try await kinesisRequest(port: port, operation: kase.operation, body: fill(kase.body))
            let check = {
                #expect(reply.status == 400)
                #expect(reply.body["__type"] == kase.code)
                let message = reply.body["message"] ?? ""
                if let expected = kase.message { #expect(message == fill(expected)) }
                if !kase.violations.isEmpty {
                    let wanted = kase.violations.map(fill)
                    #expect(Self.unmatchedViolations(message, wanted) == [], "\(message)")
                }
            }
            if let issue = kase.knownIssue {
                withKnownIssue(Comment(rawValue: issue)) { check() }
            } else {
                check()
            }
        }
    }

    /// kinesalite's `assertValidation` for a list: the message starts with `N validation error(s) detected: ` and
    /// is exactly the N violations, in any order, separated by `; `.
    /// - Returns: what did not match (the message's unmatched rest, or wanted violations not found); empty if all did.
    static func unmatchedViolations(_ message: String, _ wanted: [String]) -> [String] {
        let prefix = "\(wanted.count) validation error\(wanted.count == 1 ? "" : "s") detected: "
        guard message.hasPrefix(prefix) else { return ["prefix: " + message] }
        var rest = Substring(message.dropFirst(prefix.count))
        var open = wanted
        while !open.isEmpty {
            guard let i = open.firstIndex(where: { rest.hasPrefix($0) }) else { return ["unmatched: \(rest)"] + open }
            rest = rest.dropFirst(open[i].count)
            if rest.hasPrefix("; ") { rest = rest.dropFirst(2) }
            open.remove(at: i)
        }
        return rest.isEmpty ? [] : ["extra: \(rest)"]
    }

    /// The matcher itself: order-free, complete, and no extra violations.
    /// kinesalite's getRecords.js recorded `Iterator expired. The iterator was created at time Thu Jan 22 01:22:02 UTC
    /// 2015 while right now it is …`: times as Java's `Date.toString()` writes them in UTC.
    @Test func expiredIteratorTimesAreWrittenAsAWSWritesThem() {
        #expect(KinesisServer.javaDateText(1_421_889_722_000) == "Thu Jan 22 01:22:02 UTC 2015")
        #expect(KinesisServer.javaDateText(1_700_000_000_999) == "Tue Nov 14 22:13:20 UTC 2023")
    }

    @Test func violationMatcher() {
        #expect(Self.unmatchedViolations("2 validation errors detected: b; a", ["a", "b"]) == [])
        #expect(Self.unmatchedViolations("1 validation error detected: a", ["a", "b"]) != [])
        #expect(Self.unmatchedViolations("2 validation errors detected: a; c", ["a", "b"]) != [])
    }
}
