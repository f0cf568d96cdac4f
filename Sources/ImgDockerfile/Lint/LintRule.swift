/// The lint rules, named as BuildKit names them so that `# check=skip=` lists carry over.
package enum LintRule: String, Sendable, Hashable, CaseIterable {
    case stageNameCasing = "StageNameCasing"
    case fromAsCasing = "FromAsCasing"
    case noEmptyContinuation = "NoEmptyContinuation"
    case consistentInstructionCasing = "ConsistentInstructionCasing"
    case duplicateStageName = "DuplicateStageName"
    case reservedStageName = "ReservedStageName"
    case jsonArgsRecommended = "JSONArgsRecommended"
    case maintainerDeprecated = "MaintainerDeprecated"
    case undefinedArgInFrom = "UndefinedArgInFrom"
    case workdirRelativePath = "WorkdirRelativePath"
    case undefinedVar = "UndefinedVar"
    case multipleInstructionsDisallowed = "MultipleInstructionsDisallowed"
    case legacyKeyValueFormat = "LegacyKeyValueFormat"
    case secretsUsedInArgOrEnv = "SecretsUsedInArgOrEnv"
    case invalidDefaultArgInFrom = "InvalidDefaultArgInFrom"
    case redundantTargetPlatform = "RedundantTargetPlatform"
    case fromPlatformFlagConstDisallowed = "FromPlatformFlagConstDisallowed"

    package var name: String { rawValue }

    /// What the rule is for, in one line.
    package var summary: String {
        switch self {
        case .stageNameCasing: "Stage names should be lowercase"
        case .fromAsCasing: "The AS keyword should be cased like the FROM keyword"
        case .noEmptyContinuation: "Empty continuation lines will become errors in a future release"
        case .consistentInstructionCasing: "Instructions should all use the same casing"
        case .duplicateStageName: "Stage names should be unique"
        case .reservedStageName: "Reserved words should not be used as stage names"
        case .jsonArgsRecommended: "JSON arguments are recommended for CMD and ENTRYPOINT"
        case .maintainerDeprecated: "MAINTAINER is deprecated in favour of a label"
        case .undefinedArgInFrom: "FROM should only use declared ARGs"
        case .workdirRelativePath: "A relative WORKDIR depends on the base image's working directory"
        case .undefinedVar: "Variables should be defined before they are used"
        case .multipleInstructionsDisallowed: "Only the last CMD, ENTRYPOINT or HEALTHCHECK of a stage takes effect"
        case .legacyKeyValueFormat: "ENV and LABEL should use the key=value form"
        case .secretsUsedInArgOrEnv: "ARG and ENV values end up in the image; do not put secrets in them"
        case .invalidDefaultArgInFrom: "A FROM image should be valid with the ARG defaults alone"
        case .redundantTargetPlatform: "FROM --platform=$TARGETPLATFORM is already the default"
        case .fromPlatformFlagConstDisallowed: "FROM --platform should not be a constant"
        }
    }

    /// The rule's page in Docker's build-checks reference (the same names, kebab-cased).
    package var documentationURL: String {
        "https://docs.docker.com/go/dockerfile/rule/\(Self.kebabCased(rawValue))/"
    }

    /// `JSONArgsRecommended` → `json-args-recommended`: a hyphen where a word starts.
    static func kebabCased(_ name: String) -> String {
        let chars = Array(name)
        var result = ""
        for (i, ch) in chars.enumerated() {
            if ch.isUppercase, i > 0 {
                let previousIsLower = chars[i - 1].isLowercase
                let startsWord = chars[i - 1].isUppercase && i + 1 < chars.count && chars[i + 1].isLowercase
                if previousIsLower || startsWord { result.append("-") }
            }
            result += ch.lowercased()
        }
        return result
    }

    /// Looks a rule up by name, ignoring case (directives are written by hand).
    package init?(named name: String) {
        guard let rule = Self.allCases.first(where: { $0.rawValue.lowercased() == name.lowercased() }) else {
            return nil
        }
        self = rule
    }
}

package enum LintSeverity: String, Sendable, Hashable {
    case warning, error
}

/// One lint result, located in the file.
package struct LintFinding: Sendable, Hashable, CustomStringConvertible {
    package var rule: LintRule
    package var message: String
    package var file: String
    package var line: Int
    package var severity: LintSeverity

    package init(rule: LintRule, message: String, file: String, line: Int, severity: LintSeverity = .warning) {
        self.rule = rule
        self.message = message
        self.file = file
        self.line = line
        self.severity = severity
    }

    /// `Dockerfile:7: warning: RuleName: message`, the line `img build --check` prints.
    package var description: String {
        "\(file):\(line): \(severity.rawValue): \(rule.name): \(message)"
    }
}
