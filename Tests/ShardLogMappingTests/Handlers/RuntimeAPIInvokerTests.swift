import Foundation
import ShardLog
import ShardLogTestSupport
import Testing

@testable import ShardLogMapping

/// The `runtime-api:` handler kind with real runtime processes: awslambdaric, Powertools, the bash bootstrap and a
/// probe that checks the protocol details.
@Suite(.timeLimit(.minutes(1)))
struct RuntimeAPIInvokerTests {
    typealias F = HandlerFixtures

    static func awslambdaric(_ handler: String, environment: String = "") -> HandlerSpec {
        .runtimeAPI(command: "\(environment) python3 -m awslambdaric \(handler)", directory: F.python)
    }

    static func runtime(_ invoker: any Invoker) throws -> RuntimeAPIInvoker {
        try #require(invoker as? RuntimeAPIInvoker)
    }

    @Test func awslambdaricAnswersAndReusesOneProcessAcrossBatches() async throws {
        var pids: [Int32] = []
        try await F.withInvoker(Self.awslambdaric("handler.handler")) { invoker in
            let runtime = try Self.runtime(invoker)
            for round in 0..<3 {
                let outcome = await invoker.invoke(F.batch(F.records(5 + round)))
                let object = try #require(F.responseObject(outcome), "round \(round): \(outcome)")
                #expect((object["batchItemFailures"] as? [Any])?.isEmpty == true)
                pids.append(try #require(runtime.processIdentifier(slot: 0)))
            }
        }
        #expect(Set(pids).count == 1, "one runtime process serves every batch of a slot: \(pids)")
        #expect(await F.waitUntilGone(pids[0]), "shutdown stops the runtime process")
    }

    @Test func awslambdaricReportsPoisonRecordsAsBatchItemFailures() async throws {
        let poison = F.record(7, #"{"poison":true}"#)
        let batch = F.batch(F.records(3, extra: [poison, F.record(8, #"{"order":8}"#)]))
        let outcome = try await F.withInvoker(Self.awslambdaric("handler.handler")) { await $0.invoke(batch) }
        guard case .response(let body) = outcome else {
            Issue.record("expected a response, got \(outcome)")
            return
        }
        let response = HandlerResponse(
            parsing: body,
            batchSequenceNumbers: batch.sequenceNumbers,
            reportBatchItemFailures: true
        )
        #expect(response == .partialFailure(lowestFailedSequenceNumber: poison.sequenceNumber))
    }

    @Test func powertoolsReturnsAPartialBatchResponse() async throws {
        let poison = F.record(4, #"{"poison":true}"#)
        let batch = F.batch(F.records(4, extra: [poison, F.record(5, #"{"order":5}"#)]))
        let outcome = try await F.withInvoker(Self.awslambdaric("powertools_handler.handler")) {
            await $0.invoke(batch)
        }
        guard case .response(let body) = outcome else {
            Issue.record("expected a response, got \(outcome)")
            return
        }
        let response = HandlerResponse(
            parsing: body,
            batchSequenceNumbers: batch.sequenceNumbers,
            reportBatchItemFailures: true
        )
        #expect(response == .partialFailure(lowestFailedSequenceNumber: poison.sequenceNumber))
    }

    @Test func aRaisedExceptionIsAFunctionErrorWithThePythonType() async throws {
        let poison = F.record(2, #"{"poison":true}"#, key: "bad-key")
        try await F.withInvoker(Self.awslambdaric("failing_handler.handler")) { invoker in
            let outcome = await invoker.invoke(F.batch(F.records(2, extra: [poison])))
            guard case .functionError(let type, let message) = outcome else {
                Issue.record("expected a function error, got \(outcome)")
                return
            }
            #expect(type == "ValueError")
            #expect(message.contains("poison record \(poison.sequenceNumber)"))
            // The runtime survives a raised exception and takes the next batch.
            #expect(F.responseObject(await invoker.invoke(F.batch(F.records(2)))) != nil)
        }
    }

    @Test func aCrashIsAnExitErrorAndTheNextBatchGetsAFreshProcess() async throws {
        try await F.withInvoker(Self.awslambdaric("crash_handler.handler")) { invoker in
            let runtime = try Self.runtime(invoker)
            #expect(F.responseObject(await invoker.invoke(F.batch(F.records(2)))) != nil)
            let first = try #require(runtime.processIdentifier(slot: 0))
            let outcome = await invoker.invoke(F.batch(F.records(2, extra: [F.record(9, "please crash")])))
            guard case .crashed(let message) = outcome else {
                Issue.record("expected a crash, got \(outcome)")
                return
            }
            #expect(message.hasPrefix("Runtime.ExitError"))
            #expect(message.contains("exit status 3"), "\(message)")
            #expect(runtime.processIdentifier(slot: 0) == nil)
            #expect(await F.waitUntilGone(first))
            #expect(F.responseObject(await invoker.invoke(F.batch(F.records(3)))) != nil)
            let second = try #require(runtime.processIdentifier(slot: 0))
            #expect(second != first)
        }
    }

    @Test func aHandlerPastItsDeadlineIsKilledAndTheSlotRecovers() async throws {
        let spec = Self.awslambdaric("slow_handler.handler", environment: "SLOW_SECONDS=1.5")
        try await F.withInvoker(spec) { invoker in
            let runtime = try Self.runtime(invoker)
            let clock = ContinuousClock()
            // Warm: the deadline does not count the cold start, so 4 s is plenty for a 1.5 s handler.
            #expect(F.responseObject(await invoker.invoke(F.batch(F.records(1), timeout: .seconds(4)))) != nil)
            let slow = try #require(runtime.processIdentifier(slot: 0))
            let start = clock.now
            // The deadline is a timer on the mapping's scheduler (moved when the runtime takes the event).
            let scheduler = MappingScheduler()
            defer { scheduler.stop() }
            let outcome = await MappingScheduler.$current.withValue(scheduler) {
                await invoker.invoke(F.batch(F.records(1), timeout: .seconds(1)))
            }
            let elapsed = clock.now - start
            #expect(outcome == .timedOut)
            #expect(scheduler.firedCount == 1 && scheduler.pendingCount == 0)
            #expect(elapsed >= .milliseconds(900) && elapsed < .seconds(3), "timed out after \(elapsed)")
            #expect(await F.waitUntilGone(slow), "the timed-out runtime process is killed")
            let recovered = await invoker.invoke(F.batch(F.records(1), timeout: .seconds(8)))
            #expect(F.responseObject(recovered) != nil, "\(recovered)")
            #expect(runtime.processIdentifier(slot: 0) != slow)
        }
    }

    @Test func theSlotsOneTimerTimesOutALaterInvocationAndNoEarlierOne() async throws {
        // One timer per slot stays armed across invocations and re-arms for the one running when it fires: handlers
        // that finish within their timeout are never timed out by a timer armed for an earlier invocation, and a
        // later one that overruns is.
        let spec = Self.awslambdaric("slow_handler.handler", environment: "SLOW_SECONDS=0.3")
        try await F.withInvoker(spec) { invoker in
            let scheduler = MappingScheduler()
            defer { scheduler.stop() }
            await MappingScheduler.$current.withValue(scheduler) {
                for round in 0..<4 {
                    let outcome = await invoker.invoke(F.batch(F.records(1), timeout: .milliseconds(700)))
                    #expect(F.responseObject(outcome) != nil, "round \(round): \(outcome)")
                }
                // It would answer after 0.3 s: only its own 0.1 s deadline stops it first.
                let outcome = await invoker.invoke(F.batch(F.records(1), timeout: .milliseconds(100)))
                #expect(outcome == .timedOut)
                let recovered = await invoker.invoke(F.batch(F.records(1), timeout: .seconds(8)))
                #expect(F.responseObject(recovered) != nil, "\(recovered)")
            }
        }
    }

    @Test func theBashBootstrapWorks() async throws {
        try await F.withInvoker(.runtimeAPI(command: "./bootstrap", directory: F.bootstrap)) { invoker in
            let runtime = try Self.runtime(invoker)
            var pids: Set<Int32> = []
            for count in [1, 4] {
                let outcome = await invoker.invoke(F.batch(F.records(count)))
                #expect(F.responseText(outcome) == #"{"batchItemFailures":[]}"#, "\(outcome)")
                pids.insert(try #require(runtime.processIdentifier(slot: 0)))
            }
            #expect(pids.count == 1)
        }
    }

    @Test func twoSlotsRunConcurrentlyInTheirOwnProcesses() async throws {
        let spec = Self.awslambdaric("slow_handler.handler", environment: "SLOW_SECONDS=1")
        try await F.withInvoker(spec) { invoker in
            let runtime = try Self.runtime(invoker)
            let clock = ContinuousClock()
            func timed(_ slot: Int) async -> (InvocationOutcome, ContinuousClock.Instant, ContinuousClock.Instant) {
                let start = clock.now
                let outcome = await invoker.invoke(F.batch(F.records(2), slot: slot, timeout: .seconds(10)))
                return (outcome, start, clock.now)
            }
            // Cold starts first, so the measured round only contains the two 1 s handlers.
            async let warmA = timed(0)
            async let warmB = timed(1)
            _ = await (warmA, warmB)
            let pids = [runtime.processIdentifier(slot: 0), runtime.processIdentifier(slot: 1)]
            #expect(pids[0] != nil && pids[1] != nil && pids[0] != pids[1])
            #expect(runtime.runtimeAPIAddress(slot: 0) != runtime.runtimeAPIAddress(slot: 1))

            let start = clock.now
            async let a = timed(0)
            async let b = timed(1)
            let (first, second) = await (a, b)
            let total = clock.now - start
            #expect(F.responseObject(first.0) != nil && F.responseObject(second.0) != nil)
            #expect(first.1 < second.2 && second.1 < first.2, "the two invocations overlap")
            #expect(total < .milliseconds(1800), "two 1 s batches on two slots took \(total)")
        }
    }

    @Test func anInitErrorIsACrash() async throws {
        try await F.withInvoker(Self.awslambdaric("no_such_module.handler")) { invoker in
            let outcome = await invoker.invoke(F.batch(F.records(1)))
            guard case .crashed(let message) = outcome else {
                Issue.record("expected a crash, got \(outcome)")
                return
            }
            #expect(message.contains("Runtime.ImportModuleError"), "\(message)")
        }
    }

    @Test func aMissingCommandOrDirectoryCouldNotStart() async throws {
        try await F.withInvoker(.runtimeAPI(command: "no-such-command-shardlog", directory: nil)) { invoker in
            let outcome = await invoker.invoke(F.batch(F.records(1)))
            guard case .serviceError(let message) = outcome else {
                Issue.record("expected a service error, got \(outcome)")
                return
            }
            #expect(message.hasPrefix("handler could not start: "), "\(message)")
            #expect(message.contains("exit status 127") && message.contains("(command not found)"), "\(message)")
            #expect(message.contains("no-such-command-shardlog: not found"), "the shell's own words: \(message)")
        }
        let invoker = RuntimeAPIInvoker(
            command: "true",
            directory: "/nonexistent/shardlog",
            functionName: "f",
            logger: F.logger
        )
        let outcome = await invoker.invoke(F.batch(F.records(1)))
        await invoker.shutdown()
        guard case .serviceError = outcome else {
            Issue.record("expected a service error, got \(outcome)")
            return
        }
    }

    @Test func aResponseOverSixMegabytesIsAFunctionError() async throws {
        try await withTemporaryDirectory { directory in
            try "def handler(event, context):\n    return 'x' * (7 * 1024 * 1024)\n"
                .write(toFile: directory + "/huge.py", atomically: true, encoding: .utf8)
            let spec = HandlerSpec.runtimeAPI(command: "python3 -m awslambdaric huge.handler", directory: directory)
            try await F.withInvoker(spec) { invoker in
                let outcome = await invoker.invoke(F.batch(F.records(1)))
                guard case .functionError(let type, _) = outcome else {
                    Issue.record("expected a function error, got \(outcome)")
                    return
                }
                #expect(type == "Function.ResponseSizeTooLarge")
            }
        }
    }

    /// A minimal runtime client that reports what it saw: headers, environment, and the status of a POST for an
    /// unknown request id. Records with partition key `error` make it post an error with only the header type.
    static let probe = #"""
        import http.client, json, os

        api = os.environ["AWS_LAMBDA_RUNTIME_API"]

        def call(method, path, body=None, headers=None):
            connection = http.client.HTTPConnection(api)
            connection.request(method, path, body, headers or {})
            response = connection.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()

        names = ["AWS_LAMBDA_RUNTIME_API", "_HANDLER", "LAMBDA_TASK_ROOT", "PYTHONPATH", "AWS_LAMBDA_FUNCTION_NAME",
                 "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_LOG_GROUP_NAME",
                 "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV",
                 "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "AWS_LAMBDA_MAX_CONCURRENCY"]
        while True:
            status, headers, event = call("GET", "/2018-06-01/runtime/invocation/next")
            request_id = headers["lambda-runtime-aws-request-id"]
            records = json.loads(event)["Records"]
            if records[0]["kinesis"]["partitionKey"] == "error":
                call("POST", f"/2018-06-01/runtime/invocation/{request_id}/error", b"not json",
                     {"Lambda-Runtime-Function-Error-Type": "Custom.HeaderOnly"})
                continue
            bogus, _, _ = call("POST", "/2018-06-01/runtime/invocation/not-a-request-id/response", b"{}")
            report = {"status": status, "headers": headers, "bogus": bogus, "cwd": os.getcwd(),
                      "records": len(records), "env": {name: os.environ.get(name) for name in names}}
            accepted, _, _ = call("POST", f"/2018-06-01/runtime/invocation/{request_id}/response",
                                  json.dumps(report).encode())
            print(f"probe: response accepted with {accepted}", flush=True)
        """#

    @Test func theEndpointSpeaksTheRuntimeAPIContract() async throws {
        try await withTemporaryDirectory { directory in
            try Self.probe.write(toFile: directory + "/probe.py", atomically: true, encoding: .utf8)
            let spec = HandlerSpec.runtimeAPI(command: "python3 probe.py", directory: directory)
            try await F.withInvoker(spec, functionName: "probe-fn") { invoker in
                let batch = F.batch(F.records(3), timeout: .seconds(20))
                let report = try #require(F.responseObject(await invoker.invoke(batch)))
                let headers = try #require(report["headers"] as? [String: String])
                let environment = try #require(report["env"] as? [String: Any])
                #expect(report["status"] as? Int == 200)
                #expect(report["bogus"] as? Int == 400, "an unknown request id gets 400")
                #expect(report["records"] as? Int == 3)
                #expect(headers["content-type"] == "application/json")
                #expect(headers["lambda-runtime-aws-request-id"] == batch.requestId)
                #expect(headers["lambda-runtime-invoked-function-arn"]?.hasSuffix(":function:probe-fn") == true)
                #expect(headers["lambda-runtime-trace-id"]?.hasPrefix("Root=1-") == true)
                let deadline = try #require(headers["lambda-runtime-deadline-ms"].flatMap { Int64($0) })
                let expected = Int64(batch.deadline.timeIntervalSince1970 * 1000)
                #expect(deadline >= expected - 5 && deadline < expected + 10_000, "deadline \(deadline) vs \(expected)")

                let address = try #require(environment["AWS_LAMBDA_RUNTIME_API"] as? String)
                #expect(address.hasPrefix("127.0.0.1:") && !address.contains("/"))
                #expect(environment["_HANDLER"] as? String == "probe.py")
                #expect(environment["LAMBDA_TASK_ROOT"] as? String == directory)
                #expect((environment["PYTHONPATH"] as? String)?.hasPrefix(directory) == true)
                #expect(report["cwd"] as? String == directory)
                #expect(environment["AWS_LAMBDA_FUNCTION_NAME"] as? String == "probe-fn")
                #expect(environment["AWS_LAMBDA_FUNCTION_VERSION"] as? String == "$LATEST")
                #expect(environment["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] as? String == "128")
                #expect(environment["AWS_LAMBDA_LOG_GROUP_NAME"] as? String == "/aws/lambda/probe-fn")
                #expect((environment["AWS_LAMBDA_LOG_STREAM_NAME"] as? String)?.contains("/[$LATEST]") == true)
                #expect(environment["AWS_REGION"] as? String == "us-east-1")
                #expect(environment["AWS_DEFAULT_REGION"] as? String == "us-east-1")
                #expect(environment["AWS_EXECUTION_ENV"] as? String == "AWS_Lambda_shardlog")
                #expect(environment["AWS_LAMBDA_INITIALIZATION_TYPE"] as? String == "on-demand")
                #expect(environment["AWS_ACCESS_KEY_ID"] is String && environment["AWS_SESSION_TOKEN"] is String)
                #expect(environment["AWS_LAMBDA_MAX_CONCURRENCY"] is NSNull)

                let failed = await invoker.invoke(F.batch([F.record(1, "{}", key: "error")]))
                #expect(failed == .functionError(type: "Custom.HeaderOnly", message: "not json"))
            }
        }
    }

    @Test func shutdownStopsEveryProcessAndRefusesLaterBatches() async throws {
        let invoker = RuntimeAPIInvoker(
            command: "python3 -m awslambdaric handler.handler",
            directory: F.python,
            functionName: "f",
            logger: F.logger
        )
        async let a = invoker.invoke(F.batch(F.records(1), slot: 0))
        async let b = invoker.invoke(F.batch(F.records(1), slot: 3))
        let outcomes = await [a, b]
        #expect(outcomes.allSatisfy { F.responseObject($0) != nil }, "\(outcomes)")
        let pids = [invoker.processIdentifier(slot: 0), invoker.processIdentifier(slot: 3)].compactMap { $0 }
        #expect(pids.count == 2)
        await invoker.shutdown()
        for pid in pids {
            #expect(await F.waitUntilGone(pid))
        }
        guard case .serviceError = await invoker.invoke(F.batch(F.records(1))) else {
            Issue.record("a shut-down invoker refuses batches")
            return
        }
    }
}
