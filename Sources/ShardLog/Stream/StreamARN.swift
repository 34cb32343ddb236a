import Foundation

/// The ARN of a Kinesis data stream, `arn:PARTITION:kinesis:REGION:ACCOUNT:stream/NAME`: built and parsed here only.
///
/// ```swift
/// let arn = try StreamARN(parsing: "arn:aws:kinesis:us-west-2:123456789012:stream/orders")
/// arn.region       // "us-west-2"
/// arn.description  // the text again
/// ```
public struct StreamARN: Hashable, Sendable, CustomStringConvertible {
    /// The partition: `aws`, `aws-cn`, `aws-us-gov`, …
    public var partition: String
    /// The region, such as `us-east-1`.
    public var region: String
    /// The 12-digit account id.
    public var account: String
    /// The stream's name.
    public var streamName: String

    /// Creates an ARN from its parts (not checked: use ``init(parsing:)`` for text from outside).
    /// - Parameters:
    ///   - region: the region.
    ///   - account: the account id.
    ///   - streamName: the stream's name.
    ///   - partition: the partition (default `aws`).
    public init(region: String, account: String, streamName: String, partition: String = "aws") {
        self.partition = partition
        self.region = region
        self.account = account
        self.streamName = streamName
    }

    /// Parses `arn:PARTITION:kinesis:REGION:ACCOUNT:stream/NAME`.
    /// - Parameter text: the ARN.
    /// - Throws: `.invalidArgument` naming the ARN and the part that is wrong (prefix, service, region, account, or
    ///   resource and stream name).
    public init(parsing text: String) throws(ShardLogError) {
        let (head, resource) = try Self.split(text, kind: "stream")
        guard resource.hasPrefix("stream/") else {
            throw Self.invalid(text, kind: "stream", "its resource '\(resource)' does not start with stream/")
        }
        let name = String(resource.dropFirst("stream/".count))
        try Self.checkName(name, of: text, kind: "stream", what: "stream name")
        self.init(region: head.region, account: head.account, streamName: name, partition: head.partition)
    }

    /// `arn:PARTITION:kinesis:REGION:ACCOUNT:stream/NAME`.
    public var description: String { "arn:\(partition):kinesis:\(region):\(account):stream/\(streamName)" }

    // MARK: - Parsing helpers shared with ConsumerARN

    struct Head {
        var partition: String
        var region: String
        var account: String
    }

    /// The checked head (partition, region, account) and the unchecked resource of `arn:P:kinesis:R:A:RESOURCE`.
    static func split(_ text: String, kind: String) throws(ShardLogError) -> (Head, Substring) {
        let parts = text.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "arn" else {
            throw invalid(text, kind: kind, "it must have six ':'-separated parts starting with arn:")
        }
        guard parts[1] == "aws" || parts[1].hasPrefix("aws-"), parts[1].utf8.allSatisfy(isLowerAlphanumericOrDash)
        else {
            throw invalid(text, kind: kind, "its partition '\(parts[1])' is not aws, aws-cn, aws-us-gov, …")
        }
        guard parts[2] == "kinesis" else {
            throw invalid(text, kind: kind, "its service is '\(parts[2])', not kinesis")
        }
        guard isRegion(parts[3]) else {
            throw invalid(text, kind: kind, "its region '\(parts[3])' is not a region name such as us-east-1")
        }
        guard parts[4].utf8.count == 12, parts[4].utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else {
            throw invalid(text, kind: kind, "its account '\(parts[4])' is not 12 digits")
        }
        return (Head(partition: String(parts[1]), region: String(parts[3]), account: String(parts[4])), parts[5])
    }

    /// Whether `text` can be a region name: 1–32 of `[a-z0-9-]`, starting and ending with a letter or digit.
    /// - Parameter text: the candidate.
    /// - Returns: whether it has a region name's form (not whether AWS has such a region).
    public static func isRegion(_ text: some StringProtocol) -> Bool {
        let bytes = Array(text.utf8)
        return (1...32).contains(bytes.count) && bytes.allSatisfy(isLowerAlphanumericOrDash) && bytes.first != 45
            && bytes.last != 45
    }

