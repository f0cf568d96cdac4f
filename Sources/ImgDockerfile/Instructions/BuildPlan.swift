/// What the caller chose for one build: the target stage, `--build-arg` values and the platforms.
package struct BuildOptions: Sendable, Hashable {
    /// `--target`: a stage name (case-insensitive); nil builds the last stage.
    package var target: String?
    package var buildArgs: [String: String]
    package var buildPlatform: BuildPlatform
    package var targetPlatform: BuildPlatform
    /// `--build-context`: by `NamedContext.key`, what replaces the stage or image of that name.
    package var namedContexts: [String: NamedContext]

    package init(target: String? = nil, buildArgs: [String: String] = [:], buildPlatform: BuildPlatform = .host,
                 targetPlatform: BuildPlatform? = nil, namedContexts: [String: NamedContext] = [:]) {
        self.target = target
        self.namedContexts = namedContexts
        self.buildArgs = buildArgs
        self.buildPlatform = buildPlatform
        self.targetPlatform = targetPlatform ?? buildPlatform
    }
}

/// What a stage starts from.
package enum StageBase: Sendable, Hashable {
    /// `FROM scratch`: an empty filesystem.
    case scratch
    /// An image reference (after ARG expansion), to be pulled.
    case image(String)
    /// An earlier stage of the same Dockerfile, by index.
    case stage(Int)
}

/// A dependency of one stage on another, with the line that creates it.
package struct StageReference: Sendable, Hashable {
    package enum Kind: String, Sendable, Hashable {
        case from = "FROM"
        case copyFrom = "COPY --from"
        case mountFrom = "RUN --mount from"
    }

    package var stage: Int
    package var line: Int
    package var kind: Kind

    package init(stage: Int, line: Int, kind: Kind) {
        self.stage = stage
        self.line = line
        self.kind = kind
    }
}

/// One declared ARG and the value it ends up with (nil: declared, no default, no --build-arg).
package struct ArgValue: Sendable, Hashable {
    package var name: String
    package var value: String?
    package init(name: String, value: String?) {
        self.name = name
        self.value = value
    }
}

/// A build stage: its FROM and the instructions up to the next FROM, with variables expanded.
package struct Stage: Sendable, Hashable {
    package var index: Int
    /// Lower-cased, as BuildKit compares stage names.
    package var name: String?
    package var nameAsWritten: String?
    package var base: StageBase
    package var platform: BuildPlatform?
    /// The FROM instruction, image and platform expanded.
    package var from: Instruction
    /// The instructions after FROM, expanded where BuildKit expands (RUN/CMD/ENTRYPOINT are not).
    package var instructions: [Instruction]
    /// Stages this one needs (FROM, COPY --from, RUN --mount from=), in the order they are referenced.
    package var dependencies: [StageReference]
    /// Images referenced by COPY --from or a mount's from= that are not stages.
    package var externalImages: [String]
    /// ENV at the end of the stage, including what a parent stage set.
    package var environment: [KeyValue]
    /// ARGs declared in the stage with their final values.
    package var args: [ArgValue]
    /// Proxy build args given with --build-arg; BuildKit passes them to RUN without a declaration.
    package var proxyArgs: [KeyValue]
    package var isReachable: Bool
    package var startLine: Int
    package var endLine: Int
    /// For the stage a `--build-context` became (after the file's own stages): the context's name.
    package var namedContext: String? = nil

    /// `name` or, for an unnamed stage, its index: how messages refer to it.
    package var displayName: String { nameAsWritten ?? "stage \(index)" }
}

/// A variable used where it expands to nothing because nothing defined it (for lint).
package struct UndefinedVariable: Sendable, Hashable {
    package var name: String
    package var line: Int
    package var suggestion: String?
    /// True for FROM lines (UndefinedArgInFrom), false elsewhere (UndefinedVar).
    package var inFrom: Bool

    /// True when every use of `name` in `text` says what to do when it is unset (`${NAME:-x}`, `${NAME+x}`,
    /// `${NAME:?msg}`): the author already handled the unset case, so it is not reported as undefined.
    package static func onlyWithFallback(_ name: String, in text: String) -> Bool {
        var plainUses = 0
        var guardedUses = 0
        var rest = Substring(text)
        while let dollar = rest.firstIndex(of: "$") {
            rest = rest[rest.index(after: dollar)...]
            if rest.hasPrefix("{" + name) {
                let after = rest.dropFirst(name.count + 1)
                let op = after.first
                if op == "}" {
                    plainUses += 1
                } else if op == ":" || op == "-" || op == "+" || op == "?" {
                    let next = op == ":" ? after.dropFirst().first : op
                    if next == "-" || next == "+" || next == "?" { guardedUses += 1 } else { plainUses += 1 }
                } else if op.map({ !($0.isLetter || $0.isNumber || $0 == "_") }) ?? true {
                    plainUses += 1
                }
            } else if rest.hasPrefix(name) {
                let after = rest.dropFirst(name.count).first
                if after.map({ !($0.isLetter || $0.isNumber || $0 == "_") }) ?? true { plainUses += 1 }
            }
        }
        return guardedUses > 0 && plainUses == 0
    }
}

/// The stages to build for one target, plus what lint needs about the whole file.
package struct BuildPlan: Sendable, Hashable {
    /// The stages the target needs (itself included), in file order.
    package var stages: [Stage]
    package var target: Stage
    /// Every stage of the file, reachable or not.
    package var allStages: [Stage]
    /// ARGs before the first FROM, with their values.
    package var globalArgs: [ArgValue]
    /// Every instruction of the file in order (typed, not expanded), global ARGs included.
    package var instructions: [Instruction]
    /// --build-arg names that no global ARG or ARG of a built stage consumed (BuildKit warns about them).
    package var unusedBuildArgs: [String]
    package var undefinedVariables: [UndefinedVariable]
    /// FROM images that are empty or invalid when no --build-arg is given (for lint).
    package var invalidDefaultBases: [InvalidDefaultBase]
}

/// A FROM line that only builds when a --build-arg is given.
package struct InvalidDefaultBase: Sendable, Hashable {
    package var line: Int
    /// The image as written (`alpine:${TAG}`).
    package var image: String
}

/// Names BuildKit gives a value without an ARG having a default.
package enum PredefinedArgs {
    package static let platform: [String] = [
        "BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT",
        "TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT", "TARGETSTAGE",
    ]
    /// Usable with --build-arg without an ARG declaring them.
    package static let proxy: Set<String> = [
        "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
        "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy",
    ]

    static func platformValues(_ options: BuildOptions, targetStage: String) -> [String: String] {
        let build = options.buildPlatform
        let target = options.targetPlatform
        return [
            "BUILDPLATFORM": build.description, "BUILDOS": build.os, "BUILDARCH": build.architecture,
            "BUILDVARIANT": build.variant ?? "",
            "TARGETPLATFORM": target.description, "TARGETOS": target.os, "TARGETARCH": target.architecture,
            "TARGETVARIANT": target.variant ?? "", "TARGETSTAGE": targetStage,
        ]
    }

    /// Build args BuildKit reads itself (`BUILDKIT_DOCKERFILE_CHECK`, `BUILDKIT_SYNTAX`, ...).
    static func isFrontendArg(_ name: String) -> Bool { name.hasPrefix("BUILDKIT_") }
}
