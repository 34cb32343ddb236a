/// The JSON parser: strict RFC 8259, recursive descent over UTF-8 bytes, for server requests, mapping files, filter
/// patterns, record data and handler responses.
///
/// Strings must be valid UTF-8 and escapes well-formed (surrogates paired); numbers follow the grammar (no leading
/// zeros, no `NaN`) and must fit a `Double`. Nesting deeper than the limit given is refused rather than risking the
/// stack. Every error is a ``WireError`` with code ``WireError/Code/malformedJSON``, naming the problem and the byte
/// offset where it was found. Sizes are bounded by the caller (the server reads a body only up to its operation's
/// cap); the parser allocates nothing beyond the values it returns.
package struct JSONParser {
    /// The nesting limit of ``JSON/init(parsing:maximumDepth:outOfRange:)`` unless another is given.
    package static let defaultMaximumDepth = 512

    /// What a number too large for a `Double` (such as `1e400`) becomes.
    package enum OutOfRangeNumbers: Sendable {
        /// A ``WireError/Code/malformedJSON`` error (`number out of range`): files, patterns, handler responses.
        case rejected
        /// `±infinity`, for the caller to refuse with its own error (the server's `InvalidArgumentException`).
        case infinite
    }

    private let bytes: [UInt8]
    private let maximumDepth: Int
    private let outOfRange: OutOfRangeNumbers
    private var index = 0
    private var depth = 0

    /// Creates a parser over `bytes`.
    /// - Parameters:
    ///   - bytes: UTF-8 JSON text.
    ///   - maximumDepth: the deepest nesting of arrays and objects accepted.
    ///   - outOfRange: what a number too large for a `Double` becomes.
    package init(
        _ bytes: [UInt8], maximumDepth: Int = JSONParser.defaultMaximumDepth,
        outOfRange: OutOfRangeNumbers = .rejected
    ) {
        self.bytes = bytes
        self.maximumDepth = maximumDepth
        self.outOfRange = outOfRange
    }

    /// Parses the whole input as one JSON value.
    /// - Throws: ``WireError/Code/malformedJSON`` naming the problem and its byte offset.
    package mutating func parseDocument() throws(WireError) -> JSON {
        skipWhitespace()
        let value = try parseValue()
        skipWhitespace()
        guard index == bytes.count else {
            throw failure("unexpected characters after the JSON value")
        }
        return value
    }

    private func failure(_ reason: String) -> WireError {
        WireError(.malformedJSON, reason, offset: index)
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09:
                index += 1
            default:
                return
            }
        }
    }

    private mutating func parseValue() throws(WireError) -> JSON {
        guard index < bytes.count else {
            throw failure("unexpected end of input")
        }
        switch bytes[index] {
        case UInt8(ascii: "{"):
            return try parseObject()
        case UInt8(ascii: "["):
            return try parseArray()
        case UInt8(ascii: "\""):
            return .string(try parseString())
        case UInt8(ascii: "t"):
            try expectLiteral("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try expectLiteral("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try expectLiteral("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .number(try parseNumber())
        default:
            throw failure("unexpected character")
        }
    }

    private mutating func expectLiteral(_ literal: String) throws(WireError) {
        let start = index
        for expected in literal.utf8 {
            guard index < bytes.count, bytes[index] == expected else {
                throw WireError(.malformedJSON, "invalid literal", offset: start)
            }
            index += 1
        }
    }

    private mutating func enter() throws(WireError) {
        depth += 1
        guard depth <= maximumDepth else {
            throw failure("nesting deeper than \(maximumDepth) levels")
        }
    }

    private mutating func parseObject() throws(WireError) -> JSON {
        try enter()
        defer { depth -= 1 }
        index += 1
        var members: [String: JSON] = [:]
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                throw failure("expected a string key")
            }
            let key = try parseString()
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else {
                throw failure("expected ':' after an object key")
            }
            index += 1
            skipWhitespace()
            members[key] = try parseValue()
            skipWhitespace()
            guard index < bytes.count else {
                throw failure("unterminated object")
            }
            switch bytes[index] {
            case UInt8(ascii: ","):
                index += 1
            case UInt8(ascii: "}"):
                index += 1
                return .object(members)
            default:
                throw failure("expected ',' or '}' in an object")
            }
        }
    }

    private mutating func parseArray() throws(WireError) -> JSON {
        try enter()
        defer { depth -= 1 }
        index += 1
        var elements: [JSON] = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try parseValue())
            skipWhitespace()
            guard index < bytes.count else {
                throw failure("unterminated array")
            }
            switch bytes[index] {
            case UInt8(ascii: ","):
                index += 1
            case UInt8(ascii: "]"):
                index += 1
                return .array(elements)
            default:
                throw failure("expected ',' or ']' in an array")
            }
        }
    }

    private func makeString(_ utf8: ArraySlice<UInt8>, at offset: Int) throws(WireError) -> String {
        guard let string = String(validating: utf8, as: UTF8.self) else {
            throw WireError(.malformedJSON, "string is not valid UTF-8", offset: offset)
        }
        return string
    }

    private mutating func parseString() throws(WireError) -> String {
        let opening = index
        index += 1
        let start = index
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let string = try makeString(bytes[start..<index], at: opening)
                index += 1
                return string
            }
            if byte == UInt8(ascii: "\\") {
                return try parseEscapedString(opening: opening, start: start)
            }
            if byte < 0x20 {
                throw failure("unescaped control character in a string")
            }
            index += 1
        }
        throw WireError(.malformedJSON, "unterminated string", offset: opening)
    }

    private mutating func parseEscapedString(opening: Int, start: Int) throws(WireError) -> String {
        var buffer = Array(bytes[start..<index])
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                return try makeString(buffer[...], at: opening)
            case UInt8(ascii: "\\"):
                index += 1
                guard index < bytes.count else {
                    throw failure("unterminated escape")
                }
                let escaped = bytes[index]
                index += 1
                switch escaped {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"):
                    buffer.append(escaped)
                case UInt8(ascii: "b"):
                    buffer.append(0x08)
                case UInt8(ascii: "f"):
                    buffer.append(0x0C)
                case UInt8(ascii: "n"):
                    buffer.append(0x0A)
                case UInt8(ascii: "r"):
                    buffer.append(0x0D)
                case UInt8(ascii: "t"):
                    buffer.append(0x09)
                case UInt8(ascii: "u"):
                    let scalar = try parseUnicodeEscape()
                    buffer.append(contentsOf: String(Character(scalar)).utf8)
                default:
                    index -= 1
                    throw failure("invalid escape sequence")
                }
            case 0..<0x20:
                throw failure("unescaped control character in a string")
            default:
                buffer.append(byte)
                index += 1
            }
        }
        throw WireError(.malformedJSON, "unterminated string", offset: opening)
    }

    private mutating func parseHex4() throws(WireError) -> UInt32 {
        guard index + 4 <= bytes.count else {
            throw failure("incomplete \\u escape")
        }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"):
                digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"):
                digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default:
                throw failure("invalid hex digit in a \\u escape")
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }

    private mutating func parseUnicodeEscape() throws(WireError) -> Unicode.Scalar {
        let first = try parseHex4()
        var value = first
        if (0xD800..<0xDC00).contains(first) {
            guard index + 2 <= bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
            else {
                throw failure("unpaired UTF-16 surrogate in a \\u escape")
            }
            index += 2
            let second = try parseHex4()
            guard (0xDC00..<0xE000).contains(second) else {
                throw failure("unpaired UTF-16 surrogate in a \\u escape")
            }
            value = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
        }
        guard let scalar = Unicode.Scalar(value) else {
            throw failure("unpaired UTF-16 surrogate in a \\u escape")
        }
        return scalar
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    private mutating func skipDigits() throws(WireError) {
        guard index < bytes.count, Self.isDigit(bytes[index]) else {
            throw failure("invalid number")
        }
        while index < bytes.count, Self.isDigit(bytes[index]) {
            index += 1
        }
    }

    private mutating func parseNumber() throws(WireError) -> Double {
        let start = index
        var negative = false
        if bytes[index] == UInt8(ascii: "-") {
            negative = true
            index += 1
        }
        let integerStart = index
        if index < bytes.count, bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else {
            try skipDigits()
        }
        var isInteger = true
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            try skipDigits()
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            isInteger = false
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                index += 1
            }
            try skipDigits()
        }
        if isInteger, index - integerStart <= 15 {
            var value: Int64 = 0
            for position in integerStart..<index {
                value = value * 10 + Int64(bytes[position] - UInt8(ascii: "0"))
            }
            return negative ? -Double(value) : Double(value)
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        guard let value = Double(text), value.isFinite || outOfRange == .infinite else {
            throw WireError(.malformedJSON, "number out of range", offset: start)
        }
        return value
    }
}
