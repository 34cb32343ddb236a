import Logging
import ServiceLifecycle
import ShardLog
import Synchronization

/// The Lambda side of `shardlog serve`: one ``LambdaService`` per account and region, as Lambda keeps functions and
/// event source mappings per account and region. A request acts in the account and region of its SigV4 credential
/// (``KinesisServer/requestScope(_:operation:)``), like a Kinesis request, so a function created from `us-west-2` is
/// not visible from `eu-west-1`, and a mapping reads streams of its own account and region.
///
/// Layout: each account and region's functions and mappings live in its store (``RegionalStores``): the data
/// directory itself for the server's own account in `us-east-1` (`functions/`, `mappings/`), else
/// `regions/ACCOUNT/REGION/`.
///
/// Runs as one service next to the HTTP server: on a graceful shutdown every mapping stops (checkpoints written) and
/// every runtime process is stopped. Thread-safe.
final class LambdaHost: Service, Sendable {
    private let regions: RegionalStores
    private let logger: Logger
    private let options: LambdaOptions
    private struct State {
        var services: [String: LambdaService] = [:]
        var running = false
    }
    private let state = Mutex(State())

    /// Loads the functions and mappings of every account and region found in the data directory.
    init(regions: RegionalStores, logger: Logger, options: LambdaOptions) {
        self.regions = regions
        self.logger = logger
        self.options = options
        let services = regions.allStores().map { LambdaService(store: $0, logger: logger, options: options) }
        state.withLock { state in
            for service in services { state.services[Self.key(service.account, service.region)] = service }
        }
    }

    private static func key(_ account: String, _ region: String) -> String { account + "/" + region }

    /// The service of `scope`'s account and region, made (and, while the host runs, started) on first use.
    /// - Throws: the regional store's errors (a directory that cannot be created).
    func service(for scope: RequestScope) throws -> LambdaService {
        let key = Self.key(scope.account, scope.region)
        if let service = state.withLock({ $0.services[key] }) { return service }
        let store = try regions.resources(for: scope).store
        let fresh = LambdaService(store: store, logger: logger, options: options)
        let (service, start) = state.withLock { state -> (LambdaService, Bool) in
            if let existing = state.services[key] { return (existing, false) }
            state.services[key] = fresh
            return (fresh, state.running)
        }
        if start { service.start() }
        return service
    }

    /// Every account and region's service, ordered by account and region.
    var allServices: [LambdaService] {
        state.withLock { $0.services.sorted { $0.key < $1.key }.map(\.value) }
    }

    /// Starts every service, waits for the graceful shutdown, then stops them all.
    func run() async throws {
        let services = state.withLock { state in
            state.running = true
            return Array(state.services.values)
        }
        for service in services { service.start() }
        try? await gracefulShutdown()
        let all = state.withLock { state in
            state.running = false
            return Array(state.services.values)
        }
        await withTaskGroup(of: Void.self) { group in
            for service in all { group.addTask { await service.stop() } }
        }
    }

    /// The first hosted mapping, in any account and region, whose handler cannot start, or `nil`.
    var unhealthyMapping: String? {
        for service in allServices {
            if let problem = service.unhealthyMapping { return problem }
        }
        return nil
    }
}
