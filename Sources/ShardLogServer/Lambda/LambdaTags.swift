import Foundation
import Hummingbird
import ShardLogWire
import Synchronization

/// The tags of a region's functions and event source mappings, by resource ARN, kept in `lambda-tags.json` of the
/// region's data directory: `TagResource`, `UntagResource`, `ListTags`, and `Tags` of `CreateFunction`,
/// `CreateEventSourceMapping` and `GetFunction`, as Lambda serves them (Terraform's AWS provider reads them on every
/// plan). Thread-safe: one mutex, the file written atomically on every change.
final class LambdaTags: Sendable {
    private let path: String
    private let tags: Mutex<[String: [String: String]]>

    /// The most tags a resource may have (Lambda's limit).
    static let limit = 50

    /// Loads the tags kept in `directory` (none when the file is missing or damaged).
    init(directory: String) {
        path = directory + "/lambda-tags.json"
        var loaded: [String: [String: String]] = [:]
        if let data = FileManager.default.contents(atPath: path),
            case .object(let resources)? = try? JSON(
                parsing: Array(data))
        {
            for (arn, value) in resources {
                guard case .object(let members) = value else { continue }
                loaded[arn] = members.compactMapValues(\.stringValue)
            }
        }
        tags = Mutex(loaded)
    }

    /// The tags of `arn` (empty when it has none).
    func tags(of arn: String) -> [String: String] {
        tags.withLock { $0[arn] ?? [:] }
    }

    /// Adds `new` to the tags of `arn` (a key given again takes the new value).
    /// - Throws: ``LambdaError`` for a key or value outside Lambda's lengths, more than 50 tags, or a file that cannot
    ///   be written.
    func tag(_ arn: String, _ new: [String: String]) throws(LambdaError) {
        for (key, value) in new.sorted(by: { $0.key < $1.key }) {
            guard (1...128).contains(key.count) else {
                throw LambdaError.validation(key, "tags.key", "Member must have length between 1 and 128")
            }
            guard value.count <= 256 else {
                throw LambdaError.validation(value, "tags.value", "Member must have length less than or equal to 256")
            }
        }
        try update { (all: inout [String: [String: String]]) throws(LambdaError) in
            let merged = (all[arn] ?? [:]).merging(new) { _, latest in latest }
            guard merged.count <= Self.limit else {
                throw LambdaError.invalidParameter(
                    "Number of tags exceeds resource tag limit (\(merged.count) > \(Self.limit)).")
            }
            all[arn] = merged
        }
    }

    /// Removes `keys` from the tags of `arn`.
    /// - Throws: ``LambdaError`` when the file cannot be written.
    func untag(_ arn: String, _ keys: [String]) throws(LambdaError) {
        try update { (all: inout [String: [String: String]]) throws(LambdaError) in
            for key in keys { all[arn]?[key] = nil }
            if all[arn]?.isEmpty == true { all[arn] = nil }
        }
    }

    /// Forgets the tags of a deleted resource.
    func remove(_ arn: String) {
        try? update { $0[arn] = nil }
    }

    private func update(_ change: (inout [String: [String: String]]) throws(LambdaError) -> Void) throws(LambdaError) {
        try tags.withLock { (all: inout [String: [String: String]]) throws(LambdaError) in
            var next = all
            try change(&next)
            guard next != all else { return }
            let json = JSON.object(next.mapValues { .object($0.mapValues(JSON.string)) })
            do {
                try Data(json.bytes).write(to: URL(fileURLWithPath: path), options: .atomic)
            } catch {
                throw LambdaError.service("cannot save the tags in \(path): \(error)")
            }
            all = next
        }
    }
}

extension KinesisServer {
    /// `TagResource`, `UntagResource` and `ListTags` for the functions and event source mappings of a region.
    func registerLambdaTagRoutes(_ router: Router<KinesisRequestContext>, _ host: LambdaHost) {
        let path = "/2017-03-31/tags/:arn"
        lambdaRoute(router, host, .post, path, "TagResource", limit: 1 << 20) { request, service in
            let arn = try Self.taggable(request.parameter("arn"), service)
            guard let tags = try request.params().stringMap("Tags") else {
                throw LambdaError(
                    "ValidationException",
                    "1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not "
                        + "be null")
            }
            try service.tags.tag(arn, tags)
            return Response(status: .noContent, headers: [.amznRequestID: request.requestID])
        }
        lambdaRoute(router, host, .delete, path, "UntagResource", limit: 1 << 20) { request, service in
            let arn = try Self.taggable(request.parameter("arn"), service)
            try service.tags.untag(arn, request.queryValues["tagKeys"] ?? [])
            return Response(status: .noContent, headers: [.amznRequestID: request.requestID])
        }
        lambdaRoute(router, host, .get, path, "ListTags", limit: 1 << 20) { request, service in
            let arn = try Self.taggable(request.parameter("arn"), service)
            let tags = service.tags.tags(of: arn)
            return Self.jsonResponse(
                JSON.fields(["Tags": .object(tags.mapValues(JSON.string))]).bytes, requestID: request.requestID)
        }
    }

    /// The ARN of a function or event source mapping of `service`, as tags are kept under it.
    /// - Throws: ``LambdaError`` `ResourceNotFoundException` for a resource that does not exist here,
    ///   `InvalidParameterValueException` for an ARN of another kind.
    static func taggable(_ arn: String, _ service: LambdaService) throws(LambdaError) -> String {
        let mappingPrefix = mappingArn("", service)
        if arn.hasPrefix(mappingPrefix) {
            guard service.mapping(String(arn.dropFirst(mappingPrefix.count))) != nil else {
                throw LambdaError(
                    "ResourceNotFoundException", "The resource you requested does not exist.", status: .notFound)
            }
            return arn
        }
        guard arn.hasPrefix("arn:"), arn.contains(":function:") else {
            throw LambdaError.invalidParameter("\(arn) is not a function or event source mapping ARN")
        }
        let name = try FunctionName.parse(arn)
        guard service.function(named: name) != nil else {
            throw LambdaError.functionNotFound(service.functionArn(name))
        }
        return service.functionArn(name)
    }
}
