import Foundation
import ShardLogTestSupport
import Testing

@testable import ShardLog

/// Stream and consumer ARNs are built and parsed by one type; a bad ARN is an error naming the part that is wrong;
/// the store's streams carry the store's account and region in their ARNs and error texts.
@Suite struct StreamARNTests {
    @Test(arguments: [
        "arn:aws:kinesis:us-east-1:000000000000:stream/orders",
        "arn:aws:kinesis:eu-west-1:123456789012:stream/a.b_c-d",
        "arn:aws-cn:kinesis:cn-north-1:123456789012:stream/x",
        "arn:aws-us-gov:kinesis:us-gov-west-1:123456789012:stream/\(String(repeating: "n", count: 128))",
    ])
    func streamARNRoundTrips(text: String) throws {
        let arn = try StreamARN(parsing: text)
        #expect(arn.description == text)
        #expect(try StreamARN(parsing: arn.description) == arn)
    }

    @Test func partsAreTheARNs() throws {
        let arn = try StreamARN(parsing: "arn:aws:kinesis:us-west-2:123456789012:stream/orders")
        #expect(arn == StreamARN(region: "us-west-2", account: "123456789012", streamName: "orders"))
        #expect(arn.partition == "aws")
    }

    @Test func consumerARNRoundTrips() throws {
        let text = "arn:aws:kinesis:us-west-2:123456789012:stream/orders/consumer/app-1:1700000000"
        let arn = try ConsumerARN(parsing: text)
        #expect(arn.stream == StreamARN(region: "us-west-2", account: "123456789012", streamName: "orders"))
        #expect(arn.consumerName == "app-1")
        #expect(arn.creationEpochSeconds == 1_700_000_000)
        #expect(arn.description == text)
    }

    /// A bad ARN, whether it is parsed as a consumer ARN, and a fragment its error message must contain (the part
    /// named).
    struct Bad: Sendable, CustomTestStringConvertible {
        var text: String
        var problem: String
        var consumer = false
        var testDescription: String { text }
    }

    @Test(arguments: [
        Bad(text: "orders", problem: "six ':'-separated parts"),
        Bad(text: "arn:aws:kinesis:us-east-1:000000000000", problem: "six ':'-separated parts"),
        Bad(text: "urn:aws:kinesis:us-east-1:000000000000:stream/s", problem: "six ':'-separated parts"),
        Bad(text: "arn:gcp:kinesis:us-east-1:000000000000:stream/s", problem: "partition 'gcp'"),
        Bad(text: "arn:aws:sqs:us-east-1:000000000000:stream/s", problem: "service is 'sqs'"),
        Bad(text: "arn:aws:kinesis::000000000000:stream/s", problem: "region ''"),
        Bad(text: "arn:aws:kinesis:US_EAST:000000000000:stream/s", problem: "region 'US_EAST'"),
        Bad(text: "arn:aws:kinesis:us-east-1:12345:stream/s", problem: "account '12345' is not 12 digits"),
        Bad(text: "arn:aws:kinesis:us-east-1:00000000000x:stream/s", problem: "account '00000000000x'"),
        Bad(text: "arn:aws:kinesis:us-east-1:000000000000:table/s", problem: "resource 'table/s'"),
        Bad(text: "arn:aws:kinesis:us-east-1:000000000000:stream/", problem: "stream name ''"),
        Bad(text: "arn:aws:kinesis:us-east-1:000000000000:stream/a:b", problem: "stream name 'a:b'"),
        Bad(text: "arn:aws:kinesis:us-east-1:000000000000:stream/s/consumer/c:1", problem: "stream name 's/consumer"),
        Bad(
            text: "arn:aws:kinesis:us-east-1:000000000000:stream/s", problem: "not stream/NAME/consumer/NAME:EPOCH",
            consumer: true),
        Bad(text: "arn:aws:kinesis:us-east-1:000000000000:stream/s/consumer/c", problem: "no :EPOCH", consumer: true),
        Bad(
            text: "arn:aws:kinesis:us-east-1:000000000000:stream/s/consumer/c:x1", problem: "creation time 'x1'",
            consumer: true),
        Bad(
            text: "arn:aws:kinesis:us-east-1:000000000000:stream/s/consumer/:1", problem: "consumer name ''",
            consumer: true),
        Bad(
            text: "arn:aws:kinesis:us-east-1:000000000000:stream/s?/consumer/c:1", problem: "stream name 's?'",
            consumer: true),
        Bad(text: "arn:aws:kinesis:us-east-1:0:stream/s/consumer/c:1", problem: "account '0'", consumer: true),
        Bad(
            text: "arn:aws:kinesis:us-east-1:000000000000:stream/consumer/c:1", problem: "not stream/NAME/consumer",
            consumer: true),
    ])
    func badARNsNameTheProblem(bad: Bad) {
        #expect {
            if bad.consumer {
                _ = try ConsumerARN(parsing: bad.text)
            } else {
                _ = try StreamARN(parsing: bad.text)
            }
        } throws: { error in
            guard let e = error as? ShardLogError else { return false }
            let kind = bad.consumer ? "consumer" : "stream"
            return e.code == .invalidArgument && e.message.contains("'\(bad.text)' is not a Kinesis \(kind) ARN")
                && e.message.contains(bad.problem)
        }
    }

    /// A store opened for another account and region describes its streams with that ARN, and its resharding and
    /// lookup refusals are AWS's texts naming that account.
    @Test func storeUsesItsAccountAndRegion() async throws {
        try await withTemporaryDirectory { dir in
            var options = StoreOptions()
            options.accountId = "123456789012"
            options.region = "eu-west-1"
            let store = try Store(directory: dir, options: options)
            let created = try store.createStream(named: "s", shardCount: 3)
            #expect(created.streamARN == "arn:aws:kinesis:eu-west-1:123456789012:stream/s")
            let stream = try store.stream(named: "s")
            #expect(try stream.describe().streamARN == created.streamARN)
            #expect(stream.arn.description == created.streamARN)
            func message(_ body: () throws -> Void) -> String? {
                do {
                    try body()
                    return nil
                } catch {
                    return (error as? ShardLogError)?.message ?? "not a ShardLogError: \(error)"
                }
            }
            #expect(
                message { try stream.mergeShards("shardId-000000000000", adjacentShardId: "shardId-000000000002") }
                    == "Shards shardId-000000000000 and shardId-000000000002 in stream s under account 123456789012"
                    + " are not an adjacent pair of shards eligible for merging")
            #expect(
                message { try stream.splitShard("shardId-000000000009", newStartingHashKey: 5) }
                    == "Could not find shard shardId-000000000009 in stream s under account 123456789012.")
            try stream.mergeShards("shardId-000000000000", adjacentShardId: "shardId-000000000001")
            #expect(
                message { try stream.splitShard("shardId-000000000000", newStartingHashKey: 5) }
                    == "Shard shardId-000000000000 in stream s under account 123456789012 has already been merged or"
                    + " split, and thus is not eligible for merging or splitting.")
            #expect(
                message { _ = try store.stream(named: "nope") }
                    == "Stream nope under account 123456789012 not found.")
            #expect(
                message { try store.createStream(named: "s", shardCount: 1) }
                    == "Stream s under account 123456789012 already exists.")
        }
    }
}
