import ImgDockerfile
import Testing

/// Parser behaviour the conformance data does not pin down: error texts and locations, line endings,
/// BOM, the backtick escape, flags, heredocs (also under ONBUILD), line ranges, directives, rendering.
@Suite("Dockerfile parser")
struct ParserTests {
    private func parse(_ text: String, file: String = "Dockerfile") throws -> ParsedDockerfile {
        try DockerfileParser.parse(text, file: file)
    }

    private func failure(_ text: String, file: String = "Dockerfile") -> DockerfileError? {
        do {
            _ = try DockerfileParser.parse(text, file: file)
            return nil
        } catch {
            return error
        }
    }

    // MARK: errors

    @Test func errorsNameFileAndLine() throws {
        let error = try #require(failure("FROM alpine\n\nENV PATH\n", file: "build/Containerfile"))
        #expect(error.code == "parse")
        #expect(error.file == "build/Containerfile")
        #expect(error.line == 3)
        #expect(error.description == "build/Containerfile:3: ENV requires a name and a value (ENV name=value)")
    }

    @Test func nestedJSONIsAnErrorAtItsFirstLine() throws {
        let error = try #require(failure("FROM a\nCMD [ \"echo\", \\\n  [ \"nested\" ] ]\n"))
        #expect(error.line == 2)
        #expect(error.message.contains("exec form arguments must be strings"))
        #expect(error.description.hasPrefix("Dockerfile:2: CMD:"))
    }

    @Test func newFormWithoutEqualsIsAnError() throws {
        let error = try #require(failure("LABEL a=b c\n"))
        #expect(error.description == #"Dockerfile:1: LABEL arguments must be name=value pairs, but "c" has no ="#)
    }

    @Test func emptyAndCommentOnlyFilesHaveNoInstructions() throws {
        for text in ["", "\n\n", "# just a comment\n   # and another\n", "\u{FEFF}", "\\\n \\\n"] {
            let error = try #require(failure(text), "\(text.debugDescription)")
            #expect(error.description == "Dockerfile: file with no instructions")
        }
    }

    @Test func longLineIsReportedAtItsLine() throws {
        let long = String(repeating: "x", count: 65536)
        let error = try #require(failure("FROM a\nRUN echo \\\n" + long + "\n"))
        #expect(error.line == 3)
        #expect(error.message == "dockerfile line greater than max allowed size of 65535")
        // One byte less fits, with or without a CR before the newline.
        #expect(try parse("FROM a\nRUN " + String(repeating: "x", count: 65531) + "\n").nodes.count == 2)
        #expect(failure("FROM a\nRUN " + String(repeating: "x", count: 65531) + "\r\n") != nil)
    }

    @Test func unterminatedHeredocPointsAtTheInstruction() throws {
        let error = try #require(failure("FROM a\nRUN <<EOF\necho hi\n"))
        #expect(error.line == 2)
        #expect(error.message.contains("unterminated heredoc"))
        #expect(error.message.contains(#""EOF""#))
    }

    @Test func directiveErrors() throws {
        let repeated = try #require(failure("# escape=`\n# ESCAPE=\\\nFROM a\n"))
        #expect(repeated.line == 2)
        #expect(repeated.message == "only one escape parser directive can be used")
        let invalid = try #require(failure("# escape=x\nFROM a\n"))
        #expect(invalid.line == 1)
        #expect(invalid.message.contains("invalid escape token"))
    }

    // MARK: line handling

    @Test func crlfLineEndings() throws {
        let parsed = try parse("FROM a\r\nRUN echo \\\r\n  hi\r\n\r\nCOPY <<EOF /x\r\nline\r\nEOF\r\n")
        #expect(parsed.dump() == "(from \"a\")\n(run \"echo   hi\")\n(copy \"<<EOF\" \"/x\")")
        #expect(parsed.nodes[1].startLine == 2 && parsed.nodes[1].endLine == 3)
        // Heredoc bodies keep their line endings as written, like upstream.
        #expect(parsed.nodes[2].heredocs.first?.content == "line\r\n")
        #expect(parsed.nodes[2].endLine == 7)
    }

    @Test func byteOrderMarkIsDropped() throws {
        let parsed = try parse("\u{FEFF}# escape=`\nFROM a\nRUN echo `\n  hi\n")
        #expect(parsed.directives.escape == "`")
        #expect(parsed.nodes.first?.keywordAsWritten == "FROM")
        #expect(parsed.nodes[1].arguments == ["echo   hi"])
    }

