import Foundation

/// Hand-rolled JSON output into a byte buffer, for the hot event-encoding path.
extension Array where Element == UInt8 {
    /// Appends `string` as a quoted JSON string.
    mutating func appendJSONString(_ string: String) {
        append(UInt8(ascii: "\""))
        appendJSONStringContents(string)
        append(UInt8(ascii: "\""))
    }

    /// Appends `string` JSON-escaped, without quotes. Non-ASCII text is written as raw UTF-8, as AWS does;
    /// `"`, `\` and control characters are escaped.
    mutating func appendJSONStringContents(_ string: String) {
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""):
                append(UInt8(ascii: "\\"))
                append(UInt8(ascii: "\""))
            case UInt8(ascii: "\\"):
                append(UInt8(ascii: "\\"))
                append(UInt8(ascii: "\\"))
            case 0x0A:
                append(UInt8(ascii: "\\"))
                append(UInt8(ascii: "n"))
            case 0x0D:
                append(UInt8(ascii: "\\"))
                append(UInt8(ascii: "r"))
            case 0x09:
                append(UInt8(ascii: "\\"))
                append(UInt8(ascii: "t"))
            case 0x08:
                append(UInt8(ascii: "\\"))
                append(UInt8(ascii: "b"))
            case 0x0C:
                append(UInt8(ascii: "\\"))
                append(UInt8(ascii: "f"))
            case 0..<0x20:
                append(contentsOf: "\\u00".utf8)
                append(hexDigits[Int(byte >> 4)])
                append(hexDigits[Int(byte & 0x0F)])
            default:
                append(byte)
            }
        }
    }

    /// The number of bytes ``appendJSONStringContents(_:)`` writes for `string`.
    static func jsonEscapedByteCount(_ string: String) -> Int {
        var count = 0
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), 0x0A, 0x0D, 0x09, 0x08, 0x0C:
                count += 2
            case 0..<0x20:
                count += 6
            default:
                count += 1
            }
        }
        return count
    }

    /// Appends a decimal integer.
    mutating func appendDecimal(_ value: Int) {
        if value < 0 {
            append(UInt8(ascii: "-"))
        }
        var magnitude = value.magnitude
        var digits: [UInt8] = []
        repeat {
            digits.append(UInt8(ascii: "0") + UInt8(magnitude % 10))
            magnitude /= 10
        } while magnitude > 0
        append(contentsOf: digits.reversed())
    }

    /// The number of bytes ``appendDecimal(_:)`` writes for `value`.
    static func decimalByteCount(_ value: Int) -> Int {
        var count = value < 0 ? 2 : 1
        var magnitude = value.magnitude
        while magnitude >= 10 {
            magnitude /= 10
            count += 1
        }
        return count
    }

    /// Appends a JSON number: integral values below 10^15 without a fraction, others in Swift's shortest form.
    mutating func appendJSONNumber(_ value: Double) {
        if value.isFinite, value == value.rounded(), Swift.abs(value) < 1e15 {
            appendDecimal(Int(value))
        } else if value.isFinite {
            append(contentsOf: "\(value)".utf8)
        } else {
            append(contentsOf: "null".utf8)
        }
    }

    /// Appends the standard (RFC 4648, padded) base64 encoding of `data`.
    mutating func appendBase64(_ data: [UInt8]) {
        reserveCapacity(count + Self.base64ByteCount(data.count))
        var index = 0
        let fullEnd = data.count - data.count % 3
        while index < fullEnd {
            let chunk = UInt32(data[index]) << 16 | UInt32(data[index + 1]) << 8 | UInt32(data[index + 2])
            append(base64Alphabet[Int(chunk >> 18 & 0x3F)])
            append(base64Alphabet[Int(chunk >> 12 & 0x3F)])
            append(base64Alphabet[Int(chunk >> 6 & 0x3F)])
            append(base64Alphabet[Int(chunk & 0x3F)])
            index += 3
        }
        switch data.count - fullEnd {
        case 1:
            let chunk = UInt32(data[index]) << 16
            append(base64Alphabet[Int(chunk >> 18 & 0x3F)])
            append(base64Alphabet[Int(chunk >> 12 & 0x3F)])
            append(UInt8(ascii: "="))
            append(UInt8(ascii: "="))
        case 2:
            let chunk = UInt32(data[index]) << 16 | UInt32(data[index + 1]) << 8
            append(base64Alphabet[Int(chunk >> 18 & 0x3F)])
            append(base64Alphabet[Int(chunk >> 12 & 0x3F)])
            append(base64Alphabet[Int(chunk >> 6 & 0x3F)])
            append(UInt8(ascii: "="))
        default:
            break
        }
    }

    /// The length of the padded base64 encoding of `byteCount` bytes.
    static func base64ByteCount(_ byteCount: Int) -> Int {
        (byteCount + 2) / 3 * 4
    }
}

