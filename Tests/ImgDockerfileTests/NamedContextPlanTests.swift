import Testing
import ImgDockerfile

/// `--build-context` in the planner: the name, as a stage or an image in any spelling, becomes a stage
/// after the file's own, and the stage it replaces is not built.
@Suite struct NamedContextPlanTests {
    private func plan(_ text: String, target: String? = nil, _ contexts: [String: NamedContext]) throws -> BuildPlan {
        try BuildPlanner.plan(text, options: BuildOptions(target: target, namedContexts: contexts))
    }

    @Test func keysAreFamiliarNamesWithoutLatest() {
        #expect(NamedContext.key("alpine") == "alpine")
        #expect(NamedContext.key("alpine:latest") == "alpine")
        #expect(NamedContext.key("docker.io/library/alpine:latest") == "alpine")
        #expect(NamedContext.key("docker.io/foo/bar") == "foo/bar")
        #expect(NamedContext.key("alpine:3.19") == "alpine:3.19")
        #expect(NamedContext.key("127.0.0.1:5000/x:latest") == "127.0.0.1:5000/x")
    }

    @Test func imageAndStageReferencesGoToTheContextStages() throws {
        let p = try plan("""
            FROM scratch AS tools
            COPY missing /x
            FROM docker.io/library/alpine:latest
            COPY --from=tools /a /a
            RUN --mount=from=src,target=/src true
            """, ["alpine": .image("other:1"), "tools": .directory, "src": .directory, "unused": .directory])
        // Sorted names after the file's two stages: alpine 2, src 3, tools 4, unused 5.
        #expect(p.allStages.count == 6)
        #expect(p.allStages[2].namedContext == "alpine" && p.allStages[2].base == .image("other:1"))
        #expect(p.allStages[4].namedContext == "tools" && p.allStages[4].base == .scratch)
        #expect(p.allStages[4].instructions.map(\.keyword) == [.copy], "a directory is its files copied onto scratch")
        #expect(p.allStages[1].base == .stage(2))
        #expect(Set(p.allStages[1].dependencies.map(\.stage)) == [2, 3, 4])
        #expect(p.allStages[4].startLine == 4, "it points at the line that first names it")
        #expect(!p.allStages[0].isReachable, "the replaced stage is not built")
        #expect(!p.allStages[5].isReachable)
        #expect(p.stages.map(\.index).sorted() == [1, 2, 3, 4])
    }

    @Test func aReplacedTargetIsTheContext() throws {
        let p = try plan("FROM scratch AS out\nCOPY missing /x\nFROM scratch\n", target: "out", ["out": .image("x:1")])
        #expect(p.target.namedContext == "out" && p.target.base == .image("x:1"))
        #expect(p.stages.map(\.index) == [2])
    }
}
