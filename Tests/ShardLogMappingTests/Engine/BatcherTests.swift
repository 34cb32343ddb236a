import Foundation
import ShardLog
import ShardLogTestSupport
import Testing

@testable import ShardLogMapping

@Suite struct BatcherTests {
    static let encoder = KinesisEventEncoder(
        source: KinesisEventSource(streamName: "s", shardId: "shardId-000000000000"))

    static func pending(_ offset: UInt64, bytes: Int = 10, at instant: ContinuousClock.Instant) -> PendingRecord {
        let record = Record(
            sequence: SequenceNumber(shardIndex: 0, offset: offset), partitionKey: "k",
            data: [UInt8](repeating: 65, count: bytes), arrivalMilliseconds: 1_700_000_000_000)
        let event = EventRecord(
            partitionKey: record.partitionKey, sequenceNumber: record.sequenceNumber, data: record.data,
            approximateArrivalTimestamp: record.approximateArrivalTimestamp)
        return PendingRecord(record: record, eventByteCount: encoder.encodedByteCount(of: event), readAt: instant)
    }

    @Test(arguments: [1, 7, 100])
    func closesOnBatchSize(batchSize: Int) {
        let now = ContinuousClock.now
        var lane = LaneBuffer()
        for i in 0..<UInt64(batchSize - 1) { lane.append(Self.pending(i, at: now)) }
        #expect(!lane.isReady(batchSize: batchSize, window: .seconds(5), now: now, drained: false) || batchSize == 1)
        lane.append(Self.pending(UInt64(batchSize), at: now))
        #expect(lane.isReady(batchSize: batchSize, window: .seconds(5), now: now, drained: false))
        #expect(lane.takeBatch(batchSize: batchSize).count == batchSize)
        #expect(lane.outstanding.count == batchSize)
        lane.handled(through: UInt64(batchSize))
        #expect(lane.outstanding.isEmpty)
    }

    @Test func closesWhenTheWindowEndsOrAtOnceWithoutAWindowOrWhenDrained() {
        let start = ContinuousClock.now
        var lane = LaneBuffer()
        lane.append(Self.pending(0, at: start))
        #expect(!lane.isReady(batchSize: 10, window: .seconds(1), now: start, drained: false))
        #expect(lane.isReady(batchSize: 10, window: .seconds(1), now: start + .seconds(1), drained: false))
        #expect(lane.isReady(batchSize: 10, window: .zero, now: start, drained: false))
        #expect(lane.isReady(batchSize: 10, window: .seconds(1), now: start, drained: true))
        #expect(lane.windowDeadline(window: .seconds(1)) == start + .seconds(1))
        lane.isBusy = true
        #expect(!lane.isReady(batchSize: 10, window: .zero, now: start, drained: true))
    }

    @Test func closesAtTheSixMegabytePayloadCap() {
        let now = ContinuousClock.now
        var lane = LaneBuffer()
        // 700 KB of data is about 933 KB of base64: six fit in 6 MB, seven do not.
        for i in 0..<10 { lane.append(Self.pending(UInt64(i), bytes: 700_000, at: now)) }
        #expect(lane.isReady(batchSize: 100, window: .seconds(60), now: now, drained: false))
        let batch = lane.takeBatch(batchSize: 100)
        #expect(batch.count == 6)
        let events = batch.map {
            EventRecord(
                partitionKey: $0.partitionKey, sequenceNumber: $0.sequenceNumber, data: $0.data,
                approximateArrivalTimestamp: $0.approximateArrivalTimestamp)
        }
        #expect(Self.encoder.encode(events).count <= LaneBuffer.maximumPayloadByteCount)
        #expect(lane.takeBatch(batchSize: 100).count == 4)
    }

    @Test func aPartitionKeyAlwaysMapsToTheSameLane() {
        for key in ["a", "user-1", "ключ", ""] {
            let lane = LaneRouter.lane(of: key, laneCount: 10)
            #expect((0..<10).contains(lane))
            #expect(LaneRouter.lane(of: key, laneCount: 10) == lane)
        }
        #expect(Set((0..<200).map { LaneRouter.lane(of: "k\($0)", laneCount: 10) }).count == 10)
    }

    @Test(.timeLimit(.minutes(1)))
    func theEngineNeverInvokesWithMoreThanSixMegabytes() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            try store.createStream(named: "s", shardCount: 1)
            let stream = try store.stream(named: "s")
            for i in 0..<14 {
                try stream.put(partitionKey: "k", data: [UInt8](repeating: UInt8(65 + i % 26), count: 700_000))
            }
            let invoker = ScriptedInvoker()
            let mapping = makeMapping(
                store: store, configuration: MappingConfiguration(startingPosition: .trimHorizon, batchSize: 10_000),
                invoker: invoker)
            _ = try await mapping.run(exitWhenIdle: true)
            #expect(invoker.delivered.count == 14)
            for call in invoker.calls {
                let events = call.records.map {
                    EventRecord(
                        partitionKey: $0.partitionKey, sequenceNumber: $0.sequenceNumber, data: $0.data,
                        approximateArrivalTimestamp: $0.approximateArrivalTimestamp)
                }
                #expect(call.records.count <= 6)
                #expect(Self.encoder.encode(events).count <= LaneBuffer.maximumPayloadByteCount)
            }
        }
    }
}
