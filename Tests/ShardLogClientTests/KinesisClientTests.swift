import Foundation
import NIOCore
import NIOPosix
import ShardLog
import ShardLogClient
import ShardLogServer
import ShardLogTestSupport
import ShardLogWire
import Testing

/// The one signed Kinesis client, against a real `shardlog serve` on 127.0.0.1 that verifies SigV4.
@Suite struct KinesisClientTests {
    private static let credentials = ["AKIDCLIENTTEST": "client-test-secret"]
    private static let environment = [
        "AWS_ACCESS_KEY_ID": "AKIDCLIENTTEST", "AWS_SECRET_ACCESS_KEY": "client-test-secret", "AWS_REGION": "eu-west-1",
    ]

    private func withSigningServer(_ body: @Sendable (String) async throws -> Void) async throws {
        var options = KinesisServerOptions()
        options.credentials = Self.credentials
        try await withServer(options) { port in try await body("http://127.0.0.1:\(port)") }
    }

    @Test func endpointsThatAreNotHTTPAreRefusedByName() {
        #expect(throws: KinesisClientError.invalidEndpoint("ftp://example.com")) {
            _ = try KinesisClient(endpoint: "ftp://example.com")
        }
        #expect(throws: KinesisClientError.invalidEndpoint("not a url")) {
            _ = try KinesisClient(endpoint: "not a url")
        }
        #expect(KinesisClientError.invalidEndpoint("x").description == "'x' is not an http:// or https:// URL")
    }

    @Test func theRegionComesFromTheEnvironmentThenTheHostName() throws {
        let fromHost = try KinesisClient(endpoint: "https://kinesis.ap-south-1.amazonaws.com", environment: [:])
        #expect(fromHost.region == "ap-south-1")
        let fromEnvironment = try KinesisClient(
            endpoint: "https://kinesis.ap-south-1.amazonaws.com", environment: ["AWS_DEFAULT_REGION": "us-west-2"])
        #expect(fromEnvironment.region == "us-west-2")
        #expect(try KinesisClient(endpoint: "http://127.0.0.1:1", environment: [:]).region == "us-east-1")
    }

    @Test func signedCallsCreateListAndDescribeInTheSigningRegion() async throws {
        try await withSigningServer { url in
            let client = try KinesisClient(endpoint: url, environment: Self.environment)
            _ = try await client.call("CreateStream", ["StreamName": .string("orders"), "ShardCount": .integer(3)])
            let shards = try await client.listShards(streamKey: ("StreamName", "orders"))
            #expect(shards.map(\.shardId) == (0..<3).map(ShardID.name))
            #expect(shards.first?.hashKeyRange.startingHashKey == "0")
            #expect(shards.allSatisfy { $0.isOpen })
            let summary = try await client.call("DescribeStreamSummary", ["StreamName": .string("orders")])
            let arn = try #require(summary["StreamDescriptionSummary"]?["StreamARN"]?.stringValue)
            #expect(try StreamARN(parsing: arn).region == "eu-west-1")
        }
    }

    @Test func errorAnswersCarryAWSsTypeAndMessage() async throws {
        try await withSigningServer { url in
            let client = try KinesisClient(endpoint: url, environment: Self.environment)
            let missing = await #expect(throws: KinesisServiceError.self) {
                try await client.call("DescribeStreamSummary", ["StreamName": .string("nope")])
            }
            #expect(missing?.type == "ResourceNotFoundException")
            #expect(missing?.status == 400)
            #expect(missing?.message.contains("nope") == true)
            #expect(missing?.isRetryable == false)
            var wrong = Self.environment
            wrong["AWS_SECRET_ACCESS_KEY"] = "wrong"
            let badlySigned = await #expect(throws: KinesisServiceError.self) {
                try await KinesisClient(endpoint: url, environment: wrong).call("ListStreams", [:])
            }
            #expect(badlySigned?.type == "InvalidSignatureException")
        }
    }

    @Test func anUnreachableEndpointIsATransportErrorAfterItsAttempts() async throws {
        // A port that was just bound and closed again: connections are refused.
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(channel.localAddress?.port)
        try await channel.close()
        let client = try KinesisClient(endpoint: "http://127.0.0.1:\(port)", environment: Self.environment)
        let error = await #expect(throws: KinesisTransportError.self) {
            try await client.callBytes("ListStreams", body: Array("{}".utf8), attempts: 2)
        }
        #expect(error?.description.contains("cannot call ListStreams at http://127.0.0.1:\(port)") == true)
    }

    @Test func serviceErrorsReadNamespacedTypesAndEitherMessageKey() {
        let namespaced = KinesisServiceError(
            answer: Array(#"{"__type":"com.amazon.coral.service#ThrottlingException","Message":"slow down"}"#.utf8),
            status: 400)
        #expect(namespaced.type == "ThrottlingException")
        #expect(namespaced.message == "slow down")
        #expect(namespaced.isRetryable)
        let plain = KinesisServiceError(answer: Array("Bad Gateway".utf8), status: 502)
        #expect(plain.type == "HTTP502")
        #expect(plain.message == "Bad Gateway")
        #expect(plain.isRetryable)
    }
}
