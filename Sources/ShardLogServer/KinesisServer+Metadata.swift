import Foundation
import ShardLog
import ShardLogWire

extension KinesisServer {
    // MARK: - Tags

    /// Whether AWS accepts `scalar` in a tag key or value: ASCII letters, digits and `_ . / = + - % @ :` and space,
    /// and the Unicode letters of U+00C0–U+1FFF and U+2C00–U+D7FF.
    static func isTagCharacter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x41...0x5A, 0x61...0x7A, 0x30...0x39, 0xC0...0x1FFF, 0x2C00...0xD7FF: return true
        default: return "_./=+-%@: ".unicodeScalars.contains(scalar)
        }
    }

    /// Checks tags as AWS does beyond the model's lengths (which ``RequestValidator`` checked): the character set,
    /// then no `%` (AWS names it in the set but refuses it with another message), then no `aws:` key prefix.
    /// - Parameters:
    ///   - tags: the tags.
    ///   - stream: the stream named in AWS's `%` message.
    ///   - account: the account named in that message.
    static func validateTags(_ tags: [String: String], stream: String, account: String) throws(KinesisError) {
        let all = tags.keys.sorted() + tags.keys.sorted().compactMap { tags[$0] }
        if all.contains(where: { !$0.unicodeScalars.allSatisfy(isTagCharacter) }) {
            throw KinesisError(
                .invalidArgument,
                "Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space,"
                    + " _ . / = + - % @ :.")
        }
        if all.contains(where: { $0.contains("%") }) {
            throw KinesisError(
                .invalidArgument,
                "Failed to add tags to stream \(stream) under account \(account) because some tags"
                    + " contained illegal characters. The allowed characters are Unicode letters, white-spaces,"
                    + " '_',',','/','=','+','-','@',':'.")
        }
        for k in tags.keys.sorted() where k.lowercased().hasPrefix("aws:") {
            throw KinesisError(.invalidArgument, "tag key '\(k)' must not start with aws: (reserved for AWS)")
        }
    }

    /// What a tag request addresses: a stream, or (the generic APIs' `ResourceARN` naming one) a consumer.
    private struct TagTarget {
        /// The stream, whose `server.json` holds the tags.
        var stream: String
        /// The consumer's ARN, or `nil` for the stream's own tags.
        var consumerARN: String?

        /// The tags addressed, in the stream's extras.
        func tags(_ e: StreamExtras) -> [String: String] {
            guard let consumerARN else { return e.tags }
            return e.consumers.first { $0.arn == consumerARN }?.tags ?? [:]
        }

        /// Changes the tags addressed (a consumer deregistered meanwhile is left alone).
        func change(_ e: inout StreamExtras, _ body: (inout [String: String]) throws -> Void) rethrows {
            guard let consumerARN else { return try body(&e.tags) }
            guard let i = e.consumers.firstIndex(where: { $0.arn == consumerARN }) else { return }
            var tags = e.consumers[i].tags ?? [:]
            try body(&tags)
            e.consumers[i].tags = tags
        }
    }

    /// The target of a tag request, after checking that it exists: `ResourceARN` (a stream or consumer ARN) for the
    /// generic APIs, else `StreamName`/`StreamARN`.
    private func tagTarget(_ p: Params, arnKey: String?) throws -> TagTarget {
        guard let arnKey else {
            let name = try Self.streamName(p)
            _ = try regional(p).store.stream(named: name)
            return TagTarget(stream: name)
        }
        let arn = try p.requiredString(arnKey)
        if arn.contains("/consumer/") {
            let (stream, consumer) = try consumer(arn: arn, p)
            return TagTarget(stream: stream, consumerARN: consumer.arn)
        }
        let name = try Self.streamName(fromARN: arn, scope: p.scope)
        _ = try regional(p).store.stream(named: name)
        return TagTarget(stream: name)
    }

    /// Merges `tags` into a stream's or consumer's, at most 50, with AWS's texts.
    private func addTags(_ tags: [String: String], to target: TagTarget, _ p: Params) throws {
        try Self.validateTags(tags, stream: target.stream, account: p.scope.account)
        try regional(p).extras.update(target.stream) { e in
            try target.change(&e) { current in
                let merged = current.merging(tags) { _, new in new }
                guard merged.count <= 50 else {
                    throw KinesisError(
                        .invalidArgument,
                        "Failed to add tags to stream \(target.stream) under account \(p.scope.account) because a"
                            + " given stream cannot have more than 50 tags associated with it.")
                }
                current = merged
            }
        }
    }

    func addTags(_ p: Params, arnKey: String?) throws -> JSON {
        let target = try tagTarget(p, arnKey: arnKey)
        guard let tags = try p.stringMap("Tags") else { throw Params.missing("tags") }
        try addTags(tags, to: target, p)
        return .fields([:])
    }

    func removeTags(_ p: Params, arnKey: String?) throws -> JSON {
        let target = try tagTarget(p, arnKey: arnKey)
        guard let keys = try p.strings("TagKeys") else { throw Params.missing("tagKeys") }
        try regional(p).extras.update(target.stream) { e in
            target.change(&e) { tags in for k in keys { tags.removeValue(forKey: k) } }
        }
        return .fields([:])
    }

    private static func tagsJSON(_ tags: [(key: String, value: String)]) -> JSON {
        .array(tags.map { .fields(["Key": .string($0.key), "Value": .string($0.value)]) })
    }

    func listTagsForStream(_ p: Params) throws -> JSON {
        let target = try tagTarget(p, arnKey: nil)
        let limit = try p.int("Limit", in: 1...50) ?? 50
        let start = try p.string("ExclusiveStartTagKey")
        var tags = target.tags(try regional(p).extras.load(target.stream)).sorted { $0.key < $1.key }
        if let start { tags = tags.filter { $0.key > start } }
        let page = Array(tags.prefix(limit))
        return .fields(["Tags": Self.tagsJSON(page), "HasMoreTags": .bool(tags.count > page.count)])
    }

    func listTagsForResource(_ p: Params) throws -> JSON {
        let target = try tagTarget(p, arnKey: "ResourceARN")
        let tags = target.tags(try regional(p).extras.load(target.stream)).sorted { $0.key < $1.key }
        return .fields(["Tags": Self.tagsJSON(tags)])
    }

    // MARK: - Consumers

    /// Parses `<stream ARN>/consumer/<name>:<epoch>` (see ``ShardLog/ConsumerARN``), checked against the request's
    /// account and region as ``streamName(fromARN:scope:)`` does.
    static func parseConsumerARN(_ arn: String, scope: RequestScope) throws(KinesisError) -> ConsumerARN {
        let parsed: ConsumerARN
        do {
            parsed = try ConsumerARN(parsing: arn)
        } catch {
            throw KinesisError(.invalidArgument, error.message)
        }
        try scope.check(parsed.stream, text: arn)
        return parsed
    }

    static func validateConsumerName(_ name: String) throws(KinesisError) {
        guard (1...128).contains(name.utf8.count),
            name.utf8.allSatisfy({ c in
                (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c == 95 || c == 46 || c == 45
            })
        else {
            throw KinesisError(
                .validation,
                "1 validation error detected: Value '\(name)' at 'consumerName' failed to satisfy constraint: Member"
                    + " must satisfy regular expression pattern: [a-zA-Z0-9_.-]+")
        }
    }

    /// The consumer named by a consumer ARN given under another key (`ResourceARN`), as ``findConsumer(_:)`` finds it.
    func consumer(arn: String, _ p: Params) throws -> (stream: String, consumer: StreamExtras.Consumer) {
        var consumer = Params(["ConsumerARN": .string(arn)])
        consumer.scope = p.scope
        return try findConsumer(consumer)
    }

    /// The consumer addressed by `ConsumerARN`, or by `StreamARN` + `ConsumerName`.
    func findConsumer(_ p: Params) throws -> (stream: String, consumer: StreamExtras.Consumer) {
        let streamName: String
        let consumerName: String
        var exactARN: String?
        if let arn = try p.string("ConsumerARN") {
            let parsed = try Self.parseConsumerARN(arn, scope: p.scope)
            (streamName, consumerName) = (parsed.stream.streamName, parsed.consumerName)
            exactARN = arn
        } else {
            guard let streamARN = try p.string("StreamARN"), let name = try p.string("ConsumerName") else {
                throw KinesisError(.invalidArgument, "give ConsumerARN, or StreamARN and ConsumerName")
            }
            streamName = try Self.streamName(fromARN: streamARN, scope: p.scope)
            consumerName = name
        }
        let r = try regional(p)
        _ = try r.store.stream(named: streamName)
        guard
            let consumer = try r.extras.load(streamName).consumers.first(where: {
                $0.name == consumerName && (exactARN == nil || $0.arn == exactARN)
            })
        else {
            throw KinesisError(
                .resourceNotFound,
                "Consumer \(exactARN ?? consumerName), account \(p.scope.account) not found.")
        }
        return (streamName, consumer)
    }

    private static func consumerJSON(_ c: StreamExtras.Consumer, status: String = "ACTIVE", streamARN: String? = nil)
        -> JSON
    {
        .fields([
            "ConsumerName": .string(c.name),
            "ConsumerARN": .string(c.arn),
            "ConsumerStatus": .string(status),
            "ConsumerCreationTimestamp": .epochMilliseconds(c.creationMilliseconds),
            "StreamARN": streamARN.map(JSON.string),
        ])
    }

    func registerStreamConsumer(_ p: Params) throws -> JSON {
        let name = try Self.streamName(fromARN: try p.requiredString("StreamARN"), scope: p.scope)
        let consumerName = try p.requiredString("ConsumerName")
        try Self.validateConsumerName(consumerName)
        let r = try regional(p)
        _ = try r.store.stream(named: name)
        let tags = try p.stringMap("Tags")
        if let tags { try Self.validateTags(tags, stream: name, account: p.scope.account) }
        let now = nowMilliseconds()
        let arn = ConsumerARN(
            stream: p.scope.streamARN(name), consumerName: consumerName, creationEpochSeconds: now / 1000)
        let consumer = StreamExtras.Consumer(
            name: consumerName, arn: arn.description, creationMilliseconds: now, tags: tags)
        try r.extras.update(name) { e in
            guard !e.consumers.contains(where: { $0.name == consumerName }) else {
                throw KinesisError(
                    .resourceInUse,
                    "Consumer \(consumerName) already exists on stream \(name) under account \(p.scope.account)")
            }
            guard e.consumers.count < 20 else {
                throw KinesisError(.limitExceeded, "stream \(name) already has the maximum of 20 consumers")
            }
            e.consumers.append(consumer)
        }
        return .fields(["Consumer": Self.consumerJSON(consumer, status: "CREATING")])
    }

    func describeStreamConsumer(_ p: Params) throws -> JSON {
        let (stream, consumer) = try findConsumer(p)
        return .fields([
            "ConsumerDescription": Self.consumerJSON(consumer, streamARN: p.scope.streamARN(stream).description)
        ])
    }

    func listStreamConsumers(_ p: Params) throws -> JSON {
        // As AWS: MaxResults over 100 returns at most 100 consumers.
        let maxResults = min(try p.int("MaxResults", in: 1...10_000) ?? 100, 100)
        var name: String
        var start = ""
        if let token = try p.string("NextToken") {
            guard let (fields, issued) = OpaqueToken.decode(kind: "co", scope: p.scope, fieldCount: 2, token) else {
                throw KinesisError(.invalidArgument, "NextToken is not valid")
            }
            guard nowMilliseconds() - issued <= nextTokenValidityMilliseconds else {
                throw KinesisError(.expiredNextToken, "NextToken has expired (valid for 300 seconds)")
            }
            name = fields[0]
            start = fields[1]
        } else {
            name = try Self.streamName(fromARN: try p.requiredString("StreamARN"), scope: p.scope)
        }
        let r = try regional(p)
        _ = try r.store.stream(named: name)
        let all = try r.extras.load(name).consumers.sorted { $0.name < $1.name }.filter { $0.name > start }
        let page = Array(all.prefix(maxResults))
        var token: JSON?
        if all.count > page.count, let last = page.last {
            token = .string(
                OpaqueToken.encode(
                    kind: "co", scope: p.scope, fields: [name, last.name], issuedMilliseconds: nowMilliseconds()))
        }
        return .fields(["Consumers": .array(page.map { Self.consumerJSON($0) }), "NextToken": token])
    }

    func deregisterStreamConsumer(_ p: Params) throws -> JSON {
        let (stream, consumer) = try findConsumer(p)
        try regional(p).extras.update(stream) { e in
            e.consumers.removeAll { $0.arn == consumer.arn }
            e.resourcePolicies.removeValue(forKey: consumer.arn)
        }
        return .fields([:])
    }

    // MARK: - Enhanced monitoring

    static let shardLevelMetrics = [
        "IncomingBytes", "IncomingRecords", "OutgoingBytes", "OutgoingRecords", "WriteProvisionedThroughputExceeded",
        "ReadProvisionedThroughputExceeded", "IteratorAgeMilliseconds",
    ]

    func changeMonitoring(_ p: Params, enable: Bool) throws -> JSON {
        let name = try Self.streamName(p)
        let r = try regional(p)
        _ = try r.store.stream(named: name)
        guard let requested = try p.strings("ShardLevelMetrics"), !requested.isEmpty else {
            throw Params.missing("shardLevelMetrics")
        }
        var metrics: Set<String> = []
        for m in requested {
            if m == "ALL" {
                metrics.formUnion(Self.shardLevelMetrics)
            } else if Self.shardLevelMetrics.contains(m) {
                metrics.insert(m)
            } else {
                throw KinesisError(
                    .validation,
                    "1 validation error detected: Value '\(m)' at 'shardLevelMetrics' failed to satisfy constraint:"
                        + " Member must satisfy enum value set: [\((Self.shardLevelMetrics + ["ALL"]).joined(separator: ", "))]"
                )
            }
        }
        let (current, desired) = try r.extras.update(name) { e -> ([String], [String]) in
            let current = e.shardLevelMetrics
            var set = Set(current)
            if enable { set.formUnion(metrics) } else { set.subtract(metrics) }
            let desired = Self.shardLevelMetrics.filter(set.contains)
            e.shardLevelMetrics = desired
            return (current, desired)
        }
        return .fields([
            "StreamName": .string(name),
            "StreamARN": .string(p.scope.streamARN(name).description),
            "CurrentShardLevelMetrics": .array(current.map(JSON.string)),
            "DesiredShardLevelMetrics": .array(desired.map(JSON.string)),
        ])
    }
}
