import Foundation
import Synchronization

/// Injected failures for `shardlog serve --inject-faults`: what client retry logic (`shardlog put --endpoint-url`, users'
/// producers and consumers) is tested against.
///
/// A spec is a comma-separated list of `[Operation:]Code=probability` terms, e.g.
/// `ProvisionedThroughputExceededException=0.05,InternalFailure=0.01,PutRecords:ProvisionedThroughputExceededException=0.2`.
/// A term without an operation applies to every operation. Each request rolls every term that applies to its
/// operation, in the order given, and the first hit fails the whole request with AWS's status and error body
/// (400, or 500 for `InternalFailure`, 503 for `ServiceUnavailable`). A PutRecords request that is not failed whole
/// then rolls its `ProvisionedThroughputExceededException` and `InternalFailure` terms for each entry: a hit entry
/// gets `ErrorCode`/`ErrorMessage`, counts in `FailedRecordCount`, and is not stored — as AWS answers.
///
/// Draws come from one seeded generator, so a run with the same seed and the same request order fails the same
/// requests. Thread-safety: all state is behind a mutex.
package final class FaultInjector: Sendable {
    /// One `[Operation:]Code=probability` term.
    package struct Term: Sendable, Equatable {
        /// The operation it applies to, or `nil` for all.
        package var operation: String?
        /// The error code injected.
        package var code: String
        /// The chance of a hit per request (and per PutRecords entry), 0...1.
        package var probability: Double
    }

    /// A spec that cannot be parsed; the message names the bad term.
    package struct ParseError: Error, CustomStringConvertible, Equatable {
        /// What is wrong, naming the term.
        package var message: String
        /// The message.
        package var description: String { message }
    }

    /// The codes that can be injected, with their HTTP status.
    package static let codes: [String: Int] = [
        "ProvisionedThroughputExceededException": 400,
        "LimitExceededException": 400,
        "ThrottlingException": 400,
        "KMSThrottlingException": 400,
        "InternalFailure": 500,
        "ServiceUnavailable": 503,
    ]

    /// The codes a single PutRecords entry can fail with (the two AWS returns per entry).
    package static let entryCodes: Set<String> = ["ProvisionedThroughputExceededException", "InternalFailure"]

    /// The parsed terms, in the order given.
    package let terms: [Term]
    private let random: Mutex<SplitMix>

    /// Parses a spec.
    /// - Parameters:
    ///   - spec: `[Operation:]Code=probability` terms, comma-separated.
    ///   - seed: the generator's seed.
    /// - Throws: ``ParseError`` naming the bad term (empty, no `=`, unknown code or operation, probability not in
    ///   0...1).
    package init(spec: String, seed: UInt64) throws(ParseError) {
        let operations = Set(Operation.allCases.map(\.rawValue))
        var terms: [Term] = []
        for raw in spec.split(separator: ",", omittingEmptySubsequences: false) {
            let text = raw.trimmingCharacters(in: .whitespaces)
            guard !text.isEmpty else { throw ParseError(message: "--inject-faults '\(spec)' has an empty term") }
            let parts = text.split(separator: "=", omittingEmptySubsequences: false)
            guard parts.count == 2 else {
                throw ParseError(message: "--inject-faults term '\(text)' is not [Operation:]Code=probability")
            }
            let target = parts[0].split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard target.count <= 2, target.allSatisfy({ !$0.isEmpty }), let code = target.last else {
                throw ParseError(message: "--inject-faults term '\(text)' is not [Operation:]Code=probability")
            }
            let operation = target.count == 2 ? target[0] : nil
            if let operation, !operations.contains(operation) {
                throw ParseError(message: "--inject-faults term '\(text)': unknown operation '\(operation)'")
            }
            guard Self.codes[code] != nil else {
                throw ParseError(
                    message: "--inject-faults term '\(text)': unknown error code '\(code)' (known: "
                        + Self.codes.keys.sorted().joined(separator: ", ") + ")")
            }
            guard let probability = Double(parts[1]), probability >= 0, probability <= 1 else {
                throw ParseError(
                    message: "--inject-faults term '\(text)': probability '\(parts[1])' is not a number in 0...1")
            }
            terms.append(Term(operation: operation, code: code, probability: probability))
        }
        self.terms = terms
        self.random = Mutex(SplitMix(state: seed))
    }

    /// The error failing this whole request, or `nil`.
    /// - Parameter operation: the operation's name.
    package func requestFault(operation: String) -> KinesisError? {
        let applicable = terms.filter { $0.operation == nil || $0.operation == operation }
        guard !applicable.isEmpty else { return nil }
        let hit = random.withLock { generator in applicable.first { generator.unit() < $0.probability } }
        guard let hit else { return nil }
        return Self.error(hit.code, operation: operation, status: Self.codes[hit.code])
    }

    /// For each of `count` PutRecords entries, the injected error or `nil`.
    /// - Parameters:
    ///   - count: the number of entries.
    ///   - stream: the stream's name, for the message.
    ///   - account: the stream's account, for the message.
    package func entryFaults(count: Int, stream: String, account: String) -> [KinesisError?] {
        let applicable = terms.filter {
            ($0.operation == nil || $0.operation == "PutRecords") && Self.entryCodes.contains($0.code)
        }
        guard !applicable.isEmpty else { return Array(repeating: nil, count: count) }
        let hits = random.withLock { generator in
            (0..<count).map { _ in applicable.first { generator.unit() < $0.probability } }
        }
        return hits.map { hit in
            hit.map {
                KinesisError(
                    KinesisError.Code($0.code),
                    $0.code == "InternalFailure"
                        ? "Internal service failure (injected)."
                        : "Rate exceeded for stream \(stream) under account \(account) (injected).")
            }
        }
    }

    private static func error(_ code: String, operation: String, status: Int?) -> KinesisError {
        let message =
            switch code {
            case "ProvisionedThroughputExceededException":
                "Rate exceeded for \(operation) (injected)."
            case "InternalFailure", "ServiceUnavailable":
                "Internal service failure (injected)."
            default:
                "Rate exceeded (injected)."
            }
        return KinesisError(KinesisError.Code(code), message, status: status == 400 || status == 500 ? nil : status)
    }

    /// SplitMix64: small, fast and seedable.
    private struct SplitMix {
        var state: UInt64

        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }

        /// A uniform value in [0, 1).
        mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }
    }
}
