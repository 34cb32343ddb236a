import ShardLogWire
/// One compiled filter pattern: the EventBridge subset that Lambda event filtering supports.
///
/// A pattern is a JSON object. Its keys name fields of the event; each value is either a nested pattern object or a
/// non-empty array of match values, which are OR'ed; keys are AND'ed. Match values:
///
/// | form | matches |
/// |---|---|
/// | `"s"`, `5`, `true`, `null` | a leaf equal to it (numbers compare numerically; `null` only an explicit null) |
/// | `{"prefix":"s"}`, `{"suffix":"s"}` | a string leaf starting or ending with `s` |
/// | `{"equals-ignore-case":"s"}` | a string leaf equal to `s` ignoring case |
/// | `{"exists":true}` / `{"exists":false}` | a field with / without a leaf value (objects are not leaves) |
/// | `{"anything-but":…}` | a leaf not equal to the string, number or list given |
/// | `{"anything-but":{"prefix":"s"}}` | a string leaf without that prefix (also `suffix`, `equals-ignore-case`) |
/// | `{"numeric":["=",n]}`, `{"numeric":[">",a,"<=",b]}` | a number leaf in the range (`=`, `<`, `<=`, `>`, `>=`) |
///
/// `"$or": [{…},{…}]` (two or more patterns) at any level matches when one of them does. Array values in the
/// event match when one element does; a nested pattern matches an array of objects when one element matches it.
struct FilterPattern: Sendable {
    /// The compiled pattern.
    let root: ObjectPattern

    /// Parses and checks a pattern.
    /// - Parameter text: The pattern's JSON text.
    /// - Throws: ``FilterPatternError`` naming the problem and where it is.
    init(parsing text: String) throws(FilterPatternError) {
        let value: JSON
        do {
            value = try JSON(parsing: text)
        } catch {
            throw FilterPatternError(reason: "the pattern is not valid JSON (\(error))")
        }
        guard case .object(let members) = value else {
            throw FilterPatternError(
                reason: #"the pattern must be a JSON object, such as {"data":{"type":["buy"]}}"#
            )
        }
        root = try ObjectPattern(parsing: members, path: [])
    }

    /// Whether the pattern names `key` at its top level (directly or inside a top-level `$or`).
    func referencesTopLevelKey(_ key: String) -> Bool {
        root.references(key)
    }

    /// Whether `event` matches the pattern.
    func matches(_ event: [String: JSON]) -> Bool {
        root.matches(event)
    }
}

/// Why a filter pattern is invalid.
struct FilterPatternError: Error, Equatable, CustomStringConvertible {
    var reason: String

    var description: String {
        reason
    }
}

/// A pattern object: all fields must match, and one pattern of each `$or` group.
struct ObjectPattern: Sendable {
    var fields: [FieldPattern]
    var alternatives: [[ObjectPattern]]

    init(parsing members: [String: JSON], path: [String]) throws(FilterPatternError) {
        guard !members.isEmpty else {
            throw FilterPatternError(reason: "\(Self.describe(path)) is an empty object; name at least one field")
        }
        fields = []
        alternatives = []
        for (key, value) in members.sorted(by: { $0.key < $1.key }) {
            let fieldPath = path + [key]
            if key == "$or" {
                guard case .array(let branches) = value, branches.count >= 2 else {
                    throw FilterPatternError(
                        reason: "\(Self.describe(fieldPath)) must be an array of at least two pattern objects"
                    )
                }
                var group: [ObjectPattern] = []
                for (position, branch) in branches.enumerated() {
                    let branchPath = path + ["$or[\(position)]"]
                    guard case .object(let branchMembers) = branch else {
                        throw FilterPatternError(reason: "\(Self.describe(branchPath)) must be a pattern object")
                    }
                    group.append(try ObjectPattern(parsing: branchMembers, path: branchPath))
                }
                alternatives.append(group)
                continue
            }
            switch value {
            case .object(let nested):
                fields.append(.nested(key: key, try ObjectPattern(parsing: nested, path: fieldPath)))
            case .array(let elements):
                guard !elements.isEmpty else {
                    throw FilterPatternError(
                        reason: "\(Self.describe(fieldPath)) is an empty array; list at least one match value"
                    )
                }
                var matchers: [ValueMatcher] = []
                for element in elements {
                    matchers.append(try ValueMatcher(parsing: element, path: Self.describe(fieldPath)))
                }
                fields.append(.values(key: key, matchers))
            default:
                throw FilterPatternError(
                    reason: "\(Self.describe(fieldPath)) must be an array of match values, such as "
                        + #"["a", "b"], or a nested pattern object; got "#
                        + String(decoding: value.bytes, as: UTF8.self)
                )
            }
        }
    }

    static func describe(_ path: [String]) -> String {
        path.isEmpty ? "the pattern" : "\"\(path.joined(separator: "."))\""
    }

    func references(_ key: String) -> Bool {
        fields.contains { $0.key == key } || alternatives.contains { group in group.contains { $0.references(key) } }
    }

