import Crypto
import Foundation
import Testing

@testable import ShardLogWire

/// The one SigV4: ``SigV4Signer`` (clients) and ``SignatureV4`` (the server's verifier) against AWS's published test
/// suite and against each other.
@Suite struct SigV4Tests {
    /// The credentials, region, service and time of AWS's Signature Version 4 test suite.
    static let accessKey = "AKIDEXAMPLE"
    static let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    static let date = Date(timeIntervalSince1970: 1_440_938_160)  // 2015-08-30T12:36:00Z
    static let signer = SigV4Signer(
        accessKeyId: accessKey, secretAccessKey: secret, sessionToken: nil, region: "us-east-1", service: "service")
    static let verifier = SignatureV4(credentials: [accessKey: secret], service: "service")

    /// AWS's `get-vanilla` and `get-vanilla-query-order-key-case` examples: the published signatures, from the
    /// signer and accepted by the verifier.
    @Test(arguments: [
        ("https://example.amazonaws.com/", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
        (
            "https://example.amazonaws.com/?Param2=value2&Param1=value1",
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
        ),
    ])
    func awsTestSuite(url: String, signature: String) throws {
        let url = try #require(URL(string: url))
        let headers = Self.signer.sign(method: "GET", url: url, headers: [:], body: Data(), date: Self.date)
        #expect(headers["X-Amz-Date"] == "20150830T123600Z")
        #expect(
            headers["Authorization"]
                == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                + "SignedHeaders=host;x-amz-date, Signature=\(signature)")
        let request = SignatureV4.Request(
            method: "GET", path: url.path, query: url.query,
            headers: [("Host", "example.amazonaws.com")] + headers.map { ($0.key, $0.value) }, body: [])
        try Self.verifier.verify(request, now: Self.date)
    }

    /// A signed POST with a body, a session token and a port verifies; any change to the body, a signed header,
    /// the path or the key does not.
    @Test func signThenVerifyRoundTrip() throws {
        let signer = SigV4Signer(
            accessKeyId: "AKID", secretAccessKey: "secret", sessionToken: "token", region: "eu-west-1",
            service: "kinesis")
        let verifier = SignatureV4(credentials: ["AKID": "secret"])
        let url = try #require(URL(string: "http://127.0.0.1:4567/"))
        let body = Array(#"{"StreamName":"s"}"#.utf8)
        let headers = signer.sign(
            url: url, headers: ["X-Amz-Target": "Kinesis_20131202.ListShards", "Content-Type": "  a   b "],
            body: Data(body), date: Self.date)
        func request(body: [UInt8] = body, path: String = "/", extra: [(String, String)] = []) -> SignatureV4.Request {
            SignatureV4.Request(
                method: "POST", path: path, query: nil,
                headers: [("host", "127.0.0.1:4567")] + headers.map { ($0.key, $0.value) } + extra, body: body)
        }
        let authorization = try verifier.authorize(
            SignatureV4.Head(method: "POST", path: "/", query: nil, headers: request().headers), now: Self.date)
        #expect(authorization.region == "eu-west-1")
        try authorization.verify(payloadSHA256: SignatureV4.hex(SHA256.hash(data: body)))
        try verifier.verify(request(), now: Self.date + 60)
        for tampered in [
            request(body: Array(#"{"StreamName":"t"}"#.utf8)), request(path: "/x"),
            request(extra: [("X-Amz-Security-Token", "other")]),
        ] {
            #expect(throws: WireError(.invalidSignature, Self.mismatch)) {
                try verifier.verify(tampered, now: Self.date)
            }
        }
        #expect(throws: WireError(.invalidSignature, Self.mismatch)) {
            try SignatureV4(credentials: ["AKID": "other"]).verify(request(), now: Self.date)
        }
        do {
            try verifier.verify(request(), now: Self.date + 16 * 60)
            Issue.record("a request signed 16 minutes ago verified")
        } catch {
            #expect(error.code == .invalidSignature)
            #expect(error.message.hasPrefix("Signature expired: 20150830T123600Z is now earlier than"))
        }
    }

    /// A presigned URL verifies until `X-Amz-Expires` has passed, and not with another body.
    @Test func presignThenVerifyRoundTrip() throws {
        let verifier = SignatureV4(credentials: [Self.accessKey: Self.secret], service: "service")
        let base = try #require(URL(string: "http://localhost:8080/path/a%20b?x=1"))
        let url = try #require(Self.signer.presign(url: base, body: Data([1, 2]), date: Self.date, expires: 300))
        let query = try #require(url.query(percentEncoded: true))
        #expect(query.hasPrefix("x=1&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2F"))
        func request(_ body: [UInt8]) -> SignatureV4.Request {
            SignatureV4.Request(
                method: "POST", path: url.path(percentEncoded: true), query: query,
                headers: [("Host", "localhost:8080")], body: body)
        }
        try verifier.verify(request([1, 2]), now: Self.date + 299)
        #expect(throws: WireError(.invalidSignature, Self.mismatch)) {
            try verifier.verify(request([1, 3]), now: Self.date)
        }
        do {
            try verifier.verify(request([1, 2]), now: Self.date + 301)
            Issue.record("an expired presigned URL verified")
        } catch {
            #expect(error.code == .invalidSignature)
            #expect(error.message.contains("Signature expired"), "\(error)")
        }
    }

    /// Requests without a usable signature get AWS's codes and texts.
    @Test func refusalsNameTheProblem() {
        func head(_ headers: [(String, String)], query: String? = nil) -> SignatureV4.Head {
            SignatureV4.Head(method: "POST", path: "/", query: query, headers: headers)
        }
        let cases: [(SignatureV4.Head, WireError.Code, String)] = [
            (head([]), .missingAuthenticationToken, "Missing Authentication Token"),
            (
                head([
                    ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request")
                ]),
                .incompleteSignature, "Authorization header requires 'Signature' parameter."
            ),
            (
                head([
                    (
                        "Authorization",
                        "AWS4-HMAC-SHA256 Credential=NOPE/20150830/us-east-1/service/aws4_request,"
                            + " SignedHeaders=host, Signature=00"
                    ),
                    ("X-Amz-Date", "20150830T123600Z"),
                ]),
                .unrecognizedClient, "The security token included in the request is invalid."
            ),
            (
                head([], query: "X-Amz-Algorithm=AWS4-HMAC-SHA256"), .incompleteSignature,
                "must include 'X-Amz-Credential'"
            ),
        ]
        for (request, code, text) in cases {
            do {
                _ = try Self.verifier.authorize(request, now: Self.date)
                Issue.record("\(request.headers) was authorized")
            } catch {
                #expect(error.code == code, "\(error)")
                #expect(error.message.contains(text), "\(error)")
            }
        }
    }

    static let mismatch =
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access"
        + " Key and signing method. Consult the service documentation for details."

    @Test func amzDatesRoundTrip() throws {
        #expect(SignatureV4.amzDate(Self.date) == "20150830T123600Z")
        #expect(SignatureV4.parseAmzDate("20150830T123600Z") == Self.date)
        #expect(SignatureV4.parseAmzDate("2015-08-30T12:36:00Z") == nil)
    }
}
