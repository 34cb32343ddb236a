import Foundation
import ShardLog
import ShardLogWire
import Synchronization

/// What the server keeps about a stream beyond the store's metadata: tags, enhanced fan-out consumers, enhanced
/// monitoring settings, shard open/close times seen by this server, and the resource policies of the stream and its
/// consumers.
///
/// Stored in `streams/<name>/server.json` (replaced by atomic write + rename), next to the store's `stream.json`,
/// so deleting the stream deletes it too.
struct StreamExtras: Codable, Sendable, Equatable {
    var tags: [String: String] = [:]
    var consumers: [Consumer] = []
    var shardLevelMetrics: [String] = []
    /// Shard id → creation and close times (epoch ms) of shards created or closed through this server.
    var shardTimes: [String: ShardTimes] = [:]
    /// Resource ARN (the stream's, or one of its consumers') → policy document (`PutResourcePolicy`).
    var resourcePolicies: [String: String] = [:]

    /// A registered enhanced fan-out consumer.
    struct Consumer: Codable, Sendable, Equatable {
        var name: String
        var arn: String
        var creationMilliseconds: Int64
        /// Its tags (RegisterStreamConsumer `Tags`, TagResource on its ARN); absent in files written before.
        var tags: [String: String]? = nil
    }

    /// When a shard was opened and closed.
    struct ShardTimes: Codable, Sendable, Equatable {
        var created: Int64?
        var closed: Int64?
    }

    init() {}

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        tags = try c.decodeIfPresent([String: String].self, forKey: .tags) ?? [:]
        consumers = try c.decodeIfPresent([Consumer].self, forKey: .consumers) ?? []
        shardLevelMetrics = try c.decodeIfPresent([String].self, forKey: .shardLevelMetrics) ?? []
        shardTimes = try c.decodeIfPresent([String: ShardTimes].self, forKey: .shardTimes) ?? [:]
        resourcePolicies = try c.decodeIfPresent([String: String].self, forKey: .resourcePolicies) ?? [:]
    }
}

/// Reads and updates ``StreamExtras`` files. Updates within this process are serialized by a mutex.
final class StreamExtrasStore: Sendable {
    private let directory: String
    private let writeLock = Mutex(())

    init(directory: String) { self.directory = directory }

    private func path(_ stream: String) -> String { directory + "/streams/" + stream + "/server.json" }

    /// The extras of `stream` (empty when none were saved).
    func load(_ stream: String) throws -> StreamExtras {
        guard let data = FileManager.default.contents(atPath: path(stream)) else { return StreamExtras() }
        do {
            return try JSONDecoder().decode(StreamExtras.self, from: data)
        } catch {
            throw KinesisError(.internalFailure, "\(path(stream)) is not valid server metadata: \(error)")
        }
    }

    /// Applies `change` to the extras of `stream` and saves them atomically.
    @discardableResult
    func update<R: Sendable>(_ stream: String, _ change: (inout StreamExtras) throws -> R) throws -> R {
        try writeLock.withLock { _ in
            var extras = try load(stream)
            let result = try change(&extras)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try FileSystem.writeAtomically([UInt8](try encoder.encode(extras)), to: path(stream))
            return result
        }
    }
}

/// The account's settings (`UpdateAccountSettings`): `server-account.json` in the data directory, replaced by atomic
/// write + rename. Updates within this process are serialized by a mutex.
final class AccountSettingsStore: Sendable {
    /// The `MinimumThroughputBillingCommitment` of the account.
    struct Settings: Codable, Sendable, Equatable {
        /// `ENABLED` or `DISABLED`.
        var status: String
        /// When the commitment was last enabled (epoch ms).
        var startedAt: Int64?
        /// When it was last disabled (epoch ms).
        var endedAt: Int64?
    }

    private let path: String
    private let writeLock = Mutex(())

    init(directory: String) { self.path = directory + "/server-account.json" }

    /// The stored settings (`DISABLED` when none were saved).
    /// - Throws: `InternalFailure` naming the file and the field when it is damaged.
    func load() throws -> Settings {
        guard let data = FileManager.default.contents(atPath: path) else { return Settings(status: "DISABLED") }
        let settings: Settings
        do {
            settings = try JSONDecoder().decode(Settings.self, from: data)
        } catch {
            throw KinesisError(.internalFailure, "\(path) is not valid account settings: \(error)")
        }
        guard ["ENABLED", "DISABLED"].contains(settings.status) else {
            throw KinesisError(
                .internalFailure, "\(path) is damaged: field status is '\(settings.status)', not ENABLED or DISABLED")
        }
        return settings
    }

    /// Sets the commitment's status, recording when it started or ended; returns the new settings.
    func update(status: String, now: Int64) throws -> Settings {
        try writeLock.withLock { _ in
            var s = try load()
            if status != s.status {
                if status == "ENABLED" {
                    s.startedAt = now
                    s.endedAt = nil
                } else {
                    s.endedAt = now
                }
                s.status = status
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try FileSystem.writeAtomically([UInt8](try encoder.encode(s)), to: path)
            return s
        }
    }

    /// `DescribeAccountSettings`' answer.
    func describe() throws -> JSON { .fields(["MinimumThroughputBillingCommitment": Self.json(try load())]) }

    /// A `MinimumThroughputBillingCommitmentOutput`.
    static func json(_ s: Settings) -> JSON {
        .fields([
            "Status": .string(s.status),
            "StartedAt": s.startedAt.map(JSON.epochMilliseconds),
            "EndedAt": s.endedAt.map(JSON.epochMilliseconds),
        ])
    }
}
