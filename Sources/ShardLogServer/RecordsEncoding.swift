import ShardLog
import ShardLogWire

/// Records as `GetRecords` and `SubscribeToShard` return them, written straight into the response bytes in either
/// wire format: no value tree per record, base64 (JSON) written in place, sequence numbers and timestamps formatted
/// from their integers without intermediate strings.
///
/// A record is `{"SequenceNumber":…,"ApproximateArrivalTimestamp":…,"Data":…,"PartitionKey":…}` (plus
/// `"EncryptionType":"KMS"` on an encrypted stream): in JSON the timestamp is epoch seconds with three decimals and
/// the data base64; in CBOR the timestamp is tag 1 around epoch milliseconds and the data a byte string.
enum RecordsEncoding {
    private static let sequenceNumberKey = Array("SequenceNumber".utf8)
    private static let arrivalKey = Array("ApproximateArrivalTimestamp".utf8)
    private static let dataKey = Array("Data".utf8)
    private static let partitionKeyKey = Array("PartitionKey".utf8)
    private static let encryptionTypeKey = Array("EncryptionType".utf8)
    private static let kms = Array("KMS".utf8)
    private static let recordsKey = Array("Records".utf8)
    private static let jsonSequenceNumber = Array(#"{"SequenceNumber":""#.utf8)
    private static let jsonArrival = Array(#"","ApproximateArrivalTimestamp":"#.utf8)
    private static let jsonData = Array(#","Data":""#.utf8)
    private static let jsonPartitionKey = Array(#"","PartitionKey":"#.utf8)
    private static let jsonEncrypted = Array(#","EncryptionType":"KMS"}"#.utf8)
    private static let jsonRecords = Array(#"{"Records":["#.utf8)

    /// Bytes a record takes beyond its data and partition key (keys, sequence number, timestamp), rounded up.
    private static let overheadByteCount = 160

    /// An object whose first member is `"Records"` (the records, written in place from their stored batches)
    /// followed by `rest`, encoded in `format`: the body of a `GetRecords` response.
    static func object(
        _ format: WireFormat, records: StoredRecords, encrypted: Bool, then rest: [JSON.Field]
    ) -> [UInt8] {
        var out: [UInt8] = []
        switch format {
        case .json:
            out.reserveCapacity(
                256 + records.byteCount / 3 * 4 + records.count * (overheadByteCount + 4)
                    + (encrypted ? records.count * jsonEncrypted.count : 0))
            out.append(contentsOf: jsonRecords)
            var first = true
            var digits = SequenceDigits()
            records.visit { sequence, milliseconds, key, data in
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                out.append(contentsOf: jsonSequenceNumber)
                digits.append(sequence, to: &out)
                appendJSONTail(milliseconds: milliseconds, key: key, data: data, encrypted: encrypted, to: &out)
            }
            out.append(UInt8(ascii: "]"))
            appendJSONMembers(rest, to: &out)
        case .cbor:
            out.reserveCapacity(256 + records.byteCount + records.count * overheadByteCount)
            CBOR.writeHead(major: 5, 1 + rest.count, to: &out)
            appendKey(recordsKey, to: &out)
            CBOR.writeHead(major: 4, records.count, to: &out)
            var digits = SequenceDigits()
            records.visit { sequence, milliseconds, key, data in
                out.append(encrypted ? 0xA5 : 0xA4)
                appendKey(sequenceNumberKey, to: &out)
                CBOR.writeHead(major: 3, 56, to: &out)
                digits.append(sequence, to: &out)
                appendCBORTail(milliseconds: milliseconds, key: key, data: data, encrypted: encrypted, to: &out)
            }
            appendCBORMembers(rest, to: &out)
        }
        return out
    }

    /// An object whose first member is `"Records"` (records already read as ``Record`` values, written in place)
    /// followed by `rest`, encoded in `format`.
    static func object(
        _ format: WireFormat, records: [Record], encrypted: Bool, then rest: [JSON.Field]
    ) -> [UInt8] {
        var capacity = 256
        for r in records {
            capacity += Base64Text.encodedCount(r.data.count) + r.partitionKey.utf8.count + overheadByteCount
        }
        var out: [UInt8] = []
        out.reserveCapacity(capacity)
        switch format {
        case .json:
            out.append(contentsOf: jsonRecords)
            for (i, r) in records.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                appendJSON(r, encrypted: encrypted, to: &out)
            }
            out.append(UInt8(ascii: "]"))
            appendJSONMembers(rest, to: &out)
        case .cbor:
            CBOR.writeHead(major: 5, 1 + rest.count, to: &out)
            appendKey(recordsKey, to: &out)
            CBOR.writeHead(major: 4, records.count, to: &out)
            for r in records { appendCBOR(r, encrypted: encrypted, to: &out) }
            appendCBORMembers(rest, to: &out)
        }
        return out
    }

    /// `,"key":value` for each of `rest`, then the closing `}`.
    private static func appendJSONMembers(_ rest: [JSON.Field], to out: inout [UInt8]) {
        for field in rest {
            out.append(UInt8(ascii: ","))
            JSON.writeString(field.key, to: &out)
            out.append(UInt8(ascii: ":"))
            field.value.write(to: &out)
        }
        out.append(UInt8(ascii: "}"))
    }

    /// The keys and values of `rest` as CBOR map entries.
    private static func appendCBORMembers(_ rest: [JSON.Field], to out: inout [UInt8]) {
        for field in rest {
            CBOR.writeText(field.key, to: &out)
            CBOR.write(field.value, to: &out)
        }
    }

    /// One record, encoded in `format` (a member of a larger value: see ``JSON/encoded(_:_:)``).
    static func record(_ r: Record, encrypted: Bool, format: WireFormat) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(Base64Text.encodedCount(r.data.count) + r.partitionKey.utf8.count + overheadByteCount)
        switch format {
        case .json: appendJSON(r, encrypted: encrypted, to: &out)
        case .cbor: appendCBOR(r, encrypted: encrypted, to: &out)
        }
        return out
    }

    private static func appendJSON(_ r: Record, encrypted: Bool, to out: inout [UInt8]) {
        out.append(contentsOf: jsonSequenceNumber)
        appendSequenceNumber(r, to: &out)
        appendJSONTail(
            milliseconds: r.arrivalMilliseconds, key: r.partitionKey.utf8.span, data: r.data.span,
            encrypted: encrypted, to: &out)
    }

    /// A record's JSON after its sequence number's digits: `","ApproximateArrivalTimestamp":…}`.
    private static func appendJSONTail(
        milliseconds: Int64, key: Span<UInt8>, data: Span<UInt8>, encrypted: Bool, to out: inout [UInt8]
    ) {
        out.append(contentsOf: jsonArrival)
        JSONTimestamp.appendEpochSeconds(milliseconds: milliseconds, to: &out)
        out.append(contentsOf: jsonData)
        Base64Text.append(data, to: &out)
        out.append(contentsOf: jsonPartitionKey)
        appendJSONString(key, to: &out)
        if encrypted {
            out.append(contentsOf: jsonEncrypted)
        } else {
            out.append(UInt8(ascii: "}"))
        }
    }

    /// A partition key's UTF-8 as a JSON string: copied as is when nothing needs escaping (the usual case), else
    /// escaped as ``JSON/writeString(_:to:)`` does.
    private static func appendJSONString(_ utf8: Span<UInt8>, to out: inout [UInt8]) {
        var plain = true
        for i in utf8.indices {
            let b = utf8[i]
            if b < 0x20 || b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") {
                plain = false
                break
            }
        }
        guard plain else {
            var text: [UInt8] = []
            text.reserveCapacity(utf8.count)
            for i in utf8.indices { text.append(utf8[i]) }
            JSON.writeString(String(decoding: text, as: UTF8.self), to: &out)
            return
        }
        out.append(UInt8(ascii: "\""))
        out.append(copying: utf8)
        out.append(UInt8(ascii: "\""))
    }

    private static func appendCBOR(_ r: Record, encrypted: Bool, to out: inout [UInt8]) {
        out.append(encrypted ? 0xA5 : 0xA4)
        appendKey(sequenceNumberKey, to: &out)
        if let text = r.sourceSequenceNumber {
            CBOR.writeText(text, to: &out)
        } else {
            CBOR.writeHead(major: 3, 56, to: &out)
            appendSequenceNumber(r, to: &out)
        }
        appendCBORTail(
            milliseconds: r.arrivalMilliseconds, key: r.partitionKey.utf8.span, data: r.data.span,
            encrypted: encrypted, to: &out)
    }

    /// A record's CBOR map entries after its sequence number.
    private static func appendCBORTail(
        milliseconds: Int64, key: Span<UInt8>, data: Span<UInt8>, encrypted: Bool, to out: inout [UInt8]
    ) {
        appendKey(arrivalKey, to: &out)
        out.append(0xC1)
        CBOR.writeInteger(milliseconds, to: &out)
        appendKey(dataKey, to: &out)
        CBOR.writeHead(major: 2, data.count, to: &out)
        out.append(copying: data)
        appendKey(partitionKeyKey, to: &out)
        CBOR.writeHead(major: 3, key.count, to: &out)
        out.append(copying: key)
        if encrypted {
            appendKey(encryptionTypeKey, to: &out)
            appendKey(kms, to: &out)
        }
    }

    private static let shardIdKey = Array("ShardId".utf8)
    private static let shardIdPrefix = Array("shardId-".utf8)
    private static let failedRecordCountKey = Array("FailedRecordCount".utf8)
    private static let jsonFailedRecordCount = Array(#"{"FailedRecordCount":"#.utf8)
    private static let jsonPutRecords = Array(#","Records":["#.utf8)
    private static let jsonEncryptionType = Array(#"],"EncryptionType":"#.utf8)
    private static let jsonStoredShardId = Array(#"","ShardId":"shardId-"#.utf8)
    private static let jsonStoredEnd = Array(#""}"#.utf8)

    /// The body of a `PutRecords` answer in `format`, written straight into one buffer: `FailedRecordCount`,
    /// `Records` (`{"SequenceNumber":…,"ShardId":…}` per stored entry, `{"ErrorCode":…,"ErrorMessage":…}` per
    /// refused one, in request order) and `EncryptionType`, as the value tree of those members would be written.
    /// - Parameters:
    ///   - stored: where the stored entries landed, in order.
    ///   - failures: per entry, the error that refused it or `nil`; `nil` when every entry was stored.
    ///   - encryptionType: `NONE` or `KMS`.
    static func putRecordsResponse(
        _ format: WireFormat, _ stored: [SequenceNumber], failures: [KinesisError?]?, encryptionType: String
    ) -> [UInt8] {
        let count = failures?.count ?? stored.count
        var out: [UInt8] = []
        out.reserveCapacity(count * 110 + 96)
        var entry = PutResultEntry(format)
        var k = 0
        switch format {
        case .json:
            out.append(contentsOf: jsonFailedRecordCount)
            out.appendDecimal(count - stored.count)
            out.append(contentsOf: jsonPutRecords)
            for i in 0..<count {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                if let failure = failures?[i] {
                    Self.failure(failure).write(to: &out)
                    continue
                }
                entry.append(stored[k], to: &out)
                k += 1
            }
            out.append(contentsOf: jsonEncryptionType)
            out.appendJSONString(encryptionType)
            out.append(UInt8(ascii: "}"))
        case .cbor:
            CBOR.writeHead(major: 5, 3, to: &out)
            appendKey(failedRecordCountKey, to: &out)
            CBOR.writeInteger(Int64(count - stored.count), to: &out)
            appendKey(recordsKey, to: &out)
            CBOR.writeHead(major: 4, count, to: &out)
            for i in 0..<count {
                if let failure = failures?[i] {
                    CBOR.write(Self.failure(failure), to: &out)
                    continue
                }
                entry.append(stored[k], to: &out)
                k += 1
            }
            appendKey(encryptionTypeKey, to: &out)
            CBOR.writeText(encryptionType, to: &out)
        }
        return out
    }

    /// A stored entry of a `PutRecords` answer (`{"SequenceNumber":"…","ShardId":"shardId-…"}`, or its CBOR map),
    /// kept whole between entries: for the next offset of the same shard (the usual case) only the sequence
    /// number's last digits are counted up in place (``SequenceDigits``) and the entry is copied out in one piece.
    private struct PutResultEntry {
        private var digits: SequenceDigits

        init(_ format: WireFormat) {
            switch format {
            case .json:
                digits = SequenceDigits(prefix: jsonSequenceNumber) { shard, out in
                    out.append(contentsOf: jsonStoredShardId)
                    appendShardDigits(shard, to: &out)
                    out.append(contentsOf: jsonStoredEnd)
                }
            case .cbor:
                var prefix: [UInt8] = [0xA2]
                appendKey(sequenceNumberKey, to: &prefix)
                CBOR.writeHead(major: 3, 56, to: &prefix)
                digits = SequenceDigits(prefix: prefix) { shard, out in
                    appendKey(shardIdKey, to: &out)
                    var shardDigits: [UInt8] = []
                    appendShardDigits(shard, to: &shardDigits)
                    CBOR.writeHead(major: 3, shardIdPrefix.count + shardDigits.count, to: &out)
                    out.append(contentsOf: shardIdPrefix)
                    out.append(contentsOf: shardDigits)
                }
            }
        }

        mutating func append(_ sequence: SequenceNumber, to out: inout [UInt8]) { digits.append(sequence, to: &out) }
    }

    private static func failure(_ e: KinesisError) -> JSON {
        .fields(["ErrorCode": .string(e.code.name), "ErrorMessage": .string(e.message)])
    }

    /// The digits of a shard id after `shardId-`: at least 12, zero-padded (as ``ShardLog/ShardID/name(_:)``).
    private static func appendShardDigits(_ index: Int, to out: inout [UInt8]) {
        let value = UInt64(max(0, index))
        appendDigits(value, width: max(12, decimalWidth(value)), to: &out)
    }

    /// The number of decimal digits of `value` (1 for 0).
    private static func decimalWidth(_ value: UInt64) -> Int {
        var width = 1
        var v = value
        while v >= 10 {
            v /= 10
            width += 1
        }
        return width
    }

    private static func appendKey(_ key: [UInt8], to out: inout [UInt8]) {
        CBOR.writeHead(major: 3, key.count, to: &out)
        out.append(contentsOf: key)
    }

    /// The 56 digits of a local record's sequence number (`"49"`, 12 digits of shard index, 42 of offset + 1, as
    /// ``ShardLog/SequenceNumber`` formats them), or a remote record's own sequence number (JSON-escaped).
    private static func appendSequenceNumber(_ r: Record, to out: inout [UInt8]) {
        if let text = r.sourceSequenceNumber {
            // JSON only (CBOR writes it as a text string): the text between quotes already written.
            var escaped: [UInt8] = []
            JSON.writeString(text, to: &escaped)
            out.append(contentsOf: escaped.dropFirst().dropLast())
            return
        }
        appendSequenceNumber(r.sequence, to: &out)
    }

    /// The 56 digits of sequence numbers written one after the other (each between a fixed prefix and a suffix
    /// that depends on the shard alone, both empty for bare digits): consecutive offsets of one shard (the records
    /// of a `GetRecords` answer, a run of `PutRecords` results) are counted up in place, in decimal, in the bytes
    /// kept from the previous one, instead of formatted anew.
    private struct SequenceDigits {
        /// The prefix, the 56 digits of ``last``, then ``suffix`` of its shard.
        private var bytes: [UInt8]
        private var last: SequenceNumber?
        private let prefixCount: Int
        private let suffix: (Int, inout [UInt8]) -> Void

        /// - Parameters:
        ///   - prefix: written before each sequence number's digits.
        ///   - suffix: writes what follows the digits for a shard index (called only when the shard changes).
        init(prefix: [UInt8] = [], suffix: @escaping (Int, inout [UInt8]) -> Void = { _, _ in }) {
            bytes = prefix
            prefixCount = prefix.count
            self.suffix = suffix
        }

        mutating func append(_ sequence: SequenceNumber, to out: inout [UInt8]) {
            if let last, last.shardIndex == sequence.shardIndex, last.offset &+ 1 == sequence.offset,
                sequence.offset != 0
            {
                // Position (offset + 1) has at most 20 of its 42 digits: the carry never reaches the shard digits.
                var i = prefixCount + 55
                while i > prefixCount + 14 && bytes[i] == UInt8(ascii: "9") {
                    bytes[i] = UInt8(ascii: "0")
                    i -= 1
                }
                bytes[i] += 1
            } else {
                bytes.removeSubrange(prefixCount...)
                RecordsEncoding.appendSequenceNumber(sequence, to: &bytes)
                suffix(sequence.shardIndex, &bytes)
            }
            last = sequence
            out.append(copying: bytes.span)
        }
    }

    /// The 56 digits of a local sequence number.
    fileprivate static func appendSequenceNumber(_ sequence: SequenceNumber, to out: inout [UInt8]) {
        out.append(52)
        out.append(57)
        appendDigits(UInt64(truncatingIfNeeded: max(0, sequence.shardIndex)), width: 12, to: &out)
        // Position = offset + 1, at most 2^64: 42 digits, the top 22 always zero.
        let position = UInt128(sequence.offset) + 1
        out.append(contentsOf: zeros22)
        if position > UInt128(UInt64.max) {
            out.append(contentsOf: Array("18446744073709551616".utf8))
        } else {
            appendDigits(UInt64(position), width: 20, to: &out)
        }
    }

    private static let zeros22 = [UInt8](repeating: 48, count: 22)

    /// `value` in exactly `width` decimal digits (zero-padded; the lowest `width` digits if longer).
    private static func appendDigits(_ value: UInt64, width: Int, to out: inout [UInt8]) {
        let start = out.count
        out.append(contentsOf: repeatElement(UInt8(48), count: width))
        var digits = out.mutableSpan
        var v = value
        var i = start + width - 1
        while v > 0 && i >= start {
            let (q, r) = v.quotientAndRemainder(dividingBy: 10)
            digits[i] = 48 &+ UInt8(truncatingIfNeeded: r)
            v = q
            i -= 1
        }
    }
}
