import ShardLogWire
/// What a successful invocation's response means for the batch, under Lambda's `ReportBatchItemFailures` rules.
///
/// With `ReportBatchItemFailures` the handler may return `{"batchItemFailures":[{"itemIdentifier":"<seq>"}]}`:
/// - an empty or null list, `{}`, a null or empty response, or any response that is not an object: ``success``;
/// - an item whose `itemIdentifier` is empty, null, missing or not a string, or names a record outside the batch:
///   ``fullFailure(reason:)``;
/// - otherwise ``partialFailure(lowestFailedSequenceNumber:)``: the checkpoint moves to just before the lowest
///   reported sequence number and Lambda retries from there. A partial failure counts as a failed attempt.
///
/// Without `ReportBatchItemFailures` the response is ignored: every answered invocation is a ``success``.
public enum HandlerResponse: Sendable, Hashable {
    /// The whole batch succeeded.
    case success
    /// The records from `lowestFailedSequenceNumber` on must be retried.
    case partialFailure(lowestFailedSequenceNumber: String)
    /// The whole batch failed; `reason` says why, for logs.
    case fullFailure(reason: String)

    /// Interprets a handler response.
    /// - Parameters:
    ///   - body: The response body (UTF-8 JSON; may be empty).
    ///   - batchSequenceNumbers: The sequence numbers of the invoked batch.
    ///   - reportBatchItemFailures: Whether the mapping's `FunctionResponseTypes` has `ReportBatchItemFailures`.
    public init(parsing body: [UInt8], batchSequenceNumbers: Set<String>, reportBatchItemFailures: Bool) {
        guard reportBatchItemFailures else {
            self = .success
            return
        }
        switch Self.parseBody(body) {
        case .failure(let failure):
            self = .fullFailure(reason: failure.reason)
        case .success(let value):
            self = Self.interpret(value, batchSequenceNumbers: batchSequenceNumbers)
        }
    }

    /// Parses a response body; empty or blank means `null`.
    static func parseBody(_ body: [UInt8]) -> Result<JSON, ResponseParseFailure> {
        guard body.contains(where: { ![0x20, 0x0A, 0x0D, 0x09].contains($0) }) else {
            return .success(.null)
        }
        do {
            return .success(try JSON(parsing: body))
        } catch {
            return .failure(
                ResponseParseFailure(
                    reason: "response is not valid JSON: \(Self.excerpt(body)) (\(error)); return an object such as "
                        + #"{"batchItemFailures":[{"itemIdentifier":"<sequenceNumber>"}]}"#
                )
            )
        }
    }

    /// The first 200 bytes of a response, quoted, lossily decoded, with control characters escaped.
    static func excerpt(_ body: [UInt8], limit: Int = 200) -> String {
        var text = ""
        for scalar in String(decoding: body.prefix(limit), as: UTF8.self).unicodeScalars {
            switch scalar {
            case "\n": text += "\\n"
            case "\"": text += "\\\""
            case _ where scalar.value < 0x20: text += "\\u{\(String(scalar.value, radix: 16))}"
            default: text.unicodeScalars.append(scalar)
            }
        }
        return "\"" + text + (body.count > limit ? "…\"" : "\"")
    }

    /// Applies the batch-item-failure rules to a parsed response.
    static func interpret(_ value: JSON, batchSequenceNumbers: Set<String>) -> HandlerResponse {
        guard case .object(let members) = value, let failures = members["batchItemFailures"], failures != .null
        else {
            return .success
        }
        guard case .array(let items) = failures else {
            return .fullFailure(
                reason: #"batchItemFailures is not an array; return [{"itemIdentifier":"<sequenceNumber>"}, …]"#
            )
        }
        var lowest: String?
        for (position, item) in items.enumerated() {
            guard case .object(let fields) = item else {
                return .fullFailure(
                    reason: "batchItemFailures[\(position)] is not an object; Lambda fails the whole batch"
                )
            }
            guard case .string(let identifier) = fields["itemIdentifier"], !identifier.isEmpty else {
                return .fullFailure(
                    reason: "batchItemFailures[\(position)].itemIdentifier is missing, null, empty or not a string; "
                        + "Lambda fails the whole batch. Report the failed record's sequenceNumber"
                )
            }
            guard batchSequenceNumbers.contains(identifier) else {
                return .fullFailure(
                    reason: "batchItemFailures[\(position)].itemIdentifier \"\(identifier)\" is not the "
                        + "sequenceNumber of a record in this batch; the whole batch fails"
                )
            }
            if let current = lowest, !SequenceNumberOrder.precedes(identifier, current) {
                continue
            }
            lowest = identifier
        }
        if let lowest {
            return .partialFailure(lowestFailedSequenceNumber: lowest)
        }
        return .success
    }
}

/// Why a response body could not be parsed.
struct ResponseParseFailure: Error, Equatable {
    var reason: String
}

/// The response of a tumbling-window invocation: the batch outcome plus the window state to carry forward.
///
/// The response must contain `state` (a JSON object), or the invocation counts as failed; it may also carry
/// `batchItemFailures`, interpreted as in ``HandlerResponse``.
public struct TumblingWindowResponse: Sendable, Hashable {
    /// The batch outcome; ``HandlerResponse/fullFailure(reason:)`` when `state` is missing.
    public var outcome: HandlerResponse
    /// The returned state as compact JSON object text (keys sorted), ready for ``TumblingWindow/state``;
    /// `nil` when the response has none.
    public var state: [UInt8]?

    /// Creates a response value.
    /// - Parameters:
    ///   - outcome: The batch outcome.
    ///   - state: The state's JSON object text, if any.
    public init(outcome: HandlerResponse, state: [UInt8]?) {
        self.outcome = outcome
        self.state = state
    }

    /// Interprets a tumbling-window handler response.
    /// - Parameters:
    ///   - body: The response body (UTF-8 JSON).
    ///   - batchSequenceNumbers: The sequence numbers of the invoked batch.
    ///   - reportBatchItemFailures: Whether the mapping's `FunctionResponseTypes` has `ReportBatchItemFailures`.
    public init(parsing body: [UInt8], batchSequenceNumbers: Set<String>, reportBatchItemFailures: Bool) {
        let value: JSON
        switch HandlerResponse.parseBody(body) {
        case .failure(let failure):
            self.init(outcome: .fullFailure(reason: failure.reason), state: nil)
            return
        case .success(let parsed):
            value = parsed
        }
        guard case .object(let stateMembers) = value["state"] else {
            let reason =
                value["state"] == nil
                ? #"the tumbling-window response has no "state"; return {"state":{…}} (an empty object is fine)"#
                : #"the tumbling-window response's "state" is not a JSON object; return {"state":{…}}"#
            self.init(outcome: .fullFailure(reason: reason), state: nil)
            return
        }
        let outcome =
            reportBatchItemFailures
            ? HandlerResponse.interpret(value, batchSequenceNumbers: batchSequenceNumbers)
            : .success
        self.init(outcome: outcome, state: JSON.object(stateMembers).bytes)
    }
}

/// The order of Kinesis sequence numbers: decimal strings without leading zeros.
enum SequenceNumberOrder {
    /// Whether `lhs` is a smaller number than `rhs`: shorter strings are smaller; equal lengths compare by digits.
    static func precedes(_ lhs: String, _ rhs: String) -> Bool {
        let lhsCount = lhs.utf8.count
        let rhsCount = rhs.utf8.count
        if lhsCount != rhsCount {
            return lhsCount < rhsCount
        }
        return lhs.utf8.lexicographicallyPrecedes(rhs.utf8)
    }
}
