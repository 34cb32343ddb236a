import Foundation

/// A line chart rendered by our own code as standalone SVG (no scripts, fonts or fetches): axes with ticks, one
/// polyline per series (dashed for reference lines such as the ideal line or a peer's figure), markers, error bars
/// for the spread of repeated runs, and a legend.
///
/// A value type. Non-positive values are left out on a logarithmic axis.
struct LineChart: Sendable, Equatable {
    /// How an axis maps values to positions.
    enum Scale: Sendable, Equatable {
        /// Evenly spaced values, starting at zero.
        case linear
        /// Evenly spaced powers of `base` (2 for shard counts, 10 for throughput).
        case log(base: Double)
    }

    /// One point of a series.
    struct Point: Sendable, Equatable {
        /// Horizontal value.
        var x: Double
        /// Vertical value.
        var y: Double
        /// The spread of the runs behind `y` (their minimum and maximum), drawn as an error bar.
        var spread: ClosedRange<Double>? = nil
    }

    /// One line.
    struct Series: Sendable, Equatable {
        /// The legend's text.
        var name: String
        /// The points, drawn in order of `x`.
        var points: [Point]
        /// An index into the palette (lines that belong together, like a measurement and its ideal, share one).
        var colorIndex: Int
        /// Draw dashed and without markers (reference lines).
        var dashed = false
    }

    /// The heading above the plot.
    var title: String
    /// The horizontal axis' label.
    var xLabel: String
    /// The vertical axis' label.
    var yLabel: String
    /// Horizontal scale.
    var xScale = Scale.log(base: 2)
    /// Vertical scale.
    var yScale = Scale.log(base: 10)
    /// The lines.
    var series: [Series]
    /// Width in pixels.
    var width = 760
    /// Height in pixels.
    var height = 420

    /// Line colours (colour-blind-friendly, after Okabe–Ito).
    static let palette = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#999999"]

    private var plot: (left: Double, top: Double, right: Double, bottom: Double) {
        (74, 40, Double(width) - 190, Double(height) - 52)
    }

