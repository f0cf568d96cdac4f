/// Turns typed instructions into stages: ARG scoping, variable expansion, stage references, the
/// dependency graph and `--target` selection.
package enum BuildPlanner {
    /// Plans a parsed Dockerfile. Errors (bad instruction, unknown target, forward reference, cycle,
    /// expansion failure in a stage that is built) carry `file` and the line.
    package static func plan(_ parsed: ParsedDockerfile, file: String = "Dockerfile",
                             options: BuildOptions = BuildOptions()) throws(DockerfileError) -> BuildPlan {
        let instructions = try Instruction.all(in: parsed, file: file)
        var state = PlanState(file: file, options: options, lexer: ShellLexer(escape: parsed.directives.escape))
        return try state.plan(instructions)
    }

    /// Parses and plans Dockerfile text.
    package static func plan(_ text: String, file: String = "Dockerfile",
                             options: BuildOptions = BuildOptions()) throws(DockerfileError) -> BuildPlan {
        try plan(try DockerfileParser.parse(text, file: file), file: file, options: options)
    }
}

/// The working state of one planning run.
struct PlanState {
    let file: String
    let options: BuildOptions
    let lexer: ShellLexer
    var undefined: [UndefinedVariable] = []
    /// Undefined names already noted on `undefinedLine`, so each is noted once per line. Instructions are
    /// planned in line order, so only the current line's names need keeping.
    var undefinedSeen: Set<String> = []
    var undefinedLine = 0
    /// How many more undefined names get a "did you mean" (see StageBuilder.noteVariables).
    var suggestionsLeft = 256
    /// FROM lines whose image is invalid when only ARG defaults are used (line, image as written).
    var invalidDefaultBases: [(line: Int, image: String)] = []

    init(file: String, options: BuildOptions, lexer: ShellLexer) {
        self.file = file
        self.options = options
        self.lexer = lexer
    }

    func error(_ message: String, line: Int) -> DockerfileError {
        DockerfileError("stage", message, file: file, line: line)
    }

    mutating func plan(_ instructions: [Instruction]) throws(DockerfileError) -> BuildPlan {
        // Split into the global ARG preamble and one group per FROM.
        // Groups are slices of `instructions`: they share its storage instead of copying every instruction.
        var globalCount = 0
        var groupStarts: [Int] = []
        for (position, instruction) in instructions.enumerated() {
            if instruction.keyword == .from {
                groupStarts.append(position)
            } else if groupStarts.isEmpty {
                guard instruction.keyword == .arg else {
                    throw error("no build stage in current context: \(instruction.keyword.name) must come after FROM",
                                line: instruction.startLine)
                }
                globalCount += 1
            }
        }
        let globals = instructions[..<globalCount]
        var groups: [ArraySlice<Instruction>] = []
        groups.reserveCapacity(groupStarts.count)
        for (n, start) in groupStarts.enumerated() {
            groups.append(instructions[start..<(n + 1 < groupStarts.count ? groupStarts[n + 1] : instructions.count)])
        }
        guard !groups.isEmpty else {
            throw DockerfileError("stage", "the Dockerfile contains no stages to build (no FROM)", file: file)
        }

        // Stage names are not expanded, so they are known before anything else.
        let names: [String?] = groups.map { group in
            if case .from(let from) = group.first?.command { return from.stageName?.lowercased() }
            return nil
        }
        var targetIndex = try selectTarget(names, groups: groups)
        let targetStageName = names[targetIndex] ?? "default"
        // `--build-context` names become stages after the file's own (indexes of those stay as written);
        // every reference to such a name, stage or image, goes to them instead.
        var contextStages: [Stage] = []
        var contextIndexes: [String: Int] = [:]
        for key in options.namedContexts.keys.sorted() {
            let index = groups.count + contextStages.count
            contextStages.append(try Stage.namedContext(key, options.namedContexts[key]!, index: index, line: 1, file: file))
            contextIndexes[key] = index
        }
        // A replaced stage is not built, even as the target: the context stands for it.
        if let name = names[targetIndex], let replacement = contextIndexes[NamedContext.key(name)] {
            targetIndex = replacement
        }
        let platformValues = PredefinedArgs.platformValues(options, targetStage: targetStageName)

        // Global scope: predefined platform ARGs, then the declared ones.
        var globalArgs: [ArgValue] = []
        var globalEnv = ShellEnvironment()
        for name in PredefinedArgs.platform { globalEnv[name] = platformValues[name] }
        // The same scope without --build-arg values, for InvalidDefaultArgInFrom.
        var defaultsEnv = globalEnv
        for instruction in globals {
            guard case .arg(let declarations) = instruction.command else { continue }
            var resolved: [ArgValue] = []
            for declaration in declarations {
                let fallback = try declaration.defaultValue.map { (raw) throws(DockerfileError) in
                    try expandWord(raw, env: globalEnv, line: instruction.startLine).value
                }
                resolved.append(ArgValue(name: declaration.name,
                                         value: options.buildArgs[declaration.name] ?? fallback))
                defaultsEnv[declaration.name] = declaration.defaultValue.flatMap {
                    try? lexer.expandWord($0, env: defaultsEnv).value
                }
            }
            for arg in resolved {
                globalArgs.removeAll { $0.name == arg.name }
                globalArgs.append(arg)
                globalEnv[arg.name] = arg.value
            }
        }

        let stageLines = groups.map { $0[$0.startIndex].startLine }
        var stages: [Stage] = []
        var stageErrors: [Int: DockerfileError] = [:]
        for (index, group) in groups.enumerated() {
            var builder = StageBuilder(index: index, group: group, names: names, stageLines: stageLines, state: self,
                                       globalArgs: globalArgs, globalEnv: globalEnv, defaultsEnv: defaultsEnv,
                                       platformValues: platformValues, contextStages: contextIndexes)
            try builder.resolveFrom()
            var parent: Stage?
            if case .stage(let j) = builder.stage.base, j < stages.count { parent = stages[j] }
            do {
                try builder.dispatch(parent: parent)
            } catch {
                // Expansion errors only matter for stages that get built; keep going to lint the rest.
                stageErrors[index] = error
            }
            self = builder.state
            stages.append(builder.stage)
        }

        for var context in contextStages {
            // Its steps point at the first line that names it.
            let first = stages.flatMap(\.dependencies).filter { $0.stage == context.index }.map(\.line).min()
            if let first {
                context.startLine = first
                context.endLine = first
                context.from.startLine = first
                context.from.endLine = first
                for position in context.instructions.indices {
                    context.instructions[position].startLine = first
                    context.instructions[position].endLine = first
                }
            }
            stages.append(context)
        }
        try checkCycles(stages)
        let reachable = reachableStages(from: targetIndex, in: stages)
        for index in reachable.sorted() {
            stages[index].isReachable = true
            if let failure = stageErrors[index] { throw failure }
        }

        // As in BuildKit, only ARGs of stages that get built (and global ones) consume a --build-arg.
        var consumed = Set(globalArgs.map(\.name))
        for stage in stages where stage.isReachable { consumed.formUnion(stage.args.map(\.name)) }
        let unused = options.buildArgs.keys.filter {
            !consumed.contains($0) && !PredefinedArgs.proxy.contains($0) && !PredefinedArgs.isFrontendArg($0)
                && !PredefinedArgs.platform.contains($0)
        }.sorted()
        return BuildPlan(
            stages: stages.filter(\.isReachable), target: stages[targetIndex], allStages: stages,
            globalArgs: globalArgs, instructions: instructions, unusedBuildArgs: unused,
            undefinedVariables: undefined.sorted { ($0.line, $0.name) < ($1.line, $1.name) },
            invalidDefaultBases: invalidDefaultBases.map { InvalidDefaultBase(line: $0.line, image: $0.image) })
    }

