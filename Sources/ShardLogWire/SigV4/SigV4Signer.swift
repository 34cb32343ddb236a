import Crypto
import Foundation

/// Signs requests with AWS Signature Version 4 (header form, signed payload; or a presigned URL), with the canonical
/// request, string to sign and signing key of ``SignatureV4``, the server's verifier. Used by the mapping's remote
/// Kinesis source and the CLI's remote put. Thread-safety: immutable.
package struct SigV4Signer: Sendable {
    /// The access key id named in the credential scope.
    package let accessKeyId: String
    let secretAccessKey: String
    /// The session token sent as `X-Amz-Security-Token`, if any.
    package let sessionToken: String?
    /// The region of the credential scope.
    package let region: String
    /// The service of the credential scope (e.g. `kinesis`).
    package let service: String

    /// Creates a signer for these credentials, region and service (e.g. `kinesis`).
    package init(accessKeyId: String, secretAccessKey: String, sessionToken: String?, region: String, service: String) {
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.region = region
        self.service = service
    }

    /// The credential scope for a request signed at `amzDate`: `date/region/service/aws4_request`.
    private func scope(_ amzDate: String) -> String {
        "\(amzDate.prefix(8))/\(region)/\(service)/aws4_request"
    }

    /// The `Host` header value of `url`: its host, and its port when one is given.
    private static func host(_ url: URL) -> String {
        var host = url.host ?? ""
        if let port = url.port { host += ":\(port)" }
        return host
    }

    /// The headers to send: `headers` plus `X-Amz-Date`, `X-Amz-Security-Token` and `Authorization`.
    /// - Parameters:
    ///   - method: the HTTP method.
    ///   - url: the request URL (its host, port, path and query are signed).
    ///   - headers: the headers to sign and send (`Host` is added to the signature from `url`).
    ///   - body: the body.
    ///   - date: the signing time.
    /// - Returns: `headers` with the signature headers added.
    package func sign(
        method: String = "POST", url: URL, headers: [String: String], body: Data, date: Date
    ) -> [String: String] {
        let amzDate = SignatureV4.amzDate(date)
        var all = headers
        all["X-Amz-Date"] = amzDate
        if let sessionToken { all["X-Amz-Security-Token"] = sessionToken }
        var signed = all.map { (name: $0.key.lowercased(), value: $0.value) }
        if !signed.contains(where: { $0.name == "host" }) { signed.append((name: "host", value: Self.host(url))) }
        let names = Set(signed.map(\.name)).sorted()
        let scope = scope(amzDate)
        let canonicalRequest = SignatureV4.canonicalRequest(
            method: method, path: url.path, query: url.query, headers: signed, signedHeaders: names,
            payloadSHA256: SignatureV4.hex(SHA256.hash(data: body)))
        let signature = SignatureV4.signature(
            of: SignatureV4.stringToSign(amzDate: amzDate, scope: scope, canonicalRequest: canonicalRequest),
            key: SignatureV4.signingKey(secret: secretAccessKey, scope: scope))
        all["Authorization"] =
            "AWS4-HMAC-SHA256 Credential=\(accessKeyId)/\(scope), SignedHeaders=\(names.joined(separator: ";")), "
            + "Signature=\(signature)"
        return all
    }

    /// A presigned URL (query-string SigV4): `url` with `X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`,
    /// `X-Amz-Expires`, `X-Amz-SignedHeaders` (`host`), `X-Amz-Security-Token` and `X-Amz-Signature` appended.
    /// - Parameters:
    ///   - method: the HTTP method the URL is for.
    ///   - url: the URL to sign.
    ///   - body: the body that will be sent with it.
    ///   - date: the signing time.
    ///   - expires: how long the URL is valid, in seconds (1 to 604800).
    /// - Returns: the presigned URL, or `nil` when `url` cannot take a query.
    package func presign(method: String = "POST", url: URL, body: Data, date: Date, expires: Int) -> URL? {
        let amzDate = SignatureV4.amzDate(date)
        let scope = scope(amzDate)
        var parameters = [
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"), ("X-Amz-Credential", "\(accessKeyId)/\(scope)"),
            ("X-Amz-Date", amzDate), ("X-Amz-Expires", String(expires)), ("X-Amz-SignedHeaders", "host"),
        ]
        if let sessionToken { parameters.append(("X-Amz-Security-Token", sessionToken)) }
        let added = parameters.map { SignatureV4.encode($0.0) + "=" + SignatureV4.encode($0.1) }
        let query = ((url.query.map { [$0] } ?? []) + added).joined(separator: "&")
        let canonicalRequest = SignatureV4.canonicalRequest(
            method: method, path: url.path, query: query, headers: [(name: "host", value: Self.host(url))],
            signedHeaders: ["host"], payloadSHA256: SignatureV4.hex(SHA256.hash(data: body)))
        let signature = SignatureV4.signature(
            of: SignatureV4.stringToSign(amzDate: amzDate, scope: scope, canonicalRequest: canonicalRequest),
            key: SignatureV4.signingKey(secret: secretAccessKey, scope: scope))
        guard var components = URLComponents(url: url, resolvingAgainstBaseURL: false) else { return nil }
        components.percentEncodedQuery = query + "&X-Amz-Signature=" + signature
        return components.url
    }
}
