extension Instruction {
    /// Types one parser node. Errors carry `file` and the node's first line.
    package init(node: Node, file: String = "Dockerfile") throws(DockerfileError) {
        do {
            let command = try Self.command(for: node)
            self.init(command: command, startLine: node.startLine, endLine: node.endLine, node: node)
        } catch {
            throw DockerfileError(error.code, error.message, file: file, line: node.startLine)
        }
    }

    /// Types every node of a parsed file, in order.
    package static func all(in parsed: ParsedDockerfile, file: String = "Dockerfile") throws(DockerfileError)
        -> [Instruction]
    {
        var result: [Instruction] = []
        result.reserveCapacity(parsed.nodes.count)
        for node in parsed.nodes { result.append(try Instruction(node: node, file: file)) }
        return result
    }

    private static func command(for node: Node) throws(DockerfileError) -> Command {
        guard let keyword = Keyword(rawValue: node.keyword.lowercased()) else {
            let written = node.keywordAsWritten.uppercased()
            let hint = Suggestion.closest(to: written, in: Keyword.allCases.map(\.name)).map { " (did you mean \($0)?)" }
            throw DockerfileError("instruction", "unknown instruction: \(written)\(hint ?? "")")
        }
        do {
            return try parse(keyword, node)
        } catch {
            throw DockerfileError("instruction", error.message)
        }
    }

