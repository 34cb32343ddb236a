/// Records to put, packed: all partition keys back to back in one byte array and all data blobs in another, each
/// with an offsets array, so that filling, hashing, routing and appending a batch allocates per batch, never per
/// record. Reuse one buffer across batches with ``removeAll(keepingCapacity:)``.
///
/// Keys are checked as they are appended (valid UTF-8, 1–256 Unicode scalars); record sizes are checked against
/// the stream's limit when the buffer is put (``DataStream/putRecords(_:into:)``).
/// Thread-safety: a value type; share copies, not one instance, between threads.
public struct RecordBuffer: Sendable {
    /// The partition keys' UTF-8 bytes, back to back.
    public private(set) var keyBytes: [UInt8] = []
    /// `count + 1` offsets: key `i` is `keyBytes[keyOffsets[i]..<keyOffsets[i + 1]]`.
    public private(set) var keyOffsets: [Int] = [0]
    /// The data blobs, back to back.
    public private(set) var dataBytes: [UInt8] = []
    /// `count + 1` offsets: data `i` is `dataBytes[dataOffsets[i]..<dataOffsets[i + 1]]`.
    public private(set) var dataOffsets: [Int] = [0]
    /// Hash keys of records `0..<hashedCount` (MD5 of the key or the explicit hash key); more may be stored.
    private(set) var hashKeys: [UInt128] = []
    /// How many leading records have their hash key in ``hashKeys``.
    private(set) var hashedCount = 0
    /// Records put with an `ExplicitHashKey`, in order of index (rare: kept apart so the common case stays packed).
    private var explicitHashKeys: [(index: Int, hashKey: UInt128)] = []

    /// Creates an empty buffer with room for `records` records of `keyBytes` and `dataBytes` bytes in all.
    public init(records: Int = 0, keyBytes: Int = 0, dataBytes: Int = 0) {
        self.keyBytes.reserveCapacity(keyBytes)
        self.dataBytes.reserveCapacity(dataBytes)
        keyOffsets.reserveCapacity(records + 1)
        dataOffsets.reserveCapacity(records + 1)
    }

    /// The number of records.
    public var count: Int { keyOffsets.count - 1 }
    /// Whether there are none.
    public var isEmpty: Bool { keyOffsets.count == 1 }
    /// The data bytes of all records.
    public var dataByteCount: Int { dataBytes.count }

    /// The byte range of key `i` in ``keyBytes``.
    public func keyRange(_ i: Int) -> Range<Int> { keyOffsets[i]..<keyOffsets[i + 1] }
    /// The byte range of data `i` in ``dataBytes``.
    public func dataRange(_ i: Int) -> Range<Int> { dataOffsets[i]..<dataOffsets[i + 1] }
    /// Partition key `i` (allocates a `String` for keys over 15 bytes: for messages and tests).
    public func partitionKey(_ i: Int) -> String { String(decoding: keyBytes[keyRange(i)], as: UTF8.self) }
    /// Data blob `i`.
    public func data(_ i: Int) -> ArraySlice<UInt8> { dataBytes[dataRange(i)] }

    /// Appends a record whose key is a `String` (already valid Unicode).
    /// - Throws: `.invalidArgument` for a key of no or more than 256 characters (nothing is appended).
    public mutating func append(
        partitionKey: String, data: some Collection<UInt8>, explicitHashKey: UInt128? = nil
    ) throws(ShardLogError) {
        let scalars = partitionKey.utf8.count <= 256 ? partitionKey.utf8.count : partitionKey.unicodeScalars.count
        try Self.checkKeyLength(scalars)
        keyBytes.append(contentsOf: partitionKey.utf8)
        finishAppend(data: data, explicitHashKey: explicitHashKey)
    }

    /// Appends a record from bytes: the key is `key[keyRange]` (UTF-8), the data `data[dataRange]`; both are copied.
    /// - Throws: `.invalidArgument` for a key that is not valid UTF-8 or has no or more than 256 Unicode scalars
    ///   (nothing is appended).
    /// - Complexity: O(key + data bytes); no allocation once the buffer has grown to its working size.
    public mutating func append(
        key: [UInt8], _ keyRange: Range<Int>, data: [UInt8], _ dataRange: Range<Int>, explicitHashKey: UInt128? = nil
    ) throws(ShardLogError) {
        try Self.checkKey(key, keyRange)
        keyBytes.append(contentsOf: key[keyRange])
        finishAppend(data: data[dataRange], explicitHashKey: explicitHashKey)
    }

