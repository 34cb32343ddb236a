import ArgumentParser
import Foundation
import ShardLog
import ShardLogBench
import ShardLogMapping
import ShardLogServer
import ShardLogWire

/// `shardlog`: the command-line tool. Parsing, progress and output only; the work happens in the libraries.
@main
struct ShardLogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shardlog",
        abstract: "A local-first sharded streaming log with a Lambda-style event source mapping.",
        version: BuildInfo.versionLine,
        subcommands: [
            CreateStream.self, ListStreams.self, DescribeStream.self, DeleteStream.self, Put.self, Get.self,
            SplitShard.self, MergeShards.self, UpdateShardCount.self, EnforceRetention.self, Serve.self,
            Map.self, Mappings.self, Status.self, Bench.self, Logs.self,
        ]
    )

    @OptionGroup var global: GlobalOptions

    /// Parses and runs a command as ArgumentParser does, but turns start-up failures it would print as a raw
    /// dump (a busy port) into a sentence naming the problem and the remedy.
    static func main() async {
        // Benchmark reports name the commit they measured.
        BenchBuild.commit = BuildInfo.commit == "unknown" ? nil : BuildInfo.commit
        var parsed: (any ParsableCommand)?
        do {
            var command = try parseAsRoot()
            parsed = command
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            if let serve = parsed as? Serve,
                let message = StartupFailure.message(for: error, host: serve.host, port: serve.port)
            {
                printError("Error: \(message)")
                Self.exit(withError: ExitCode.failure)
            }
            exit(withError: error)
        }
    }
}

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "Data directory (default: $SHARDLOG_DATA_DIR, else ./shardlog-data).")
    var dataDir: String?

    /// The directory to open.
    var directory: String { dataDir ?? Store.defaultDirectory }

    /// Opens the store.
    func open(_ options: StoreOptions = StoreOptions()) throws -> Store {
        try Store(directory: directory, options: options)
    }

    /// The data directory's store (`scope` nil) and those of the other accounts and regions `shardlog serve` keeps
    /// under `regions/ACCOUNT/REGION/` (`scope` `ACCOUNT/REGION`), in that order.
    func openAll() throws -> [(scope: String?, store: Store)] {
        var stores: [(scope: String?, store: Store)] = [(nil, try open())]
        for (account, region, path) in RegionalStores.regionalDirectories(of: directory) {
            var options = StoreOptions()
            options.accountId = account
            options.region = region
            stores.append((account + "/" + region, try Store(directory: path, options: options)))
        }
        return stores
    }

    /// The store holding mapping `name`: the data directory's, else the account and region's whose `mappings/` has
    /// it (a mapping made through the Lambda API in another region); the data directory's when none has it (so the
    /// caller's "does not exist" names it).
    func store(ofMapping name: String) throws -> Store {
        let all = try openAll()
        for (_, store) in all where MappingCatalog.names(store: store).contains(name) { return store }
        return all[0].store
    }
}

/// Writes a line to standard error.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Whether standard error is a terminal (for live progress lines).
var standardErrorIsTerminal: Bool { isatty(2) != 0 }

/// JSON encoding with Kinesis conventions: epoch-second timestamps, sorted keys.
func kinesisJSON<T: Encodable>(_ value: T, pretty: Bool = true) throws -> String {
    let encoder = JSONEncoder()
    encoder.dateEncodingStrategy = .custom { date, enc in
        var c = enc.singleValueContainer()
        try c.encode(Decimal(string: JSON.epochSecondsText(Int64(JSONTimestamp.epochMilliseconds(date)))) ?? 0)
    }
    encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}

/// A command-line error with its message.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
