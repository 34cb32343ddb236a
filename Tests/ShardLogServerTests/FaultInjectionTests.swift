import Foundation
import ShardLogTestSupport
import Testing

@testable import ShardLogServer

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// One answer: status and the whole JSON body.
private func call(_ port: Int, _ operation: String, _ body: Any) async throws -> (status: Int, json: [String: Any]) {
    var request = URLRequest(url: try #require(URL(string: "http://127.0.0.1:\(port)/")))
    request.httpMethod = "POST"
    request.setValue("application/x-amz-json-1.1", forHTTPHeaderField: "Content-Type")
    request.setValue("Kinesis_20131202." + operation, forHTTPHeaderField: "X-Amz-Target")
    request.httpBody = try JSONSerialization.data(withJSONObject: body)
    let (data, response) = try await URLSession.shared.data(for: request)
    let http = try #require(response as? HTTPURLResponse)
    let object = (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
    return (http.statusCode, object)
}

@Suite struct FaultInjectionTests {
    @Test func parsesTermsPerOperationAndForAll() throws {
        let f = try FaultInjector(
            spec: "ProvisionedThroughputExceededException=0.05, PutRecords:InternalFailure=0.01", seed: 7)
        #expect(
            f.terms == [
                .init(operation: nil, code: "ProvisionedThroughputExceededException", probability: 0.05),
                .init(operation: "PutRecords", code: "InternalFailure", probability: 0.01),
            ])
    }

    @Test(arguments: [
        ("", "empty term"),
        ("InternalFailure", "'InternalFailure' is not [Operation:]Code=probability"),
        ("Bogus=0.1", "unknown error code 'Bogus'"),
        ("PutRecordz:InternalFailure=0.1", "unknown operation 'PutRecordz'"),
        ("InternalFailure=1.5", "probability '1.5' is not a number in 0...1"),
        ("InternalFailure=0.1,", "empty term"),
    ])
    func badSpecsNameTheTerm(spec: String, expected: String) {
        #expect {
            _ = try FaultInjector(spec: spec, seed: 1)
        } throws: { error in
            "\(error)".contains(expected)
        }
    }

    @Test func sameSeedSameFailures() throws {
        let a = try FaultInjector(spec: "ProvisionedThroughputExceededException=0.3", seed: 42)
        let b = try FaultInjector(spec: "ProvisionedThroughputExceededException=0.3", seed: 42)
        let drawsA = (0..<200).map { _ in a.requestFault(operation: "PutRecords") == nil }
        let drawsB = (0..<200).map { _ in b.requestFault(operation: "PutRecords") == nil }
        #expect(drawsA == drawsB)
        #expect(drawsA.contains(true) && drawsA.contains(false))
    }

    /// Whole requests fail with AWS's status and body; PutRecords entries fail one by one, and exactly the entries
    /// answered with a sequence number are stored.
    @Test func injectedFaultsHaveAWSShapes() async throws {
        var options = KinesisServerOptions()
        options.faults = try FaultInjector(
            spec: "ListStreams:InternalFailure=1,PutRecords:ProvisionedThroughputExceededException=0.3", seed: 3)
        try await withServer(options) { port in
            let list = try await call(port, "ListStreams", [String: Any]())
            #expect(list.status == 500)
            #expect(list.json["__type"] as? String == "InternalFailure")
            #expect(list.json["message"] is String)
            let created = try await call(port, "CreateStream", ["StreamName": "f", "ShardCount": 1])
            #expect(created.status == 200)
            var stored: Set<String> = []
            var (wholeFailures, entryFailures) = (0, 0)
            for batch in 0..<12 {
                let texts = (0..<40).map { "r\(batch)-\($0)" }
                let records = texts.map { ["Data": Data($0.utf8).base64EncodedString(), "PartitionKey": "k"] }
                let reply = try await call(port, "PutRecords", ["StreamName": "f", "Records": records])
                if reply.status == 400 {
                    #expect(reply.json["__type"] as? String == "ProvisionedThroughputExceededException")
                    wholeFailures += 1
                    continue
                }
                #expect(reply.status == 200)
                let results = try #require(reply.json["Records"] as? [[String: Any]])
                #expect(results.count == texts.count)
                var failed = 0
                for (text, result) in zip(texts, results) {
                    if let code = result["ErrorCode"] as? String {
                        #expect(code == "ProvisionedThroughputExceededException")
                        #expect(result["ErrorMessage"] is String)
                        #expect(result["SequenceNumber"] == nil)
                        failed += 1
                    } else {
                        #expect(result["SequenceNumber"] is String)
                        stored.insert(text)
                    }
                }
                #expect(reply.json["FailedRecordCount"] as? Int == failed)
                entryFailures += failed
            }
            #expect(wholeFailures > 0)
            #expect(entryFailures > 0)
            let shards = try await call(port, "ListShards", ["StreamName": "f"])
            let shard = try #require((shards.json["Shards"] as? [[String: Any]])?.first?["ShardId"] as? String)
            let iterator = try await call(
                port, "GetShardIterator", ["StreamName": "f", "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"])
            let it = try #require(iterator.json["ShardIterator"] as? String)
            let got = try await call(port, "GetRecords", ["ShardIterator": it, "Limit": 10000])
            let read = try #require(got.json["Records"] as? [[String: Any]]).compactMap {
                ($0["Data"] as? String).flatMap { Data(base64Encoded: $0) }.map { String(decoding: $0, as: UTF8.self) }
            }
            #expect(read.count == stored.count)
            #expect(Set(read) == stored)
        }
    }
}
