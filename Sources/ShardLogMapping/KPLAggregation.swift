import Crypto
import Foundation

/// The Kinesis Producer Library's record aggregation format: many user records packed into one Kinesis record, as
/// the KPL writes and the Kinesis Client Library and `aws-kinesis-agg` unpack.
///
/// An aggregated record's data is the magic `F3 89 9A C2`, then the protobuf message
///
/// ```
/// message AggregatedRecord {
///   repeated string partition_key_table     = 1;
///   repeated string explicit_hash_key_table = 2;
///   repeated Record records                 = 3;
/// }
/// message Record {
///   required uint64 partition_key_index     = 1;
///   optional uint64 explicit_hash_key_index = 2;
///   required bytes  data                    = 3;
///   repeated Tag    tags                    = 4;   // Tag { required string key = 1; optional string value = 2; }
/// }
/// ```
///
/// then the 16-byte MD5 of the protobuf bytes. The message is written and read here by hand (varints and
/// length-delimited fields only), so no protobuf runtime is needed. As the KPL does, the Kinesis record that carries
/// an aggregate has the partition key `"a"` and, as its explicit hash key, the hash key (MD5 of the partition key
/// as a decimal 128-bit number) of its first user record, so it lands on that record's shard.
public enum KPLAggregation {
    /// The four bytes every aggregated record starts with.
    public static let magic: [UInt8] = [0xF3, 0x89, 0x9A, 0xC2]
    /// The partition key the KPL gives a Kinesis record that holds more than one user record.
    public static let aggregatePartitionKey = "a"
    /// The largest aggregated record (data), as the KPL and `aws-kinesis-agg` cap it: 1 MiB.
    public static let maxAggregateByteCount = 1 << 20
    /// Magic plus MD5 trailer.
    static let overheadByteCount = 4 + 16

    /// One user record inside an aggregated record.
    public struct UserRecord: Sendable, Equatable {
        /// Its partition key.
        public var partitionKey: String
        /// Its explicit hash key (decimal), if it was put with one.
        public var explicitHashKey: String?
        /// Its data.
        public var data: [UInt8]

        /// Creates a user record.
        /// - Parameters:
        ///   - partitionKey: its partition key.
        ///   - explicitHashKey: its explicit hash key, if any.
        ///   - data: its data.
        public init(partitionKey: String, explicitHashKey: String? = nil, data: [UInt8]) {
            self.partitionKey = partitionKey
            self.explicitHashKey = explicitHashKey
            self.data = data
        }
    }

    /// Packs user records into one aggregated record, keeping its exact encoded size, so a caller fills records up
    /// to a limit. Partition and explicit hash keys are stored once each in the tables. Not thread-safe.
    public struct Aggregator: Sendable {
        /// The largest encoded size (magic, protobuf and MD5) ``add(_:)`` lets the record reach.
        public let maxByteCount: Int
        private var partitionKeys: [String: Int] = [:]
        private var explicitHashKeys: [String: Int] = [:]
        /// The encoded fields, in protobuf field order: tables first, then records.
        private var partitionKeyTable: [UInt8] = []
        private var explicitHashKeyTable: [UInt8] = []
        private var records: [UInt8] = []
        /// User records added.
        public private(set) var count = 0
        /// The first user record's partition key (the aggregate's explicit hash key is derived from it).
        public private(set) var firstPartitionKey: String?

        /// Creates an empty aggregator.
        /// - Parameter maxByteCount: the cap on the encoded record (at most ``maxAggregateByteCount``).
        public init(maxByteCount: Int = KPLAggregation.maxAggregateByteCount) {
            self.maxByteCount = maxByteCount
        }

        /// The encoded size now: magic, protobuf and MD5.
        public var byteCount: Int {
            KPLAggregation.overheadByteCount + partitionKeyTable.count + explicitHashKeyTable.count + records.count
        }

        /// Whether nothing was added.
        public var isEmpty: Bool { count == 0 }

