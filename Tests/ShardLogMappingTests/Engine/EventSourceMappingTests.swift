import Foundation
import ShardLog
import ShardLogTestSupport
import Synchronization
import Testing

@testable import ShardLogMapping

@Suite(.timeLimit(.minutes(1)))
struct EventSourceMappingTests {
    @Test(arguments: [1, 3])
    func deliversEveryRecordOnceInOrderAndCheckpointsTheEnd(shards: Int) async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            let stream = try store.createStream(named: "s", shardCount: shards).streamName
            let puts = try putRecords(try store.stream(named: stream), count: 250, keys: 7)
            let invoker = ScriptedInvoker()
            let mapping = makeMapping(
                store: store, configuration: MappingConfiguration(startingPosition: .trimHorizon, batchSize: 40),
                invoker: invoker)
            let summary = try await mapping.run(exitWhenIdle: true)
            let delivered = invoker.delivered
            #expect(delivered.count == 250)
            #expect(Set(delivered.map(\.sequenceNumber)) == Set(puts.map(\.sequenceNumber)))
            #expect(invoker.calls.allSatisfy { $0.records.count <= 40 })
            for shard in Set(puts.map(\.shardId)) {
                let sequence = delivered.filter { $0.shardId == shard }.map(\.sequence)
                #expect(sequence == sequence.sorted())
                let last = puts.filter { $0.shardId == shard }.map(\.sequence).max()
                #expect(summary.checkpoints[shard]?.sequenceNumber == last?.description)
            }
            #expect(summary.metrics.records == 250)
            #expect(summary.metrics.batches == invoker.calls.count)
            #expect(invoker.shutdowns == 1)
            let saved = try #require(try MappingCatalog.checkpoints(store: store, name: "m"))
            #expect(saved.shards == summary.checkpoints)
            #expect(try MappingCatalog.definition(store: store, name: "m")?.configuration.batchSize == 40)
        }
    }

    @Test func poisonRecordWithBisectEndsUpAloneInTheFailureDestination() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            try store.createStream(named: "s", shardCount: 1)
            let stream = try store.stream(named: "s")
            try putRecords(stream, count: 13, keys: 3)
            let poison = try stream.put(partitionKey: "k1", data: Array("poison".utf8))
            try putRecords(stream, count: 18, keys: 3, start: 13)
            let invoker = ScriptedInvoker { batch, _ in
                batch.records.contains { $0.data == Array("poison".utf8) }
                    ? .functionError(type: "Error", message: "poison") : .response([])
            }
            let failures = dir + "/failures.jsonl"
            let mapping = makeMapping(
                store: store,
                configuration: MappingConfiguration(
                    startingPosition: .trimHorizon, batchSize: 32, bisectBatchOnFunctionError: true,
                    maximumRetryAttempts: 2),
                invoker: invoker, onFailure: .file(failures))
            let summary = try await mapping.run(exitWhenIdle: true)
            let entries = try readJSONLines(failures)
            try #require(entries.count == 1)
            let info = try #require(entries[0]["KinesisBatchInfo"] as? [String: Any])
            #expect(info["batchSize"] as? Int == 1)
            #expect(info["startSequenceNumber"] as? String == poison.sequenceNumber)
            let context = try #require(entries[0]["requestContext"] as? [String: Any])
            #expect(context["condition"] as? String == "RetryAttemptsExhausted")
            // Every invocation that included the poison record: the 3 alone plus the halves that contained it.
            let poisonCalls = invoker.calls.filter { $0.sequenceNumbers.contains(poison.sequenceNumber) }.count
            #expect(context["approximateInvokeCount"] as? Int == poisonCalls)
            let records = try #require(entries[0]["records"] as? [[String: Any]])
            #expect(records.count == 1)
            // Every other record was handled; the poison record alone was invoked 1 + 2 times.
            #expect(invoker.delivered.count == 31)
            #expect(Set(invoker.delivered.map(\.sequenceNumber)).count == 31)
            #expect(invoker.calls.filter { $0.sequenceNumbers == [poison.sequenceNumber] }.count == 3)
            #expect(summary.metrics.discardedRecords == 1)
            #expect(summary.metrics.bisections >= 5)
            #expect(summary.metrics.retries == 2)
            #expect(summary.checkpoints["shardId-000000000000"]?.sequenceNumber != nil)
        }
    }

    @Test func withoutBisectTheWholeBatchIsRetriedAndDiscarded() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            try store.createStream(named: "s", shardCount: 1)
            try store.createStream(named: "dlq", shardCount: 1)
            let stream = try store.stream(named: "s")
            try putRecords(stream, count: 4)
            try stream.put(partitionKey: "k0", data: Array("poison".utf8))
            try putRecords(stream, count: 5, start: 4)
            try putRecords(stream, count: 10, start: 9)
            let invoker = ScriptedInvoker { batch, _ in
                batch.records.contains { $0.data == Array("poison".utf8) }
                    ? .crashed("exit status 1") : .response([])
            }
            let mapping = makeMapping(
                store: store,
                configuration: MappingConfiguration(
                    startingPosition: .trimHorizon, batchSize: 10, maximumRetryAttempts: 2),
                invoker: invoker, onFailure: .stream("dlq"))
            let summary = try await mapping.run(exitWhenIdle: true)
            let firstBatch = invoker.calls.filter { $0.records.count == 10 && $0.payloads.contains("poison") }
            #expect(firstBatch.count == 3)
            #expect(invoker.delivered.count == 10)
            #expect(summary.metrics.discardedRecords == 10)
            #expect(summary.metrics.retries == 2)
            #expect(summary.metrics.functionErrors == 3)
            var dlq = try store.stream(named: "dlq").iterator(shardId: "shardId-000000000000", position: .trimHorizon)
            let entries = try dlq.next()
            try #require(entries.count == 1)
            let json = try #require(
                try JSONSerialization.jsonObject(with: Data(entries[0].data)) as? [String: Any])
            let info = try #require(json["KinesisBatchInfo"] as? [String: Any])
            #expect(info["batchSize"] as? Int == 10)
            let response = try #require(json["responseContext"] as? [String: Any])
            #expect(response["functionError"] as? String == "Unhandled")
            #expect(
                summary.checkpoints["shardId-000000000000"]?.sequenceNumber
                    == SequenceNumber(
                        shardIndex: 0, offset: 19
                    ).description)
        }
    }

    @Test func reportBatchItemFailuresRetriesFromTheLowestFailedItem() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            try store.createStream(named: "s", shardCount: 1)
            let puts = try putRecords(try store.stream(named: "s"), count: 10)
            let reported = [puts[7].sequenceNumber, puts[4].sequenceNumber]
            let invoker = ScriptedInvoker { _, index in
                guard index == 0 else { return .response(Array("{}".utf8)) }
                let items = reported.map { #"{"itemIdentifier":"\#($0)"}"# }.joined(separator: ",")
                return .response(Array(#"{"batchItemFailures":[\#(items)]}"#.utf8))
            }
            let mapping = makeMapping(
                store: store,
                configuration: MappingConfiguration(
                    startingPosition: .trimHorizon, batchSize: 10,
                    functionResponseTypes: ["ReportBatchItemFailures"]),
                invoker: invoker)
            let summary = try await mapping.run(exitWhenIdle: true)
            let calls = invoker.calls
            try #require(calls.count == 2)
            #expect(calls[0].sequenceNumbers == puts.map(\.sequenceNumber))
            #expect(calls[1].sequenceNumbers == puts[4...].map(\.sequenceNumber))
            #expect(summary.metrics.partialFailures == 1)
            #expect(summary.metrics.retries == 1)
            #expect(summary.metrics.records == 10)
        }
    }

    @Test(arguments: [#"{"batchItemFailures":[{"itemIdentifier":"not-in-batch"}]}"#, #"{"batchItemFailures":[{}]}"#])
    func anInvalidItemIdentifierFailsTheWholeBatch(response: String) async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            try store.createStream(named: "s", shardCount: 1)
            let puts = try putRecords(try store.stream(named: "s"), count: 6)
            let invoker = ScriptedInvoker { _, index in
                index == 0 ? .response(Array(response.utf8)) : .response([])
            }
            let mapping = makeMapping(
                store: store,
                configuration: MappingConfiguration(
                    startingPosition: .trimHorizon, functionResponseTypes: ["ReportBatchItemFailures"]),
                invoker: invoker)
            let summary = try await mapping.run(exitWhenIdle: true)
            let calls = invoker.calls
            try #require(calls.count == 2)
            #expect(calls[1].sequenceNumbers == puts.map(\.sequenceNumber))
            #expect(summary.metrics.functionErrors == 1)
        }
    }

    @Test func partialFailureWithBisectSplitsAtTheReportedItemAndExhaustsRetries() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            try store.createStream(named: "s", shardCount: 1)
            let puts = try putRecords(try store.stream(named: "s"), count: 8)
            let bad = puts[5].sequenceNumber
            let invoker = ScriptedInvoker { batch, _ in
                batch.records.contains { $0.sequenceNumber == bad }
                    ? .response(Array(#"{"batchItemFailures":[{"itemIdentifier":"\#(bad)"}]}"#.utf8))
                    : .response([])
            }
            let failures = dir + "/f.jsonl"
            let mapping = makeMapping(
                store: store,
                configuration: MappingConfiguration(
                    startingPosition: .trimHorizon, bisectBatchOnFunctionError: true, maximumRetryAttempts: 1,
                    functionResponseTypes: ["ReportBatchItemFailures"]),
                invoker: invoker, onFailure: .file(failures))
            let summary = try await mapping.run(exitWhenIdle: true)
            let calls = invoker.calls.map(\.sequenceNumbers)
            #expect(calls.first == puts.map(\.sequenceNumber))
            #expect(calls.dropFirst().first == puts[5...].map(\.sequenceNumber))
            let entries = try readJSONLines(failures)
            try #require(entries.count == 1)
            let info = try #require(entries[0]["KinesisBatchInfo"] as? [String: Any])
            #expect(info["startSequenceNumber"] as? String == bad)
            #expect(info["batchSize"] as? Int == 1)
            #expect(summary.metrics.discardedRecords == 1)
            // Records 6 and 7 were handled after the split.
            #expect(Set(invoker.delivered.map(\.sequenceNumber)).isSuperset(of: puts[6...].map(\.sequenceNumber)))
        }
    }

    @Test func recordsOlderThanMaximumRecordAgeAreDiscarded() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            try store.createStream(named: "s", shardCount: 1)
            let stream = try store.stream(named: "s")
            let old = try putRecords(stream, count: 5)
            try await Task.sleep(for: .seconds(1))
            let youngPutAt = Date()
            let young = try putRecords(stream, count: 5, start: 5)
            let invoker = ScriptedInvoker()
            let failures = dir + "/f.jsonl"
            // The mapping's clock stands 59.5 s after the young records arrived: the first records are over 60 s
            // old, the young ones are not, however slowly the test runs.
            let mapping = makeMapping(
                store: store,
                configuration: MappingConfiguration(startingPosition: .trimHorizon, maximumRecordAgeInSeconds: 60),
                invoker: invoker, onFailure: .file(failures), now: { youngPutAt.addingTimeInterval(59.5) })
            let summary = try await mapping.run(exitWhenIdle: true)
            #expect(invoker.delivered.map(\.sequenceNumber) == young.map(\.sequenceNumber))
            let entries = try readJSONLines(failures)
            try #require(entries.count == 1)
            let context = try #require(entries[0]["requestContext"] as? [String: Any])
            #expect(context["condition"] as? String == "RecordAgeExceeded")
            #expect(context["approximateInvokeCount"] as? Int == 0)
            let info = try #require(entries[0]["KinesisBatchInfo"] as? [String: Any])
            #expect(info["batchSize"] as? Int == 5)
            #expect(info["endSequenceNumber"] as? String == old.last?.sequenceNumber)
            #expect(summary.metrics.discardedRecords == 5)
        }
    }

    @Test func parallelizationFactorKeepsPerKeyOrderAndRunsLanesConcurrently() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            try store.createStream(named: "s", shardCount: 1)
            let puts = try putRecords(try store.stream(named: "s"), count: 400, keys: 40)
            let invoker = ScriptedInvoker(delay: .milliseconds(30))
            let mapping = makeMapping(
                store: store,
                configuration: MappingConfiguration(
                    startingPosition: .trimHorizon, batchSize: 10, parallelizationFactor: 10),
                invoker: invoker)
            let summary = try await mapping.run(exitWhenIdle: true)
            let delivered = invoker.delivered
            #expect(delivered.count == 400)
            for key in Set(delivered.map(\.partitionKey)) {
                let offsets = delivered.filter { $0.partitionKey == key }.map(\.sequence.offset)
                #expect(offsets == offsets.sorted(), "key \(key) out of order")
            }
            #expect(invoker.maximumConcurrency >= 3)
            #expect(Set(invoker.calls.map(\.slot)).isSubset(of: Set(0..<10)))
            #expect(Set(invoker.calls.map(\.slot)).count > 1)
            #expect(summary.checkpoints["shardId-000000000000"]?.sequenceNumber == puts.last?.sequenceNumber)
        }
    }

    @Test func checkpointStaysBelowTheSlowestLane() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            try store.createStream(named: "s", shardCount: 1)
            let stream = try store.stream(named: "s")
            // Find two keys in different lanes of 2.
            let slow = "k0"
            let fast = (1...50).map { "k\($0)" }.first {
                LaneRouter.lane(of: $0, laneCount: 2) != LaneRouter.lane(of: slow, laneCount: 2)
            }
            let fastKey = try #require(fast)
            let first = try stream.put(partitionKey: slow, data: payload(key: slow, index: 0))
            for i in 1...5 { try stream.put(partitionKey: fastKey, data: payload(key: fastKey, index: i)) }
            let gate = Atomic<Bool>(false)
            let invoker = ScriptedInvoker { batch, _ in
                batch.records.contains { $0.partitionKey == slow } && !gate.load(ordering: .acquiring)
                    ? .serviceError("not yet") : .response([])
            }
            let mapping = makeMapping(
                store: store,
                configuration: MappingConfiguration(startingPosition: .trimHorizon, parallelizationFactor: 2),
                invoker: invoker)
            async let summary = mapping.run(exitWhenIdle: true)
            #expect(await eventually { invoker.delivered.count == 5 })
            try await Task.sleep(for: .milliseconds(100))
            let saved = try MappingCatalog.checkpoints(store: store, name: "m")
            #expect(saved?.shards["shardId-000000000000"]?.sequenceNumber == nil)
            gate.store(true, ordering: .releasing)
            let result = try await summary
            #expect(
                result.checkpoints["shardId-000000000000"]?.sequenceNumber
                    == SequenceNumber(shardIndex: 0, offset: 5).description)
            #expect(first.sequence.offset == 0)
            #expect(result.metrics.serviceErrors > 0)
            #expect(result.metrics.retries == 0)
        }
    }

    @Test func batchingWindowClosesBatchesOnTime() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            try store.createStream(named: "s", shardCount: 1)
            let stream = try store.stream(named: "s")
            let invoker = ScriptedInvoker()
            let mapping = makeMapping(
                store: store,
                configuration: MappingConfiguration(
                    startingPosition: .trimHorizon, batchSize: 100, maximumBatchingWindowInSeconds: 2),
                invoker: invoker)
            async let summary = mapping.run(exitWhenIdle: false)
            try await Task.sleep(for: .milliseconds(200))
            let start = ContinuousClock.now
            try putRecords(stream, count: 3)
            try await Task.sleep(for: .milliseconds(300))
            try putRecords(stream, count: 2, start: 3)
            #expect(await eventually { !invoker.calls.isEmpty })
            let first = try #require(invoker.calls.first)
            let waited = first.started - start
            // Not before the window; the upper bound leaves room for a loaded machine.
            #expect(waited >= .milliseconds(1900) && waited < .seconds(6), "invoked after \(waited)")
            #expect(first.records.count >= 3)
            #expect(await eventually { invoker.delivered.count == 5 })
            // A full batch does not wait for the window.
            let before = ContinuousClock.now
            try putRecords(stream, count: 100, start: 5)
            #expect(await eventually { invoker.delivered.count >= 105 })
            #expect(invoker.calls.last?.records.count == 100)
            #expect(try #require(invoker.calls.last).started - before < .milliseconds(1500))
            mapping.stop()
            _ = try await summary
        }
    }

    @Test func filtersDropNonMatchingRecordsAndCountThemAsProcessed() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            try store.createStream(named: "s", shardCount: 1)
            let stream = try store.stream(named: "s")
            var last = ""
            for i in 0..<30 {
                let type = i % 3 == 0 ? "buy" : "sell"
                last = try stream.put(
                    partitionKey: "k", data: payload(key: "k", index: i, extra: #","type":"\#(type)""#)
                )
                .sequenceNumber
            }
            try stream.put(partitionKey: "k", data: Array("not json".utf8))
            last = try stream.put(partitionKey: "k", data: Array("not json either".utf8)).sequenceNumber
            let invoker = ScriptedInvoker()
            let mapping = makeMapping(
                store: store,
                configuration: MappingConfiguration(
                    startingPosition: .trimHorizon,
                    filterCriteria: FilterCriteria(patterns: [#"{"data":{"type":["buy"]}}"#])),
                invoker: invoker)
            let summary = try await mapping.run(exitWhenIdle: true)
            #expect(invoker.delivered.count == 10)
            #expect(invoker.delivered.allSatisfy { String(decoding: $0.data, as: UTF8.self).contains("buy") })
            #expect(summary.metrics.filteredRecords == 22)
            #expect(summary.checkpoints["shardId-000000000000"]?.sequenceNumber == last)
        }
    }

    @Test func splitWhileRunningDrainsTheParentBeforeTheChildren() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            try store.createStream(named: "s", shardCount: 1)
            let stream = try store.stream(named: "s")
            try putRecords(stream, count: 60, keys: 6)
            let invoker = ScriptedInvoker(delay: .milliseconds(20))
            let mapping = makeMapping(
                store: store,
                configuration: MappingConfiguration(startingPosition: .trimHorizon, batchSize: 5),
                invoker: invoker)
            async let summary = mapping.run(exitWhenIdle: false)
            #expect(await eventually { invoker.calls.count >= 2 })
            try stream.splitShard("shardId-000000000000", newStartingHashKey: UInt128(1) << 127)
            try putRecords(stream, count: 60, keys: 6, start: 60)
            #expect(await eventually { invoker.delivered.count >= 120 })
            mapping.stop()
            let result = try await summary
            let delivered = invoker.delivered
            #expect(Set(delivered.map(\.sequenceNumber)).count == 120)
            // Every parent record came before every child record.
            let lastParent = try #require(delivered.lastIndex { $0.shardId == "shardId-000000000000" })
            let firstChild = try #require(delivered.firstIndex { $0.shardId != "shardId-000000000000" })
            #expect(lastParent < firstChild)
            for key in Set(delivered.map(\.partitionKey)) {
                let order = delivered.filter { $0.partitionKey == key }.map {
                    Int(String(decoding: $0.data, as: UTF8.self).split(separator: ":").last?.dropLast() ?? "") ?? -1
                }
                #expect(order == order.sorted())
            }
            #expect(result.checkpoints["shardId-000000000000"]?.finished == true)
            #expect(result.checkpoints.count == 3)
            #expect(Set(invoker.calls.map(\.shardId)).count == 3)
        }
    }

    @Test func mergeWhileRunningDrainsBothParentsBeforeTheChild() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            try store.createStream(named: "s", shardCount: 2)
            let stream = try store.stream(named: "s")
            try putRecords(stream, count: 80, keys: 8)
            let invoker = ScriptedInvoker(delay: .milliseconds(10))
            let mapping = makeMapping(
                store: store,
                configuration: MappingConfiguration(startingPosition: .trimHorizon, batchSize: 4),
                invoker: invoker)
            async let summary = mapping.run(exitWhenIdle: false)
            #expect(await eventually { invoker.calls.count >= 2 })
            try stream.mergeShards("shardId-000000000000", adjacentShardId: "shardId-000000000001")
            try putRecords(stream, count: 40, keys: 8, start: 80)
            #expect(await eventually { invoker.delivered.count >= 120 })
            mapping.stop()
            let result = try await summary
            let delivered = invoker.delivered
            let parents: Set = ["shardId-000000000000", "shardId-000000000001"]
            let lastParent = try #require(delivered.lastIndex { parents.contains($0.shardId) })
            let firstChild = try #require(delivered.firstIndex { !parents.contains($0.shardId) })
            #expect(lastParent < firstChild)
            #expect(result.checkpoints.values.filter(\.finished).count == 2)
            #expect(Set(delivered.map(\.sequenceNumber)).count == 120)
        }
    }

    @Test func aRestartedMappingResumesFromItsCheckpointWithoutSkipping() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            try store.createStream(named: "s", shardCount: 2)
            let stream = try store.stream(named: "s")
            let puts = try putRecords(stream, count: 300, keys: 9)
            let first = ScriptedInvoker(delay: .milliseconds(5))
            let configuration = MappingConfiguration(startingPosition: .latest, batchSize: 7, parallelizationFactor: 3)
            // LATEST is captured at the first start: nothing before it is delivered.
            let mapping = makeMapping(store: store, configuration: configuration, invoker: first)
            async let summary = mapping.run(exitWhenIdle: false)
            try await Task.sleep(for: .milliseconds(300))
            let later = try putRecords(stream, count: 300, keys: 9, start: 300)
            #expect(await eventually { first.delivered.count >= 40 })
            mapping.stop()
            _ = try await summary
            try putRecords(stream, count: 50, keys: 9, start: 600)
            let second = ScriptedInvoker()
            let resumed = try await makeMapping(store: store, configuration: configuration, invoker: second)
                .run(exitWhenIdle: true)
            let all = Set((first.delivered + second.delivered).map(\.sequenceNumber))
            #expect(all.isDisjoint(with: puts.map(\.sequenceNumber)))
            #expect(all.isSuperset(of: later.map(\.sequenceNumber)))
            #expect(all.count == 350)
            #expect(resumed.metrics.records == second.delivered.count)
        }
    }

    @Test func aMappingRunsOnceAtATimeAndTakesOverALockLeftByADeadProcess() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            try store.createStream(named: "s", shardCount: 1)
            let configuration = MappingConfiguration(startingPosition: .trimHorizon)
            let first = makeMapping(store: store, configuration: configuration, invoker: ScriptedInvoker())
            async let summary = first.run(exitWhenIdle: false)
            let lock = dir + "/mappings/m/lock"
            #expect(await eventually { FileManager.default.fileExists(atPath: lock) })
            let second = makeMapping(store: store, configuration: configuration, invoker: ScriptedInvoker())
            await #expect(throws: MappingError.self) { try await second.run(exitWhenIdle: true) }
            #expect(throws: MappingError.self) { try MappingCatalog.reset(store: store, name: "m") }
            first.stop()
            _ = try await summary
            #expect(!FileManager.default.fileExists(atPath: lock))
            // A lock whose process is gone is taken over.
            try "2147483000\n".write(toFile: lock, atomically: true, encoding: .utf8)
            try putRecords(try store.stream(named: "s"), count: 3)
            let third = ScriptedInvoker()
            _ = try await makeMapping(store: store, configuration: configuration, invoker: third)
                .run(exitWhenIdle: true)
            #expect(third.delivered.count == 3)
            #expect(try MappingCatalog.reset(store: store, name: "m"))
        }
    }

    @Test func configurationErrorsAndAMissingStreamAreReported() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Store(directory: dir)
            let invoker = ScriptedInvoker()
            let missing = makeMapping(
                store: store, configuration: MappingConfiguration(startingPosition: .latest), invoker: invoker)
            await #expect(throws: MappingError.self) { try await missing.run(exitWhenIdle: true) }
            try store.createStream(named: "s", shardCount: 1)
            let invalid = makeMapping(
                store: store, configuration: MappingConfiguration(startingPosition: .latest, batchSize: 0),
                invoker: invoker)
            await #expect(throws: MappingError.self) { try await invalid.run(exitWhenIdle: true) }
            for destination in [FailureDestination.stream("s"), .stream("missing"), .file(dir + "/no/such/f.jsonl")] {
                let mapping = makeMapping(
                    store: store, configuration: MappingConfiguration(startingPosition: .latest), invoker: invoker,
                    onFailure: destination)
                await #expect(throws: MappingError.self) { try await mapping.run(exitWhenIdle: true) }
            }
            #expect(throws: MappingError.self) { try FailureDestination(parsing: "sqs:queue") }
            #expect(try FailureDestination(parsing: "stream:dlq") == .stream("dlq"))
            #expect(try FailureDestination(parsing: "arn:aws:kinesis:us-east-1:123456789012:stream/x") == .stream("x"))
            // ARNs are parsed by StreamARN: a short account or a non-Kinesis ARN is refused, naming the problem.
            let short = #expect(throws: MappingError.self) {
                try FailureDestination(parsing: "arn:aws:kinesis:us-east-1:1:stream/x")
            }
            #expect(short?.message.contains("its account '1' is not 12 digits") == true)
            #expect(throws: MappingError.self) {
                try FailureDestination(parsing: "arn:aws:sqs:us-east-1:123456789012:queue")
            }
        }
    }
}
