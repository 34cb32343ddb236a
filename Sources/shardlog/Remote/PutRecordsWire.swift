import ShardLogWire

private let base64Digits: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

/// The PutRecords body pieces written straight from a ``RecordBuffer``'s byte arrays, without a `String` or an
/// `Array` per record.
extension Array where Element == UInt8 {
    /// Appends the standard (RFC 4648, padded) base64 text of `bytes[range]`.
    mutating func appendBase64(of bytes: [UInt8], in range: Range<Int>) {
        reserveCapacity(count + Base64Text.encodedCount(range.count))
        let table = base64Digits
        var i = range.lowerBound
        let end = range.upperBound
        while i + 3 <= end {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            append(table[Int(v >> 18)])
            append(table[Int((v >> 12) & 63)])
            append(table[Int((v >> 6) & 63)])
            append(table[Int(v & 63)])
            i += 3
        }
        guard i < end else { return }
        let second = i + 1 < end ? UInt32(bytes[i + 1]) : 0
        let v = UInt32(bytes[i]) << 16 | second << 8
        append(table[Int(v >> 18)])
        append(table[Int((v >> 12) & 63)])
        append(i + 1 < end ? table[Int((v >> 6) & 63)] : UInt8(ascii: "="))
        append(UInt8(ascii: "="))
    }

    /// Appends the UTF-8 text `bytes[range]` JSON-escaped, without quotes (copied as is when nothing needs escaping,
    /// as for most partition keys).
    mutating func appendJSONStringContents(of bytes: [UInt8], in range: Range<Int>) {
        let plain = bytes[range].allSatisfy { $0 >= 0x20 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }
        if plain {
            append(contentsOf: bytes[range])
        } else {
            appendJSONStringContents(String(decoding: bytes[range], as: UTF8.self))
        }
    }
}

/// The per-entry results of a PutRecords answer, read from its bytes in one pass (a Foundation
/// `JSONSerialization` of 500 result objects costs more CPU than building the request).
struct PutRecordsAnswer {
    /// One entry's result.
    struct Entry {
        /// The number of the shard that stored it (the digits ending `ShardId`).
        var shard: Int?
        /// `ErrorCode` of a failed entry.
        var errorCode: String?
        var errorMessage: String?
    }

    /// The results, in request order.
    private(set) var entries: [Entry] = []

    private let bytes: [UInt8]
    private var at = 0

    /// Reads `Records` of a PutRecords answer; other members are skipped.
    /// - Throws: `CLIError` naming the byte offset when the body is not a JSON object.
    init(_ bytes: [UInt8]) throws(CLIError) {
        self.bytes = bytes
        try expect(UInt8(ascii: "{"))
        try members { (key, this) throws(CLIError) in
            if key.elementsEqual("Records".utf8) {
                try this.records()
            } else {
                try this.skipValue()
            }
        }
    }

    private mutating func records() throws(CLIError) {
        try expect(UInt8(ascii: "["))
        if peek() == UInt8(ascii: "]") {
            at += 1
            return
        }
        while true {
            var entry = Entry()
            try expect(UInt8(ascii: "{"))
            try members { (key, this) throws(CLIError) in
                if key.elementsEqual("ShardId".utf8) {
                    let id = try this.string()
                    let digits = id[((id.lastIndex(of: UInt8(ascii: "-")) ?? id.startIndex - 1) + 1)...]
                    entry.shard = Int(String(decoding: digits, as: UTF8.self))
                } else if key.elementsEqual("ErrorCode".utf8) {
                    entry.errorCode = String(decoding: try this.string(), as: UTF8.self)
                } else if key.elementsEqual("ErrorMessage".utf8) {
                    entry.errorMessage = String(decoding: try this.string(), as: UTF8.self)
                } else {
                    try this.skipValue()
                }
            }
            entries.append(entry)
            switch next() {
            case UInt8(ascii: ","): continue
            case UInt8(ascii: "]"): return
            default: throw malformed("',' or ']'")
            }
        }
    }

    /// Calls `body` with each member name of the object whose `{` was just read, positioned at the value, and reads
    /// the closing `}`.
    private mutating func members(
        _ body: (ArraySlice<UInt8>, inout PutRecordsAnswer) throws(CLIError) -> Void
    ) throws(CLIError) {
        if peek() == UInt8(ascii: "}") {
            at += 1
            return
        }
        while true {
            let key = try string()
            try expect(UInt8(ascii: ":"))
            try body(key, &self)
            switch next() {
            case UInt8(ascii: ","): continue
            case UInt8(ascii: "}"): return
            default: throw malformed("',' or '}'")
            }
        }
    }

    /// A string's raw contents (escapes left as they are).
    private mutating func string() throws(CLIError) -> ArraySlice<UInt8> {
        try expect(UInt8(ascii: "\""))
        let start = at
        while at < bytes.count && bytes[at] != UInt8(ascii: "\"") {
            at += bytes[at] == UInt8(ascii: "\\") ? 2 : 1
        }
        guard at < bytes.count else { throw malformed("the end of a string") }
        at += 1
        return bytes[start..<(at - 1)]
    }

    /// Skips one value of any kind (nested at most 64 deep).
    private mutating func skipValue(depth: Int = 0) throws(CLIError) {
        guard depth < 64 else { throw malformed("less nesting") }
        switch peek() {
        case UInt8(ascii: "\""):
            _ = try string()
        case UInt8(ascii: "{"):
            at += 1
            try members { (_, this) throws(CLIError) in try this.skipValue(depth: depth + 1) }
        case UInt8(ascii: "["):
            at += 1
            if peek() == UInt8(ascii: "]") {
                at += 1
                return
            }
            while true {
                try skipValue(depth: depth + 1)
                switch next() {
                case UInt8(ascii: ","): continue
                case UInt8(ascii: "]"): return
                default: throw malformed("',' or ']'")
                }
            }
        default:  // a number, true, false or null
            let start = at
            while at < bytes.count && !",}] \n\r\t".utf8.contains(bytes[at]) { at += 1 }
            guard at > start else { throw malformed("a value") }
        }
    }

    private mutating func skipSpace() {
        while at < bytes.count && (bytes[at] == 0x20 || bytes[at] == 0x0A || bytes[at] == 0x0D || bytes[at] == 0x09) {
            at += 1
        }
    }

    private mutating func peek() -> UInt8? {
        skipSpace()
        return at < bytes.count ? bytes[at] : nil
    }

    private mutating func next() -> UInt8? {
        defer { at += 1 }
        return peek()
    }

    private mutating func expect(_ byte: UInt8) throws(CLIError) {
        guard next() == byte else { throw malformed("'\(Character(Unicode.Scalar(byte)))'") }
    }

    private func malformed(_ expected: String) -> CLIError {
        CLIError("PutRecords answered a body that is not the expected JSON (expected \(expected) at byte \(at))")
    }
}
