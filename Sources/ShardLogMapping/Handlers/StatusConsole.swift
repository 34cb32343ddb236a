import Foundation
import Synchronization

/// Standard error shared by handler output, log lines and a status line redrawn in place.
///
/// On a terminal `shardlog map` shows a status line at the bottom; everything else written through here is printed
/// above it: the line is cleared (`CR`, `ESC [ K`), the lines are written, and the status is drawn again, all in
/// one `write` under one lock, so a handler's line and the status never share a line. The status is drawn with
/// auto-wrap off (`ESC [ ? 7 l`) so a long status is cut at the terminal's edge instead of wrapping, which would
/// leave stale lines behind. Thread-safe: one `Mutex` around each write.
package final class StatusConsole: Sendable {
    /// File descriptor 2.
    package static let standardError = StatusConsole(descriptor: 2)

    private let descriptor: Int32
    private let status = Mutex<[UInt8]?>(nil)
    private static let clearLine = Array("\r\u{1B}[K".utf8)

    private init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    /// Writes `bytes` (whole lines, each ending in a newline) above the status line.
    /// - Parameter bytes: The lines.
    package func writeLines(_ bytes: [UInt8]) {
        status.withLock { status in
            guard let status else {
                writeAll(bytes)
                return
            }
            writeAll(Self.clearLine + bytes + status)
        }
    }

    /// Draws `text` as the status line, replacing the previous one; `nil` removes it.
    /// - Parameter text: One line, without a newline.
    package func setStatus(_ text: String?) {
        status.withLock { status in
            guard let text else {
                if status != nil { writeAll(Self.clearLine) }
                status = nil
                return
            }
            let drawn = Self.clearLine + Array("\u{1B}[?7l".utf8) + Array(text.utf8) + Array("\u{1B}[?7h".utf8)
            status = drawn
            writeAll(drawn)
        }
    }

    /// Writes all of `bytes`, retrying short writes and `EINTR`.
    private func writeAll(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let chunk = offset == 0 ? bytes : Array(bytes[offset...])
            let written = write(descriptor, chunk, chunk.count)
            if written > 0 {
                offset += written
            } else if written < 0 && errno == EINTR {
                continue
            } else {
                return
            }
        }
    }
}
