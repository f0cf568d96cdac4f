/// Builds one `Stage`: resolves its FROM, then expands its instructions in the stage's ARG/ENV scope.
struct StageBuilder {
    let index: Int
    /// The FROM instruction, then the rest of the stage (a slice of the file's instructions).
    let group: ArraySlice<Instruction>
    private var fromInstruction: Instruction { group[group.startIndex] }
    let names: [String?]
    /// First line of every stage, for messages about other stages.
    let stageLines: [Int]
    var state: PlanState
    let globalArgs: [ArgValue]
    let globalEnv: ShellEnvironment
    let defaultsEnv: ShellEnvironment
    let platformValues: [String: String]
    /// `--build-context` keys and the index of the stage each became.
    let contextStages: [String: Int]
    var stage: Stage
    /// ARGs declared in this stage so far, in order.
    private var args: [ArgValue] = []
    private var declaredArgs: Set<String> = []
    /// ENV so far, in order (a parent stage's first).
    private var env: [KeyValue] = []
    /// Position of each ENV name in `env`.
    private var envIndex: [String: Int] = [:]

    init(index: Int, group: ArraySlice<Instruction>, names: [String?], stageLines: [Int], state: PlanState, globalArgs: [ArgValue],
         globalEnv: ShellEnvironment, defaultsEnv: ShellEnvironment, platformValues: [String: String],
         contextStages: [String: Int] = [:]) {
        self.index = index
        self.contextStages = contextStages
        self.group = group
        self.names = names
        self.stageLines = stageLines
        self.state = state
        self.globalArgs = globalArgs
        self.globalEnv = globalEnv
        self.defaultsEnv = defaultsEnv
        self.platformValues = platformValues
        var nameAsWritten: String?
        if case .from(let from) = group[group.startIndex].command { nameAsWritten = from.stageName }
        stage = Stage(
            index: index, name: nameAsWritten?.lowercased(), nameAsWritten: nameAsWritten, base: .scratch,
            platform: nil, from: group[group.startIndex], instructions: [], dependencies: [], externalImages: [], environment: [],
            args: [], proxyArgs: [], isReachable: false, startLine: group[group.startIndex].startLine,
            endLine: group.last?.endLine ?? group[group.startIndex].endLine)
    }

    private var file: String { state.file }

    // MARK: FROM

    /// Expands the FROM image and platform with the global scope and decides what the stage builds on.
    mutating func resolveFrom() throws(DockerfileError) {
        guard case .from(var from) = fromInstruction.command else { return }
        let line = fromInstruction.startLine
        let image = try state.expandWord(from.image, env: globalEnv, line: line)
        noteFromVariables(image, line: line, in: from.image)
        checkDefaultBase(from.image, used: image, line: line)
        from.image = image.value
        if let raw = from.platform {
            let platform = try state.expandWord(raw, env: globalEnv, line: line)
            noteFromVariables(platform, line: line, in: raw)
            from.platform = platform.value
            guard let parsed = BuildPlatform(parsing: platform.value) else {
                throw state.error("invalid platform \"\(platform.value)\" in FROM --platform", line: line)
            }
            stage.platform = parsed
        }
        stage.from.command = .from(from)

        let base = from.image.lowercased()
        guard !base.isEmpty else {
            throw state.error("base name (\(fromInstruction.node.arguments.first ?? "")) should not be blank", line: line)
        }
        // A named context replaces a stage or image of its name (BuildKit's order); stages are looked up
        // among earlier stages only; `FROM alpine AS alpine` is the image.
        if let context = contextStages[NamedContext.key(from.image)] {
            stage.base = .stage(context)
            stage.dependencies.append(StageReference(stage: context, line: line, kind: .from))
        } else if let earlier = names[..<index].lastIndex(of: base) {
            stage.base = .stage(earlier)
            stage.dependencies.append(StageReference(stage: earlier, line: line, kind: .from))
        } else if let later = names[(index + 1)...].firstIndex(of: base) {
            throw state.error(
                "FROM \(from.image) refers to stage \"\(base)\", which is defined later (line \(laterLine(later))); a stage can only build on an earlier stage",
                line: line)
        } else if base == "scratch" {
            stage.base = .scratch
        } else {
            stage.base = .image(from.image)
        }
    }

    private func laterLine(_ stageIndex: Int) -> Int { stageLines[stageIndex] }

    /// BuildKit's InvalidDefaultArgInFrom: with ARG defaults alone, the image must still be a valid name.
    /// Only checked when every variable is declared (an undeclared one is UndefinedArgInFrom's business).
    private mutating func checkDefaultBase(_ raw: String, used: ShellExpansion, line: Int) {
        guard raw.contains("$") else { return }
        let declared = Set(globalArgs.map(\.name)).union(PredefinedArgs.platform)
        guard used.unmatched.isSubset(of: declared), used.matched.isSubset(of: declared) else { return }
        let withDefaults = (try? state.lexer.expandWord(raw, env: defaultsEnv).value) ?? ""
        if withDefaults.lowercased() == "scratch" || ImageReferenceSyntax.isValid(withDefaults)
            || names.contains(withDefaults.lowercased()) { return }
        state.invalidDefaultBases.append((line, raw))
    }

