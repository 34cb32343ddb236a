// swift-tools-version: 6.2
// The libFuzzer build of ShardLog's fuzz targets. Kept out of the root package so that `swift build` and CI never
// build it: it only links with `-sanitize=fuzzer` (libFuzzer supplies `main`). Build and run with scripts/fuzz.sh.
import PackageDescription

let package = Package(
    name: "ShardLogFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "ShardLog", path: "..")],
    targets: [
        .executableTarget(
            name: "shardlog-fuzz",
            dependencies: ["CFuzzDriver", .product(name: "ShardLogFuzzing", package: "ShardLog")],
            path: "Sources/shardlog-fuzz"
        ),
        .target(name: "CFuzzDriver"),
    ]
)
