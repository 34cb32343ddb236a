/// What `shardlog --version` prints: the version, the git commit and the build configuration.
///
/// The commit comes from `BuildInfo+Commit.generated.swift`, which `make` writes from `git describe` (the file is
/// gitignored). A plain `swift build` in a fresh clone has no such file and reports the commit as unknown: the
/// generated extension's `commit`, when present, is preferred over ``BuildInfoDefaults``'s.
enum BuildInfo: BuildInfoDefaults {
    /// The release version.
    static let version = "0.1.0"

    /// `debug` or `release`.
    static var configuration: String {
        #if DEBUG
            "debug"
        #else
            "release"
        #endif
    }

    /// The operating system and CPU the binary was built for.
    static var platform: String {
        #if os(Linux)
            let system = "linux"
        #elseif os(macOS)
            let system = "macos"
        #else
            let system = "unknown-os"
        #endif
        #if arch(x86_64)
            return system + "-x86_64"
        #elseif arch(arm64)
            return system + "-arm64"
        #else
            return system
        #endif
    }

    /// The `--version` text: `shardlog 0.1.0 (commit 2c5ed56a1b2c, release build, linux-x86_64)`.
    static var versionLine: String {
        "shardlog \(version) (commit \(commit), \(configuration) build, \(platform))"
    }
}

/// The fallback for a build without the generated commit file.
protocol BuildInfoDefaults {
    /// The git commit this binary was built from.
    static var commit: String { get }
}

extension BuildInfoDefaults {
    /// Used when `make` did not generate the commit (a plain `swift build`).
    static var commit: String { "unknown" }
}
