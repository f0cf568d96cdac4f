/// Runs the lint rules over a planned Dockerfile. Every stage is linted, reachable or not.
package struct Linter {
    package var file: String
    package var options: CheckOptions
    private var findings: [LintFinding] = []

    package init(file: String = "Dockerfile", options: CheckOptions = CheckOptions()) {
        self.file = file
        self.options = options
    }

    /// Findings sorted by line (then rule name), with the severity `options` asks for.
    package static func lint(_ plan: BuildPlan, warnings: [ParseWarning], file: String = "Dockerfile",
                             options: CheckOptions = CheckOptions()) -> [LintFinding] {
        var linter = Linter(file: file, options: options)
        linter.checkParseWarnings(warnings)
        linter.checkStageNames(plan.allStages)
        linter.checkCasing(plan)
        linter.checkVariables(plan.undefinedVariables)
        linter.checkFromPlatforms(plan.allStages)
        for base in plan.invalidDefaultBases {
            linter.report(.invalidDefaultArgInFrom,
                          "Default value for ARG \(base.image) results in empty or invalid base image name",
                          line: base.line)
        }
        linter.checkSecrets(plan)
        // What each stage leaves for stages built on it; parents always come first in the file.
        var inherited: [StageContext] = []
        for stage in plan.allStages {
            var context = StageContext()
            if case .stage(let parent) = stage.base { context = inherited[parent] }
            inherited.append(linter.checkInstructions(stage, context: context))
        }
        return linter.findings.sorted { ($0.line, $0.rule.name, $0.message) < ($1.line, $1.rule.name, $1.message) }
    }

    private mutating func report(_ rule: LintRule, _ message: String, line: Int) {
        guard options.isEnabled(rule) else { return }
        findings.append(LintFinding(rule: rule, message: message, file: file, line: line,
                                    severity: options.errorOnFindings ? .error : .warning))
    }

    private mutating func checkParseWarnings(_ warnings: [ParseWarning]) {
        for warning in warnings
        where warning.rule.flatMap(LintRule.init(named:)) == .noEmptyContinuation
            || (warning.rule == nil && warning.message.lowercased().contains("empty continuation")) {
            report(.noEmptyContinuation, "Empty continuation line", line: warning.line)
        }
    }

    private mutating func checkStageNames(_ stages: [Stage]) {
        var seen: Set<String> = []
        for stage in stages {
            guard let written = stage.nameAsWritten, let name = stage.name else { continue }
            let line = stage.from.startLine
            if written != name { report(.stageNameCasing, "Stage name '\(written)' should be lowercase", line: line) }
            if !seen.insert(name).inserted {
                report(.duplicateStageName, "Duplicate stage name '\(written)'; stage names should be unique", line: line)
            }
            if name == "scratch" || name == "context" {
                report(.reservedStageName, "Stage name should not be the reserved name '\(name)'", line: line)
            }
            if case .from(let from) = stage.from.command, let asWord = from.asKeywordAsWritten {
                let fromWord = stage.from.keywordAsWritten
                if isUniformCase(fromWord), isUniformCase(asWord), isLower(fromWord) != isLower(asWord) {
                    report(.fromAsCasing, "'\(asWord)' and '\(fromWord)' keywords' casing do not match", line: line)
                }
            }
        }
    }

    /// BuildKit counts only instructions inside stages, and only those cased one way throughout.
    private mutating func checkCasing(_ plan: BuildPlan) {
        guard let firstFrom = plan.allStages.first?.from.startLine else { return }
        let words = plan.instructions.filter { $0.startLine >= firstFrom }.map { ($0.keywordAsWritten, $0.startLine) }
        var lower = 0
        var upper = 0
        for (word, _) in words where isUniformCase(word) {
            if isLower(word) { lower += 1 } else { upper += 1 }
        }
        let majorityLower = lower > upper
        for (word, line) in words {
            if majorityLower, word.lowercased() != word {
                report(.consistentInstructionCasing,
                       "Instruction '\(word)' should be lowercase like most instructions in the file", line: line)
            } else if !majorityLower, word.uppercased() != word {
                report(.consistentInstructionCasing,
                       "Instruction '\(word)' should be uppercase like most instructions in the file", line: line)
            }
        }
    }

    private mutating func checkFromPlatforms(_ stages: [Stage]) {
        for stage in stages {
            guard !stage.from.node.flags.isEmpty, case .from(let raw)? = rawFrom(stage),
                  let platform = raw.platform?.trimmingSpaces
            else { continue }
            let line = stage.from.startLine
            if platform == "$TARGETPLATFORM" || platform == "${TARGETPLATFORM}" {
                report(.redundantTargetPlatform,
                       "Setting platform to predefined \(platform) in FROM is redundant as this is the default behavior",
                       line: line)
            } else if !platform.contains("$") {
                // A stage named for its platform (`build_arm64`) is the documented exception.
                let parsed = BuildPlatform(parsing: platform)
                let name = stage.name ?? ""
                let named = parsed.map { name.contains($0.architecture) || name.contains($0.os) } ?? false
                if !named {
                    report(.fromPlatformFlagConstDisallowed,
                           "FROM --platform flag should not use constant value \"\(platform)\"", line: line)
                }
            }
        }
    }

    /// The FROM as written: the stage keeps the expanded one, the node the original flags.
    private func rawFrom(_ stage: Stage) -> Command? {
        (try? Instruction(node: stage.from.node))?.command
    }

    private mutating func checkVariables(_ variables: [UndefinedVariable]) {
        for variable in variables {
            if variable.inFrom {
                let hint = variable.suggestion.map { " (did you mean \($0)?)" } ?? ""
                report(.undefinedArgInFrom, "FROM argument '\(variable.name)' is not declared\(hint)",
                       line: variable.line)
            } else {
                let hint = variable.suggestion.map { " (did you mean $\($0)?)" } ?? ""
                report(.undefinedVar, "Usage of undefined variable '$\(variable.name)'\(hint)", line: variable.line)
            }
        }
    }

    private mutating func checkSecrets(_ plan: BuildPlan) {
        for instruction in plan.instructions {
            switch instruction.command {
            case .arg(let declarations):
                for declaration in declarations where Self.looksLikeSecret(declaration.name) {
                    report(.secretsUsedInArgOrEnv,
                           "Do not use ARG or ENV instructions for sensitive data (ARG \"\(declaration.name)\")",
                           line: instruction.startLine)
                }
            case .env(let command):
                for pair in command.pairs where Self.looksLikeSecret(pair.key) {
                    report(.secretsUsedInArgOrEnv,
                           "Do not use ARG or ENV instructions for sensitive data (ENV \"\(pair.key)\")",
                           line: instruction.startLine)
                }
            default: break
            }
        }
    }

    /// True when an `_`-separated part of the name is a secret-ish word (`API_KEY`, `db_password`),
    /// unless a part says the value is public (`PUBLIC_KEY`).
    package static func looksLikeSecret(_ name: String) -> Bool {
        let parts = name.lowercased().split(separator: "_", omittingEmptySubsequences: false)
        let secretWords: Set<Substring> = [
            "apikey", "auth", "credential", "credentials", "key", "password", "pword", "passwd", "secret", "token",
        ]
        if parts.contains("public") { return false }
        return parts.contains { secretWords.contains($0) }
    }

    /// Stage state that carries over into a child stage (`FROM parent`).
    private struct StageContext {
        var hasShell = false
        var hasAbsoluteWorkdir = false
    }

    private mutating func checkInstructions(_ stage: Stage, context: StageContext) -> StageContext {
        var lastOf: [Keyword: Int] = [:]
        var hasShell = context.hasShell
        var hasAbsoluteWorkdir = context.hasAbsoluteWorkdir
        for instruction in stage.instructions {
            let line = instruction.startLine
            switch instruction.command {
            case .shell: hasShell = true
            case .cmd(let command), .entrypoint(let command):
                if command.isShellForm, !hasShell {
                    report(.jsonArgsRecommended,
                           "JSON arguments recommended for \(instruction.keyword.name) to prevent unintended behavior related to OS signals",
                           line: line)
                }
            case .maintainer:
                report(.maintainerDeprecated, "MAINTAINER is deprecated; use a LABEL such as org.opencontainers.image.authors instead",
                       line: line)
            case .workdir(let path):
                if isAbsolute(path) {
                    hasAbsoluteWorkdir = true
                } else if !hasAbsoluteWorkdir {
                    report(.workdirRelativePath,
                           "Relative workdir '\(path)' can have unexpected results if the base image changes", line: line)
                }
            case .env(let command) where command.isLegacyFormat:
                report(.legacyKeyValueFormat,
                       "\"ENV key=value\" should be used instead of legacy \"ENV key value\" format", line: line)
            case .label(let command) where command.isLegacyFormat:
                report(.legacyKeyValueFormat,
                       "\"LABEL key=value\" should be used instead of legacy \"LABEL key value\" format", line: line)
            default: break
            }
            switch instruction.keyword {
            case .cmd, .entrypoint, .healthcheck:
                // Reported on the earlier one: that is the instruction that has no effect.
                if let earlier = lastOf[instruction.keyword] {
                    report(.multipleInstructionsDisallowed,
                           "Multiple \(instruction.keyword.name) instructions should not be used in the same stage because only the last one will be used",
                           line: earlier)
                }
                lastOf[instruction.keyword] = line
            default: break
            }
        }
        return StageContext(hasShell: hasShell, hasAbsoluteWorkdir: hasAbsoluteWorkdir)
    }

    private func isAbsolute(_ path: String) -> Bool {
        // Windows-style `C:\dir` counts too, as BuildKit accepts it for Windows images.
        path.hasPrefix("/") || path.hasPrefix("\\")
            || (path.count >= 2 && path.dropFirst().first == ":" && path.first?.isLetter == true)
    }

    private func isUniformCase(_ word: String) -> Bool { word.lowercased() == word || word.uppercased() == word }
    private func isLower(_ word: String) -> Bool { word.lowercased() == word }
}
