/// A JSON value: the one value type of requests, responses, mapping configurations, filter patterns, record data
/// and handler responses (server, mapping and CLI).
///
/// Parsing JSON (``init(parsing:maximumDepth:outOfRange:)``, ``JSONParser``) produces `null`, `bool`, `number`, `string`,
/// `array` and `object`; decoding CBOR (see ``CBOR``) also `blob` (a byte string) and `epochMilliseconds` (a tag-1
/// timestamp). Values built for output may also use `integer`, `epochMilliseconds` (written in JSON as epoch seconds
/// with three decimals, never in exponent notation, as the AWS SDKs expect), `blob` (base64 in JSON), `fields`, an
/// object whose keys keep the order given, and `encoded`, bytes already in a wire format. Numbers are `Double`s
/// (integers up to 2^53 are exact). ``bytes`` writes `object` keys sorted, so output is deterministic.
package enum JSON: Sendable, Equatable {
    /// `null` (also CBOR's `undefined`).
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// A number, as parsed.
    case number(Double)
    /// A string.
    case string(String)
    /// An array.
    case array([JSON])
    /// An object (unordered; written with its keys sorted).
    case object([String: JSON])
    /// An integer, written without a fraction.
    case integer(Int)
    /// A timestamp: epoch seconds with three decimals in JSON, tag 1 around epoch milliseconds in CBOR.
    case epochMilliseconds(Int64)
    /// An object whose members are written in the order given.
    case fields([Field])
    /// Bytes: base64 text in JSON, a byte string in CBOR.
    case blob([UInt8])
    /// A value already encoded in a wire format, written as is in that format (converted in the other one): records
    /// written straight into the response bytes (the server's `RecordsEncoding`).
    case encoded(WireFormat, [UInt8])

    /// One member of an ordered object.
    package struct Field: Sendable, Equatable {
        /// The member name.
        package var key: String
        /// The member value.
        package var value: JSON

        /// Creates a member.
        package init(key: String, value: JSON) {
            self.key = key
            self.value = value
        }
    }

    /// An ordered object from `(key, value)` pairs, leaving out `nil` values.
    package static func fields(_ pairs: KeyValuePairs<String, JSON?>) -> JSON {
        .fields(pairs.compactMap { key, value in value.map { Field(key: key, value: $0) } })
    }

    /// Parses one JSON document (RFC 8259; surrounding whitespace allowed, nothing else).
    /// - Parameters:
    ///   - bytes: UTF-8 JSON text.
    ///   - maximumDepth: the deepest nesting of arrays and objects accepted.
    ///   - outOfRange: what a number too large for a `Double` (such as `1e400`) becomes.
    /// - Throws: ``WireError/Code/malformedJSON`` naming the problem and its byte offset.
    package init(
        parsing bytes: [UInt8], maximumDepth: Int = JSONParser.defaultMaximumDepth,
        outOfRange: JSONParser.OutOfRangeNumbers = .rejected
    ) throws(WireError) {
        var parser = JSONParser(bytes, maximumDepth: maximumDepth, outOfRange: outOfRange)
        self = try parser.parseDocument()
    }

    /// Parses one JSON document from a string.
    /// - Throws: ``WireError/Code/malformedJSON`` naming the problem and its byte offset.
    package init(parsing text: String) throws(WireError) {
        try self.init(parsing: Array(text.utf8))
    }

    /// The member named `key` if this is an object (`object` or `fields`).
    package subscript(key: String) -> JSON? {
        switch self {
        case .object(let members): members[key]
        case .fields(let fields): fields.first { $0.key == key }?.value
        default: nil
        }
    }

    /// The text if this is a string.
    package var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    /// The number if this is one (an integer, or a number with an integral value within `Int`'s range).
    package var intValue: Int? {
        switch self {
        case .integer(let value): value
        case .number(let value): Int(exactly: value)
        default: nil
        }
    }

    /// The number if this is one.
    package var doubleValue: Double? {
        switch self {
        case .integer(let value): Double(value)
        case .number(let value): value
        default: nil
        }
    }

    /// The elements if this is an array.
    package var arrayValue: [JSON]? {
        if case .array(let items) = self { return items }
        return nil
    }

    /// The compact JSON text of this value, `object` keys sorted.
    package var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(to: &out)
        return out
    }

    /// Appends the compact JSON text of this value, `object` keys sorted.
    package func write(to out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .integer(let i): out.appendDecimal(i)
        case .number(let d): out.appendJSONNumber(d)
        case .epochMilliseconds(let ms): JSONTimestamp.appendEpochSeconds(milliseconds: ms, to: &out)
        case .string(let s): out.appendJSONString(s)
        case .blob(let b):
            out.append(UInt8(ascii: "\""))
            out.appendBase64(b)
            out.append(UInt8(ascii: "\""))
        case .encoded(let format, let bytes):
            if format == .json {
                out.append(contentsOf: bytes)
            } else {
                // Not expected (values are encoded in the format of the request they answer); converted, not lost.
                ((try? CBOR.decode(bytes)) ?? .null).write(to: &out)
            }
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                item.write(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (i, key) in members.keys.sorted().enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                out.appendJSONString(key)
                out.append(UInt8(ascii: ":"))
                members[key]?.write(to: &out)
            }
            out.append(UInt8(ascii: "}"))
        case .fields(let fields):
            out.append(UInt8(ascii: "{"))
            for (i, field) in fields.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                out.appendJSONString(field.key)
                out.append(UInt8(ascii: ":"))
                field.value.write(to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// The JSON text of this value indented by two spaces per level, `object` keys sorted (`fields` in their
    /// order), for files and terminal output that people read.
    package var prettyBytes: [UInt8] {
        var out: [UInt8] = []
        writePretty(to: &out, indent: 0)
        return out
    }

    private func writePretty(to out: inout [UInt8], indent: Int) {
        func newline(_ level: Int) {
            out.append(10)
            out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: 2 * level))
        }
        let members: [Field]
        switch self {
        case .array(let items) where !items.isEmpty:
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(indent + 1)
                item.writePretty(to: &out, indent: indent + 1)
            }
            newline(indent)
            out.append(UInt8(ascii: "]"))
            return
        case .object(let dictionary) where !dictionary.isEmpty:
            members = dictionary.keys.sorted().map { Field(key: $0, value: dictionary[$0] ?? .null) }
        case .fields(let fields) where !fields.isEmpty:
            members = fields
        case .encoded(.cbor, let bytes):
            ((try? CBOR.decode(bytes)) ?? .null).writePretty(to: &out, indent: indent)
            return
        default:
            write(to: &out)
            return
        }
        out.append(UInt8(ascii: "{"))
        for (i, member) in members.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            newline(indent + 1)
            out.appendJSONString(member.key)
            out.append(contentsOf: ": ".utf8)
            member.value.writePretty(to: &out, indent: indent + 1)
        }
        newline(indent)
        out.append(UInt8(ascii: "}"))
    }

    /// `1721900000.123` for 1721900000123 ms: plain decimal, three fraction digits.
    package static func epochSecondsText(_ ms: Int64) -> String {
        var out: [UInt8] = []
        JSONTimestamp.appendEpochSeconds(milliseconds: ms, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends `s` as a quoted JSON string (``Swift/Array/appendJSONString(_:)``).
    package static func writeString(_ s: String, to out: inout [UInt8]) {
        out.appendJSONString(s)
    }

    /// A short name of the value's type, for error messages.
    package var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .number, .integer, .epochMilliseconds: "number"
        case .string: "string"
        case .blob: "blob"
        case .array: "list"
        case .object, .fields, .encoded: "structure"
        }
    }
}
