import Logging
import ServiceLifecycle
import ShardLog

/// Deletes segments past each stream's retention period once a minute while the server runs (Kinesis trims
/// expired data; the store only does it when asked).
struct RetentionService: Service {
    /// The stores to trim (every account and region's, see ``RegionalStores/allStores()``), asked on each pass.
    let stores: @Sendable () -> [Store]
    let logger: Logger
    var interval = Duration.seconds(60)

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            for store in stores() {
                trim(store)
            }
            do {
                try await cancelWhenGracefulShutdown { [interval] in try await Task.sleep(for: interval) }
            } catch {
                return
            }
        }
    }

    private func trim(_ store: Store) {
        for name in (try? store.listStreams()) ?? [] {
            do {
                let deleted = try store.stream(named: name).enforceRetention()
                if deleted > 0 {
                    logger.info(
                        "retention deleted segments",
                        metadata: [
                            "stream.name": "\(name)", "stream.region": "\(store.options.region)",
                            "segments": "\(deleted)",
                        ])
                }
            } catch {
                logger.warning("retention failed", metadata: ["stream.name": "\(name)", "error": "\(error)"])
            }
        }
    }
}
