import Foundation
import Testing

@testable import ShardLogMapping

@Suite struct MappingConfigurationTests {
    private func configuration(_ json: String) throws(MappingError) -> MappingConfiguration {
        try MappingConfiguration(json: Array(json.utf8))
    }

    private func configurationError(_ json: String) throws -> MappingError {
        try #require(throws: MappingError.self) { try configuration(json) }
    }

    @Test func decodingFillsLambdaDefaults() throws {
        let config = try configuration(#"{"StartingPosition":"LATEST"}"#)
        #expect(config.startingPosition == .latest)
        #expect(config.batchSize == 100)
        #expect(config.maximumBatchingWindowInSeconds == 0)
        #expect(config.parallelizationFactor == 1)
        #expect(config.startingPositionTimestamp == nil)
        #expect(config.bisectBatchOnFunctionError == false)
        #expect(config.maximumRetryAttempts == -1)
        #expect(config.maximumRecordAgeInSeconds == -1)
        #expect(config.destinationConfig == nil)
        #expect(config.functionResponseTypes.isEmpty)
        #expect(config.filterCriteria == nil)
        #expect(config.tumblingWindowInSeconds == 0)
        #expect(config.enabled == true)
        #expect(config == MappingConfiguration(startingPosition: .latest))
        #expect(config.reportsBatchItemFailures == false)
        #expect(config.batchingWindow == .zero)
        #expect(config.tumblingWindow == nil)
        #expect(config.maximumRecordAge == nil)
        #expect(config.retryLimit == nil)
        #expect(config.onFailureDestination == nil)
        #expect(try config.recordFilter() == nil)
    }

    @Test func decodingReadsEveryAWSKeyAndAcceptsTheIdentifyingKeys() throws {
        let json = #"""
            {"BatchSize":500,"MaximumBatchingWindowInSeconds":5,"ParallelizationFactor":4,
             "StartingPosition":"AT_TIMESTAMP","StartingPositionTimestamp":1700000000.5,
             "BisectBatchOnFunctionError":true,"MaximumRetryAttempts":3,"MaximumRecordAgeInSeconds":3600,
             "DestinationConfig":{"OnFailure":{"Destination":"arn:aws:sqs:us-east-1:000000000000:dlq"}},
             "FunctionResponseTypes":["ReportBatchItemFailures"],
             "FilterCriteria":{"Filters":[{"Pattern":"{\"data\":{\"type\":[\"buy\"]}}"}]},
             "TumblingWindowInSeconds":60,"Enabled":false,
             "FunctionName":"ignored","EventSourceArn":"ignored"}
            """#
        let config = try configuration(json)
        #expect(config.batchSize == 500)
        #expect(config.maximumBatchingWindowInSeconds == 5)
        #expect(config.parallelizationFactor == 4)
        #expect(config.startingPosition == .atTimestamp)
        #expect(config.startingPositionTimestamp == Date(timeIntervalSince1970: 1_700_000_000.5))
        #expect(config.bisectBatchOnFunctionError)
        #expect(config.maximumRetryAttempts == 3)
        #expect(config.maximumRecordAgeInSeconds == 3600)
        #expect(config.onFailureDestination == "arn:aws:sqs:us-east-1:000000000000:dlq")
        #expect(config.functionResponseTypes == ["ReportBatchItemFailures"])
        #expect(config.filterCriteria == FilterCriteria(patterns: [#"{"data":{"type":["buy"]}}"#]))
        #expect(config.tumblingWindowInSeconds == 60)
        #expect(config.enabled == false)
        #expect(config.reportsBatchItemFailures)
        #expect(config.batchingWindow == .seconds(5))
        #expect(config.tumblingWindow == .seconds(60))
        #expect(config.maximumRecordAge == .seconds(3600))
        #expect(config.retryLimit == 3)
        #expect(try config.recordFilter() != nil)
    }

    @Test func encodingUsesAWSKeysAndRoundTrips() throws {
        let config = MappingConfiguration(
            startingPosition: .atTimestamp,
            startingPositionTimestamp: Date(timeIntervalSince1970: 1_600_000_000),
            batchSize: 10,
            destinationConfig: .init(onFailure: .init(destination: "file:///tmp/dlq")),
            functionResponseTypes: ["ReportBatchItemFailures"],
            filterCriteria: FilterCriteria(patterns: [#"{"partitionKey":["a"]}"#])
        )
        let data = try JSONEncoder().encode(config)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(
            Set(object.keys) == [
                "BatchSize", "MaximumBatchingWindowInSeconds", "ParallelizationFactor", "StartingPosition",
                "StartingPositionTimestamp", "BisectBatchOnFunctionError", "MaximumRetryAttempts",
                "MaximumRecordAgeInSeconds", "DestinationConfig", "FunctionResponseTypes", "FilterCriteria",
                "TumblingWindowInSeconds", "Enabled",
            ]
        )
        #expect(object["StartingPosition"] as? String == "AT_TIMESTAMP")
        #expect(object["StartingPositionTimestamp"] as? Double == 1_600_000_000)
        let destination = (object["DestinationConfig"] as? [String: Any])?["OnFailure"] as? [String: Any]
        #expect(destination?["Destination"] as? String == "file:///tmp/dlq")
        let filters = (object["FilterCriteria"] as? [String: Any])?["Filters"] as? [[String: Any]]
        #expect(filters?.first?["Pattern"] as? String == #"{"partitionKey":["a"]}"#)
        #expect(try MappingConfiguration(json: Array(data)) == config)
    }

    @Test func missingStartingPositionIsRequired() throws {
        let error = try configurationError(#"{"BatchSize":10}"#)
        #expect(error.code == .invalidParameter)
        #expect(
            error.message
                == "StartingPosition is required for Kinesis event sources: "
                + "set it to TRIM_HORIZON, LATEST or AT_TIMESTAMP"
        )
    }

    @Test func unknownStartingPositionUsesTheEnumConstraintMessage() throws {
        let error = try configurationError(#"{"StartingPosition":"EARLIEST"}"#)
        #expect(error.code == .validation)
        #expect(
            error.message
                == "1 validation error detected: Value 'EARLIEST' at 'startingPosition' failed to satisfy constraint: "
                + "Member must satisfy enum value set: [LATEST, AT_TIMESTAMP, TRIM_HORIZON]"
        )
    }

    @Test(arguments: [
        (#"{"StartingPosition":"LATEST","BatchSize":"ten"}"#, "BatchSize has the wrong type: expected a number"),
        (#"{"StartingPosition":"LATEST","Enabled":"yes"}"#, "Enabled has the wrong type: expected true or false"),
        (#"{"StartingPosition":"LATEST","BatchSize":1.5}"#, "BatchSize must be a whole number; got 1.5"),
        (
            #"{"StartingPosition":"LATEST","#,
            "the mapping configuration is not valid JSON: expected a string key at byte 29"
        ),
        (
            #"{"StartingPosition":"LATEST","DestinationConfig":[]}"#,
            "DestinationConfig has the wrong type: expected an object"
        ),
        (
            #"{"StartingPosition":"LATEST","FunctionResponseTypes":"ReportBatchItemFailures"}"#,
            "FunctionResponseTypes has the wrong type: expected a list"
        ),
    ])
    func malformedConfigurationNamesTheField(json: String, expected: String) throws {
        let error = try configurationError(json)
        #expect(error.code == .invalidParameter)
        #expect(error.message.contains(expected), "\(error.message)")
    }

    struct RangeCase: Sendable, CustomTestStringConvertible {
        var key: String
        var member: String
        var range: ClosedRange<Int>

        var testDescription: String { "\(key) \(range)" }
    }

    static let ranges: [RangeCase] = [
        RangeCase(key: "BatchSize", member: "batchSize", range: 1...10000),
        RangeCase(key: "MaximumBatchingWindowInSeconds", member: "maximumBatchingWindowInSeconds", range: 0...300),
        RangeCase(key: "ParallelizationFactor", member: "parallelizationFactor", range: 1...10),
        RangeCase(key: "MaximumRetryAttempts", member: "maximumRetryAttempts", range: -1...10000),
        RangeCase(key: "MaximumRecordAgeInSeconds", member: "maximumRecordAgeInSeconds", range: -1...604800),
        RangeCase(key: "TumblingWindowInSeconds", member: "tumblingWindowInSeconds", range: 0...900),
    ]

    @Test(arguments: ranges)
    func boundsJustInsideAreAccepted(_ range: RangeCase) throws {
        for value in [range.range.lowerBound, range.range.upperBound] {
            let config = try configuration(#"{"StartingPosition":"TRIM_HORIZON","\#(range.key)":\#(value)}"#)
            let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(config)) as? [String: Any]
            #expect(json?[range.key] as? Int == value)
        }
    }

    @Test(arguments: ranges)
    func boundsJustOutsideAreRejectedWithAWSMessages(_ range: RangeCase) throws {
        let below = try configurationError(
            #"{"StartingPosition":"TRIM_HORIZON","\#(range.key)":\#(range.range.lowerBound - 1)}"#
        )
        #expect(below.code == .validation)
        #expect(
            below.message
                == "1 validation error detected: Value '\(range.range.lowerBound - 1)' at '\(range.member)' failed to "
                + "satisfy constraint: Member must have value greater than or equal to \(range.range.lowerBound)"
        )
        let above = try configurationError(
            #"{"StartingPosition":"TRIM_HORIZON","\#(range.key)":\#(range.range.upperBound + 1)}"#
        )
        #expect(above.code == .validation)
        #expect(
            above.message
                == "1 validation error detected: Value '\(range.range.upperBound + 1)' at '\(range.member)' failed to "
                + "satisfy constraint: Member must have value less than or equal to \(range.range.upperBound)"
        )
    }

    @Test(arguments: [0, 1, 59])
    func recordAgeBetweenZeroAndFiftyNineIsRejected(seconds: Int) throws {
        let error = try configurationError(#"{"StartingPosition":"LATEST","MaximumRecordAgeInSeconds":\#(seconds)}"#)
        #expect(error.code == .invalidParameter)
        #expect(error.message == "MaximumRecordAgeInSeconds must be either -1 (forever) or between 60 and 604800")
    }

    @Test(arguments: [-1, 60, 604800])
    func recordAgeEdgesAreAccepted(seconds: Int) throws {
        let config = try configuration(#"{"StartingPosition":"LATEST","MaximumRecordAgeInSeconds":\#(seconds)}"#)
        #expect(config.maximumRecordAge == (seconds < 0 ? nil : .seconds(seconds)))
    }

    @Test func severalViolationsAreReportedTogether() throws {
        let error = try configurationError(#"{"StartingPosition":"LATEST","BatchSize":0,"ParallelizationFactor":11}"#)
        #expect(error.code == .validation)
        #expect(
            error.message
                == "2 validation errors detected: "
                + "Value '0' at 'batchSize' failed to satisfy constraint: "
                + "Member must have value greater than or equal to 1; "
                + "Value '11' at 'parallelizationFactor' failed to satisfy constraint: "
                + "Member must have value less than or equal to 10"
        )
        #expect(error.description.hasPrefix("Validation error: 2 validation errors detected"))
    }

    @Test func unknownFunctionResponseTypeIsRejected() throws {
        let error = try configurationError(
            #"{"StartingPosition":"LATEST","FunctionResponseTypes":["ReportBatchItemFailures","Partial"]}"#
        )
        #expect(error.code == .validation)
        #expect(
            error.message
                == "1 validation error detected: Value '[ReportBatchItemFailures, Partial]' at 'functionResponseTypes' "
                + "failed to satisfy constraint: Member must satisfy constraint: "
                + "[Member must satisfy enum value set: [ReportBatchItemFailures]]"
        )
    }

    @Test func metricsConfigAndKMSKeyArnAreKeptAndRoundTrip() throws {
        let kms = "arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        let c = try configuration(
            #"{"StartingPosition":"LATEST","MetricsConfig":{"Metrics":["EventCount"]},"KMSKeyArn":""#
                + kms + #""}"#)
        #expect(c.metrics == ["EventCount"])
        #expect(c.kmsKeyArn == kms)
        let again = try MappingConfiguration(json: [UInt8](try JSONEncoder().encode(c)))
        #expect(again.metrics == ["EventCount"] && again.kmsKeyArn == kms)
        // Absent stays absent; an empty key ARN (Lambda's way to remove it) is valid.
        let plain = try configuration(#"{"StartingPosition":"LATEST","KMSKeyArn":""}"#)
        #expect(plain.metrics == nil && plain.kmsKeyArn == "")
        #expect(!String(decoding: try JSONEncoder().encode(plain), as: UTF8.self).contains("MetricsConfig"))
    }

    @Test func unknownMetricAndMalformedKMSKeyArnAreValidationErrors() throws {
        let error = try configurationError(
            #"{"StartingPosition":"LATEST","MetricsConfig":{"Metrics":["Bogus"]},"KMSKeyArn":"key-1"}"#)
        #expect(error.code == .validation)
        #expect(
            error.message
                == "2 validation errors detected: Value '[Bogus]' at 'metricsConfig.metrics' failed to satisfy "
                + "constraint: Member must satisfy constraint: [Member must satisfy enum value set: "
                + "[EventCount, ErrorCount, KafkaMetrics]]; Value 'key-1' at 'kMSKeyArn' failed to satisfy "
                + "constraint: Member must satisfy regular expression pattern: "
                + "(arn:(aws[a-zA-Z-]*)?:[a-z0-9-.]+:.*)|()")
        #expect(MappingConfiguration.isARN("arn:aws-cn:kms:cn-north-1:1:key/x"))
        #expect(MappingConfiguration.isARN("arn::kms::"))
        #expect(!MappingConfiguration.isARN("arn:aws:KMS:us-east-1:1:key/x"))
        #expect(!MappingConfiguration.isARN("arn:aws:kms"))
        #expect(!MappingConfiguration.isARN("arn:gcp:kms:x:y"))
    }

    @Test func atTimestampNeedsATimestamp() throws {
        let missing = try configurationError(#"{"StartingPosition":"AT_TIMESTAMP"}"#)
        #expect(missing.code == .invalidParameter)
        #expect(
            missing.message.hasPrefix("StartingPositionTimestamp is required when StartingPosition is AT_TIMESTAMP"))

        let config = try configuration(#"{"StartingPosition":"AT_TIMESTAMP","StartingPositionTimestamp":0}"#)
        #expect(config.startingPositionTimestamp == Date(timeIntervalSince1970: 0))

        let misplaced = try configurationError(#"{"StartingPosition":"LATEST","StartingPositionTimestamp":5}"#)
        #expect(misplaced.code == .invalidParameter)
        #expect(misplaced.message == "Timestamp only valid with StartingPosition AT_TIMESTAMP")
    }

    private func withFilters(_ patterns: [String]) -> MappingConfiguration {
        MappingConfiguration(startingPosition: .latest, filterCriteria: FilterCriteria(patterns: patterns))
    }

    @Test func fiveFiltersAreAllowedAndSixAreNot() throws {
        let pattern = #"{"partitionKey":["a"]}"#
        try withFilters(Array(repeating: pattern, count: 5)).validate()
        let error = try #require(throws: MappingError.self) {
            try withFilters(Array(repeating: pattern, count: 6)).validate()
        }
        #expect(error.code == .invalidParameter)
        #expect(error.message.hasPrefix("FilterCriteria has 6 filters; the limit is 5 per event source mapping."))
    }

    @Test func patternLengthLimitIs4096() throws {
        let prefix = #"{"partitionKey":[""#
        let suffix = #""]}"#
        func pattern(length: Int) -> String {
            prefix + String(repeating: "x", count: length - prefix.count - suffix.count) + suffix
        }
        #expect(pattern(length: 4096).utf16.count == 4096)
        try withFilters([pattern(length: 4096)]).validate()
        let error = try #require(throws: MappingError.self) {
            try withFilters([#"{"a":["b"]}"#, pattern(length: 4097)]).validate()
        }
        #expect(error.code == .validation)
        #expect(
            error.message
                == "1 validation error detected: Value at 'filterCriteria.filters.2.member.pattern' failed to satisfy "
                + "constraint: Member must have length less than or equal to 4096"
        )
    }

    @Test func invalidPatternIsRejectedWithItsPosition() throws {
        let error = try #require(throws: MappingError.self) {
            try withFilters([#"{"a":["b"]}"#, #"{"data":{"type":"buy"}}"#]).validate()
        }
        #expect(error.code == .invalidParameter)
        #expect(error.message.hasPrefix("Invalid filter pattern definition. FilterCriteria.Filters[1].Pattern: "))
        #expect(error.message.contains(#""data.type" must be an array of match values"#))
        #expect(error.cause is FilterPatternError)
    }

    @Test func emptyFilterCriteriaMeansNoFilter() throws {
        let config = try configuration(#"{"StartingPosition":"LATEST","FilterCriteria":{}}"#)
        #expect(config.filterCriteria == FilterCriteria())
        #expect(try config.recordFilter() == nil)
    }

    @Test func errorDescriptionsNameCodeMessageAndLocation() {
        let error = MappingError(code: .io, message: "cannot write checkpoints.json", cause: CancellationError())
        #expect(error.description == "I/O error: cannot write checkpoints.json")
        #expect(error.detailedDescription.contains("- cause: "))
        #expect(error.detailedDescription.contains("MappingConfigurationTests.swift"))
        #expect(error.code != .invalidParameter)
    }
}
