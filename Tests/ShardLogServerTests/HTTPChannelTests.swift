import Foundation
import ShardLogTestSupport
import Testing

@testable import ShardLogServer

/// A self-signed certificate for `127.0.0.1` and `localhost`, and its EC key, made by `openssl` in `directory`.
/// - Returns: the certificate and key paths.
func makeTestCertificate(in directory: String, name: String = "server") async throws -> (cert: String, key: String) {
    let cert = directory + "/\(name).crt"
    let key = directory + "/\(name).key"
    let made = try await runProcess(
        "/usr/bin/env",
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        timeout: .seconds(30))
    try #require(made.status == 0, "openssl could not make a test certificate:\n\(made.stderr)")
    return (cert, key)
}

/// Runs `Python/http2_requests.py COMMAND SCHEME://127.0.0.1:PORT EXTRA…` and returns the one JSON object it prints,
/// as text (see ``object(_:)``).
func runHTTP2Script(_ command: String, scheme: String = "http", port: Int, _ extra: [String] = []) async throws
    -> String
{
    let arguments = [command, "\(scheme)://127.0.0.1:\(port)"] + extra
    let result = try await runProcess(
        ["python3", pythonScriptPath("http2_requests.py")] + arguments, environment: [:], timeout: .seconds(50))
    try #require(result.status == 0, "http2_requests.py \(arguments.joined(separator: " ")) failed:\n\(result.output)")
    return result.output.split(separator: "\n").last.map(String.init) ?? ""
}

/// Runs `Python/http2_requests.py COMMAND` against a server with `options`, over TLS with a test certificate (which
/// the script trusts) when `tls`, in the clear otherwise.
/// - Returns: the JSON object the script printed.
func runHTTP2Script(
    _ command: String, tls: Bool, options given: KinesisServerOptions = KinesisServerOptions(), _ extra: [String] = []
) async throws -> [String: Any] {
    let line = try await withTemporaryDirectory { directory in
        var options = given
        var arguments = extra
        if tls {
            let (cert, key) = try await makeTestCertificate(in: directory)
            options.tls = try ServerTLS(certificatePath: cert, keyPath: key)
            arguments += ["--cafile", cert]
        }
        return try await withServer(options) { [arguments] port in
            try await runHTTP2Script(command, scheme: tls ? "https" : "http", port: port, arguments)
        }
    }
    return try object(line)
}

/// The JSON object in `line`.
func object(_ line: String) throws -> [String: Any] {
    let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
    return try #require(object, "not a JSON object: \(line)")
}

/// HTTP/2 and HTTP/1.1 on one port (``HTTPChannel``): h2c with prior knowledge and, with ``ServerTLS``, ALPN `h2`
/// and `http/1.1`, through the real server with real clients (httpx, `h2`; see Python/http2_requests.py).
@Suite struct HTTPChannelTests {
    /// ListStreams, PutRecord, GetRecords (and more) from an HTTP/2-only httpx client, then an HTTP/1.1-only one on
    /// the same port.
    @Test(.timeLimit(.minutes(1)), arguments: [false, true])
    func operationsOverHTTP2AndHTTP1OnOnePort(tls: Bool) async throws {
        let seen = try await runHTTP2Script("h2c-operations", tls: tls)
        func entry(_ name: String) -> [Any] { seen[name] as? [Any] ?? [] }
        for name in ["create", "list", "put", "get", "health"] {
            #expect(entry(name).first as? Int == 200, "\(name): \(entry(name))")
            #expect(entry(name).dropFirst().first as? String == "HTTP/2", "\(name): \(entry(name))")
        }
        #expect(entry("list").last as? [String] == ["h2s"])
        #expect(entry("put").last as? String == "shardId-000000000000")
        #expect(entry("get").last as? [String] == ["aGVsbG8gaDI="])
        #expect(entry("http1List").first as? Int == 200)
        #expect(entry("http1List").dropFirst().first as? String == "HTTP/1.1")
        #expect(entry("http1List").last as? [String] == ["h2s"])
    }

    /// SubscribeToShard as the AWS SDK for Java uses it: an event stream on one HTTP/2 stream, with the record put
    /// while it is open and heartbeats, ending after the subscription's duration; the connection serves on after.
    @Test(.timeLimit(.minutes(1)), arguments: [false, true])
    func subscribeToShardOverHTTP2(tls: Bool) async throws {
        var options = KinesisServerOptions()
        options.maxSubscriptionDuration = .seconds(4)
        options.subscriptionHeartbeat = .milliseconds(500)
        let seen = try await runHTTP2Script("subscribe", tls: tls, options: options, ["--read-seconds", "30"])
        #expect(seen["alpn"] as? String == (tls ? "h2" : nil))
        #expect(seen["status"] as? Int == 200)
        #expect(seen["contentType"] as? String == "application/vnd.amazon.eventstream")
        #expect(seen["put"] as? Bool == true)
        #expect(seen["ended"] as? String == "end stream", "\(seen)")
        let events = seen["events"] as? [[String: Any]] ?? []
        #expect(events.first?["type"] as? String == "initial-response", "\(events)")
        let shardEvents = events.filter { $0["type"] as? String == "SubscribeToShardEvent" }
        let records = shardEvents.flatMap { $0["records"] as? [String] ?? [] }
        #expect(records == ["ZXZlbnQ="], "\(events)")
        let heartbeats = shardEvents.filter { ($0["records"] as? [String])?.isEmpty ?? false }
        #expect(heartbeats.count >= 2, "\(events)")
        // Ended by the 4-second limit, not cut short (generous upper bound).
        let seconds = seen["seconds"] as? Double ?? 0
        #expect(seconds >= 3.5 && seconds < 29, "\(seconds)")
        #expect(seen["after"] as? Int == 200)
    }

    /// An answer given before the request body was read ends that HTTP/2 stream alone: the whole 413 response, no
    /// `Connection` header (HTTP/2 forbids it), `RST_STREAM` with `NO_ERROR`, and the connection serves on.
    @Test(.timeLimit(.minutes(1)))
    func earlyAnswerResetsOnlyItsStream() async throws {
        let seen = try await runHTTP2Script("early-answer", tls: false)
        #expect(seen["status"] as? Int == 413, "\(seen)")
        #expect(seen["connectionHeader"] is NSNull, "\(seen)")
        let body = seen["body"] as? [String: Any]
        #expect((body?["message"] as? String)?.contains("exceeds the limit") == true, "\(seen)")
        #expect(seen["ended"] as? Bool == true, "\(seen)")
        #expect(seen["reset"] as? Int == 0, "\(seen)")
        #expect(seen["after"] as? Int == 200, "\(seen)")
    }

    /// The first bytes arriving one at a time still decide right: an HTTP/1.1 request and the HTTP/2 preface
    /// (then an HTTP/2 request), each written a byte per write.
    @Test(.timeLimit(.minutes(1)))
    func protocolIsRecognisedFromBytesTricklingIn() async throws {
        let seen = try await runHTTP2Script("trickle", tls: false)
        #expect(seen["http1"] as? String == "HTTP/1.1 200 OK", "\(seen)")
        #expect(seen["http2"] as? Int == 200, "\(seen)")
    }
}
