import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import ShardLog
import ShardLogWire
import Synchronization

/// Active `SubscribeToShard` calls per consumer and shard, for AWS' takeover rule: a new call within 5 seconds of
/// the current one's start is refused with `ResourceInUseException`; a later one takes over and the old stream ends
/// with that exception.
/// Thread-safety: safe from any thread.
final class SubscriptionRegistry: Sendable {
    private struct Active {
        var generation: Int
        var startedAt: ContinuousClock.Instant
    }

    private let state = Mutex<(next: Int, active: [String: Active])>((0, [:]))

    /// Registers a subscription.
    /// - Parameters:
    ///   - key: the consumer and shard.
    ///   - consumerARN: the consumer, named in the refusal.
    /// - Returns: its generation.
    /// - Throws: `ResourceInUseException` when another one for the key started less than 5 seconds ago.
    func begin(_ key: String, consumerARN: String) throws(KinesisError) -> Int {
        let now = ContinuousClock.now
        let result: Int? = state.withLock { s in
            if let current = s.active[key], now - current.startedAt < .seconds(5) { return nil }
            s.next += 1
            s.active[key] = Active(generation: s.next, startedAt: now)
            return s.next
        }
        guard let result else {
            throw KinesisError(.resourceInUse, "Another active subscription exists for this consumer: \(consumerARN)")
        }
        return result
    }

    /// Whether the subscription is still the current one for its key.
    func isCurrent(_ key: String, _ generation: Int) -> Bool {
        state.withLock { $0.active[key]?.generation == generation }
    }

    /// Ends a subscription.
    func end(_ key: String, _ generation: Int) {
        state.withLock { s in
            if s.active[key]?.generation == generation { s.active.removeValue(forKey: key) }
        }
    }
}

extension KinesisServer {
    /// `SubscribeToShard`: validates the request (errors are ordinary JSON responses), then streams
    /// `application/vnd.amazon.eventstream` — an `initial-response` event, then `SubscribeToShardEvent`s with new
    /// records or, every heartbeat, none — until the subscription limit, the shard's end (with `ChildShards`), a
    /// takeover, or a server shutdown.
    func subscribeToShard(_ p: Params, requestID: String) throws -> Response {
        let (streamName, consumer) = try findConsumer(p)
        let shardId = try p.requiredString("ShardId")
        guard let start = try p.object("StartingPosition") else { throw Params.missing("startingPosition") }
        let position = try Self.position(
            type: try start.requiredString("Type"), sequenceNumber: try start.string("SequenceNumber"),
            timestamp: try start.timestamp("Timestamp"))
        let stream = try regional(p).store.stream(named: streamName)
        let iterator = try Self.iterator(stream, shardId: shardId, position: position)
        let key = consumer.arn + "|" + iterator.shardId
        let generation = try subscriptions.begin(key, consumerARN: consumer.arn)
        var headers = HTTPFields()
        headers[.contentType] = "application/vnd.amazon.eventstream"
        headers[.amznRequestID] = requestID
        let subscription = Subscription(
            server: self, stream: stream, iterator: iterator, key: key, generation: generation)
        let body = ResponseBody { writer in
            try await writer.write(
                ByteBuffer(bytes: EventStreamMessage.event("initial-response", JSON.fields([])).bytes))
            while let message = await subscription.next() {
                try await writer.write(ByteBuffer(bytes: message.bytes))
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: headers, body: body)
    }
}

/// The events of one `SubscribeToShard` response, produced one at a time. (An actor rather than a struct with
/// `mutating async` methods: the latter crashes the Swift 6.3.1 compiler in MandatoryAllocBoxToStack.)
actor Subscription {
    let server: KinesisServer
    let stream: DataStream
    var iterator: ShardIterator
    let key: String
    let generation: Int
    let deadline: ContinuousClock.Instant
    var lastSent: ContinuousClock.Instant
    var lastSequence: String?
    var finished = false

    init(server: KinesisServer, stream: DataStream, iterator: ShardIterator, key: String, generation: Int) {
        self.server = server
        self.stream = stream
        self.iterator = iterator
        self.key = key
        self.generation = generation
        let now = ContinuousClock.now
        self.deadline = now.advanced(by: server.options.maxSubscriptionDuration)
        self.lastSent = now.advanced(by: .zero - server.options.subscriptionHeartbeat)
    }

    /// The next message, or `nil` once the subscription is over (time limit, shard end, takeover, shutdown, client
    /// gone). A failure is delivered as an `exception` message, after which the subscription ends.
    func next() async -> EventStreamMessage? {
        guard !finished else { return nil }
        do {
            if let event = try await nextEvent() { return event }
        } catch is CancellationError {
        } catch {
            finished = true
            server.subscriptions.end(key, generation)
            var e = KinesisError(error)
            server.logger.warning("subscription failed", metadata: ["kinesis.subscription": "\(key)", "error": "\(e)"])
            // The event stream's exception shapes end in "Exception" (InternalFailureException).
            if e.code == .internalFailure { e.code = KinesisError.Code("InternalFailureException") }
            return .exception(e)
        }
        finished = true
        server.subscriptions.end(key, generation)
        return nil
    }

    private func nextEvent() async throws -> EventStreamMessage? {
        let heartbeat = server.options.subscriptionHeartbeat
        let clock = ContinuousClock()
        while clock.now < deadline {
            guard !Task.isCancelled, !Task.isShuttingDownGracefully else { return nil }
            guard server.subscriptions.isCurrent(key, generation) else {
                throw KinesisError(
                    .resourceInUse, "a newer subscription for this consumer and shard took over (\(key))")
            }
            try iterator.skipTrimmed()
            let records = try iterator.next(limit: 10_000, maxBytes: 2 << 20)
            let atEnd = try iterator.isAtShardEnd()
            if let last = records.last { lastSequence = last.sequenceNumber }
            if !records.isEmpty || atEnd || clock.now - lastSent >= heartbeat {
                let offset = iterator.offset
                let continuation: String? =
                    atEnd
                    ? nil
                    : lastSequence
                        ?? SequenceNumber.preceding(shardIndex: iterator.shardIndex, offset: offset)
                let payload = JSON.fields([
                    "Records": .array(
                        records.map { KinesisServer.recordJSON($0, encrypted: stream.cachedKMSKeyId != nil) }),
                    "ContinuationSequenceNumber": continuation.map(JSON.string),
                    "MillisBehindLatest": .integer(Int(try iterator.millisBehindLatest())),
                    "ChildShards": atEnd
                        ? KinesisServer.childShardsJSON(of: iterator.shardId, in: try stream.describe()) : nil,
                ])
                lastSent = clock.now
                if atEnd { deadlineReached() }
                if !records.isEmpty {
                    var bytes = 0
                    for r in records { bytes += r.data.count + r.partitionKey.utf8.count }
                    server.metrics.recordOutgoing(
                        ShardKey(stream: stream, shard: iterator.shardId), records: records.count, bytes: bytes)
                }
                return .event("SubscribeToShardEvent", payload)
            }
            let untilHeartbeat = heartbeat - (clock.now - lastSent)
            let remaining = deadline - clock.now
            let wait = min(max(untilHeartbeat, .milliseconds(1)), remaining, .milliseconds(250))
            if wait > .zero { try await iterator.waitForData(timeout: wait) }
        }
        return nil
    }

    /// Ends the subscription after the event being returned (the shard's end was reached).
    private func deadlineReached() {
        finished = true
        server.subscriptions.end(key, generation)
    }
}
