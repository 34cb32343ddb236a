import Foundation
import ShardLogFuzzing
import Testing

/// Replays every committed fuzz input (seeds and `regressions/` under `Fixtures/fuzz/<target>/`) through the same
/// harness functions libFuzzer runs, without instrumentation: an input that crashed once crashes this suite if the bug
/// comes back. Inputs that still crash code owned elsewhere wait in `Fixtures/fuzz-pending/`, which is not replayed.
@Suite struct FuzzCorpusReplayTests {
    static let corpusRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/fuzz")

    /// The files under `directory`, recursively, sorted.
    static func inputs(under directory: URL) -> [URL] {
        let files =
            FileManager.default.enumerator(at: directory, includingPropertiesForKeys: [.isRegularFileKey])?
            .compactMap { $0 as? URL } ?? []
        return files.filter { (try? $0.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true }
            .sorted { $0.path < $1.path }
    }

    @Test(arguments: FuzzTarget.all.map(\.name))
    func replaysCorpus(target name: String) async throws {
        let target = try #require(FuzzTarget.named(name))
        let files = Self.inputs(under: Self.corpusRoot.appendingPathComponent(name))
        #expect(!files.isEmpty, "Fixtures/fuzz/\(name)/ has no seed inputs")
        for file in files {
            await target.run(try [UInt8](Data(contentsOf: file)))
        }
    }

    @Test func everyCorpusFolderNamesATarget() throws {
        let folders = try FileManager.default.contentsOfDirectory(atPath: Self.corpusRoot.path)
        let names = Set(FuzzTarget.all.map(\.name))
        for folder in folders where !folder.hasPrefix(".") {
            #expect(names.contains(folder), "Fixtures/fuzz/\(folder)/ is not a fuzz target: \(names.sorted())")
        }
    }

    /// The targets also take the empty input and a few bytes of every value without trapping.
    @Test(arguments: FuzzTarget.all.map(\.name))
    func toleratesTinyInputs(target name: String) async throws {
        let target = try #require(FuzzTarget.named(name))
        await target.run([])
        for byte in [0, 10, 0x22, 0x30, 0x7B, 0xFF] as [UInt8] {
            await target.run([byte])
            await target.run([UInt8](repeating: byte, count: 64))
        }
    }
}
