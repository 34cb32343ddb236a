import Foundation
import ShardLogWire
import Synchronization

/// A shape of botocore's Kinesis service model: a type and its constraints. The table of every shape an operation's
/// input reaches is generated into `KinesisShapes.swift` by `scripts/gen_kinesis_shapes.py`.
struct ModelShape: Sendable {
    /// The model's shape types.
    enum Kind: Sendable {
        case string, integer, long, boolean, blob, timestamp, list, map, structure
    }

    /// A structure member: its wire name and the name of its shape.
    struct Member: Sendable {
        /// The member's name as sent (`StreamName`).
        let name: String
        /// The name of the member's shape.
        let shape: String
        /// The name in AWS's member paths (`streamName`).
        let pathName: String
    }

    let kind: Kind
    /// Least length (strings: UTF-16 units, blobs: bytes, lists and maps: entries) or value (numbers).
    let min: Int64?
    /// Greatest length or value, as ``min``.
    let max: Int64?
    /// A regular expression the whole string must match.
    let pattern: String?
    /// The values a string may take, when the model lists them.
    let enumValues: [String]
    /// The members of a structure, in the model's order.
    let members: [Member]
    /// The members a structure must have.
    let required: [String]
    /// The shape of a list's members or of a map's values.
    let element: String?
    /// The shape of a map's keys.
    let key: String?

    /// Creates a shape (called by the generated table).
    init(
        _ kind: Kind, min: Int64? = nil, max: Int64? = nil, pattern: String? = nil, enumValues: [String] = [],
        members: [(String, String)] = [], required: [String] = [], element: String? = nil, key: String? = nil
    ) {
        self.kind = kind
        self.min = min
        self.max = max
        self.pattern = pattern
        self.enumValues = enumValues
        self.members = members.map {
            Member(name: $0.0, shape: $0.1, pathName: RequestValidator.lowerFirst($0.0))
        }
        self.required = required
        self.element = element
        self.key = key
    }
}

/// Checks a request against its operation's input shape before anything else happens, as AWS does: a member of the
/// wrong JSON type is a `SerializationException` (AWS's Coral texts, e.g. `class java.math.BigDecimal can not be
/// converted to an String`); every broken constraint is collected into one `ValidationException` in AWS's form
/// (`2 validation errors detected: Value '?' at 'shardToSplit' failed to satisfy constraint: …; …`), with member
/// paths lower-camel and list entries 1-based (`records.1.member.data`). Members the model does not know are ignored,
/// as AWS ignores them; `null` counts as absent.
struct RequestValidator {
    /// AWS reports at most this many violations in one message.
    static let maxReported = 10

    private var violations: [String] = []

    /// Validates the body of `operation`; operations missing from the model are not checked.
    /// - Throws: `SerializationException` for the first member of the wrong JSON type or undecodable base64,
    ///   `ValidationException` listing every broken constraint.
    /// - Parameter skipping: members already checked against the model elsewhere (a `PutRecords` body's `Records`
    ///   read by ``PutRecordsBody``, which accepts only values that satisfy every constraint).
    static func validate(operation: String, members: [String: JSON], skipping: String? = nil) throws(KinesisError) {
        guard let inputName = ModelShape.operationInputs[operation], let input = ModelShape.all[inputName] else {
            return
        }
        var validator = RequestValidator()
        try validator.checkStructure(members, input, prefix: { "" }, skipping: skipping)
        let found = validator.violations
        guard !found.isEmpty else { return }
        let reported = found.prefix(maxReported)
        throw KinesisError(
            .validation,
            "\(reported.count) validation error\(reported.count == 1 ? "" : "s") detected: "
                + reported.joined(separator: "; "))
    }

    /// `StreamName` → `streamName`.
    static func lowerFirst(_ name: String) -> String {
        name.prefix(1).lowercased() + name.dropFirst()
    }

    private static func serialization(_ message: String) -> KinesisError {
        KinesisError(.serialization, message)
    }

    /// Member paths are passed as closures and built only for a violation: a valid request builds none.
    private mutating func violation(_ value: String?, _ path: () -> String, _ constraint: String) {
        let shown = value.map { "'\($0)'" } ?? "null"
        violations.append("Value \(shown) at '\(path())' failed to satisfy constraint: \(constraint)")
    }

