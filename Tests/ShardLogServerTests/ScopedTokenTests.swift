import Foundation
import ShardLog
import ShardLogTestSupport
import Testing

@testable import ShardLogServer

/// Shard iterators, `NextToken`s and per-shard limits belong to one account and region: a token issued in us-west-2
/// is refused in eu-west-1 even where a stream of the same name exists there (AWS: `InvalidArgumentException`), and
/// the same stream name in two regions has two sets of limits.
@Suite(.timeLimit(.minutes(1))) struct ScopedTokenTests {
    @Test func iteratorsAndNextTokensStayInTheirRegion() async throws {
        try await withServer { port in
            for region in ["us-west-2", "eu-west-1"] {
                for name in ["s", "t"] {
                    let create = #"{"StreamName":"\#(name)","ShardCount":2}"#
                    #expect(try await signed(port, region, "CreateStream", create).status == 200)
                }
            }
            let iteratorBody =
                #"{"StreamName":"s","ShardId":"shardId-000000000000","ShardIteratorType":"TRIM_HORIZON"}"#
            let it = try #require(
                try await signed(port, "us-west-2", "GetShardIterator", iteratorBody).body["ShardIterator"])
            let getRecords = #"{"ShardIterator":"\#(it)"}"#
            #expect(try await signed(port, "us-west-2", "GetRecords", getRecords).status == 200)
            let foreign = try await signed(port, "eu-west-1", "GetRecords", getRecords)
            #expect(foreign.status == 400)
            #expect(foreign.body["__type"] == "InvalidArgumentException")
            // Unsigned requests act in us-east-1: refused there too.
            let unsigned = try await kinesisRequest(port: port, operation: "GetRecords", body: getRecords)
            #expect(unsigned.body["__type"] == "InvalidArgumentException")

            let firstPage = try await signed(port, "us-west-2", "ListStreams", #"{"Limit":1}"#)
            let streamsToken = try #require(firstPage.body["NextToken"])
            let nextPage = #"{"NextToken":"\#(streamsToken)"}"#
            #expect(try streamNames(try await signed(port, "us-west-2", "ListStreams", nextPage)) == ["t"])
            #expect(
                try await signed(port, "eu-west-1", "ListStreams", nextPage).body["__type"]
                    == "InvalidArgumentException")

            let shardsPage = try await signed(port, "us-west-2", "ListShards", #"{"StreamName":"s","MaxResults":1}"#)
            let shardsToken = try #require(shardsPage.body["NextToken"])
            let nextShards = #"{"NextToken":"\#(shardsToken)"}"#
            #expect(try await signed(port, "us-west-2", "ListShards", nextShards).status == 200)
            #expect(
                try await signed(port, "eu-west-1", "ListShards", nextShards).body["__type"]
                    == "InvalidArgumentException")
        }
    }

    /// With `--enforce-shard-limits`, writing a shard's whole second of capacity in us-west-2 leaves the stream of
    /// the same name in eu-west-1 untouched.
    @Test func shardLimitsArePerRegion() async throws {
        var options = KinesisServerOptions()
        options.enforceShardLimits = true
        try await withServer(options) { port in
            for region in ["us-west-2", "eu-west-1"] {
                #expect(
                    try await signed(port, region, "CreateStream", #"{"StreamName":"s","ShardCount":1}"#).status == 200)
            }
            let entries = (0..<500).map { #"{"Data":"","PartitionKey":"k\#($0)"}"# }.joined(separator: ",")
            let body = #"{"StreamName":"s","Records":[\#(entries)]}"#
            // 1000 records per second per shard: batches of 500 in a row soon exceed it (the bucket refills by one
            // record per millisecond; a request would have to take half a second each for 20 never to).
            var failed = 0
            for _ in 0..<20 where failed == 0 {
                let reply = try await signed(port, "us-west-2", "PutRecords", body)
                failed = Int(reply.body["FailedRecordCount"] ?? "") ?? 0
            }
            #expect(failed > 0)
            let other = try await signed(port, "eu-west-1", "PutRecords", body)
            #expect(other.status == 200 && other.body["FailedRecordCount"] == "0")
        }
    }
}
