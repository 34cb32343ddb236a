import Logging
import ServiceLifecycle
import ShardLog

/// Deletes segments past each stream's retention period once a minute while the server runs (Kinesis trims
/// expired data; the store only does it when asked).
struct RetentionService: Service {
    let store: Store
    let logger: Logger
    var interval = Duration.seconds(60)

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            for name in (try? store.listStreams()) ?? [] {
                do {
                    let deleted = try store.stream(named: name).enforceRetention()
                    if deleted > 0 {
                        logger.info(
                            "retention deleted segments",
                            metadata: ["stream.name": "\(name)", "segments": "\(deleted)"])
                    }
                } catch {
                    logger.warning("retention failed", metadata: ["stream.name": "\(name)", "error": "\(error)"])
                }
            }
            do {
                try await cancelWhenGracefulShutdown { [interval] in try await Task.sleep(for: interval) }
            } catch {
                return
            }
        }
    }
}