    private mutating func checkStructure(
        _ object: [String: JSON], _ shape: ModelShape, prefix: () -> String, skipping: String? = nil
    ) throws(KinesisError) {
        for member in shape.members where member.name != skipping {
            func path() -> String { prefix() + member.pathName }
            guard let value = object[member.name], value != .null else {
                if shape.required.contains(member.name) { violation(nil, path, "Member must not be null") }
                continue
            }
            try check(value, shapeNamed: member.shape, path: path)
        }
    }

    private mutating func check(_ value: JSON, shapeNamed name: String, path: () -> String) throws(KinesisError) {
        guard let shape = ModelShape.all[name] else { return }
        switch shape.kind {
        case .structure:
            switch value {
            case .object(let members): try checkStructure(members, shape, prefix: { path() + "." })
            case .array: throw Self.serialization("Start of list found where not expected")
            default: throw Self.serialization("Expected null")
            }
        case .list:
            let items: [JSON]
            switch value {
            case .array(let a): items = a
            case .object: throw Self.serialization("Start of structure or map found where not expected.")
            default: throw Self.serialization("Expected list or null")
            }
            checkCount(items.count, shape, value: value, path: path)
            guard let elementName = shape.element, let element = ModelShape.all[elementName] else { return }
            if element.kind == .structure {
                for (i, item) in items.enumerated() where item != .null {
                    try check(item, shapeNamed: elementName, path: { "\(path()).\(i + 1).member" })
                }
            } else {
                var broken = false
                for item in items where item != .null {
                    broken = try !scalarConstraints(item, element).isEmpty || broken
                }
                if broken {
                    violation(Self.shown(value), path, "Member must satisfy constraint: [\(Self.describe(element))]")
                }
            }
        case .map:
            let entries: [String: JSON]
            switch value {
            case .object(let o): entries = o
            case .array: throw Self.serialization("Start of list found where not expected")
            default: throw Self.serialization("Expected map or null")
            }
            let sortedKeys = entries.keys.sorted()
            checkCount(entries.count, shape, value: value, path: path)
            if let keyName = shape.key, let keyShape = ModelShape.all[keyName] {
                var broken = false
                for k in sortedKeys { broken = try !scalarConstraints(.string(k), keyShape).isEmpty || broken }
                if broken {
                    violation(
                        Self.shown(value), path, "Map keys must satisfy constraint: [\(Self.describe(keyShape))]")
                }
            }
            if let valueName = shape.element, let valueShape = ModelShape.all[valueName] {
                var broken = false
                for k in sortedKeys where entries[k] != .null {
                    broken = try !scalarConstraints(entries[k] ?? .null, valueShape).isEmpty || broken
                }
                if broken {
                    violation(
                        Self.shown(value), path, "Map value must satisfy constraint: [\(Self.describe(valueShape))]")
                }
            }
        default:
            let broken = try scalarConstraints(value, shape)
            if !broken.isEmpty {
                let shown = Self.shown(value, shape)
                for constraint in broken { violation(shown, path, constraint) }
            }
        }
    }

    /// Checks the entry count of a list or map (`value`, printed only when it breaks a bound).
    private mutating func checkCount(_ count: Int, _ shape: ModelShape, value: JSON, path: () -> String) {
        if let min = shape.min, count < min {
            violation(Self.shown(value), path, "Member must have length greater than or equal to \(min)")
        }
        if let max = shape.max, count > max {
            violation(Self.shown(value), path, "Member must have length less than or equal to \(max)")
        }
    }

