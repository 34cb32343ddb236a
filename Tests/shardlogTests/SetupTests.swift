import Foundation
import ShardLogTestSupport
import Testing

/// The set-up contract: `make deps` works with a system Python (Debian's refuses `pip install` outside a virtual
/// environment) by putting the Python tools in a project virtual environment, and everything that runs Python uses it.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct SetupTests {
    /// The base interpreter a fresh Debian has.
    static let systemPython =
        FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") ? "/usr/bin/python3" : "python3"

    /// `make venv` with a system Python makes a fresh virtual environment in the given place, and a second run
    /// changes nothing and says nothing (idempotent, quick). The package list is just pip so the test needs no
    /// network; `make deps` installs the real one the same way.
    @Test func makeVenvCreatesAFreshEnvironmentWithTheSystemPython() async throws {
        try await withTemporaryDirectory { dir in
            let venv = dir + "/venv"
            let arguments = [
                "-C", repositoryRoot, "--no-print-directory", "venv", "VENV=\(venv)", "PYTHON=\(Self.systemPython)",
                "PIP_PACKAGES=pip", "PY_CHECK=import ensurepip", "VENV_EXECUTABLES=pip",
            ]
            let first = try await runProcess("/usr/bin/env", ["make"] + arguments, timeout: .seconds(240))
            #expect(first.status == 0, "\(first.stdout)\(first.stderr)")
            #expect(first.stderr.contains("deps: creating \(venv)"), "\(first.stderr)")
            let python = venv + "/bin/python3"
            let prefix = try await runProcess(python, ["-c", "import sys; print(sys.prefix != sys.base_prefix)"])
            #expect(prefix.stdout == "True\n", "\(prefix.stdout)\(prefix.stderr)")
            let again = try await runProcess("/usr/bin/env", ["make"] + arguments, timeout: .seconds(60))
            #expect(again.status == 0 && again.stderr.isEmpty, "\(again.stdout)\(again.stderr)")
            // A venv whose interpreter no longer runs is made again.
            try FileManager.default.removeItem(atPath: python)
            let repaired = try await runProcess("/usr/bin/env", ["make"] + arguments, timeout: .seconds(240))
            #expect(repaired.status == 0 && repaired.stderr.contains("deps: creating"), "\(repaired.stderr)")
            #expect(FileManager.default.isExecutableFile(atPath: python))
        }
    }

    /// After `make deps`, tests and the handlers they start run the project's venv: `python3` on PATH is
    /// `.venv/bin/python3`, it has the tools, and `aws` is the venv's.
    @Test func testsRunTheProjectVirtualEnvironment() async throws {
        let venvPython = repositoryRoot + "/.venv/bin/python3"
        #expect(projectPython == venvPython, "run `make deps` first: \(projectPython)")
        let probe = try await runProcess(
            "/bin/sh",
            [
                "-c",
                "command -v python3; command -v aws; python3 -c 'import boto3, awslambdaric, moto, cbor2, h2, httpx'",
            ])
        #expect(probe.status == 0, "\(probe.stderr)")
        #expect(probe.stdout == "\(venvPython)\n\(repositoryRoot)/.venv/bin/aws\n", "\(probe.stdout)")
    }
}
