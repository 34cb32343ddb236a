import Crypto
import Foundation

/// AWS Signature Version 4: verification here, signing in ``SigV4Signer``, both built on the same canonical request,
/// string to sign and signing-key derivation (``canonicalRequest(method:path:query:headers:signedHeaders:payloadSHA256:)``,
/// ``stringToSign(amzDate:scope:canonicalRequest:)``, ``signingKey(secret:scope:)``).
///
/// Verifies AWS Signature Version 4 (`Authorization: AWS4-HMAC-SHA256 …` header form, or a presigned URL's
/// `X-Amz-Algorithm`/`X-Amz-Credential`/`X-Amz-Signature`… query string) against known key pairs.
///
/// Follows the SigV4 specification as botocore signs: canonical request (method, URI, sorted query, signed headers
/// with trimmed values, payload SHA-256), string to sign with the credential scope, signing key derived by HMAC
/// chaining over date, region and service. Requests signed more than 15 minutes from now are refused, as AWS does.
///
/// Verification has two steps so that nothing is read or stored for a request the headers already disqualify:
/// ``authorize(_:now:)`` checks everything the headers alone decide (shape, access key, credential scope, clock skew)
/// before the body is read, and ``Authorization/verify(payloadSHA256:)`` checks the signature against the SHA-256 of
/// the body actually received. A client's `X-Amz-Content-Sha256` header is never used as the payload hash: a request
/// replayed with another body but the original body's hash fails the signature check.
package struct SignatureV4: Sendable {
    /// The request parts the signature covers, except the body.
    package struct Head {
        /// The HTTP method.
        package var method: String
        /// The path as sent (already percent-encoded).
        package var path: String
        /// The raw query string, if any.
        package var query: String?
        /// Header name (any case) → values.
        package var headers: [(name: String, value: String)]

        /// Creates a request head.
        package init(method: String, path: String, query: String?, headers: [(name: String, value: String)]) {
            (self.method, self.path, self.query, self.headers) = (method, path, query, headers)
        }
    }

    /// The request parts the signature covers.
    package struct Request {
        /// The HTTP method.
        package var method: String
        /// The path as sent (already percent-encoded).
        package var path: String
        /// The raw query string, if any.
        package var query: String?
        /// Header name (any case) → values.
        package var headers: [(name: String, value: String)]
        /// The body.
        package var body: [UInt8]

        /// Creates a request.
        package init(
            method: String, path: String, query: String?, headers: [(name: String, value: String)], body: [UInt8]
        ) {
            (self.method, self.path, self.query, self.headers, self.body) = (method, path, query, headers, body)
        }
    }

    /// A request whose headers passed ``authorize(_:now:)``; its signature is checked once the body's hash is known.
    package struct Authorization: Sendable {
        /// The canonical request without its last line (the payload hash), newline-terminated.
        let canonicalRequestPrefix: String
        let amzDate: String
        /// The credential scope: `date/region/service/aws4_request`.
        package let scope: String
        let signingKey: [UInt8]
        let signature: String

        /// The region of the credential scope (the second of its four parts).
        package var region: String {
            scope.split(separator: "/", omittingEmptySubsequences: false).dropFirst().first.map(String.init) ?? ""
        }

        /// Checks the signature with the SHA-256 (lowercase hex) of the body received.
        /// - Throws: ``WireError/Code/invalidSignature`` when the signature does not match.
        package func verify(payloadSHA256: String) throws(WireError) {
            let stringToSign = SignatureV4.stringToSign(
                amzDate: amzDate, scope: scope, canonicalRequest: canonicalRequestPrefix + payloadSHA256)
            let expected = SignatureV4.signature(of: stringToSign, key: signingKey)
            guard SignatureV4.constantTimeEqual(expected, signature.lowercased()) else {
                throw WireError(
                    .invalidSignature,
                    "The request signature we calculated does not match the signature you provided. Check your AWS"
                        + " Secret Access Key and signing method. Consult the service documentation for details.")
            }
        }
    }

    /// Access key id → secret access key.
    package let credentials: [String: String]

    /// The service name a credential scope must name.
    package let service: String

    /// Creates a verifier.
    /// - Parameters:
    ///   - credentials: access key id → secret access key.
    ///   - service: the service a credential scope must name.
    package init(credentials: [String: String], service: String = "kinesis") {
        self.credentials = credentials
        self.service = service
    }

    /// Checks the signature of a whole request (headers, then the body's hash).
    /// - Throws: as ``authorize(_:now:)`` and ``Authorization/verify(payloadSHA256:)``.
    package func verify(_ request: Request, now: Date = Date()) throws(WireError) {
        let authorization = try authorize(
            Head(method: request.method, path: request.path, query: request.query, headers: request.headers), now: now)
        try authorization.verify(payloadSHA256: Self.hex(SHA256.hash(data: request.body)))
    }

    /// The signature parts of a request, from its `Authorization` header or from a presigned query string.
    private struct Signed {
        var credential: String
        var signedHeaders: String
        var signature: String
        var amzDate: String
        /// The query string the canonical request covers (a presigned URL's without `X-Amz-Signature`).
        var query: String?
        /// A presigned URL's `X-Amz-Expires`, in seconds.
        var expires: Int?
    }

    /// Checks what the headers alone decide, before any of the body is read: the `Authorization` header's (or the
    /// presigned query string's) shape, a known access key, the credential scope (date matching `X-Amz-Date`,
    /// service `kinesis`, `aws4_request`) and a request time within 15 minutes of `now` (for a presigned URL: not
    /// past `X-Amz-Expires`).
    /// - Returns: what ``Authorization/verify(payloadSHA256:)`` needs once the body has been hashed.
    /// - Throws: ``WireError`` with AWS's codes and texts: `MissingAuthenticationTokenException` (no signature at all),
    ///   `IncompleteSignatureException` (signature parts missing, each named), `UnrecognizedClientException`
    ///   (unknown access key), `InvalidSignatureException` (bad scope, clock skew, both header and query signed).
    package func authorize(_ request: Head, now: Date = Date()) throws(WireError) -> Authorization {
        let signed = try Self.signatureParts(request)
        let credential = signed.credential
        let signedHeaders = signed.signedHeaders
        let signature = signed.signature
        let amzDate = signed.amzDate
        let scopeParts = credential.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard scopeParts.count == 5, scopeParts[4] == "aws4_request" else {
            throw WireError(
                .incompleteSignature,
                "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term,"
                    + " got '\(credential)'")
        }
        guard let secret = credentials[scopeParts[0]] else {
            throw WireError(.unrecognizedClient, "The security token included in the request is invalid.")
        }
        guard let signedAt = Self.parseAmzDate(amzDate) else {
            throw WireError(
                .incompleteSignature,
                "Date must be in ISO-8601 'basic format'. Got '\(amzDate)'. See"
                    + " http://en.wikipedia.org/wiki/ISO_8601")
        }
        if let expires = signed.expires {
            if now.timeIntervalSince(signedAt) > TimeInterval(expires) {
                throw WireError(
                    .invalidSignature,
                    "Signature expired: \(amzDate) is now earlier than"
                        + " \(Self.amzDate(now - TimeInterval(expires))) (\(Self.amzDate(now)) - \(expires) sec.)")
            }
        } else {
            let skew: TimeInterval = 15 * 60
            if signedAt.timeIntervalSince(now) < -skew {
                throw WireError(
                    .invalidSignature,
                    "Signature expired: \(amzDate) is now earlier than \(Self.amzDate(now - skew))"
                        + " (\(Self.amzDate(now)) - 15 min.)")
            }
        }
        if signedAt.timeIntervalSince(now) > 15 * 60 {
            throw WireError(
                .invalidSignature,
                "Signature not yet current: \(amzDate) is still later than \(Self.amzDate(now + 15 * 60))"
                    + " (\(Self.amzDate(now)) + 15 min.)")
        }
        guard amzDate.hasPrefix(scopeParts[1]) else {
            throw WireError(
                .invalidSignature,
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP:"
                    + " '\(scopeParts[1])' != '\(amzDate.prefix(8))', from '\(amzDate)'.")
        }
        guard scopeParts[3] == service else {
            throw WireError(.invalidSignature, "Credential should be scoped to correct service: '\(service)'. ")
        }
        let scope = scopeParts[1...4].joined(separator: "/")
        let prefix = Self.canonicalRequest(
            method: request.method, path: request.path, query: signed.query, headers: request.headers,
            signedHeaders: signedHeaders.split(separator: ";").map { $0.lowercased() }, payloadSHA256: "")
        return Authorization(
            canonicalRequestPrefix: prefix, amzDate: amzDate, scope: scope,
            signingKey: Self.signingKey(secret: secret, scope: scope), signature: signature)
    }

    /// The canonical request of SigV4: method, canonical URI (each path segment decoded once and encoded again),
    /// canonical query (sorted, encoded), the signed headers (lowercase names, values trimmed and inner spaces
    /// collapsed, several values joined by commas), the signed header names and the payload hash.
    /// - Parameters:
    ///   - method: the HTTP method.
    ///   - path: the path as sent.
    ///   - query: the raw query string, if any (a presigned URL's without `X-Amz-Signature`).
    ///   - headers: the request's headers, names in any case.
    ///   - signedHeaders: the lowercase names of the headers signed, in order.
    ///   - payloadSHA256: the lowercase hex SHA-256 of the body (empty for the prefix the verifier keeps).
    /// - Returns: the canonical request text.
    package static func canonicalRequest(
        method: String, path: String, query: String?, headers: [(name: String, value: String)],
        signedHeaders: [String], payloadSHA256: String
    ) -> String {
        var canonicalHeaders = ""
        for name in signedHeaders {
            let values = headers.filter { $0.name.lowercased() == name }.map { trimValue($0.value) }
            canonicalHeaders += name + ":" + values.joined(separator: ",") + "\n"
        }
        return [
            method, canonicalURI(path), canonicalQuery(query), canonicalHeaders, signedHeaders.joined(separator: ";"),
            payloadSHA256,
        ].joined(separator: "\n")
    }

    /// The string to sign: the algorithm, the request time, the credential scope and the canonical request's hash.
    package static func stringToSign(amzDate: String, scope: String, canonicalRequest: String) -> String {
        ["AWS4-HMAC-SHA256", amzDate, scope, hex(SHA256.hash(data: Array(canonicalRequest.utf8)))]
            .joined(separator: "\n")
    }

    /// The signing key: HMAC-SHA256 chained from `AWS4` + the secret over each part of the credential scope
    /// (`date/region/service/aws4_request`).
    package static func signingKey(secret: String, scope: String) -> [UInt8] {
        var key = Array(("AWS4" + secret).utf8)
        for part in scope.split(separator: "/", omittingEmptySubsequences: false) {
            key = Array(HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: SymmetricKey(data: key)))
        }
        return key
    }

    /// The signature: lowercase hex HMAC-SHA256 of the string to sign under the signing key.
    package static func signature(of stringToSign: String, key: [UInt8]) -> String {
        hex(HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: SymmetricKey(data: key)))
    }

    private static func header(_ name: String, in request: Head) -> String? {
        request.headers.first { $0.name.lowercased() == name }?.value
    }

    /// The query parameters of a presigned URL (names as sent → decoded values).
    private static func queryItems(_ query: String?) -> [(name: String, value: String)] {
        guard let query, !query.isEmpty else { return [] }
        return query.split(separator: "&").map { item in
            let kv = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map {
                String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String($0)
            }
            return (kv[0], kv.count > 1 ? kv[1] : "")
        }
    }

    /// Finds the signature in the `Authorization` header or the presigned query string, naming every missing part
    /// as AWS does.
    private static func signatureParts(_ request: Head) throws(WireError) -> Signed {
        let query = queryItems(request.query)
        let authorization = header("authorization", in: request)
        let presigned = query.contains { $0.name == "X-Amz-Algorithm" }
        if authorization != nil && presigned {
            throw WireError(
                .invalidSignature,
                "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.")
        }
        if let authorization {
            var parts: [String: String] = [:]
            let items = authorization.split(whereSeparator: { $0 == "," || $0 == " " }).dropFirst()
            for item in items {
                guard let eq = item.firstIndex(of: "=") else { continue }
                parts[String(item[..<eq])] = String(item[item.index(after: eq)...])
            }
            var missing = ""
            for name in ["Credential", "Signature", "SignedHeaders"] where (parts[name] ?? "").isEmpty {
                missing += "Authorization header requires '\(name)' parameter. "
            }
            let date = header("x-amz-date", in: request) ?? header("date", in: request)
            if date == nil {
                missing += "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
            }
            guard missing.isEmpty, let credential = parts["Credential"], let signedHeaders = parts["SignedHeaders"],
                let signature = parts["Signature"], let date
            else {
                throw WireError(.incompleteSignature, missing + "Authorization=" + authorization)
            }
            guard authorization.hasPrefix("AWS4-HMAC-SHA256 ") else {
                throw WireError(
                    .incompleteSignature, "Unsupported AWS 'algorithm': '\(authorization.prefix { $0 != " " })'")
            }
            return Signed(
                credential: credential, signedHeaders: signedHeaders, signature: signature, amzDate: date,
                query: request.query, expires: nil)
        }
        guard presigned else {
            throw WireError(.missingAuthenticationToken, "Missing Authentication Token")
        }
        func value(_ name: String) -> String? {
            query.first { $0.name == name }.map(\.value).flatMap { $0.isEmpty ? nil : $0 }
        }
        var missing = ""
        for name in ["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders", "X-Amz-Date"]
        where value(name) == nil {
            missing += "AWS query-string parameters must include '\(name)'. "
        }
        guard missing.isEmpty, let algorithm = value("X-Amz-Algorithm"), let credential = value("X-Amz-Credential"),
            let signature = value("X-Amz-Signature"), let signedHeaders = value("X-Amz-SignedHeaders"),
            let date = value("X-Amz-Date")
        else {
            throw WireError(.incompleteSignature, missing + "Re-examine the query-string parameters.")
        }
        guard algorithm == "AWS4-HMAC-SHA256" else {
            throw WireError(.incompleteSignature, "Unsupported AWS 'algorithm': '\(algorithm)'")
        }
        var expires: Int?
        if let text = value("X-Amz-Expires") {
            guard let seconds = Int(text), (1...604_800).contains(seconds) else {
                throw WireError(
                    .incompleteSignature,
                    "X-Amz-Expires must be a number of seconds between 1 and 604800 (7 days), not '\(text)'")
            }
            expires = seconds
        }
        let unsignedQuery = request.query?.split(separator: "&")
            .filter { !$0.hasPrefix("X-Amz-Signature=") }.joined(separator: "&")
        return Signed(
            credential: credential, signedHeaders: signedHeaders, signature: signature, amzDate: date,
            query: unsignedQuery, expires: expires)
    }

    /// A header value trimmed, runs of spaces and tabs inside collapsed to one space.
    package static func trimValue(_ value: String) -> String {
        value.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
    }

    /// Lowercase hex of `bytes`.
    package static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Whether `a` equals `b`, in time that depends only on their lengths.
    package static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var diff: UInt8 = 0
        for i in x.indices { diff |= x[i] ^ y[i] }
        return diff == 0
    }

    /// RFC 3986 encoding of everything but unreserved characters.
    package static func encode(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            switch b {
            case 65...90, 97...122, 48...57, UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                out += "%" + String(b, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }

    /// The canonical URI: each path segment decoded once and encoded again (non-S3 services).
    package static func canonicalURI(_ path: String) -> String {
        guard !path.isEmpty else { return "/" }
        return path.split(separator: "/", omittingEmptySubsequences: false)
            .map { encode(String($0).removingPercentEncoding ?? String($0)) }
            .joined(separator: "/")
    }

    /// The canonical query: parameters decoded once and encoded again, sorted by name and value.
    package static func canonicalQuery(_ query: String?) -> String {
        guard let query, !query.isEmpty else { return "" }
        let pairs = query.split(separator: "&").map { item -> (String, String) in
            let kv = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map {
                encode(String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String($0))
            }
            return (kv[0], kv.count > 1 ? kv[1] : "")
        }
        return pairs.sorted { $0 < $1 }.map { $0.0 + "=" + $0.1 }.joined(separator: "&")
    }

    /// Formats `date` as `20240101T120000Z` (UTC).
    package static func amzDate(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func two(_ n: Int?) -> String { (n ?? 0) < 10 ? "0\(n ?? 0)" : "\(n ?? 0)" }
        return "\(c.year ?? 0)" + two(c.month) + two(c.day) + "T" + two(c.hour) + two(c.minute) + two(c.second) + "Z"
    }

    /// Parses `20240101T120000Z`.
    package static func parseAmzDate(_ text: String) -> Date? {
        let b = Array(text.utf8)
        guard b.count == 16, b[8] == UInt8(ascii: "T"), b[15] == UInt8(ascii: "Z") else { return nil }
        func number(_ r: Range<Int>) -> Int? { Int(String(decoding: b[r], as: UTF8.self)) }
        guard let y = number(0..<4), let mo = number(4..<6), let d = number(6..<8), let h = number(9..<11),
            let mi = number(11..<13), let s = number(13..<15)
        else { return nil }
        var components = DateComponents()
        components.timeZone = TimeZone(identifier: "UTC")
        (components.year, components.month, components.day) = (y, mo, d)
        (components.hour, components.minute, components.second) = (h, mi, s)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        return calendar.date(from: components)
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: Swift.max(0, width - count)) + self
    }
}
