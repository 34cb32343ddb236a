import Foundation
import ShardLog
import ShardLogServer

/// A ``ShardLogServer/KinesisServer`` on a scratch data directory (64 KiB segments, stream `s` with 2 shards), replaced
/// by a fresh one every ``inputsPerServer`` inputs so the directory stays small.
///
/// Thread-safety: an actor; inputs are handled one at a time.
actor ScratchServer {
    /// The shared server of the `kinesis-request` target.
    static let shared = ScratchServer()

    /// Inputs handled before the data directory is thrown away.
    static let inputsPerServer = 2_000

    private let root =
        FileManager.default.temporaryDirectory.path
        + "/shardlog-fuzz-\(ProcessInfo.processInfo.processIdentifier)-server"
    private var server: KinesisServer?
    private var generation = 0
    private var handled = 0

    private init() {
        ScratchCleanup.register(root)
    }

    /// Handles one fuzz input (operation line, then body).
    func handle(_ bytes: [UInt8]) async {
        if server == nil || handled >= Self.inputsPerServer {
            server = nil
            try? FileManager.default.removeItem(atPath: root)
            generation += 1
            handled = 0
            var storeOptions = StoreOptions()
            storeOptions.segmentByteCount = 64 << 10
            guard let store = try? Store(directory: root + "/\(generation)", options: storeOptions) else { return }
            _ = try? store.createStream(named: "s", shardCount: 2)
            var options = KinesisServerOptions()
            options.maxSubscriptionDuration = .milliseconds(10)
            options.subscriptionHeartbeat = .milliseconds(10)
            server = KinesisServer(store: store, options: options)
        }
        guard let server else { return }
        handled += 1
        await ServerFuzzing.handle(server, bytes)
    }
}
