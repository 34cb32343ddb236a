/// Short human durations for logs and status lines: `350ms`, `4.2s`, `41s`, `6m41s`, `2h05m`, `3d04h`.
package enum DurationText {
    /// Formats milliseconds.
    /// - Parameter milliseconds: The duration; negative values print as `0ms`.
    /// - Returns: Two units at most, the larger first.
    package static func compact(milliseconds: Int64) -> String {
        let ms = max(0, milliseconds)
        if ms < 1000 { return "\(ms)ms" }
        if ms < 10_000 {
            let tenths = (ms + 50) / 100
            return tenths % 10 == 0 ? "\(tenths / 10)s" : "\(tenths / 10).\(tenths % 10)s"
        }
        let seconds = (ms + 500) / 1000
        if seconds < 60 { return "\(seconds)s" }
        if seconds < 3600 { return "\(seconds / 60)m\(twoDigits(seconds % 60))s" }
        if seconds < 86_400 { return "\(seconds / 3600)h\(twoDigits(seconds % 3600 / 60))m" }
        return "\(seconds / 86_400)d\(twoDigits(seconds % 86_400 / 3600))h"
    }

    /// Formats a duration.
    /// - Parameter duration: The duration.
    /// - Returns: As ``compact(milliseconds:)``.
    package static func compact(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        return compact(milliseconds: seconds * 1000 + attoseconds / 1_000_000_000_000_000)
    }

    private static func twoDigits(_ value: Int64) -> String {
        value < 10 ? "0\(value)" : "\(value)"
    }
}