    private mutating func noteFromVariables(_ expansion: ShellExpansion, line: Int, in text: String) {
        let declared = Set(globalArgs.map(\.name)).union(PredefinedArgs.platform)
        for name in expansion.unmatched.sorted()
        where !declared.contains(name) && !UndefinedVariable.onlyWithFallback(name, in: text) {
            let suggestion = Suggestion.closest(to: name, in: globalArgs.map(\.name) + PredefinedArgs.platform)
            state.undefined.append(UndefinedVariable(name: name, line: line, suggestion: suggestion, inFrom: true))
        }
    }

    // MARK: Instructions

    mutating func dispatch(parent: Stage?) throws(DockerfileError) {
        for pair in parent?.environment ?? [] { setEnv(pair) }
        // Also on an expansion error, so that a stage stopped half-way still lints what it had.
        defer {
            stage.environment = env
            stage.args = args
        }
        stage.instructions.reserveCapacity(group.count - 1)
        for instruction in group.dropFirst() {
            let result: Instruction
            do {
                // A copy of the scope lives only while the instruction expands; ENV and ARG change the
                // scope afterwards without copying it.
                let current = scope
                result = try expand(instruction, in: current)
            }
            apply(result)
            stage.instructions.append(result)
        }
        stage.proxyArgs = state.options.buildArgs.filter { PredefinedArgs.proxy.contains($0.key) }
            .map { KeyValue($0.key, $0.value) }.sorted { $0.key < $1.key }
    }

    /// The variables an expansion in this stage sees: ARGs with values, overridden by ENV. Kept up to date
    /// as ARG and ENV run rather than rebuilt per instruction, so long files stay linear.
    private var scope = ShellEnvironment()

    private mutating func word(_ text: String, _ line: Int, _ env: ShellEnvironment) throws(DockerfileError) -> String {
        let expansion = try state.expandWord(text, env: env, line: line)
        noteVariables(expansion, line: line, in: text)
        return expansion.value
    }

    private mutating func noteVariables(_ expansion: ShellExpansion, line: Int, in text: String) {
        guard !expansion.unmatched.isEmpty else { return }
        if state.undefinedLine != line {
            state.undefinedLine = line
            state.undefinedSeen.removeAll(keepingCapacity: true)
        }
        for name in expansion.unmatched.sorted() where !isKnown(name) && !UndefinedVariable.onlyWithFallback(name, in: text) {
            guard state.undefinedSeen.insert(name).inserted else { continue }
            // A suggestion compares against every ARG and ENV name; past the first few hundred undefined
            // names that made a long file quadratic, so later ones go without.
            var suggestion: String?
            if state.suggestionsLeft > 0 {
                state.suggestionsLeft -= 1
                suggestion = Suggestion.closest(to: name, in: args.lazy.map(\.name) + env.lazy.map(\.key))
            }
            state.undefined.append(UndefinedVariable(name: name, line: line, suggestion: suggestion, inFrom: false))
        }
    }

    /// Defined somewhere we can see, or given a value by BuildKit itself. PATH is in every base image's env.
    private func isKnown(_ name: String) -> Bool {
        declaredArgs.contains(name) || envIndex[name] != nil || name == "PATH"
            || PredefinedArgs.platform.contains(name) || PredefinedArgs.proxy.contains(name)
    }

    private mutating func setEnv(_ pair: KeyValue) {
        if let existing = envIndex[pair.key] {
            env[existing].value = pair.value
        } else {
            envIndex[pair.key] = env.count
            env.append(pair)
        }
        scope[pair.key] = pair.value
    }

    /// What ENV and ARG (already expanded) do to the scope.
    private mutating func apply(_ instruction: Instruction) {
        switch instruction.command {
        case .env(let command):
            for pair in command.pairs { setEnv(pair) }
        case .arg(let declarations):
            for declaration in declarations {
                let name = declaration.name
                // A redeclaration without a default keeps what the stage already had.
                let value = state.options.buildArgs[name] ?? platformValues[name] ?? declaration.defaultValue
                    ?? args.last(where: { $0.name == name })?.value ?? globalArgs.last(where: { $0.name == name })?.value
                if declaredArgs.contains(name) { args.removeAll { $0.name == name } }
                declaredArgs.insert(name)
                args.append(ArgValue(name: name, value: value))
                // ENV of the same name wins over an ARG, whatever the order.
                if envIndex[name] == nil { scope[name] = value }
            }
        default:
            break
        }
    }