    func matches(_ object: [String: JSON]) -> Bool {
        for field in fields where !field.matches(object) {
            return false
        }
        for group in alternatives where !group.contains(where: { $0.matches(object) }) {
            return false
        }
        return true
    }
}

/// One key of a pattern object.
enum FieldPattern: Sendable {
    /// The field's value must match a nested pattern.
    case nested(key: String, ObjectPattern)
    /// The field's value must match one of the match values.
    case values(key: String, [ValueMatcher])

    var key: String {
        switch self {
        case .nested(let key, _), .values(let key, _):
            key
        }
    }

    func matches(_ object: [String: JSON]) -> Bool {
        switch self {
        case .values(let key, let matchers):
            let value = object[key]
            return matchers.contains { $0.matches(value) }
        case .nested(let key, let pattern):
            var sawObject = false
            let matched = Self.anyObject(in: object[key], sawObject: &sawObject) { pattern.matches($0) }
            return matched || (!sawObject && pattern.matches([:]))
        }
    }

    /// Whether `predicate` holds for an object in `value` (itself or inside arrays).
    private static func anyObject(
        in value: JSON?,
        sawObject: inout Bool,
        where predicate: ([String: JSON]) -> Bool
    ) -> Bool {
        switch value {
        case .object(let members):
            sawObject = true
            return predicate(members)
        case .array(let elements):
            for element in elements where anyObject(in: element, sawObject: &sawObject, where: predicate) {
                return true
            }
            return false
        default:
            return false
        }
    }
}

/// A numeric range with optional open or closed ends.
struct NumericRange: Sendable, Equatable {
    var lower: Double?
    var lowerInclusive = false
    var upper: Double?
    var upperInclusive = false

    func contains(_ value: Double) -> Bool {
        if let lower, lowerInclusive ? value < lower : value <= lower {
            return false
        }
        if let upper, upperInclusive ? value > upper : value >= upper {
            return false
        }
        return true
    }
}

/// One element of a match-value array.
enum ValueMatcher: Sendable {
    case equals(JSON)
    case prefix(String)
    case suffix(String)
    case equalsIgnoreCase(String)
    case exists(Bool)
    case anythingBut([JSON])
    case anythingButPrefix(String)
    case anythingButSuffix(String)
    case anythingButEqualsIgnoreCase([String])
    case numeric(NumericRange)

    static let operatorNames = "prefix, suffix, equals-ignore-case, exists, anything-but, numeric"

    init(parsing element: JSON, path: String) throws(FilterPatternError) {
        switch element {
        case .string, .number, .bool, .null:
            self = .equals(element)
        case .array:
            throw FilterPatternError(reason: "\(path) contains a nested array; list match values in one array")
        case .object(let members):
            guard members.count == 1, let (name, operand) = members.first else {
                throw FilterPatternError(
                    reason: "\(path): an operator object must have exactly one key, such as "
                        + #"{"prefix":"abc"}; supported: "# + Self.operatorNames
                )
            }
            self = try Self.parseOperator(name, operand, path: path)
        case .integer, .epochMilliseconds, .fields, .blob, .encoded:
            // Output-only forms of the shared JSON value; a pattern parsed from JSON text never holds them.
            throw FilterPatternError(reason: "\(path) holds a \(element.typeName) that JSON text cannot express")
        }
    }

    private static func string(_ operand: JSON, of name: String, path: String) throws(FilterPatternError)
        -> String
    {
        guard case .string(let text) = operand else {
            throw FilterPatternError(reason: "\(path): \"\(name)\" takes a string, such as {\"\(name)\":\"abc\"}")
        }
        return text
    }

    private static func parseOperator(_ name: String, _ operand: JSON, path: String) throws(FilterPatternError)
        -> ValueMatcher
    {
        switch name {
        case "prefix":
            return .prefix(try string(operand, of: name, path: path))
        case "suffix":
            return .suffix(try string(operand, of: name, path: path))
        case "equals-ignore-case":
            return .equalsIgnoreCase(try string(operand, of: name, path: path).lowercased())
        case "exists":
            guard case .bool(let exists) = operand else {
                throw FilterPatternError(reason: "\(path): \"exists\" takes true or false")
            }
            return .exists(exists)
        case "anything-but":
            return try parseAnythingBut(operand, path: path)
        case "numeric":
            return .numeric(try parseNumeric(operand, path: path))
        default:
            throw FilterPatternError(
                reason: "\(path): unsupported operator \"\(name)\"; supported: \(Self.operatorNames)"
            )
        }
    }

