/// Which lint rules run and whether findings fail the build: the `# check=` directive syntax
/// (`skip=Rule1,Rule2;error=true`, `skip=all`), also accepted from the `BUILDKIT_DOCKERFILE_CHECK` build arg.
package struct CheckOptions: Sendable, Hashable {
    package var skip: Set<LintRule>
    package var skipAll: Bool
    /// Findings are reported as errors.
    package var errorOnFindings: Bool
    /// `experimental=` names, kept for completeness; no experimental rule is implemented.
    package var experimental: [String]

    package init(skip: Set<LintRule> = [], skipAll: Bool = false, errorOnFindings: Bool = false,
                 experimental: [String] = []) {
        self.skip = skip
        self.skipAll = skipAll
        self.errorOnFindings = errorOnFindings
        self.experimental = experimental
    }

    /// The build arg that overrides the `# check=` directive, as in BuildKit.
    package static let buildArgName = "BUILDKIT_DOCKERFILE_CHECK"

    /// Parses `skip=A,B;error=true`. Unknown rule names in `skip` are ignored (BuildKit's newer rules may
    /// be listed); unknown option keys and bad booleans are errors.
    package init(parsing text: String) throws(DockerfileError) {
        self.init()
        for part in text.split(separator: ";") {
            let option = String(part).trimmingSpaces
            if option.isEmpty { continue }
            guard let eq = option.firstIndex(of: "=") else {
                throw DockerfileError("check", "invalid check option \"\(option)\" (expected key=value)")
            }
            let key = String(option[..<eq]).trimmingSpaces.lowercased()
            let value = String(option[option.index(after: eq)...]).trimmingSpaces
            let items = value.split(separator: ",").map { String($0).trimmingSpaces }.filter { !$0.isEmpty }
            switch key {
            case "skip":
                for item in items {
                    if item.lowercased() == "all" {
                        skipAll = true
                    } else if let rule = LintRule(named: item) {
                        skip.insert(rule)
                    }
                }
            case "error":
                switch value.lowercased() {
                case "true", "1": errorOnFindings = true
                case "false", "0", "": errorOnFindings = false
                default: throw DockerfileError("check", "invalid boolean \"\(value)\" for check option error")
                }
            case "experimental":
                experimental += items
            default:
                throw DockerfileError("check", "unknown check option \"\(key)\" (use skip, error or experimental)")
            }
        }
    }

    package func isEnabled(_ rule: LintRule) -> Bool { !skipAll && !skip.contains(rule) }
}
