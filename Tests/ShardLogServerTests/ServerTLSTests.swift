import Foundation
import ShardLogTestSupport
import Testing

@testable import ShardLogServer

/// Loading a TLS certificate and key (``ServerTLS``): every failure names the file and what to do.
@Suite struct ServerTLSTests {
    @Test(.timeLimit(.minutes(1)))
    func loadsAMatchingPair() async throws {
        try await withTemporaryDirectory { directory in
            let (cert, key) = try await makeTestCertificate(in: directory)
            let tls = try ServerTLS(certificatePath: cert, keyPath: key)
            #expect(tls.certificatePath == cert)
            #expect(ServerTLS.applicationProtocols == ["h2", "http/1.1"])
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func failuresNameTheFile() async throws {
        try await withTemporaryDirectory { directory in
            let (cert, key) = try await makeTestCertificate(in: directory)
            let (_, otherKey) = try await makeTestCertificate(in: directory, name: "other")
            let notPEM = directory + "/not-a-cert.pem"
            try Data("hello\n".utf8).write(to: URL(fileURLWithPath: notPEM))
            let missing = directory + "/missing.pem"

            let noCert = #expect(throws: KinesisError.self) { try ServerTLS(certificatePath: missing, keyPath: key) }
            #expect(noCert?.message == "TLS certificate file \(missing) does not exist (--tls-cert)")
            let noKey = #expect(throws: KinesisError.self) { try ServerTLS(certificatePath: cert, keyPath: missing) }
            #expect(noKey?.message == "TLS private key file \(missing) does not exist (--tls-key)")
            let directoryAsCert = #expect(throws: KinesisError.self) {
                try ServerTLS(certificatePath: directory, keyPath: key)
            }
            #expect(directoryAsCert?.message.hasPrefix("TLS certificate file \(directory) cannot be read") == true)
            let badCert = #expect(throws: KinesisError.self) { try ServerTLS(certificatePath: notPEM, keyPath: key) }
            #expect(
                badCert?.message.contains("TLS certificate file \(notPEM)") == true, "\(String(describing: badCert))")
            let badKey = #expect(throws: KinesisError.self) { try ServerTLS(certificatePath: cert, keyPath: notPEM) }
            #expect(badKey?.message.hasPrefix("cannot load TLS private key file \(notPEM)") == true)
            let mismatch = #expect(throws: KinesisError.self) {
                try ServerTLS(certificatePath: cert, keyPath: otherKey)
            }
            #expect(
                mismatch?.message.hasPrefix(
                    "the TLS private key in \(otherKey) does not belong to the certificate in \(cert)") == true,
                "\(String(describing: mismatch))")
        }
    }
}
