import ArgumentParser
import Foundation
import ShardLogClient

/// `--endpoint-url`, `--region` and `--profile`: the options of the commands that can talk to a Kinesis endpoint
/// instead of the data directory.
struct RemoteOptions: ParsableArguments {
    @Option(
        help: """
            Use the stream of this Kinesis endpoint (another shardlog serve, moto, Amazon Kinesis) instead of the \
            data directory. Requests are signed with SigV4: credentials from AWS_ACCESS_KEY_ID, \
            AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, else the profile's in ~/.aws/credentials or ~/.aws/config.
            """)
    var endpointUrl: String?
    @Option(
        help: """
            Signing region with --endpoint-url (default: AWS_REGION, AWS_DEFAULT_REGION, the profile's region, the \
            endpoint's host name, us-east-1).
            """)
    var region: String?
    @Option(
        help: """
            Credentials profile with --endpoint-url (default: AWS_PROFILE, else default); it takes precedence over \
            AWS_ACCESS_KEY_ID when given.
            """)
    var profile: String?

    func validate() throws {
        if endpointUrl == nil {
            if region != nil { throw ValidationError("--region needs --endpoint-url") }
            if profile != nil { throw ValidationError("--profile needs --endpoint-url") }
        }
    }

    /// The client of `--endpoint-url`, or `nil` for the data directory.
    /// - Throws: `CLIError` for a URL that is not http(s) or a profile that cannot be read.
    func client() throws -> KinesisClient? {
        guard let endpointUrl else { return nil }
        do {
            return try KinesisClient(endpoint: endpointUrl, environment: try environment())
        } catch let error as KinesisClientError {
            throw CLIError("--endpoint-url \(error)")
        }
    }

    /// The process environment with the credentials and region resolved from the options and the profile, in the
    /// `AWS_*` variables `KinesisClient` reads.
    /// - Throws: `CLIError` naming the profile and the files looked in when an explicit profile is in neither.
    func environment(_ base: [String: String] = ProcessInfo.processInfo.environment) throws -> [String: String] {
        var out = base
        let home = base["HOME"] ?? NSHomeDirectory()
        let credentialsFile = base["AWS_SHARED_CREDENTIALS_FILE"] ?? home + "/.aws/credentials"
        let configFile = base["AWS_CONFIG_FILE"] ?? home + "/.aws/config"
        let explicit = profile ?? base["AWS_PROFILE"] ?? base["AWS_DEFAULT_PROFILE"]
        let name = explicit ?? "default"
        let fromCredentials = try Self.iniSection(credentialsFile, name)
        let fromConfig = try Self.iniSection(configFile, name == "default" ? "default" : "profile \(name)")
        if let explicit, fromCredentials == nil, fromConfig == nil {
            throw CLIError(
                "profile '\(explicit)' is in neither \(credentialsFile) nor \(configFile)"
                    + " (set by \(profile != nil ? "--profile" : "AWS_PROFILE"))")
        }
        let settings = (fromConfig ?? [:]).merging(fromCredentials ?? [:]) { _, credentials in credentials }
        // Environment credentials win over AWS_PROFILE, as in the AWS CLI; --profile wins over both.
        if profile != nil || base["AWS_ACCESS_KEY_ID"] == nil, let key = settings["aws_access_key_id"],
            let secret = settings["aws_secret_access_key"]
        {
            out["AWS_ACCESS_KEY_ID"] = key
            out["AWS_SECRET_ACCESS_KEY"] = secret
            out["AWS_SESSION_TOKEN"] = settings["aws_session_token"]
        }
        if let region {
            out["AWS_REGION"] = region
        } else if base["AWS_REGION"] == nil && base["AWS_DEFAULT_REGION"] == nil, let fromProfile = settings["region"] {
            out["AWS_REGION"] = fromProfile
        }
        return out
    }

    /// The `key = value` lines of `[section]` in an INI file (AWS's credentials and config files), keys in lower
    /// case; `nil` when the file or the section does not exist.
    /// - Throws: `CLIError` when the file exists but cannot be read.
    static func iniSection(_ path: String, _ section: String) throws -> [String: String]? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CLIError("cannot read \(path)")
        }
        var current: String?
        var found: [String: String]?
        for raw in String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                current = line.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
                if current == section && found == nil { found = [:] }
                continue
            }
            guard current == section, let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            found?[key] = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
        }
        return found
    }
}
