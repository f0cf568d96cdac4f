package import ImgDockerfile
package import ImgGraph

/// A Dockerfile build as a graph of ops: a vertex per FROM and per instruction of every stage the target
/// needs (this target owns the translation from Dockerfile instructions to ops).
package struct BuildDefinition: Sendable {
    package var graph: Graph<BuildStep>
    /// The vertex whose output is the target stage's image.
    package var target: Int
    /// Each built stage's final vertex.
    package var stageResults: [Int: Int]
    package var plan: BuildPlan

    /// Converts `plan` (already expanded for one target and set of build args) into a graph. Stages the
    /// target does not need are not in the plan, so they never run.
    package init(plan: BuildPlan) {
        self.plan = plan
        var graph = Graph<BuildStep>()
        var finals: [Int: Int] = [:]
        // The plan lists stages in file order, and a stage only refers to earlier ones, so every stage a
        // vertex needs already has its final vertex.
        // Stages made from `--build-context` come after the file's own but depend on nothing: first.
        for stage in plan.stages.filter({ $0.namedContext != nil }) + plan.stages.filter({ $0.namedContext == nil }) {
            let count = stage.instructions.count + 1
            var inputs: [Int] = []
            if case .stage(let parent) = stage.base, let parentFinal = finals[parent] { inputs = [parentFinal] }
            var previous = graph.add(
                BuildStep(op: .source(Self.source(stage)), stageIndex: stage.index, stageName: stage.nameAsWritten,
                          number: 1, count: count, line: stage.from.startLine, text: stage.from.node.original),
                inputs: inputs)
            var args: [NamedValue] = []
            let finalArgs = Dictionary(stage.args.map { ($0.name, $0.value) }, uniquingKeysWith: { _, last in last })
            for (offset, instruction) in stage.instructions.enumerated() {
                var inputs = [previous]
                var stageInputs: [StageInput] = []
                for reference in stage.dependencies
                where reference.kind != .from && reference.line >= instruction.startLine
                    && reference.line <= instruction.endLine {
                    guard let final = finals[reference.stage],
                          !stageInputs.contains(where: { $0.stage == reference.stage }) else { continue }
                    let name = Self.referenceName(instruction, stage: reference.stage, plan: plan)
                    stageInputs.append(StageInput(name: name, stage: reference.stage, inputPosition: inputs.count))
                    inputs.append(final)
                }
                var op = Self.op(instruction.command, stageInputs: stageInputs)
                // A directory context's stage is its files copied onto scratch, read from that directory.
                if let name = stage.namedContext, case .file(.copy(var copy)) = op {
                    copy.from = .context(name)
                    op = .file(.copy(copy))
                }
                if case .arg(let declarations) = instruction.command {
                    var declared: [DeclaredArg] = []
                    for declaration in declarations {
                        args.removeAll { $0.name == declaration.name }
                        let value = finalArgs[declaration.name] ?? nil
                        if let value { args.append(NamedValue(declaration.name, value)) }
                        declared.append(DeclaredArg(declaration.name, value))
                    }
                    op = .config(.arg(declared))
                }
                previous = graph.add(
                    BuildStep(op: op, stageIndex: stage.index,
                              stageName: stage.nameAsWritten, number: offset + 2, count: count,
                              line: instruction.startLine, text: instruction.node.original, args: args,
                              stageInputs: stageInputs),
                    inputs: inputs)
            }
            finals[stage.index] = previous
        }
        self.graph = graph
        stageResults = finals
        target = finals[plan.target.index]!
    }

    /// How the instruction named the stage: its `--from` value (COPY) or a mount's `from=`.
    private static func referenceName(_ instruction: Instruction, stage: Int, plan: BuildPlan) -> String {
        let named = plan.allStages[stage]
        switch instruction.command {
        case .copy(let copy), .add(let copy):
            if let from = copy.from { return from }
        case .run(let run):
            for mount in run.mounts {
                if let from = mount.from, from.lowercased() == named.name || from == String(stage)
                    || (named.namedContext != nil && NamedContext.key(from) == named.name) { return from }
            }
        default: break
        }
        return named.name ?? String(stage)
    }
}
