/// Standard base64 (RFC 4648, with padding): written straight into an output buffer (the record data of `GetRecords`
/// and `SubscribeToShard` responses), and decoded in one pass (the data of `PutRecord(s)` requests).
enum Base64Text {
    private static let alphabet: [UInt8] = Array(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// The length of the base64 text of `count` bytes.
    static func encodedCount(_ count: Int) -> Int { (count + 2) / 3 * 4 }

    /// Appends the base64 text of `bytes` to `out`.
    static func append(_ bytes: [UInt8], to out: inout [UInt8]) {
        let n = bytes.count
        out.reserveCapacity(out.count + encodedCount(n))
        let table = alphabet
        var i = 0
        while i + 3 <= n {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out.append(table[Int(v >> 18)])
            out.append(table[Int((v >> 12) & 63)])
            out.append(table[Int((v >> 6) & 63)])
            out.append(table[Int(v & 63)])
            i += 3
        }
        switch n - i {
        case 1:
            let v = UInt32(bytes[i]) << 16
            out.append(table[Int(v >> 18)])
            out.append(table[Int((v >> 12) & 63)])
            out.append(UInt8(ascii: "="))
            out.append(UInt8(ascii: "="))
        case 2:
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out.append(table[Int(v >> 18)])
            out.append(table[Int((v >> 12) & 63)])
            out.append(table[Int((v >> 6) & 63)])
            out.append(UInt8(ascii: "="))
        default:
            break
        }
    }

    /// 0–63 for a base64 digit, 64 for `=`, 255 for any other byte.
    private static let values: [UInt8] = (0..<256).map { byte -> UInt8 in
        if let i = alphabet.firstIndex(of: UInt8(byte)) { return UInt8(i) }
        return byte == Int(UInt8(ascii: "=")) ? 64 : 255
    }

    /// The bytes of padded base64 text, or `nil` when it is not base64 (a length that is no multiple of 4, a byte
    /// outside the alphabet, padding that is not at the end or longer than two).
    static func decode(_ text: String) -> [UInt8]? {
        let utf8 = text.utf8
        let count = utf8.count
        guard count % 4 == 0 else { return nil }
        let table = values
        var out: [UInt8] = []
        out.reserveCapacity(count / 4 * 3)
        var accumulated: UInt32 = 0
        var digits = 0
        var padding = 0
        for c in utf8 {
            var v = table[Int(c)]
            if v == 64 {
                padding += 1
                v = 0
            } else if v == 255 || padding > 0 {
                return nil
            }
            accumulated = accumulated << 6 | UInt32(v)
            digits += 1
            if digits == 4 {
                out.append(UInt8(truncatingIfNeeded: accumulated >> 16))
                out.append(UInt8(truncatingIfNeeded: accumulated >> 8))
                out.append(UInt8(truncatingIfNeeded: accumulated))
                digits = 0
                accumulated = 0
            }
        }
        guard padding <= 2 else { return nil }
        out.removeLast(padding)
        return out
    }
}
