import Foundation
import HTTPTypes
import Hummingbird
import ShardLog
import ShardLogWire
import Synchronization

/// The account and region a request acts in, and the operation it performs (for `AccessDeniedException` texts).
///
/// The region is the one of the request's SigV4 credential scope (``KinesisServerOptions/region`` for unsigned
/// requests); the account is the access key's (``KinesisServerOptions/accounts``), else
/// ``KinesisServerOptions/accountId``.
struct RequestScope: Sendable, Equatable {
    /// The 12-digit account id.
    var account: String
    /// The region, such as `us-east-1`.
    var region: String
    /// The operation's name (`DescribeStreamSummary`), empty when not known.
    var operation = ""

    /// `000000000000`, the account of requests when no other is configured.
    static let defaultAccount = "000000000000"
    /// `us-east-1`, the region of unsigned requests when no other is configured.
    static let defaultRegion = "us-east-1"
    /// The default account in the default region.
    static let `default` = RequestScope(account: defaultAccount, region: defaultRegion)

    /// The ARN of stream `name` in this account and region.
    func streamARN(_ name: String) -> StreamARN { StreamARN(region: region, account: account, streamName: name) }

    /// Checks that `arn` names a resource of this account and region, refusing it as AWS does otherwise: another
    /// account's resource is `AccessDeniedException` (no resource policy grants this caller access), another region's
    /// a `ResourceNotFoundException` for the stream (this region has no such stream).
    /// - Parameters:
    ///   - arn: the stream's ARN (or the stream part of a consumer ARN).
    ///   - text: the ARN as the request gave it (a consumer ARN stays whole in the message).
    func check(_ arn: StreamARN, text: String) throws(KinesisError) {
        guard arn.account == account else {
            let action = "kinesis:" + (operation.isEmpty ? "*" : operation)
            throw KinesisError(
                .accessDenied,
                "User: arn:aws:iam::\(account):root is not authorized to perform: \(action) on resource: \(text)"
                    + " because no resource-based policy allows the \(action) action")
        }
        guard arn.region == region else {
            throw KinesisError(
                .resourceNotFound, "Stream \(arn.streamName) under account \(account) not found.")
        }
    }
}

/// What the server keeps for one account and region: its store (streams, shards, records) and the server's own
/// files in it (tags, consumers, policies, account settings).
struct RegionalResources: Sendable {
    /// The streams of the account and region.
    let store: Store
    /// Tags, consumers, monitoring settings and resource policies of those streams.
    let extras: StreamExtrasStore
    /// The account's settings in the region.
    let accountSettings: AccountSettingsStore

    init(store: Store) {
        self.store = store
        self.extras = StreamExtrasStore(directory: store.directory)
        self.accountSettings = AccountSettingsStore(directory: store.directory)
    }
}

/// The stores of every account and region the server has seen, opened lazily.
///
/// Layout (docs/data-layout.md): the data directory itself holds the account and region of the ``Store`` the server
/// was given (`shardlog serve`: `--account-id`, default `000000000000`, in `us-east-1`), so existing data
/// directories, `shardlog put`/`get`/`map` and `--mappings` keep working unchanged; every other pair lives in
/// `<data>/regions/<account>/<region>/`, a complete data directory of its own (`streams/`, `server-account.json`, …).
///
/// Thread-safety: safe from any thread.
package final class RegionalStores: Sendable {
    /// The store of the data directory itself.
    let root: RegionalResources
    private let opened = Mutex<[String: RegionalResources]>([:])

    /// - Parameter root: the data directory's store; its ``ShardLog/StoreOptions/accountId`` and
    ///   ``ShardLog/StoreOptions/region`` say which account and region it holds, and its options are those of every
    ///   other store.
    init(root: Store) { self.root = RegionalResources(store: root) }

    /// `<data>/regions`.
    private var regionsDirectory: String { root.store.directory + "/regions" }

    /// The resources of `scope`'s account and region, opening (and on first use creating) its data directory.
    /// - Throws: `InternalFailure` naming the directory when it cannot be created; `InvalidArgumentException` for an
    ///   account or region that cannot name a directory (the request scope is checked before it gets here).
    func resources(for scope: RequestScope) throws -> RegionalResources {
        let options = root.store.options
        if scope.account == options.accountId && scope.region == options.region { return root }
        guard Self.isAccount(scope.account), StreamARN.isRegion(scope.region) else {
            throw KinesisError(.invalidArgument, "account '\(scope.account)' or region '\(scope.region)' is not valid")
        }
        let key = scope.account + "/" + scope.region
        if let r = opened.withLock({ $0[key] }) { return r }
        var regional = options
        regional.accountId = scope.account
        regional.region = scope.region
        let store = try Store(directory: regionsDirectory + "/" + key, options: regional)
        return opened.withLock { o in
            if let existing = o[key] { return existing }
            let r = RegionalResources(store: store)
            o[key] = r
            return r
        }
    }

    /// Every store: the data directory's and those of every account and region found under `regions/` (opened).
    /// A directory there that names no account or region is skipped.
    func allStores() -> [Store] {
        var stores = [root.store]
        let options = root.store.options
        for (account, region, _) in Self.regionalDirectories(of: root.store.directory) {
            if account == options.accountId && region == options.region { continue }
            if let r = try? resources(for: RequestScope(account: account, region: region)) {
                stores.append(r.store)
            }
        }
        return stores
    }

    /// The account and region directories under `<data>/regions/` (those naming an account and a region), sorted:
    /// the layout every reader of a data directory's other accounts and regions goes through.
    package static func regionalDirectories(of dataDirectory: String) -> [(
        account: String, region: String, directory: String
    )] {
        let fm = FileManager.default
        let regionsDirectory = dataDirectory + "/regions"
        var found: [(account: String, region: String, directory: String)] = []
        for account in ((try? fm.contentsOfDirectory(atPath: regionsDirectory)) ?? []).sorted()
        where isAccount(account) {
            let regions = (try? fm.contentsOfDirectory(atPath: regionsDirectory + "/" + account)) ?? []
            for region in regions.sorted() where StreamARN.isRegion(region) {
                found.append((account, region, regionsDirectory + "/" + account + "/" + region))
            }
        }
        return found
    }

    /// Whether `text` is an account id: 12 digits.
    static func isAccount(_ text: String) -> Bool {
        text.utf8.count == 12 && text.utf8.allSatisfy { $0 >= 48 && $0 <= 57 }
    }
}