    /// The chart as an SVG document (`<svg xmlns=…>…</svg>`), usable inline in HTML or as a `.svg` file.
    func svg() -> String {
        let xs = visible(series.flatMap { $0.points.map(\.x) }, xScale)
        let ys = visible(
            series.flatMap { $0.points.flatMap { [$0.y] + ($0.spread.map { [$0.lowerBound, $0.upperBound] } ?? []) } },
            yScale)
        let xRange = Self.range(xs, xScale, padLinear: false)
        let yRange = Self.range(ys, yScale, padLinear: true)
        let box = plot
        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(width)" height="\(height)" \
            viewBox="0 0 \(width) \(height)" font-family="sans-serif" font-size="12" role="img">
            <title>\(escape(title))</title>
            <rect x="0" y="0" width="\(width)" height="\(height)" fill="#ffffff"/>
            <text x="\(Int(box.left))" y="22" font-size="15" font-weight="bold">\(escape(title))</text>

            """
        func px(_ x: Double) -> Double { Self.position(x, xRange, xScale, box.left, box.right) }
        func py(_ y: Double) -> Double { Self.position(y, yRange, yScale, box.bottom, box.top) }

        // Grid and ticks.
        for tick in Self.ticks(xRange, xScale, data: xs) {
            let x = px(tick)
            out += line(x, box.top, x, box.bottom, stroke: "#e5e5e5")
            out += text(x, box.bottom + 16, NumberText.compact(tick), anchor: "middle")
        }
        for tick in Self.ticks(yRange, yScale, data: []) {
            let y = py(tick)
            out += line(box.left, y, box.right, y, stroke: "#e5e5e5")
            out += text(box.left - 6, y + 4, NumberText.compact(tick), anchor: "end")
        }
        out += """
            <rect x="\(f(box.left))" y="\(f(box.top))" width="\(f(box.right - box.left))" \
            height="\(f(box.bottom - box.top))" fill="none" stroke="#444444"/>

            """
        out += text((box.left + box.right) / 2, Double(height) - 12, Self.axisLabel(xLabel, xScale), anchor: "middle")
        let middle = (box.top + box.bottom) / 2
        out += """
            <text x="16" y="\(f(middle))" text-anchor="middle" transform="rotate(-90 16 \(f(middle)))">\
            \(escape(Self.axisLabel(yLabel, yScale)))</text>

            """

        // Lines, markers, legend.
        for (index, line) in series.enumerated() {
            let color = Self.palette[line.colorIndex % Self.palette.count]
            let points = line.points.filter { Self.isVisible($0.x, xScale) && Self.isVisible($0.y, yScale) }
                .sorted { $0.x < $1.x }
            if !points.isEmpty {
                let path = points.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " ")
                let dash = line.dashed ? #" stroke-dasharray="6 4""# : ""
                out += """
                    <polyline points="\(path)" fill="none" stroke="\(color)" stroke-width="2"\(dash)/>

                    """
                for point in points where !line.dashed {
                    guard let spread = point.spread, Self.isVisible(spread.lowerBound, yScale),
                        Self.isVisible(spread.upperBound, yScale), spread.upperBound > spread.lowerBound
                    else { continue }
                    let x = px(point.x)
                    let (low, high) = (py(spread.lowerBound), py(spread.upperBound))
                    out += """
                        <g class="error-bar" stroke="\(color)" stroke-width="1.5"><title>\(escape(line.name)): \
                        \(NumberText.compact(spread.lowerBound))–\(NumberText.compact(spread.upperBound)) \
                        (min–max of runs)</title>
                        \(self.line(x, low, x, high, stroke: color))\(self.line(x - 4, low, x + 4, low, stroke: color))\
                        \(self.line(x - 4, high, x + 4, high, stroke: color))</g>

                        """
                }
                if !line.dashed {
                    for point in points {
                        out += """
                            <circle cx="\(f(px(point.x)))" cy="\(f(py(point.y)))" r="3" fill="\(color)"/>

                            """
                    }
                }
            }
            let legendY = box.top + 8 + Double(index) * 18
            let dash = line.dashed ? #" stroke-dasharray="6 4""# : ""
            out += """
                <line x1="\(f(box.right + 14))" y1="\(f(legendY))" x2="\(f(box.right + 40))" y2="\(f(legendY))" \
                stroke="\(color)" stroke-width="2"\(dash)/>

                """
            out += text(box.right + 46, legendY + 4, line.name, anchor: "start")
        }
        if xs.isEmpty || ys.isEmpty {
            out += text((box.left + box.right) / 2, middle, "no data", anchor: "middle")
        }
        out += "</svg>\n"
        return out
    }

    private func visible(_ values: [Double], _ scale: Scale) -> [Double] {
        values.filter { Self.isVisible($0, scale) }
    }

    private static func isVisible(_ value: Double, _ scale: Scale) -> Bool {
        guard value.isFinite else { return false }
        if case .log = scale { return value > 0 }
        return true
    }

    /// An axis title that says when the axis is logarithmic: `shards (log scale)`.
    static func axisLabel(_ label: String, _ scale: Scale) -> String {
        if case .log = scale { return label + " (log scale)" }
        return label
    }

    /// The axis' value range: data bounds widened to whole log steps, or from 0 to a round number.
    static func range(_ values: [Double], _ scale: Scale, padLinear: Bool) -> ClosedRange<Double> {
        guard let low = values.min(), let high = values.max() else { return 0...1 }
        switch scale {
        case .log(let base):
            let lower = pow(base, (log(low) / log(base)).rounded(.down))
            var upper = pow(base, (log(high) / log(base)).rounded(.up))
            if upper <= lower { upper = lower * base }
            return lower...upper
        case .linear:
            let lower = min(0, low)
            let upper = padLinear ? niceCeiling(high * 1.05) : high
            return lower...(upper > lower ? upper : lower + 1)
        }
    }

    /// A value's pixel position between `from` (at the range's start) and `to`.
    static func position(
        _ value: Double, _ range: ClosedRange<Double>, _ scale: Scale, _ from: Double, _ to: Double
    ) -> Double {
        let fraction: Double
        switch scale {
        case .log:
            fraction = (log(value) - log(range.lowerBound)) / (log(range.upperBound) - log(range.lowerBound))
        case .linear:
            fraction = (value - range.lowerBound) / (range.upperBound - range.lowerBound)
        }
        return from + (to - from) * fraction
    }

    /// Tick values: the data's own values on a base-2 axis (shard counts), 1-2-5 steps on a base-10 axis, round
    /// steps on a linear one.
    static func ticks(_ range: ClosedRange<Double>, _ scale: Scale, data: [Double]) -> [Double] {
        switch scale {
        case .log(let base) where base == 2 && !data.isEmpty:
            return Array(Set(data)).sorted()
        case .log(let base):
            var ticks: [Double] = []
            var decade = range.lowerBound
            while decade <= range.upperBound * 1.0001 && ticks.count < 60 {
                let steps: [Double] = base == 10 ? [1, 2, 5] : [1]
                for step in steps where decade * step <= range.upperBound * 1.0001 {
                    ticks.append(decade * step)
                }
                decade *= base
            }
            let decades = log(range.upperBound / range.lowerBound) / log(base)
            guard decades > 4 else { return ticks }
            return ticks.filter { tick in
                let exponent = log(tick) / log(base)
                return abs(exponent - exponent.rounded()) < 1e-9
            }
        case .linear:
            let step = niceCeiling((range.upperBound - range.lowerBound) / 5)
            guard step > 0 else { return [range.lowerBound] }
            return stride(from: range.lowerBound, through: range.upperBound + step / 1000, by: step).map { $0 }
        }
    }

    /// The smallest 1, 2, 2.5 or 5 × 10^k at or above `value`.
    static func niceCeiling(_ value: Double) -> Double {
        guard value > 0 else { return 1 }
        let magnitude = pow(10, log10(value).rounded(.down))
        for step in [1, 2, 2.5, 5, 10] where step * magnitude >= value * 0.999_999 {
            return step * magnitude
        }
        return 10 * magnitude
    }

    /// A horizontal dashed reference line at `value` across the x values `xs` (a peer's figure measured in the
    /// same run, like the best Redis XADD rate), for ``series``.
    static func reference(name: String, value: Double, across xs: [Double], colorIndex: Int) -> Series? {
        guard let low = xs.min(), let high = xs.max(), value.isFinite, value > 0 else { return nil }
        return Series(
            name: name, points: [Point(x: low, y: value), Point(x: high, y: value)], colorIndex: colorIndex,
            dashed: true)
    }

    private func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, stroke: String) -> String {
        """
        <line x1="\(f(x1))" y1="\(f(y1))" x2="\(f(x2))" y2="\(f(y2))" stroke="\(stroke)"/>

        """
    }

    private func text(_ x: Double, _ y: Double, _ content: String, anchor: String) -> String {
        """
        <text x="\(f(x))" y="\(f(y))" text-anchor="\(anchor)">\(escape(content))</text>

        """
    }

    private func f(_ value: Double) -> String { NumberText.fixed(value, 1) }
}

/// `text` with `&`, `<`, `>`, `"` and `'` escaped for XML and HTML.
/// - Parameter text: Any text.
/// - Returns: The escaped text.
func escape(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.count)
    for character in text {
        switch character {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.append(character)
        }
    }
    return out
}
