import Foundation

/// Progress of a benchmark on standard error: a redrawn bar on a terminal, one line per step otherwise (so logs
/// of `make bench` show where it is). Used from one task at a time; not thread-safe.
struct BenchProgress {
    /// Steps in the whole run.
    let total: Int
    /// Draw a bar (terminal) or print lines.
    let isTerminal: Bool
    /// Print nothing at all.
    let quiet: Bool
    private var done = 0
    private let started = ContinuousClock.now

    /// Creates a progress display.
    /// - Parameters:
    ///   - total: The number of steps.
    ///   - quiet: Print nothing.
    init(total: Int, quiet: Bool = false) {
        self.total = max(total, 1)
        self.isTerminal = standardErrorIsTerminal
        self.quiet = quiet
    }

    /// The bar for `done` of `total` steps, `width` characters between brackets.
    static func bar(done: Int, total: Int, width: Int = 24) -> String {
        let filled = total > 0 ? min(width, done * width / total) : width
        return "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "]"
    }

    /// Shows that step `done + 1` (`label`) is starting.
    /// - Parameter label: What is being measured, e.g. `shards 4, P 2, 10 ms`.
    func starting(_ label: String) {
        guard !quiet else { return }
        let elapsed = NumberText.fixed((ContinuousClock.now - started) / .seconds(1), 0)
        let text = "\(Self.bar(done: done, total: total)) \(done + 1)/\(total) \(label) (\(elapsed) s)"
        if isTerminal {
            FileHandle.standardError.write(Data(("\r\u{1B}[K" + text).utf8))
        } else {
            printError("bench: " + text)
        }
    }

    /// Marks one step done.
    mutating func advance() {
        done += 1
    }

    /// Removes the bar (on a terminal) and prints how long the run took.
    func finish() {
        guard !quiet else { return }
        if isTerminal {
            FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
        }
        let elapsed = NumberText.fixed((ContinuousClock.now - started) / .seconds(1), 1)
        printError("bench: \(done) of \(total) points in \(elapsed) s")
    }
}