extension KinesisServer {
    /// The account and region of `request`: the region of its SigV4 credential scope (the `Authorization` header's
    /// or the presigned query string's `Credential`), else ``KinesisServerOptions/region``; the account of its access
    /// key in ``KinesisServerOptions/accounts``, else ``KinesisServerOptions/accountId``.
    ///
    /// With `--credentials` the signature was verified before this is called; without, the credential is read as
    /// given (any signature is accepted then, but its region still chooses where the request acts).
    /// - Throws: `InvalidSignatureException` when the credential names a region that is no region name.
    func requestScope(_ request: Request, operation: String) throws(KinesisError) -> RequestScope {
        var scope = RequestScope(account: options.accountId, region: options.region, operation: operation)
        guard let credential = Self.credential(request) else { return scope }
        let parts = credential.split(separator: "/", omittingEmptySubsequences: false)
        if let key = parts.first, let account = options.accounts[String(key)] { scope.account = account }
        if parts.count >= 3, !parts[2].isEmpty {
            guard StreamARN.isRegion(parts[2]) else {
                throw KinesisError(
                    .invalidSignature, "Credential should be scoped to a valid region, not '\(parts[2])'. ")
            }
            scope.region = String(parts[2])
        }
        return scope
    }

    /// The `Credential` of the `Authorization` header (`AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/…, …`) or the
    /// presigned query string's `X-Amz-Credential`.
    private static func credential(_ request: Request) -> String? {
        if let header = request.headers[.authorization], let start = Self.end(of: "Credential=", in: header) {
            let rest = header[start...]
            return String(rest.prefix { $0 != "," && $0 != " " })
        }
        for item in (request.uri.query ?? "").split(separator: "&") where item.hasPrefix("X-Amz-Credential=") {
            return String(item.dropFirst("X-Amz-Credential=".count)).removingPercentEncoding
        }
        return nil
    }

    /// Where the first `needle` in `text` ends, or `nil`: a plain byte search (Foundation's `range(of:)` and the
    /// standard library's `firstRange(of:)` both showed in profiles of PutRecords, called once per request).
    private static func end(of needle: String, in text: String) -> String.Index? {
        let utf8 = text.utf8
        var i = utf8.startIndex
        while i != utf8.endIndex {
            if utf8[i...].starts(with: needle.utf8) { return utf8.index(i, offsetBy: needle.utf8.count) }
            i = utf8.index(after: i)
        }
        return nil
    }

    /// The resources of the request's account and region.
    func regional(_ p: Params) throws -> RegionalResources { try regions.resources(for: p.scope) }
}

extension KinesisServerOptions {
    /// One entry of a credentials file: the secret, and the account the key acts in (`nil`: ``accountId``).
    package struct Credential: Sendable, Equatable {
        /// The secret access key.
        package var secret: String
        /// The key's 12-digit account id, or `nil`.
        package var account: String?
    }

    /// Reads a credentials file: a JSON object of access key id → either the secret access key, or
    /// `{"secret": "…", "account": "123456789012"}` for a key acting in an account of its own.
    /// - Parameter path: the file.
    /// - Returns: access key id → credential.
    /// - Throws: `ValidationException` naming the file (and the key) when it cannot be read or has another shape.
    package static func loadCredentialsFile(path: String) throws -> [String: Credential] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw KinesisError(.validation, "cannot read credentials file \(path)")
        }
        let form =
            "credentials file \(path) must be a JSON object {\"ACCESS_KEY_ID\": \"secret\" or"
            + " {\"secret\": \"…\", \"account\": \"123456789012\"}, …}"
        guard case .object(let object)? = try? JSON(parsing: Array(data)), !object.isEmpty else {
            throw KinesisError(.validation, form)
        }
        var out: [String: Credential] = [:]
        for (key, value) in object {
            if let secret = value.stringValue {
                out[key] = Credential(secret: secret, account: nil)
                continue
            }
            guard case .object(let entry) = value, let secret = entry["secret"]?.stringValue,
                Set(entry.keys).isSubset(of: ["secret", "account"])
            else {
                throw KinesisError(.validation, "access key \(key): " + form)
            }
            var account: String?
            if let a = entry["account"] {
                guard let text = a.stringValue, RegionalStores.isAccount(text) else {
                    throw KinesisError(
                        .validation, "access key \(key) in credentials file \(path): account must be 12 digits")
                }
                account = text
            }
            out[key] = Credential(secret: secret, account: account)
        }
        return out
    }

    /// Sets ``credentials`` and ``accounts`` from a credentials file's entries.
    /// - Parameter file: access key id → credential (see ``loadCredentialsFile(path:)``).
    package mutating func use(credentials file: [String: Credential]) {
        credentials = file.mapValues(\.secret)
        accounts = file.compactMapValues(\.account)
    }
}