    @Test func backtickEscapeKeepsBackslashesAsText() throws {
        let parsed = try parse("# escape=`\nFROM mcr.microsoft.com/windows\nCOPY C:\\src\\ C:\\dst\\\nRUN dir `\n  C:\\dst\nARG a=\"x`\" y\" b\n")
        #expect(parsed.nodes[1].arguments == ["C:\\src\\", "C:\\dst\\"])
        #expect(parsed.nodes[2].arguments == ["dir   C:\\dst"])
        #expect(parsed.nodes[3].arguments == ["a=\"x`\" y\"", "b"])
        #expect(parsed.directives.lines["escape"] == 1)
    }

    @Test func continuationRules() throws {
        let parsed = try parse("RUN a \\\t \nb\nRUN c\\\\\nRUN d \\\n\\\n  \\\ne\nRUN f \\\n# comment\n\n g \\")
        #expect(parsed.nodes.map(\.arguments) == [["a b"], ["c\\\\"], ["d   e"], ["f  g"]])
        #expect(parsed.nodes.map(\.startLine) == [1, 3, 4, 8])
        #expect(parsed.nodes.map(\.endLine) == [2, 3, 7, 11])
        #expect(parsed.warnings.count == 1)
        #expect(parsed.warnings.first?.line == 11)
        #expect(parsed.warnings.first?.rule == "NoEmptyContinuation")
    }

    @Test func originalIsTheJoinedLine() throws {
        let parsed = try parse("  run  --mount=type=cache,target=/c \\\n    make   all  \n")
        let node = try #require(parsed.nodes.first)
        #expect(node.original == "run  --mount=type=cache,target=/c     make   all  ")
        #expect(node.keyword == "run")
        #expect(node.keywordAsWritten == "run")
        #expect(node.flags == ["--mount=type=cache,target=/c"])
        #expect(node.arguments == ["make   all"])
    }

    @Test func keywordCasingIsKept() throws {
        let parsed = try parse("From a\nrUn b\nFOO bar baz\n")
        #expect(parsed.nodes.map(\.keyword) == ["from", "run", "foo"])
        #expect(parsed.nodes.map(\.keywordAsWritten) == ["From", "rUn", "FOO"])
        #expect(parsed.dump() == "(from \"a\")\n(run \"b\")\n(foo \"\")")
    }

    // MARK: flags

    @Test func flagsAreStoredAfterQuoteRemoval() throws {
        let node = try #require(try parse(#"COPY --chown="app user" --from='build stage' --a=b\ c --e="" -- --f g"#).nodes.first)
        #expect(node.flags == ["--chown=app user", "--from=build stage", "--a=b c", "--e="])
        #expect(node.arguments == ["--f", "g"])
        #expect(node.dump() == #"(copy ["--chown=app user" "--from=build stage" "--a=b c" "--e="] "--f" "g")"#)
    }

    @Test func flagsStopAtFirstNonFlag() throws {
        let node = try #require(try parse("RUN --network=none echo --not-a-flag").nodes.first)
        #expect(node.flags == ["--network=none"])
        #expect(node.arguments == ["echo --not-a-flag"])
        let bare = try #require(try parse("HEALTHCHECK --interval=5s").nodes.first)
        #expect(bare.flags == ["--interval=5s"])
        #expect(bare.arguments.isEmpty)
    }

    // MARK: heredocs

