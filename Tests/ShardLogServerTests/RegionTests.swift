import Foundation
import ShardLog
import ShardLogTestSupport
import ShardLogWire
import Testing

@testable import ShardLogMapping
@testable import ShardLogServer

/// Sends one request signed with SigV4 for `region` (as an SDK configured for that region does), through the real
/// HTTP server on `port`.
func signed(
    _ port: Int, _ region: String, _ operation: String, _ body: String, key: String = "AKIDREGIONTEST",
    secret: String = "region-secret"
) async throws -> KinesisReply {
    let url = try #require(URL(string: "http://127.0.0.1:\(port)/"))
    let signer = SigV4Signer(
        accessKeyId: key, secretAccessKey: secret, sessionToken: nil, region: region, service: "kinesis")
    let headers = signer.sign(
        url: url,
        headers: ["Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "Kinesis_20131202." + operation],
        body: Data(body.utf8), date: Date())
    return try await kinesisRequest(port: port, operation: operation, body: body, headers: headers)
}

/// The stream names `ListStreams` answers, in order.
func streamNames(_ reply: KinesisReply) throws -> [String] {
    let text = try #require(reply.body["StreamNames"])
    return text.trimmingCharacters(in: CharacterSet(charactersIn: "[]()\n "))
        .split(separator: ",").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\n \"")) }
        .filter { !$0.isEmpty }
}

