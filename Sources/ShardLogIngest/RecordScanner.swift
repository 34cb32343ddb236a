import ShardLog

/// Turns input lines into records of a ``RecordBuffer``: the line is the data, the partition key comes from a JSON
/// field (`--key-field`), a fixed key (`--key`) or is random. With JSON input each line is validated in one pass;
/// a plain string or number key is copied straight from the line into the buffer (no `String` per record).
///
/// Not thread-safe: one scanner per reading thread.
package struct RecordScanner {
    /// Where partition keys come from.
    package enum KeySource: Sendable {
        /// The value at this dotted path of each JSON line (a string, or a number used as its text).
        case field([String])
        /// The same key for every record (checked by the caller).
        case fixed(String)
        /// A random 64-bit hexadecimal key per record (spreads records over all shards).
        case random
    }

    /// Why a line was refused: the text after `line N: `.
    package struct Refusal: Error, Equatable, CustomStringConvertible {
        /// What is wrong with the line.
        package var description: String
    }

    private let jsonl: Bool
    private let keySource: KeySource
    private let keyName: String
    private let fixedKey: [UInt8]
    /// A one-name path's name as bytes: the C scanner finds such a key itself (the common case).
    private let topLevelName: [UInt8]?
    /// The largest record (key plus data) accepted.
    package var maxRecordByteCount: Int
    /// SplitMix64 state for random keys, seeded once from the system generator: keys only need to spread over
    /// shards, and the system generator costs a getrandom(2) call per key.
    private var randomState: UInt64 = {
        var system = SystemRandomNumberGenerator()
        return system.next()
    }()
    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
    private var scratch: [UInt8] = []

    /// Creates a scanner.
    /// - Parameters:
    ///   - jsonl: each line must be one JSON value (required with a `.field` key source).
    ///   - keySource: where keys come from.
    ///   - maxRecordByteCount: the stream's record limit (``DataStream/maxRecordByteCount``).
    package init(jsonl: Bool, keySource: KeySource, maxRecordByteCount: Int) {
        self.jsonl = jsonl
        self.keySource = keySource
        self.maxRecordByteCount = maxRecordByteCount
        if case .field(let path) = keySource { keyName = path.joined(separator: ".") } else { keyName = "" }
        if case .fixed(let key) = keySource { fixedKey = Array(key.utf8) } else { fixedKey = [] }
        if case .field(let path) = keySource, path.count == 1 {
            topLevelName = Array(path[0].utf8)
        } else {
            topLevelName = nil
        }
        scratch.reserveCapacity(16)
    }

    /// Appends `line[range]` as one record to `buffer`, or says why it is refused (nothing is appended then).
    /// - Complexity: O(line length).
    package mutating func scan(_ line: [UInt8], _ range: Range<Int>, into buffer: inout RecordBuffer) -> Refusal? {
        switch keySource {
        case .field(let path):
            // The quick path: the C scan validates the line and finds a plain top-level key; anything else (an
            // invalid line, an escaped, nested, missing or non-string key) goes through JSONLine for its message.
            if let name = topLevelName {
                switch InputScan.json(line, range, name: name) {
                case .key(let key):
                    if key.isEmpty { return emptyKey() }
                    return append(key: line, key, line, range, into: &buffer, keyFromLine: true)
                case .tooDeep(let position): return tooDeep(at: position - range.lowerBound)
                case .valid, .invalid: break
                }
            }
            let found: JSONLine.Key
            do throws(JSONLine.Problem) {
                found = try JSONLine.key(line, range, path: path)
            } catch {
                return Refusal(description: "not valid JSON: \(error)")
            }
            switch found {
            case .bytes(let key):
                if key.isEmpty { return emptyKey() }
                return append(key: line, key, line, range, into: &buffer, keyFromLine: true)
            case .value(let value):
                switch value {
                case .string(let s) where !s.isEmpty, .number(let s):
                    scratch.removeAll(keepingCapacity: true)
                    scratch.append(contentsOf: s.utf8)
                    return append(key: scratch, 0..<scratch.count, line, range, into: &buffer)
                case .string: return emptyKey()
                case .invalidString(let position): return invalidKey(at: position)
                case nil: return Refusal(description: "key field '\(keyName)' is missing")
                case let other?:
                    return Refusal(
                        description: "key field '\(keyName)' is \(other.typeName); a partition key must be a JSON "
                            + "string (or a number, which is used as its text)")
                }
            }
        case .fixed:
            if let problem = validateJSON(line, range) { return problem }
            return append(key: fixedKey, 0..<fixedKey.count, line, range, into: &buffer)
        case .random:
            if let problem = validateJSON(line, range) { return problem }
            // Lower-case hexadecimal without leading zeros, written straight into the scratch bytes (no String).
            randomState &+= 0x9E37_79B9_7F4A_7C15
            var value = randomState
            value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
            value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
            value ^= value >> 31
            scratch.removeAll(keepingCapacity: true)
            var shift = max(0, (63 - value.leadingZeroBitCount) / 4 * 4)
            while shift >= 0 {
                scratch.append(Self.hexDigits[Int((value >> UInt64(shift)) & 0xF)])
                shift -= 4
            }
            return append(key: scratch, 0..<scratch.count, line, range, into: &buffer)
        }
    }

    private func validateJSON(_ line: [UInt8], _ range: Range<Int>) -> Refusal? {
        guard jsonl else { return nil }
        switch InputScan.json(line, range, name: nil) {
        case .valid, .key: return nil
        case .tooDeep(let position): return tooDeep(at: position - range.lowerBound)
        case .invalid: break
        }
        do throws(JSONLine.Problem) {
            try JSONLine.validate(line, range)
            return nil
        } catch {
            return Refusal(description: "not valid JSON: \(error)")
        }
    }

    private func append(
        key: [UInt8], _ keyRange: Range<Int>, _ line: [UInt8], _ range: Range<Int>, into buffer: inout RecordBuffer,
        keyFromLine: Bool = false
    ) -> Refusal? {
        do {
            // The key first (as `DataStream.validate` orders it), then the size, then the copy.
            try RecordBuffer.checkKey(key, keyRange)
            let total = keyRange.count + range.count
            guard total <= maxRecordByteCount else {
                return Refusal(description: DataStream.tooLarge(total, limit: maxRecordByteCount, record: nil).message)
            }
            buffer.append(checkedKey: key, keyRange, data: line, range)
            return nil
        } catch {
            // A plain string copied from the line unchecked that is not valid UTF-8.
            if keyFromLine, error.message.hasSuffix("not valid UTF-8") {
                return invalidKey(at: keyRange.lowerBound - range.lowerBound)
            }
            return Refusal(description: error.message)
        }
    }

    private func tooDeep(at position: Int) -> Refusal {
        Refusal(
            description: "not valid JSON: arrays and objects nested deeper than \(InputScan.maximumDepth) levels at "
                + "byte \(position + 1)")
    }

    private func emptyKey() -> Refusal {
        Refusal(description: "key field '\(keyName)' is an empty string; a partition key has 1 to 256 characters")
    }

    private func invalidKey(at position: Int) -> Refusal {
        Refusal(
            description: "key field '\(keyName)' (at byte \(position + 1)) is not valid UTF-8 or escapes a lone "
                + "surrogate; a partition key must be a Unicode string")
    }
}
