import ArgumentParser
import Foundation
import Synchronization

/// Ctrl-C (SIGINT) or SIGTERM during `shardlog bench`: the run in progress finishes (an idle measurement stops at
/// once), no further run starts, and the workload prints and writes (`--json`, `--report`) the points it finished,
/// then exits with 128 + the signal. A second signal removes the scratch directories in use and exits at once.
enum BenchInterrupt {
    /// The signal received (0: none).
    private static let received = Atomic<Int32>(0)
    /// The scratch directories in use, removed by a second signal.
    private static let scratch = Mutex<Set<String>>([])
    /// The installed signal sources (kept alive for the process's lifetime).
    private static let sources = Mutex<[any DispatchSourceSignal]>([])

    /// Whether a stop was requested.
    static var requested: Bool { received.load(ordering: .relaxed) != 0 }

    /// Installs the handlers (once per process; later calls do nothing).
    static func install() {
        sources.withLock { sources in
            guard sources.isEmpty else { return }
            for number in [SIGINT, SIGTERM] {
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
                source.setEventHandler { handle(number) }
                source.resume()
                sources.append(source)
            }
        }
    }

    private static func handle(_ number: Int32) {
        let (exchanged, _) = received.compareExchange(expected: 0, desired: number, ordering: .relaxed)
        if exchanged {
            printError(
                "bench: interrupted (\(number == SIGINT ? "SIGINT" : "SIGTERM")): finishing the run in progress, "
                    + "then writing the points finished (again to stop at once)")
            return
        }
        for path in scratch.withLock({ $0 }) { try? FileManager.default.removeItem(atPath: path) }
        printError("bench: interrupted again: scratch directories removed, nothing written")
        Foundation.exit(128 + number)
    }

    /// Registers a scratch directory in use.
    static func using(_ path: String) {
        _ = scratch.withLock { $0.insert(path) }
    }

    /// Unregisters a scratch directory (removed or kept).
    static func done(with path: String) {
        _ = scratch.withLock { $0.remove(path) }
    }

    /// After the results of an interrupted run were printed: the exit status 128 + signal; nil when not interrupted.
    static var exitCode: ExitCode? {
        let number = received.load(ordering: .relaxed)
        return number == 0 ? nil : ExitCode(128 + number)
    }

    /// Sleeps `duration` in short steps; returns false when a stop was requested meanwhile.
    static func sleep(_ duration: Duration) async throws -> Bool {
        let deadline = ContinuousClock.now + duration
        while ContinuousClock.now < deadline {
            if requested { return false }
            try await Task.sleep(for: min(.milliseconds(100), deadline - ContinuousClock.now))
        }
        return !requested
    }
}