/// Every request acts in the account and region it is signed for: streams, consumers, tags and ARNs are separate per
/// (account, region); ARNs of another account or region are refused; the data directory itself is
/// `000000000000`/`us-east-1` (or `--account-id`), other pairs live under `regions/ACCOUNT/REGION/`.
@Suite(.timeLimit(.minutes(1))) struct RegionTests {
    /// Streams created from us-west-2 are not visible from eu-west-1, the same name exists in both, and every ARN
    /// names the request's region.
    @Test func regionsAreIsolated() async throws {
        try await withTemporaryDirectory { dir in
            try await withServer(directory: dir) { port in
                let create = #"{"StreamName":"s","ShardCount":1}"#
                #expect(try await signed(port, "us-west-2", "CreateStream", create).status == 200)
                #expect(try streamNames(try await signed(port, "eu-west-1", "ListStreams", "{}")).isEmpty)
                let missing = try await signed(port, "eu-west-1", "DescribeStreamSummary", #"{"StreamName":"s"}"#)
                #expect(missing.body["__type"] == "ResourceNotFoundException")
                #expect(missing.body["message"] == "Stream s under account 000000000000 not found.")
                #expect(
                    try await signed(port, "eu-west-1", "CreateStream", #"{"StreamName":"s","ShardCount":2}"#)
                        .status == 200)
                #expect(try streamNames(try await signed(port, "us-west-2", "ListStreams", "{}")) == ["s"])
                #expect(try streamNames(try await signed(port, "eu-west-1", "ListStreams", "{}")) == ["s"])
                let again = try await signed(port, "eu-west-1", "CreateStream", create)
                #expect(again.body["__type"] == "ResourceInUseException")
                for (region, shards) in [("us-west-2", 1), ("eu-west-1", 2)] {
                    let summary = try await signed(
                        port, region, "DescribeStream", #"{"StreamName":"s"}"#)
                    let description = try #require(summary.body["StreamDescription"])
                    #expect(description.contains("arn:aws:kinesis:\(region):000000000000:stream/s"))
                    #expect(description.components(separatedBy: "shardId-").count - 1 == shards)
                }
                // A record put in one region is not in the other's stream of the same name.
                let put = #"{"StreamName":"s","PartitionKey":"k","Data":"aGVsbG8="}"#
                #expect(try await signed(port, "us-west-2", "PutRecord", put).status == 200)
                let iteratorBody =
                    #"{"StreamName":"s","ShardId":"shardId-000000000000","ShardIteratorType":"TRIM_HORIZON"}"#
                for (region, count) in [("us-west-2", 1), ("eu-west-1", 0)] {
                    let it = try #require(
                        try await signed(port, region, "GetShardIterator", iteratorBody).body["ShardIterator"])
                    let records = try await signed(port, region, "GetRecords", #"{"ShardIterator":"\#(it)"}"#)
                    let text = try #require(records.body["Records"])
                    #expect(text.components(separatedBy: "aGVsbG8=").count - 1 == count, "\(region)")
                }
                // Unsigned requests act in us-east-1, which has no streams here.
                #expect(
                    try streamNames(try await kinesisRequest(port: port, operation: "ListStreams", body: "{}"))
                        .isEmpty)
            }
            let fm = FileManager.default
            #expect(fm.fileExists(atPath: dir + "/regions/000000000000/us-west-2/streams/s/stream.json"))
            #expect(fm.fileExists(atPath: dir + "/regions/000000000000/eu-west-1/streams/s/stream.json"))
            #expect(try Store(directory: dir).listStreams().isEmpty)
        }
    }

    /// ARNs the server returns carry the request's region and account: streams, consumers, UpdateShardCount and
    /// monitoring answers.
    @Test func returnedARNsCarryTheRequestsRegion() async throws {
        try await withServer { port in
            let region = "ap-southeast-2"
            let arn = "arn:aws:kinesis:\(region):000000000000:stream/s"
            #expect(try await signed(port, region, "CreateStream", #"{"StreamName":"s","ShardCount":1}"#).status == 200)
            let summary = try await signed(port, region, "DescribeStreamSummary", #"{"StreamARN":"\#(arn)"}"#)
            #expect(try #require(summary.body["StreamDescriptionSummary"]).contains(arn))
            let list = try await signed(port, region, "ListStreams", "{}")
            #expect(try #require(list.body["StreamSummaries"]).contains(arn))
            let consumer = try await signed(
                port, region, "RegisterStreamConsumer", #"{"StreamARN":"\#(arn)","ConsumerName":"c"}"#)
            #expect(try #require(consumer.body["Consumer"]).contains(arn + "/consumer/c:"))
            let scaled = try await signed(
                port, region, "UpdateShardCount",
                #"{"StreamName":"s","TargetShardCount":2,"ScalingType":"UNIFORM_SCALING"}"#)
            #expect(scaled.body["StreamARN"] == arn)
            let monitoring = try await signed(
                port, region, "EnableEnhancedMonitoring", #"{"StreamName":"s","ShardLevelMetrics":["ALL"]}"#)
            #expect(monitoring.body["StreamARN"] == arn)
            let tagged = try await signed(
                port, region, "TagResource", #"{"ResourceARN":"\#(arn)","Tags":{"team":"a"}}"#)
            #expect(tagged.status == 200)
        }
    }

    /// An ARN of another region answers as that stream is not found here; one of another account is
    /// `AccessDeniedException` (no resource policy grants access) — for stream, consumer and resource ARNs.
    @Test func foreignARNsAreRefused() async throws {
        try await withServer { port in
            let region = "us-west-2"
            #expect(try await signed(port, region, "CreateStream", #"{"StreamName":"s","ShardCount":1}"#).status == 200)
            let own = "arn:aws:kinesis:us-west-2:000000000000:stream/s"
            let consumer = try await signed(
                port, region, "RegisterStreamConsumer", #"{"StreamARN":"\#(own)","ConsumerName":"c"}"#)
            #expect(consumer.status == 200)
            // Another region: the stream of that name is not in this region (though one exists in us-west-2).
            let otherRegion = "arn:aws:kinesis:eu-west-1:000000000000:stream/s"
            for (operation, body) in [
                ("DescribeStreamSummary", #"{"StreamARN":"\#(otherRegion)"}"#),
                ("ListTagsForResource", #"{"ResourceARN":"\#(otherRegion)"}"#),
                ("DescribeStreamConsumer", #"{"ConsumerARN":"\#(otherRegion)/consumer/c:1700000000"}"#),
                ("PutRecord", #"{"StreamARN":"\#(otherRegion)","PartitionKey":"k","Data":"aGk="}"#),
            ] {
                let reply = try await signed(port, region, operation, body)
                #expect(reply.body["__type"] == "ResourceNotFoundException", "\(operation)")
                #expect(reply.body["message"] == "Stream s under account 000000000000 not found.", "\(operation)")
            }
            // Another account.
            let otherAccount = "arn:aws:kinesis:us-west-2:111122223333:stream/s"
            let denied = try await signed(port, region, "DescribeStreamSummary", #"{"StreamARN":"\#(otherAccount)"}"#)
            #expect(denied.body["__type"] == "AccessDeniedException")
            #expect(
                denied.body["message"]
                    == "User: arn:aws:iam::000000000000:root is not authorized to perform: kinesis:DescribeStreamSummary"
                    + " on resource: \(otherAccount) because no resource-based policy allows the"
                    + " kinesis:DescribeStreamSummary action")
            let consumerARN = otherAccount + "/consumer/c:1700000000"
            let deniedConsumer = try await signed(
                port, region, "DeregisterStreamConsumer", #"{"ConsumerARN":"\#(consumerARN)"}"#)
            #expect(deniedConsumer.body["__type"] == "AccessDeniedException")
            #expect(
                deniedConsumer.body["message"]
                    == "User: arn:aws:iam::000000000000:root is not authorized to perform:"
                    + " kinesis:DeregisterStreamConsumer on resource: \(consumerARN) because no resource-based policy"
                    + " allows the kinesis:DeregisterStreamConsumer action")
            let deniedTag = try await signed(
                port, region, "TagResource", #"{"ResourceARN":"\#(otherAccount)","Tags":{"a":"b"}}"#)
            #expect(deniedTag.body["__type"] == "AccessDeniedException")
            // A StreamName with a StreamARN of another region is refused too, not resolved by name.
            let both = try await signed(
                port, region, "DescribeStreamSummary", #"{"StreamName":"s","StreamARN":"\#(otherRegion)"}"#)
            #expect(both.body["__type"] == "ResourceNotFoundException")
            // The consumer is untouched.
            let described = try await signed(
                port, region, "DescribeStreamConsumer", #"{"StreamARN":"\#(own)","ConsumerName":"c"}"#)
            #expect(described.status == 200)
        }
    }

    /// `--account-id` names the account of every request; `--region` the region of unsigned ones.
    @Test func accountAndRegionOptions() async throws {
        var options = KinesisServerOptions()
        options.accountId = "123456789012"
        options.region = "ca-central-1"
        try await withServer(options) { port in
            #expect(
                try await kinesisRequest(
                    port: port, operation: "CreateStream", body: #"{"StreamName":"s","ShardCount":1}"#
                )
                .status == 200)
            let summary = try await kinesisRequest(
                port: port, operation: "DescribeStreamSummary", body: #"{"StreamName":"s"}"#)
            #expect(
                try #require(summary.body["StreamDescriptionSummary"]).contains(
                    "arn:aws:kinesis:ca-central-1:123456789012:stream/s"))
            let missing = try await kinesisRequest(
                port: port, operation: "DescribeStreamSummary", body: #"{"StreamName":"nope"}"#)
            #expect(missing.body["message"] == "Stream nope under account 123456789012 not found.")
            // Signed for another region: the same account, that region.
            #expect(try streamNames(try await signed(port, "us-east-1", "ListStreams", "{}")).isEmpty)
            let arn = "arn:aws:kinesis:ca-central-1:000000000000:stream/s"
            let denied = try await kinesisRequest(
                port: port, operation: "DescribeStreamSummary", body: #"{"StreamARN":"\#(arn)"}"#)
            #expect(denied.body["__type"] == "AccessDeniedException")
        }
    }

    /// With `--credentials`, a key with an account of its own acts in it; other keys in `--account-id`.
    @Test func accessKeysActInTheirAccounts() async throws {
        try await withTemporaryDirectory { dir in
            let path = dir + "/credentials.json"
            try Data(
                #"{"AKIDDEFAULT":"secret-a","AKIDOTHER":{"secret":"secret-b","account":"222233334444"}}"#.utf8
            ).write(to: URL(fileURLWithPath: path))
            var options = KinesisServerOptions()
            options.use(credentials: try KinesisServerOptions.loadCredentialsFile(path: path))
            #expect(options.credentials == ["AKIDDEFAULT": "secret-a", "AKIDOTHER": "secret-b"])
            #expect(options.accounts == ["AKIDOTHER": "222233334444"])
            try await withServer(options, directory: dir) { port in
                func call(_ key: String, _ secret: String, _ op: String, _ body: String) async throws -> KinesisReply {
                    try await signed(port, "us-east-1", op, body, key: key, secret: secret)
                }
                let create = #"{"StreamName":"s","ShardCount":1}"#
                #expect(try await call("AKIDDEFAULT", "secret-a", "CreateStream", create).status == 200)
                #expect(try streamNames(try await call("AKIDOTHER", "secret-b", "ListStreams", "{}")).isEmpty)
                #expect(try await call("AKIDOTHER", "secret-b", "CreateStream", create).status == 200)
                let summary = try await call("AKIDOTHER", "secret-b", "DescribeStreamSummary", #"{"StreamName":"s"}"#)
                #expect(
                    try #require(summary.body["StreamDescriptionSummary"]).contains(
                        "arn:aws:kinesis:us-east-1:222233334444:stream/s"))
                let mine = try await call("AKIDDEFAULT", "secret-a", "DescribeStreamSummary", #"{"StreamName":"s"}"#)
                #expect(
                    try #require(mine.body["StreamDescriptionSummary"]).contains(
                        "arn:aws:kinesis:us-east-1:000000000000:stream/s"))
                // The wrong secret for the key is still refused: the account comes after the signature.
                let forged = try await call("AKIDOTHER", "secret-a", "ListStreams", "{}")
                #expect(forged.body["__type"] == "InvalidSignatureException")
            }
            #expect(
                FileManager.default.fileExists(atPath: dir + "/regions/222233334444/us-east-1/streams/s/stream.json"))
        }
    }

    /// A credentials file of another shape is refused naming the file and the key.
    @Test(arguments: [
        (#"{"K":{"secret":"s","account":"12"}}"#, "access key K in credentials file", "12 digits"),
        (#"{"K":{"account":"123456789012"}}"#, "access key K: credentials file", "must be a JSON object"),
        (#"{"K":{"secret":"s","region":"x"}}"#, "access key K: credentials file", "must be a JSON object"),
        (#"{"K":5}"#, "access key K: credentials file", "must be a JSON object"),
        (#"[]"#, "credentials file", "must be a JSON object"),
    ])
    func badCredentialsFilesAreNamed(json: String, names: String, problem: String) async throws {
        try await withTemporaryDirectory { dir in
            let path = dir + "/credentials.json"
            try Data(json.utf8).write(to: URL(fileURLWithPath: path))
            #expect {
                _ = try KinesisServerOptions.loadCredentialsFile(path: path)
            } throws: { error in
                let text = "\(error)"
                return text.contains(names) && text.contains(path) && text.contains(problem)
            }
        }
    }

    /// A data directory written before regions existed (and by `shardlog put`) is served as us-east-1 in the
    /// default account, signed or not; other regions do not see its streams.
    @Test func existingDataDirectoryIsUSEast1() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            try store.createStream(named: "old", shardCount: 1)
            _ = try store.stream(named: "old").put(partitionKey: "k", data: Array("hello".utf8))
            try await withServer(directory: dir) { port in
                #expect(
                    try streamNames(try await kinesisRequest(port: port, operation: "ListStreams", body: "{}")) == [
                        "old"
                    ])
                #expect(try streamNames(try await signed(port, "us-east-1", "ListStreams", "{}")) == ["old"])
                #expect(try streamNames(try await signed(port, "us-west-2", "ListStreams", "{}")).isEmpty)
                let summary = try await signed(port, "us-east-1", "DescribeStreamSummary", #"{"StreamName":"old"}"#)
                #expect(
                    try #require(summary.body["StreamDescriptionSummary"]).contains(
                        "arn:aws:kinesis:us-east-1:000000000000:stream/old"))
            }
            #expect(!FileManager.default.fileExists(atPath: dir + "/regions/000000000000/us-east-1"))
        }
    }

    /// A credential scope naming no region is refused as AWS does.
    @Test func badRegionInCredentialIsRefused() async throws {
        try await withServer { port in
            let reply = try await kinesisRequest(
                port: port, operation: "ListStreams", body: "{}",
                headers: [
                    "Authorization":
                        "AWS4-HMAC-SHA256 Credential=AK/20240101/../kinesis/aws4_request, SignedHeaders=host,"
                        + " Signature=00"
                ])
            #expect(reply.body["__type"] == "InvalidSignatureException")
            #expect(reply.body["message"] == "Credential should be scoped to a valid region, not '..'. ")
        }
    }
}
