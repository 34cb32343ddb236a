import ShardLog
import ShardLogWire

/// A `PutRecords` body (JSON, or CBOR: ``scanCBOR(_:)``) read straight from the request bytes into a
/// ``ShardLog/RecordBuffer``: no value tree, no `String` or array per record (the data is base64-decoded, or for
/// CBOR copied, straight into the buffer, the key copied from the body).
///
/// Only the plain form every SDK sends is read here: members `StreamName`, `StreamARN`, `StreamId` and `Records`,
/// each at most once; records with `Data`, `PartitionKey` and optionally `ExplicitHashKey`, strings without escapes,
/// ASCII partition keys, every value within the model's constraints. Anything else — an unknown or repeated member,
/// an escape, a `null`, a non-ASCII key, a broken constraint, malformed JSON — makes ``scan(_:)`` return `nil`, and
/// the request takes the general path (``JSON`` parser, ``RequestValidator``), which gives AWS's exact error. So this
/// reader never decides an error and accepts exactly what the general path accepts, with the same records.
struct PutRecordsBody {
    /// `StreamName`, `StreamARN` and `StreamId` as given (checked by ``RequestValidator`` like any request's).
    var members: [String: JSON] = [:]
    /// The records, in request order.
    var records: RecordBuffer
    /// The explicit hash keys given, by record index (for routing records one at a time under
    /// `--enforce-shard-limits`; the buffer keeps its own copy for the put).
    var explicitHashKeys: [Int: UInt128] = [:]

    /// Reads `body`, or returns `nil` when it is not in the plain form (see the type's description).
    static func scan(_ body: [UInt8]) -> PutRecordsBody? {
        var scanner = Scanner(bytes: body)
        return scanner.body()
    }

    /// Reads `body` in `format`: JSON as ``scan(_:)``, CBOR as ``scanCBOR(_:)``.
    static func scan(_ body: [UInt8], format: WireFormat) -> PutRecordsBody? {
        switch format {
        case .json: scan(body)
        case .cbor: scanCBOR(body)
        }
    }

    /// Reads a CBOR body (`application/x-amz-cbor-1.1`) in the plain form the AWS SDKs send, or returns `nil`: a
    /// map of definite or indefinite length whose members are as in the JSON form (see the type's description),
    /// member names and strings as definite text strings, `Data` a definite byte string (copied into the buffer as
    /// is: no base64 at all), the records an array of definite or indefinite length. Anything else — a tag, a
    /// chunked string, another type, invalid UTF-8 — takes the general path (``CBOR`` decoder, ``RequestValidator``).
    static func scanCBOR(_ body: [UInt8]) -> PutRecordsBody? {
        var scanner = CBORScanner(bytes: body)
        return scanner.body()
    }

    /// The model's bounds of a record: a partition key of 1–256 characters, data of at most 10 MiB, at most 500
    /// records (at least 1).
    private static let keyLength = 1...256
    private static let maxDataByteCount = 10_485_760
    private static let recordCount = 1...500

    /// A record member's name as one integer: its bytes (at most 16; 0 for a longer one), the first lowest. With
    /// the name's length it identifies the name exactly, so each record member is told apart with integer
    /// comparisons (``dataWord`` and the others), no slice, array or string per comparison.
    private static func word(_ range: Range<Int>, in bytes: [UInt8]) -> UInt128 {
        guard range.count <= 16 else { return 0 }
        var word: UInt128 = 0
        for i in range.reversed() { word = word << 8 | UInt128(bytes[i]) }
        return word
    }

    private static func word(_ name: String) -> UInt128 {
        let bytes = Array(name.utf8)
        return word(bytes.indices, in: bytes)
    }

    private static let dataWord = word("Data")
    private static let partitionKeyWord = word("PartitionKey")
    private static let explicitHashKeyWord = word("ExplicitHashKey")

    /// Which record member `bytes[range]` names.
    private enum Member {
        case data, partitionKey, explicitHashKey, other
    }

