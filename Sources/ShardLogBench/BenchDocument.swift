import Foundation

/// The machine a benchmark ran on, as `nproc`, `/proc/cpuinfo` and `/proc/meminfo` describe it.
struct MachineInfo: Codable, Sendable, Equatable {
    /// Online processors (`nproc`).
    var cores: Int
    /// The CPU's model name, or `unknown`.
    var cpuModel: String
    /// Physical memory in GiB.
    var memoryGiB: Double
    /// The kernel and OS version string.
    var operatingSystem: String
    /// The host name.
    var hostName: String

    /// Describes this machine.
    static func current() -> MachineInfo {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model =
            cpuinfo.split(separator: "\n")
            .first { $0.hasPrefix("model name") }
            .flatMap { $0.split(separator: ":", maxSplits: 1).last }
            .map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown"
        return MachineInfo(
            cores: ProcessInfo.processInfo.activeProcessorCount,
            cpuModel: model,
            memoryGiB: (Double(ProcessInfo.processInfo.physicalMemory) / Double(1 << 30) * 10).rounded() / 10,
            operatingSystem: ProcessInfo.processInfo.operatingSystemVersionString,
            hostName: ProcessInfo.processInfo.hostName)
    }
}

/// What one `shardlog bench` run printed with `--json` and wrote to `report.json`.
///
/// A value type.
struct BenchDocument<Point: Codable & Sendable>: Codable, Sendable {
    /// The workload: `scaling`, `ingest`, `read` or `runtime-api`.
    var benchmark: String
    /// The command line that produced it.
    var command: String
    /// When it started (ISO 8601, UTC).
    var startedAt: String
    /// How long it took, in seconds.
    var elapsedSeconds: Double
    /// The machine.
    var machine: MachineInfo
    /// The workload's parameters, as given or defaulted.
    var parameters: [String: String]
    /// One entry per measured point.
    var points: [Point]
    /// Notes on what the figures mean (units, what a run measures).
    var notes: [String]
    /// How the `shardlog` binary that measured was compiled: `release` or `debug`.
    var buildConfiguration = HTMLReport.buildConfiguration
    /// True when Ctrl-C or SIGTERM stopped the run early (only finished points are included); absent otherwise.
    var interrupted: Bool? = nil
}

/// CPU time of this process and of the whole machine, to report how much CPU a run used and how much other work
/// (a build of another session, say) used meanwhile.
struct CPUSample: Sendable {
    /// Wall-clock instant.
    var instant: ContinuousClock.Instant
    /// User + system seconds of this process.
    var processSeconds: Double
    /// Busy seconds of all CPUs (user, nice, system, irq, softirq, steal) from `/proc/stat`.
    var machineBusySeconds: Double

    /// Samples now.
    static func now() -> CPUSample {
        CPUSample(instant: .now, processSeconds: processCPUSeconds(), machineBusySeconds: machineBusySeconds())
    }

    /// CPU use between `start` and this sample, in percent of one core: (this process, everything else).
    /// - Parameter start: An earlier sample.
    /// - Returns: `own` and `others` percentages; `others` is never negative.
    func usage(since start: CPUSample) -> (own: Double, others: Double) {
        let wall = (instant - start.instant) / .seconds(1)
        guard wall > 0 else { return (0, 0) }
        let own = processSeconds - start.processSeconds
        let all = machineBusySeconds - start.machineBusySeconds
        return (own / wall * 100, max(0, all - own) / wall * 100)
    }

    /// User + system seconds of process `pid` (this process when nil) from `/proc/<pid>/stat`; 0 when unreadable.
    static func processCPUSeconds(pid: Int32? = nil) -> Double {
        // utime and stime are fields 14 and 15 of /proc/PID/stat, after the parenthesised command name.
        let path = pid.map { "/proc/\($0)/stat" } ?? "/proc/self/stat"
        guard let stat = try? String(contentsOfFile: path, encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / ticksPerSecond
    }

    /// Busy seconds of all CPUs from `/proc/stat`; 0 when unreadable.
    static func machineBusySeconds() -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
            let line = stat.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") })
        else { return 0 }
        let values = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard values.count >= 8 else { return 0 }
        // user nice system idle iowait irq softirq steal
        return (values[0] + values[1] + values[2] + values[5] + values[6] + values[7]) / ticksPerSecond
    }

    private static var ticksPerSecond: Double {
        let ticks = sysconf(Int32(_SC_CLK_TCK))
        return ticks > 0 ? Double(ticks) : 100
    }
}

/// The current time as ISO 8601 in UTC, to the second.
func iso8601Now() -> String {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime]
    return formatter.string(from: Date())
}
