import ShardLog

/// Splits a byte stream into lines (`\n`, with a trailing `\r` removed), carrying partial lines across chunks.
package struct LineSplitter {
    private var carry: [UInt8] = []

    /// Creates a splitter.
    package init() {}

    /// Calls `body` with each complete line in `chunk` (as a buffer and the line's range in it).
    /// - Complexity: O(chunk size) (newlines found with `memchr`) plus copying a line that spans chunks.
    package mutating func feed(_ chunk: [UInt8], _ body: ([UInt8], Range<Int>) throws -> Void) rethrows {
        var start = 0
        let n = chunk.count
        while start < n {
            let k = InputScan.firstIndex(of: 10, in: chunk, start..<n)
            guard k < n else { break }
            if carry.isEmpty {
                try body(chunk, start..<Self.trim(chunk, start, k))
            } else {
                carry.append(contentsOf: chunk[start..<k])
                let line = carry
                carry.removeAll(keepingCapacity: true)
                try body(line, 0..<Self.trim(line, 0, line.count))
            }
            start = k + 1
        }
        if start < n { carry.append(contentsOf: chunk[start..<n]) }
    }

    /// Calls `body` with a last line that had no newline, if any.
    package mutating func finish(_ body: ([UInt8], Range<Int>) throws -> Void) rethrows {
        guard !carry.isEmpty else { return }
        let line = carry
        carry = []
        try body(line, 0..<Self.trim(line, 0, line.count))
    }

    private static func trim(_ b: [UInt8], _ start: Int, _ end: Int) -> Int {
        end > start && b[end - 1] == 13 ? end - 1 : end
    }
}
