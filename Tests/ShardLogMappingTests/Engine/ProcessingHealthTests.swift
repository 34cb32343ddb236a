import Testing

@testable import ShardLogMapping

/// The shared back-off while a handler cannot start, and `LastProcessingResult`.
@Suite struct ProcessingHealthTests {
    @Test func stepsDoubleUpToTheMaximumAndOnlyTheLaneThatOpensAStepLogsIt() {
        let health = ProcessingHealth(firstDelay: .seconds(1), maximumDelay: .seconds(5))
        #expect(health.lastProcessingResult.text == "No records processed")
        let first = health.couldNotStart("handler could not start: x")
        #expect(first.openedStep == .seconds(1))
        // Another lane failing within the step waits for the same end and does not log.
        let other = health.couldNotStart("handler could not start: x")
        #expect(other.openedStep == nil && other.until == first.until)
        #expect(health.backOffUntil == first.until)
        #expect(health.lastProcessingResult.text == "PROBLEM: handler could not start: x")
    }

    @Test func laterStepsDoubleAndAReachedHandlerEndsTheBackOff() async throws {
        let health = ProcessingHealth(firstDelay: .milliseconds(10), maximumDelay: .milliseconds(40))
        var steps: [Duration] = []
        for _ in 0..<5 {
            let (until, step) = health.couldNotStart("handler could not start: x")
            steps.append(try #require(step))
            try await Task.sleep(until: until, clock: .continuous)
        }
        #expect(
            steps == [.milliseconds(10), .milliseconds(20), .milliseconds(40), .milliseconds(40), .milliseconds(40)])
        let version = health.lastProcessingResult.version
        health.invoked(problem: nil)
        #expect(health.lastProcessingResult.text == "OK")
        #expect(health.lastProcessingResult.version == version + 1)
        #expect(health.backOffUntil == nil)
        #expect(health.couldNotStart("handler could not start: x").openedStep == .milliseconds(10))
        health.invoked(problem: "Function call failed: TypeError: boom")
        #expect(health.lastProcessingResult.text == "PROBLEM: Function call failed: TypeError: boom")
    }
}
