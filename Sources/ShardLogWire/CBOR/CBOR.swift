/// CBOR (RFC 8949) as AWS's SDKs speak it to Kinesis: maps with text keys, blobs as byte strings (major type 2),
/// timestamps as tag 1 around an integer of epoch **milliseconds** (what the AWS SDK for Java v1 and v2 write and
/// read, although RFC 8949 says seconds).
///
/// Decoding produces the ``JSON`` value the JSON parser would: integers and floats become `number`, byte strings
/// `blob`, tag 1 `epochMilliseconds`, other tags their content (as Jackson, which AWS's SDKs use, ignores them),
/// `undefined` becomes `null`. A hostile body gets a ``WireError`` (the server's `SerializationException`), never a
/// crash or a large allocation:
/// nesting is limited to ``maxDepth``, and every declared length or count is checked against the bytes that remain
/// before anything is reserved.
package enum CBOR {
    /// The deepest nesting of arrays, maps and tags accepted (the server's limit for JSON request bodies too).
    package static let maxDepth = 64

    /// The timestamps tag 1 may hold: years 1 to 9999, in epoch milliseconds (as the server accepts JSON timestamps).
    package static let timestampMilliseconds: ClosedRange<Double> = -62_135_596_800_000...253_402_300_799_999

    /// Decodes one CBOR data item that spans all of `bytes`.
    /// - Throws: ``WireError/Code/malformedCBOR`` naming the problem and its byte offset.
    package static func decode(_ bytes: [UInt8]) throws(WireError) -> JSON {
        var decoder = CBORDecoder(bytes: bytes)
        let value = try decoder.item()
        guard decoder.index == bytes.count else {
            throw decoder.fail("\(bytes.count - decoder.index) unexpected bytes after the data item")
        }
        return value
    }

    /// `value` as CBOR.
    package static func encode(_ value: JSON) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(value, to: &out)
        return out
    }

    /// Appends `value` as CBOR: integers (and integral numbers below 2^53) as major types 0/1, other numbers as
    /// doubles, timestamps as tag 1 with epoch milliseconds, objects as maps (keys sorted, or in the given order for
    /// `fields`), blobs as byte strings.
    package static func write(_ value: JSON, to out: inout [UInt8]) {
        switch value {
        case .null: out.append(0xF6)
        case .bool(let b): out.append(b ? 0xF5 : 0xF4)
        case .integer(let i): writeInteger(Int64(i), to: &out)
        case .number(let d):
            if d.isFinite, d == d.rounded(), abs(d) < 9_007_199_254_740_992 {
                writeInteger(Int64(d), to: &out)
            } else {
                writeDouble(d, to: &out)
            }
        case .epochMilliseconds(let ms):
            out.append(0xC1)
            writeInteger(ms, to: &out)
        case .string(let s): writeText(s, to: &out)
        case .blob(let b): writeBytes(b, to: &out)
        case .encoded(let format, let bytes):
            if format == .cbor {
                out.append(contentsOf: bytes)
            } else {
                // Not expected (values are encoded in the format of the request they answer); converted, not lost.
                write((try? JSON(parsing: bytes)) ?? .null, to: &out)
            }
        case .array(let items):
            writeHead(major: 4, items.count, to: &out)
            for item in items { write(item, to: &out) }
        case .object(let members):
            writeHead(major: 5, members.count, to: &out)
            for key in members.keys.sorted() {
                writeText(key, to: &out)
                write(members[key] ?? .null, to: &out)
            }
        case .fields(let fields):
            writeHead(major: 5, fields.count, to: &out)
            for field in fields {
                writeText(field.key, to: &out)
                write(field.value, to: &out)
            }
        }
    }

    /// Appends the head of a data item: the major type and its argument in the shortest form.
    package static func writeHead(major: UInt8, _ argument: UInt64, to out: inout [UInt8]) {
        let m = major << 5
        switch argument {
        case 0..<24:
            out.append(m | UInt8(argument))
        case 24...0xFF:
            out.append(m | 24)
            out.append(UInt8(argument))
        case 0x100...0xFFFF:
            out.append(m | 25)
            out.append(UInt8(argument >> 8))
            out.append(UInt8(argument & 0xFF))
        case 0x1_0000...0xFFFF_FFFF:
            out.append(m | 26)
            for shift in stride(from: 24, through: 0, by: -8) { out.append(UInt8((argument >> UInt64(shift)) & 0xFF)) }
        default:
            out.append(m | 27)
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8((argument >> UInt64(shift)) & 0xFF)) }
        }
    }

    /// ``writeHead(major:_:to:)`` for a count.
    package static func writeHead(major: UInt8, _ count: Int, to out: inout [UInt8]) {
        writeHead(major: major, UInt64(count), to: &out)
    }

    /// Appends an integer: major type 0 for `i ≥ 0`, major type 1 (`-1 - n`) below.
    package static func writeInteger(_ i: Int64, to out: inout [UInt8]) {
        if i >= 0 {
            writeHead(major: 0, UInt64(i), to: &out)
        } else {
            writeHead(major: 1, UInt64(-1 - i), to: &out)
        }
    }

    /// Appends a double (major type 7, additional information 27).
    package static func writeDouble(_ d: Double, to out: inout [UInt8]) {
        out.append(0xFB)
        let bits = d.bitPattern
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8((bits >> UInt64(shift)) & 0xFF)) }
    }

    /// Appends a text string (major type 3).
    package static func writeText(_ s: String, to out: inout [UInt8]) {
        var s = s
        s.withUTF8 { utf8 in
            writeHead(major: 3, utf8.count, to: &out)
            out.append(contentsOf: utf8)
        }
    }

    /// Appends a byte string (major type 2).
    package static func writeBytes(_ b: [UInt8], to out: inout [UInt8]) {
        writeHead(major: 2, b.count, to: &out)
        out.append(contentsOf: b)
    }
}

