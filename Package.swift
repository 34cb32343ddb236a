// swift-tools-version: 6.2
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .treatAllWarnings(as: .error),
]

let package = Package(
    name: "ShardLog",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "ShardLog", targets: ["ShardLog"]),
        .library(name: "ShardLogWire", targets: ["ShardLogWire"]),
        .library(name: "ShardLogMapping", targets: ["ShardLogMapping"]),
        .library(name: "ShardLogServer", targets: ["ShardLogServer"]),
        .library(name: "ShardLogBench", targets: ["ShardLogBench"]),
        .executable(name: "shardlog", targets: ["shardlog"]),
        // The fuzz harness, for the libFuzzer executables of the separate `Fuzz/` package (see scripts/fuzz.sh).
        .library(name: "ShardLogFuzzing", targets: ["ShardLogFuzzing"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.2.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.0.0"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.36.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.29.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.24.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.0.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.0", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/weichsel/ZIPFoundation.git", exact: "0.9.20"),
        // Child processes (handlers, runtimes, test helpers): process groups and graceful teardown.
        .package(url: "https://github.com/swiftlang/swift-subprocess.git", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.5.0"),  // FilePath, for Subprocess
    ],
    targets: [
        .systemLibrary(
            name: "CLZ4",
            pkgConfig: "liblz4",
            providers: [.apt(["liblz4-dev"])]
        ),
        .target(name: "CShardLog"),
        .target(
            name: "ShardLog",
            dependencies: [
                "CLZ4",
                "CShardLog",
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "ShardLogIngest",
            dependencies: ["ShardLog"],
            swiftSettings: strict
        ),
        // JSON (value, parser, writer), CBOR and SigV4 (signing and verifying), shared by server, mapping and CLI.
        .target(
            name: "ShardLogWire",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        // The signed Kinesis JSON client of `--endpoint-url` commands and the mapping's remote source.
        .target(
            name: "ShardLogClient",
            dependencies: [
                "ShardLog",
                "ShardLogWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "ShardLogMapping",
            dependencies: [
                "ShardLog",
                "ShardLogWire",
                "ShardLogClient",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),  // the Runtime API listener
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "ShardLogServer",
            dependencies: [
                "ShardLog",
                "ShardLogMapping",
                "ShardLogWire",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                // HTTP/2 (h2c by preface, h2 by ALPN) and TLS on the serving port: HTTPChannel.swift.
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdHTTP2", package: "hummingbird"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            ],
            swiftSettings: strict
        ),
        // `shardlog bench`'s workloads, reports and statistics (the CLI's `bench` command is a thin wrapper).
        .target(
            name: "ShardLogBench",
            dependencies: [
                "ShardLog",
                "ShardLogMapping",
                "ShardLogWire",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "NIOCore", package: "swift-nio"),  // bench lambda's thin HTTP client
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),  // bench runtime-api's bare Runtime API loop
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "shardlog",
            dependencies: [
                "ShardLog",
                "ShardLogIngest",
                "ShardLogMapping",
                "ShardLogServer",
                "ShardLogBench",
                "ShardLogWire",
                "ShardLogClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),  // map's SIGINT/SIGTERM
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "ShardLogFuzzing",
            dependencies: ["ShardLog", "ShardLogIngest", "ShardLogMapping", "ShardLogServer"],
            swiftSettings: strict
        ),
        .target(
            name: "ShardLogTestSupport",
            dependencies: [
                "ShardLog", "ShardLogServer", "ShardLogMapping",
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            path: "Tests/ShardLogTestSupport",
            swiftSettings: strict
        ),
        .testTarget(
            name: "ShardLogTests",
            dependencies: [
                "ShardLog", "ShardLogTestSupport",
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ShardLogIngestTests",
            dependencies: ["ShardLogIngest", "ShardLog", "ShardLogTestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ShardLogWireTests",
            dependencies: ["ShardLogWire", "ShardLogTestSupport", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ShardLogClientTests",
            dependencies: [
                "ShardLogClient", "ShardLog", "ShardLogServer", "ShardLogWire", "ShardLogTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ShardLogMappingTests",
            dependencies: [
                "ShardLogMapping", "ShardLog", "ShardLogTestSupport", "ShardLogServer", "ShardLogClient",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ShardLogServerTests",
            dependencies: ["ShardLogServer", "ShardLog", "ShardLogWire", "ShardLogTestSupport"],
            exclude: ["Python"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "shardlogTests",
            dependencies: [
                "shardlog", "ShardLog", "ShardLogMapping", "ShardLogTestSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ShardLogBenchTests",
            dependencies: [
                "ShardLogBench", "ShardLog", "ShardLogTestSupport",
                // The tests run the real `shardlog bench` process, so the executable must be built with them.
                "shardlog",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ShardLogFuzzingTests",
            dependencies: ["ShardLogFuzzing"],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "ShardLogBenchmarks",
            dependencies: [
                "ShardLog",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Benchmarks/ShardLogBenchmarks",
            swiftSettings: [.enableUpcomingFeature("ExistentialAny")],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
