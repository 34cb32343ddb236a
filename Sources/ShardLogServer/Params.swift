import Foundation
import ShardLog
import ShardLogWire

/// The members of a JSON request object, with typed accessors that fail the way Kinesis does: a wrong JSON type is a
/// `SerializationException`, a missing required member or a broken model constraint a `ValidationException`.
struct Params {
    let members: [String: JSON]
    /// The account and region the request acts in (set by `KinesisServer.handle` after authorization).
    var scope = RequestScope.default
    /// A `PutRecords` body's records, read straight from the request bytes (``PutRecordsBody``); `members` then
    /// holds only the other members, and `Records` is not in it.
    var putRecords: PutRecordsBody?

    init(_ members: [String: JSON]) { self.members = members }

    /// Parses a request body of `operation` in `format`: empty means `{}` (for JSON, also only whitespace); anything
    /// but an object (a CBOR map) is a `SerializationException`. A `PutRecords` JSON body in the plain form every SDK
    /// sends is read into ``records`` without a value per record (see ``PutRecordsBody``).
    init(body: [UInt8], format: WireFormat = .json, operation: Operation? = nil) throws(KinesisError) {
        if operation == .putRecords, let scanned = PutRecordsBody.scan(body, format: format) {
            self.init(scanned.members)
            putRecords = scanned
            return
        }
        switch format {
        case .json:
            if body.allSatisfy({ $0 == 32 || $0 == 9 || $0 == 10 || $0 == 13 }) {
                self.init([:])
                return
            }
            guard case .object(let members) = try WireFormat.json.decodeRequest(body) else {
                throw KinesisError(.serialization, "the request body must be a JSON object")
            }
            self.init(members)
        case .cbor:
            if body.isEmpty {
                self.init([:])
                return
            }
            let value = try WireFormat.cbor.decodeRequest(body)
            guard case .object(let members) = value else {
                throw KinesisError(.serialization, "the request body must be a CBOR map, not a \(value.typeName)")
            }
            self.init(members)
        }
    }

    static func missing(_ key: String) -> KinesisError {
        KinesisError(
            .validation,
            "1 validation error detected: Value null at '\(key)' failed to satisfy constraint: Member must not be null")
    }

    static func wrongType(_ key: String, _ value: JSON, expected: String) -> KinesisError {
        KinesisError(.serialization, "'\(key)' must be a \(expected), not a \(value.typeName)")
    }

    func has(_ key: String) -> Bool {
        if let v = members[key], v != .null { return true }
        return false
    }

    func string(_ key: String) throws(KinesisError) -> String? {
        switch members[key] {
        case nil, .null?: return nil
        case .string(let s)?: return s
        case let v?: throw Self.wrongType(key, v, expected: "string")
        }
    }

    func requiredString(_ key: String) throws(KinesisError) -> String {
        guard let s = try string(key) else { throw Self.missing(key) }
        return s
    }

    func int(_ key: String) throws(KinesisError) -> Int? {
        switch members[key] {
        case nil, .null?: return nil
        case .number(let d)?:
            // AWS truncates a fractional number given for an integer member (2.7 → 2).
            guard d.isFinite, abs(d) < 9e15 else {
                throw KinesisError(.serialization, "'\(key)' must be an integer")
            }
            return Int(d.rounded(.down))
        case let v?: throw Self.wrongType(key, v, expected: "number")
        }
    }

    func requiredInt(_ key: String) throws(KinesisError) -> Int {
        guard let v = try int(key) else { throw Self.missing(key) }
        return v
    }

    /// An integer that must lie in `range` (a model constraint) when present.
    func int(_ key: String, in range: ClosedRange<Int>) throws(KinesisError) -> Int? {
        guard let v = try int(key) else { return nil }
        guard range.contains(v) else {
            throw KinesisError(
                .validation,
                "1 validation error detected: Value '\(v)' at '\(key)' failed to satisfy constraint: Member must have"
                    + " value between \(range.lowerBound) and \(range.upperBound)")
        }
        return v
    }

