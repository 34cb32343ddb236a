import Foundation
import ShardLog
import ShardLogWire

/// The configuration of one event source mapping, with the names, ranges and defaults of Lambda's
/// `CreateEventSourceMapping` for Kinesis.
///
/// The JSON form uses AWS's keys (`BatchSize`, `StartingPosition`, …), so a mapping's `mapping.json` reads like the
/// request body of `aws lambda create-event-source-mapping`. Decoding fills in Lambda's defaults for missing keys;
/// only `StartingPosition` is required. Decoding does not check ranges or unknown keys: call ``validate()``, or decode
/// with ``init(json:)``, which checks everything (and refuses keys outside ``allowedKeys``).
public struct MappingConfiguration: Codable, Sendable, Equatable {
    /// Where a mapping starts reading a shard that has no checkpoint yet.
    public enum StartingPosition: String, Codable, Sendable, CaseIterable {
        /// The oldest record still retained.
        case trimHorizon = "TRIM_HORIZON"
        /// Records written after the mapping starts.
        case latest = "LATEST"
        /// Records that arrived at or after ``MappingConfiguration/startingPositionTimestamp``.
        case atTimestamp = "AT_TIMESTAMP"
    }

    /// `DestinationConfig`: where discarded batches are reported.
    public struct DestinationConfig: Codable, Sendable, Equatable {
        /// The on-failure destination, if any.
        public var onFailure: OnFailure?

        /// Creates a destination configuration.
        /// - Parameter onFailure: The on-failure destination.
        public init(onFailure: OnFailure? = nil) {
            self.onFailure = onFailure
        }

        enum CodingKeys: String, CodingKey {
            case onFailure = "OnFailure"
        }
    }

    /// `DestinationConfig.OnFailure`.
    public struct OnFailure: Codable, Sendable, Equatable {
        /// The destination for invocation records of discarded batches (an ARN, URL or path; the mapping interprets
        /// it).
        public var destination: String?

        /// Creates an on-failure destination.
        /// - Parameter destination: The destination.
        public init(destination: String?) {
            self.destination = destination
        }

        enum CodingKeys: String, CodingKey {
            case destination = "Destination"
        }
    }

    /// The only valid `FunctionResponseTypes` value.
    public static let reportBatchItemFailuresResponseType = "ReportBatchItemFailures"

    /// `BatchSize`: the most records per invocation, 1–10000 (default 100).
    public var batchSize: Int
    /// `MaximumBatchingWindowInSeconds`: how long to gather records before invoking, 0–300 (default 0).
    public var maximumBatchingWindowInSeconds: Int
    /// `ParallelizationFactor`: concurrent batches per shard, 1–10 (default 1).
    public var parallelizationFactor: Int
    /// `StartingPosition` (required).
    public var startingPosition: StartingPosition
    /// `StartingPositionTimestamp`: epoch seconds; required with, and only valid with, `AT_TIMESTAMP`.
    public var startingPositionTimestamp: Date?
    /// `BisectBatchOnFunctionError` (default false).
    public var bisectBatchOnFunctionError: Bool
    /// `MaximumRetryAttempts`: -1 (infinite, the default) or 0–10000.
    public var maximumRetryAttempts: Int
    /// `MaximumRecordAgeInSeconds`: -1 (forever, the default) or 60–604800.
    public var maximumRecordAgeInSeconds: Int
    /// `DestinationConfig`.
    public var destinationConfig: DestinationConfig?
    /// `FunctionResponseTypes`: empty or `["ReportBatchItemFailures"]`.
    public var functionResponseTypes: [String]
    /// `FilterCriteria`.
    public var filterCriteria: FilterCriteria?
    /// `TumblingWindowInSeconds`: 0 (off, the default) to 900.
    public var tumblingWindowInSeconds: Int
    /// `Enabled` (default true).
    public var enabled: Bool
    /// `FunctionName`: the function deployed through the Lambda API that this mapping invokes, or `nil` for a
    /// mapping whose handler is a `Handler` command line.
    public var functionName: String?
    /// `EventSourceArn` as given when the mapping was created, or `nil`.
    public var eventSourceArn: String?
    /// `MetricsConfig.Metrics` (`EventCount`, `ErrorCount`, `KafkaMetrics`), kept and reported as given, or `nil`
    /// when not set. ShardLog's `/metrics` series exist whatever it says (there is no CloudWatch to send to).
    public var metrics: [String]?
    /// `KMSKeyArn`, kept and reported as given, or `nil`. Lambda encrypts the filter criteria with that key;
    /// ShardLog keeps them in its data directory unencrypted.
    public var kmsKeyArn: String?
    /// ShardLog's extension `Deaggregate` (default off; not a Lambda parameter): KPL aggregated records are
    /// delivered as their user records (``KPLAggregation/expand(_:)``) in the events of out-of-process handlers.
    public var deaggregate = false

