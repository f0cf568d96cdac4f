import Foundation
import ImgDockerfile
import Testing

/// Deterministic fuzzing: random token soups and mutations of real Dockerfiles (built-in seeds, plus
/// the conformance files when they are around). The parser must return a value or a `DockerfileError`,
/// never crash or hang, and what it returns must be self-consistent.
@Suite("Dockerfile parser fuzzing")
struct ParserFuzzTests {
    /// SplitMix64: tiny, fast, and the same sequence on every platform.
    struct SplitMix64 {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(max(bound, 1))) }
        mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
        mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }
    }

    static let seeds: [String] = [
        "FROM alpine:3.19 AS base\nRUN apk add --no-cache curl \\\n    git\nCMD [\"sh\"]\n",
        "# syntax=docker/dockerfile:1\n# escape=`\nFROM mcr.microsoft.com/windows\nRUN dir `\n  C:\\\nCOPY a b\n",
        "FROM a\nRUN <<EOF\necho hi\nEOF\nCOPY <<-A <<B /x\n\tone\n\tA\ntwo\nB\n",
        "FROM a\nONBUILD RUN <<'X' bash\necho $HOME\nX\nONBUILD COPY --from=b c d\n",
        "ARG V=\"1 2\" W='3'\nENV A=1 B=\"x y\" C=e\\ f\nLABEL k v w\nENV OLD form value\n",
        "HEALTHCHECK --interval=5s CMD [\"a\", \"b\"]\nHEALTHCHECK NONE\nSTOPSIGNAL 9\nUSER 1:1\nWORKDIR /w\n",
        "\u{FEFF}#!/bin/sh\n# check=skip=all\nFROM x\r\nRUN a \\\r\n\r\n  b\r\n",
        "FROM a\nCMD [\"\\u00e9\\ud83d\\ude00\", \"\\n\"]\nENTRYPOINT [\"a\", [\"b\"]]\n",
        "FROM a\nRUN x \\\n# c\n\n  y \\\n",
        "{\"syntax\": \"x\"}\n",
    ]

    static let fragments: [String] = [
        "FROM ", "RUN ", "COPY ", "ADD ", "ENV ", "LABEL ", "ARG ", "CMD ", "ENTRYPOINT ", "SHELL ", "ONBUILD ",
        "HEALTHCHECK ", "VOLUME ", "USER ", "WORKDIR ", "EXPOSE ", "MAINTAINER ", "STOPSIGNAL ", "FOO ", "run ",
        "\n", "\n", "\n", "\r\n", "\r", " ", "  ", "\t", "\u{0B}", "\u{0C}", "\\", "\\\n", "`", "`\n", "\\ \t\n",
        "<<EOF", "<<-EOF", "<<'EOF'", "<<\"EOF\"", "3<<EOF", "<< EOF", "EOF\n", "\tEOF\n", "<<", "<<-",
        "\"", "'", "[", "]", "[\"a\", \"b\"]", "[\"a\", 1]", "{", "}", ",", ":", "\\u0000", "\\ud800",
        "#", "# comment\n", "# escape=`\n", "# escape=\\\n", "# syntax=x\n", "# check=skip=all\n", "#!/bin/sh\n",
        "//syntax=y\n", "--", "--mount=type=cache,target=/x ", "--from=\"a b\" ", "=", "a=b ", "k v ", "$X", "${Y}",
        "\u{FEFF}", "\u{A0}", "\u{85}", "\u{2028}", "\u{3000}", "é", "☃", "😀", "\u{0}", "\u{7F}", "x", "alpine:3",
    ]

    /// Raw bytes that are not valid UTF-8 (lone continuation bytes, truncated sequences, surrogates).
    static let invalidBytes: [[UInt8]] = [[0xFF], [0x80], [0xC3], [0xE2, 0x82], [0xED, 0xA0, 0x80], [0xC2]]

    static func lineCount(_ bytes: [UInt8]) -> Int {
        let newlines = bytes.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
        return newlines + (bytes.last.map { $0 == 0x0A ? 0 : 1 } ?? 0)
    }

    /// Real Dockerfiles to mutate: the conformance ones when present (never required here).
    static func conformanceDockerfiles() -> [[UInt8]] {
        let env = ProcessInfo.processInfo.environment
        let root: URL
        if let dir = env["IMG_CONFORMANCE_DIR"], !dir.isEmpty {
            root = URL(filePath: dir, directoryHint: .isDirectory)
        } else {
            root = URL(filePath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().deletingLastPathComponent().appending(path: "shared/conformance")
        }
        let parser = root.appending(path: "dockerfile-parser")
        guard let enumerator = FileManager.default.enumerator(at: parser, includingPropertiesForKeys: nil) else {
            return []
        }
        var files: [(String, [UInt8])] = []
        for case let url as URL in enumerator where url.lastPathComponent.hasPrefix("Dockerfile") {
            if let data = try? Data(contentsOf: url) { files.append((url.path, [UInt8](data))) }
        }
        return files.sorted { $0.0 < $1.0 }.map(\.1)
    }

    static func randomDockerfile(_ rng: inout SplitMix64) -> [UInt8] {
        var bytes: [UInt8] = []
        for _ in 0..<rng.below(60) {
            if rng.chance(3) {
                bytes += rng.pick(invalidBytes)
            } else {
                bytes += Array(rng.pick(fragments).utf8)
            }
        }
        return bytes
    }

    static func mutate(_ input: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var bytes = input
        for _ in 0..<1 + rng.below(6) {
            let position = rng.below(bytes.count + 1)
            switch rng.below(7) {
            case 0:  // insert a fragment
                bytes.insert(contentsOf: Array(rng.pick(fragments).utf8), at: position)
            case 1:  // delete a run of bytes
                let end = min(bytes.count, position + rng.below(12))
                if position < end { bytes.removeSubrange(position..<end) }
            case 2:  // replace one byte with anything
                if position < bytes.count { bytes[position] = UInt8(truncatingIfNeeded: rng.next()) }
            case 3:  // duplicate a range somewhere else
                let end = min(bytes.count, position + rng.below(40))
                let copy = Array(bytes[position..<end])
                bytes.insert(contentsOf: copy, at: rng.below(bytes.count + 1))
            case 4:  // truncate
                bytes.removeSubrange(position..<bytes.count)
            case 5:  // invalid UTF-8
                bytes.insert(contentsOf: rng.pick(invalidBytes), at: position)
            default:  // swap two lines' worth of text
                let other = rng.below(bytes.count + 1)
                let (low, high) = (min(position, other), max(position, other))
                if low < high { bytes[low..<high].reverse() }
            }
        }
        return bytes
    }

    /// What must hold for any input. Returns whether it parsed.
    @discardableResult
    static func check(_ bytes: [UInt8], _ label: String) -> Bool {
        let lines = lineCount(bytes)
        let first: Result<ParsedDockerfile, DockerfileError>
        do {
            first = .success(try DockerfileParser.parse(bytes))
        } catch {
            first = .failure(error)
        }
        switch first {
        case .failure(let error):
            #expect(error.code == "parse", "\(label)")
            #expect(error.file == "Dockerfile", "\(label)")
            #expect(!error.message.isEmpty && !error.message.contains("\n"), "\(label): \(error)")
            if let line = error.line { #expect(line >= 1 && line <= lines, "\(label): \(error)") }
            return false
        case .success(let parsed):
            #expect(!parsed.nodes.isEmpty, "\(label)")
            var previousEnd = 0
            for node in parsed.nodes {
                let ordered = node.startLine > previousEnd && node.startLine <= node.endLine && node.endLine <= lines
                #expect(ordered, "\(label): \(node.original) \(node.startLine)...\(node.endLine) of \(lines)")
                previousEnd = node.endLine
                #expect(!node.keyword.isEmpty, "\(label)")
                if let trigger = node.trigger {
                    #expect(trigger.startLine == node.startLine && trigger.endLine == node.endLine, "\(label)")
                    #expect(trigger.heredocs == node.heredocs, "\(label)")
                }
                if !node.heredocs.isEmpty {
                    #expect(["run", "copy", "add", "onbuild"].contains(node.keyword), "\(label)")
                    #expect(!node.isJSON, "\(label)")
                }
            }
            #expect(parsed.endLine == parsed.nodes.last?.endLine, "\(label)")
            #expect(parsed.lineCount == lines, "\(label)")
            let dump = parsed.dump()
            #expect(dump.split(separator: "\n", omittingEmptySubsequences: false).count == parsed.nodes.count, "\(label)")
            // Parsing is a pure function of the bytes.
            #expect((try? DockerfileParser.parse(bytes)) == parsed, "\(label)")
            return true
        }
    }

    @Test("random token soups parse or fail cleanly")
    func randomInputs() {
        var rng = SplitMix64(state: 0x1DF0_5EED)
        var parsed = 0
        for round in 0..<3000 where Self.check(Self.randomDockerfile(&rng), "random #\(round)") { parsed += 1 }
        // The generator must exercise both outcomes to be worth anything.
        #expect(parsed > 100 && parsed < 2950, "\(parsed) of 3000 parsed")
    }

    @Test("mutated built-in seeds parse or fail cleanly")
    func mutatedSeeds() throws {
        var rng = SplitMix64(state: 42)
        let seeds = Self.seeds.map { Array($0.utf8) }
        for seed in seeds { Self.check(seed, "seed") }
        var parsed = 0
        for round in 0..<3000 where Self.check(Self.mutate(rng.pick(seeds), &rng), "mutated seed #\(round)") {
            parsed += 1
        }
        #expect(parsed > 100 && parsed < 2950, "\(parsed) of 3000 parsed")
        // The seeds themselves are valid except the one with nested JSON.
        #expect(seeds.filter { (try? DockerfileParser.parse($0)) == nil }.count == 1)
    }

    @Test("mutated conformance Dockerfiles parse or fail cleanly")
    func mutatedConformanceFiles() {
        let files = Self.conformanceDockerfiles()
        guard !files.isEmpty else {
            print("conformance Dockerfiles not found; fuzzing built-in seeds only")
            return
        }
        var rng = SplitMix64(state: 7)
        for file in files { Self.check(file, "conformance file") }
        for round in 0..<2000 {
            Self.check(Self.mutate(rng.pick(files), &rng), "mutated conformance #\(round)")
        }
    }

    @Test("pathological inputs finish")
    func pathologicalInputs() {
        let cases: [[UInt8]] = [
            Array(repeating: 0x0A, count: 100_000),
            Array(("RUN a" + String(repeating: " \\\n", count: 50_000)).utf8),
            Array(("RUN " + String(repeating: "<<A ", count: 10_000) + "\n" + String(repeating: "A\n", count: 10_000)).utf8),
            Array(("RUN <<A\n" + String(repeating: "x\n", count: 100_000)).utf8),
            Array(("CMD " + String(repeating: "[", count: 30_000) + String(repeating: "]", count: 30_000)).utf8),
            Array(("CMD [\"a\", " + String(repeating: "[", count: 12_000) + String(repeating: "]", count: 12_000) + "]").utf8),
            Array((String(repeating: "ONBUILD ", count: 8000) + "RUN x").utf8),
            Array(("ENV " + String(repeating: "a=\"b\" ", count: 10_000)).utf8),
            Array(repeating: 0x5C, count: 65_000),
            Array(repeating: 0xFF, count: 65_000),
            Array((String(repeating: "# escape=`\n", count: 3)).utf8),
        ]
        for (index, input) in cases.enumerated() { Self.check(input, "pathological #\(index)") }
        // 12,000 nested arrays are past Go's 10,000 limit: not JSON, so the shell form.
        let deep = try? DockerfileParser.parse(cases[5])
        #expect(deep?.nodes.first?.isJSON == false)
    }
}

/// Inputs built to exhaust a resource (integer range, stack, time, memory): each must plan or fail with
/// its own `Dockerfile:LINE` error, never trap, overflow the stack or run away.
@Suite("Dockerfile resource bombs")
struct ResourceBombTests {
    static func planError(_ text: String) -> DockerfileError? {
        do {
            _ = try BuildPlanner.plan(text)
            return nil
        } catch {
            return error
        }
    }

    @Test(arguments: ["interval", "timeout", "start-period", "start-interval"])
    func hugeDurations(flag: String) {
        let error = Self.planError("FROM scratch\nHEALTHCHECK --\(flag)=9999999999s CMD true\n")
        #expect(error?.description
            == "Dockerfile:2: duration '9999999999s' for HEALTHCHECK --\(flag) is out of range (at most 2562047h47m16.854775807s)")
        // Just below Go's bound still fits; a 400-digit number is out of range, not a trap on infinity.
        #expect(Self.planError("FROM scratch\nHEALTHCHECK --\(flag)=2562047h CMD true\n") == nil)
        let digits = String(repeating: "9", count: 400)
        #expect(Self.planError("FROM scratch\nHEALTHCHECK --\(flag)=\(digits)h CMD true\n")?.message.contains("out of range") == true)
    }

    static func nested(_ depth: Int) -> String {
        String(repeating: "${a:-", count: depth) + "x" + String(repeating: "}", count: depth)
    }

    @Test func deepNesting() throws {
        // 7,000 levels (a 42 KB line) overflowed the stack before the cap.
        let error = Self.planError("FROM scratch\nENV b=\(Self.nested(7000))\n")
        #expect(error?.description == "Dockerfile:2: variable substitutions nested more than 64 levels deep")
        let plan = try BuildPlanner.plan("FROM scratch\nENV b=\(Self.nested(64))\n")
        #expect(plan.target.environment.last == KeyValue("b", "x"))
    }

    @Test(arguments: ["ENV", "LABEL"])
    func hundredThousandInstructions(keyword: String) throws {
        var text = "FROM scratch\n"
        for i in 0..<100_000 { text += "\(keyword) V\(i)=$V\(max(i - 1, 0))\n" }
        let plan = try BuildPlanner.plan(text)
        #expect(plan.target.instructions.count == 100_000)
        if keyword == "ENV" { #expect(plan.target.environment.count == 100_000) }
    }

    @Test func tenMegabyteLines() throws {
        // One physical line of 10 MB is past BuildKit's line limit...
        let long = String(repeating: "x", count: 10_000_000)
        #expect(Self.planError("FROM scratch\nRUN echo \(long)\n")?.description
            == "Dockerfile:2: dockerfile line greater than max allowed size of 65535")
        // ...but continuations join 200 lines of 50 KB into one 10 MB instruction: RUN keeps it as it is,
        // expanding it is past the 1 MiB word cap.
        let chunk = String(repeating: "x", count: 50_000)
        let joined = Array(repeating: chunk, count: 200).joined(separator: "\\\n")
        let plan = try BuildPlanner.plan("FROM scratch\nRUN echo \(joined)\n")
        #expect(plan.target.instructions.count == 1)
        #expect(Self.planError("FROM scratch\nLABEL a=\(joined)\n")?.description
            == "Dockerfile:2: expanded word is longer than 1 MiB (1048576 characters)")
    }

    @Test func expansionBombs() {
        var doubling = "FROM scratch\nARG A=xxxxxxxxxxxxxxxx\n"
        for _ in 0..<30 { doubling += "ARG A=$A$A\n" }
        // 16 bytes doubled 17 times (line 19) is the first value past 1 MiB.
        #expect(Self.planError(doubling)?.description
            == "Dockerfile:19: expanded word is longer than 1 MiB (1048576 characters)")
        // Global ARGs share the cap.
        #expect(Self.planError("ARG A=" + String(repeating: "x", count: 1024) + "\n"
            + String(repeating: "ARG A=$A$A\n", count: 20) + "FROM scratch\n")?.description
            == "Dockerfile:12: expanded word is longer than 1 MiB (1048576 characters)")
        // A replacement multiplies two lengths; it is stopped while it grows.
        let square = "FROM scratch\nARG A=" + String(repeating: "x", count: 4096) + "\nARG B=${A//?/$A}\n"
        #expect(Self.planError(square)?.description
            == "Dockerfile:3: expanded word is longer than 1 MiB (1048576 characters)")
    }

    @Test func thousandHeredocs() throws {
        var text = "FROM scratch\n"
        for i in 0..<1000 { text += "COPY <<EOF\(i) /f\(i)\ncontent \(i)\nEOF\(i)\n" }
        let plan = try BuildPlanner.plan(text)
        #expect(plan.target.instructions.count == 1000)
        // All on one line: a thousand bodies follow one instruction.
        let one = "FROM scratch\nRUN " + (0..<1000).map { "<<E\($0)" }.joined(separator: " ") + "\n"
            + (0..<1000).map { "x\nE\($0)\n" }.joined()
        let parsed = try DockerfileParser.parse(one)
        #expect(parsed.nodes.last?.heredocs.count == 1000)
    }
}