    private static func parse(_ keyword: Keyword, _ node: Node) throws(InstructionError) -> Command {
        let name = keyword.name
        let args = node.arguments
        func noFlags() throws(InstructionError) {
            _ = try InstructionFlags(node.flags, keyword: name, accepting: [:])
        }
        func exactlyOne() throws(InstructionError) -> String {
            guard args.count == 1, !args[0].isEmpty else { throw InstructionError("\(name) requires exactly one argument") }
            return args[0]
        }
        func atLeastOne() throws(InstructionError) {
            guard !args.isEmpty else { throw InstructionError("\(name) requires at least one argument") }
        }
        switch keyword {
        case .from:
            let flags = try InstructionFlags(node.flags, keyword: name, accepting: ["platform": .string])
            return .from(try parseFrom(args, platform: flags.string("platform")))
        case .run:
            return .run(try parseRun(node))
        case .cmd:
            try noFlags()
            return .cmd(commandLine(node))
        case .entrypoint:
            try noFlags()
            return .entrypoint(commandLine(node))
        case .copy, .add:
            return try parseCopy(node, isAdd: keyword == .add)
        case .env, .label:
            try noFlags()
            try atLeastOne()
            guard args.count % 3 == 0 else { throw InstructionError("\(name) has malformed key/value arguments") }
            var pairs: [KeyValue] = []
            var legacy = false
            for i in stride(from: 0, to: args.count, by: 3) {
                guard !args[i].isEmpty else { throw InstructionError("\(name) names can not be blank") }
                pairs.append(KeyValue(args[i], args[i + 1]))
                if args[i + 2].isEmpty { legacy = true }
            }
            let value = KeyValueCommand(pairs: pairs, isLegacyFormat: legacy)
            return keyword == .env ? .env(value) : .label(value)
        case .arg:
            try noFlags()
            try atLeastOne()
            var declarations: [ArgDeclaration] = []
            for word in args {
                if let eq = word.firstIndex(of: "=") {
                    let key = String(word[..<eq])
                    guard !key.isEmpty else { throw InstructionError("ARG names can not be blank") }
                    declarations.append(ArgDeclaration(name: key, defaultValue: String(word[word.index(after: eq)...])))
                } else {
                    declarations.append(ArgDeclaration(name: word))
                }
            }
            return .arg(declarations)
        case .expose:
            try noFlags()
            try atLeastOne()
            return .expose(args)
        case .volume:
            try noFlags()
            try atLeastOne()
            for path in args where path.trimmingSpaces.isEmpty {
                throw InstructionError("VOLUME specified can not be an empty string")
            }
            return .volume(args)
        case .user:
            try noFlags()
            return .user(try exactlyOne())
        case .workdir:
            try noFlags()
            return .workdir(try exactlyOne())
        case .stopsignal:
            try noFlags()
            return .stopSignal(try exactlyOne())
        case .maintainer:
            try noFlags()
            return .maintainer(try exactlyOne())
        case .healthcheck:
            return .healthcheck(try parseHealthcheck(node))
        case .onbuild:
            try noFlags()
            guard let trigger = node.trigger else { throw InstructionError("ONBUILD requires at least one argument") }
            switch trigger.keyword.lowercased() {
            case "onbuild": throw InstructionError("chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
            case "from", "maintainer":
                throw InstructionError("\(trigger.keyword.uppercased()) isn't allowed as an ONBUILD trigger")
            default: break
            }
            return .onbuild(OnbuildCommand(trigger: trigger, expression: onbuildExpression(node, trigger)))
        case .shell:
            try noFlags()
            guard node.isJSON else { throw InstructionError("SHELL requires the arguments to be in JSON form") }
            try atLeastOne()
            return .shell(args)
        }
    }

    private static func commandLine(_ node: Node) -> CommandLine {
        node.isJSON ? .exec(node.arguments) : .shell(node.arguments.first ?? "")
    }

    private static func parseFrom(_ args: [String], platform: String?) throws(InstructionError) -> FromCommand {
        switch args.count {
        case 1:
            return FromCommand(image: args[0], platform: platform)
        case 3 where args[1].lowercased() == "as":
            let stage = args[2]
            guard isValidStageName(stage.lowercased()) else {
                throw InstructionError(
                    "invalid name for build stage: \"\(stage)\", name can't start with a number or contain symbols")
            }
            return FromCommand(image: args[0], stageName: stage, asKeywordAsWritten: args[1], platform: platform)
        default:
            throw InstructionError("FROM requires either one or three arguments")
        }
    }

    /// BuildKit's rule: a letter, then letters, digits, `-`, `_` or `.`.
    static func isValidStageName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, ("a"..."z").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "_" || $0 == "."
        }
    }

    private static func parseRun(_ node: Node) throws(InstructionError) -> RunCommand {
        let flags = try InstructionFlags(node.flags, keyword: "RUN", accepting: [
            "mount": .list, "network": .string, "security": .string,
        ])
        var run = RunCommand(command: commandLine(node), heredocs: node.isJSON ? [] : node.heredocs)
        if let raw = flags.string("network") {
            guard let mode = NetworkMode(rawValue: raw.lowercased()) else {
                throw InstructionError("unsupported network mode: \(raw) (use default, none or host)")
            }
            run.network = mode
        }
        if let raw = flags.string("security") {
            guard let mode = SecurityMode(rawValue: raw.lowercased()) else {
                throw InstructionError("unsupported security mode: \(raw) (use sandbox or insecure)")
            }
            run.security = mode
        }
        for raw in flags.list("mount") {
            do {
                run.mounts.append(try RunMount(parsing: raw))
            } catch {
                throw InstructionError(error.message)
            }
        }
        return run
    }

    private static func parseCopy(_ node: Node, isAdd: Bool) throws(InstructionError) -> Command {
        let name = isAdd ? "ADD" : "COPY"
        var spec: [String: InstructionFlags.Kind] = [
            "chown": .string, "chmod": .string, "link": .bool, "exclude": .list,
        ]
        if isAdd {
            spec["checksum"] = .string
            spec["keep-git-dir"] = .bool
        } else {
            spec["from"] = .string
            spec["parents"] = .bool
        }
        let flags = try InstructionFlags(node.flags, keyword: name, accepting: spec)
        guard node.arguments.count >= 2 else {
            throw InstructionError(
                "\(name) requires at least two arguments, but only \(node.arguments.count) provided; the destination could not be determined")
        }
        var heredocs = node.isJSON ? [] : node.heredocs[...]
        var sources: [CopySource] = []
        for word in node.arguments.dropLast() {
            // The parser attached the bodies in line order; a source word that opens a heredoc takes the next.
            if let next = heredocs.first, let opened = (try? Heredoc.parse(word: word)) ?? nil, opened.name == next.name {
                sources.append(.heredoc(heredocs.removeFirst()))
            } else {
                sources.append(.path(word))
            }
        }
        let copy = CopyCommand(
            sources: sources, destination: node.arguments[node.arguments.count - 1], from: flags.string("from"),
            chown: flags.string("chown"), chmod: flags.string("chmod"), link: flags.bool("link"),
            parents: flags.bool("parents"), excludes: flags.list("exclude"), checksum: flags.string("checksum"),
            keepGitDir: flags.optionalBool("keep-git-dir"))
        return isAdd ? .add(copy) : .copy(copy)
    }

    private static func parseHealthcheck(_ node: Node) throws(InstructionError) -> Healthcheck {
        let flags = try InstructionFlags(node.flags, keyword: "HEALTHCHECK", accepting: [
            "interval": .string, "timeout": .string, "start-period": .string, "start-interval": .string,
            "retries": .string,
        ])
        guard let kind = node.arguments.first else {
            throw InstructionError("HEALTHCHECK requires at least one argument")
        }
        switch kind.uppercased() {
        case "NONE":
            guard node.arguments.count == 1, node.flags.isEmpty else {
                throw InstructionError("HEALTHCHECK NONE takes no arguments")
            }
            return .none
        case "CMD":
            let rest = Array(node.arguments.dropFirst())
            guard !rest.isEmpty, rest != [""] else { throw InstructionError("missing command after HEALTHCHECK CMD") }
            var options = HealthcheckOptions(command: node.isJSON ? .exec(rest) : .shell(rest[0]))
            func duration(_ flag: String) throws(InstructionError) -> Duration? {
                guard let raw = flags.string(flag) else { return nil }
                let value: Duration
                do {
                    value = try GoDuration.parse(raw)
                } catch {
                    switch error {
                    case .syntax:
                        throw InstructionError("invalid duration '\(raw)' for HEALTHCHECK --\(flag)")
                    case .outOfRange:
                        throw InstructionError(
                            "duration '\(raw)' for HEALTHCHECK --\(flag) is out of range (at most \(GoDuration.maximum))")
                    }
                }
                // Docker's rule: zero means "use the default"; anything else must be at least 1ms.
                if value != .zero, value < .milliseconds(1) {
                    throw InstructionError("HEALTHCHECK --\(flag) cannot be less than 1ms")
                }
                return value
            }
            options.interval = try duration("interval")
            options.timeout = try duration("timeout")
            options.startPeriod = try duration("start-period")
            options.startInterval = try duration("start-interval")
            if let raw = flags.string("retries") {
                guard let retries = Int(raw) else { throw InstructionError("invalid --retries value '\(raw)'") }
                guard retries >= 0 else { throw InstructionError("HEALTHCHECK --retries cannot be negative") }
                options.retries = retries
            }
            return .check(options)
        default:
            throw InstructionError("unknown type \"\(kind)\" in HEALTHCHECK (try CMD)")
        }
    }

    /// The text after the ONBUILD keyword (BuildKit stores the trigger line as written).
    private static func onbuildExpression(_ node: Node, _ trigger: Node) -> String {
        let original = node.original.trimmingSpaces
        if let space = original.firstIndex(where: { $0 == " " || $0 == "\t" }) {
            let rest = String(original[space...]).trimmingSpaces
            if !rest.isEmpty { return rest }
        }
        if !trigger.original.isEmpty { return trigger.original }
        return ([trigger.keywordAsWritten.uppercased()] + trigger.flags + trigger.arguments).joined(separator: " ")
    }
}
