/// The one call behind `img build --check`: parse, type, plan and lint a Dockerfile.
package enum DockerfileCheck {
    /// Checks `bytes`. Parse, instruction and stage errors are thrown as `DockerfileError`; lint findings
    /// are returned, as errors when the check options say `error=true`.
    ///
    /// Check options come from, in order of precedence: `checkOptions`, the `BUILDKIT_DOCKERFILE_CHECK`
    /// build arg, the `# check=` directive.
    package static func run(
        _ bytes: [UInt8], file: String = "Dockerfile", target: String? = nil, buildArgs: [String: String] = [:],
        buildPlatform: BuildPlatform = .host, targetPlatform: BuildPlatform? = nil,
        checkOptions: CheckOptions? = nil
    ) throws(DockerfileError) -> CheckReport {
        let parsed = try DockerfileParser.parse(bytes, file: file)
        let options = BuildOptions(target: target, buildArgs: buildArgs, buildPlatform: buildPlatform,
                                   targetPlatform: targetPlatform)
        let plan = try BuildPlanner.plan(parsed, file: file, options: options)
        let effective: CheckOptions
        do {
            if let checkOptions {
                effective = checkOptions
            } else if let raw = buildArgs[CheckOptions.buildArgName] {
                effective = try CheckOptions(parsing: raw)
            } else if let raw = parsed.directives.check {
                effective = try CheckOptions(parsing: raw)
            } else {
                effective = CheckOptions()
            }
        } catch {
            throw error.located(file: file, line: parsed.directives.lines["check"])
        }
        let findings = Linter.lint(plan, warnings: parsed.warnings, file: file, options: effective)
        return CheckReport(file: file, findings: findings, plan: plan, options: effective)
    }

    /// Same, for text.
    package static func run(
        _ text: String, file: String = "Dockerfile", target: String? = nil, buildArgs: [String: String] = [:],
        buildPlatform: BuildPlatform = .host, targetPlatform: BuildPlatform? = nil,
        checkOptions: CheckOptions? = nil
    ) throws(DockerfileError) -> CheckReport {
        try run(Array(text.utf8), file: file, target: target, buildArgs: buildArgs, buildPlatform: buildPlatform,
                targetPlatform: targetPlatform, checkOptions: checkOptions)
    }
}

/// What a check found.
package struct CheckReport: Sendable, Hashable {
    package var file: String
    /// Sorted by line.
    package var findings: [LintFinding]
    package var plan: BuildPlan
    /// The options in force (after directive/build-arg/caller precedence).
    package var options: CheckOptions

    /// True when some finding is an error (the check options said `error=true`).
    package var hasErrors: Bool { findings.contains { $0.severity == .error } }

    /// Every stage's display name, in file order, and whether the target needs it.
    package var stages: [(name: String, isReachable: Bool)] {
        plan.allStages.map { ($0.displayName, $0.isReachable) }
    }

    /// `Dockerfile:7: warning: RuleName: message`, one line per finding.
    package var lines: [String] { findings.map(\.description) }

    /// The closing line: `Check complete, 2 warnings have been found!` / `Check complete, no warnings found.`
    package var summary: String {
        let kind = hasErrors ? "error" : "warning"
        switch findings.count {
        case 0: return "Check complete, no warnings found."
        case 1: return "Check complete, 1 \(kind) has been found!"
        case let n: return "Check complete, \(n) \(kind)s have been found!"
        }
    }

    /// --build-arg names no ARG consumed.
    package var unusedBuildArgs: [String] { plan.unusedBuildArgs }

}