    @Test func heredocLineRanges() throws {
        let parsed = try parse("FROM a\nRUN <<A 3<<-B cat\na\nA\n\tb\n\tB\nCMD x\n")
        let run = parsed.nodes[1]
        #expect(run.startLine == 2 && run.endLine == 6)
        #expect(run.heredocs == [
            Heredoc(name: "A", content: "a\n", expand: true, chomp: false, fileDescriptor: 0),
            Heredoc(name: "B", content: "\tb\n", expand: true, chomp: true, fileDescriptor: 3),
        ])
        #expect(run.heredocs[1].chompedContent == "b\n")
        #expect(parsed.nodes[2].startLine == 7 && parsed.nodes[2].endLine == 7)
        #expect(parsed.endLine == 7)
        #expect(parsed.lineCount == 7)
        #expect(try parse("FROM a\n\n# trailing\n\n").lineCount == 4)
    }

    @Test func heredocUnderOnbuild() throws {
        let parsed = try parse("FROM a\nONBUILD RUN <<'EOF' bash\necho $HOME\nEOF\nONBUILD COPY --from=b <<X /x\nhi\nX\n")
        let onbuild = parsed.nodes[1]
        let expected = [Heredoc(name: "EOF", content: "echo $HOME\n", expand: false, chomp: false, fileDescriptor: 0)]
        #expect(onbuild.heredocs == expected)
        #expect(onbuild.trigger?.heredocs == expected)
        #expect(onbuild.startLine == 2 && onbuild.endLine == 4)
        #expect(onbuild.trigger?.startLine == 2 && onbuild.trigger?.endLine == 4)
        #expect(onbuild.trigger?.original == "RUN <<'EOF' bash")
        #expect(parsed.nodes[2].trigger?.heredocs.first?.content == "hi\n")
        #expect(parsed.dump() == """
            (from "a")
            (onbuild (run "<<'EOF' bash"))
            (onbuild (copy ["--from=b"] "<<X" "/x"))
            """)
    }

    @Test func heredocsOnlyForRunCopyAdd() throws {
        let parsed = try parse("FROM a\nWORKDIR <<X\nX\nONBUILD ONBUILD RUN <<Y\nY\nRUN [\"<<Z\"]\nZ\n")
        #expect(parsed.nodes.map(\.keyword) == ["from", "workdir", "x", "onbuild", "y", "run", "z"])
        #expect(parsed.nodes.allSatisfy { $0.heredocs.isEmpty })
    }

    @Test func heredocTerminatorRules() throws {
        // `<<-` ignores leading tabs on the terminator only; spaces do not count.
        let parsed = try parse("RUN <<-A\n  A\n\t\tA\nRUN <<B\n\tB\nB\n")
        #expect(parsed.nodes[0].heredocs.first?.content == "  A\n")
        #expect(parsed.nodes[1].heredocs.first?.content == "\tB\n")
        #expect(parsed.nodes[1].startLine == 4 && parsed.nodes[1].endLine == 6)
    }

    @Test func heredocAtEndOfFileWithoutNewline() throws {
        let parsed = try parse("RUN <<EOF\necho\nEOF")
        #expect(parsed.nodes.first?.heredocs.first?.content == "echo\n")
    }

    @Test func heredocWordErrorsFailTheParse() throws {
        #expect(throws: DockerfileError.self) { try Heredoc.parse(word: "<<'EOF") }
        #expect(try Heredoc.parse(word: "<<EOF")?.expand == true)
        #expect(try Heredoc.parse(word: "12<<\"E\"")?.fileDescriptor == 12)
        #expect(try Heredoc.heredocs(inLine: "RUN echo \"<<EOF").isEmpty)
    }

    // MARK: argument rules

    @Test func onbuildRendering() throws {
        let parsed = try parse("ONBUILD\nONBUILD --x RUN [\"a\"]\nonbuild env A=1 B=\"2 3\"\n")
        #expect(parsed.dump() == """
            (onbuild)
            (onbuild ["--x"] (run "a"))
            (onbuild (env "A" "1" "=" "B" "\\"2 3\\"" "="))
            """)
        #expect(parsed.nodes[1].trigger?.isJSON == true)
    }

    @Test func deeplyNestedOnbuildIsRejected() throws {
        let text = String(repeating: "ONBUILD ", count: 5000) + "RUN x"
        let error = try #require(failure(text))
        #expect(error.line == 1)
    }

    @Test func healthcheckForms() throws {
        let parsed = try parse("HEALTHCHECK NONE\nHEALTHCHECK --retries=2 CMD [\"a\", \"b\"]\nHEALTHCHECK CMD curl -f x || exit 1\n")
        #expect(parsed.nodes.map(\.arguments) == [["NONE"], ["CMD", "a", "b"], ["CMD", "curl -f x || exit 1"]])
        #expect(parsed.nodes.map(\.isJSON) == [false, true, false])
    }

    @Test func execFormFallsBackToShellFormWhenNotJSON() throws {
        let parsed = try parse("CMD [\"a\" \"b\"]\nENTRYPOINT [\"a\"] x\nVOLUME [\"/a\", \"/b\"]\nVOLUME /c /d\nSHELL [\"\\ud83d\\ude00\", \"\\ud800x\"]\n")
        #expect(parsed.nodes[0].arguments == ["[\"a\" \"b\"]"])
        #expect(parsed.nodes[1].arguments == ["[\"a\"] x"])
        #expect(parsed.nodes[2].arguments == ["/a", "/b"] && parsed.nodes[2].isJSON)
        #expect(parsed.nodes[3].arguments == ["/c", "/d"] && !parsed.nodes[3].isJSON)
        #expect(parsed.nodes[4].arguments == ["😀", "\u{FFFD}x"])
    }

    @Test func nameValueForms() throws {
        let parsed = try parse("ENV A 1 2  3\nENV B=1 C=\"x y\" D=e\\ f\nLABEL \"k\"=v\nARG X Y=\"1 2\" 'Z'\n")
        #expect(parsed.nodes.map(\.arguments) == [
            ["A", "1 2  3", ""],
            ["B", "1", "=", "C", "\"x y\"", "=", "D", "e\\ f", "="],
            ["\"k\"", "v", "="],
            ["X", "Y=\"1 2\"", "'Z'"],
        ])
        #expect(DockerfileParser.splitWords("a\\ b 'c\\' d", escape: "\\") == ["a\\ b", "'c\\'", "d"])
        #expect(DockerfileParser.splitWords("a` b c`", escape: "`") == ["a` b", "c"])
    }

    @Test func emptyArgumentsRenderBare() throws {
        let parsed = try parse("CMD\nRUN []\nENV\nARG\nUSER\nEXPOSE\n")
        #expect(parsed.dump() == "(cmd)\n(run)\n(env)\n(arg)\n(user)\n(expose)")
        #expect(parsed.nodes[1].isJSON)
    }

    // MARK: directives and comments

    @Test func directivesAreRecorded() throws {
        let parsed = try parse("# syntax=docker/dockerfile:1 // opts\n#check = skip=all;error=true\n# escape = `\n\nFROM a\n")
        #expect(parsed.directives.syntax == "docker/dockerfile:1 // opts")
        #expect(parsed.directives.check == "skip=all;error=true")
        #expect(parsed.directives.escape == "`")
        #expect(parsed.directives.lines == ["syntax": 1, "check": 2, "escape": 3])
        #expect(parsed.startLine == 5)
    }

    @Test func directivesAfterShebangOrInstructionsAreComments() throws {
        let shebang = try parse("#!/usr/bin/env dockerfile\n# syntax=img/x\n# escape=`\nFROM a\nRUN b \\\nc\n")
        #expect(shebang.directives.syntax == "img/x")
        #expect(shebang.directives.lines["syntax"] == 2)
        #expect(shebang.directives.escape == "\\")
        #expect(shebang.nodes[1].arguments == ["b c"])
        let late = try parse("FROM a\n# escape=`\nRUN b `\n")
        #expect(late.directives.escape == "\\")
        #expect(late.nodes[1].arguments == ["b `"])
    }

    @Test func commentsBeforeAnInstructionAreKept() throws {
        let parsed = try parse("# syntax=x\n# build stage\n  # second\nFROM a AS b\n#\n# only this\n\nRUN c \\\n# not kept\n d\n")
        #expect(parsed.nodes[0].comments == ["syntax=x", "build stage", "second"])
        #expect(parsed.nodes[1].comments == ["only this"])
    }

    // MARK: rendering

    @Test func goQuoting() {
        #expect(GoQuote.quote("a\"b\\c") == #""a\"b\\c""#)
        #expect(GoQuote.quote("\u{07}\u{08}\u{0C}\n\r\t\u{0B}") == #""\a\b\f\n\r\t\v""#)
        #expect(GoQuote.quote("\u{0}\u{7F}\u{1B}") == #""\x00\x7f\x1b""#)
        #expect(GoQuote.quote("\u{A0}\u{85}\u{200B}") == #""\u00a0\u0085\u200b""#)
        #expect(GoQuote.quote("\u{E0001}") == #""\U000e0001""#)
        #expect(GoQuote.quote("☃ é 😀 ’") == "\"☃ é 😀 ’\"")
        #expect(GoQuote.quote(utf8: [0x61, 0xFF, 0xC3, 0x28, 0xED, 0xA0, 0x80]) == #""a\xff\xc3(\xed\xa0\x80""#)
    }
}