    /// The instruction with its words expanded in `scope` (values as of before the instruction, as in
    /// BuildKit: `ENV A=1 B=$A` sees the old A).
    private mutating func expand(_ instruction: Instruction, in scope: ShellEnvironment) throws(DockerfileError)
        -> Instruction
    {
        var result = instruction
        let line = instruction.startLine
        switch instruction.command {
        case .env(var command):
            for i in command.pairs.indices {
                command.pairs[i].key = try word(command.pairs[i].key, line, scope)
                command.pairs[i].value = try word(command.pairs[i].value, line, scope)
            }
            result.command = .env(command)
        case .label(var command):
            for i in command.pairs.indices {
                command.pairs[i].key = try word(command.pairs[i].key, line, scope)
                command.pairs[i].value = try word(command.pairs[i].value, line, scope)
            }
            result.command = .label(command)
        case .arg(var declarations):
            for i in declarations.indices {
                if let raw = declarations[i].defaultValue {
                    declarations[i].defaultValue = try word(raw, line, scope)
                }
            }
            result.command = .arg(declarations)
        case .copy(let command):
            result.command = .copy(try expandCopy(command, line: line, scope: scope))
        case .add(let command):
            result.command = .add(try expandCopy(command, line: line, scope: scope))
        case .workdir(let path):
            result.command = .workdir(try word(path, line, scope))
        case .user(let user):
            result.command = .user(try word(user, line, scope))
        case .stopSignal(let signal):
            result.command = .stopSignal(try word(signal, line, scope))
        case .volume(let paths):
            var expanded: [String] = []
            for path in paths { expanded.append(try word(path, line, scope)) }
            result.command = .volume(expanded)
        case .expose(let ports):
            var expanded: [String] = []
            for port in ports {
                let words = try state.expandWords(port, env: scope, at: line)
                noteVariables(words, line: line, in: port)
                expanded += words.words
            }
            result.command = .expose(expanded)
        case .run(var command):
            // Mount options are expanded (RUN's command itself is left to the shell).
            command.mounts = []
            for flag in instruction.node.flags where flag.hasPrefix("--mount=") {
                let raw = String(flag.dropFirst("--mount=".count))
                // Expand through a non-mutating closure and note the unset names afterwards.
                var expansions: [(text: String, expansion: ShellExpansion)] = []
                let mount: RunMount
                do {
                    mount = try RunMount(parsing: raw) { [state] (text) throws(DockerfileError) in
                        let expansion = try state.expandWord(text, env: scope, line: line)
                        expansions.append((text, expansion))
                        return expansion.value
                    }
                } catch {
                    throw DockerfileError(error.code, error.message, file: file, line: error.line ?? line)
                }
                for (text, expansion) in expansions { noteVariables(expansion, line: line, in: text) }
                if let from = mount.from { try reference(from, line: line, kind: .mountFrom) }
                command.mounts.append(mount)
            }
            result.command = .run(command)
        case .from, .cmd, .entrypoint, .healthcheck, .onbuild, .shell, .maintainer:
            break
        }
        return result
    }

    private mutating func expandCopy(_ command: CopyCommand, line: Int, scope: ShellEnvironment)
        throws(DockerfileError) -> CopyCommand
    {
        var copy = command
        for i in copy.sources.indices {
            if case .path(let path) = copy.sources[i] { copy.sources[i] = .path(try word(path, line, scope)) }
        }
        copy.destination = try word(copy.destination, line, scope)
        if let from = copy.from {
            let expanded = try word(from, line, scope)
            copy.from = expanded
            try reference(expanded, line: line, kind: .copyFrom)
        }
        if let chown = copy.chown { copy.chown = try word(chown, line, scope) }
        if let chmod = copy.chmod { copy.chmod = try word(chmod, line, scope) }
        if let checksum = copy.checksum { copy.checksum = try word(checksum, line, scope) }
        for i in copy.excludes.indices { copy.excludes[i] = try word(copy.excludes[i], line, scope) }
        return copy
    }

    /// Records a `--from`/`from=` reference: a stage by name or index, else an external image.
    private mutating func reference(_ value: String, line: Int, kind: StageReference.Kind) throws(DockerfileError) {
        let key = value.lowercased()
        var target: Int?
        if let context = contextStages[NamedContext.key(value)] {
            target = context
        } else if let named = names.lastIndex(of: key) {  // a duplicated name means the last stage, as in BuildKit
            target = named
        } else if let number = Int(value) {
            guard names.indices.contains(number) else {
                throw state.error("\(kind.rawValue)=\(value) is not a valid stage index; the Dockerfile has \(names.count) stage(s)",
                                  line: line)
            }
            target = number
        }
        guard let target else {
            if !stage.externalImages.contains(value) { stage.externalImages.append(value) }
            return
        }
        guard target != index else {
            throw state.error("\(kind.rawValue)=\(value) refers to its own stage (\(stage.displayName))", line: line)
        }
        stage.dependencies.append(StageReference(stage: target, line: line, kind: kind))
    }
}
