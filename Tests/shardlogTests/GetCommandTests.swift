import Foundation
import ShardLog
import ShardLogWire
import Testing

@testable import shardlog

/// `shardlog get`'s JSON lines, written as bytes: the same text as the string formatting they replaced.
@Suite struct GetCommandTests {
    /// The line as earlier releases formatted it (`%.3f` of the arrival time, Foundation's base64).
    private func formatted(_ r: Record) -> String {
        var key: [UInt8] = []
        key.appendJSONString(r.partitionKey)
        let seconds = String(format: "%.3f", Double(r.arrivalMilliseconds) / 1000)
        return "{\"shardId\":\"\(r.shardId)\",\"sequenceNumber\":\"\(r.sequenceNumber)\",\"partitionKey\":"
            + String(decoding: key, as: UTF8.self) + ",\"approximateArrivalTimestamp\":\(seconds),\"data\":\""
            + Data(r.data).base64EncodedString() + "\"}\n"
    }

    @Test func linesMatchTheEarlierFormatting() {
        var generator = SystemRandomNumberGenerator()
        var times: [Int64] = [0, 1, 9, 10, 99, 100, 999, 1000, 1001, 1_733_577_000_123, 1_733_577_000_005, -500]
        for _ in 0..<500 { times.append(Int64.random(in: 0...4_102_444_800_000, using: &generator)) }
        let keys = ["k", "quote\"and\\backslash", "tab\there", "ünïcødé ✓", "\u{1}control"]
        for (i, time) in times.enumerated() {
            let data = (0..<(i % 7)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let r = Record(
                sequence: SequenceNumber(shardIndex: i % 3 == 0 ? 0 : 12_345, offset: UInt64(i) * 1_000_003),
                partitionKey: keys[i % keys.count], data: data, arrivalMilliseconds: time)
            #expect(Get.line(r) == formatted(r), "arrival \(time)")
        }
    }

    @Test func decodedLinesNameTheirEncoding() {
        let json = Record(
            sequence: SequenceNumber(shardIndex: 1, offset: 2), partitionKey: "k",
            data: Array(#"{ "a": [1, 2] }"#.utf8),
            arrivalMilliseconds: 1_700_000_000_042)
        #expect(
            Get.line(json, decode: true)
                == "{\"shardId\":\"shardId-000000000001\",\"sequenceNumber\":\"\(json.sequenceNumber)\","
                + "\"partitionKey\":\"k\",\"approximateArrivalTimestamp\":1700000000.042,"
                + "\"data\":{\"a\":[1,2]},\"dataEncoding\":\"json\"}\n")
        let binary = Record(
            sequence: SequenceNumber(shardIndex: 0, offset: 0), partitionKey: "k", data: [0xFF, 0x00],
            arrivalMilliseconds: 5)
        #expect(Get.line(binary, decode: true).hasSuffix(",\"data\":\"/wA=\",\"dataEncoding\":\"base64\"}\n"))
    }
}
