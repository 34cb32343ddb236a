/// A plain-text table for standard output: a header row, a rule, and rows whose numeric columns are right-aligned.
///
/// A value type.
struct TextTable: Sendable, Equatable {
    /// Column titles.
    var headers: [String]
    /// Cells, one array per row (short rows are padded with empty cells).
    var rows: [[String]]

    /// The table as lines joined by newlines (with a trailing newline).
    func render() -> String {
        let columns = max(headers.count, rows.map(\.count).max() ?? 0)
        let padded = ([headers] + rows).map { $0 + Array(repeating: "", count: columns - $0.count) }
        let widths = (0..<columns).map { column in padded.map { $0[column].count }.max() ?? 0 }
        let numeric = (0..<columns).map { column in
            rows.allSatisfy { row in column >= row.count || row[column].isEmpty || Self.looksNumeric(row[column]) }
        }
        var lines: [String] = []
        for (index, row) in padded.enumerated() {
            let cells = row.enumerated().map { column, cell in
                let pad = String(repeating: " ", count: widths[column] - cell.count)
                return numeric[column] ? pad + cell : cell + pad
            }
            lines.append(cells.joined(separator: "  ").trimmingTrailingSpaces())
            if index == 0 {
                lines.append(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  "))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private static func looksNumeric(_ cell: String) -> Bool {
        guard let first = cell.first else { return false }
        return first.isNumber || first == "±" || first == "-" || first == "~"
    }
}

extension String {
    fileprivate func trimmingTrailingSpaces() -> String {
        var result = self
        while result.last == " " { result.removeLast() }
        return result
    }
}

/// Number formatting for tables, charts and the CLI's status lines: locale-independent, so output is the same
/// everywhere.
package enum NumberText {
    /// An integer with thousands separators: `1,234,567`.
    /// - Parameter value: The value, rounded to the nearest integer.
    /// - Returns: The text.
    package static func grouped(_ value: Double) -> String {
        guard value.isFinite else { return "-" }
        let rounded = Int(value.rounded())
        let digits = String(rounded.magnitude)
        var result = ""
        for (index, character) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { result.append(",") }
            result.append(character)
        }
        return rounded < 0 ? "-" + result : result
    }

    /// A value with a fixed number of decimals: `fixed(3.14159, 2)` is `3.14`.
    /// - Parameters:
    ///   - value: The value.
    ///   - decimals: Digits after the point (0–9).
    /// - Returns: The text.
    static func fixed(_ value: Double, _ decimals: Int) -> String {
        guard value.isFinite else { return "-" }
        let scale = pow10(decimals)
        let scaled = (abs(value) * scale).rounded()
        let whole = Int(scaled / scale)
        let fraction = Int(scaled - Double(whole) * scale)
        let sign = value < 0 && scaled > 0 ? "-" : ""
        guard decimals > 0 else { return sign + String(whole) }
        let fractionText = String(fraction)
        return sign + String(whole) + "." + String(repeating: "0", count: decimals - fractionText.count) + fractionText
    }

    /// A compact value for chart axes: `950`, `1.5k`, `20k`, `1.2M`, `3G`.
    /// - Parameter value: The value.
    /// - Returns: The text.
    static func compact(_ value: Double) -> String {
        let units: [(Double, String)] = [(1e9, "G"), (1e6, "M"), (1e3, "k")]
        for (scale, suffix) in units where abs(value) >= scale {
            return trimmed(value / scale) + suffix
        }
        return trimmed(value)
    }

    /// A duration given in microseconds, in the unit that reads best: `850 µs`, `12.3 ms`, `1.52 s`.
    /// - Parameter microseconds: The duration.
    /// - Returns: The text.
    static func duration(microseconds: Double) -> String {
        if microseconds >= 1_000_000 { return fixed(microseconds / 1_000_000, 2) + " s" }
        if microseconds >= 10_000 { return fixed(microseconds / 1000, 1) + " ms" }
        if microseconds >= 1000 { return fixed(microseconds / 1000, 2) + " ms" }
        return fixed(microseconds, 0) + " µs"
    }

    /// A spread as `±N%` (half the range over the median), or `-` for a single measurement.
    /// - Parameter spread: The measurements.
    /// - Returns: The text.
    static func plusMinus(_ spread: Spread) -> String {
        guard spread.samples.count > 1 else { return "-" }
        return "±" + fixed(spread.halfRangePercent, spread.halfRangePercent < 10 ? 1 : 0) + "%"
    }

    private static func trimmed(_ value: Double) -> String {
        let text = abs(value) >= 100 ? fixed(value, 0) : abs(value) >= 10 ? fixed(value, 1) : fixed(value, 2)
        guard text.contains(".") else { return text }
        var result = text
        while result.last == "0" { result.removeLast() }
        if result.last == "." { result.removeLast() }
        return result
    }

    private static func pow10(_ exponent: Int) -> Double {
        (0..<max(0, min(exponent, 9))).reduce(1.0) { value, _ in value * 10 }
    }
}
