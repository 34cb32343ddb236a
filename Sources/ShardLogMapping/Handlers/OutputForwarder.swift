import Foundation
import Synchronization

/// Where a child's output goes. Both closures run on the task reading the pipe: `receive` once per chunk read, then
/// `finish` once at its end.
package struct OutputSink: Sendable {
    /// Called with each chunk, in order.
    var receive: @Sendable ([UInt8]) -> Void
    /// Called once when the output ends: the child exited (what it wrote before is delivered first), or every writer
    /// closed the pipe.
    var finish: @Sendable () -> Void = {}

    /// A sink of these closures.
    package init(receive: @escaping @Sendable ([UInt8]) -> Void, finish: @escaping @Sendable () -> Void = {}) {
        self.receive = receive
        self.finish = finish
    }

    /// Appends the output to the file at `path` (created or truncated), closing it at the end.
    /// - Throws: `CocoaError` when the file cannot be created or opened.
    package static func file(_ path: String) throws -> OutputSink {
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        return OutputSink(receive: { try? handle.write(contentsOf: $0) }, finish: { try? handle.close() })
    }
}

/// Forwards a child's output to our standard error (through ``StatusConsole/standardError``, so it is printed above
/// a status line, never into it), one whole line at a time with a prefix (`[orders slot 3] `), and keeps the last
/// few KiB for error messages. Thread-safe.
final class OutputForwarder: Sendable {
    private struct State {
        var partialLine: [UInt8] = []
        var tail: [UInt8] = []
    }

    private let prefix: [UInt8]
    private let tailByteCount: Int
    private let observer: (@Sendable ([UInt8]) -> Void)?
    private let state = Mutex(State())

    /// Creates a forwarder.
    /// - Parameters:
    ///   - prefix: Written before each line.
    ///   - tailByteCount: How much of the most recent output ``tail`` keeps.
    ///   - observer: When set, receives every chunk of output instead of our standard error (a function's log).
    init(prefix: String, tailByteCount: Int = 4 << 10, observer: (@Sendable ([UInt8]) -> Void)? = nil) {
        self.prefix = Array(prefix.utf8)
        self.tailByteCount = tailByteCount
        self.observer = observer
    }

    /// A sink feeding this forwarder.
    var sink: OutputSink {
        OutputSink(receive: { self.receive($0) }, finish: { self.finish() })
    }

    /// The last `lineCount` lines of the output (within the kept bytes), lossily decoded.
    func tail(lines lineCount: Int) -> String {
        tail.split(separator: "\n", omittingEmptySubsequences: false).suffix(lineCount).joined(separator: "\n")
    }

    /// The last output, lossily decoded, without trailing whitespace.
    var tail: String {
        let bytes = state.withLock { $0.tail }
        var text = String(decoding: bytes, as: UTF8.self)
        while let last = text.last, last.isWhitespace {
            text.removeLast()
        }
        return text
    }

    private func receive(_ chunk: [UInt8]) {
        if let observer {
            state.withLock { state in
                state.tail.append(contentsOf: chunk)
                if state.tail.count > tailByteCount {
                    state.tail.removeFirst(state.tail.count - tailByteCount)
                }
            }
            observer(chunk)
            return
        }
        let lines: [UInt8] = state.withLock { state in
            state.tail.append(contentsOf: chunk)
            if state.tail.count > tailByteCount {
                state.tail.removeFirst(state.tail.count - tailByteCount)
            }
            var out: [UInt8] = []
            for byte in chunk {
                state.partialLine.append(byte)
                if byte == UInt8(ascii: "\n") || state.partialLine.count >= 64 << 10 {
                    out.append(contentsOf: prefix)
                    out.append(contentsOf: state.partialLine)
                    if byte != UInt8(ascii: "\n") {
                        out.append(UInt8(ascii: "\n"))
                    }
                    state.partialLine.removeAll(keepingCapacity: true)
                }
            }
            return out
        }
        Self.writeToStandardError(lines)
    }

    private func finish() {
        let rest: [UInt8] = state.withLock { state in
            guard !state.partialLine.isEmpty else {
                return []
            }
            let line = prefix + state.partialLine + [UInt8(ascii: "\n")]
            state.partialLine = []
            return line
        }
        if observer == nil {
            Self.writeToStandardError(rest)
        }
    }

    /// Writes whole lines to standard error above the status line.
    static func writeToStandardError(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        StatusConsole.standardError.writeLines(bytes)
    }
}