    private static func isLowerAlphanumericOrDash(_ c: UInt8) -> Bool {
        (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c == 45
    }

    /// Checks a stream or consumer name: 1–128 of `[a-zA-Z0-9_.-]`.
    static func checkName(_ name: String, of text: String, kind: String, what: String) throws(ShardLogError) {
        let ok =
            (1...128).contains(name.utf8.count)
            && name.utf8.allSatisfy { c in
                (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c == 95 || c == 46 || c == 45
            }
        guard ok else {
            throw invalid(text, kind: kind, "its \(what) '\(name)' is not 1 to 128 of A-Z, a-z, 0-9, '_', '.', '-'")
        }
    }

    static func invalid(_ text: String, kind: String, _ problem: String) -> ShardLogError {
        let form =
            kind == "stream"
            ? "arn:aws:kinesis:REGION:ACCOUNT:stream/NAME"
            : "arn:aws:kinesis:REGION:ACCOUNT:stream/NAME/consumer/NAME:EPOCH"
        return ShardLogError(.invalidArgument, "'\(text)' is not a Kinesis \(kind) ARN (\(form)): \(problem)")
    }
}

/// The ARN of an enhanced fan-out consumer, `<stream ARN>/consumer/NAME:EPOCH` (`EPOCH`: its registration time in
/// epoch seconds, which makes a re-registered consumer's ARN a new one).
public struct ConsumerARN: Hashable, Sendable, CustomStringConvertible {
    /// The stream the consumer reads.
    public var stream: StreamARN
    /// The consumer's name.
    public var consumerName: String
    /// When the consumer was registered, in epoch seconds.
    public var creationEpochSeconds: Int64

    /// Creates an ARN from its parts.
    /// - Parameters:
    ///   - stream: the stream's ARN.
    ///   - consumerName: the consumer's name.
    ///   - creationEpochSeconds: the registration time in epoch seconds.
    public init(stream: StreamARN, consumerName: String, creationEpochSeconds: Int64) {
        self.stream = stream
        self.consumerName = consumerName
        self.creationEpochSeconds = creationEpochSeconds
    }

    /// Parses `arn:PARTITION:kinesis:REGION:ACCOUNT:stream/NAME/consumer/NAME:EPOCH`.
    /// - Parameter text: the ARN.
    /// - Throws: `.invalidArgument` naming the ARN and the part that is wrong.
    public init(parsing text: String) throws(ShardLogError) {
        let (head, resource) = try StreamARN.split(text, kind: "consumer")
        let afterStream = resource.dropFirst("stream/".count)
        guard resource.hasPrefix("stream/"), let marker = afterStream.range(of: "/consumer/") else {
            throw StreamARN.invalid(
                text, kind: "consumer", "its resource '\(resource)' is not stream/NAME/consumer/NAME:EPOCH")
        }
        let streamName = String(afterStream[..<marker.lowerBound])
        try StreamARN.checkName(streamName, of: text, kind: "consumer", what: "stream name")
        let rest = afterStream[marker.upperBound...]
        guard let colon = rest.lastIndex(of: ":") else {
            throw StreamARN.invalid(text, kind: "consumer", "it has no :EPOCH after the consumer name")
        }
        let name = String(rest[..<colon])
        try StreamARN.checkName(name, of: text, kind: "consumer", what: "consumer name")
        let epochText = rest[rest.index(after: colon)...]
        guard (1...18).contains(epochText.utf8.count), epochText.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
            let epoch = Int64(epochText)
        else {
            throw StreamARN.invalid(text, kind: "consumer", "its creation time '\(epochText)' is not epoch seconds")
        }
        self.init(
            stream: StreamARN(
                region: head.region, account: head.account, streamName: streamName, partition: head.partition),
            consumerName: name, creationEpochSeconds: epoch)
    }

    /// `<stream ARN>/consumer/NAME:EPOCH`.
    public var description: String { "\(stream)/consumer/\(consumerName):\(creationEpochSeconds)" }
}

extension DataStream {
    /// The stream's ARN, in the region and account of the store that opened it (``StoreOptions/region``,
    /// ``StoreOptions/accountId``).
    public var arn: StreamARN {
        StreamARN(region: options.region, account: options.accountId, streamName: name)
    }
}