    private static func parseAnythingBut(_ operand: JSON, path: String) throws(FilterPatternError)
        -> ValueMatcher
    {
        let usage =
            "\(path): \"anything-but\" takes a string, a number, a non-empty list of strings or numbers, "
            + #"or {"prefix":"…"}, {"suffix":"…"} or {"equals-ignore-case":…}"#
        switch operand {
        case .string, .number:
            return .anythingBut([operand])
        case .array(let values):
            guard !values.isEmpty else {
                throw FilterPatternError(reason: usage)
            }
            for value in values {
                switch value {
                case .string, .number:
                    continue
                default:
                    throw FilterPatternError(reason: usage)
                }
            }
            return .anythingBut(values)
        case .object(let members):
            guard members.count == 1, let (name, inner) = members.first else {
                throw FilterPatternError(reason: usage)
            }
            switch (name, inner) {
            case ("prefix", .string(let prefix)):
                return .anythingButPrefix(prefix)
            case ("suffix", .string(let suffix)):
                return .anythingButSuffix(suffix)
            case ("equals-ignore-case", .string(let text)):
                return .anythingButEqualsIgnoreCase([text.lowercased()])
            case ("equals-ignore-case", .array(let texts)) where !texts.isEmpty:
                var lowered: [String] = []
                for text in texts {
                    guard case .string(let string) = text else {
                        throw FilterPatternError(reason: usage)
                    }
                    lowered.append(string.lowercased())
                }
                return .anythingButEqualsIgnoreCase(lowered)
            default:
                throw FilterPatternError(reason: usage)
            }
        default:
            throw FilterPatternError(reason: usage)
        }
    }

    private static func parseNumeric(_ operand: JSON, path: String) throws(FilterPatternError) -> NumericRange {
        let usage = #"\#(path): "numeric" takes ["=", 5], ["<", 5] or a range such as [">", 0, "<=", 5]"#
        guard case .array(let items) = operand, items.count == 2 || items.count == 4 else {
            throw FilterPatternError(reason: usage)
        }
        var range = NumericRange()
        for pairStart in stride(from: 0, to: items.count, by: 2) {
            guard case .string(let comparison) = items[pairStart], case .number(let bound) = items[pairStart + 1]
            else {
                throw FilterPatternError(reason: usage)
            }
            switch comparison {
            case "=":
                guard items.count == 2 else {
                    throw FilterPatternError(reason: "\(path): \"=\" cannot be combined with another comparison")
                }
                range = NumericRange(lower: bound, lowerInclusive: true, upper: bound, upperInclusive: true)
            case ">", ">=":
                guard range.lower == nil else {
                    throw FilterPatternError(reason: "\(path): \"numeric\" has two lower bounds")
                }
                range.lower = bound
                range.lowerInclusive = comparison == ">="
            case "<", "<=":
                guard range.upper == nil else {
                    throw FilterPatternError(reason: "\(path): \"numeric\" has two upper bounds")
                }
                range.upper = bound
                range.upperInclusive = comparison == "<="
            default:
                throw FilterPatternError(
                    reason: "\(path): unknown comparison \"\(comparison)\"; use =, <, <=, > or >="
                )
            }
        }
        if let lower = range.lower, let upper = range.upper, lower >= upper, items.count == 4 {
            throw FilterPatternError(reason: "\(path): the lower bound \(lower) is not below the upper bound \(upper)")
        }
        return range
    }

    /// Whether a field's value (`nil` when absent) matches.
    func matches(_ value: JSON?) -> Bool {
        if case .exists(let exists) = self {
            return Self.anyLeaf(in: value) { _ in true } == exists
        }
        return Self.anyLeaf(in: value) { matchesLeaf($0) }
    }

    /// Whether `predicate` holds for a leaf (non-object, non-array value) in `value` or its arrays.
    private static func anyLeaf(in value: JSON?, where predicate: (JSON) -> Bool) -> Bool {
        switch value {
        case nil, .object:
            return false
        case .array(let elements):
            for element in elements where anyLeaf(in: element, where: predicate) {
                return true
            }
            return false
        case let leaf?:
            return predicate(leaf)
        }
    }

    private static func exactlyEqual(_ leaf: JSON, _ expected: JSON) -> Bool {
        switch (leaf, expected) {
        case (.string(let lhs), .string(let rhs)):
            lhs.utf8.elementsEqual(rhs.utf8)
        default:
            leaf == expected
        }
    }

    private func matchesLeaf(_ leaf: JSON) -> Bool {
        switch self {
        case .equals(let expected):
            return Self.exactlyEqual(leaf, expected)
        case .prefix(let prefix):
            guard case .string(let text) = leaf else { return false }
            return text.utf8.starts(with: prefix.utf8)
        case .suffix(let suffix):
            guard case .string(let text) = leaf else { return false }
            return text.utf8.reversed().starts(with: suffix.utf8.reversed())
        case .equalsIgnoreCase(let lowered):
            guard case .string(let text) = leaf else { return false }
            return text.lowercased() == lowered
        case .exists:
            return true
        case .anythingBut(let excluded):
            return !excluded.contains { Self.exactlyEqual(leaf, $0) }
        case .anythingButPrefix(let prefix):
            guard case .string(let text) = leaf else { return false }
            return !text.utf8.starts(with: prefix.utf8)
        case .anythingButSuffix(let suffix):
            guard case .string(let text) = leaf else { return false }
            return !text.utf8.reversed().starts(with: suffix.utf8.reversed())
        case .anythingButEqualsIgnoreCase(let lowered):
            guard case .string(let text) = leaf else { return false }
            return !lowered.contains(text.lowercased())
        case .numeric(let range):
            guard case .number(let number) = leaf else { return false }
            return range.contains(number)
        }
    }
}