        /// Adds a user record if the encoded record stays within ``maxByteCount``.
        /// - Returns: `false` (and changes nothing) when the record would not fit; an empty aggregator takes any
        ///   record that fits alone.
        public mutating func add(_ record: UserRecord) -> Bool {
            var newPartitionKey: [UInt8] = []
            let partitionIndex = partitionKeys[record.partitionKey] ?? partitionKeys.count
            if partitionKeys[record.partitionKey] == nil {
                ProtobufWriter.appendBytes(field: 1, Array(record.partitionKey.utf8), to: &newPartitionKey)
            }
            var newHashKey: [UInt8] = []
            var hashIndex: Int?
            if let key = record.explicitHashKey {
                hashIndex = explicitHashKeys[key] ?? explicitHashKeys.count
                if explicitHashKeys[key] == nil {
                    ProtobufWriter.appendBytes(field: 2, Array(key.utf8), to: &newHashKey)
                }
            }
            var inner: [UInt8] = []
            ProtobufWriter.appendVarint(field: 1, UInt64(partitionIndex), to: &inner)
            if let hashIndex { ProtobufWriter.appendVarint(field: 2, UInt64(hashIndex), to: &inner) }
            ProtobufWriter.appendBytes(field: 3, record.data, to: &inner)
            var entry: [UInt8] = []
            ProtobufWriter.appendBytes(field: 3, inner, to: &entry)
            guard byteCount + newPartitionKey.count + newHashKey.count + entry.count <= maxByteCount else {
                return false
            }
            if !newPartitionKey.isEmpty {
                partitionKeys[record.partitionKey] = partitionIndex
                partitionKeyTable += newPartitionKey
            }
            if let key = record.explicitHashKey, !newHashKey.isEmpty {
                explicitHashKeys[key] = hashIndex
                explicitHashKeyTable += newHashKey
            }
            records += entry
            count += 1
            if firstPartitionKey == nil { firstPartitionKey = record.partitionKey }
            return true
        }

        /// The aggregated record's data: magic, protobuf, MD5 of the protobuf.
        public func encoded() -> [UInt8] {
            var message = partitionKeyTable
            message += explicitHashKeyTable
            message += records
            return KPLAggregation.framed(message)
        }

        /// Empties the aggregator for the next record.
        public mutating func removeAll() {
            self = Aggregator(maxByteCount: maxByteCount)
        }
    }

    /// An aggregated record's data around a protobuf message: magic, message, MD5 of the message.
    static func framed(_ message: [UInt8]) -> [UInt8] {
        var out = magic
        out.reserveCapacity(message.count + overheadByteCount)
        out += message
        out += Insecure.MD5.hash(data: message)
        return out
    }

    /// The user records of an aggregated record.
    /// - Parameter data: a Kinesis record's data.
    /// - Returns: the user records in order, or `nil` when `data` is not an aggregated record: no magic, an MD5 that
    ///   does not match, a protobuf that does not parse, or a key index outside its table (such data is delivered
    ///   as it is).
    public static func deaggregate(_ data: [UInt8]) -> [UserRecord]? {
        guard data.count > overheadByteCount, data.starts(with: magic) else { return nil }
        let message = data[magic.count..<(data.count - 16)]
        guard Insecure.MD5.hash(data: message).elementsEqual(data[(data.count - 16)...]) else { return nil }
        var partitionKeys: [String] = []
        var hashKeys: [String] = []
        var entries: [(partition: UInt64, hash: UInt64?, data: ArraySlice<UInt8>)] = []
        var reader = ProtobufReader(message)
        do {
            while let field = try reader.next() {
                switch field {
                case (1, .bytes(let bytes)): partitionKeys.append(String(decoding: bytes, as: UTF8.self))
                case (2, .bytes(let bytes)): hashKeys.append(String(decoding: bytes, as: UTF8.self))
                case (3, .bytes(let bytes)):
                    var inner = ProtobufReader(bytes)
                    var entry: (partition: UInt64?, hash: UInt64?, data: ArraySlice<UInt8>?) = (nil, nil, nil)
                    while let innerField = try inner.next() {
                        switch innerField {
                        case (1, .varint(let n)): entry.partition = n
                        case (2, .varint(let n)): entry.hash = n
                        case (3, .bytes(let bytes)): entry.data = bytes
                        default: break  // tags (4) and unknown fields
                        }
                    }
                    guard let partition = entry.partition, let bytes = entry.data else { return nil }
                    entries.append((partition, entry.hash, bytes))
                default: break
                }
            }
        } catch {
            return nil
        }
        var out: [UserRecord] = []
        out.reserveCapacity(entries.count)
        for entry in entries {
            guard entry.partition < partitionKeys.count else { return nil }
            var hashKey: String?
            if let hash = entry.hash {
                guard hash < hashKeys.count else { return nil }
                hashKey = hashKeys[Int(hash)]
            }
            out.append(
                UserRecord(
                    partitionKey: partitionKeys[Int(entry.partition)], explicitHashKey: hashKey,
                    data: Array(entry.data)))
        }
        return out
    }

