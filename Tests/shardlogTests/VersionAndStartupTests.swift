import Foundation
import ShardLogTestSupport
import Testing

@testable import shardlog

/// `shardlog --version`, and start-up failures of `serve` as sentences.
@Suite(.timeLimit(.minutes(2)))
struct VersionAndStartupTests {
    @Test func versionNamesVersionCommitAndBuild() async throws {
        let r = try await runShardlog(["--version"])
        #expect(r.status == 0, "\(r.stderr)")
        let text = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(text == BuildInfo.versionLine)
        #expect(text.hasPrefix("shardlog \(BuildInfo.version) (commit "), "\(text)")
        #expect(text.contains(" debug build, ") || text.contains(" release build, "), "\(text)")
        // Built by `make`, the commit is the checkout's (`git describe`); a plain `swift build` says "unknown".
        let describe = try await runProcess(
            "/usr/bin/env", ["git", "-C", repositoryRoot, "describe", "--always", "--abbrev=12"])
        let head = describe.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(
            BuildInfo.commit == "unknown" || (describe.status == 0 && BuildInfo.commit.hasPrefix(head)),
            "commit \(BuildInfo.commit), git describe \(head)")
    }

    /// A port in use: `serve` exits non-zero with the sentence, not the networking library's dump.
    @Test func busyPortIsASentence() async throws {
        try await withTemporaryDirectory { dir in
            try await withServe(dir) { busy in
                let second = try await runShardlog(["--data-dir", dir, "serve", "--port", "\(busy)"])
                #expect(second.status == 1)
                #expect(
                    second.stderr.split(separator: "\n").last.map(String.init)
                        == "Error: cannot listen on 127.0.0.1:\(busy): address already in use; is another shardlog "
                        + "serve running? choose another --port", "\(second.stderr)")
            }
        }
    }

    @Test func otherListenFailuresAreNamed() {
        let denied = StartupFailure.message(
            describing: "bind(descriptor:ptr:bytes:): Permission denied (errno: 13)", host: "0.0.0.0", port: 80)
        #expect(
            denied == "cannot listen on 0.0.0.0:80: permission denied (ports below 1024 need privileges); "
                + "choose another --port")
        let elsewhere = StartupFailure.message(
            describing: "bind(descriptor:ptr:bytes:): Cannot assign requested address (errno: 99)", host: "10.9.9.9",
            port: 4567)
        #expect(elsewhere?.hasPrefix("cannot listen on 10.9.9.9:4567: 10.9.9.9 is not an address") == true)
        #expect(StartupFailure.message(describing: "Stream s not found", host: "127.0.0.1", port: 1) == nil)
    }
}
