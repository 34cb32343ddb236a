import Foundation
import ShardLogWire

/// A function's configuration as Lambda's `GetFunctionConfiguration` returns it, and as
/// `<data>/functions/<name>/function.json` keeps it (AWS's field names).
struct FunctionConfiguration: Codable, Sendable, Equatable {
    /// `Environment`: `{"Variables": {…}}`.
    struct Environment: Codable, Sendable, Equatable {
        var variables: [String: String]
        enum CodingKeys: String, CodingKey { case variables = "Variables" }
    }

    var functionName: String
    var functionArn: String
    var runtime: String
    var role: String
    var handler: String
    var codeSize: Int
    var description: String
    var timeout: Int
    var memorySize: Int
    var lastModified: String
    var codeSha256: String
    var version = "$LATEST"
    var environment: Environment?
    var architectures: [String]
    var revisionId: String
    var state = "Active"
    var lastUpdateStatus = "Successful"
    var packageType = "Zip"

    enum CodingKeys: String, CodingKey {
        case functionName = "FunctionName"
        case functionArn = "FunctionArn"
        case runtime = "Runtime"
        case role = "Role"
        case handler = "Handler"
        case codeSize = "CodeSize"
        case description = "Description"
        case timeout = "Timeout"
        case memorySize = "MemorySize"
        case lastModified = "LastModified"
        case codeSha256 = "CodeSha256"
        case version = "Version"
        case environment = "Environment"
        case architectures = "Architectures"
        case revisionId = "RevisionId"
        case state = "State"
        case lastUpdateStatus = "LastUpdateStatus"
        case packageType = "PackageType"
    }

    /// The runtimes ShardLog runs without Docker.
    static let supportedRuntimes: [String] = [
        "python3.9", "python3.10", "python3.11", "python3.12", "python3.13", "nodejs18.x", "nodejs20.x",
        "nodejs22.x", "provided", "provided.al2", "provided.al2023",
    ]

    /// `LastModified` as Lambda writes it: `2024-01-01T12:00:00.000+0000`.
    static func timestamp(_ date: Date = Date()) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss.SSSZ"
        return formatter.string(from: date)
    }

    /// The JSON of this configuration.
    var jsonBytes: [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? [UInt8](encoder.encode(self))) ?? Array("{}".utf8)
    }

    /// The `FunctionConfiguration` the Lambda API returns: the stored fields plus the settings Lambda reports for
    /// every function whose defaults are the only values here (`EphemeralStorage`, `LoggingConfig`, `SnapStart`,
    /// `TracingConfig`). `creating`: the answer to `CreateFunction`, which Lambda gives while the function is
    /// `Pending` (`StateReason` "The function is being created.", no `LastUpdateStatus`); it is `Active` from the next
    /// call on.
    func apiBytes(creating: Bool = false) -> [UInt8] {
        guard case .object(var members) = (try? JSON(parsing: jsonBytes)) ?? .null else { return jsonBytes }
        members["EphemeralStorage"] = .fields(["Size": .integer(512)])
        members["LoggingConfig"] = .fields([
            "LogFormat": .string("Text"), "LogGroup": .string("/aws/lambda/\(functionName)"),
        ])
        members["SnapStart"] = .fields(["ApplyOn": .string("None"), "OptimizationStatus": .string("Off")])
        members["TracingConfig"] = .fields(["Mode": .string("PassThrough")])
        if creating {
            members["State"] = .string("Pending")
            members["StateReason"] = .string("The function is being created.")
            members["StateReasonCode"] = .string("Creating")
            members["LastUpdateStatus"] = nil
        }
        return JSON.object(members).bytes
    }

    /// Checks the settings Lambda checks, with its messages.
    /// - Throws: ``LambdaError`` (`ValidationException` or `InvalidParameterValueException`).
    func validate() throws(LambdaError) {
        guard Self.supportedRuntimes.contains(runtime) else {
            throw LambdaError(
                "InvalidParameterValueException",
                "The runtime parameter of \(runtime) is not supported by ShardLog (it runs functions without "
                    + "Docker); supported runtimes: \(Self.supportedRuntimes.joined(separator: ", "))")
        }
        guard (1...900).contains(timeout) else {
            throw LambdaError.validation(
                String(timeout), "timeout",
                timeout < 1
                    ? "Member must have value greater than or equal to 1"
                    : "Member must have value less than or equal to 900")
        }
        guard (128...10240).contains(memorySize) else {
            throw LambdaError.validation(
                String(memorySize), "memorySize",
                memorySize < 128
                    ? "Member must have value greater than or equal to 128"
                    : "Member must have value less than or equal to 10240")
        }
        guard !handler.isEmpty, handler.count <= 128, !handler.contains(where: \.isWhitespace) else {
            throw LambdaError.validation(
                handler, "handler", "Member must satisfy regular expression pattern: [^\\s]+")
        }
        if runtime.hasPrefix("python") || runtime.hasPrefix("nodejs") {
            guard let dot = handler.lastIndex(of: "."), dot != handler.startIndex,
                handler.index(after: dot) != handler.endIndex
            else {
                throw LambdaError.invalidParameter(
                    "Handler '\(handler)' must be FILE.FUNCTION for \(runtime) (e.g. handler.handler for "
                        + "handler.\(runtime.hasPrefix("python") ? "py" : "js") exporting handler)")
            }
        }
        for architecture in architectures where !["x86_64", "arm64"].contains(architecture) {
            throw LambdaError.validation(
                "[\(architectures.joined(separator: ", "))]", "architectures",
                "Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64]]")
        }
        for key in (environment?.variables ?? [:]).keys.sorted() where Self.reservedVariables.contains(key) {
            throw LambdaError.invalidParameter(
                "Lambda was unable to configure your environment variables because the environment variables you "
                    + "have provided contains reserved keys that are currently not supported for modification. "
                    + "Reserved keys used in this request: \(key)")
        }
    }

    /// Environment variables a function may not set (Lambda's reserved keys).
    static let reservedVariables: Set<String> = [
        "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
    ]
}

/// Function names and ARNs as Lambda accepts them in a path: `NAME`, `ACCOUNT:function:NAME` or
/// `arn:aws:lambda:REGION:ACCOUNT:function:NAME` (with an optional `:$LATEST` qualifier).
enum FunctionName {
    /// `arn:aws:lambda:<region>:<account>:function:<name>`.
    static func arn(_ name: String, account: String, region: String) -> String {
        "arn:aws:lambda:\(region):\(account):function:\(name)"
    }

    /// The bare name in `text`.
    /// - Throws: a `ValidationException` for a name outside Lambda's pattern.
    static func parse(_ text: String) throws(LambdaError) -> String {
        var parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        if parts.count >= 7, parts[0] == "arn", parts[2] == "lambda", parts[5] == "function" {
            if parts.count == 8, parts[7] != "$LATEST" {
                throw LambdaError.invalidParameter(
                    "ShardLog keeps only $LATEST of a function; qualifier '\(parts[7])' is not supported")
            }
            parts = [parts[6]]
        } else if parts.count == 3, parts[1] == "function" {
            parts = [parts[2]]
        } else if parts.count == 2, parts[1] == "$LATEST" {
            parts = [parts[0]]
        }
        let name = parts.count == 1 ? parts[0] : text
        let valid =
            (1...64).contains(name.utf8.count)
            && name.utf8.allSatisfy { c in
                (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c == 95 || c == 45
            }
        guard valid else {
            throw LambdaError.validation(
                text, "functionName",
                "Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-"
                    + "[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?")
        }
        return name
    }
}