    /// Appends a record whose key `key[keyRange]` the caller has already passed through ``checkKey(_:_:)`` (the
    /// `put` scanner checks it before the size check, to report in Kinesis' order): copies without checking again.
    /// - Complexity: O(key + data bytes).
    package mutating func append(
        checkedKey key: [UInt8], _ keyRange: Range<Int>, data: [UInt8], _ dataRange: Range<Int>
    ) {
        keyBytes.append(contentsOf: key[keyRange])
        finishAppend(data: data[dataRange], explicitHashKey: nil)
    }

    /// Appends a record whose key `key[keyRange]` the caller has already checked (ASCII of 1–256 bytes, or passed
    /// through ``checkKey(_:_:)``) and whose data `fill` appends to the data bytes itself — a request reader
    /// decodes base64 or copies a CBOR byte string straight into the buffer, with no array in between.
    /// - Returns: `false`, with nothing appended, when `fill` returns `false` (whatever it appended is removed).
    /// - Complexity: O(key + data bytes); no allocation once the buffer has grown to its working size.
    package mutating func append(
        checkedKey key: [UInt8], _ keyRange: Range<Int>, explicitHashKey: UInt128? = nil,
        data fill: (inout [UInt8]) -> Bool
    ) -> Bool {
        let end = dataBytes.count
        guard fill(&dataBytes) else {
            dataBytes.removeSubrange(end...)
            return false
        }
        keyBytes.append(copying: key.span.extracting(keyRange))
        keyOffsets.append(keyBytes.count)
        dataOffsets.append(dataBytes.count)
        if let explicitHashKey { explicitHashKeys.append((count - 1, explicitHashKey)) }
        return true
    }

    private mutating func finishAppend(data: some Collection<UInt8>, explicitHashKey: UInt128?) {
        dataBytes.append(contentsOf: data)
        keyOffsets.append(keyBytes.count)
        dataOffsets.append(dataBytes.count)
        if let explicitHashKey { explicitHashKeys.append((count - 1, explicitHashKey)) }
    }

    /// Checks a key's bytes: valid UTF-8 with 1–256 Unicode scalars (ASCII keys, the usual case, in one pass).
    /// - Throws: `.invalidArgument` naming the problem.
    package static func checkKey(_ bytes: [UInt8], _ range: Range<Int>) throws(ShardLogError) {
        var ascii = true
        for i in range where bytes[i] >= 0x80 {
            ascii = false
            break
        }
        if ascii { return try checkKeyLength(range.count) }
        guard String(validating: bytes[range], as: UTF8.self) != nil else {
            throw ShardLogError(.invalidArgument, "partition key is not valid UTF-8")
        }
        var scalars = 0
        for i in range where bytes[i] & 0xC0 != 0x80 { scalars += 1 }
        try checkKeyLength(scalars)
    }

    private static func checkKeyLength(_ scalars: Int) throws(ShardLogError) {
        guard Limits.partitionKeyLength.contains(scalars) else {
            throw ShardLogError(
                .invalidArgument, "partition key has \(scalars) characters; it must have between 1 and 256")
        }
    }

    /// Removes every record.
    public mutating func removeAll(keepingCapacity: Bool = true) {
        keyBytes.removeAll(keepingCapacity: keepingCapacity)
        dataBytes.removeAll(keepingCapacity: keepingCapacity)
        keyOffsets.removeAll(keepingCapacity: keepingCapacity)
        dataOffsets.removeAll(keepingCapacity: keepingCapacity)
        keyOffsets.append(0)
        dataOffsets.append(0)
        explicitHashKeys.removeAll(keepingCapacity: keepingCapacity)
        hashedCount = 0
    }

    /// Computes the hash keys of the records not hashed yet (MD5 of each key, 8 at a time where the CPU allows, or
    /// the explicit hash key). A put does this itself when needed; a producer can call it earlier on another
    /// thread (as `shardlog put` does on its reading thread) so that routing finds them ready.
    /// - Complexity: O(key bytes of the records not hashed yet).
    public mutating func computeHashKeys() {
        let n = count
        guard hashedCount < n else { return }
        if hashKeys.count < n { hashKeys.append(contentsOf: repeatElement(0, count: n - hashKeys.count)) }
        MD5Key.hash(bytes: keyBytes, offsets: keyOffsets, range: hashedCount..<n, into: &hashKeys)
        let first = explicitHashKeys.partitionPoint { $0.index < hashedCount }
        for (index, key) in explicitHashKeys[first...] { hashKeys[index] = key }
        hashedCount = n
    }

    /// The hash key of record `i`, computed and kept by ``computeHashKeys()``.
    func hashKey(_ i: Int) -> UInt128 {
        precondition(i < hashedCount, "hash key asked for before computeHashKeys()")
        return hashKeys[i]
    }
}