/// The decoding half of ``CBOR``: a cursor over the body.
struct CBORDecoder {
    let bytes: [UInt8]
    var index = 0
    var depth = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    /// A `SerializationException` for the item at the cursor.
    func fail(_ reason: String) -> WireError {
        WireError(.malformedCBOR, reason, offset: index)
    }

    private var remaining: Int { bytes.count - index }

    private mutating func byte() throws(WireError) -> UInt8 {
        guard index < bytes.count else { throw fail("unexpected end of input") }
        defer { index += 1 }
        return bytes[index]
    }

    /// A big-endian unsigned integer of `count` bytes.
    private mutating func uint(_ count: Int) throws(WireError) -> UInt64 {
        guard remaining >= count else { throw fail("unexpected end of input") }
        var v: UInt64 = 0
        for i in 0..<count { v = v << 8 | UInt64(bytes[index + i]) }
        index += count
        return v
    }

    /// The argument of a head with additional information `info` (`nil` for 31, an indefinite length).
    private mutating func argument(_ info: UInt8) throws(WireError) -> UInt64? {
        switch info {
        case 0..<24: return UInt64(info)
        case 24: return try uint(1)
        case 25: return try uint(2)
        case 26: return try uint(4)
        case 27: return try uint(8)
        case 31: return nil
        default: throw fail("reserved additional information \(info)")
        }
    }

    /// A definite length that the remaining input can hold (at least `unit` bytes per `noun`).
    private func length(_ n: UInt64, unit: Int, what: String, noun: String = "bytes") throws(WireError) -> Int {
        guard n <= UInt64(remaining / unit) else {
            throw fail("\(what) declares \(n) \(noun) but only \(remaining) bytes remain")
        }
        return Int(n)
    }

    /// Reads one data item.
    mutating func item() throws(WireError) -> JSON {
        let start = index
        let initial = try byte()
        let major = initial >> 5
        let info = initial & 0x1F
        switch major {
        case 0:
            guard let n = try argument(info) else { throw fail("indefinite length on an integer") }
            return .number(Double(n))
        case 1:
            guard let n = try argument(info) else { throw fail("indefinite length on an integer") }
            return .number(-1 - Double(n))
        case 2:
            return .blob(try string(major: 2, info: info))
        case 3:
            let utf8 = try string(major: 3, info: info)
            guard let text = String(validating: utf8, as: UTF8.self) else {
                index = start
                throw fail("text string is not valid UTF-8")
            }
            return .string(text)
        case 4:
            return .array(try nested { (d: inout CBORDecoder) throws(WireError) in try d.array(info) })
        case 5:
            return .object(try nested { (d: inout CBORDecoder) throws(WireError) in try d.map(info) })
        case 6:
            guard let tag = try argument(info) else { throw fail("indefinite length on a tag") }
            let content = try nested { (d: inout CBORDecoder) throws(WireError) in try d.item() }
            guard tag == 1 else { return content }
            return try timestamp(content, at: start)
        default:
            return try simple(info)
        }
    }

    /// Runs `body` one nesting level deeper.
    private mutating func nested<T>(_ body: (inout CBORDecoder) throws(WireError) -> T) throws(WireError) -> T {
        depth += 1
        defer { depth -= 1 }
        guard depth <= CBOR.maxDepth else { throw fail("nesting deeper than \(CBOR.maxDepth) levels") }
        return try body(&self)
    }

