import Foundation
import ImgContext
import ImgDockerfile
import Testing
import ImgTestSupport

/// moby/patternmatcher and fsutil facts: `cases.tsv`, `compile.tsv`, `readall/` and `walk-scenarios.json`.
@Suite(.needs(.conformanceData)) struct IgnoreConformanceTests {
    private static func lines(_ name: String) throws -> [Substring] {
        let dir = try ConformanceData.directory("dockerignore")
        let text = String(decoding: try ConformanceData.read(dir.appending(path: name)), as: UTF8.self)
        return text.split(separator: "\n", omittingEmptySubsequences: true)
    }

    // MARK: cases.tsv

    /// The three upstream entry points: path with ancestors, top-down with parent results, no parent info.
    private static func orParentAnswers(_ matcher: IgnoreMatcher, _ path: String) -> [Bool] {
        let direct = matcher.matches(path)
        var info = IgnoreMatchInfo()
        let parent = IgnorePath.dir(path)
        if parent != "." {
            let parts = parent.split(separator: "/", omittingEmptySubsequences: false)
            for i in parts.indices {
                info = matcher.matches(parts[...i].joined(separator: "/"), parent: info).info
            }
        }
        let walked = matcher.matches(path, parent: info).excluded
        let noInfo = matcher.matches(path, parent: IgnoreMatchInfo()).excluded
        return [direct, walked, noInfo]
    }

    @Test func casesTSV() throws {
        let lines = try Self.lines("cases.tsv")
        var passed = 0, total = 0
        var counts: [String: Int] = [:]
        for line in lines.dropFirst() {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            try #require(fields.count >= 4, "broken row: \(line)")
            let (suite, platform, expected, path) = (fields[0], fields[1], fields[2], fields[3])
            let patterns = Array(fields[4...])
            try #require(platform == "all" || platform == "unix")
            try #require(["true", "false", "error"].contains(expected))
            total += 1
            counts[suite, default: 0] += 1
            let context = "\(suite) \(path) \(patterns)"
            if expected == "error" {
                #expect(throws: DockerfileError.self, "\(context)") { try IgnoreMatcher(patterns: patterns) }
                #expect(throws: DockerfileError.self, "\(context)") {
                    try IgnoreMatcher.legacyMatches(path, patterns: patterns)
                }
                if (try? IgnoreMatcher(patterns: patterns)) == nil { passed += 1 }
                continue
            }
            let want = expected == "true"
            switch suite {
            case "or-parent":
                let answers = Self.orParentAnswers(try IgnoreMatcher(patterns: patterns), path)
                #expect(answers == [want, want, want], "\(context)")
                if answers == [want, want, want] { passed += 1 }
            case "legacy":
                let got = try IgnoreMatcher.legacyMatches(path, patterns: patterns)
                #expect(got == want, "\(context)")
                // The README's claim: the modern semantics agree once the path is cleaned and `.` never
                // matches.
                let cleaned = IgnorePath.clean(path)
                let modern = cleaned == "." ? false : try IgnoreMatcher(patterns: patterns).matches(cleaned)
                #expect(modern == want, "\(context) (or-parent on the cleaned path)")
                if got == want && modern == want { passed += 1 }
            default:
                Issue.record("unknown suite in row: \(line)")
            }
        }
        #expect(total == 137)
        #expect(counts == ["or-parent": 72, "legacy": 65])
        ConformanceData.report("dockerignore cases.tsv", passed: passed, total: total)
    }

    // MARK: compile.tsv

    /// Sample paths for a pattern: each wildcard replaced by fillers that should and should not match, plus
    /// a few fixed paths around the pattern text.
    private static func samples(for pattern: String) -> [String] {
        var alternatives: [[String]] = []
        let s = Array(pattern.unicodeScalars)
        var k = 0
        while k < s.count {
            let c = s[k]
            k += 1
            switch c {
            case "*" where k < s.count && s[k] == "*":
                k += 1
                if k < s.count, s[k] == "/" {
                    k += 1
                    alternatives.append(["", "d/", "d/e/", "de", "/"])
                } else {
                    alternatives.append(["", "q", "q/r", "q/"])
                }
            case "*":
                alternatives.append(["", "x", "xy", "x/y", "."])
            case "?":
                alternatives.append(["c", "/", "", "cc", "é"])
            case "[":
                var body = ""
                while k < s.count, s[k] != "]" {
                    body.unicodeScalars.append(s[k])
                    k += 1
                }
                k += 1
                var chars = Set(body.unicodeScalars.filter { $0 != "^" && $0 != "-" }.map { String($0) })
                chars.formUnion(["a", "z", "/", "é", ""])
                alternatives.append(chars.sorted())
            case "\\" where k < s.count:
                alternatives.append([String(s[k]), "\\" + String(s[k])])
                k += 1
            default:
                alternatives.append([String(c)])
            }
        }
        var result: Set<String> = [""]
        for options in alternatives {
            var next: Set<String> = []
            for prefix in result {
                for option in options where next.count < 2000 { next.insert(prefix + option) }
            }
            result = next
        }
        result.formUnion(["", ".", "a", "file", "dir/file", "x/y/z", pattern, "x/" + pattern, pattern + "/y",
                          String(pattern.dropLast()), String(pattern.dropFirst())])
        return result.sorted()
    }

    @Test func compileTSV() throws {
        let lines = try Self.lines("compile.tsv")
        var passed = 0, total = 0, oracleChecks = 0, oracleMatches = 0
        for line in lines.dropFirst() {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            try #require(fields.count == 4, "broken row: \(line)")
            let (pattern, type, regexSlash) = (fields[0], fields[1], fields[2])
            total += 1
            let compiled = try IgnorePattern(pattern)
            var ok = compiled.matchType.rawValue == type
            #expect(compiled.matchType.rawValue == type, "\(pattern)")
            if type == "regexp" {
                let oracle = try Regex(regexSlash).matchingSemantics(.unicodeScalar)
                for sample in Self.samples(for: pattern) {
                    let want = (try? oracle.wholeMatch(in: sample)) != nil
                    oracleChecks += 1
                    if want { oracleMatches += 1 }
                    if compiled.matches(sample) != want {
                        ok = false
                        Issue.record("\(pattern) on \"\(sample)\": regex says \(want)")
                    }
                }
            } else {
                #expect(regexSlash.isEmpty)
            }
            if ok { passed += 1 }
        }
        #expect(total == 21)
        ConformanceData.report("dockerignore compile.tsv", passed: passed, total: total)
        // Both answers must occur, or the oracle comparison proves little.
        #expect(oracleMatches > 0 && oracleMatches < oracleChecks)
        print("conformance dockerignore compile.tsv: \(oracleChecks) sample paths checked against the regex oracle"
              + " (\(oracleMatches) matching)")
    }

    // MARK: readall

    @Test func readAll() throws {
        let dir = try ConformanceData.directory("dockerignore")
        let input = try ConformanceData.read(dir.appending(path: "readall/input.dockerignore"))
        let expectedText = String(decoding: try ConformanceData.read(dir.appending(path: "readall/expected.txt")),
                                  as: UTF8.self)
        var expected = expectedText.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if expected.last == "" { expected.removeLast() }
        let got = IgnoreFile.read(Array(input))
        #expect(got == expected)
        #expect(IgnoreFile.read(String(decoding: input, as: UTF8.self)) == expected)
        ConformanceData.report("dockerignore readall", passed: got == expected ? 1 : 0, total: 1)
    }

    // MARK: walk-scenarios.json

    private struct Build: Decodable {
        var dockerfile: String
        var present: [String]
        var absent: [String]
    }

    private struct Scenario: Decodable {
        var name: String
        var tree: [String]
        var exclude: [String]?
        var exclude_layers: [[[String]]]?
        var dockerignore_file: String?
        var files: [String: String]?
        var walk: [String]?
        var present: [String]?
        var absent: [String]?
        var error: Bool?
        var builds: [Build]?
    }

    private struct ScenarioFile: Decodable {
        var scenarios: [Scenario]
    }

    /// Creates the scenario's tree in a fresh temporary directory.
    private static func makeTree(_ scenario: Scenario) throws -> URL {
        let fm = FileManager.default
        let root = URL(filePath: try makeTemporaryDirectory("img-walk-\(scenario.name)"), directoryHint: .isDirectory)
        for item in scenario.tree {
            let parts = item.split(separator: " ", maxSplits: 1).map(String.init)
            let url = root.appending(path: parts[1])
            if parts[0] == "dir" {
                try fm.createDirectory(at: url, withIntermediateDirectories: true)
            } else {
                var content = scenario.files?[parts[1]] ?? "content of \(parts[1])\n"
                if parts[1] == ".dockerignore", let ignore = scenario.dockerignore_file { content = ignore }
                try Data(content.utf8).write(to: url)
            }
        }
        return root
    }

    /// Checks walk/present/absent against one walk result; returns whether all held.
    private static func check(_ entries: [ContextEntry], walk: [String]?, present: [String]?, absent: [String]?,
                              _ label: String) -> Bool {
        var ok = true
        let listing = entries.map(\.description)
        let paths = Set(entries.map(\.path))
        if let walk {
            #expect(listing == walk, "\(label)")
            ok = ok && listing == walk
        }
        for p in present ?? [] where !paths.contains(p) {
            Issue.record("\(label): \(p) should be present")
            ok = false
        }
        for p in absent ?? [] where paths.contains(p) {
            Issue.record("\(label): \(p) should be absent")
            ok = false
        }
        return ok
    }

    private static func run(_ scenario: Scenario, root: URL) throws -> Bool {
        let rootPath = root.path
        var ok = true
        if let exclude = scenario.exclude {
            if scenario.error == true {
                #expect(throws: DockerfileError.self, "\(scenario.name)") { try IgnoreMatcher(patterns: exclude) }
                return (try? IgnoreMatcher(patterns: exclude)) == nil
            }
            let entries = try ContextWalker(root: rootPath, matcher: IgnoreMatcher(patterns: exclude)).walk()
            ok = check(entries, walk: scenario.walk, present: scenario.present, absent: scenario.absent,
                       scenario.name) && ok
        }
        for (n, order) in (scenario.exclude_layers ?? []).enumerated() {
            let layers = try order.map { (patterns: [String]) throws(DockerfileError) in
                try IgnoreMatcher(patterns: patterns)
            }
            let entries = try ContextWalker(root: rootPath, layers: layers).walk()
            ok = check(entries, walk: scenario.walk, present: scenario.present, absent: scenario.absent,
                       "\(scenario.name) order \(n)") && ok
        }
        if scenario.dockerignore_file != nil {
            // Goes through the real lookup: no Dockerfile.dockerignore, so the context's file applies.
            let dockerfile = root.appending(path: "Dockerfile").path
            #expect(IgnoreFile.location(contextDirectory: rootPath, dockerfile: dockerfile)
                    == root.appending(path: ".dockerignore").path)
            let matcher = try IgnoreFile.matcher(contextDirectory: rootPath, dockerfile: dockerfile)
            let entries = try ContextWalker(root: rootPath, matcher: matcher).walk()
            ok = check(entries, walk: scenario.walk, present: scenario.present, absent: scenario.absent,
                       scenario.name) && ok
        }
        for build in scenario.builds ?? [] {
            let dockerfile = root.appending(path: build.dockerfile).path
            #expect(IgnoreFile.location(contextDirectory: rootPath, dockerfile: dockerfile) == dockerfile + ".dockerignore")
            let matcher = try IgnoreFile.matcher(contextDirectory: rootPath, dockerfile: dockerfile)
            let entries = try ContextWalker(root: rootPath, matcher: matcher).walk()
            ok = check(entries, walk: nil, present: build.present, absent: build.absent,
                       "\(scenario.name) \(build.dockerfile)") && ok
        }
        return ok
    }

    @Test func walkScenarios() throws {
        let dir = try ConformanceData.directory("dockerignore")
        let file = try JSONDecoder().decode(
            ScenarioFile.self, from: try ConformanceData.read(dir.appending(path: "walk-scenarios.json")))
        var passed = 0
        for scenario in file.scenarios {
            let root = try Self.makeTree(scenario)
            defer { removeTree(root.path) }
            if try Self.run(scenario, root: root) { passed += 1 }
        }
        #expect(file.scenarios.count == 8)
        ConformanceData.report("dockerignore walk-scenarios", passed: passed, total: file.scenarios.count)
    }
}
