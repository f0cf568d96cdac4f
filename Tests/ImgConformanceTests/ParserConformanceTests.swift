import Foundation
import ImgDockerfile
import Testing
import ImgTestSupport

/// BuildKit's parser test data (`dockerfile-parser/`): positive and negative test files, line numbers,
/// and the cases transcribed from upstream Go tests. Every case is checked and the tally printed.
@Suite("Parser conformance", .needs(.conformanceData))
struct ParserConformanceTests {
    private static func bytes(_ url: URL) throws -> [UInt8] { [UInt8](try ConformanceData.read(url)) }

    private static func subdirectories(_ url: URL) throws -> [URL] {
        try FileManager.default.contentsOfDirectory(at: url, includingPropertiesForKeys: [.isDirectoryKey])
            .filter { (try? $0.resourceValues(forKeys: [.isDirectoryKey]).isDirectory) == true }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    private static func json(_ url: URL) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: ConformanceData.read(url)) as? [String: Any])
    }

    private static func utf8(_ string: String) -> [UInt8] { Array(string.utf8) }

    @Test("testfiles: every case renders byte-identical to its result")
    func positiveCases() throws {
        let data = try ConformanceData.directory("dockerfile-parser")
        var passed = 0
        let cases = try Self.subdirectories(data.appending(path: "testfiles"))
        for folder in cases {
            let name = folder.lastPathComponent
            let expected = try Self.bytes(folder.appending(path: "result"))
            let input = try Self.bytes(folder.appending(path: "Dockerfile"))
            do {
                let parsed = try DockerfileParser.parse(input)
                let rendered = Self.utf8(parsed.dump() + "\n")
                #expect(rendered == expected, "\(name): got\n\(parsed.dump())")
                if rendered == expected { passed += 1 }
            } catch {
                Issue.record("\(name): \(error)")
            }
        }
        ConformanceData.report("parser", passed: passed, total: cases.count)
        #expect(cases.count == 33)
    }

    @Test("testfiles-negative: every case fails to parse")
    func negativeCases() throws {
        let data = try ConformanceData.directory("dockerfile-parser")
        var passed = 0
        let cases = try Self.subdirectories(data.appending(path: "testfiles-negative"))
        for folder in cases {
            let input = try Self.bytes(folder.appending(path: "Dockerfile"))
            do {
                let parsed = try DockerfileParser.parse(input)
                Issue.record("\(folder.lastPathComponent) parsed: \(parsed.dump())")
            } catch {
                #expect(error.code == "parse")
                #expect(error.description.hasPrefix("Dockerfile"))
                passed += 1
            }
        }
        ConformanceData.report("parser-negative", passed: passed, total: cases.count)
        #expect(cases.count == 4)
    }

    @Test("line-numbers.json: start and end lines")
    func lineNumbers() throws {
        let data = try ConformanceData.directory("dockerfile-parser")
        let spec = try Self.json(data.appending(path: "transcribed/line-numbers.json"))
        let parsed = try DockerfileParser.parse(Self.bytes(data.appending(path: "testfile-line/Dockerfile")))
        let root = try #require(spec["root"] as? [String: Int])
        let instructions = try #require(spec["instructions"] as? [[String: Int]])
        var passed = 0
        if parsed.startLine == root["startLine"], parsed.endLine == root["endLine"] { passed += 1 }
        #expect(parsed.startLine == root["startLine"])
        #expect(parsed.endLine == root["endLine"])
        #expect(parsed.nodes.count == instructions.count)
        for (node, expected) in zip(parsed.nodes, instructions) {
            #expect(node.startLine == expected["startLine"] && node.endLine == expected["endLine"], "\(node.original)")
            if node.startLine == expected["startLine"], node.endLine == expected["endLine"] { passed += 1 }
        }
        ConformanceData.report("parser-line-numbers", passed: passed, total: instructions.count + 1)
    }

    @Test("heredoc/expected.json: heredocs of 27 instructions, none in JSON form")
    func heredocInstructions() throws {
        let data = try ConformanceData.directory("dockerfile-parser")
        let folder = data.appending(path: "transcribed/heredoc")
        let spec = try Self.json(folder.appending(path: "expected.json"))
        let parsed = try DockerfileParser.parse(Self.bytes(folder.appending(path: "Dockerfile")))
        let instructions = try #require(spec["instructions"] as? [[String: Any]])
        var passed = 0
        for instruction in instructions {
            let index = try #require(instruction["index"] as? Int)
            let expected = try #require(instruction["heredocs"] as? [[String: Any]]).map { doc in
                Heredoc(
                    name: doc["name"] as? String ?? "?", content: doc["content"] as? String ?? "?",
                    expand: doc["expand"] as? Bool ?? false, chomp: doc["chomp"] as? Bool ?? false,
                    fileDescriptor: doc["fileDescriptor"] as? Int ?? -1)
            }
            guard index < parsed.nodes.count else {
                Issue.record("instruction \(index) missing")
                continue
            }
            let node = parsed.nodes[index]
            #expect(node.heredocs == expected, "instruction \(index): \(node.original)")
            if node.heredocs == expected { passed += 1 }
        }

        let jsonForm = try DockerfileParser.parse(Self.bytes(folder.appending(path: "Dockerfile.json-form")))
        let jsonNodes = jsonForm.nodes.dropFirst()
        #expect(jsonNodes.count == 3)
        for node in jsonNodes {
            #expect(node.isJSON && node.heredocs.isEmpty, "\(node.original)")
            if node.isJSON, node.heredocs.isEmpty { passed += 1 }
        }
        ConformanceData.report("parser-heredoc", passed: passed, total: instructions.count + 3)
        #expect(instructions.count == 27)
    }

    @Test("heredoc/helpers.json: word recognition, names in lines, chomping")
    func heredocHelpers() throws {
        let data = try ConformanceData.directory("dockerfile-parser")
        let spec = try Self.json(data.appending(path: "transcribed/heredoc/helpers.json"))
        var passed = 0
        var total = 0

        let words = try #require((spec["parse_heredoc_word"] as? [String: Any])?["cases"] as? [[Any]])
        for pair in words {
            total += 1
            let word = try #require(pair[0] as? String)
            let expected = pair[1] as? String
            let outcome: String?
            do {
                outcome = try Heredoc.parse(word: word)?.name
            } catch {
                outcome = "error"
            }
            #expect(outcome == expected, "word \(word.debugDescription)")
            if outcome == expected { passed += 1 }
        }

        let lines = try #require((spec["heredocs_from_line"] as? [String: Any])?["cases"] as? [[Any]])
        for pair in lines {
            total += 1
            let line = try #require(pair[0] as? String)
            let expected = try #require(pair[1] as? [String])
            let names = try Heredoc.heredocs(inLine: line).map(\.name)
            #expect(names == expected, "line \(line.debugDescription)")
            if names == expected { passed += 1 }
        }

        let chomps = try #require((spec["chomp_content"] as? [String: Any])?["cases"] as? [[String]])
        for pair in chomps {
            total += 1
            let doc = Heredoc(name: "EOF", content: pair[0], expand: true, chomp: true, fileDescriptor: 0)
            #expect(doc.chompedContent == pair[1])
            #expect(Heredoc.removingLeadingTabs(pair[0]) == pair[1])
            if doc.chompedContent == pair[1] { passed += 1 }
        }
        ConformanceData.report("parser-heredoc-helpers", passed: passed, total: total)
    }

    @Test("empty-continuation: exactly 2 warnings")
    func emptyContinuation() throws {
        let data = try ConformanceData.directory("dockerfile-parser")
        let folder = data.appending(path: "transcribed/empty-continuation")
        let spec = try Self.json(folder.appending(path: "expected.json"))
        let parsed = try DockerfileParser.parse(Self.bytes(folder.appending(path: "Dockerfile")))
        let expected = try #require(spec["warnings_contain"] as? [[String]])
        let detail = try #require(spec["detail_contains"] as? String)
        #expect(parsed.warnings.count == expected.count)
        var passed = 0
        for (warning, fragments) in zip(parsed.warnings, expected) {
            let ok = fragments.allSatisfy { warning.message.contains($0) } && warning.detail.contains(detail)
            #expect(ok, "\(warning)")
            if ok { passed += 1 }
        }
        ConformanceData.report("parser-empty-continuation", passed: passed, total: expected.count)
        #expect(expected.count == 2)
    }

    @Test("directives.json: directive scanning, syntax and check detection")
    func directives() throws {
        let data = try ConformanceData.directory("dockerfile-parser")
        let spec = try Self.json(data.appending(path: "transcribed/directives.json"))
        var passed = 0
        var total = 0

        let all = try #require((spec["parse_all"] as? [String: Any])?["cases"] as? [[Any]])
        for pair in all {
            total += 1
            let input = try #require(pair[0] as? String)
            let expected = try #require(pair[1] as? [[String]])
            let found = DockerfileParser.parseDirectives(Self.utf8(input)).map { [$0.name, $0.value] }
            #expect(found == expected, "\(input.debugDescription)")
            if found == expected { passed += 1 }
        }

        for (section, detect) in [
            ("detect_syntax", { (input: [UInt8]) in DockerfileParser.detectSyntax(input) }),
            ("parse_directive_check", { (input: [UInt8]) in DockerfileParser.parseDirective("check", input) }),
        ] {
            let cases = try #require((spec[section] as? [String: Any])?["cases"] as? [[String: Any]])
            for entry in cases {
                total += 1
                let input = try #require(entry["input"] as? String)
                let found = detect(Self.utf8(input))
                var ok = found?.ref == entry["ref"] as? String
                if let cmdline = entry["cmdline"] as? String { ok = ok && found?.cmdline == cmdline }
                if let line = entry["line"] as? Int { ok = ok && found?.line == line }
                #expect(ok, "\(section) \(input.debugDescription): \(String(describing: found))")
                if ok { passed += 1 }
            }
        }
        ConformanceData.report("parser-directives", passed: passed, total: total)
    }

    @Test("line-parsers.json: word split, JSON arrays, ENV/LABEL, line too long")
    func lineParsers() throws {
        let data = try ConformanceData.directory("dockerfile-parser")
        let spec = try Self.json(data.appending(path: "transcribed/line-parsers.json"))
        var passed = 0
        var total = 0

        let words = try #require((spec["parse_words"] as? [String: Any])?["cases"] as? [[Any]])
        for pair in words {
            total += 1
            let input = try #require(pair[0] as? String)
            let expected = try #require(pair[1] as? [String])
            let found = DockerfileParser.splitWords(input)
            #expect(found == expected, "\(input.debugDescription)")
            if found == expected { passed += 1 }
        }

        let arrays = try #require(spec["json_arrays"] as? [String: Any])
        for pair in try #require(arrays["valid"] as? [[Any]]) {
            total += 1
            let input = try #require(pair[0] as? String)
            let expected = try #require(pair[1] as? [String])
            let found = try DockerfileParser.parseExecForm(input)
            // And through a whole instruction, where the text is what follows the keyword.
            let node = try #require(DockerfileParser.parse("CMD \(input)").nodes.first)
            let ok = found == expected && node.arguments == expected && node.isJSON
            #expect(ok, "\(input.debugDescription): \(String(describing: found))")
            if ok { passed += 1 }
        }
        for case let input as String in try #require(arrays["not_all_strings"] as? [Any]) {
            total += 1
            let direct = #expect(throws: DockerfileError.self) { try DockerfileParser.parseExecForm(input) }
            let whole = #expect(throws: DockerfileError.self) { try DockerfileParser.parse("RUN \(input)") }
            if direct != nil, whole != nil { passed += 1 }
        }

        let nameValues = try #require((spec["name_val"] as? [String: Any])?["cases"] as? [[Any]])
        for entry in nameValues {
            total += 1
            let keyword = try #require(entry[0] as? String)
            let text = try #require(entry[1] as? String)
            if let expected = entry[2] as? [String] {
                let node = try #require(DockerfileParser.parse("\(keyword) \(text)").nodes.first)
                #expect(node.arguments == expected, "\(keyword) \(text)")
                if node.arguments == expected { passed += 1 }
            } else {
                let error = #expect(throws: DockerfileError.self) { try DockerfileParser.parse("\(keyword) \(text)") }
                #expect(error?.message.contains(keyword) == true)
                if error != nil { passed += 1 }
            }
        }

        total += 1
        let tooLong = try #require(spec["line_too_long"] as? [String: Any])
        let message = try #require(tooLong["error"] as? String)
        let input = "\n\t\tFROM image\n\t\tLABEL test=" + String(repeating: "a", count: 65536) + "\n"
        let error = #expect(throws: DockerfileError.self) { try DockerfileParser.parse(input) }
        #expect(error?.message == message)
        if error?.message == message { passed += 1 }

        ConformanceData.report("parser-line-parsers", passed: passed, total: total)
    }
}
