import Foundation
import ShardLogTestSupport
import Testing

/// `scripts/results.py` (run by `make bench`) writes RESULTS.md solely from the run's JSON files: run on the fixture
/// run in `Fixtures/bench/results/`, every number it prints must be a value of those files (at the precision shown,
/// possibly scaled by a power of 1000 or as a percentage) or, for ratios (`×`) and percentages, a quotient of two of
/// them. A figure typed into the generator (a reference rate, a count checked by hand) fails the test.
@Suite(.timeLimit(.minutes(1)))
struct ResultsGeneratorTests {
    /// A number in Markdown or in a JSON string: not part of a word (`p99`, `MD5`, `x86_64`), digits with optional
    /// thousands separators and decimals.
    static let numberPattern = #"(?<![A-Za-z0-9_.])\d+(?:,\d{3})*(?:\.\d+)?"#

    /// Every number of the JSON files in `directory`: numeric values, and numbers inside strings (commands, dates).
    static func numbers(inJSONFilesOf directory: String) throws -> [Double] {
        var values: [Double] = []
        func collect(_ value: Any) {
            switch value {
            case let number as NSNumber:  // booleans too, as 0 and 1
                values.append(number.doubleValue)
            case let text as String:
                values += tokens(in: text).map(\.value)
            case let array as [Any]:
                array.forEach(collect)
            case let object as [String: Any]:
                object.values.forEach(collect)
            default:
                break
            }
        }
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) where name.hasSuffix(".json") {
            let data = try Data(contentsOf: URL(fileURLWithPath: directory + "/" + name))
            collect(try JSONSerialization.jsonObject(with: data))
        }
        return values
    }

    /// A number as printed: its text, value, decimals shown, and the character after it.
    struct Token: Equatable {
        var text: String
        var value: Double
        var decimals: Int
        var suffix: Character?
    }

    static func tokens(in text: String) -> [Token] {
        let regex = try? NSRegularExpression(pattern: numberPattern)
        let ns = text as NSString
        return (regex?.matches(in: text, range: NSRange(location: 0, length: ns.length)) ?? []).compactMap { match in
            let token = ns.substring(with: match.range)
            let plain = token.replacingOccurrences(of: ",", with: "")
            guard let value = Double(plain) else { return nil }
            let decimals = plain.split(separator: ".").dropFirst().first?.count ?? 0
            let end = match.range.location + match.range.length
            let after = end < ns.length ? Character(ns.substring(with: NSRange(location: end, length: 1))) : nil
            return Token(text: token, value: value, decimals: decimals, suffix: after)
        }
    }

    /// The printed numbers of `markdown` that the JSON values do not explain. A number must be a JSON value (or one
    /// scaled by 100, 1000 or 1/1000: a fraction as a percentage, µs as ms); a ratio (`2.50×`) or a percentage that
    /// is not itself a value (a goal's target is) must be the quotient of two values that the same line, or the
    /// header of its table, shows.
    static func unexplained(_ markdown: String, by values: [Double]) -> [String] {
        let scales: [Double] = [1, 100, 1000, 0.001]
        let distinct = Array(Set(values))
        func explains(_ token: Token, _ candidate: Double) -> Bool {
            abs(candidate - token.value) <= 0.5 * pow(10, -Double(token.decimals)) + 1e-9
        }
        var unexplained: [String] = []
        var header = ""
        var previous = ""
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("|") && !previous.hasPrefix("|") { header = line }
            if !line.hasPrefix("|") { header = "" }
            previous = line
            // The JSON values shown as plain figures on this line and in its table's header.
            let shown = (tokens(in: line) + (header == line ? [] : tokens(in: header))).filter {
                $0.suffix != "×" && $0.suffix != "%"
            }
            let operands = distinct.filter { value in shown.contains { explains($0, value) } && value != 0 }
            for token in tokens(in: line) {
                let direct = distinct.contains { value in scales.contains { explains(token, value * $0) } }
                if direct { continue }
                guard token.suffix == "×" || token.suffix == "%" else {
                    unexplained.append(token.text)
                    continue
                }
                let factor: Double = token.suffix == "%" ? 100 : 1
                let quotient = operands.contains { a in operands.contains { b in explains(token, a / b * factor) } }
                if !quotient { unexplained.append(token.text) }
            }
        }
        return unexplained
    }

    /// Runs the generator on `results` and returns RESULTS.md.
    static func generate(_ results: String, in directory: String) async throws -> String {
        let out = directory + "/RESULTS.md"
        let run = try await runProcess(
            projectPython,
            [repositoryRoot + "/scripts/results.py", "--results", results, "--out", out, "--svg", directory + "/s.svg"])
        #expect(run.status == 0, "\(run.stderr)")
        return try String(contentsOfFile: out, encoding: .utf8)
    }

    @Test func everyPrintedNumberComesFromTheRunsJSON() async throws {
        try await withTemporaryDirectory { directory in
            let results = fixturePath("bench/results")
            let markdown = try await Self.generate(results, in: directory)
            let values = try Self.numbers(inJSONFilesOf: results)
            #expect(Self.unexplained(markdown, by: values) == [])
            // It shows what the fixture holds: the commit, the dirty flag, the build, the machine, the goals.
            #expect(markdown.contains("2efa1b6d1c1c4b5d2b7f3e0f0d7a9b8c6e5d4c3b"))
            #expect(markdown.contains("dirty tree"))
            #expect(markdown.contains("`swift build -c release --product shardlog`"))
            #expect(markdown.contains("Intel(R) Xeon(R) Processor"))
            #expect(markdown.contains("| 171,234 msg/s | 24 | 3 | yes |"))
            #expect(markdown.contains("2.65% of a core over 1,000 shards (contended)"))
            // `put`: 3 M lines, wall-time rate and CPU time per line.
            #expect(markdown.contains("events.jsonl` of 3,000,000 lines"))
            #expect(
                markdown.contains(
                    "| 1 | 1,152,499 (941,976, 1,152,499, 1,154,815) | 119.6 | 1,371 (1,363–1,567) | 2.69× |"))
            #expect(
                markdown.contains(
                    "| `shardlog put --endpoint-url` | 131,377 (118,530–139,804) | 3.27× | 1.84 (1.71–2.02) | 1.52 (1.49–1.61) |"
                ))
            #expect(markdown.contains("boto3 `put_records` loop) | 3.27× | ≥ 3× | **met** |"))
            #expect(!markdown.contains("/work/shared"))
            // Put → handler p99 is judged on the worst 0 ms-handler point of scaling.json, named with the best.
            #expect(
                markdown.contains(
                    "| worst of 4: S=8, P=10, p99 2.35 ms (p50 0.66 ms) | best: S=1, P=1, p99 0.82 ms | 2.35 ms | ≤ 1 ms "
                        + "| **missed** |"))
            // The delivery table's per-invocation columns, where the point has them.
            #expect(markdown.contains("| 95% | 99% | 100.0 | 10.11 | 10.47 | 61.5 | 615 | 5,394 |"))
            #expect(markdown.contains("| 50% | - | - | - | - | - | - | 1,525 |"))
            // The Lambda API's Invoke (lambda.json): its goal and its section.
            #expect(markdown.contains("| 1.71 ms (p99 2.95 ms) | boto3 p50 3.42 ms | 1.71 ms | ≤ 2 ms | **met** |"))
            #expect(markdown.contains("## Lambda API: Invoke of a Python function"))
            #expect(markdown.contains("| cold-start after idle-stop | thin | 1 | n/a | n/a | 171.3 (168.8–175.0) |"))
            // The Kinesis API server's goals (server.json): CPU per record, GetRecords vs moto, CBOR vs JSON.
            #expect(
                markdown.contains(
                    "(thin client, JSON) | `shardlog serve` CPU from /proc/PID/stat | 8.26 µs | ≤ 1 µs | **missed** |"))
            #expect(markdown.contains("| moto 19,051 records/s (same client) | 8.87× | ≥ 20× | **missed** |"))
            #expect(
                markdown.contains(
                    "| 7.13 µs per record in CBOR | 8.26 µs per record in JSON | 0.86× | ≤ 1× | **met** |"))
            #expect(
                markdown.contains(
                    "| 4.52 µs per record in CBOR | 4.31 µs per record in JSON | 1.05× | ≤ 1× | **missed** |"))
            #expect(markdown.contains("| thin-cbor | shardlog | 121,004 | 7.13 | 152,110 | 4.52 | n/a | n/a |"))
            // get --follow latency (follow.json) and the Runtime API vs its bare loop (runtime-api.json).
            #expect(markdown.contains("p99.9 1,392 µs (14,953 records) | put → line read from"))
            #expect(markdown.contains("standard output | 0.73 ms | ≤ 1 ms | **met** |"))
            #expect(markdown.contains("worst of 3: S=1, P=1, 792 invocations/s | bare Runtime API loop 1,205 "))
            #expect(markdown.contains("invocations/s | 66% | ≥ 80% | **missed** |"))
            #expect(markdown.contains("## `get --follow` in another process (`shardlog bench follow`)"))
            #expect(
                markdown.contains("| 5,000 | 4,984 | 14,953 | 48 | 733 | 733 (702–1,045) | 1,392 | 2,265 | 27 | 15 |"))
            #expect(markdown.contains("| 1,205 (1,189–1,232) | 31 | 66% |"))
        }
    }

    @Test func aTypedInFigureIsCaught() throws {
        let values = try Self.numbers(inJSONFilesOf: fixturePath("bench/results"))
        let planted = "awslambdaric reached 1,956 invocations/s (1,721–2,034); 804 fdatasync calls; 3.14× faster"
        #expect(Self.unexplained(planted, by: values) == ["1,956", "1,721", "2,034", "804", "3.14"])
        // Values of the JSON pass, and so does their quotient shown beside them; the same ratio without its
        // operands on the line (or in the table's header) does not.
        #expect(Self.unexplained("4,212,464 records/s is 359.76× 11,709 ops/s", by: values) == [])
        #expect(Self.unexplained("| a |\n| --- |\n| 359.76× |", by: values) == ["359.76"])
        #expect(Self.unexplained("| 4,212,464 vs 11,709 |\n| --- |\n| 359.76× |", by: values) == [])
    }

    @Test func missingFilesLeaveTheirSectionsOutInsteadOfFailing() async throws {
        try await withTemporaryDirectory { directory in
            let results = directory + "/results"
            try FileManager.default.createDirectory(atPath: results, withIntermediateDirectories: true)
            for name in ["run.json", "goals.json"] {
                try FileManager.default.copyItem(
                    atPath: fixturePath("bench/results/" + name), toPath: results + "/" + name)
            }
            let markdown = try await Self.generate(results, in: directory)
            #expect(markdown.contains("## Goals"))
            #expect(!markdown.contains("## Ingest"))
            #expect(Self.unexplained(markdown, by: try Self.numbers(inJSONFilesOf: results)) == [])
        }
    }
}
