import Foundation
import ShardLogTestSupport
import Testing

@testable import ShardLogServer

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The console shows one account and region at a time, chosen with `scope=ACCOUNT/REGION`: streams created from
/// another region appear there (and only there), with their records.
@Suite(.timeLimit(.minutes(1))) struct ConsoleScopeTests {
    private func get(_ port: Int, _ path: String) async throws -> (status: Int, body: [String: Any]) {
        let url = try #require(URL(string: "http://127.0.0.1:\(port)" + path))
        let (data, response) = try await URLSession.shared.data(from: url)
        let body = try #require(JSONSerialization.jsonObject(with: data) as? [String: Any])
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, body)
    }

    private func streamNames(_ overview: [String: Any]) -> [String] {
        (overview["streams"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
    }

    @Test func overviewRecordsAndFailuresPerAccountAndRegion() async throws {
        try await withTemporaryDirectory { dir in
            try await withServer(directory: dir) { port in
                #expect(
                    try await signed(port, "us-west-2", "CreateStream", #"{"StreamName":"west","ShardCount":1}"#)
                        .status == 200)
                let put = #"{"StreamName":"west","PartitionKey":"k","Data":"eyJhIjoxfQ=="}"#
                #expect(try await signed(port, "us-west-2", "PutRecord", put).status == 200)
                #expect(
                    try await kinesisRequest(
                        port: port, operation: "CreateStream", body: #"{"StreamName":"east","ShardCount":1}"#
                    ).status == 200)

                let home = try await get(port, "/console/api/overview")
                #expect(home.status == 200)
                #expect(home.body["scope"] as? String == "000000000000/us-east-1")
                #expect(home.body["scopes"] as? [String] == ["000000000000/us-east-1", "000000000000/us-west-2"])
                #expect(streamNames(home.body) == ["east"])

                let west = try await get(port, "/console/api/overview?scope=000000000000/us-west-2")
                #expect(west.status == 200)
                #expect(west.body["scope"] as? String == "000000000000/us-west-2")
                #expect(streamNames(west.body) == ["west"])

                let records = try await get(
                    port,
                    "/console/api/records?scope=000000000000/us-west-2&stream=west&shard=shardId-000000000000"
                        + "&type=TRIM_HORIZON")
                #expect(records.status == 200)
                let first = (records.body["records"] as? [[String: Any]])?.first
                #expect(first?["data"] as? String == #"{"a":1}"#)

                let unknown = try await get(port, "/console/api/overview?scope=000000000000/eu-west-1")
                #expect(unknown.status == 400)
                #expect((unknown.body["message"] as? String)?.contains("eu-west-1") == true)
                let failures = try await get(port, "/console/api/failures?scope=000000000000/us-west-2")
                #expect(failures.status == 200 && (failures.body["failures"] as? [Any])?.isEmpty == true)
            }
        }
    }
}
