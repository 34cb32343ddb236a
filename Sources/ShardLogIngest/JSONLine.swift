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

    /// The value found at a path: its JSON type and, for strings and numbers, the text a partition key would use.
    package enum Value: Equatable, Sendable {
        /// A string's unescaped contents (valid Unicode).
        case string(String)
        /// A string whose bytes are not valid UTF-8 (or that escapes a lone surrogate); `position` is the byte
        /// where the string's contents start, 0-based in the line.
        case invalidString(position: Int)
        /// A number's literal text (`42`, `-1.5e3`).
        case number(String)
        /// An object, with its text.
        case object(String)
        /// An array, with its text.
        case array(String)
        /// `true` or `false`.
        case boolean(Bool)
        /// `null`.
        case null

        /// The JSON type's name for messages: "a string", "an object", ….
        package var typeName: String {
            switch self {
            case .string, .invalidString: "a string"
            case .number: "a number"
            case .object: "an object"
            case .array: "an array"
            case .boolean: "a boolean"
            case .null: "null"
            }
        }

        /// The value as text: a string's contents, or the literal text of anything else; `nil` for `null` and an
        /// invalid string.
        package var text: String? {
            switch self {
            case .string(let s), .number(let s), .object(let s), .array(let s): s
            case .boolean(let b): b ? "true" : "false"
            case .null, .invalidString: nil
            }
        }
    }

    private let bytes: [UInt8]
    private let base: Int
    private let end: Int
    private var i: Int
    /// Arrays and objects open at `i`.
    private var depth = 0

    /// The deepest nesting of arrays and objects accepted, as in the C scanner of `put` (`InputScan.maximumDepth`):
    /// the parser recurses per level, so a line of 100,000 `[` must be refused before it overflows the stack.
    package static let maximumDepth = 512

    private init(_ bytes: [UInt8], _ range: Range<Int>) {
        self.bytes = bytes
        self.base = range.lowerBound
        self.i = range.lowerBound
        self.end = range.upperBound
    }

    /// Validates `bytes[range]` as one JSON value and returns the value at `path` as text (if a path is given).
    ///
    /// The value is returned as text: a string's unescaped contents, or the literal text of a number, `true`,
    /// `false`, an object or an array. `nil` when the path is absent or `null`, or a string there is not valid
    /// Unicode (``field(_:_:path:)`` tells these apart).
    /// - Throws: ``Problem`` for malformed JSON.
    /// - Complexity: O(line length).
    package static func scan(_ bytes: [UInt8], _ range: Range<Int>, path: [String]) throws(Problem) -> String? {
        try field(bytes, range, path: path)?.text
    }

    /// Validates `bytes[range]` as one JSON value (no value is built: the ingest path for `--format jsonl`).
    /// - Throws: ``Problem`` for malformed JSON.
    /// - Complexity: O(line length), no allocation.
    package static func validate(_ bytes: [UInt8], _ range: Range<Int>) throws(Problem) {
        var s = JSONLine(bytes, range)
        s.skipSpace()
        try s.skipValue()
        try s.expectEnd()
    }

    /// Validates `bytes[range]` as one JSON value and returns the value at `path` (the whole value when `path` is
    /// empty) with its JSON type, or `nil` when the path is absent. One pass over the line: siblings of the path
    /// are validated without building strings, and only the value found is decoded (a string's UTF-8 checked).
    /// - Throws: ``Problem`` for malformed JSON.
    /// - Complexity: O(line length).
    package static func field(_ bytes: [UInt8], _ range: Range<Int>, path: [String]) throws(Problem) -> Value? {
        var s = JSONLine(bytes, range)
        s.skipSpace()
        let found = try s.locate(path: path[...])
        try s.expectEnd()
        return found.map { s.decode($0) }
    }

    /// What ``key(_:_:path:)`` found: the bytes of a string without escapes or of a number (to copy as they are,
    /// no `String` built), or any other value decoded as ``field(_:_:path:)`` does.
    package enum Key: Equatable, Sendable {
        /// `bytes[range]` is the key's text: a string's contents without escapes (its UTF-8 not checked yet), or a
        /// number's literal.
        case bytes(Range<Int>)
        /// Anything else (a string with escapes, an object, …), or `nil` when the path is absent.
        case value(Value?)
    }

    /// Like ``field(_:_:path:)``, but returns a plain string's or a number's position instead of building a
    /// `String`: the ingest path for `--key-field`, which copies the key's bytes straight into a record buffer.
    /// - Throws: ``Problem`` for malformed JSON.
    /// - Complexity: O(line length), no allocation for a plain string or number.
    package static func key(_ bytes: [UInt8], _ range: Range<Int>, path: [String]) throws(Problem) -> Key {
        var s = JSONLine(bytes, range)
        s.skipSpace()
        let found = try s.locate(path: path[...])
        try s.expectEnd()
        switch found {
        case .string(let r, plain: true)?, .number(let r)?: return .bytes(r)
        case let other: return .value(other.map { s.decode($0) })
        }
    }

    /// A value found by ``locate(path:)``: strings and numbers by position, the rest decoded.
    private enum Located {
        case string(Range<Int>, plain: Bool)
        case number(Range<Int>)
        case other(Value)
    }

    /// A located value as a ``Value``: strings unescaped and UTF-8-checked, numbers as their text.
    private func decode(_ located: Located) -> Value {
        switch located {
        case .string(let contents, plain: true):
            guard let text = String(validating: bytes[contents], as: UTF8.self) else {
                return .invalidString(position: contents.lowerBound - base)
            }
            return .string(text)
        case .string(let contents, plain: false):
            guard let text = unescape(contents) else { return .invalidString(position: contents.lowerBound - base) }
            return .string(text)
        case .number(let r): return .number(String(decoding: bytes[r], as: UTF8.self))
        case .other(let value): return value
        }
    }

    private mutating func expectEnd() throws(Problem) {
        skipSpace()
        if i != end { throw Problem(reason: "unexpected text after the JSON value", position: i - base) }
    }

    private mutating func skipSpace() {
        while i < end, bytes[i] == 32 || bytes[i] == 9 || bytes[i] == 10 || bytes[i] == 13 { i += 1 }
    }

    private func fail(_ reason: String) -> Problem { Problem(reason: reason, position: i - base) }

    /// Counts one more level of nesting at the bracket at `i`.
    /// - Throws: ``Problem`` past ``maximumDepth``.
    private mutating func enter() throws(Problem) {
        depth += 1
        guard depth <= Self.maximumDepth else {
            throw fail("arrays and objects nested deeper than \(Self.maximumDepth) levels")
        }
    }

    /// Parses the value at `i`; if `path` is empty, returns it (strings and numbers by position); otherwise
    /// descends into objects along `path` (anything else on the way means the path is absent).
    private mutating func locate(path: ArraySlice<String>) throws(Problem) -> Located? {
        guard i < end else { throw fail("unexpected end of line") }
        let start = i
        switch bytes[i] {
        case UInt8(ascii: "{"):
            guard let first = path.first else {
                try skipValue()
                return .other(.object(String(decoding: bytes[start..<i], as: UTF8.self)))
            }
            var hit: Located?
            try members { (s: inout JSONLine, key: Range<Int>, plain: Bool) throws(Problem) in
                if hit == nil, try s.keyEquals(key, plain: plain, first) {
                    hit = try s.locate(path: path.dropFirst())
                } else {
                    try s.skipValue()
                }
            }
            return hit
        case UInt8(ascii: "\""):
            guard path.isEmpty else {
                try skipValue()
                return nil
            }
            let (contents, plain) = try stringContents()
            return .string(contents, plain: plain)
        default:
            try skipValue()
            guard path.isEmpty else { return nil }
            switch bytes[start] {
            case UInt8(ascii: "["): return .other(.array(String(decoding: bytes[start..<i], as: UTF8.self)))
            case UInt8(ascii: "t"): return .other(.boolean(true))
            case UInt8(ascii: "f"): return .other(.boolean(false))
            case UInt8(ascii: "n"): return .other(.null)
            default: return .number(start..<i)
            }
        }
    }

    /// Validates the value at `i` and moves past it, building nothing.
    private mutating func skipValue() throws(Problem) {
        guard i < end else { throw fail("unexpected end of line") }
        switch bytes[i] {
        case UInt8(ascii: "{"):
            try members { (s: inout JSONLine, _: Range<Int>, _: Bool) throws(Problem) in try s.skipValue() }
        case UInt8(ascii: "["):
            try enter()
            defer { depth -= 1 }
            i += 1
            skipSpace()
            if i < end, bytes[i] == UInt8(ascii: "]") {
                i += 1
                return
            }
            while true {
                skipSpace()
                try skipValue()
                skipSpace()
                guard i < end else { throw fail("unterminated array") }
                if bytes[i] == UInt8(ascii: ",") {
                    i += 1
                    continue
                }
                guard bytes[i] == UInt8(ascii: "]") else { throw fail("expected ',' or ']' in an array") }
                i += 1
                return
            }
        case UInt8(ascii: "\""): _ = try stringContents()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default: try number()
        }
    }

    /// Walks an object at `i` (an opening brace), calling `body` for each member with the key's contents (raw
    /// bytes, and whether they contain no escape) and `i` at the member's value; `body` must move past the value.
    private mutating func members(
        _ body: (inout JSONLine, Range<Int>, Bool) throws(Problem) -> Void
    ) throws(Problem) {
        try enter()
        defer { depth -= 1 }
        i += 1
        skipSpace()
        if i < end, bytes[i] == UInt8(ascii: "}") {
            i += 1
            return
        }
        while true {
            skipSpace()
            guard i < end, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
            let (key, plain) = try stringContents()
            skipSpace()
            guard i < end, bytes[i] == UInt8(ascii: ":") else { throw fail("expected ':' after a key") }
            i += 1
            skipSpace()
            try body(&self, key, plain)
            skipSpace()
            guard i < end else { throw fail("unterminated object") }
            if bytes[i] == UInt8(ascii: ",") {
                i += 1
                continue
            }
            guard bytes[i] == UInt8(ascii: "}") else { throw fail("expected ',' or '}' in an object") }
            i += 1
            return
        }
    }

    /// Whether the key with raw contents `key` equals `name` (compared byte by byte unless it has escapes).
    private func keyEquals(_ key: Range<Int>, plain: Bool, _ name: String) throws(Problem) -> Bool {
        if plain { return name.utf8.elementsEqual(bytes[key]) }
        return unescape(key) == name
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

    /// Moves past the string at `i` (which is a quote), checking its escapes and control characters, and
    /// returns the range of its raw contents and whether they contain no escape.
    private mutating func stringContents() throws(Problem) -> (Range<Int>, plain: Bool) {
        i += 1
        let start = i
        var plain = true
        while i < end {
            let c = bytes[i]
            if c == UInt8(ascii: "\"") {
                i += 1
                return (start..<i - 1, plain)
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

    /// The unescaped contents of a string whose escapes `stringContents()` checked; `nil` when the result is not
    /// valid Unicode (invalid UTF-8 bytes, or a `\\u` escape of a lone surrogate).
    private func unescape(_ r: Range<Int>) -> String? {
        var out = [UInt8]()
        out.reserveCapacity(r.count)
        var k = r.lowerBound
        var pendingHigh: UInt32?
        while k < r.upperBound {
            let c = bytes[k]
            guard c == UInt8(ascii: "\\") else {
                guard pendingHigh == nil else { return nil }
                out.append(c)
                k += 1
                continue
            }
            let e = bytes[k + 1]
            k += 2
            guard e == UInt8(ascii: "u") else {
                guard pendingHigh == nil else { return nil }
                switch e {
                case UInt8(ascii: "b"): out.append(8)
                case UInt8(ascii: "f"): out.append(12)
                case UInt8(ascii: "n"): out.append(10)
                case UInt8(ascii: "r"): out.append(13)
                case UInt8(ascii: "t"): out.append(9)
                default: out.append(e)
                }
                continue
            }
            var v: UInt32 = 0
            for n in 0..<4 { v = v << 4 | (hex(bytes[k + n]) ?? 0) }
            k += 4
            var scalarValue = v
            switch (v, pendingHigh) {
            case (0xD800..<0xDC00, nil):
                pendingHigh = v
                continue
            case (0xDC00..<0xE000, let high?):
                scalarValue = 0x10000 + ((high - 0xD800) << 10) + (v - 0xDC00)
                pendingHigh = nil
            case (_, nil):
                break
            default:
                return nil
            }
            guard let scalar = Unicode.Scalar(scalarValue) else { return nil }
            out.append(contentsOf: String(Character(scalar)).utf8)
        }
        guard pendingHigh == nil else { return nil }
        return String(validating: out, as: UTF8.self)
    }
}