    /// The constraints a scalar value breaks (after its JSON type has been checked), in AWS's order: enum,
    /// pattern, least length, greatest length; least and greatest value for numbers.
    private mutating func scalarConstraints(_ raw: JSON, _ shape: ModelShape) throws(KinesisError) -> [String] {
        var broken: [String] = []
        let value: JSON
        switch raw {
        case .integer(let i): value = .number(Double(i))
        case .epochMilliseconds(let ms): value = .number(Double(ms) / 1000)
        case .fields: value = .object([:])
        default: value = raw
        }
        switch shape.kind {
        case .string:
            let s: String
            switch value {
            case .string(let text): s = text
            case .bool: throw Self.serialization("class java.lang.Boolean can not be converted to an String")
            case .number: throw Self.serialization("class java.math.BigDecimal can not be converted to an String")
            case .array: throw Self.serialization("Start of list found where not expected")
            default: throw Self.serialization("Start of structure or map found where not expected.")
            }
            if !shape.enumValues.isEmpty, !shape.enumValues.contains(s) {
                broken.append("Member must satisfy enum value set: [\(shape.enumValues.joined(separator: ", "))]")
            }
            if let pattern = shape.pattern, !matches(s, pattern) {
                broken.append("Member must satisfy regular expression pattern: \(pattern)")
            }
            if shape.min != nil || shape.max != nil {
                // UTF-16 units, as Java counts; ASCII (every hot string) is one per byte.
                let utf8 = s.utf8.count
                let units = s.utf8.allSatisfy { $0 < 0x80 } ? utf8 : s.utf16.count
                broken += Self.lengthConstraints(Int64(units), shape)
            }
        case .blob:
            let text: String
            switch value {
            case .string(let t): text = t
            case .blob(let bytes):  // a CBOR byte string
                return broken + Self.lengthConstraints(Int64(bytes.count), shape)
            case .bool: throw Self.serialization("class java.lang.Boolean can not be converted to a Blob")
            case .number: throw Self.serialization("class java.math.BigDecimal can not be converted to a Blob")
            case .array: throw Self.serialization("Start of list found where not expected")
            default: throw Self.serialization("Start of structure or map found where not expected.")
            }
            broken += Self.lengthConstraints(Int64(try Self.blobLength(text)), shape)
        case .integer, .long:
            let typeName = shape.kind == .integer ? "Integer" : "Long"
            let n: Double
            switch value {
            case .number(let d): n = d
            case .bool: throw Self.serialization("class java.lang.Boolean can not be converted to an \(typeName)")
            case .string: throw Self.serialization("class java.lang.String can not be converted to an \(typeName)")
            case .array: throw Self.serialization("Start of list found where not expected")
            default: throw Self.serialization("Start of structure or map found where not expected.")
            }
            if let min = shape.min, n < Double(min) {
                broken.append("Member must have value greater than or equal to \(min)")
            }
            if let max = shape.max, n > Double(max) {
                broken.append("Member must have value less than or equal to \(max)")
            }
        case .boolean:
            switch value {
            case .bool: break
            case .number: throw Self.serialization("class java.math.BigDecimal can not be converted to an Boolean")
            case .string(let s): throw Self.serialization("'\(s.uppercased())' can not be converted to an Boolean")
            case .array: throw Self.serialization("Start of list found where not expected")
            default: throw Self.serialization("Start of structure or map found where not expected.")
            }
        case .timestamp:
            switch value {
            case .number, .string: break
            case .bool: throw Self.serialization("class java.lang.Boolean can not be converted to a Timestamp")
            case .array: throw Self.serialization("Start of list found where not expected")
            default: throw Self.serialization("Start of structure or map found where not expected.")
            }
        case .list, .map, .structure:
            break
        }
        return broken
    }

    private static func lengthConstraints(_ length: Int64, _ shape: ModelShape) -> [String] {
        var broken: [String] = []
        if let min = shape.min, length < min {
            broken.append("Member must have length greater than or equal to \(min)")
        }
        if let max = shape.max, length > max {
            broken.append("Member must have length less than or equal to \(max)")
        }
        return broken
    }

    /// The constraints of a list member, map key or map value, as AWS lists them inside `[…]`.
    private static func describe(_ shape: ModelShape) -> String {
        var parts: [String] = []
        if let max = shape.max { parts.append("Member must have length less than or equal to \(max)") }
        if let min = shape.min { parts.append("Member must have length greater than or equal to \(min)") }
        if let pattern = shape.pattern { parts.append("Member must satisfy regular expression pattern: \(pattern)") }
        if !shape.enumValues.isEmpty {
            parts.append("Member must satisfy enum value set: [\(shape.enumValues.joined(separator: ", "))]")
        }
        return parts.joined(separator: ", ")
    }

    private func matches(_ s: String, _ pattern: String) -> Bool {
        PatternMatcher.matches(s, pattern)
    }