    func bool(_ key: String) throws(KinesisError) -> Bool? {
        switch members[key] {
        case nil, .null?: return nil
        case .bool(let b)?: return b
        case let v?: throw Self.wrongType(key, v, expected: "boolean")
        }
    }

    /// Epoch seconds a timestamp may take: years 1 to 9999, so its milliseconds always fit an `Int64`.
    static let timestampSeconds: ClosedRange<Double> = -62_135_596_800...253_402_300_799.999

    /// A timestamp: epoch seconds as a number (botocore sends integers), an ISO 8601 string, or (CBOR) epoch
    /// milliseconds under tag 1.
    /// - Throws: `SerializationException` for another JSON type or text that is no timestamp;
    ///   `InvalidArgumentException` for a number that is not finite or outside years 1–9999 (1e16, 1e300, 1e400).
    func timestamp(_ key: String) throws(KinesisError) -> Date? {
        func checked(_ seconds: Double, _ text: String) throws(KinesisError) -> Date {
            guard seconds.isFinite, Self.timestampSeconds.contains(seconds) else {
                throw KinesisError(
                    .invalidArgument,
                    "\(key) \(text) is out of range: a timestamp must be epoch seconds between"
                        + " \(Int64(Self.timestampSeconds.lowerBound)) and \(Int64(Self.timestampSeconds.upperBound))"
                        + " (years 1 to 9999)")
            }
            return Date(timeIntervalSince1970: seconds)
        }
        switch members[key] {
        case nil, .null?: return nil
        case .epochMilliseconds(let ms)?: return try checked(Double(ms) / 1000, "\(ms) ms")
        case .number(let d)?: return try checked(d, d.isFinite ? "\(d)" : "(beyond the range of a double)")
        case .string(let s)?:
            if let d = Double(s) { return try checked(d, s) }
            let f = ISO8601DateFormatter()
            f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            if let date = f.date(from: s) { return try checked(date.timeIntervalSince1970, s) }
            f.formatOptions = [.withInternetDateTime]
            if let date = f.date(from: s) { return try checked(date.timeIntervalSince1970, s) }
            throw KinesisError(.serialization, "'\(key)' is not a timestamp: \(s)")
        case let v?: throw Self.wrongType(key, v, expected: "timestamp")
        }
    }

    func array(_ key: String) throws(KinesisError) -> [JSON]? {
        switch members[key] {
        case nil, .null?: return nil
        case .array(let a)?: return a
        case let v?: throw Self.wrongType(key, v, expected: "list")
        }
    }

    func strings(_ key: String) throws(KinesisError) -> [String]? {
        guard let a = try array(key) else { return nil }
        var out: [String] = []
        for item in a {
            guard case .string(let s) = item else { throw Self.wrongType(key, item, expected: "list of strings") }
            out.append(s)
        }
        return out
    }

    func object(_ key: String) throws(KinesisError) -> Params? {
        switch members[key] {
        case nil, .null?: return nil
        case .object(let o)?: return Params(o)
        case let v?: throw Self.wrongType(key, v, expected: "structure")
        }
    }

    /// A map of strings to strings (Tags in CreateStream/AddTagsToStream).
    func stringMap(_ key: String) throws(KinesisError) -> [String: String]? {
        guard let o = try object(key) else { return nil }
        var out: [String: String] = [:]
        for (k, v) in o.members {
            guard case .string(let s) = v else { throw Self.wrongType(key, v, expected: "map of strings") }
            out[k] = s
        }
        return out
    }

    /// A blob: base64 text in JSON, a byte string in CBOR.
    func blob(_ key: String) throws(KinesisError) -> [UInt8] {
        if case .blob(let bytes)? = members[key] { return bytes }
        let text = try requiredString(key)
        guard let bytes = Base64Text.decode(text) else {
            throw KinesisError(.serialization, "'\(key)' is not valid base64")
        }
        return bytes
    }
}
