import Foundation

/// Reading the small JSON files of a data directory (`stream.json`, checkpoints, mapping files): every decoding
/// problem becomes one sentence naming the file and the field, never a trap.
package enum MetadataFile {
    /// The bytes of the file at `path`, or `nil` when it does not exist.
    /// - Throws: `.io` when it exists but cannot be read, `.limitExceeded` (naming the limit) when the process is out
    ///   of descriptors: never "not found" for a file that exists.
    package static func contents(of path: String) throws(ShardLogError) -> [UInt8]? {
        try SystemCall.readFile(path)
    }

    /// Decodes `bytes` (the content of `path`) as `T`.
    /// - Throws: `.corruption` naming the file, the field and what is wrong with it.
    package static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8], path: String) throws(ShardLogError)
        -> T
    {
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch let error as DecodingError {
            throw ShardLogError(.corruption, "\(path) is damaged: \(describe(error))")
        } catch let error as ShardLogError {
            throw ShardLogError(error.code, "\(path) is damaged: \(error.message)")
        } catch {
            throw ShardLogError(.corruption, "\(path) is damaged: \(error)")
        }
    }

    /// The dotted path of a coding path: `shards[2].endingHashKey`.
    package static func fieldPath(_ codingPath: [any CodingKey]) -> String {
        var out = ""
        for key in codingPath {
            if let index = key.intValue {
                out += "[\(index)]"
            } else {
                out += (out.isEmpty ? "" : ".") + key.stringValue
            }
        }
        return out
    }

    /// One sentence for a decoding error: the field and what is wrong with it.
    package static func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, let context):
            return "\(fieldPath(context.codingPath + [key])) is missing"
        case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
            let field = fieldPath(context.codingPath)
            return "\(field.isEmpty ? "the top level" : field) has the wrong type: expected \(describe(type))"
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty {
                var reason = context.debugDescription
                if let underlying = context.underlyingError as NSError?,
                    let detail = underlying.userInfo[NSDebugDescriptionErrorKey] as? String
                {
                    reason += " (\(detail))"
                }
                return "not valid JSON: \(reason)"
            }
            let description = context.debugDescription
            return "\(fieldPath(context.codingPath))\(description.hasPrefix("is ") ? " " : ": ")\(description)"
        @unknown default:
            return "\(error)"
        }
    }

    /// What a JSON value of `type` looks like, for messages.
    package static func describe(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type, is Int64.Type, is UInt64.Type, is Double.Type: "a number"
        case is Bool.Type: "true or false"
        case is String.Type: "a string"
        case is [String].Type: "a list of strings"
        case is [Any].Type: "a list"
        case is [String: Any].Type: "an object"
        default: "\(type)"
        }
    }

    /// Whether `text` is the decimal form of a number in 0...2^128-1 (digits only, no sign, no spaces).
    package static func hashKey(_ text: String) -> UInt128? {
        guard (1...39).contains(text.utf8.count), text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        return UInt128(text)
    }

    /// The latest plausible epoch-seconds time in a file: 9999-12-31T23:59:59Z.
    package static let latestEpochSeconds = 253_402_300_799.0
}

extension KeyedDecodingContainer {
    /// Decodes an integer field, reporting a number that does not fit `T` (e.g. `1e300` or `-1` for an offset) as
    /// a data-corruption error naming the field (Foundation's own error names neither the field nor the value).
    /// - Throws: `DecodingError` naming the field.
    package func decodeInteger<T: FixedWidthInteger & Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        do {
            return try decode(T.self, forKey: key)
        } catch {
            // Foundation throws its internal `JSONError.numberIsNotRepresentableInSwift` here, naming nothing.
            guard let number = try? decode(Double.self, forKey: key) else { throw error }
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: codingPath + [key],
                    debugDescription: "is \(number), not a whole number in \(T.min)...\(T.max)"))
        }
    }

    /// ``decodeInteger(_:forKey:)`` for an optional field (`nil` when absent or `null`).
    /// - Throws: `DecodingError` naming the field.
    package func decodeIntegerIfPresent<T: FixedWidthInteger & Decodable>(_ type: T.Type, forKey key: Key) throws
        -> T?
    {
        guard contains(key), try !decodeNil(forKey: key) else { return nil }
        return try decodeInteger(T.self, forKey: key)
    }
}
