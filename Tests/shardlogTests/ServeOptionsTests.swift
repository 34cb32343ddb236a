import ArgumentParser
import Foundation
import ShardLog
import ShardLogTestSupport
import Testing

@testable import shardlog

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `serve --account-id` and `--region`: checked when parsed; the data directory itself holds the `--account-id`
/// account's streams in us-east-1.
@Suite(.timeLimit(.minutes(1)))
struct ServeOptionsTests {
    @Test(arguments: [
        (["--account-id", "12345"], "--account-id must be 12 digits, not '12345'"),
        (["--account-id", "12345678901x"], "--account-id must be 12 digits"),
        (["--region", "US_EAST_1"], "--region must be a region name such as us-east-1"),
        (["--region=-x"], "--region must be a region name"),
    ])
    func badAccountOrRegionIsRefused(arguments: [String], message: String) {
        #expect {
            _ = try ShardLogCommand.parseAsRoot(["serve"] + arguments)
        } throws: { error in
            ShardLogCommand.message(for: error).contains(message)
        }
    }

    @Test func accountAndRegionAreParsed() throws {
        let serve = try #require(
            try ShardLogCommand.parseAsRoot(["serve", "--account-id", "123456789012", "--region", "eu-central-1"])
                as? Serve)
        #expect(serve.accountId == "123456789012")
        #expect(serve.region == "eu-central-1")
        let defaults = try #require(try ShardLogCommand.parseAsRoot(["serve"]) as? Serve)
        #expect(defaults.accountId == "000000000000")
        #expect(defaults.region == "us-east-1")
    }

    /// The built binary with `--account-id`: an unsigned request's stream lands in the data directory itself (what
    /// `shardlog put/get` read) and its ARN names that account in us-east-1.
    @Test func accountIdNamesTheDataDirectorysAccount() async throws {
        try await withTemporaryDirectory { dir in
            try await withServe(dir, ["--account-id", "123456789012"]) { bound in
                func call(_ operation: String, _ body: String) async throws -> String {
                    var request = URLRequest(url: try #require(URL(string: "http://127.0.0.1:\(bound)/")))
                    request.httpMethod = "POST"
                    request.setValue("application/x-amz-json-1.1", forHTTPHeaderField: "Content-Type")
                    request.setValue("Kinesis_20131202." + operation, forHTTPHeaderField: "X-Amz-Target")
                    request.httpBody = Data(body.utf8)
                    let (data, _) = try await URLSession.shared.data(for: request)
                    return String(decoding: data, as: UTF8.self)
                }
                _ = try await call("CreateStream", #"{"StreamName":"s","ShardCount":1}"#)
                let summary = try await call("DescribeStreamSummary", #"{"StreamName":"s"}"#)
                #expect(summary.contains("arn:aws:kinesis:us-east-1:123456789012:stream/s"), "\(summary)")
                #expect(try Store(directory: dir).listStreams() == ["s"])
            }
        }
    }
}