    /// The records of an event with every aggregated record replaced by its user records, each with the
    /// aggregated record's sequence number and arrival time, its own partition key and data, and its index in the
    /// aggregate as ``EventRecord/subSequenceNumber`` (as the Kinesis Client Library numbers them). A record that
    /// is not an aggregated record (or whose MD5 does not match) is kept as it is.
    public static func expand(_ records: some Sequence<EventRecord>) -> [EventRecord] {
        var out: [EventRecord] = []
        for record in records {
            guard let users = deaggregate(record.data) else {
                out.append(record)
                continue
            }
            for (index, user) in users.enumerated() {
                var sub = record
                sub.partitionKey = user.partitionKey
                sub.data = user.data
                sub.subSequenceNumber = index
                sub.explicitHashKey = user.explicitHashKey
                out.append(sub)
            }
        }
        return out
    }
}

/// Writes the protobuf wire format's varint and length-delimited fields.
enum ProtobufWriter {
    static func appendRawVarint(_ value: UInt64, to bytes: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    static func varintByteCount(_ value: UInt64) -> Int {
        var count = 1
        var v = value >> 7
        while v > 0 {
            count += 1
            v >>= 7
        }
        return count
    }

    /// Field `field` with wire type 0.
    static func appendVarint(field: Int, _ value: UInt64, to bytes: inout [UInt8]) {
        appendRawVarint(UInt64(field << 3), to: &bytes)
        appendRawVarint(value, to: &bytes)
    }

    /// Field `field` with wire type 2 (string, bytes, embedded message).
    static func appendBytes(field: Int, _ value: some Collection<UInt8>, to bytes: inout [UInt8]) {
        appendRawVarint(UInt64(field << 3 | 2), to: &bytes)
        appendRawVarint(UInt64(value.count), to: &bytes)
        bytes.append(contentsOf: value)
    }
}

/// Reads protobuf wire-format fields one at a time, skipping 64- and 32-bit fields.
struct ProtobufReader {
    enum Value {
        case varint(UInt64)
        case bytes(ArraySlice<UInt8>)
        case fixed
    }

    /// Truncated or malformed input.
    struct Malformed: Error {}

    private let bytes: ArraySlice<UInt8>
    private var position: Int

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        self.position = bytes.startIndex
    }

    private mutating func varint() throws(Malformed) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < bytes.endIndex, shift < 64 else { throw Malformed() }
            let byte = bytes[position]
            position += 1
            value |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return value }
            shift += 7
        }
    }

    /// The next field number and value, or `nil` at the end.
    mutating func next() throws(Malformed) -> (Int, Value)? {
        guard position < bytes.endIndex else { return nil }
        let key = try varint()
        let field = Int(truncatingIfNeeded: key >> 3)
        switch key & 7 {
        case 0: return (field, .varint(try varint()))
        case 1, 5:
            let width = key & 7 == 1 ? 8 : 4
            guard bytes.endIndex - position >= width else { throw Malformed() }
            position += width
            return (field, .fixed)
        case 2:
            let length = try varint()
            guard length <= UInt64(bytes.endIndex - position) else { throw Malformed() }
            let start = position
            position += Int(length)
            return (field, .bytes(bytes[start..<position]))
        default: throw Malformed()
        }
    }
}
