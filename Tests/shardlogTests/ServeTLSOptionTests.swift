import Foundation
import ShardLogTestSupport
import Testing

/// `shardlog serve --tls-cert/--tls-key` refuses to start, with a sentence naming the file, when the pair can't be
/// used.
@Suite struct ServeTLSOptionTests {
    @Test(.timeLimit(.minutes(1)))
    func badCertificatePathIsAClearStartupError() async throws {
        try await withTemporaryDirectory { directory in
            let missing = directory + "/missing.crt"
            let result = try await runShardlog([
                "serve", "--data-dir", directory + "/data", "--port", "0", "--tls-cert", missing, "--tls-key",
                directory + "/missing.key",
            ])
            #expect(result.status != 0)
            #expect(
                result.stderr.contains("TLS certificate file \(missing) does not exist (--tls-cert)"),
                "\(result.stderr)")
            #expect(!result.stderr.contains("listening on"))
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func certificateWithoutKeyIsRefused() async throws {
        try await withTemporaryDirectory { directory in
            let result = try await runShardlog([
                "serve", "--data-dir", directory + "/data", "--port", "0", "--tls-cert", directory + "/c.pem",
            ])
            #expect(result.status != 0)
            #expect(result.stderr.contains("--tls-cert and --tls-key must be given together"), "\(result.stderr)")
        }
    }
}
