import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ShardLog
import ShardLogWire

/// Entry points that expose the server's parsers and request handler to the fuzz harness (`ShardLogFuzzing`), which
/// cannot see internal types.
///
/// Each function takes arbitrary bytes, must never trap, and throws away what it produces.
package enum ServerFuzzing {
    /// Parses `bytes` with the request JSON parser; a document that parses is written back and must parse again.
    /// - Parameter bytes: arbitrary bytes.
    package static func json(_ bytes: [UInt8]) {
        guard let value = try? JSON(parsing: bytes) else { return }
        let text = value.bytes
        precondition((try? JSON(parsing: text)) != nil, "the server JSON parser did not read back its own output")
        _ = try? Params(body: bytes)
    }

    /// Reads `bytes` as the JSON value of a request's `Timestamp` member, the way GetShardIterator, ListShards and
    /// SubscribeToShard read it, and converts it to milliseconds as they do.
    /// - Parameter bytes: arbitrary bytes (the value's JSON text).
    package static func timestamp(_ bytes: [UInt8]) {
        let body = Array(#"{"Timestamp":"#.utf8) + bytes + [UInt8(ascii: "}")]
        guard let params = try? Params(body: body), let date = try? params.timestamp("Timestamp") else { return }
        _ = KinesisServer.milliseconds(date)
    }

    /// Verifies a request signed with key `AKIDFUZZ`/secret `fuzz-secret` whose parts come from `bytes`, one per
    /// line: the `Authorization` value, the `X-Amz-Date` value, the path, the query, further `name: value` headers up to
    /// an empty line, then the body. The server clock is set to the request's date so the signature itself is checked.
    /// - Parameter bytes: arbitrary bytes.
    package static func signatureV4(_ bytes: [UInt8]) {
        var lines = bytes.split(separator: 10, maxSplits: 4, omittingEmptySubsequences: false).map {
            String(decoding: $0, as: UTF8.self)
        }
        while lines.count < 5 { lines.append("") }
        var headers: [(name: String, value: String)] = [
            ("authorization", lines[0]), ("x-amz-date", lines[1]), ("host", "127.0.0.1:4567"),
        ]
        var rest = lines[4][...]
        while let newline = rest.firstIndex(of: "\n") {
            let line = rest[..<newline]
            rest = rest[rest.index(after: newline)...]
            if line.isEmpty { break }
            if let colon = line.firstIndex(of: ":") {
                headers.append((String(line[..<colon]), String(line[line.index(after: colon)...])))
            }
        }
        let body = Array(rest.utf8)
        let now = SignatureV4.parseAmzDate(lines[1]) ?? Date(timeIntervalSince1970: 1_700_000_000)
        let request = SignatureV4.Request(
            method: "POST", path: lines[2], query: lines[3].isEmpty ? nil : lines[3], headers: headers, body: body)
        _ = try? SignatureV4(credentials: ["AKIDFUZZ": "fuzz-secret"]).verify(request, now: now)
    }

    /// The largest `ShardCount`/`TargetShardCount` a fuzzed request may ask for, so that one input cannot spend
    /// minutes creating ten thousand shard directories.
    package static let maximumFuzzedShardCount = 64

    /// Handles one Kinesis request through ``KinesisServer``'s request handler, without sockets: `bytes` up to the
    /// first newline are the operation name (`PutRecord`), the rest is the JSON body. JSON responses are encoded by
    /// the handler; a SubscribeToShard event stream is not consumed.
    /// - Parameters:
    ///   - server: the server, on a scratch data directory.
    ///   - bytes: arbitrary bytes.
    /// - Returns: the response status code, or `nil` when the input was skipped (too many shards requested).
    @discardableResult
    package static func handle(_ server: KinesisServer, _ bytes: [UInt8]) async -> Int? {
        let split = bytes.firstIndex(of: 10) ?? bytes.count
        let operation = String(decoding: bytes[..<split], as: UTF8.self)
        let body = split < bytes.count ? Array(bytes[(split + 1)...]) : []
        if let params = try? Params(body: body) {
            for key in ["ShardCount", "TargetShardCount"] {
                if case .number(let n)? = params.members[key], n > Double(maximumFuzzedShardCount) { return nil }
            }
        }
        var headers = HTTPFields()
        headers[.contentType] = KinesisServer.jsonContentType
        headers[.amzTarget] = KinesisServer.targetPrefix + operation
        let head = HTTPRequest(
            method: .post, scheme: "http", authority: "127.0.0.1:4567", path: "/", headerFields: headers)
        let request = Request(head: head, body: RequestBody(buffer: ByteBuffer(bytes: body)))
        let response = await server.handle(request)
        return response.status.code
    }
}