    /// Tag 1: epoch milliseconds (an integer or a float), as the AWS SDKs for Java write timestamps.
    private func timestamp(_ content: JSON, at start: Int) throws(WireError) -> JSON {
        guard case .number(let ms) = content else {
            throw WireError(
                .malformedCBOR,
                "a timestamp (tag 1) must hold a number of epoch milliseconds, not a \(content.typeName),",
                offset: start)
        }
        guard ms.isFinite, CBOR.timestampMilliseconds.contains(ms) else {
            throw WireError(.malformedCBOR, "timestamp (tag 1) \(ms) ms is outside years 1 to 9999", offset: start)
        }
        return .epochMilliseconds(Int64(ms.rounded(.down)))
    }

    /// Major type 7: false, true, null, undefined and floats.
    private mutating func simple(_ info: UInt8) throws(WireError) -> JSON {
        switch info {
        case 20: return .bool(false)
        case 21: return .bool(true)
        case 22, 23: return .null
        case 25: return .number(Self.ieee(try uint(2), exponentBits: 5, fractionBits: 10))
        case 26: return .number(Double(Float(bitPattern: UInt32(try uint(4)))))
        case 27: return .number(Double(bitPattern: try uint(8)))
        case 31: throw fail("unexpected break outside an indefinite-length item")
        default: throw fail("unsupported simple value \(info)")
        }
    }

    /// A half-precision (or any IEEE 754) float from its bits.
    static func ieee(_ bits: UInt64, exponentBits: Int, fractionBits: Int) -> Double {
        let sign: FloatingPointSign = (bits >> UInt64(exponentBits + fractionBits)) & 1 == 1 ? .minus : .plus
        let exponentMask = UInt64(1) << UInt64(exponentBits) - 1
        let exponent = Int((bits >> UInt64(fractionBits)) & exponentMask)
        let fraction = bits & (UInt64(1) << UInt64(fractionBits) - 1)
        let bias = (1 << (exponentBits - 1)) - 1
        if exponent == Int(exponentMask) {
            guard fraction == 0 else { return .nan }
            return sign == .minus ? -.infinity : .infinity
        }
        if exponent == 0 {
            return Double(sign: sign, exponent: 1 - bias - fractionBits, significand: Double(fraction))
        }
        return Double(
            sign: sign, exponent: exponent - bias - fractionBits,
            significand: Double(fraction | UInt64(1) << UInt64(fractionBits)))
    }

    /// The bytes of a byte or text string; an indefinite one is the concatenation of its definite chunks of the
    /// same major type.
    private mutating func string(major: UInt8, info: UInt8) throws(WireError) -> [UInt8] {
        let what = major == 2 ? "byte string" : "text string"
        if let n = try argument(info) {
            let count = try length(n, unit: 1, what: what)
            defer { index += count }
            return Array(bytes[index..<index + count])
        }
        var out: [UInt8] = []
        while true {
            let head = try byte()
            if head == 0xFF { return out }
            guard head >> 5 == major, let n = try argument(head & 0x1F) else {
                index -= 1
                throw fail("a chunk of an indefinite-length \(what) must be a definite \(what)")
            }
            let count = try length(n, unit: 1, what: what)
            out.append(contentsOf: bytes[index..<index + count])
            index += count
        }
    }

    private mutating func array(_ info: UInt8) throws(WireError) -> [JSON] {
        var items: [JSON] = []
        if let n = try argument(info) {
            let count = try length(n, unit: 1, what: "array", noun: "entries")
            items.reserveCapacity(count)
            for _ in 0..<count { items.append(try item()) }
            return items
        }
        while true {
            guard index < bytes.count else { throw fail("unterminated indefinite-length array") }
            if bytes[index] == 0xFF {
                index += 1
                return items
            }
            items.append(try item())
        }
    }

    private mutating func map(_ info: UInt8) throws(WireError) -> [String: JSON] {
        var members: [String: JSON] = [:]
        if let n = try argument(info) {
            let count = try length(n, unit: 2, what: "map", noun: "entries")
            members.reserveCapacity(count)
            for _ in 0..<count { try entry(into: &members) }
            return members
        }
        while true {
            guard index < bytes.count else { throw fail("unterminated indefinite-length map") }
            if bytes[index] == 0xFF {
                index += 1
                return members
            }
            try entry(into: &members)
        }
    }

    /// One key (a text string, as a JSON member name) and its value.
    private mutating func entry(into members: inout [String: JSON]) throws(WireError) {
        let start = index
        guard case .string(let key) = try item() else {
            index = start
            throw fail("a map key must be a text string")
        }
        members[key] = try item()
    }
}
