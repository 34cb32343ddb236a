import ShardLogWire
/// One message of the `application/vnd.amazon.eventstream` framing used by `SubscribeToShard`.
///
/// Layout (big-endian): `u32 total length | u32 headers length | u32 CRC32(prelude) | headers | payload |
/// u32 CRC32(everything before)`. Each header: `u8 name length | name | u8 type (7 = string) | u16 value length |
/// value`. CRC32 is the IEEE/zlib polynomial.
struct EventStreamMessage {
    var headers: [(name: String, value: String)]
    var payload: [UInt8]

    /// An `event` message of `eventType` with a JSON payload.
    static func event(_ eventType: String, payload: [UInt8]) -> EventStreamMessage {
        EventStreamMessage(
            headers: [
                (":event-type", eventType), (":content-type", "application/json"), (":message-type", "event"),
            ],
            payload: payload)
    }

    /// An `event` message of `eventType` whose payload is `value` in the wire format of the request being answered
    /// (``WireFormat/current``): JSON, or CBOR for a CBOR request, as AWS answers the Java SDK.
    static func event(_ eventType: String, _ value: JSON, format: WireFormat = .current) -> EventStreamMessage {
        EventStreamMessage(
            headers: [
                (":event-type", eventType), (":content-type", format.eventPayloadContentType),
                (":message-type", "event"),
            ],
            payload: format.encode(value))
    }

    /// An `exception` message carrying a Kinesis error, its payload in ``WireFormat/current``.
    static func exception(_ error: KinesisError, format: WireFormat = .current) -> EventStreamMessage {
        EventStreamMessage(
            headers: [
                (":exception-type", error.code.name), (":content-type", format.eventPayloadContentType),
                (":message-type", "exception"),
            ],
            payload: format.encode(JSON.fields(["message": .string(error.message)])))
    }

    /// The encoded message.
    var bytes: [UInt8] {
        var headerBytes: [UInt8] = []
        for (name, value) in headers {
            let n = Array(name.utf8.prefix(255))
            let v = Array(value.utf8.prefix(65_535))
            headerBytes.append(UInt8(n.count))
            headerBytes.append(contentsOf: n)
            headerBytes.append(7)
            headerBytes.append(UInt8(v.count >> 8))
            headerBytes.append(UInt8(v.count & 0xff))
            headerBytes.append(contentsOf: v)
        }
        let total = 12 + headerBytes.count + payload.count + 4
        var out: [UInt8] = []
        out.reserveCapacity(total)
        Self.appendUInt32(UInt32(total), to: &out)
        Self.appendUInt32(UInt32(headerBytes.count), to: &out)
        Self.appendUInt32(CRC32.checksum(out), to: &out)
        out.append(contentsOf: headerBytes)
        out.append(contentsOf: payload)
        Self.appendUInt32(CRC32.checksum(out), to: &out)
        return out
    }

    private static func appendUInt32(_ v: UInt32, to out: inout [UInt8]) {
        out.append(UInt8(v >> 24))
        out.append(UInt8((v >> 16) & 0xff))
        out.append(UInt8((v >> 8) & 0xff))
        out.append(UInt8(v & 0xff))
    }
}

/// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), as zlib's `crc32`.
enum CRC32 {
    private static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    /// The CRC-32 of `bytes`.
    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes { crc = table[Int((crc ^ UInt32(b)) & 0xff)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }
}
