import Foundation
import ShardLog
import ShardLogTestSupport
import ShardLogWire
import Testing

@testable import ShardLogServer

private let hostileScript = pythonScriptPath("hostile_http.py")
private let credentials = ["AKIDSHARDLOGTEST": "shardlog-secret"]

/// Runs `hostile_http.py <command>` against `port` and expects it to pass; returns what it printed.
@discardableResult
private func attack(_ command: String, port: Int?, _ extra: [String] = [], timeout: Duration = .seconds(50))
    async throws -> String
{
    var arguments = ["python3", hostileScript, command]
    if let port { arguments += ["--endpoint", "http://127.0.0.1:\(port)"] }
    let result = try await runProcess(
        arguments + extra,
        environment: ["AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1"],
        timeout: timeout)
    #expect(result.status == 0, "hostile_http.py \(command) failed:\n\(result.output)")
    return result.output
}

/// Hostile requests over real loopback sockets (issue 8): numbers that once trapped the server, a SigV4 replay with
/// a tampered body, unauthenticated and unfinished bodies, slow headers and bodies, broken HTTP framing.
@Suite struct HostileRequestTests {
    /// Every request of the issue that killed `serve` (timestamps of 1e16, 1e300, -1e300, 1e400; 56-digit sequence
    /// numbers above 2^128) answers 400 `InvalidArgumentException`; other out-of-range numbers and forged tokens
    /// answer 400 with an error type; `/health` answers afterwards.
    @Test(.timeLimit(.minutes(1)))
    func crashingRequestsAreInvalidArguments() async throws {
        _ = try await withServer { port in try await attack("crashers", port: port) }
    }

    /// A captured signed PutRecord replayed with another body and the original body's `X-Amz-Content-Sha256`
    /// (unsigned, or covered by the signature) is refused with `InvalidSignatureException`; only the signed
    /// originals are stored.
    @Test(.timeLimit(.minutes(1)))
    func tamperedReplayIsRefused() async throws {
        var options = KinesisServerOptions()
        options.credentials = credentials
        _ = try await withServer(options) { port in try await attack("replay", port: port) }
    }

    /// With credentials, unsigned, garbage, unknown-key and stale requests declaring a 9 MiB body are answered
    /// within 5 s although no body byte was sent (the server's timeouts are far longer, so it did not wait).
    @Test(.timeLimit(.minutes(1)))
    func unauthenticatedRequestsAreRefusedBeforeTheBody() async throws {
        var options = KinesisServerOptions()
        options.credentials = credentials
        _ = try await withServer(options) { port in try await attack("early", port: port, ["--within", "5"]) }
    }

    /// Without credentials, bodies declared over their operation's cap (16 MiB PutRecords, 14 MiB PutRecord, 2 MiB
    /// ListStreams, 100 MiB for an unknown operation) get 413 from the headers alone.
    @Test(.timeLimit(.minutes(1)))
    func oversizeBodiesAreRefusedFromTheirHeaders() async throws {
        _ = try await withServer { port in try await attack("oversize", port: port, ["--within", "5"]) }
    }

    /// Request headers sent one byte per second: the connection is closed after the idle timeout (2 s here).
    @Test(.timeLimit(.minutes(1)))
    func slowHeadersAreClosed() async throws {
        var options = KinesisServerOptions()
        options.idleTimeout = .seconds(2)
        _ = try await withServer(options) { port in try await attack("slowloris", port: port, ["--within", "15"]) }
    }

    /// A body trickled two bytes per second (never idle) is answered 408 or closed after the body timeout (3 s).
    @Test(.timeLimit(.minutes(1)))
    func slowBodiesTimeOut() async throws {
        var options = KinesisServerOptions()
        options.idleTimeout = .seconds(2)
        options.requestBodyTimeout = .seconds(3)
        _ = try await withServer(options) { port in try await attack("slowbody", port: port, ["--within", "15"]) }
    }

    /// Chunk sizes `zz` and 2^72, a chunk without its CRLF and bodies cut short by a half-close get 400, not 500.
    @Test(.timeLimit(.minutes(1)))
    func framingErrorsAreBadRequests() async throws {
        _ = try await withServer { port in try await attack("framing", port: port) }
    }

