import Foundation
import Testing

@testable import ShardLogMapping

/// Request ids are lowercase version-4 UUIDs that do not repeat; trace ids have X-Ray's form.
@Suite struct InvocationIdentifierTests {
    @Test func requestIdsAreDistinctLowercaseVersion4UUIDs() throws {
        var seen = Set<String>()
        for _ in 0..<20_000 {
            let id = InvocationIdentifier.requestId()
            #expect(id == id.lowercased())
            let uuid = try #require(UUID(uuidString: id), "\(id) is not a UUID")
            #expect(uuid.uuid.6 >> 4 == 4, "version of \(id)")
            #expect(uuid.uuid.8 >> 6 == 0b10, "variant of \(id)")
            seen.insert(id)
        }
        #expect(seen.count == 20_000)
    }

    @Test func traceIdsHaveTheXRayForm() throws {
        let trace = InvocationIdentifier.traceId(epochSeconds: 0x6000_0000)
        let pattern = try Regex("^Root=1-60000000-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0$")
        #expect(trace.wholeMatch(of: pattern) != nil, "\(trace)")
        #expect(InvocationIdentifier.traceId(epochSeconds: 1) != InvocationIdentifier.traceId(epochSeconds: 1))
    }
}