    private static func member(_ range: Range<Int>, in bytes: [UInt8]) -> Member {
        let word = word(range, in: bytes)
        switch range.count {
        case 4 where word == dataWord: return .data
        case 12 where word == partitionKeyWord: return .partitionKey
        case 15 where word == explicitHashKeyWord: return .explicitHashKey
        default: return .other
        }
    }

    /// Whether `bytes[range]` is `name` (a top-level member's name, once per request).
    private static func isName(_ range: Range<Int>, _ name: String, in bytes: [UInt8]) -> Bool {
        guard range.count == name.utf8.count else { return false }
        var i = range.lowerBound
        for byte in name.utf8 {
            guard bytes[i] == byte else { return false }
            i += 1
        }
        return true
    }

    private static let topLevelNames = ["StreamName", "StreamARN", "StreamId"].map { ($0, Array($0.utf8)) }

    /// An `ExplicitHashKey` as the model allows it (`0|([1-9]\d{0,38})`) and within 0…2^128 − 1.
    private static func hashKey(_ digits: ArraySlice<UInt8>) -> UInt128? {
        guard let first = digits.first, digits.count <= 39 else { return nil }
        if first == UInt8(ascii: "0") { return digits.count == 1 ? 0 : nil }
        var value: UInt128 = 0
        for digit in digits {
            let d = digit &- UInt8(ascii: "0")
            guard d < 10 else { return nil }
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt128(d))
            guard !o1, !o2 else { return nil }
            value = sum
        }
        return value
    }

    private struct Scanner {
        let bytes: [UInt8]
        var index = 0

        mutating func body() -> PutRecordsBody? {
            var members: [String: JSON] = [:]
            var records: RecordBuffer?
            var explicitHashKeys: [Int: UInt128] = [:]
            guard open(UInt8(ascii: "{")) else { return nil }
            repeat {
                guard let key = plainString() else { return nil }
                guard colon() else { return nil }
                if PutRecordsBody.isName(key, "Records", in: bytes) {
                    guard records == nil, let r = recordList(&explicitHashKeys) else { return nil }
                    records = r
                } else {
                    guard let name = PutRecordsBody.topLevelNames.first(where: { bytes[key].elementsEqual($0.1) })?.0,
                        members[name] == nil, let value = plainString()
                    else { return nil }
                    members[name] = .string(String(decoding: bytes[value], as: UTF8.self))
                }
            } while comma()
            guard close(UInt8(ascii: "}")), atEnd(), let records else { return nil }
            return PutRecordsBody(members: members, records: records, explicitHashKeys: explicitHashKeys)
        }

        private mutating func recordList(_ explicitHashKeys: inout [Int: UInt128]) -> RecordBuffer? {
            guard open(UInt8(ascii: "[")) else { return nil }
            // A first guess at the sizes (a record of 100 bytes is about 180 bytes of JSON): one allocation each.
            var records = RecordBuffer(records: 500, keyBytes: 16 << 10, dataBytes: bytes.count / 4 * 3)
            repeat {
                guard records.count < PutRecordsBody.recordCount.upperBound, record(into: &records, &explicitHashKeys)
                else {
                    return nil
                }
            } while comma()
            guard close(UInt8(ascii: "]")), !records.isEmpty else { return nil }
            return records
        }

        private mutating func record(
            into records: inout RecordBuffer, _ explicitHashKeys: inout [Int: UInt128]
        ) -> Bool {
            guard open(UInt8(ascii: "{")) else { return false }
            var data: Range<Int>?
            var key: Range<Int>?
            var hashKey: UInt128?
            repeat {
                guard let name = plainString(), colon() else { return false }
                switch PutRecordsBody.member(name, in: bytes) {
                case .data:
                    guard data == nil, let value = base64String() else { return false }
                    data = value
                case .partitionKey:
                    guard key == nil, let value = plainString(), PutRecordsBody.keyLength.contains(value.count)
                    else { return false }
                    for i in value where bytes[i] >= 0x80 { return false }
                    key = value
                case .explicitHashKey:
                    guard hashKey == nil, let value = plainString(), let h = PutRecordsBody.hashKey(bytes[value])
                    else { return false }
                    hashKey = h
                case .other:
                    return false
                }
            } while comma()
            guard close(UInt8(ascii: "}")), let data, let key else { return false }
            if let hashKey { explicitHashKeys[records.count] = hashKey }
            // The key is ASCII of 1–256 bytes (checked above); the data is decoded straight into the buffer.
            return records.append(checkedKey: bytes, key, explicitHashKey: hashKey) { out in
                let start = out.count
                return out.append(base64Decoding: bytes.span.extracting(data))
                    && out.count - start <= PutRecordsBody.maxDataByteCount
            }
        }

        private mutating func skipSpace() {
            while index < bytes.count {
                switch bytes[index] {
                case 32, 9, 10, 13: index += 1
                default: return
                }
            }
        }

        /// Consumes `byte` (after white space).
        private mutating func open(_ byte: UInt8) -> Bool {
            skipSpace()
            guard index < bytes.count, bytes[index] == byte else { return false }
            index += 1
            return true
        }

        private mutating func close(_ byte: UInt8) -> Bool { open(byte) }
        private mutating func colon() -> Bool { open(UInt8(ascii: ":")) }
        private mutating func comma() -> Bool {
            skipSpace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ",") else { return false }
            index += 1
            return true
        }

        private mutating func atEnd() -> Bool {
            skipSpace()
            return index == bytes.count
        }

        /// A string meant to hold base64: the range of its bytes up to the next quote (found with `memchr`), not
        /// checked here — the base64 decoder refuses every byte outside the alphabet, so a backslash (an escape) or a
        /// control character sends the body to the general path as ``plainString()`` would.
        private mutating func base64String() -> Range<Int>? {
            guard open(UInt8(ascii: "\"")), let end = bytes.firstIndex(of: UInt8(ascii: "\""), from: index) else {
                return nil
            }
            defer { index = end + 1 }
            return index..<end
        }

        /// A string without escapes or control characters: the range of its bytes between the quotes.
        private mutating func plainString() -> Range<Int>? {
            guard open(UInt8(ascii: "\"")) else { return nil }
            let start = index
            while index < bytes.count {
                let c = bytes[index]
                if c == UInt8(ascii: "\"") {
                    index += 1
                    return start..<(index - 1)
                }
                guard c >= 32, c != UInt8(ascii: "\\") else { return nil }
                index += 1
            }
            return nil
        }
    }

    /// The reader of ``scanCBOR(_:)``: a cursor over the body.
    private struct CBORScanner {
        let bytes: [UInt8]
        var index = 0

        /// A map's or array's length: a count, or up to a break byte (`0xFF`).
        private enum Length {
            case definite(Int)
            case indefinite
        }

        mutating func body() -> PutRecordsBody? {
            var members: [String: JSON] = [:]
            var records: RecordBuffer?
            var explicitHashKeys: [Int: UInt128] = [:]
            guard let length = open(major: 5) else { return nil }
            var n = 0
            while true {
                guard let more = hasNext(length, n) else { return nil }
                guard more else { break }
                n += 1
                guard let key = string(major: 3) else { return nil }
                if PutRecordsBody.isName(key, "Records", in: bytes) {
                    guard records == nil, let r = recordList(&explicitHashKeys) else { return nil }
                    records = r
                } else {
                    guard let name = PutRecordsBody.topLevelNames.first(where: { bytes[key].elementsEqual($0.1) })?.0,
                        members[name] == nil, let value = string(major: 3),
                        let text = String(validating: bytes[value], as: UTF8.self)
                    else { return nil }
                    members[name] = .string(text)
                }
            }
            guard index == bytes.count, let records else { return nil }
            return PutRecordsBody(members: members, records: records, explicitHashKeys: explicitHashKeys)
        }

        private mutating func recordList(_ explicitHashKeys: inout [Int: UInt128]) -> RecordBuffer? {
            guard let length = open(major: 4) else { return nil }
            if case .definite(let count) = length, !PutRecordsBody.recordCount.contains(count) { return nil }
            var records = RecordBuffer(records: 500, keyBytes: 16 << 10, dataBytes: bytes.count)
            while true {
                guard let more = hasNext(length, records.count) else { return nil }
                guard more else { break }
                guard records.count < PutRecordsBody.recordCount.upperBound, record(into: &records, &explicitHashKeys)
                else { return nil }
            }
            return records.isEmpty ? nil : records
        }

        private mutating func record(
            into records: inout RecordBuffer, _ explicitHashKeys: inout [Int: UInt128]
        ) -> Bool {
            guard let length = open(major: 5) else { return false }
            var data: Range<Int>?
            var key: Range<Int>?
            var hashKey: UInt128?
            var n = 0
            while true {
                guard let more = hasNext(length, n) else { return false }
                guard more else { break }
                n += 1
                guard let name = string(major: 3) else { return false }
                switch PutRecordsBody.member(name, in: bytes) {
                case .data:
                    guard data == nil, let value = string(major: 2), value.count <= PutRecordsBody.maxDataByteCount
                    else { return false }
                    data = value
                case .partitionKey:
                    guard key == nil, let value = string(major: 3), PutRecordsBody.keyLength.contains(value.count)
                    else { return false }
                    for i in value where bytes[i] >= 0x80 { return false }
                    key = value
                case .explicitHashKey:
                    guard hashKey == nil, let value = string(major: 3), let h = PutRecordsBody.hashKey(bytes[value])
                    else { return false }
                    hashKey = h
                case .other:
                    return false
                }
            }
            guard let data, let key else { return false }
            if let hashKey { explicitHashKeys[records.count] = hashKey }
            // The key is ASCII of 1–256 bytes and the data within its bound (checked above): copied as they are.
            return records.append(checkedKey: bytes, key, explicitHashKey: hashKey) { out in
                out.append(copying: bytes.span.extracting(data))
                return true
            }
        }

        /// The head of the item at the cursor: its major type and argument (`nil` for an indefinite length).
        private mutating func head() -> (major: UInt8, argument: UInt64?)? {
            guard index < bytes.count else { return nil }
            let initial = bytes[index]
            index += 1
            let info = initial & 0x1F
            switch info {
            case 0..<24:
                return (initial >> 5, UInt64(info))
            case 24...27:
                let count = 1 << Int(info - 24)
                guard bytes.count - index >= count else { return nil }
                var value: UInt64 = 0
                for i in index..<index + count { value = value << 8 | UInt64(bytes[i]) }
                index += count
                return (initial >> 5, value)
            case 31:
                return (initial >> 5, nil)
            default:
                return nil
            }
        }

        /// A definite-length string of `major` (2: bytes, 3: text): the range of its bytes.
        private mutating func string(major: UInt8) -> Range<Int>? {
            guard let (m, argument) = head(), m == major, let argument, argument <= UInt64(bytes.count - index)
            else { return nil }
            let start = index
            index += Int(argument)
            return start..<index
        }

        /// Opens a map (5) or an array (4): its length, each entry taking at least one byte.
        private mutating func open(major: UInt8) -> Length? {
            guard let (m, argument) = head(), m == major else { return nil }
            guard let argument else { return .indefinite }
            guard argument <= UInt64(bytes.count - index) else { return nil }
            return .definite(Int(argument))
        }

        /// Whether another entry follows the `taken` read so far (consuming the break byte that ends an
        /// indefinite length), or `nil` when the input ends first.
        private mutating func hasNext(_ length: Length, _ taken: Int) -> Bool? {
            switch length {
            case .definite(let count):
                return taken < count
            case .indefinite:
                guard index < bytes.count else { return nil }
                guard bytes[index] == 0xFF else { return true }
                index += 1
                return false
            }
        }
    }
}
