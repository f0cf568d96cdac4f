import Foundation
import ImgDockerfile
import Testing
import ImgTestSupport

/// BuildKit's shell-lexer data: `envVarTest` (one word), `wordsTest` (split into words) and the transcribed
/// Go-only cases with matched/unmatched sets.
@Suite(.needs(.conformanceData)) struct ShellConformanceTests {
    private static func text(_ name: String) throws -> String {
        let dir = try ConformanceData.directory("shell-expansion")
        return String(decoding: try ConformanceData.read(dir.appending(path: name)), as: UTF8.self)
    }

    private static func trim(_ s: some StringProtocol) -> String {
        String(s).trimmingCharacters(in: .whitespaces)
    }

    @Test func envVarTest() throws {
        let text = try Self.text("envVarTest")
        let env = ShellEnvironment([("PWD", "/home"), ("SHELL", "bash"), ("KOREAN", "한국어"), ("NULL", "")])
        let lexer = ShellLexer()
        var passed = 0, total = 0, windowsOnly = 0
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if raw.hasPrefix("#") { continue }
            let line = Self.trim(raw)
            if line.isEmpty { continue }
            let fields = line.split(separator: "|", omittingEmptySubsequences: false).map(Self.trim)
            try #require(fields.count == 3, "broken line: \(line)")
            let (tag, input, expected) = (fields[0], fields[1], fields[2])
            switch tag {
            case "W":
                windowsOnly += 1
                continue
            case "A", "U":
                break
            default:
                Issue.record("unknown platform tag in: \(line)")
                continue
            }
            total += 1
            do {
                let got = try lexer.expandWord(input, env: env)
                #expect(expected != "error", "\(input): expected an error, got \(got.value)")
                #expect(got.words.count == 1, "\(input): one word expected")
                #expect(got.value == expected, "\(input)")
                if expected != "error", got.value == expected, got.words.count == 1 { passed += 1 }
            } catch {
                #expect(expected == "error", "\(input): unexpected error \(error)")
                if expected == "error" { passed += 1 }
            }
        }
        #expect(total == 228)
        #expect(windowsOnly == 2)
        ConformanceData.report("envVarTest", passed: passed, total: total)
        print("conformance envVarTest: \(windowsOnly) Windows-only rows skipped")
    }

    @Test func wordsTest() throws {
        let text = try Self.text("wordsTest")
        var env = ShellEnvironment()
        let lexer = ShellLexer()
        var passed = 0, total = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("#") { continue }
            if line.isEmpty {
                // Only the empty piece after the final newline may be blank.
                continue
            }
            if line.hasPrefix("ENV ") {
                let def = line.dropFirst(3).drop(while: { $0 == " " })
                let eq = try #require(def.firstIndex(of: "="), "ENV without '=': \(line)")
                env[String(def[..<eq])] = String(def[def.index(after: eq)...])
                continue
            }
            let sides = line.split(separator: "|", omittingEmptySubsequences: false)
            try #require(sides.count == 2, "broken line: \(line)")
            let input = Self.trim(sides[0])
            let expected = sides[1].drop(while: { $0 == " " }).split(separator: ",", omittingEmptySubsequences: false)
                .map(String.init)
            total += 1
            let got: [String]
            do {
                got = try lexer.expandWords(input, env: env).words
            } catch {
                got = ["error"]
            }
            #expect(got == expected, "\(input)")
            if got == expected { passed += 1 }
        }
        #expect(total == 24)
        ConformanceData.report("wordsTest", passed: passed, total: total)
    }

    private struct Case: Decodable {
        var input: String
        var envs: [String: String]
        var expected: String?
        var error: Bool?
        var error_contains: String?
        var matched: [String]?
        var unmatched: [String]?
    }

    private struct File: Decodable {
        var with_matches: [Case]
        var without_matches: [Case]
    }

    @Test func processWithMatches() throws {
        let dir = try ConformanceData.directory("shell-expansion")
        let data = try ConformanceData.read(dir.appending(path: "transcribed/process-with-matches.json"))
        let file = try JSONDecoder().decode(File.self, from: data)
        let lexer = ShellLexer()
        var passed = 0
        let cases = file.with_matches + file.without_matches
        for c in cases {
            // Sorted so that the environment is built the same way every run.
            let env = ShellEnvironment(c.envs.sorted { $0.key < $1.key })
            do {
                let got = try lexer.expandWord(c.input, env: env)
                var ok = c.error != true && got.value == c.expected
                #expect(c.error != true, "\(c.input): expected an error, got \(got.value)")
                #expect(got.value == c.expected, "\(c.input)")
                if let matched = c.matched {
                    #expect(got.matched == Set(matched), "\(c.input): matched")
                    ok = ok && got.matched == Set(matched)
                }
                if let unmatched = c.unmatched {
                    #expect(got.unmatched == Set(unmatched), "\(c.input): unmatched")
                    ok = ok && got.unmatched == Set(unmatched)
                }
                if ok { passed += 1 }
            } catch {
                var ok = c.error == true
                #expect(c.error == true, "\(c.input): unexpected error \(error)")
                if let needle = c.error_contains {
                    #expect(error.message.contains(needle), "\(c.input): message \(error.message)")
                    ok = ok && error.message.contains(needle)
                }
                if ok { passed += 1 }
            }
        }
        #expect(file.with_matches.count == 47)
        #expect(file.without_matches.count == 9)
        ConformanceData.report("process-with-matches", passed: passed, total: cases.count)
    }
}
