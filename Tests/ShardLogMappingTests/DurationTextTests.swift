import Testing

@testable import ShardLogMapping

@Suite struct DurationTextTests {
    @Test(arguments: [
        (Int64(0), "0ms"), (350, "350ms"), (999, "999ms"), (1000, "1s"), (4_240, "4.2s"), (9_960, "10s"),
        (41_000, "41s"), (401_279, "6m41s"), (3_600_000, "1h00m"), (7_500_000, "2h05m"), (273_600_000, "3d04h"),
        (-5, "0ms"),
    ])
    func formatsTwoUnitsAtMost(milliseconds: Int64, text: String) {
        #expect(DurationText.compact(milliseconds: milliseconds) == text)
    }

    @Test func takesADuration() {
        #expect(DurationText.compact(.milliseconds(250)) == "250ms")
        #expect(DurationText.compact(.seconds(60)) == "1m00s")
    }
}
