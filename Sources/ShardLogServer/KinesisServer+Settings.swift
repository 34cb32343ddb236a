import Foundation
import ShardLog
import ShardLogWire

/// Encryption, capacity mode, limits, resource policies, account settings, maximum record size and warm throughput.
/// Stream settings live in the store's `stream.json` (see `DataStream+Settings.swift`), resource policies in the
/// stream's `server.json` with its consumers, account settings in `server-account.json` — all in the data directory
/// of the request's account and region (``RegionalStores``).
extension KinesisServer {
    // MARK: - Stream settings

    /// `StartStreamEncryption` records `KMS` with the key; `StopStreamEncryption` records `NONE`.
    func changeEncryption(_ p: Params, start: Bool) throws -> JSON {
        let stream = try openStream(p)
        let type = try p.requiredString("EncryptionType")
        let key = try p.requiredString("KeyId")
        guard type == "KMS" else {
            throw KinesisError(
                .invalidArgument,
                "EncryptionType \(type) is not valid for \(start ? "StartStreamEncryption" : "StopStreamEncryption")"
                    + " on stream \(stream.name); the only encryption type is KMS")
        }
        try stream.setEncryption(kmsKeyId: start ? key : nil)
        return .fields([:])
    }

    /// `UpdateStreamMode`: by `StreamARN`; the shards stay as they are; a `WarmThroughputMiBps` is recorded as by
    /// `UpdateStreamWarmThroughput`.
    func updateStreamMode(_ p: Params) throws -> JSON {
        let name = try Self.streamName(fromARN: try p.requiredString("StreamARN"), scope: p.scope)
        let stream = try regional(p).store.stream(named: name)
        guard let details = try p.object("StreamModeDetails") else { throw Params.missing("streamModeDetails") }
        let text = try details.requiredString("StreamMode")
        guard let mode = StreamMode(rawValue: text) else {
            throw KinesisError(.validation, "StreamMode must be PROVISIONED or ON_DEMAND, not \(text)")
        }
        try stream.setMode(mode)
        if let warm = try p.int("WarmThroughputMiBps") { try stream.setWarmThroughput(mebibytesPerSecond: warm) }
        return .fields([:])
    }

    /// `UpdateMaxRecordSize`: by `StreamARN`; the model checked 1024–10240.
    func updateMaxRecordSize(_ p: Params) throws -> JSON {
        let name = try Self.streamName(fromARN: try p.requiredString("StreamARN"), scope: p.scope)
        try regional(p).store.stream(named: name).setMaxRecordSize(kibibytes: try p.requiredInt("MaxRecordSizeInKiB"))
        return .fields([:])
    }

    static func warmThroughputJSON(_ mebibytesPerSecond: Int) -> JSON {
        .fields(["TargetMiBps": .integer(mebibytesPerSecond), "CurrentMiBps": .integer(mebibytesPerSecond)])
    }

    /// `UpdateStreamWarmThroughput`: recorded; reached at once (target = current).
    func updateStreamWarmThroughput(_ p: Params) throws -> JSON {
        let stream = try openStream(p)
        let warm = try p.requiredInt("WarmThroughputMiBps")
        try stream.setWarmThroughput(mebibytesPerSecond: warm)
        return .fields([
            "StreamARN": .string(stream.arn.description),
            "StreamName": .string(stream.name),
            "WarmThroughput": Self.warmThroughputJSON(warm),
        ])
    }

    // MARK: - Limits and account

    /// The open shards of every stream of `store` (one account and region): what CreateStream's shard limit and
    /// DescribeLimits count.
    static func openShardCount(_ store: Store) throws -> Int {
        var open = 0
        for name in try store.listStreams() {
            guard let d = try? store.stream(named: name).describe() else { continue }
            open += d.openShards.count
        }
        return open
    }

    /// On-demand streams an account may have at AWS by default; not enforced here.
    static let onDemandStreamCountLimit = 50

    /// `DescribeLimits`: the shard limit this server enforces on `CreateStream`, the open shards and on-demand
    /// streams of the request's account and region.
    func describeLimits(_ p: Params) throws -> JSON {
        let store = try regional(p).store
        var onDemand = 0
        for name in try store.listStreams() {
            guard let d = try? store.stream(named: name).describe() else { continue }
            if d.streamModeDetails.streamMode == .onDemand { onDemand += 1 }
        }
        return .fields([
            "ShardLimit": .integer(Limits.shardCount.upperBound),
            "OpenShardCount": .integer(try Self.openShardCount(store)),
            "OnDemandStreamCount": .integer(onDemand),
            "OnDemandStreamCountLimit": .integer(Self.onDemandStreamCountLimit),
        ])
    }

    func updateAccountSettings(_ p: Params) throws -> JSON {
        guard let commitment = try p.object("MinimumThroughputBillingCommitment") else {
            throw Params.missing("minimumThroughputBillingCommitment")
        }
        let settings = try regional(p).accountSettings.update(
            status: try commitment.requiredString("Status"), now: nowMilliseconds())
        return .fields(["MinimumThroughputBillingCommitment": AccountSettingsStore.json(settings)])
    }

    // MARK: - Resource policies

    /// The stream whose `server.json` holds the policy of `arn` (a stream or consumer ARN), after checking that the
    /// stream, and the consumer, exist.
    private func policyOwner(_ p: Params) throws -> (stream: String, arn: String) {
        let arn = try p.requiredString("ResourceARN")
        if arn.contains("/consumer/") { return (try consumer(arn: arn, p).stream, arn) }
        let name = try Self.streamName(fromARN: arn, scope: p.scope)
        _ = try regional(p).store.stream(named: name)
        return (name, arn)
    }

    func putResourcePolicy(_ p: Params) throws -> JSON {
        let (stream, arn) = try policyOwner(p)
        let policy = try p.requiredString("Policy")
        guard case .object? = try? JSON(parsing: policy) else {
            throw KinesisError(.invalidArgument, "Policy for \(arn) is not a JSON policy document (a JSON object)")
        }
        try regional(p).extras.update(stream) { $0.resourcePolicies[arn] = policy }
        return .fields([:])
    }

    /// `GetResourcePolicy`: the policy, or `{}` when none is attached (as AWS and moto answer).
    func getResourcePolicy(_ p: Params) throws -> JSON {
        let (stream, arn) = try policyOwner(p)
        return .fields(["Policy": .string(try regional(p).extras.load(stream).resourcePolicies[arn] ?? "{}")])
    }

    func deleteResourcePolicy(_ p: Params) throws -> JSON {
        let (stream, arn) = try policyOwner(p)
        try regional(p).extras.update(stream) { e in
            guard e.resourcePolicies.removeValue(forKey: arn) != nil else {
                throw KinesisError(.resourceNotFound, "No resource policy found for resource ARN \(arn).")
            }
        }
        return .fields([:])
    }
}