    /// 200 unfinished 8.5 MiB PutRecords bodies (a body over its cap is refused with 413 from the
    /// headers) against a spawned `shardlog serve` without credentials, the worst case since nothing refuses them
    /// before the body: VmRSS stays under 400 MiB and falls back to within 100 MiB of where it started once they
    /// close. Declared lengths are reserved whole; chunked bodies are reserved as they arrive.
    @Test(.timeLimit(.minutes(2)), arguments: [false, true])
    func memoryStaysBoundedUnderUnfinishedBodies(chunked: Bool) async throws {
        let output = try await attack(
            "memory", port: nil, ["--shardlog", shardlogBinary] + (chunked ? ["--chunked"] : []),
            timeout: .seconds(100))
        print(output.split(separator: "\n").filter { $0.hasPrefix("memory:") }.joined(separator: "\n"))
    }

    @Test func bodyCapsFitTheLargestRequests() {
        // A maximal record in base64 plus its members fits PutRecord's cap; PutRecords' 5 MiB of data fits its cap.
        #expect(Operation.putRecord.maxBodyByteCount >= (Limits.recordByteCount + 2) / 3 * 4 + 4096)
        #expect(Operation.putRecords.maxBodyByteCount >= (5 << 20) / 3 * 4 + 500 * 3072)
        #expect(Operation.listStreams.maxBodyByteCount == 1 << 20)
        #expect(Operation.maxBodyByteCount(nil) == 1 << 20)
    }

    /// An error no layer expected (here a `CancellationError`) becomes this request's own 500 `InternalFailure`.
    @Test func unexpectedErrorsAreInternalFailures() throws {
        let e = KinesisError(CancellationError())
        #expect(e.code == .internalFailure && e.status == 500)
        let body = try JSONSerialization.jsonObject(with: Data(e.body)) as? [String: String]
        #expect(body?["__type"] == "InternalFailure" && body?["message"]?.isEmpty == false)
    }

    @Test func budgetRefusesWhatDoesNotFit() {
        let budget = BodyBudget(limit: 100)
        #expect(budget.reserve(60))
        #expect(!budget.reserve(41))
        #expect(budget.reserve(40))
        budget.release(60)
        #expect(budget.usedByteCount == 40)
        #expect(budget.reserve(60))
    }

    @Test(arguments: [1e16, 1e300, -1e300, Double.infinity, -Double.infinity, Double.nan])
    func outOfRangeTimestampsAreInvalidArguments(seconds: Double) {
        let params = Params(["Timestamp": .number(seconds)])
        #expect(throws: KinesisError.self) { try params.timestamp("Timestamp") }
        #expect((try? params.timestamp("Timestamp")) == nil)
        do {
            _ = try params.timestamp("Timestamp")
        } catch {
            #expect(error.code == .invalidArgument)
        }
    }

    @Test func signatureTimesUseAWSTexts() throws {
        let signer = SignatureV4(credentials: credentials)
        let now = Date(timeIntervalSince1970: 1_700_000_000)  // 20231114T221320Z
        func head(_ date: String) -> SignatureV4.Head {
            SignatureV4.Head(
                method: "POST", path: "/", query: nil,
                headers: [
                    ("host", "x"), ("x-amz-date", date),
                    (
                        "authorization",
                        "AWS4-HMAC-SHA256 Credential=AKIDSHARDLOGTEST/\(date.prefix(8))/us-east-1/kinesis/aws4_request,"
                            + " SignedHeaders=host;x-amz-date, Signature=00"
                    ),
                ])
        }
        #expect(throws: WireError.self) { try signer.authorize(head("20231114T215000Z"), now: now) }
        do {
            _ = try signer.authorize(head("20231114T215000Z"), now: now)
        } catch {
            #expect(
                error.message
                    == "Signature expired: 20231114T215000Z is now earlier than 20231114T215820Z"
                    + " (20231114T221320Z - 15 min.)")
        }
        do {
            _ = try signer.authorize(head("20231114T223000Z"), now: now)
        } catch {
            #expect(
                error.message
                    == "Signature not yet current: 20231114T223000Z is still later than 20231114T222820Z"
                    + " (20231114T221320Z + 15 min.)")
        }
        // Within the skew the headers pass; the signature is only checked against the body's hash.
        let authorization = try signer.authorize(head("20231114T221000Z"), now: now)
        #expect(throws: WireError.self) {
            try authorization.verify(payloadSHA256: String(repeating: "0", count: 64))
        }
    }
}
