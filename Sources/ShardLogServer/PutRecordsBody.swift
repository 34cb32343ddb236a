import ShardLog
import ShardLogWire

/// A `PutRecords` JSON body read straight from the request bytes into a ``ShardLog/RecordBuffer``: no value tree,
/// no `String` or array per record (the data is base64-decoded into the buffer, the key copied from the body).
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

    /// The model's bounds of a record: a partition key of 1–256 characters, data of at most 10 MiB, at most 500
    /// records (at least 1).
    private static let keyLength = 1...256
    private static let maxDataByteCount = 10_485_760
    private static let recordCount = 1...500

    private static let recordsName = Array("Records".utf8)
    private static let dataName = Array("Data".utf8)
    private static let partitionKeyName = Array("PartitionKey".utf8)
    private static let explicitHashKeyName = Array("ExplicitHashKey".utf8)
    private static let topLevelNames = ["StreamName", "StreamARN", "StreamId"].map { ($0, Array($0.utf8)) }

    private struct Scanner {
        let bytes: [UInt8]
        var index = 0
        /// Decoded data of the record being read (reused).
        var scratch: [UInt8] = []

        mutating func body() -> PutRecordsBody? {
            var members: [String: JSON] = [:]
            var records: RecordBuffer?
            var explicitHashKeys: [Int: UInt128] = [:]
            guard open(UInt8(ascii: "{")) else { return nil }
            repeat {
                guard let key = plainString() else { return nil }
                guard colon() else { return nil }
                if bytes[key].elementsEqual(PutRecordsBody.recordsName) {
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
                guard let name = plainString(), colon(), let value = plainString() else { return false }
                let k = bytes[name]
                if k.elementsEqual(PutRecordsBody.dataName) {
                    guard data == nil else { return false }
                    data = value
                } else if k.elementsEqual(PutRecordsBody.partitionKeyName) {
                    guard key == nil, PutRecordsBody.keyLength.contains(value.count) else { return false }
                    for i in value where bytes[i] >= 0x80 { return false }
                    key = value
                } else if k.elementsEqual(PutRecordsBody.explicitHashKeyName) {
                    guard hashKey == nil, let h = Self.hashKey(bytes[value]) else { return false }
                    hashKey = h
                } else {
                    return false
                }
            } while comma()
            guard close(UInt8(ascii: "}")), let data, let key else { return false }
            scratch.removeAll(keepingCapacity: true)
            let text = bytes  // (a span of `self.bytes` would overlap the access to `self.scratch`)
            guard Base64Text.decode(text.span.extracting(data), appendingTo: &scratch),
                scratch.count <= PutRecordsBody.maxDataByteCount
            else { return false }
            if let hashKey { explicitHashKeys[records.count] = hashKey }
            // The key is ASCII of 1–256 bytes (checked above), so the buffer's own check cannot fail.
            return
                (try? records.append(
                    key: bytes, key, data: scratch, 0..<scratch.count, explicitHashKey: hashKey)) != nil
        }

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
}
