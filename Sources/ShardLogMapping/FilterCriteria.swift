import ShardLogWire
/// A mapping's `FilterCriteria`: up to five event-filtering patterns, OR'ed.
///
/// JSON: `{"Filters":[{"Pattern":"{\"data\":{\"type\":[\"buy\"]}}"}]}`. Each pattern is matched against
/// `{"data": <record data parsed as JSON>, "partitionKey": …, "sequenceNumber": …, "approximateArrivalTimestamp": …,
/// "kinesisSchemaVersion": "1.0"}`. A record whose data is not JSON never matches a pattern that names `data`
/// (Lambda drops it), but may match one that names only metadata. Records that match no pattern are skipped:
/// the mapping checkpoints past them without invoking the handler. The grammar is described in `FilterPattern.swift`.
public struct FilterCriteria: Codable, Sendable, Equatable {
    /// One filter of ``FilterCriteria``.
    public struct Filter: Codable, Sendable, Equatable {
        /// The pattern's JSON text (at most ``FilterCriteria/maximumPatternLength`` characters).
        public var pattern: String

        /// Creates a filter.
        /// - Parameter pattern: The pattern's JSON text.
        public init(pattern: String) {
            self.pattern = pattern
        }

        enum CodingKeys: String, CodingKey {
            case pattern = "Pattern"
        }
    }

    /// Lambda's quota of filters per event source mapping.
    public static let maximumFilterCount = 5

    /// Lambda's maximum length of one pattern.
    public static let maximumPatternLength = 4096

    /// The filters; a record passes when it matches any of them. Empty means no filtering.
    public var filters: [Filter]

    /// Creates filter criteria.
    /// - Parameter filters: The filters.
    public init(filters: [Filter] = []) {
        self.filters = filters
    }

    /// Creates filter criteria from pattern texts.
    /// - Parameter patterns: The patterns' JSON texts.
    public init(patterns: [String]) {
        self.filters = patterns.map(Filter.init(pattern:))
    }

    /// Decodes `{"Filters":[…]}`; a missing `Filters` means none.
    /// - Parameter decoder: The decoder.
    /// - Throws: `DecodingError` when a field has the wrong type.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        filters = try container.decodeIfPresent([Filter].self, forKey: .filters) ?? []
    }

    enum CodingKeys: String, CodingKey {
        case filters = "Filters"
    }

    /// Parses every pattern.
    /// - Returns: The compiled filter.
    /// - Throws: ``MappingError/Code/invalidParameter`` naming the first invalid pattern and its problem.
    func compiled() throws(MappingError) -> RecordFilter {
        var patterns: [FilterPattern] = []
        for (position, filter) in filters.enumerated() {
            do {
                patterns.append(try FilterPattern(parsing: filter.pattern))
            } catch {
                throw MappingError(
                    code: .invalidParameter,
                    message: "Invalid filter pattern definition. FilterCriteria.Filters[\(position)].Pattern: "
                        + "\(error.reason)",
                    cause: error
                )
            }
        }
        return RecordFilter(patterns: patterns)
    }
}

/// Compiled ``FilterCriteria``, applied to records before batching.
struct RecordFilter: Sendable {
    private struct Entry: Sendable {
        var pattern: FilterPattern
        var referencesData: Bool
    }

    private let entries: [Entry]
    private let needsData: Bool

    /// Creates a filter that passes records matching any of `patterns` (all records when empty).
    init(patterns: [FilterPattern]) {
        entries = patterns.map { Entry(pattern: $0, referencesData: $0.referencesTopLevelKey("data")) }
        needsData = entries.contains { $0.referencesData }
    }

    /// Whether a record passes the filter.
    func matches(_ record: EventRecord) -> Bool {
        guard !entries.isEmpty else {
            return true
        }
        var data: JSON?
        if needsData {
            data = try? JSON(parsing: record.data)
        }
        var event: [String: JSON] = [
            "partitionKey": .string(record.partitionKey),
            "sequenceNumber": .string(record.sequenceNumber),
            "approximateArrivalTimestamp": .number(
                Double(JSONTimestamp.epochMilliseconds(record.approximateArrivalTimestamp)) / 1000
            ),
            "kinesisSchemaVersion": .string("1.0"),
        ]
        if let data {
            event["data"] = data
        }
        for entry in entries where data != nil || !entry.referencesData {
            if entry.pattern.matches(event) {
                return true
            }
        }
        return false
    }
}