    private func selectTarget(_ names: [String?], groups: [ArraySlice<Instruction>]) throws(DockerfileError) -> Int {
        guard let target = options.target else { return names.count - 1 }
        if let index = names.firstIndex(of: target.lowercased()) { return index }
        let known = names.compactMap { $0 }
        var message = "target stage \"\(target)\" could not be found"
        if let close = Suggestion.closest(to: target.lowercased(), in: known) { message += " (did you mean \(close)?)" }
        message += known.isEmpty ? "; the Dockerfile has no named stages" : "; stages: " + known.joined(separator: ", ")
        throw DockerfileError("stage", message, file: file)
    }

    func expandWord(_ word: String, env: ShellEnvironment, line: Int) throws(DockerfileError) -> ShellExpansion {
        do {
            return try lexer.expandWord(word, env: env)
        } catch {
            throw error.located(file: file, line: line)
        }
    }

    func expandWords(_ line: String, env: ShellEnvironment, at lineNumber: Int) throws(DockerfileError)
        -> ShellExpansion
    {
        do {
            return try lexer.expandWords(line, env: env)
        } catch {
            throw error.located(file: file, line: lineNumber)
        }
    }

    /// Depth-first search for a reference cycle; reports the reference that closes it.
    private func checkCycles(_ stages: [Stage]) throws(DockerfileError) {
        enum Mark { case visiting, done }
        var marks: [Int: Mark] = [:]
        var path: [Int] = []
        func visit(_ index: Int) throws(DockerfileError) {
            marks[index] = .visiting
            path.append(index)
            for reference in stages[index].dependencies {
                switch marks[reference.stage] {
                case .visiting?:
                    let start = path.firstIndex(of: reference.stage) ?? 0
                    let cycle = (path[start...] + [reference.stage]).map { stages[$0].displayName }
                    throw error("circular dependency between stages: " + cycle.joined(separator: " -> "),
                                line: reference.line)
                case .done?: continue
                case nil: try visit(reference.stage)
                }
            }
            path.removeLast()
            marks[index] = .done
        }
        for index in stages.indices where marks[index] == nil { try visit(index) }
    }

    private func reachableStages(from target: Int, in stages: [Stage]) -> Set<Int> {
        var seen: Set<Int> = [target]
        var queue = [target]
        while let next = queue.popLast() {
            for reference in stages[next].dependencies where seen.insert(reference.stage).inserted {
                queue.append(reference.stage)
            }
        }
        return seen
    }
}
