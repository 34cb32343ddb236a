import Foundation

/// Hand-rolled JSON output into a byte buffer: the pieces ``JSON/write(to:)`` and the hot encoding paths (Lambda
/// events, GetRecords responses) write with.
extension Array where Element == UInt8 {
    /// Appends `string` as a quoted JSON string.
    package mutating func appendJSONString(_ string: String) {
        append(UInt8(ascii: "\""))
        appendJSONStringContents(string)
        append(UInt8(ascii: "\""))
    }

    /// Appends `string` JSON-escaped, without quotes. Non-ASCII text is written as raw UTF-8, as AWS does;
    /// `"`, `\` and control characters are escaped.
    package mutating func appendJSONStringContents(_ string: String) {
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
    package static func jsonEscapedByteCount(_ string: String) -> Int {
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
    package mutating func appendDecimal(_ value: Int) {
        if value < 0 {
            append(UInt8(ascii: "-"))
        }
        let magnitude = UInt64(value.magnitude)
        appendDigits(magnitude, width: Self.decimalByteCount(Int(clamping: magnitude)))
    }

    /// Appends `value` in exactly `width` decimal digits (zero-padded; the lowest `width` digits if longer), without
    /// allocating.
    package mutating func appendDigits(_ value: UInt64, width: Int) {
        let start = count
        append(contentsOf: repeatElement(UInt8(ascii: "0"), count: width))
        var remaining = value
        var index = start + width - 1
        while remaining > 0 && index >= start {
            self[index] = UInt8(ascii: "0") + UInt8(remaining % 10)
            remaining /= 10
            index -= 1
        }
    }

    /// The number of bytes ``appendDecimal(_:)`` writes for `value`.
    package static func decimalByteCount(_ value: Int) -> Int {
        var count = value < 0 ? 2 : 1
        var magnitude = value.magnitude
        while magnitude >= 10 {
            magnitude /= 10
            count += 1
        }
        return count
    }

    /// Appends a JSON number: integral values below 10^15 without a fraction, others in Swift's shortest form.
    package mutating func appendJSONNumber(_ value: Double) {
        if value.isFinite, value == value.rounded(), Swift.abs(value) < 1e15 {
            appendDecimal(Int(value))
        } else if value.isFinite {
            append(contentsOf: "\(value)".utf8)
        } else {
            append(contentsOf: "null".utf8)
        }
    }

    /// Appends the standard (RFC 4648, padded) base64 encoding of `data` (``Base64Text/append(_:to:)``).
    package mutating func appendBase64(_ data: [UInt8]) {
        Base64Text.append(data, to: &self)
    }

    /// The length of the padded base64 encoding of `byteCount` bytes.
    package static func base64ByteCount(_ byteCount: Int) -> Int {
        Base64Text.encodedCount(byteCount)
    }
}

private let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

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
    package static func appendEpochSeconds(_ date: Date, to bytes: inout [UInt8]) {
        appendEpochSeconds(milliseconds: Int64(epochMilliseconds(date)), to: &bytes)
    }

    /// Appends `milliseconds` since 1970 as epoch seconds with exactly three decimals (`1545084650.987`, never in
    /// exponent notation, as the AWS SDKs read timestamps): the one epoch-seconds formatter of server, mapping and CLI.
    package static func appendEpochSeconds(milliseconds: Int64, to bytes: inout [UInt8]) {
        if milliseconds < 0 {
            bytes.append(UInt8(ascii: "-"))
        }
        let magnitude = milliseconds.magnitude
        bytes.appendDigits(magnitude / 1000, width: [UInt8].decimalByteCount(Int(clamping: magnitude / 1000)))
        bytes.append(UInt8(ascii: "."))
        bytes.appendDigits(magnitude % 1000, width: 3)
    }

    /// The number of bytes ``appendEpochSeconds(_:to:)`` writes for `date`.
    package static func epochSecondsByteCount(_ date: Date) -> Int {
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
    package static func civilDate(fromDays days: Int) -> (year: Int, month: Int, day: Int) {
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
