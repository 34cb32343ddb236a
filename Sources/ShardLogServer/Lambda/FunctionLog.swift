import Foundation
import ShardLogMapping
import ShardLogWire
import Synchronization

/// A function's log, `<data>/functions/<name>/log`: one line per entry, `<ISO-8601 time><TAB><text>`, holding its
/// processes' stdout and stderr, Lambda's `START`/`END`/`REPORT` lines and every failed invocation's `errorType`,
/// `errorMessage` and `stackTrace` with its request id (and, for a mapping's batch, its shard and sequence range).
///
/// It also keeps what each concurrency slot printed during its current invocation, for `Invoke`'s `LogType: Tail`.
/// Thread-safe: one `Mutex`; appends are written at once (`O_APPEND`).
final class FunctionLog: Sendable {
    /// The log file.
    let path: String
    private struct State {
        var partial: [Int: [UInt8]] = [:]
        var capture: [Int: [UInt8]] = [:]
    }
    private let state = Mutex(State())
    private let handle: Mutex<FileHandle?>

    /// Opens (creating) the log at `path`.
    init(path: String) {
        self.path = path
        if !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(atPath: path, contents: nil)
        }
        let handle = FileHandle(forWritingAtPath: path)
        _ = try? handle?.seekToEnd()
        self.handle = Mutex(handle)
    }

    /// Closes the file.
    func close() {
        handle.withLock { handle in
            try? handle?.close()
            handle = nil
        }
    }

    /// Output of a runtime process in `slot`: whole lines go to the file; everything to the slot's capture.
    func output(slot: Int, _ chunk: [UInt8]) {
        let lines: [[UInt8]] = state.withLock { state in
            state.capture[slot, default: []].append(contentsOf: chunk)
            var partial = state.partial[slot, default: []]
            var lines: [[UInt8]] = []
            for byte in chunk {
                if byte == UInt8(ascii: "\n") {
                    lines.append(partial)
                    partial.removeAll(keepingCapacity: true)
                } else {
                    partial.append(byte)
                }
            }
            if partial.count > 64 << 10 {
                lines.append(partial)
                partial = []
            }
            state.partial[slot] = partial
            return lines
        }
        write(lines.map { String(decoding: $0, as: UTF8.self) })
    }

    /// Bytes captured for `slot`'s current invocation so far.
    func capturedByteCount(slot: Int) -> Int {
        state.withLock { $0.capture[slot]?.count ?? 0 }
    }

    /// Waits until `slot`'s output has been quiet for `quiet` (at most `limit`): a runtime writes its output before
    /// it posts the response, but the pipe is read on another thread, so the last lines can arrive just after.
    func settle(slot: Int, quiet: Duration = .milliseconds(20), limit: Duration = .milliseconds(250)) async {
        let deadline = ContinuousClock.now + limit
        var count = capturedByteCount(slot: slot)
        var quietSince = ContinuousClock.now
        while ContinuousClock.now < deadline, ContinuousClock.now - quietSince < quiet {
            try? await Task.sleep(for: .milliseconds(2))
            let now = capturedByteCount(slot: slot)
            if now != count {
                count = now
                quietSince = ContinuousClock.now
            }
        }
    }

    /// Starts capturing `slot`'s output for an invocation and logs `START`.
    func begin(slot: Int, requestId: String) {
        state.withLock { $0.capture[slot] = [] }
        write(["START RequestId: \(requestId) Version: $LATEST"])
    }

    /// Logs `END` and `REPORT` (and `errorLines` before them) and returns the invocation's log as Lambda's `Tail`
    /// gives it: its last 4 KB.
    func end(slot: Int, requestId: String, duration: Duration, memorySize: Int, errorLines: [String]) -> String {
        let captured = state.withLock { state in
            defer { state.capture[slot] = nil }
            return state.capture[slot] ?? []
        }
        let milliseconds = Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
        let report =
            "REPORT RequestId: \(requestId)\tDuration: \(String(format: "%.2f", milliseconds)) ms\t"
            + "Billed Duration: \(Int(milliseconds.rounded(.up))) ms\tMemory Size: \(memorySize) MB"
        let trailer = errorLines + ["END RequestId: \(requestId)", report]
        write(trailer)
        var text = "START RequestId: \(requestId) Version: $LATEST\n" + String(decoding: captured, as: UTF8.self)
        if !text.hasSuffix("\n") { text += "\n" }
        text += trailer.joined(separator: "\n") + "\n"
        let bytes = Array(text.utf8)
        return String(decoding: bytes.suffix(4096), as: UTF8.self)
    }

    /// Appends `lines`, each stamped with the current time.
    func write(_ lines: [String]) {
        guard !lines.isEmpty else { return }
        let stamp = JSONTimestamp.iso8601(Date(), milliseconds: true)
        var out = ""
        for line in lines {
            for part in line.split(separator: "\n", omittingEmptySubsequences: false) {
                out += stamp + "\t" + part + "\n"
            }
        }
        let data = Data(out.utf8)
        handle.withLock { handle in
            try? handle?.write(contentsOf: data)
        }
    }
}