    /// Creates a configuration; every parameter but the starting position defaults to Lambda's default.
    /// - Parameters:
    ///   - startingPosition: `StartingPosition`.
    ///   - startingPositionTimestamp: `StartingPositionTimestamp`.
    ///   - batchSize: `BatchSize`.
    ///   - maximumBatchingWindowInSeconds: `MaximumBatchingWindowInSeconds`.
    ///   - parallelizationFactor: `ParallelizationFactor`.
    ///   - bisectBatchOnFunctionError: `BisectBatchOnFunctionError`.
    ///   - maximumRetryAttempts: `MaximumRetryAttempts`.
    ///   - maximumRecordAgeInSeconds: `MaximumRecordAgeInSeconds`.
    ///   - destinationConfig: `DestinationConfig`.
    ///   - functionResponseTypes: `FunctionResponseTypes`.
    ///   - filterCriteria: `FilterCriteria`.
    ///   - tumblingWindowInSeconds: `TumblingWindowInSeconds`.
    ///   - enabled: `Enabled`.
    public init(
        startingPosition: StartingPosition,
        startingPositionTimestamp: Date? = nil,
        batchSize: Int = 100,
        maximumBatchingWindowInSeconds: Int = 0,
        parallelizationFactor: Int = 1,
        bisectBatchOnFunctionError: Bool = false,
        maximumRetryAttempts: Int = -1,
        maximumRecordAgeInSeconds: Int = -1,
        destinationConfig: DestinationConfig? = nil,
        functionResponseTypes: [String] = [],
        filterCriteria: FilterCriteria? = nil,
        tumblingWindowInSeconds: Int = 0,
        enabled: Bool = true
    ) {
        self.startingPosition = startingPosition
        self.startingPositionTimestamp = startingPositionTimestamp
        self.batchSize = batchSize
        self.maximumBatchingWindowInSeconds = maximumBatchingWindowInSeconds
        self.parallelizationFactor = parallelizationFactor
        self.bisectBatchOnFunctionError = bisectBatchOnFunctionError
        self.maximumRetryAttempts = maximumRetryAttempts
        self.maximumRecordAgeInSeconds = maximumRecordAgeInSeconds
        self.destinationConfig = destinationConfig
        self.functionResponseTypes = functionResponseTypes
        self.filterCriteria = filterCriteria
        self.tumblingWindowInSeconds = tumblingWindowInSeconds
        self.enabled = enabled
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case batchSize = "BatchSize"
        case maximumBatchingWindowInSeconds = "MaximumBatchingWindowInSeconds"
        case parallelizationFactor = "ParallelizationFactor"
        case startingPosition = "StartingPosition"
        case startingPositionTimestamp = "StartingPositionTimestamp"
        case bisectBatchOnFunctionError = "BisectBatchOnFunctionError"
        case maximumRetryAttempts = "MaximumRetryAttempts"
        case maximumRecordAgeInSeconds = "MaximumRecordAgeInSeconds"
        case destinationConfig = "DestinationConfig"
        case functionResponseTypes = "FunctionResponseTypes"
        case filterCriteria = "FilterCriteria"
        case tumblingWindowInSeconds = "TumblingWindowInSeconds"
        case enabled = "Enabled"
        case functionName = "FunctionName"
        case eventSourceArn = "EventSourceArn"
        case metricsConfig = "MetricsConfig"
        case kmsKeyArn = "KMSKeyArn"
        case deaggregate = "Deaggregate"
    }

    /// `MetricsConfig`: `{"Metrics": [...]}`.
    private struct MetricsConfig: Codable {
        var metrics: [String]

        enum CodingKeys: String, CodingKey {
            case metrics = "Metrics"
        }

        init(metrics: [String]) {
            self.metrics = metrics
        }

        init(from decoder: any Decoder) throws {
            metrics =
                try decoder.container(keyedBy: CodingKeys.self).decodeIfPresent([String].self, forKey: .metrics)
                ?? []
        }
    }

