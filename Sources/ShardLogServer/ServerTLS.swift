import Foundation
import NIOSSL

/// The server's TLS identity: a certificate chain and its private key from PEM files, offering ALPN `h2` and
/// `http/1.1` (as AWS's endpoints do, and as the AWS SDK for Java's HTTP/2 client and the Kinesis Producer Library
/// require).
///
/// Thread-safety: immutable; safe from any thread.
package struct ServerTLS: Sendable {
    /// The certificate chain file (PEM).
    package let certificatePath: String
    /// The private key file (PEM).
    package let keyPath: String
    /// The TLS context every connection is served with.
    let context: NIOSSLContext

    /// The ALPN protocols offered, in order of preference.
    static let applicationProtocols = ["h2", "http/1.1"]

    /// Loads and checks a certificate chain and its key.
    /// - Parameters:
    ///   - certificatePath: a PEM file of the server's certificate, optionally followed by its intermediates.
    ///   - keyPath: a PEM file of the certificate's private key (unencrypted).
    /// - Throws: `ValidationException` naming the file that cannot be read or parsed, or both files when the key
    ///   is not the certificate's.
    package init(certificatePath: String, keyPath: String) throws(KinesisError) {
        self.certificatePath = certificatePath
        self.keyPath = keyPath
        try Self.checkReadable(certificatePath, what: "TLS certificate file", option: "--tls-cert")
        try Self.checkReadable(keyPath, what: "TLS private key file", option: "--tls-key")
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificatePath)
        } catch {
            throw KinesisError(
                .validation,
                "cannot load TLS certificate file \(certificatePath) (\(error)): --tls-cert must name a PEM file"
                    + " (-----BEGIN CERTIFICATE-----)")
        }
        guard !chain.isEmpty else {
            throw KinesisError(
                .validation,
                "TLS certificate file \(certificatePath) holds no certificate: --tls-cert must name a PEM file"
                    + " (-----BEGIN CERTIFICATE-----)")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
        } catch {
            throw KinesisError(
                .validation,
                "cannot load TLS private key file \(keyPath) (\(error)): --tls-key must name an unencrypted PEM"
                    + " private key (-----BEGIN PRIVATE KEY-----)")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.applicationProtocols = Self.applicationProtocols
        do {
            context = try NIOSSLContext(configuration: configuration)
        } catch {
            throw KinesisError(
                .validation,
                "the TLS private key in \(keyPath) does not belong to the certificate in \(certificatePath)"
                    + " (\(error)); give --tls-key the key the certificate was made for")
        }
    }

    /// Throws a message naming `path` when it is not a readable regular file.
    private static func checkReadable(_ path: String, what: String, option: String) throws(KinesisError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw KinesisError(.validation, "\(what) \(path) does not exist (\(option))")
        }
        guard !isDirectory.boolValue, FileManager.default.isReadableFile(atPath: path) else {
            throw KinesisError(
                .validation,
                "\(what) \(path) cannot be read: \(isDirectory.boolValue ? "a directory" : "permission denied") (\(option))"
            )
        }
    }
}
