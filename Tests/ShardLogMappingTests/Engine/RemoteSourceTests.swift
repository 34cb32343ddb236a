import Foundation
import Logging
import ShardLog
import ShardLogClient
import ShardLogServer
import ShardLogTestSupport
import ShardLogWire
import Synchronization
import Testing

@testable import ShardLogMapping

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Credentials the in-process server verifies, so the SigV4 signer is checked too.
private let testCredentials = ["AKIDREMOTETEST": "remote-test-secret"]
private let testEnvironment = [
    "AWS_ACCESS_KEY_ID": "AKIDREMOTETEST", "AWS_SECRET_ACCESS_KEY": "remote-test-secret", "AWS_REGION": "us-east-1",
]

/// Runs a `shardlog serve` server in-process on 127.0.0.1, port 0, over its own data directory, verifying SigV4.
private func withRemoteServer<R: Sendable>(_ body: @Sendable (URL) async throws -> R) async throws -> R {
    var options = KinesisServerOptions()
    options.credentials = testCredentials
    return try await withServer(options) { port in
        try await body(try #require(URL(string: "http://127.0.0.1:\(port)")))
    }
}

/// A signed client of an endpoint, for the test's own calls.
private func client(_ url: URL) -> KinesisClient {
    KinesisClient(
        endpoint: url,
        signer: SigV4Signer(
            accessKeyId: "AKIDREMOTETEST", secretAccessKey: "remote-test-secret", sessionToken: nil,
            region: "us-east-1", service: "kinesis"))
}

/// Puts records `start..<start+count` with keys `k0…k(keys-1)` through `PutRecords`.
private func putRemote(_ client: KinesisClient, stream: String, count: Int, keys: Int, start: Int = 0) async throws {
    let entries: [JSON] = (start..<(start + count)).map { i in
        .object([
            "PartitionKey": .string("k\(i % keys)"),
            "Data": .string(Data(payload(key: "k\(i % keys)", index: i)).base64EncodedString()),
        ])
    }
    let response = try await client.call("PutRecords", ["StreamName": .string(stream), "Records": .array(entries)])
    #expect(response["FailedRecordCount"] == .number(0))
}

/// A mapping of a remote stream with fast retries and describes.
private func makeRemoteMapping(
    store: Store, source: KinesisSource, configuration: MappingConfiguration, invoker: any Invoker
) -> EventSourceMapping {
    var tuning = EventSourceMapping.Tuning()
    tuning.firstRetryDelay = .milliseconds(5)
    tuning.maximumRetryDelay = .milliseconds(20)
    tuning.describeInterval = .milliseconds(200)
    return EventSourceMapping(
        store: store, streamName: source.streamName, name: "remote", configuration: configuration, invoker: invoker,
        onFailure: nil, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
        timeout: .seconds(5), tuning: tuning, remote: source)
}

/// The index `i` of a test payload.
private func index(_ record: Record) -> Int {
    Int(String(decoding: record.data, as: UTF8.self).split(separator: ":").last?.dropLast() ?? "") ?? -1
}

// Each test starts a server or a moto process; one at a time keeps them within the time limit on 2 cores.
@Suite(.serialized, .timeLimit(.minutes(1)))
struct RemoteSourceTests {
    @Test func readsAnotherServerAndDrainsTheParentBeforeTheChildrenOfASplit() async throws {
        try await withRemoteServer { url in
            let client = client(url)
            _ = try await client.call("CreateStream", ["StreamName": .string("orders"), "ShardCount": .number(1)])
            try await putRemote(client, stream: "orders", count: 60, keys: 6)
            try await withTemporaryDirectory { local in
                let store = try Store(directory: local)
                let source = try KinesisSource(
                    endpoint: url.absoluteString, stream: "orders", environment: testEnvironment)
                let invoker = ScriptedInvoker(delay: .milliseconds(20))
                let mapping = makeRemoteMapping(
                    store: store, source: source,
                    configuration: MappingConfiguration(startingPosition: .trimHorizon, batchSize: 5),
                    invoker: invoker)
                async let summary = mapping.run(exitWhenIdle: false)
                #expect(await eventually { invoker.calls.count >= 2 })
                _ = try await client.call(
                    "SplitShard",
                    [
                        "StreamName": .string("orders"), "ShardToSplit": .string("shardId-000000000000"),
                        "NewStartingHashKey": .string(String(UInt128(1) << 127)),
                    ])
                try await putRemote(client, stream: "orders", count: 60, keys: 6, start: 60)
                #expect(await eventually { invoker.delivered.count >= 120 })
                mapping.stop()
                let result = try await summary
                let calls = invoker.calls.filter { if case .response = $0.outcome { true } else { false } }
                let delivered = calls.flatMap(\.records)
                #expect(Set(delivered.map(index)) == Set(0..<120))
                #expect(delivered.allSatisfy { $0.sourceSequenceNumber != nil })
                let lastParent = try #require(calls.lastIndex { $0.shardId == "shardId-000000000000" })
                let firstChild = try #require(calls.firstIndex { $0.shardId != "shardId-000000000000" })
                #expect(lastParent < firstChild)
                for key in Set(delivered.map(\.partitionKey)) {
                    let order = delivered.filter { $0.partitionKey == key }.map(index)
                    #expect(order == order.sorted())
                }
                let parent = try #require(result.checkpoints["shardId-000000000000"])
                #expect(parent.finished)
                #expect(parent.sequenceNumber == calls[lastParent].records.last?.sequenceNumber)
                #expect(result.checkpoints.count == 3)
                let definition = try #require(try MappingCatalog.definition(store: store, name: "remote"))
                #expect(definition.sourceEndpoint == url.absoluteString)
            }
        }
    }

    @Test func requestsAreSignedWithTheEnvironmentsCredentials() async throws {
        try await withRemoteServer { url in
            _ = try await client(url).call("CreateStream", ["StreamName": .string("s"), "ShardCount": .number(3)])
            let good = try KinesisSource(endpoint: url.absoluteString, stream: "s", environment: testEnvironment)
            #expect(try await good.shards().count == 3)
            #expect(try await good.streamARN().hasSuffix(":stream/s"))
            var environment = testEnvironment
            environment["AWS_SECRET_ACCESS_KEY"] = "wrong"
            let bad = try KinesisSource(endpoint: url.absoluteString, stream: "s", environment: environment)
            await #expect(throws: KinesisServiceError.self) { try await bad.shards() }
            #expect(throws: MappingError.self) { try KinesisSource(endpoint: "ftp://example.com", stream: "s") }
        }
    }

    @Test func restartResumesFromTheLocalCheckpoint() async throws {
        try await withRemoteServer { url in
            let client = client(url)
            _ = try await client.call("CreateStream", ["StreamName": .string("s"), "ShardCount": .number(2)])
            try await putRemote(client, stream: "s", count: 40, keys: 4)
            try await withTemporaryDirectory { local in
                let store = try Store(directory: local)
                let source = try KinesisSource(endpoint: url.absoluteString, stream: "s", environment: testEnvironment)
                let configuration = MappingConfiguration(startingPosition: .trimHorizon, batchSize: 7)
                let first = ScriptedInvoker()
                let summary = try await makeRemoteMapping(
                    store: store, source: source, configuration: configuration, invoker: first
                ).run(exitWhenIdle: true)
                #expect(Set(first.delivered.map(index)) == Set(0..<40))
                #expect(summary.checkpoints.values.allSatisfy { $0.sequenceNumber != nil })

                try await putRemote(client, stream: "s", count: 20, keys: 4, start: 40)
                let second = ScriptedInvoker()
                _ = try await makeRemoteMapping(
                    store: store, source: source, configuration: configuration, invoker: second
                ).run(exitWhenIdle: true)
                #expect(second.delivered.map(index).sorted() == Array(40..<60))
            }
        }
    }

    @Test func readsMotoKinesis() async throws {
        try await withMoto { port in try await readsMoto(port: port) }
    }

    private func readsMoto(port: Int) async throws {
        _ = try await runBoto3(
            """
            create("moto", 2)
            for i in range(50):
                k.put_record(StreamName="moto", PartitionKey=f"k{i % 5}",
                             Data=('{"key":"k%d","i":%d}' % (i % 5, i)).encode())
            print("{}")
            """, port: port)
        try await withTemporaryDirectory { local in
            let store = try Store(directory: local)
            let source = try KinesisSource(
                endpoint: "http://127.0.0.1:\(port)", stream: "moto", environment: ["AWS_REGION": "us-east-1"])
            let invoker = ScriptedInvoker()
            let summary = try await makeRemoteMapping(
                store: store, source: source,
                configuration: MappingConfiguration(
                    startingPosition: .trimHorizon, batchSize: 10,
                    parallelizationFactor: 2),
                invoker: invoker
            ).run(exitWhenIdle: true)
            let delivered = invoker.delivered
            #expect(delivered.map(index).sorted() == Array(0..<50))
            for key in Set(delivered.map(\.partitionKey)) {
                let order = delivered.filter { $0.partitionKey == key }.map(index)
                #expect(order == order.sorted())
            }
            #expect(summary.checkpoints.count == 2)
            #expect(summary.checkpoints.values.allSatisfy { $0.sequenceNumber != nil })
        }
    }
}
