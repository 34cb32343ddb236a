import Foundation
import ShardLog
import ShardLogTestSupport
import Testing

@testable import ShardLogMapping

/// Hostile mapping configurations, damaged `mapping.json`/`checkpoints.json` files and concurrent runs of one
/// mapping: clear errors naming the file and the field, never a trap.
@Suite struct MappingFilesTests {
    @Test(arguments: [
        (#"{"StartingPosition":"LATEST","Timeout":1e300}"#, "Timeout"),
        (#"{"StartingPosition":"LATEST","Timeout":-1}"#, "Timeout"),
        (#"{"StartingPosition":"LATEST","Timeout":0}"#, "Timeout"),
        (#"{"StartingPosition":"LATEST","Timeout":901}"#, "Timeout"),
        (#"{"StartingPosition":"LATEST","Timeout":"60"}"#, "Timeout"),
        (#"{"StartingPosition":"LATEST","FunctionTimeoutSeconds":1e300}"#, "FunctionTimeoutSeconds"),
        (#"{"StartingPosition":"LATEST","BatchSize":1e300}"#, "BatchSize"),
        (#"{"StartingPosition":"LATEST","BatchSize":-1e300}"#, "BatchSize"),
        (#"{"StartingPosition":"LATEST","ParallelizationFactor":1e16}"#, "ParallelizationFactor"),
        (#"{"StartingPosition":"AT_TIMESTAMP","StartingPositionTimestamp":1e300}"#, "StartingPositionTimestamp"),
        (#"{"StartingPosition":"AT_TIMESTAMP","StartingPositionTimestamp":-1e300}"#, "StartingPositionTimestamp"),
        (#"{"StartingPosition":"LATEST","StreamName":7}"#, "StreamName"),
        (#"{"StartingPosition":"LATEST","BatchSzie":10}"#, "'BatchSzie'"),
        (#"[{"StartingPosition":"LATEST"}]"#, "JSON object"),
    ])
    func hostileConfigurationsAreRefusedNamingTheField(json: String, field: String) throws {
        let error = try #require(throws: MappingError.self) { try MappingConfiguration(json: Array(json.utf8)) }
        #expect(error.code == .invalidParameter || error.code == .validation, "\(error)")
        #expect(error.message.contains(field), "\(error.message)")
    }

    @Test func anUnknownFieldNamesTheAllowedFields() throws {
        let json = #"{"StartingPosition":"LATEST","BatchSzie":10}"#
        let error = try #require(throws: MappingError.self) { try MappingConfiguration(json: Array(json.utf8)) }
        #expect(error.message.contains("allowed fields"))
        #expect(error.message.contains("BatchSize") && error.message.contains("Timeout"))
    }

    @Test(arguments: [
        (#"{"StreamName":"s","StartingPosition":"LATEST","Timeout":1e300}"#, "Timeout"),
        (#"{"StreamName":"s","StartingPosition":"LATEST","Tiemout":5}"#, "Tiemout"),
        (#"{"StreamName":"../etc","StartingPosition":"LATEST"}"#, "StreamName"),
        (#"{"StartingPosition":"LATEST"}"#, "StreamName"),
        (#"{"StreamName":"s","StartingPosition":"LATEST","BatchSize":0}"#, "batchSize"),
        (#"{"StreamName":"s","StartingPos"#, "JSON"),
    ])
    func aDamagedMappingFileIsReportedWithItsPath(json: String, field: String) async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            let path = try Self.write(json, store: store, file: "mapping.json")
            let error = try #require(throws: MappingError.self) {
                try MappingCatalog.definition(store: store, name: "m")
            }
            #expect(error.message.contains(path), "\(error.message)")
            #expect(error.message.contains(field), "\(error.message)")
        }
    }

    @Test func aSavedMappingFileReadsBack() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            let definition = MappingDefinition(
                streamName: "s", configuration: MappingConfiguration(startingPosition: .trimHorizon, batchSize: 7),
                handler: "exec:cat", timeoutSeconds: 30)
            try MappingCatalog.save(definition, store: store, name: "m")
            #expect(try MappingCatalog.definition(store: store, name: "m") == definition)
        }
    }

    static let nines = "49" + String(repeating: "0", count: 12) + String(repeating: "9", count: 42)

    @Test(arguments: [
        (
            #"{"streamName":"s","shards":{"shardId-000000000000":{"finished":false,"sequenceNumber":"\#(nines)"}}}"#,
            "sequenceNumber"
        ),
        (
            #"{"streamName":"s","shards":{"shardId-000000000000":{"finished":false,"sequenceNumber":"12"}}}"#,
            "sequenceNumber"
        ),
        (#"{"streamName":"s","shards":{"foo":{"finished":false}}}"#, "foo"),
        (
            #"{"streamName":"s","shards":{"shardId-000000000001":{"finished":false,"sequenceNumber":"\#(SequenceNumber(shardIndex: 0, offset: 3))"}}}"#,
            "belongs to shardId-000000000000"
        ),
        (#"{"streamName":"../x","shards":{}}"#, "streamName"),
        (#"{"streamName":"s","shards":{"shardId-000000000000":{"finished":"no"}}}"#, "finished"),
        (#"{"streamName":"s","shards":{"#, "JSON"),
    ])
    func aDamagedCheckpointFileIsReportedWithItsPath(json: String, field: String) async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            let path = try Self.write(json, store: store, file: "checkpoints.json")
            let error = try #require(throws: MappingError.self) {
                try MappingCatalog.checkpoints(store: store, name: "m")
            }
            #expect(error.message.contains(path), "\(error.message)")
            #expect(error.message.contains(field), "\(error.message)")
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aSecondMapOfOneMappingIsRefusedAndAKilledHolderFreesIt() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            try store.createStream(named: "s", shardCount: 1)
            let arguments = [
                "--data-dir", dir, "map", "s", "--handler", "exec:cat", "--starting-position", "TRIM_HORIZON",
                "--mapping-name", "m",
            ]
            let first = try await BackgroundProcess.start(arguments)
            let lock = dir + "/mappings/m/lock"
            let deadline = ContinuousClock.now + .seconds(30)
            while InterProcessLock.holder(path: lock) != "\(first.pid)" && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(InterProcessLock.holder(path: lock) == "\(first.pid)", "\(first.stderrText)")
            let second = try await runShardlog(arguments + ["--exit-when-idle"])
            #expect(second.status == 1, "\(second.stderr)")
            #expect(second.stderr.contains("mapping m is already running in process \(first.pid)"))
            #expect(throws: MappingError.self) { try MappingCatalog.reset(store: store, name: "m") }

            first.signal(SIGKILL)
            #expect(try await first.exitStatus() == 128 + SIGKILL)
            let lockHeld = try MappingLock.acquire(store: store, name: "m")
            lockHeld.release()
            let third = try await runShardlog(arguments + ["--exit-when-idle"])
            #expect(third.status == 0, "\(third.stderr)")
        }
    }

    /// Writes `json` as `mappings/m/<file>`; returns its path.
    static func write(_ json: String, store: Store, file: String) throws -> String {
        let directory = MappingCatalog.directory(store: store, name: "m")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/" + file
        try json.write(toFile: path, atomically: false, encoding: .utf8)
        return path
    }
}
