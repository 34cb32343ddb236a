import CShardLog

/// Byte-level scanning of `shardlog put` input in C (`Sources/CShardLog/json.c`): finding newlines with `memchr`
/// and a validating JSON scan that finds a top-level key without building anything. It answers only the common
/// cases; for everything else (an invalid line, an escaped or nested key) the caller runs its Swift parser, which
/// gives the reason and position.
package enum InputScan {
    /// What ``json(_:_:name:)`` found.
    package enum Outcome: Equatable, Sendable {
        /// Valid; the member's value is a string without escapes (the range is its contents) or a number (the
        /// range is its literal), as positions in the scanned array.
        case key(Range<Int>)
        /// Valid; no plain string or number member to return (none asked for, absent, another kind, escapes, or
        /// the top level is not an object).
        case valid
        /// Not valid JSON: the caller's parser says why.
        case invalid
        /// Arrays and objects nested deeper than ``maximumDepth``; the position (in the array) of the bracket that
        /// is too deep.
        case tooDeep(position: Int)
    }

    /// The deepest nesting ``json(_:_:name:)`` accepts.
    package static let maximumDepth = Int(SHARDLOG_JSON_MAX_DEPTH)

    /// Scans `bytes[range]` as one JSON value and, when `name` is given, finds the first member of that name (its
    /// raw key bytes) of the top-level object.
    /// - Complexity: O(range.count); strings 16 bytes at a time; no allocation.
    package static func json(_ bytes: [UInt8], _ range: Range<Int>, name: [UInt8]?) -> Outcome {
        precondition(range.lowerBound >= 0 && range.upperBound <= bytes.count, "scan range out of bounds")
        var start = 0
        var end = 0
        let code = bytes.withUnsafeBufferPointer { line -> Int32 in
            guard let base = line.baseAddress else { return -1 }
            guard let name else {
                return shardlog_json_scan(base + range.lowerBound, range.count, nil, 0, &start, &end)
            }
            return name.withUnsafeBufferPointer { name in
                shardlog_json_scan(base + range.lowerBound, range.count, name.baseAddress, name.count, &start, &end)
            }
        }
        switch code {
        case 1: return .key(range.lowerBound + start..<range.lowerBound + end)
        case 0: return .valid
        case -2: return .tooDeep(position: range.lowerBound + start)
        default: return .invalid
        }
    }

    /// The position of the first `byte` in `bytes[range]`, or `range.upperBound` when there is none.
    /// - Complexity: O(range.count), `memchr`.
    package static func firstIndex(of byte: UInt8, in bytes: [UInt8], _ range: Range<Int>) -> Int {
        precondition(range.lowerBound >= 0 && range.upperBound <= bytes.count, "search range out of bounds")
        return bytes.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return range.upperBound }
            return range.lowerBound + shardlog_find_byte(base + range.lowerBound, range.count, byte)
        }
    }
}
