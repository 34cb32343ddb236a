/// A validating scanner for one JSON text in a byte buffer, fast enough for ingest at millions of lines per second.
///
/// It checks the whole line is one well-formed JSON value (RFC 8259) and can pull out the value at a dotted path
/// (`order.id`), without building a document tree.
package struct JSONLine {
    /// Why a line is not valid JSON, and where.
    package struct Problem: Error, Equatable, CustomStringConvertible {
        /// What is wrong.
        package var reason: String
        /// Byte position in the line (0-based).
        package var position: Int
        /// `"<reason> at byte <n>"`.
        package var description: String { "\(reason) at byte \(position + 1)" }
    }

    private let bytes: [UInt8]
    private let base: Int
    private let end: Int
    private var i: Int

    private init(_ bytes: [UInt8], _ range: Range<Int>) {
        self.bytes = bytes
        self.base = range.lowerBound
        self.i = range.lowerBound
        self.end = range.upperBound
    }

    /// Validates `bytes[range]` as one JSON value and returns the value at `path` (if a path is given).
    ///
    /// The value is returned as text: a string's unescaped contents, or the literal text of a number, `true`,
    /// `false`, an object or an array. `nil` when the path is absent or `null`.
    /// - Throws: ``Problem`` for malformed JSON.
    /// - Complexity: O(line length).
    package static func scan(_ bytes: [UInt8], _ range: Range<Int>, path: [String]) throws(Problem) -> String? {
        var s = JSONLine(bytes, range)
        s.skipSpace()
        let found = try s.value(path: path[...])
        s.skipSpace()
        if s.i != s.end {
            throw Problem(reason: "unexpected text after the JSON value", position: s.i - range.lowerBound)
        }
        return found
    }

    private mutating func skipSpace() {
        while i < end, bytes[i] == 32 || bytes[i] == 9 || bytes[i] == 10 || bytes[i] == 13 { i += 1 }
    }

    private func fail(_ reason: String) -> Problem { Problem(reason: reason, position: i - base) }

    /// Parses a value; if `path` is empty, returns its text; otherwise descends.
    private mutating func value(path: ArraySlice<String>) throws(Problem) -> String? {
        guard i < end else { throw fail("unexpected end of line") }
        let start = i
        switch bytes[i] {
        case UInt8(ascii: "{"):
            var hit: String?
            i += 1
            skipSpace()
            if i < end, bytes[i] == UInt8(ascii: "}") {
                i += 1
            } else {
                while true {
                    skipSpace()
                    guard i < end, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
                    let key = try string()
                    skipSpace()
                    guard i < end, bytes[i] == UInt8(ascii: ":") else { throw fail("expected ':' after a key") }
                    i += 1
                    skipSpace()
                    if let first = path.first, first == key, hit == nil {
                        hit = try value(path: path.dropFirst())
                    } else {
                        _ = try value(path: [])
                    }
                    skipSpace()
                    guard i < end else { throw fail("unterminated object") }
                    if bytes[i] == UInt8(ascii: ",") {
                        i += 1
                        continue
                    }
                    guard bytes[i] == UInt8(ascii: "}") else { throw fail("expected ',' or '}' in an object") }
                    i += 1
                    break
                }
            }
            if path.isEmpty { return String(decoding: bytes[start..<i], as: UTF8.self) }
            return hit
        case UInt8(ascii: "["):
            i += 1
            skipSpace()
            if i < end, bytes[i] == UInt8(ascii: "]") {
                i += 1
            } else {
                while true {
                    skipSpace()
                    _ = try value(path: [])
                    skipSpace()
                    guard i < end else { throw fail("unterminated array") }
                    if bytes[i] == UInt8(ascii: ",") {
                        i += 1
                        continue
                    }
                    guard bytes[i] == UInt8(ascii: "]") else { throw fail("expected ',' or ']' in an array") }
                    i += 1
                    break
                }
            }
            return path.isEmpty ? String(decoding: bytes[start..<i], as: UTF8.self) : nil
        case UInt8(ascii: "\""):
            let text = try string()
            return path.isEmpty ? text : nil
        case UInt8(ascii: "t"):
            try literal("true")
            return path.isEmpty ? "true" : nil
        case UInt8(ascii: "f"):
            try literal("false")
            return path.isEmpty ? "false" : nil
        case UInt8(ascii: "n"):
            try literal("null")
            return nil
        default:
            try number()
            return path.isEmpty ? String(decoding: bytes[start..<i], as: UTF8.self) : nil
        }
    }

    private mutating func literal(_ word: StaticString) throws(Problem) {
        let n = word.utf8CodeUnitCount
        guard end - i >= n else { throw fail("invalid literal") }
        var k = 0
        while k < n {
            if bytes[i + k] != word.utf8Start[k] { throw fail("invalid literal") }
            k += 1
        }
        i += n
    }

    private mutating func number() throws(Problem) {
        let start = i
        if i < end, bytes[i] == UInt8(ascii: "-") { i += 1 }
        guard i < end, bytes[i] >= 48, bytes[i] <= 57 else {
            throw Problem(reason: "invalid value", position: start - base)
        }
        if bytes[i] == 48 {
            i += 1
        } else {
            while i < end, bytes[i] >= 48, bytes[i] <= 57 { i += 1 }
        }
        if i < end, bytes[i] == UInt8(ascii: ".") {
            i += 1
            guard i < end, bytes[i] >= 48, bytes[i] <= 57 else { throw fail("invalid number") }
            while i < end, bytes[i] >= 48, bytes[i] <= 57 { i += 1 }
        }
        if i < end, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            i += 1
            if i < end, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard i < end, bytes[i] >= 48, bytes[i] <= 57 else { throw fail("invalid number") }
            while i < end, bytes[i] >= 48, bytes[i] <= 57 { i += 1 }
        }
    }

    /// Parses a string at `i` (which is a quote) and returns its unescaped contents.
    private mutating func string() throws(Problem) -> String {
        i += 1
        let start = i
        var plain = true
        while i < end {
            let c = bytes[i]
            if c == UInt8(ascii: "\"") {
                let text = plain ? String(decoding: bytes[start..<i], as: UTF8.self) : try unescape(start..<i)
                i += 1
                return text
            }
            if c < 0x20 { throw fail("control character in a string") }
            if c == UInt8(ascii: "\\") {
                plain = false
                i += 1
                guard i < end else { break }
                if bytes[i] == UInt8(ascii: "u") {
                    guard end - i > 4 else { throw fail("invalid \\u escape") }
                    for k in 1...4 where hex(bytes[i + k]) == nil { throw fail("invalid \\u escape") }
                    i += 4
                } else if !"\"\\/bfnrt".utf8.contains(bytes[i]) {
                    throw fail("invalid escape")
                }
            }
            i += 1
        }
        throw fail("unterminated string")
    }

    private func hex(_ c: UInt8) -> UInt32? {
        switch c {
        case 48...57: UInt32(c - 48)
        case 65...70: UInt32(c - 55)
        case 97...102: UInt32(c - 87)
        default: nil
        }
    }

    private func unescape(_ r: Range<Int>) throws(Problem) -> String {
        var out = [UInt8]()
        out.reserveCapacity(r.count)
        var k = r.lowerBound
        var pendingHigh: UInt32?
        while k < r.upperBound {
            let c = bytes[k]
            guard c == UInt8(ascii: "\\") else {
                out.append(c)
                k += 1
                continue
            }
            k += 1
            let e = bytes[k]
            k += 1
            switch e {
            case UInt8(ascii: "b"): out.append(8)
            case UInt8(ascii: "f"): out.append(12)
            case UInt8(ascii: "n"): out.append(10)
            case UInt8(ascii: "r"): out.append(13)
            case UInt8(ascii: "t"): out.append(9)
            case UInt8(ascii: "u"):
                var v: UInt32 = 0
                for n in 0..<4 { v = v << 4 | (hex(bytes[k + n]) ?? 0) }
                k += 4
                if (0xD800..<0xDC00).contains(v) {
                    pendingHigh = v
                    continue
                }
                var scalar = v
                if let high = pendingHigh, (0xDC00..<0xE000).contains(v) {
                    scalar = 0x10000 + ((high - 0xD800) << 10) + (v - 0xDC00)
                }
                pendingHigh = nil
                out.append(contentsOf: Array(String(Character(Unicode.Scalar(scalar) ?? "\u{FFFD}")).utf8))
            default: out.append(e)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
