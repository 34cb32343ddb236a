import Foundation
import ShardLogTestSupport
import Testing

@testable import ShardLogServer

/// SigV4 failures with AWS's codes and texts, from requests botocore signs (header and presigned query-string
/// forms; see Python/auth_requests.py), against a server run with `--credentials`.
@Suite struct AuthConformanceTests {
    @Test(.timeLimit(.minutes(1)))
    func authErrorsAreAWSs() async throws {
        var options = KinesisServerOptions()
        options.credentials = ["AKIDSHARDLOGTEST": "shardlog-secret"]
        let result = try await withServer(options) { port in
            try await runProcess(
                [
                    "python3", pythonScriptPath("auth_requests.py"), "--endpoint", "http://127.0.0.1:\(port)",
                    "--key", "AKIDSHARDLOGTEST", "--secret", "shardlog-secret", "--region", "us-west-2",
                ],
                environment: [:], timeout: .seconds(50))
        }
        try #require(result.status == 0, "auth_requests.py failed:\n\(result.output)")
        let object = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
        let cases = try #require(object)
        func reply(_ name: String) -> (status: Int, type: String?, message: String?) {
            guard let pair = cases[name] as? [Any], let status = pair.first as? Int else { return (0, nil, nil) }
            let body = pair.count > 1 ? pair[1] as? [String: Any] : nil
            return (status, body?["__type"] as? String, body?["message"] as? String)
        }
        let unsigned = reply("unsigned")
        #expect(unsigned.status == 400)
        #expect(unsigned.type == "MissingAuthenticationTokenException")
        #expect(unsigned.message == "Missing Authentication Token")
        #expect(reply("good").status == 200)
        #expect(reply("presignedGood").status == 200)
        let mismatch =
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret"
            + " Access Key and signing method. Consult the service documentation for details."
        for name in ["wrongSecret", "presignedWrongSignature"] {
            #expect(reply(name).type == "InvalidSignatureException", "\(name)")
            #expect(reply(name).message == mismatch, "\(name)")
        }
        for name in ["unknownKey", "presignedUnknownKey"] {
            #expect(reply(name).type == "UnrecognizedClientException", "\(name)")
            #expect(reply(name).message == "The security token included in the request is invalid.", "\(name)")
        }
        let malformed = reply("malformed")
        #expect(malformed.type == "IncompleteSignatureException")
        let header = try #require(cases["malformedHeader"] as? String)
        #expect(
            malformed.message
                == "Authorization header requires 'Signature' parameter. Authorization header requires"
                + " 'SignedHeaders' parameter. Authorization=\(header)")
        let incomplete = reply("presignedIncomplete")
        #expect(incomplete.type == "IncompleteSignatureException")
        #expect(
            incomplete.message
                == "AWS query-string parameters must include 'X-Amz-Credential'. Re-examine the query-string"
                + " parameters.")
        let both = reply("bothForms")
        #expect(both.type == "InvalidSignatureException")
        #expect(
            both.message
                == "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.")
    }
}