    /// The decoded length of a base64 blob, or AWS's `SerializationException` text for text that is not base64.
    static func blobLength(_ text: String) throws(KinesisError) -> Int {
        let bytes = text.utf8.span
        let count = bytes.count
        guard count % 4 == 0 else {
            throw serialization(
                "'\(text)' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4 bytes"
                    + " but found: \(count)")
        }
        guard count > 0 else { return 0 }
        let pad = UInt8(ascii: "=")
        let endsWithPad = bytes[count - 1] == pad
        for i in 0..<count {
            let b = bytes[i]
            let ok: Bool
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "/"):
                ok = true
            case pad:
                ok = i == count - 1 || (i == count - 2 && endsWithPad)
            default:
                ok = false
            }
            guard ok else {
                throw serialization(
                    "'\(text)' can not be converted to a Blob: Invalid Base64 character: '\(Character(Unicode.Scalar(b)))'"
                )
            }
        }
        // The length from the text alone: the handler decodes the blob once, later.
        return count / 4 * 3 - (endsWithPad ? (bytes[count - 2] == pad ? 2 : 1) : 0)
    }

    /// A value as AWS prints it in a violation (strings bare, lists `[a, b]`, maps `{k=v}`).
    private static func shown(_ value: JSON) -> String {
        switch value {
        case .string(let s): return s
        case .null: return "null"
        case .array(let a): return "[" + a.map(shown).joined(separator: ", ") + "]"
        case .object(let o):
            return "{" + o.keys.sorted().map { "\($0)=\(shown(o[$0] ?? .null))" }.joined(separator: ", ") + "}"
        default: return String(decoding: value.bytes, as: UTF8.self)
        }
    }

    /// A scalar as AWS prints it; blobs as the `ByteBuffer` Java shows.
    private static func shown(_ value: JSON, _ shape: ModelShape) -> String {
        if shape.kind == .blob, case .string(let s) = value, let n = try? blobLength(s) {
            return "java.nio.HeapByteBuffer[pos=0 lim=\(n) cap=\(n)]"
        }
        if shape.kind == .blob, case .blob(let bytes) = value {
            return "java.nio.HeapByteBuffer[pos=0 lim=\(bytes.count) cap=\(bytes.count)]"
        }
        return shown(value)
    }
}

/// Whole-string matching of the model's patterns. The hot ones (names, hash keys, sequence numbers, stream ids) are
/// matched by hand: compiling a Swift `Regex` costs about 130 µs and a match about 5 µs, more than the rest of a
/// PutRecord. The others (ARNs) use `Regex`, compiled once and used under a lock (`Regex` is not `Sendable`).
enum PatternMatcher {
    private static let compiled = Mutex<[String: Regex<AnyRegexOutput>]>([:])

    /// Whether all of `s` matches `pattern` (a Java-style pattern from the model).
    static func matches(_ s: String, _ pattern: String) -> Bool {
        switch pattern {
        case "[a-zA-Z0-9_.-]+":
            return !s.isEmpty && s.utf8.allSatisfy(isNameByte)
        case "0|([1-9]\\d{0,38})":
            return isDecimal(s, maxDigits: 39)
        case "0|([1-9]\\d{0,128})":
            return isDecimal(s, maxDigits: 129)
        case "[a-z0-9]{20}-[a-z0-9]{3}":
            let b = Array(s.utf8)
            return b.count == 24 && b[20] == UInt8(ascii: "-")
                && b.enumerated().allSatisfy { $0.offset == 20 || isLowerAlphanumeric($0.element) }
        default:
            return compiled.withLock { cache -> Bool in
                let regex: Regex<AnyRegexOutput>
                if let r = cache[pattern] {
                    regex = r
                } else {
                    guard let r = try? Regex(pattern) else { return true }
                    cache[pattern] = r
                    regex = r
                }
                return (try? regex.wholeMatch(in: s)) != nil
            }
        }
    }

    private static func isNameByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }

    private static func isLowerAlphanumeric(_ b: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(b) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b)
    }

    /// `0`, or 1 to `maxDigits` decimal digits without a leading zero.
    private static func isDecimal(_ s: String, maxDigits: Int) -> Bool {
        let b = s.utf8
        guard let first = b.first, b.count <= maxDigits else { return false }
        if first == UInt8(ascii: "0") { return b.count == 1 }
        return b.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }
}
