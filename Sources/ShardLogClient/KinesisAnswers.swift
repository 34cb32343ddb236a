import ShardLog
import ShardLogWire

extension KinesisClient {
    /// Every shard of a stream, from `ListShards` (all pages).
    /// - Parameter streamKey: `("StreamName", name)` or `("StreamARN", arn)`.
    /// - Throws: the endpoint's error (``KinesisServiceError``, ``KinesisTransportError``), or
    ///   ``KinesisClientError/malformedAnswer(operation:reason:)`` for a shard that cannot be read.
    package func listShards(streamKey: (String, String)) async throws -> [ShardDescription] {
        var shards: [ShardDescription] = []
        var body: [String: JSON] = [streamKey.0: .string(streamKey.1)]
        while true {
            let page = try await call("ListShards", body)
            for shard in page["Shards"]?.arrayValue ?? [] {
                shards.append(try ShardDescription(kinesis: shard, operation: "ListShards"))
            }
            guard let token = page["NextToken"]?.stringValue, !token.isEmpty else { return shards }
            body = ["NextToken": .string(token)]
        }
    }
}

extension ShardDescription {
    /// A shard of a Kinesis answer (`ListShards`, `DescribeStream`).
    /// - Throws: ``KinesisClientError/malformedAnswer(operation:reason:)`` naming the member that is missing.
    package init(kinesis json: JSON, operation: String) throws(KinesisClientError) {
        func text(_ value: JSON?, _ member: String) throws(KinesisClientError) -> String {
            guard let text = value?.stringValue else {
                throw .malformedAnswer(operation: operation, reason: "a shard has no \(member)")
            }
            return text
        }
        let keys = json["HashKeyRange"]
        let sequences = json["SequenceNumberRange"]
        self.init(
            shardId: try text(json["ShardId"], "ShardId"),
            parentShardId: json["ParentShardId"]?.stringValue,
            adjacentParentShardId: json["AdjacentParentShardId"]?.stringValue,
            hashKeyRange: .init(
                startingHashKey: try text(keys?["StartingHashKey"], "HashKeyRange.StartingHashKey"),
                endingHashKey: try text(keys?["EndingHashKey"], "HashKeyRange.EndingHashKey")),
            sequenceNumberRange: .init(
                startingSequenceNumber: try text(
                    sequences?["StartingSequenceNumber"], "SequenceNumberRange.StartingSequenceNumber"),
                endingSequenceNumber: sequences?["EndingSequenceNumber"]?.stringValue))
    }
}
