import Foundation
import ShardLog
import ShardLogIngest
import ShardLogMapping
import ShardLogServer
import Synchronization

/// One fuzz target: a function from arbitrary bytes to nothing that must never trap, hang or allocate without bound.
///
/// The same functions run under libFuzzer (the `Fuzz/` package, built with `-sanitize=fuzzer,address`) and in the
/// plain `swift test` replay of `Fixtures/fuzz/<name>/` (seeds and `regressions/`).
///
/// Thread-safety: targets may be called from any thread; the stateful ones (files, a server) serialize themselves.
public struct FuzzTarget: Sendable {
    /// The target's name: its corpus folder under `Fixtures/fuzz/` and the value of `SHARDLOG_FUZZ_TARGET`.
    public let name: String
    /// What the bytes are read as.
    public let summary: String
    private let body: Body

    /// Most targets are synchronous: libFuzzer calls them directly (a hop into a `Task` per input costs more than
    /// the work).
    private enum Body {
        case sync(@Sendable ([UInt8]) -> Void)
        case async(@Sendable ([UInt8]) async -> Void)
    }

    private init(_ name: String, _ summary: String, _ body: @escaping @Sendable ([UInt8]) -> Void) {
        self.name = name
        self.summary = summary
        self.body = .sync(body)
    }

    private init(_ name: String, _ summary: String, async body: @escaping @Sendable ([UInt8]) async -> Void) {
        self.name = name
        self.summary = summary
        self.body = .async(body)
    }

    /// Feeds one input to the target.
    /// - Parameter bytes: arbitrary bytes.
    public func run(_ bytes: [UInt8]) async {
        switch body {
        case .sync(let f): f(bytes)
        case .async(let f): await f(bytes)
        }
    }

    /// Feeds one input to the target from a thread outside Swift concurrency (the libFuzzer driver), waiting for it.
    /// Never call this from an async context.
    /// - Parameter bytes: arbitrary bytes.
    public func runBlocking(_ bytes: [UInt8]) {
        switch body {
        case .sync(let f): f(bytes)
        case .async(let f):
            let done = DispatchSemaphore(value: 0)
            Task {
                await f(bytes)
                done.signal()
            }
            done.wait()
        }
    }

    /// The target called `name`, if any.
    public static func named(_ name: String) -> FuzzTarget? {
        all.first { $0.name == name }
    }

    /// Every target, in the order `make fuzz` runs them.
    public static let all: [FuzzTarget] = [
        FuzzTarget("batch", "a sequence of record batches, decoded even when the checksum does not match") {
            BatchFuzzing.decodeBatches($0)
        },
        FuzzTarget("lz4", "3 bytes of decoded size, then one LZ4 block; the block bytes are also round-tripped") {
            BatchFuzzing.lz4($0)
        },
        FuzzTarget("segment", "the batch area of a segment file, read through a read-only store") {
            ScratchStores.segment.readSegment(batchArea: $0)
        },
        FuzzTarget("server-json", "a request body for the server's JSON parser") {
            ServerFuzzing.json($0)
        },
        FuzzTarget("mapping-json", "a document for the mapping JSON parser (record data, patterns, responses)") {
            MappingFuzzing.jsonValue($0)
        },
        FuzzTarget("jsonl", "one JSON line through the scanner of `put` (C scan, then JSONLine), each kind of key") {
            jsonLine($0)
        },
        FuzzTarget("sigv4", "Authorization, X-Amz-Date, path, query lines, headers, empty line, body") {
            ServerFuzzing.signatureV4($0)
        },
        FuzzTarget("sequence-number", "a sequence number or shard id as the server and CLI parse them") {
            sequenceNumber($0)
        },
        FuzzTarget("timestamp", "the JSON value of a request's Timestamp member") {
            ServerFuzzing.timestamp($0)
        },
        FuzzTarget("filter-pattern", "a filter pattern line, then a record's data") {
            MappingFuzzing.filterPattern($0)
        },
        FuzzTarget("stream-metadata", "a stream.json, loaded by a store and used") {
            ScratchStores.metadata.openStream(metadata: $0)
        },
        FuzzTarget("mapping-files", "a mapping.json and checkpoints.json, loaded through the mapping catalog") {
            ScratchStores.mapping.loadMappingFiles($0)
        },
        FuzzTarget(
            "kinesis-request", "an operation name line, then the JSON body, through the whole request handler",
            async: { await ScratchServer.shared.handle($0) }),
    ]

    /// The line through `put`'s own scan path (``RecordScanner``: the C scanner with its 512-level limit, then
    /// `JSONLine` for the lines it refuses and for nested key paths), with each kind of key `put` takes; also the
    /// line without its first and last byte.
    private static func jsonLine(_ bytes: [UInt8]) {
        let sources: [RecordScanner.KeySource] = [.field(["user"]), .field(["a", "b", "c"]), .fixed("k"), .random]
        var buffer = RecordBuffer()
        for source in sources {
            var scanner = RecordScanner(jsonl: true, keySource: source, maxRecordByteCount: 1 << 20)
            _ = scanner.scan(bytes, 0..<bytes.count, into: &buffer)
            if bytes.count > 2 {
                _ = scanner.scan(bytes, 1..<bytes.count - 1, into: &buffer)
            }
        }
    }

    private static func sequenceNumber(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        _ = try? SequenceNumber.position(of: text)
        _ = try? ShardID.index(text)
        if let parsed = try? SequenceNumber(parsing: text) {
            let again = try? SequenceNumber(parsing: parsed.description)
            precondition(again == parsed, "sequence number \(text) does not read back from \(parsed.description)")
            _ = SequenceNumber.preceding(shardIndex: parsed.shardIndex, offset: parsed.offset)
        }
    }
}
