import ImgDockerfile
import Testing

@Suite struct ShellTests {
    let env = ShellEnvironment([("A", "a b"), ("EMPTY", ""), ("PATHV", "/usr/local/bin/tool.tar.gz")])

    private func word(_ s: String, _ lexer: ShellLexer = ShellLexer()) throws(DockerfileError) -> String {
        try lexer.expandWord(s, env: env).value
    }

    private func failure(_ s: String, _ lexer: ShellLexer = ShellLexer()) -> DockerfileError? {
        do {
            _ = try lexer.expandWord(s, env: env)
            return nil
        } catch {
            return error
        }
    }

    @Test(arguments: [
        ("x`$A", "x$A"),
        ("`\"q`\"", "\"q\""),
        ("c:\\path\\file", "c:\\path\\file"),
        ("\"c:\\dir`$A\"", "c:\\dir$A"),
        ("\"``\"", "`"),
        ("tail`", "tail"),
        ("${A:-`}}", "a b"),
        ("${NOPE:-`}}", "}"),
    ])
    func backtickEscape(input: String, expected: String) throws {
        #expect(try word(input, ShellLexer(escape: "`")) == expected)
    }

    @Test func backtickWordsSplitOnlyUnescapedSpace() throws {
        let words = try ShellLexer(escape: "`").expandWords("a` b c\\ d", env: env).words
        #expect(words == ["a b", "c\\", "d"])
    }

    @Test func patternsUseTheLexersEscape() throws {
        let e = ShellEnvironment([("P", "a\\b*")])
        #expect(try ShellLexer().expandWord("${P%\\*}", env: e).value == "a\\b")
        #expect(try ShellLexer(escape: "`").expandWord("${P%\\*}", env: e).value == "a")
        #expect(try ShellLexer(escape: "`").expandWord("${P%`*}", env: e).value == "a\\b")
    }

    @Test func errorMessagesAreOneLineAndSpecific() {
        let cases: [(String, String)] = [
            ("${}", "bad substitution"),
            ("${.}", "unsupported modifier (.)"),
            ("${X:=w}", "unsupported modifier (:=)"),
            ("${X:YYY}", "unsupported modifier (:Y)"),
            ("${X:#}", "unsupported modifier (:#)"),
            ("${X", "missing '}'"),
            ("${X:-abc", "missing '}'"),
            ("${X/abc", "missing '/'"),
            ("'abc", "single-quote"),
            ("\"abc", "double-quote"),
            ("${NOPE?}", "NOPE: is not allowed to be unset"),
            ("${EMPTY:?}", "EMPTY: is not allowed to be empty"),
            ("${NOPE:?set it please}", "NOPE: set it please"),
        ]
        for (input, needle) in cases {
            let error = failure(input)
            #expect(error?.code == "expansion", "\(input)")
            #expect(error?.message.contains(needle) == true, "\(input): \(String(describing: error))")
            #expect(error?.message.contains("\n") == false)
        }
    }

    @Test func keepQuotesKeepsQuoteCharacters() throws {
        var lexer = ShellLexer()
        lexer.keepQuotes = true
        #expect(try word("'x $A'\"$A\"", lexer) == "'x $A'\"a b\"")
        #expect(try lexer.expandWords("'x y' \"$A\"z", env: env).words == ["'x y'", "\"a b\"z"])
    }

    @Test func skipUnsetLeavesUnsetReferencesAsWritten() throws {
        var lexer = ShellLexer()
        lexer.skipUnset = true
        #expect(try word("$NOPE/${NOPE}/$A", lexer) == "$NOPE/${NOPE}/a b")
        #expect(try word("${NOPE:-x}${NOPE+y}", lexer) == "${NOPE:-x}${NOPE+y}")
        #expect(try word("${NOPE#a*}${NOPE/a/b}", lexer) == "${NOPE#a*}${NOPE/a/b}")
        // A set-but-empty variable is set: it still expands.
        #expect(try word("[${EMPTY}]", lexer) == "[]")
        // Unset but required still reads as written rather than failing, as upstream.
        #expect(try word("${NOPE:?msg}", lexer) == "${NOPE:?msg}")
        let expansion = try lexer.expandWord("$NOPE$A", env: env)
        #expect(expansion.unmatched == ["NOPE"])
        #expect(expansion.matched == ["A"])
    }

    @Test func splittingKeepsQuotedPartsTogether() throws {
        let lexer = ShellLexer()
        #expect(try lexer.expandWords("$A \"$A\" '$A'", env: env).words == ["a", "b", "a b", "$A"])
        #expect(try lexer.expandWords("  ", env: env).words == [])
        #expect(try lexer.expandWords("x \"\"", env: env).words == ["x"])
        #expect(try lexer.expandWords("${NOPE:-\"p q\"} r", env: env).words == ["p", "q", "r"])
    }

    @Test(arguments: [
        ("${PATHV##*/}", "tool.tar.gz"),
        ("${PATHV#*/}", "usr/local/bin/tool.tar.gz"),
        ("${PATHV%.*}", "/usr/local/bin/tool.tar"),
        ("${PATHV%%.*}", "/usr/local/bin/tool"),
        ("${PATHV%/*}", "/usr/local/bin"),
        ("${PATHV/local/opt}", "/usr/opt/bin/tool.tar.gz"),
        ("${PATHV//\\//:}", ":usr:local:bin:tool.tar.gz"),
        ("${PATHV/#/x}", "/usr/local/bin/tool.tar.gz"),
        ("${PATHV/b?n/sbin}", "/usr/local/sbin/tool.tar.gz"),
        ("${PATHV/[a]/x}", "/usr/local/bin/tool.tar.gz"),
        ("${NOPE##*}", ""),
        ("${EMPTY//x/y}", ""),
    ])
    func patternOperators(input: String, expected: String) throws {
        #expect(try word(input) == expected)
    }

    @Test func replaceAllWithEmptyPatternInsertsBetweenScalars() throws {
        let e = ShellEnvironment([("V", "한b")])
        #expect(try ShellLexer().expandWord("${V//$E/-}", env: e).value == "-한-b-")
    }

    @Test func unicodeNamesAndValues() throws {
        let e = ShellEnvironment([("변수", "값"), ("X", "ünï")])
        #expect(try ShellLexer().expandWord("$변수-${X%ï}", env: e).value == "값-ün")
    }

    @Test func laterDefinitionWins() {
        var e = ShellEnvironment([("A", "1"), ("B", "2"), ("A", "3")])
        #expect(e["A"] == "3")
        #expect(e.names == ["A", "B"])
        e["A"] = nil
        #expect(e.names == ["B"])
    }

    @Test func longInputsFinish() throws {
        let long = String(repeating: "ab*", count: 3000)
        let e = ShellEnvironment([("L", long)])
        let lexer = ShellLexer()
        #expect(try lexer.expandWord("${L%%a*}", env: e).value == "")
        #expect(try lexer.expandWord("${L//\\*/}", env: e).value.count == 6000)
        #expect(try lexer.expandWord("${L##*b*a*b*a*b*a*x}", env: e).value == long)
        let many = String(repeating: "$L ", count: 50)
        #expect(try lexer.expandWords(many, env: e).words.count == 50)
    }
}
