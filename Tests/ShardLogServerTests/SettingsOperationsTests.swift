import Foundation
import ShardLogTestSupport
import Testing

@testable import ShardLogServer

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// One answer: status and the whole JSON body (``kinesisRequest(port:operation:body:method:headers:)`` keeps only the
/// string members).
func kinesisJSON(_ port: Int, _ operation: String, _ body: String) async throws -> (status: Int, json: [String: Any]) {
    var request = URLRequest(url: try #require(URL(string: "http://127.0.0.1:\(port)/")))
    request.httpMethod = "POST"
    request.setValue("application/x-amz-json-1.1", forHTTPHeaderField: "Content-Type")
    request.setValue("Kinesis_20131202." + operation, forHTTPHeaderField: "X-Amz-Target")
    request.httpBody = Data(body.utf8)
    let (data, response) = try await URLSession.shared.data(for: request)
    let http = try #require(response as? HTTPURLResponse)
    let object = (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
    return (http.statusCode, object)
}

/// Expects a 200 and returns the body.
private func ok(_ port: Int, _ operation: String, _ body: String) async throws -> [String: Any] {
    let reply = try await kinesisJSON(port, operation, body)
    #expect(reply.status == 200, "\(operation) \(body) answered \(reply.status) \(reply.json)")
    return reply.json
}

/// Expects a 400 with this `__type` and message.
private func refused(_ port: Int, _ operation: String, _ body: String, _ type: String, _ message: String)
    async throws
{
    let reply = try await kinesisJSON(port, operation, body)
    #expect(reply.status == 400)
    #expect(reply.json["__type"] as? String == type, "\(operation): \(reply.json)")
    #expect(reply.json["message"] as? String == message, "\(operation): \(reply.json)")
}

private func summary(_ port: Int, _ stream: String) async throws -> [String: Any] {
    try await ok(port, "DescribeStreamSummary", #"{"StreamName":"\#(stream)"}"#)["StreamDescriptionSummary"]
        as? [String: Any] ?? [:]
}

private func temporaryDirectory() -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("shardlog-settings-\(UUID().uuidString)").path
}

private let arnPrefix = "arn:aws:kinesis:us-east-1:000000000000:stream/"

/// The operations that record stream, policy and account settings (`KinesisServer+Settings.swift`), through the
/// real HTTP server: each one's answer, its not-found and validation texts, and what it stored after a restart.
@Suite struct SettingsOperationsTests {
    @Test func encryptionIsRecordedReportedAndKept() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await withServer(directory: directory) { port in
            _ = try await ok(port, "CreateStream", #"{"StreamName":"enc","ShardCount":1}"#)
            #expect(try await summary(port, "enc")["EncryptionType"] as? String == "NONE")
            #expect(try await summary(port, "enc")["KeyId"] == nil)
            _ = try await ok(
                port, "StartStreamEncryption",
                #"{"StreamName":"enc","EncryptionType":"KMS","KeyId":"alias/aws/kinesis"}"#)
            let put = try await ok(port, "PutRecord", #"{"StreamName":"enc","Data":"AAAA","PartitionKey":"k"}"#)
            #expect(put["EncryptionType"] as? String == "KMS")
            let puts = try await ok(
                port, "PutRecords", #"{"StreamName":"enc","Records":[{"Data":"AAAA","PartitionKey":"k"}]}"#)
            #expect(puts["EncryptionType"] as? String == "KMS")
            let iterator = try await ok(
                port, "GetShardIterator",
                #"{"StreamName":"enc","ShardId":"shardId-000000000000","ShardIteratorType":"TRIM_HORIZON"}"#)
            let token = try #require(iterator["ShardIterator"] as? String)
            let records = try await ok(port, "GetRecords", #"{"ShardIterator":"\#(token)"}"#)["Records"]
            let list = try #require(records as? [[String: Any]])
            #expect(list.count == 2)
            #expect(list.allSatisfy { $0["EncryptionType"] as? String == "KMS" })
            await refusedCases(port)
        }
        try await withServer(directory: directory) { port in
            let s = try await summary(port, "enc")
            #expect(s["EncryptionType"] as? String == "KMS")
            #expect(s["KeyId"] as? String == "alias/aws/kinesis")
            let d =
                try await ok(port, "DescribeStream", #"{"StreamName":"enc"}"#)["StreamDescription"] as? [String: Any]
            #expect(d?["EncryptionType"] as? String == "KMS")
            #expect(d?["KeyId"] as? String == "alias/aws/kinesis")
            _ = try await ok(
                port, "StopStreamEncryption",
                #"{"StreamARN":"\#(arnPrefix)enc","EncryptionType":"KMS","KeyId":"alias/aws/kinesis"}"#)
            #expect(try await summary(port, "enc")["EncryptionType"] as? String == "NONE")
            #expect(try await summary(port, "enc")["KeyId"] == nil)
            let put = try await ok(port, "PutRecord", #"{"StreamName":"enc","Data":"AAAA","PartitionKey":"k"}"#)
            #expect(put["EncryptionType"] as? String == "NONE")
        }
    }

    private func refusedCases(_ port: Int) async {
        do {
            try await refused(
                port, "StartStreamEncryption", #"{"StreamName":"nope","EncryptionType":"KMS","KeyId":"k"}"#,
                "ResourceNotFoundException", "Stream nope under account 000000000000 not found.")
            try await refused(
                port, "StartStreamEncryption", #"{"StreamName":"enc","EncryptionType":"AES"}"#,
                "ValidationException",
                "2 validation errors detected: Value 'AES' at 'encryptionType' failed to satisfy constraint: Member"
                    + " must satisfy enum value set: [NONE, KMS]; Value null at 'keyId' failed to satisfy constraint:"
                    + " Member must not be null")
            try await refused(
                port, "StartStreamEncryption", #"{"StreamName":"enc","EncryptionType":"NONE","KeyId":"k"}"#,
                "InvalidArgumentException",
                "EncryptionType NONE is not valid for StartStreamEncryption on stream enc; the only encryption type is"
                    + " KMS")
        } catch {
            Issue.record(error)
        }
    }

    @Test func streamModeSwitchesAndIsKept() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await withServer(directory: directory) { port in
            _ = try await ok(port, "CreateStream", #"{"StreamName":"m","ShardCount":2}"#)
            _ = try await ok(
                port, "UpdateStreamMode",
                #"{"StreamARN":"\#(arnPrefix)m","StreamModeDetails":{"StreamMode":"ON_DEMAND"}}"#)
            let mode = try await summary(port, "m")["StreamModeDetails"] as? [String: Any]
            #expect(mode?["StreamMode"] as? String == "ON_DEMAND")
            try await refused(
                port, "UpdateShardCount", #"{"StreamName":"m","TargetShardCount":4,"ScalingType":"UNIFORM_SCALING"}"#,
                "ValidationException", "Request is invalid. Stream m under account 000000000000 is in On-Demand mode.")
            try await refused(
                port, "UpdateStreamMode",
                #"{"StreamARN":"\#(arnPrefix)nope","StreamModeDetails":{"StreamMode":"ON_DEMAND"}}"#,
                "ResourceNotFoundException", "Stream nope under account 000000000000 not found.")
            try await refused(
                port, "UpdateStreamMode", #"{"StreamARN":"\#(arnPrefix)m","StreamModeDetails":{"StreamMode":"FAST"}}"#,
                "ValidationException",
                "1 validation error detected: Value 'FAST' at 'streamModeDetails.streamMode' failed to satisfy"
                    + " constraint: Member must satisfy enum value set: [PROVISIONED, ON_DEMAND]")
            try await refused(
                port, "UpdateStreamMode", #"{"StreamName":"m"}"#, "ValidationException",
                "2 validation errors detected: Value null at 'streamARN' failed to satisfy constraint: Member must not"
                    + " be null; Value null at 'streamModeDetails' failed to satisfy constraint: Member must not be"
                    + " null")
        }
        try await withServer(directory: directory) { port in
            let mode = try await summary(port, "m")["StreamModeDetails"] as? [String: Any]
            #expect(mode?["StreamMode"] as? String == "ON_DEMAND")
            _ = try await ok(
                port, "UpdateStreamMode",
                #"{"StreamARN":"\#(arnPrefix)m","StreamModeDetails":{"StreamMode":"PROVISIONED"}}"#)
            let update = try await ok(
                port, "UpdateShardCount", #"{"StreamName":"m","TargetShardCount":4,"ScalingType":"UNIFORM_SCALING"}"#)
            #expect(update["TargetShardCount"] as? Int == 4)
            #expect(try await summary(port, "m")["OpenShardCount"] as? Int == 4)
        }
    }

    @Test func describeLimitsCountsOpenShardsAndOnDemandStreams() async throws {
        try await withServer { port in
            let empty = try await ok(port, "DescribeLimits", "{}")
            #expect(empty["OpenShardCount"] as? Int == 0)
            _ = try await ok(port, "CreateStream", #"{"StreamName":"p","ShardCount":3}"#)
            _ = try await ok(
                port, "CreateStream", #"{"StreamName":"o","StreamModeDetails":{"StreamMode":"ON_DEMAND"}}"#)
            let limits = try await ok(port, "DescribeLimits", "{}")
            #expect(limits["ShardLimit"] as? Int == 10_000)
            #expect(limits["OpenShardCount"] as? Int == 7)
            #expect(limits["OnDemandStreamCount"] as? Int == 1)
            #expect(limits["OnDemandStreamCountLimit"] as? Int == 50)
        }
    }

    @Test func resourcePoliciesAreStoredReturnedDeletedAndKept() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let policy = #"{\"Version\":\"2012-10-17\",\"Statement\":[]}"#
        let stream = arnPrefix + "rp"
        let consumer = try await withServer(directory: directory) { port in
            _ = try await ok(port, "CreateStream", #"{"StreamName":"rp","ShardCount":1}"#)
            let none = try await ok(port, "GetResourcePolicy", #"{"ResourceARN":"\#(stream)"}"#)
            #expect(none["Policy"] as? String == "{}")
            _ = try await ok(port, "PutResourcePolicy", #"{"ResourceARN":"\#(stream)","Policy":"\#(policy)"}"#)
            let registered = try await ok(
                port, "RegisterStreamConsumer", #"{"StreamARN":"\#(stream)","ConsumerName":"c"}"#)
            let consumer = try #require((registered["Consumer"] as? [String: Any])?["ConsumerARN"] as? String)
            _ = try await ok(port, "PutResourcePolicy", #"{"ResourceARN":"\#(consumer)","Policy":"{}"}"#)
            try await refused(
                port, "GetResourcePolicy", #"{"ResourceARN":"\#(arnPrefix)nope"}"#, "ResourceNotFoundException",
                "Stream nope under account 000000000000 not found.")
            try await refused(
                port, "PutResourcePolicy", #"{"ResourceARN":"\#(stream)","Policy":"not json"}"#,
                "InvalidArgumentException", "Policy for \(stream) is not a JSON policy document (a JSON object)")
            try await refused(
                port, "PutResourcePolicy", #"{"ResourceARN":"\#(stream)"}"#, "ValidationException",
                "1 validation error detected: Value null at 'policy' failed to satisfy constraint: Member must not be"
                    + " null")
            return consumer
        }
        try await withServer(directory: directory) { port in
            let got = try await ok(port, "GetResourcePolicy", #"{"ResourceARN":"\#(stream)"}"#)
            #expect(got["Policy"] as? String == #"{"Version":"2012-10-17","Statement":[]}"#)
            #expect(
                try await ok(port, "GetResourcePolicy", #"{"ResourceARN":"\#(consumer)"}"#)["Policy"] as? String == "{}"
            )
            _ = try await ok(port, "DeleteResourcePolicy", #"{"ResourceARN":"\#(stream)"}"#)
            #expect(
                try await ok(port, "GetResourcePolicy", #"{"ResourceARN":"\#(stream)"}"#)["Policy"] as? String == "{}")
            try await refused(
                port, "DeleteResourcePolicy", #"{"ResourceARN":"\#(stream)"}"#, "ResourceNotFoundException",
                "No resource policy found for resource ARN \(stream).")
            _ = try await ok(port, "DeregisterStreamConsumer", #"{"ConsumerARN":"\#(consumer)"}"#)
            try await refused(
                port, "GetResourcePolicy", #"{"ResourceARN":"\#(consumer)"}"#, "ResourceNotFoundException",
                "Consumer \(consumer), account 000000000000 not found.")
        }
    }

    @Test func accountSettingsAreStoredAndKept() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await withServer(directory: directory) { port in
            let initial = try await ok(port, "DescribeAccountSettings", "{}")
            #expect(
                (initial["MinimumThroughputBillingCommitment"] as? [String: Any])?["Status"] as? String == "DISABLED")
            let updated = try await ok(
                port, "UpdateAccountSettings", #"{"MinimumThroughputBillingCommitment":{"Status":"ENABLED"}}"#)
            let commitment = updated["MinimumThroughputBillingCommitment"] as? [String: Any]
            #expect(commitment?["Status"] as? String == "ENABLED")
            #expect(commitment?["StartedAt"] is Double || commitment?["StartedAt"] is Int)
            try await refused(
                port, "UpdateAccountSettings", #"{"MinimumThroughputBillingCommitment":{"Status":"MAYBE"}}"#,
                "ValidationException",
                "1 validation error detected: Value 'MAYBE' at 'minimumThroughputBillingCommitment.status' failed to"
                    + " satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED]")
        }
        try await withServer(directory: directory) { port in
            let kept = try await ok(port, "DescribeAccountSettings", "{}")
            #expect((kept["MinimumThroughputBillingCommitment"] as? [String: Any])?["Status"] as? String == "ENABLED")
        }
    }

    @Test func maxRecordSizeAndWarmThroughputAreRecordedAndKept() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await withServer(directory: directory) { port in
            _ = try await ok(port, "CreateStream", #"{"StreamName":"sz","ShardCount":1}"#)
            #expect(try await summary(port, "sz")["MaxRecordSizeInKiB"] as? Int == 1024)
            #expect(try await summary(port, "sz")["WarmThroughput"] == nil)
            _ = try await ok(port, "UpdateMaxRecordSize", #"{"StreamARN":"\#(arnPrefix)sz","MaxRecordSizeInKiB":2048}"#)
            let warm = try await ok(
                port, "UpdateStreamWarmThroughput", #"{"StreamName":"sz","WarmThroughputMiBps":10}"#)
            #expect(warm["StreamARN"] as? String == arnPrefix + "sz")
            #expect((warm["WarmThroughput"] as? [String: Any])?["TargetMiBps"] as? Int == 10)
            try await refused(
                port, "UpdateMaxRecordSize", #"{"StreamARN":"\#(arnPrefix)sz","MaxRecordSizeInKiB":10241}"#,
                "ValidationException",
                "1 validation error detected: Value '10241' at 'maxRecordSizeInKiB' failed to satisfy constraint:"
                    + " Member must have value less than or equal to 10240")
            try await refused(
                port, "UpdateMaxRecordSize", #"{"StreamARN":"\#(arnPrefix)nope","MaxRecordSizeInKiB":2048}"#,
                "ResourceNotFoundException", "Stream nope under account 000000000000 not found.")
            try await refused(
                port, "UpdateStreamWarmThroughput", #"{"StreamName":"sz","WarmThroughputMiBps":-1}"#,
                "ValidationException",
                "1 validation error detected: Value '-1' at 'warmThroughputMiBps' failed to satisfy constraint:"
                    + " Member must have value greater than or equal to 0")
        }
        try await withServer(directory: directory) { port in
            let s = try await summary(port, "sz")
            #expect(s["MaxRecordSizeInKiB"] as? Int == 2048)
            let warm = s["WarmThroughput"] as? [String: Any]
            #expect(warm?["TargetMiBps"] as? Int == 10)
            #expect(warm?["CurrentMiBps"] as? Int == 10)
            // Records up to the stream's 2048 KiB are taken; one byte more of data is refused.
            let fits = Data(repeating: 0x61, count: (1 << 20) + 1).base64EncodedString()
            let stored = try await kinesisJSON(
                port, "PutRecords", #"{"StreamName":"sz","Records":[{"Data":"\#(fits)","PartitionKey":"k"}]}"#)
            #expect(stored.status == 200)
            let big = Data(repeating: 0x61, count: (2 << 20) + 1).base64EncodedString()
            let reply = try await kinesisJSON(
                port, "PutRecords", #"{"StreamName":"sz","Records":[{"Data":"\#(big)","PartitionKey":"k"}]}"#)
            #expect(reply.status == 400)
            #expect(reply.json["__type"] as? String == "ValidationException")
            #expect(
                (reply.json["message"] as? String)?.hasSuffix("Member must have length less than or equal to 2097152")
                    == true)
        }
    }
}