    /// `MetricsConfig.Metrics` values Lambda accepts.
    static let metricNames = ["EventCount", "ErrorCount", "KafkaMetrics"]
    /// Lambda's pattern for `KMSKeyArn` (an ARN, or empty to remove the key).
    static let kmsKeyArnPattern = "(arn:(aws[a-zA-Z-]*)?:[a-z0-9-.]+:.*)|()"

    /// Decodes a configuration, filling Lambda's defaults for missing keys (unknown keys are left to
    /// ``init(json:)``, which refuses them).
    /// - Parameter decoder: The decoder.
    /// - Throws: ``MappingError`` (``MappingError/Code/validation``) for an unknown `StartingPosition`;
    ///   `DecodingError` for a missing `StartingPosition` or a value of the wrong type.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let position = try container.decode(String.self, forKey: .startingPosition)
        guard let startingPosition = StartingPosition(rawValue: position) else {
            throw MappingError(
                code: .validation,
                message: "1 validation error detected: Value '\(position)' at 'startingPosition' failed to satisfy "
                    + "constraint: Member must satisfy enum value set: [LATEST, AT_TIMESTAMP, TRIM_HORIZON]"
            )
        }
        self.startingPosition = startingPosition
        startingPositionTimestamp = try container.decodeIfPresent(Double.self, forKey: .startingPositionTimestamp)
            .map(Date.init(timeIntervalSince1970:))
        batchSize = try container.decodeIfPresent(Int.self, forKey: .batchSize) ?? 100
        maximumBatchingWindowInSeconds =
            try container.decodeIfPresent(Int.self, forKey: .maximumBatchingWindowInSeconds) ?? 0
        parallelizationFactor = try container.decodeIfPresent(Int.self, forKey: .parallelizationFactor) ?? 1
        bisectBatchOnFunctionError =
            try container.decodeIfPresent(Bool.self, forKey: .bisectBatchOnFunctionError) ?? false
        maximumRetryAttempts = try container.decodeIfPresent(Int.self, forKey: .maximumRetryAttempts) ?? -1
        maximumRecordAgeInSeconds = try container.decodeIfPresent(Int.self, forKey: .maximumRecordAgeInSeconds) ?? -1
        destinationConfig = try container.decodeIfPresent(DestinationConfig.self, forKey: .destinationConfig)
        functionResponseTypes = try container.decodeIfPresent([String].self, forKey: .functionResponseTypes) ?? []
        filterCriteria = try container.decodeIfPresent(FilterCriteria.self, forKey: .filterCriteria)
        tumblingWindowInSeconds = try container.decodeIfPresent(Int.self, forKey: .tumblingWindowInSeconds) ?? 0
        enabled = try container.decodeIfPresent(Bool.self, forKey: .enabled) ?? true
        functionName = try container.decodeIfPresent(String.self, forKey: .functionName)
        eventSourceArn = try container.decodeIfPresent(String.self, forKey: .eventSourceArn)
        metrics = try container.decodeIfPresent(MetricsConfig.self, forKey: .metricsConfig)?.metrics
        kmsKeyArn = try container.decodeIfPresent(String.self, forKey: .kmsKeyArn)
        deaggregate = try container.decodeIfPresent(Bool.self, forKey: .deaggregate) ?? false
    }

    /// Encodes every field with AWS's keys; absent optional fields are left out.
    /// - Parameter encoder: The encoder.
    /// - Throws: Whatever the encoder throws.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(batchSize, forKey: .batchSize)
        try container.encode(maximumBatchingWindowInSeconds, forKey: .maximumBatchingWindowInSeconds)
        try container.encode(parallelizationFactor, forKey: .parallelizationFactor)
        try container.encode(startingPosition, forKey: .startingPosition)
        try container.encodeIfPresent(
            startingPositionTimestamp?.timeIntervalSince1970,
            forKey: .startingPositionTimestamp
        )
        try container.encode(bisectBatchOnFunctionError, forKey: .bisectBatchOnFunctionError)
        try container.encode(maximumRetryAttempts, forKey: .maximumRetryAttempts)
        try container.encode(maximumRecordAgeInSeconds, forKey: .maximumRecordAgeInSeconds)
        try container.encodeIfPresent(destinationConfig, forKey: .destinationConfig)
        try container.encode(functionResponseTypes, forKey: .functionResponseTypes)
        try container.encodeIfPresent(filterCriteria, forKey: .filterCriteria)
        try container.encode(tumblingWindowInSeconds, forKey: .tumblingWindowInSeconds)
        try container.encode(enabled, forKey: .enabled)
        try container.encodeIfPresent(functionName, forKey: .functionName)
        try container.encodeIfPresent(eventSourceArn, forKey: .eventSourceArn)
        try container.encodeIfPresent(metrics.map(MetricsConfig.init(metrics:)), forKey: .metricsConfig)
        try container.encodeIfPresent(kmsKeyArn, forKey: .kmsKeyArn)
        if deaggregate { try container.encode(true, forKey: .deaggregate) }
    }

    /// Decodes and validates a configuration file or request body.
    /// - Parameter json: UTF-8 JSON with AWS's keys.
    /// - Throws: ``MappingError``: ``MappingError/Code/invalidParameter`` when the JSON is malformed, a value has the
    ///   wrong type or `StartingPosition` is missing; otherwise whatever ``validate()`` throws.
    public init(json: [UInt8]) throws(MappingError) {
        try Self.precheck(json)
        do {
            self = try JSONDecoder().decode(MappingConfiguration.self, from: Data(json))
        } catch let error as MappingError {
            throw error
        } catch let error as DecodingError {
            throw MappingError(code: .invalidParameter, message: Self.describe(error), cause: error)
        } catch {
            throw MappingError(
                code: .invalidParameter,
                message: "cannot read the mapping configuration: \(error)",
                cause: error
            )
        }
        try validate()
    }

    /// Reports what `JSONDecoder` describes poorly: malformed JSON (with its byte offset) and fractional numbers in
    /// integer fields.
    private static func precheck(_ json: [UInt8]) throws(MappingError) {
        let value: JSON
        do {
            value = try JSON(parsing: json)
        } catch {
            throw MappingError(
                code: .invalidParameter,
                message: "the mapping configuration is not valid JSON: \(error)",
                cause: error
            )
        }
        guard case .object(let members) = value else {
            throw MappingError(
                code: .invalidParameter, message: "the mapping configuration must be a JSON object ({...})")
        }
        for key in members.keys.sorted() where !allowedKeys.contains(key) {
            throw MappingError(
                code: .invalidParameter,
                message: "unknown field '\(key)' in the mapping configuration; allowed fields: "
                    + allowedKeys.sorted().joined(separator: ", "))
        }
        for key in ["Timeout", "FunctionTimeoutSeconds"] {
            guard let member = members[key] else { continue }
            guard case .number(let seconds) = member, seconds > 0, seconds <= 900 else {
                throw MappingError(
                    code: .invalidParameter,
                    message:
                        "\(key) must be a number of seconds greater than 0 and at most 900; got \(String(decoding: member.bytes, as: UTF8.self))"
                )
            }
        }
        let stringKeys = [
            "StreamName", "Handler", "OnFailure", "HandlerDir", "SourceEndpoint", "MappingName", "EventSourceArn",
            "FunctionName", "HandlerDirectory",
        ]
        for key in stringKeys {
            guard let member = members[key] else { continue }
            guard case .string = member else {
                throw MappingError(
                    code: .invalidParameter,
                    message:
                        "\(key) has the wrong type: expected a string; got \(String(decoding: member.bytes, as: UTF8.self))"
                )
            }
        }
        let integerKeys: [CodingKeys] = [
            .batchSize, .maximumBatchingWindowInSeconds, .parallelizationFactor, .maximumRetryAttempts,
            .maximumRecordAgeInSeconds, .tumblingWindowInSeconds,
        ]
        for key in integerKeys {
            if case .number(let number) = value[key.rawValue], abs(number) > 1e15 {
                throw MappingError(
                    code: .invalidParameter,
                    message: "\(key.rawValue) is out of range; got \(number)"
                )
            }
            if case .number(let number) = value[key.rawValue], number != number.rounded() {
                throw MappingError(
                    code: .invalidParameter,
                    message: "\(key.rawValue) must be a whole number; got \(number)"
                )
            }
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, let context)
        where context.codingPath.isEmpty && key.stringValue == CodingKeys.startingPosition.rawValue:
            return "StartingPosition is required for Kinesis event sources: "
                + "set it to TRIM_HORIZON, LATEST or AT_TIMESTAMP"
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            return "the mapping configuration is not valid JSON: \(context.debugDescription)"
        default:
            return MetadataFile.describe(error)
        }
    }

    /// The keys a mapping configuration file or request may contain: Lambda's `CreateEventSourceMapping`
    /// parameters for Kinesis (``CodingKeys``), the ones that identify the function and stream (`FunctionName`,
    /// `EventSourceArn`), ShardLog's own keys of `mapping.json` (`StreamName`, `Handler`, `OnFailure`, `Timeout`,
    /// `HandlerDir`, `SourceEndpoint`) and of a `serve --mappings` entry (`MappingName`, `HandlerDirectory`,
    /// `FunctionTimeoutSeconds`).
    public static let allowedKeys: Set<String> = Set(CodingKeys.allCases.map(\.rawValue)).union([
        "StreamName", "Handler", "OnFailure", "Timeout", "HandlerDir",
        "SourceEndpoint", "MappingName", "HandlerDirectory", "FunctionTimeoutSeconds",
    ])

    /// The keys of Lambda's `CreateEventSourceMapping` request for a Kinesis source that ShardLog takes (no ShardLog
    /// extensions such as `Handler`, `StreamName` or `Deaggregate`).
    public static let lambdaKeys: Set<String> = Set(CodingKeys.allCases.map(\.rawValue)).subtracting([
        CodingKeys.deaggregate.rawValue
    ])

    /// The keys `UpdateEventSourceMapping` may change (not `StartingPosition`, `StartingPositionTimestamp` or
    /// `EventSourceArn`).
    public static let updatableKeys: Set<String> = lambdaKeys.subtracting([
        CodingKeys.startingPosition.rawValue, CodingKeys.startingPositionTimestamp.rawValue,
        CodingKeys.eventSourceArn.rawValue,
    ])

    /// Checks every parameter against Lambda's rules.
    ///
    /// Range and enum violations are collected into one ``MappingError/Code/validation`` error worded as Lambda's
    /// `ValidationException` ("2 validation errors detected: Value '0' at 'batchSize' failed to satisfy constraint:
    /// …; …"). Then, one at a time, the ``MappingError/Code/invalidParameter`` checks: the record age gap
    /// (0–59 s), `StartingPositionTimestamp` versus `AT_TIMESTAMP`, the filter quota and every filter pattern.
    /// - Throws: ``MappingError`` with code ``MappingError/Code/validation`` or
    ///   ``MappingError/Code/invalidParameter``.
    public func validate() throws(MappingError) {
        var violations: [String] = []
        func check(_ value: Int, _ member: String, _ range: ClosedRange<Int>) {
            if value < range.lowerBound {
                violations.append(
                    "Value '\(value)' at '\(member)' failed to satisfy constraint: "
                        + "Member must have value greater than or equal to \(range.lowerBound)"
                )
            } else if value > range.upperBound {
                violations.append(
                    "Value '\(value)' at '\(member)' failed to satisfy constraint: "
                        + "Member must have value less than or equal to \(range.upperBound)"
                )
            }
        }
        check(batchSize, "batchSize", 1...10000)
        check(maximumBatchingWindowInSeconds, "maximumBatchingWindowInSeconds", 0...300)
        check(parallelizationFactor, "parallelizationFactor", 1...10)
        check(maximumRetryAttempts, "maximumRetryAttempts", -1...10000)
        check(maximumRecordAgeInSeconds, "maximumRecordAgeInSeconds", -1...604800)
        check(tumblingWindowInSeconds, "tumblingWindowInSeconds", 0...900)
        if functionResponseTypes.contains(where: { $0 != Self.reportBatchItemFailuresResponseType }) {
            violations.append(
                "Value '[\(functionResponseTypes.joined(separator: ", "))]' at 'functionResponseTypes' failed to "
                    + "satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: "
                    + "[ReportBatchItemFailures]]"
            )
        }
        for (position, filter) in (filterCriteria?.filters ?? []).enumerated()
        where filter.pattern.utf16.count > FilterCriteria.maximumPatternLength {
            violations.append(
                "Value at 'filterCriteria.filters.\(position + 1).member.pattern' failed to satisfy constraint: "
                    + "Member must have length less than or equal to \(FilterCriteria.maximumPatternLength)"
            )
        }
        if let metrics {
            if metrics.count > Self.metricNames.count {
                violations.append(
                    "Value '[\(metrics.joined(separator: ", "))]' at 'metricsConfig.metrics' failed to satisfy "
                        + "constraint: Member must have length less than or equal to \(Self.metricNames.count)")
            }
            if metrics.contains(where: { !Self.metricNames.contains($0) }) {
                violations.append(
                    "Value '[\(metrics.joined(separator: ", "))]' at 'metricsConfig.metrics' failed to satisfy "
                        + "constraint: Member must satisfy constraint: [Member must satisfy enum value set: "
                        + "[\(Self.metricNames.joined(separator: ", "))]]")
            }
        }
        if let kmsKeyArn, !kmsKeyArn.isEmpty, !Self.isARN(kmsKeyArn) {
            violations.append(
                "Value '\(kmsKeyArn)' at 'kMSKeyArn' failed to satisfy constraint: Member must satisfy regular "
                    + "expression pattern: \(Self.kmsKeyArnPattern)")
        }
        if !violations.isEmpty {
            let count = violations.count
            throw MappingError(
                code: .validation,
                message: "\(count) validation error\(count == 1 ? "" : "s") detected: "
                    + violations.joined(separator: "; ")
            )
        }
        if (0..<60).contains(maximumRecordAgeInSeconds) {
            throw MappingError(
                code: .invalidParameter,
                message: "MaximumRecordAgeInSeconds must be either -1 (forever) or between 60 and 604800"
            )
        }
        if let timestamp = startingPositionTimestamp?.timeIntervalSince1970,
            !(timestamp.isFinite && timestamp >= 0 && timestamp <= MetadataFile.latestEpochSeconds)
        {
            throw MappingError(
                code: .invalidParameter,
                message: "StartingPositionTimestamp \(timestamp) is not a time between 1970 and 9999: "
                    + "give epoch seconds, e.g. 1700000000"
            )
        }
        if startingPosition == .atTimestamp, startingPositionTimestamp == nil {
            throw MappingError(
                code: .invalidParameter,
                message: "StartingPositionTimestamp is required when StartingPosition is AT_TIMESTAMP: "
                    + "set it to the epoch seconds to start reading from"
            )
        }
        if startingPosition != .atTimestamp, startingPositionTimestamp != nil {
            throw MappingError(
                code: .invalidParameter,
                // Lambda's text (LocalStack's AWS-recorded snapshot).
                message: "Timestamp only valid with StartingPosition AT_TIMESTAMP"
            )
        }
        if let filterCriteria {
            if filterCriteria.filters.count > FilterCriteria.maximumFilterCount {
                throw MappingError(
                    code: .invalidParameter,
                    message: "FilterCriteria has \(filterCriteria.filters.count) filters; the limit is "
                        + "\(FilterCriteria.maximumFilterCount) per event source mapping. "
                        + #"Merge patterns with "$or" or remove filters"#
                )
            }
            _ = try filterCriteria.compiled()
        }
    }

    /// Whether `text` matches ``kmsKeyArnPattern`` (validation only: the pattern is compiled per call).
    static func isARN(_ text: String) -> Bool {
        guard let pattern = try? Regex(kmsKeyArnPattern) else { return false }
        return (try? pattern.wholeMatch(in: text)) != nil
    }

    /// Whether `FunctionResponseTypes` contains `ReportBatchItemFailures`.
    public var reportsBatchItemFailures: Bool {
        functionResponseTypes.contains(Self.reportBatchItemFailuresResponseType)
    }

    /// `MaximumBatchingWindowInSeconds` as a duration.
    public var batchingWindow: Duration {
        .seconds(maximumBatchingWindowInSeconds)
    }

    /// `TumblingWindowInSeconds` as a duration, or `nil` when tumbling windows are off.
    public var tumblingWindow: Duration? {
        tumblingWindowInSeconds > 0 ? .seconds(tumblingWindowInSeconds) : nil
    }

    /// `MaximumRecordAgeInSeconds` as a duration, or `nil` for -1 (forever).
    public var maximumRecordAge: Duration? {
        maximumRecordAgeInSeconds >= 0 ? .seconds(maximumRecordAgeInSeconds) : nil
    }

    /// `MaximumRetryAttempts`, or `nil` for -1 (retry until the records expire).
    public var retryLimit: Int? {
        maximumRetryAttempts >= 0 ? maximumRetryAttempts : nil
    }

    /// `DestinationConfig.OnFailure.Destination`, if set.
    public var onFailureDestination: String? {
        destinationConfig?.onFailure?.destination
    }

    /// The compiled filter criteria, or `nil` when there are none.
    /// - Throws: ``MappingError/Code/invalidParameter`` for an invalid pattern.
    func recordFilter() throws(MappingError) -> RecordFilter? {
        guard let filterCriteria, !filterCriteria.filters.isEmpty else {
            return nil
        }
        return try filterCriteria.compiled()
    }
}
