import Foundation

/// A function's settings kept beside `function.json` (they are not part of its `FunctionConfiguration`):
/// `concurrency.json` (`PutFunctionConcurrency`) and `event-invoke-config.json` (`PutFunctionEventInvokeConfig`),
/// both with AWS's field names.
struct FunctionSettings: Sendable, Equatable {
    /// `ReservedConcurrentExecutions`, or `nil` for the server's `--max-concurrency`.
    var reservedConcurrency: Int?
    /// The Event invocation settings, or `nil` for Lambda's defaults.
    var eventInvokeConfig: EventInvokeConfig?

    /// `FunctionEventInvokeConfig` without its ARN.
    struct EventInvokeConfig: Codable, Sendable, Equatable {
        /// Retries of a failed Event invocation (0–2; Lambda's default 2).
        var maximumRetryAttempts: Int?
        /// The oldest an Event invocation may be when it (or a retry) starts, in seconds (60–21600; default 21600).
        var maximumEventAgeInSeconds: Int?
        /// When it was last changed, epoch seconds.
        var lastModified: Double

        enum CodingKeys: String, CodingKey {
            case maximumRetryAttempts = "MaximumRetryAttempts"
            case maximumEventAgeInSeconds = "MaximumEventAgeInSeconds"
            case lastModified = "LastModified"
        }

        /// The retries that apply.
        var retries: Int { maximumRetryAttempts ?? 2 }
        /// The age limit that applies, in seconds.
        var maximumAge: Int { maximumEventAgeInSeconds ?? 21_600 }
    }

    private struct Concurrency: Codable {
        var reservedConcurrentExecutions: Int
        enum CodingKeys: String, CodingKey { case reservedConcurrentExecutions = "ReservedConcurrentExecutions" }
    }

    static let concurrencyFile = "concurrency.json"
    static let eventInvokeConfigFile = "event-invoke-config.json"

    /// The settings saved in `directory` (a damaged file counts as absent).
    static func load(directory: String) -> FunctionSettings {
        let decoder = JSONDecoder()
        let concurrency = FileManager.default.contents(atPath: directory + "/" + concurrencyFile).flatMap {
            try? decoder.decode(Concurrency.self, from: $0)
        }
        let event = FileManager.default.contents(atPath: directory + "/" + eventInvokeConfigFile).flatMap {
            try? decoder.decode(EventInvokeConfig.self, from: $0)
        }
        return FunctionSettings(
            reservedConcurrency: concurrency?.reservedConcurrentExecutions, eventInvokeConfig: event)
    }

    /// Writes (or removes, for `nil` values) the files in `directory`.
    func save(directory: String) throws(LambdaError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do {
            try Self.write(
                reservedConcurrency.map { try encoder.encode(Concurrency(reservedConcurrentExecutions: $0)) },
                to: directory + "/" + Self.concurrencyFile)
            try Self.write(
                try eventInvokeConfig.map { try encoder.encode($0) },
                to: directory + "/" + Self.eventInvokeConfigFile)
        } catch {
            throw LambdaError.service("cannot save the settings of the function in \(directory): \(error)")
        }
    }

    private static func write(_ data: Data?, to path: String) throws {
        if let data {
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
        } else if FileManager.default.fileExists(atPath: path) {
            try FileManager.default.removeItem(atPath: path)
        }
    }
}