private let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
private let base64Alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

/// The timestamp forms of Lambda's JSON: epoch seconds with exactly three decimals, and ISO 8601 UTC strings.
package enum JSONTimestamp {
    /// Milliseconds since 1970, rounded to the nearest millisecond (0 for dates that don't fit).
    package static func epochMilliseconds(_ date: Date) -> Int {
        let milliseconds = (date.timeIntervalSince1970 * 1000).rounded()
        guard milliseconds.isFinite, Swift.abs(milliseconds) < 9e15 else {
            return 0
        }
        return Int(milliseconds)
    }

    /// Appends epoch seconds with exactly three decimals, such as `1545084650.987`.
    static func appendEpochSeconds(_ date: Date, to bytes: inout [UInt8]) {
        var milliseconds = epochMilliseconds(date)
        if milliseconds < 0 {
            bytes.append(UInt8(ascii: "-"))
            milliseconds = -milliseconds
        }
        bytes.appendDecimal(milliseconds / 1000)
        bytes.append(UInt8(ascii: "."))
        let fraction = milliseconds % 1000
        bytes.append(UInt8(ascii: "0") + UInt8(fraction / 100))
        bytes.append(UInt8(ascii: "0") + UInt8(fraction / 10 % 10))
        bytes.append(UInt8(ascii: "0") + UInt8(fraction % 10))
    }

    /// The number of bytes ``appendEpochSeconds(_:to:)`` writes for `date`.
    static func epochSecondsByteCount(_ date: Date) -> Int {
        let milliseconds = epochMilliseconds(date)
        let sign = milliseconds < 0 ? 1 : 0
        return sign + [UInt8].decimalByteCount(Swift.abs(milliseconds) / 1000) + 4
    }

    /// `2019-11-14T00:38:06Z`, or `2019-11-14T00:38:06.021Z` with `milliseconds`.
    package static func iso8601(_ date: Date, milliseconds: Bool) -> String {
        let total = epochMilliseconds(date)
        let millisecondsPerDay = 86_400_000
        var days = total / millisecondsPerDay
        var remainder = total % millisecondsPerDay
        if remainder < 0 {
            remainder += millisecondsPerDay
            days -= 1
        }
        let (year, month, day) = civilDate(fromDays: days)
        let seconds = remainder / 1000
        var text = "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T"
        text += "\(pad(seconds / 3600, 2)):\(pad(seconds / 60 % 60, 2)):\(pad(seconds % 60, 2))"
        if milliseconds {
            text += ".\(pad(remainder % 1000, 3))"
        }
        return text + "Z"
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value.magnitude)
        let padding = String(repeating: "0", count: Swift.max(0, width - digits.count))
        return (value < 0 ? "-" : "") + padding + digits
    }

    /// Converts days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `civil_from_days`).
    static func civilDate(fromDays days: Int) -> (year: Int, month: Int, day: Int) {
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }
}
