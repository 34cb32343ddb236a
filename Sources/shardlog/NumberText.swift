import ShardLogBench

/// Number formatting for status lines and summaries, as `shardlog bench` formats its tables (it moved to the
/// ShardLogBench library with the benchmarks; this keeps the CLI's call sites unchanged).
enum NumberText {
    /// An integer with thousands separators: `1,234,567`.
    static func grouped(_ value: Double) -> String {
        ShardLogBench.NumberText.grouped(value)
    }
}
