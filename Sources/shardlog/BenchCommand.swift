import ArgumentParser
import ShardLogBench

/// `shardlog bench`: the user-facing benchmark runner. A thin wrapper: the workloads live in `ShardLogBench`.
struct Bench: AsyncParsableCommand {
    /// The subcommand's name, abstract and help.
    static let configuration = CommandConfiguration(
        abstract: "Measure ingest, reads and delivery through an event source mapping on this machine.",
        discussion: """
            Each workload measures every point of its grid several times (--repeats) in a fresh data directory \
            (removed afterwards unless --keep) and reports the median and the spread. Results go to standard output \
            as a table, or as JSON with --json; --report DIR also writes report.html (inline SVG charts, no network), \
            report.json and one SVG per chart. Progress goes to standard error. MB/s counts record data only \
            (10^6 bytes/s). Other work on the machine changes every figure: each point reports the CPU that other \
            processes used meanwhile.
            """,
        subcommands: BenchWorkloads.subcommands
    )
}
