import ArgumentParser
import Foundation
import Logging
import ShardLog
import ShardLogServer

/// `shardlog serve`: the Kinesis Data Streams API over HTTP on the data directory.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the Kinesis Data Streams API (JSON 1.1) over HTTP, plus GET /metrics and GET /health.",
        discussion: """
            Requests are validated against botocore's Kinesis model first and answered with AWS's error texts \
            (docs/kinesis-compatibility.md lists the differences). OPTIONS preflights and CORS headers are served \
            as AWS sends them, so browser clients work.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "Address to bind.") var host = "127.0.0.1"
    @Option(help: "Port to bind (0 picks a free one).") var port = 4567
    @Option(
        help: """
            JSON file {"ACCESS_KEY_ID": "secret", …}; requests must then carry a valid SigV4 signature \
            (Authorization header or presigned query string). A key of another account: \
            {"ACCESS_KEY_ID": {"secret": "…", "account": "123456789012"}}.
            """)
    var credentials: String?
    @Option(
        help: """
            Account of requests whose access key names none (12 digits). The data directory itself holds this \
            account's streams in us-east-1; other accounts and regions live in <data>/regions/ACCOUNT/REGION/.
            """)
    var accountId = "000000000000"
    @Option(help: "Region of unsigned requests (signed ones act in the region of their credential scope).")
    var region = "us-east-1"
    @Flag(help: "Enforce per-shard limits: 1 MiB/s and 1000 records/s written, 5 GetRecords calls/s.")
    var enforceShardLimits = false
    @Option(
        help: """
            Event source mappings to host: a JSON file {"Mappings": [{"MappingName", "StreamName", "Handler": \
            "exec:CMD" or "runtime-api:CMD", "StartingPosition", "BatchSize", …}]}.
            """)
    var mappings: String?
    @Option(help: "Longest SubscribeToShard response, in seconds (AWS: 300).") var subscriptionSeconds = 300
    @Option(
        help: """
            Most MiB of request bodies buffered at once across all connections; requests over it get HTTP 503 \
            LimitExceededException (clients retry).
            """)
    var maxBufferedMib = 256
    @Option(
        help: """
            Seconds before closing a connection that is idle or whose request headers or body stopped arriving; \
            request headers must arrive within this time.
            """)
    var idleTimeoutSeconds = 30
    @Option(help: "Seconds a request body may take to arrive after its headers (then HTTP 408).")
    var bodyTimeoutSeconds = 60
    @Option(
        help: """
            PEM certificate (chain) to serve HTTPS with, ALPN h2 and http/1.1 (needs --tls-key); without it the port \
            serves plain HTTP/1.1 and HTTP/2 (h2c with prior knowledge).
            """)
    var tlsCert: String?
    @Option(help: "PEM private key of --tls-cert.") var tlsKey: String?
    @Option(
        help: """
            Fail requests on purpose, to test clients' retries: comma-separated [Operation:]Code=probability terms, \
            e.g. 'ProvisionedThroughputExceededException=0.05,PutRecords:InternalFailure=0.01'. PutRecords entries \
            also fail one by one (ErrorCode per entry, nothing stored for them).
            """)
    var injectFaults: String?
    @Option(help: "Seed of --inject-faults' random draws (same seed and request order: same failures).")
    var injectFaultsSeed: UInt64 = 1
    @Option(
        help: """
            Concurrent invocations of each deployed function (its warm processes), as reserved concurrency bounds \
            them at AWS; put-function-concurrency overrides it per function. A synchronous Invoke that finds every \
            slot busy for a second gets TooManyRequestsException; Event invocations queue.
            """)
    var maxConcurrency = 10
    @Option(help: "Seconds a deployed function's warm process may stay idle before it is stopped (next invoke: cold).")
    var functionIdleTimeout: Double = 600
    @Option(help: "Seconds before the first retry of a failed Event invocation (the second waits twice it; AWS: 60).")
    var eventRetryDelay: Double = 60

    func validate() throws {
        guard (0...65_535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
        guard (1...300).contains(subscriptionSeconds) else {
            throw ValidationError("--subscription-seconds must be between 1 and 300")
        }
        guard (16...65_536).contains(maxBufferedMib) else {
            throw ValidationError("--max-buffered-mib must be between 16 and 65536 (a PutRecords body can be 8 MiB)")
        }
        guard (1...3_600).contains(idleTimeoutSeconds) else {
            throw ValidationError("--idle-timeout-seconds must be between 1 and 3600")
        }
        guard (1...3_600).contains(bodyTimeoutSeconds) else {
            throw ValidationError("--body-timeout-seconds must be between 1 and 3600")
        }
        guard (tlsCert == nil) == (tlsKey == nil) else {
            throw ValidationError("--tls-cert and --tls-key must be given together")
        }
        guard accountId.utf8.count == 12, accountId.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else {
            throw ValidationError("--account-id must be 12 digits, not '\(accountId)'")
        }
        do {
            try LambdaOptions.validate(
                maxConcurrency: maxConcurrency, idleTimeout: functionIdleTimeout, retryDelay: eventRetryDelay)
        } catch {
            throw ValidationError(error.message)
        }
        guard StreamARN.isRegion(region) else {
            throw ValidationError("--region must be a region name such as us-east-1 (a-z, 0-9, '-'), not '\(region)'")
        }
    }

    func run() async throws {
        var options = KinesisServerOptions()
        options.host = host
        options.port = port
        options.enforceShardLimits = enforceShardLimits
        options.maxSubscriptionDuration = .seconds(subscriptionSeconds)
        options.mappingsFile = mappings
        options.maxBufferedByteCount = maxBufferedMib << 20
        options.idleTimeout = .seconds(idleTimeoutSeconds)
        options.requestBodyTimeout = .seconds(bodyTimeoutSeconds)
        options.lambda = LambdaOptions(
            maxConcurrency: maxConcurrency, idleTimeout: functionIdleTimeout, retryDelay: eventRetryDelay)
        if let injectFaults {
            do {
                options.faults = try FaultInjector(spec: injectFaults, seed: injectFaultsSeed)
            } catch {
                throw ValidationError("\(error)")
            }
        }
        if let credentials {
            do {
                options.use(credentials: try KinesisServerOptions.loadCredentialsFile(path: credentials))
            } catch {
                throw ValidationError("\(error)")
            }
        }
        if let tlsCert, let tlsKey {
            do {
                options.tls = try ServerTLS(certificatePath: tlsCert, keyPath: tlsKey)
            } catch {
                throw ValidationError(error.message)
            }
        }
        var logger = Logger(label: "shardlog.serve")
        logger.logLevel = .info
        options.accountId = accountId
        options.region = region
        var storeOptions = StoreOptions()
        storeOptions.accountId = accountId
        let server = KinesisServer(store: try global.open(storeOptions), options: options, logger: logger)
        let scheme = options.tls == nil ? "http" : "https"
        try await server.run(handleSignals: true) { host, port in
            printError("listening on \(scheme)://\(host):\(port)")
        }
    }
}
