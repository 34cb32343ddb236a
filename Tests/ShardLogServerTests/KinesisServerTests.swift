import Foundation
import ShardLog
import ShardLogTestSupport
import ShardLogWire
import Testing

@testable import ShardLogServer

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

private let pythonScript = pythonScriptPath("kinesis_boto3_test.py")

@Suite struct KinesisServerTests {
    /// Every operation and error code through unmodified boto3 and the AWS CLI, against two live servers: one open
    /// (3 s subscriptions), one with SigV4 credentials and per-shard limits; with clients signing for us-east-1 and
    /// for us-west-2.
    @Test(.timeLimit(.minutes(2)), arguments: ["us-east-1", "us-west-2"])
    func boto3EndToEnd(region: String) async throws {
        var openOptions = KinesisServerOptions()
        openOptions.maxSubscriptionDuration = .seconds(3)
        var secureOptions = KinesisServerOptions()
        secureOptions.credentials = ["AKIDSHARDLOGTEST": "shardlog-secret"]
        secureOptions.enforceShardLimits = true
        let secure = secureOptions
        let result = try await withServer(openOptions) { open in
            try await withServer(secure) { secured in
                try await runProcess(
                    [
                        "python3", pythonScript, "--endpoint", "http://127.0.0.1:\(open)",
                        "--auth-endpoint", "http://127.0.0.1:\(secured)", "--auth-key", "AKIDSHARDLOGTEST",
                        "--auth-secret", "shardlog-secret", "--subscription-seconds", "3",
                    ],
                    environment: [
                        "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": region,
                    ],
                    timeout: .seconds(100))
            }
        }
        #expect(result.status == 0, "kinesis_boto3_test.py (\(region)) failed:\n\(result.output)")
    }

    @Test func crc32MatchesZlib() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(CRC32.checksum([]) == 0)
    }

    @Test func eventStreamMessageLayout() throws {
        let bytes = EventStreamMessage.event("initial-response", payload: Array("{}".utf8)).bytes
        let total = bytes[0..<4].reduce(0) { $0 << 8 | Int($1) }
        #expect(total == bytes.count)
        let prelude = bytes[8..<12].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        #expect(prelude == CRC32.checksum(Array(bytes[0..<8])))
        let trailer = bytes.suffix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        #expect(trailer == CRC32.checksum(Array(bytes.dropLast(4))))
    }

    @Test(arguments: [
        (Int64(1_721_900_000_123), "1721900000.123"), (Int64(1_000), "1.000"), (Int64(5), "0.005"),
    ])
    func timestampsArePlainDecimals(milliseconds: Int64, text: String) {
        #expect(String(decoding: JSON.epochMilliseconds(milliseconds).bytes, as: UTF8.self) == text)
    }

    @Test func malformedJSONIsASerializationException() {
        for text in ["{", "{\"a\":}", "[1,]", "{\"a\":1} x", "\"unterminated"] {
            #expect(throws: KinesisError.self) { try Params(body: Array(text.utf8)) }
        }
        #expect((try? JSON(parsing: Array("{\"a\":[1,2.5,\"\\u00e9\"]}".utf8))) != nil)
    }

    @Test func tokensRoundTripAndRejectTampering() throws {
        let scope = RequestScope.default
        let token = OpaqueToken.encode(kind: "it", scope: scope, fields: ["s", "1", "42"], issuedMilliseconds: 7)
        let decoded = try #require(OpaqueToken.decode(kind: "it", scope: scope, fieldCount: 3, token))
        #expect(decoded.fields == ["s", "1", "42"] && decoded.issued == 7)
        #expect(OpaqueToken.decode(kind: "sh", scope: scope, fieldCount: 3, token) == nil)
        #expect(OpaqueToken.decode(kind: "it", scope: scope, fieldCount: 3, "AAAA" + token.dropFirst(4)) == nil)
        #expect(OpaqueToken.decode(kind: "it", scope: scope, fieldCount: 3, "not base64!") == nil)
        // Another region or account: refused like a made-up token.
        var west = scope
        west.region = "us-west-2"
        #expect(OpaqueToken.decode(kind: "it", scope: west, fieldCount: 3, token) == nil)
        var other = scope
        other.account = "123456789012"
        #expect(OpaqueToken.decode(kind: "it", scope: other, fieldCount: 3, token) == nil)
    }

    @Test func storeErrorsMapToKinesisCodes() {
        #expect(KinesisError(ShardLogError(.resourceNotFound, "x")).code.name == "ResourceNotFoundException")
        #expect(KinesisError(ShardLogError(.io, "x")).status == 500)
        #expect(KinesisError(ShardLogError(.invalidArgument, "x")).status == 400)
        #expect(KinesisError(.validation, "big", status: 413).status == 413)
    }

    @Test(.timeLimit(.minutes(1)))
    func healthAndMetricsOverHTTP() async throws {
        try await withServer { port in
            let base = "http://127.0.0.1:\(port)"
            let (_, health) = try await URLSession.shared.data(from: try #require(URL(string: base + "/health")))
            #expect((health as? HTTPURLResponse)?.statusCode == 200)
            var request = URLRequest(url: try #require(URL(string: base + "/")))
            request.httpMethod = "POST"
            request.setValue("Kinesis_20131202.Nope", forHTTPHeaderField: "X-Amz-Target")
            request.httpBody = Data("{}".utf8)
            let (body, response) = try await URLSession.shared.data(for: request)
            #expect((response as? HTTPURLResponse)?.statusCode == 400)
            #expect(String(decoding: body, as: UTF8.self).contains("UnknownOperationException"))
            let (metrics, _) = try await URLSession.shared.data(from: try #require(URL(string: base + "/metrics")))
            #expect(
                String(decoding: metrics, as: UTF8.self).contains(
                    #"shardlog_api_requests_total{operation="unknown",code="UnknownOperationException"} 1"#))
        }
    }

    /// `--mappings`: an exec handler receives every record put before and while the server runs.
    @Test(.timeLimit(.minutes(1)))
    func hostsEventSourceMappings() async throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("shardlog-mappings-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try Store(directory: directory + "/data")
        let stream = try store.createStream(named: "orders", shardCount: 2)
        #expect(stream.shards.count == 2)
        for i in 0..<7 { try store.stream(named: "orders").put(partitionKey: "k\(i)", data: Array("{}".utf8)) }
        let output = directory + "/delivered.jsonl"
        let file = directory + "/mappings.json"
        let config = """
            {"Mappings": [{"MappingName": "m1", "StreamName": "orders", "StartingPosition": "TRIM_HORIZON",
              "BatchSize": 3, "Handler": "exec:cat >> \(output); echo >> \(output)"}]}
            """
        #expect(FileManager.default.createFile(atPath: file, contents: Data(config.utf8)))
        var options = KinesisServerOptions()
        options.mappingsFile = file
        let delivered = try await withServer(options, directory: directory + "/data") { _ in
            for _ in 0..<200 {
                let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
                let count = text.components(separatedBy: "\"eventSource\":\"aws:kinesis\"").count - 1
                if count >= 7 { return count }
                try await Task.sleep(for: .milliseconds(100))
            }
            return 0
        }
        #expect(delivered == 7)
    }
}
