import Foundation
import ShardLogWire

/// Entry points that expose the mapping module's parsers to the fuzz harness (`ShardLogFuzzing`), which cannot see
/// internal types.
///
/// Each function takes arbitrary bytes, must never trap, and throws away what it decodes.
package enum MappingFuzzing {
    /// Parses `bytes` with the mapping JSON parser; a document that parses is written back and must parse again to
    /// the same text.
    /// - Parameter bytes: arbitrary bytes.
    package static func jsonValue(_ bytes: [UInt8]) {
        guard let value = try? JSON(parsing: bytes) else { return }
        let text = value.bytes
        let again = try? JSON(parsing: text)
        precondition(again?.bytes == text, "JSON did not read back its own output")
    }

    /// Splits `bytes` at the first newline into a filter pattern and a record's data, compiles the pattern (directly
    /// and as `FilterCriteria` JSON) and matches it against the record.
    /// - Parameter bytes: arbitrary bytes.
    package static func filterPattern(_ bytes: [UInt8]) {
        let split = bytes.firstIndex(of: 10) ?? bytes.count
        let patternText = String(decoding: bytes[..<split], as: UTF8.self)
        let data = split < bytes.count ? Array(bytes[(split + 1)...]) : []
        let record = EventRecord(
            partitionKey: "key", sequenceNumber: "49000000000000000000000000000000000000000000000000000001",
            data: data, approximateArrivalTimestamp: Date(timeIntervalSince1970: 1_700_000_000))
        if let pattern = try? FilterPattern(parsing: patternText) {
            _ = RecordFilter(patterns: [pattern]).matches(record)
        }
        let criteria = FilterCriteria(patterns: [patternText, #"{"data":{"a":[{"exists":true}]}}"#])
        if let filter = try? criteria.compiled() {
            _ = filter.matches(record)
        }
        if let decoded = try? JSONDecoder().decode(FilterCriteria.self, from: Data(bytes[..<split])),
            let filter = try? decoded.compiled()
        {
            _ = filter.matches(record)
        }
    }
}
