import Foundation
import ShardLogTestSupport
import ShardLogWire
import Testing

@testable import ShardLogServer

/// CBOR requests as the server reads them (the codec itself: ShardLogWireTests' `CBORTests`).
@Suite struct CBORRequestTests {
    @Test func bodiesBecomeParams() throws {
        let body = CBOR.encode(
            .fields([
                "StreamName": .string("s"), "Limit": .integer(5), "Data": .blob([0, 255]),
                "Timestamp": .epochMilliseconds(1_700_000_000_123),
            ]))
        let p = try Params(body: body, format: .cbor)
        #expect(try p.string("StreamName") == "s")
        #expect(try p.int("Limit") == 5)
        #expect(try p.blob("Data") == [0, 255])
        #expect(try p.timestamp("Timestamp") == Date(timeIntervalSince1970: 1_700_000_000.123))
        #expect(try Params(body: [], format: .cbor).members.isEmpty)
        #expect(throws: KinesisError(.serialization, "the request body must be a CBOR map, not a list")) {
            try Params(body: [0x80], format: .cbor)
        }
    }

    @Test func validatorMeasuresByteStrings() throws {
        let members: [String: JSON] = [
            "StreamName": .string("s"), "PartitionKey": .string("k"), "Data": .blob([UInt8](repeating: 0, count: 3)),
        ]
        try RequestValidator.validate(operation: "PutRecord", members: members)
        var big = members
        big["Data"] = .blob([UInt8](repeating: 0, count: (10 << 20) + 1))
        do {
            try RequestValidator.validate(operation: "PutRecord", members: big)
            Issue.record("a blob over the model's maximum passed")
        } catch {
            #expect(error.message.contains("java.nio.HeapByteBuffer[pos=0 lim=10485761 cap=10485761]"), "\(error)")
        }
    }

    @Test func errorBodiesInCBOR() throws {
        let e = KinesisError(.resourceNotFound, "Stream x under account 000000000000 not found.")
        #expect(
            try CBOR.decode(e.body(in: .cbor))
                == .object(["__type": .string("ResourceNotFoundException"), "message": .string(e.message)]))
        #expect(e.body(in: .json) == e.body)
        let s = KinesisError(.serialization, "bad")
        #expect(
            try CBOR.decode(s.body(in: .cbor)) == .object(["__type": .string(s.code.name), "Message": .string("bad")]))
    }

    /// A body that is not CBOR is AWS's `SerializationException`, naming the problem and its byte offset.
    @Test func malformedBodiesAreSerializationExceptions() {
        #expect(throws: KinesisError(.serialization, "malformed CBOR request body: unexpected end of input at byte 1"))
        {
            try Params(body: [0x18], format: .cbor)
        }
        #expect(throws: KinesisError(.serialization, "malformed JSON request body: unterminated object at byte 6")) {
            try Params(body: Array(#"{"a":1"#.utf8), format: .json)
        }
    }
}

@Suite struct CBORServerTests {
    /// Every operation the boto3 script covers, in CBOR, from Python `cbor2` requests built as the Java SDK builds
    /// them (byte-string blobs, tag-1 millisecond timestamps), against a live server.
    @Test(.timeLimit(.minutes(2)))
    func cborEndToEnd() async throws {
        var options = KinesisServerOptions()
        options.maxSubscriptionDuration = .seconds(3)
        let result = try await withServer(options) { port in
            try await runProcess(
                [
                    "python3", pythonScriptPath("kinesis_cbor_test.py"), "--endpoint", "http://127.0.0.1:\(port)",
                    "--subscription-seconds", "3",
                ],
                environment: [:], timeout: .seconds(100))
        }
        #expect(result.status == 0, "kinesis_cbor_test.py failed:\n\(result.output)")
    }
}
