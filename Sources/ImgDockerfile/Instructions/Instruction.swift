/// One typed Dockerfile instruction with where it came from. Produced from a parser `Node` by
/// `Instruction.init(node:file:)`; values are as written until a `BuildPlan` expands them.
package struct Instruction: Sendable, Hashable {
    package var command: Command
    /// 1-based first and last physical line (heredoc bodies included).
    package var startLine: Int
    package var endLine: Int
    /// The parser node this came from (one word: copies share its storage).
    package var node: Node

    /// The keyword as the user wrote it (`Run`), for casing checks.
    package var keywordAsWritten: String { node.keywordAsWritten }
    package var keyword: Keyword { command.keyword }

    package init(command: Command, startLine: Int, endLine: Int, node: Node) {
        self.command = command
        self.startLine = startLine
        self.endLine = endLine
        self.node = node
    }
}

/// Every instruction keyword BuildKit knows.
package enum Keyword: String, Sendable, Hashable, CaseIterable {
    case from, run, cmd, label, maintainer, expose, env, add, copy, entrypoint, volume, user, workdir, arg,
        onbuild, stopsignal, healthcheck, shell

    /// The conventional upper-case spelling, used in messages.
    package var name: String { rawValue.uppercased() }
}

/// The meaning of an instruction. The large payloads are boxed (`indirect`) so that a `Command`, and with
/// it every `Instruction` of a long ENV/LABEL file, stays a few words wide instead of the widest case's size.
package enum Command: Sendable, Hashable {
    indirect case from(FromCommand)
    indirect case run(RunCommand)
    case cmd(CommandLine)
    case entrypoint(CommandLine)
    indirect case copy(CopyCommand)
    indirect case add(CopyCommand)
    case env(KeyValueCommand)
    case label(KeyValueCommand)
    case arg([ArgDeclaration])
    case expose([String])
    case volume([String])
    case user(String)
    case workdir(String)
    indirect case healthcheck(Healthcheck)
    case stopSignal(String)
    indirect case onbuild(OnbuildCommand)
    case shell([String])
    case maintainer(String)

    package var keyword: Keyword {
        switch self {
        case .from: .from
        case .run: .run
        case .cmd: .cmd
        case .entrypoint: .entrypoint
        case .copy: .copy
        case .add: .add
        case .env: .env
        case .label: .label
        case .arg: .arg
        case .expose: .expose
        case .volume: .volume
        case .user: .user
        case .workdir: .workdir
        case .healthcheck: .healthcheck
        case .stopSignal: .stopsignal
        case .onbuild: .onbuild
        case .shell: .shell
        case .maintainer: .maintainer
        }
    }
}

/// `FROM [--platform=P] image [AS name]`.
package struct FromCommand: Sendable, Hashable {
    package var image: String
    /// The stage name as written (BuildKit compares it lower-cased).
    package var stageName: String?
    /// The `AS` keyword as written, for the FromAsCasing check.
    package var asKeywordAsWritten: String?
    package var platform: String?

    package init(image: String, stageName: String? = nil, asKeywordAsWritten: String? = nil, platform: String? = nil) {
        self.image = image
        self.stageName = stageName
        self.asKeywordAsWritten = asKeywordAsWritten
        self.platform = platform
    }
}

/// The shell form (one string run by the stage's SHELL) or the exec form (a JSON array).
package enum CommandLine: Sendable, Hashable {
    case shell(String)
    case exec([String])

    package var isShellForm: Bool {
        if case .shell = self { return true }
        return false
    }
}

/// `RUN [--mount=...] [--network=...] [--security=...] command`.
package struct RunCommand: Sendable, Hashable {
    package var command: CommandLine
    /// Heredocs on the RUN line (`RUN <<EOF`); bodies are kept as the parser read them.
    package var heredocs: [Heredoc]
    package var mounts: [RunMount]
    package var network: NetworkMode?
    package var security: SecurityMode?

    package init(command: CommandLine, heredocs: [Heredoc] = [], mounts: [RunMount] = [], network: NetworkMode? = nil,
                 security: SecurityMode? = nil) {
        self.command = command
        self.heredocs = heredocs
        self.mounts = mounts
        self.network = network
        self.security = security
    }
}

package enum NetworkMode: String, Sendable, Hashable, CaseIterable {
    case `default`, none, host
}

package enum SecurityMode: String, Sendable, Hashable, CaseIterable {
    case sandbox, insecure
}

/// A COPY or ADD source: a path (pattern, URL, git address) or an inline heredoc file.
package enum CopySource: Sendable, Hashable {
    case path(String)
    case heredoc(Heredoc)
}

/// COPY and ADD share one shape; the ADD-only options stay nil/false for COPY.
package struct CopyCommand: Sendable, Hashable {
    package var sources: [CopySource]
    package var destination: String
    package var from: String?
    package var chown: String?
    package var chmod: String?
    package var link: Bool
    package var parents: Bool
    package var excludes: [String]
    /// ADD only.
    package var checksum: String?
    /// ADD only; nil when the flag was not given.
    package var keepGitDir: Bool?

    package init(sources: [CopySource], destination: String, from: String? = nil, chown: String? = nil,
                 chmod: String? = nil, link: Bool = false, parents: Bool = false, excludes: [String] = [],
                 checksum: String? = nil, keepGitDir: Bool? = nil) {
        self.sources = sources
        self.destination = destination
        self.from = from
        self.chown = chown
        self.chmod = chmod
        self.link = link
        self.parents = parents
        self.excludes = excludes
        self.checksum = checksum
        self.keepGitDir = keepGitDir
    }
}

package struct KeyValue: Sendable, Hashable {
    package var key: String
    package var value: String
    package init(_ key: String, _ value: String) {
        self.key = key
        self.value = value
    }
}

/// ENV or LABEL pairs.
package struct KeyValueCommand: Sendable, Hashable {
    package var pairs: [KeyValue]
    /// True for the legacy `ENV key value` form (no `=`).
    package var isLegacyFormat: Bool

    package init(pairs: [KeyValue], isLegacyFormat: Bool = false) {
        self.pairs = pairs
        self.isLegacyFormat = isLegacyFormat
    }
}

/// One `name[=default]` of an ARG line.
package struct ArgDeclaration: Sendable, Hashable {
    package var name: String
    package var defaultValue: String?
    package init(name: String, defaultValue: String? = nil) {
        self.name = name
        self.defaultValue = defaultValue
    }
}

/// `HEALTHCHECK NONE` or `HEALTHCHECK [options] CMD ...`.
package enum Healthcheck: Sendable, Hashable {
    case none
    case check(HealthcheckOptions)
}

package struct HealthcheckOptions: Sendable, Hashable {
    package var command: CommandLine
    package var interval: Duration?
    package var timeout: Duration?
    package var startPeriod: Duration?
    package var startInterval: Duration?
    package var retries: Int?

    package init(command: CommandLine, interval: Duration? = nil, timeout: Duration? = nil,
                 startPeriod: Duration? = nil, startInterval: Duration? = nil, retries: Int? = nil) {
        self.command = command
        self.interval = interval
        self.timeout = timeout
        self.startPeriod = startPeriod
        self.startInterval = startInterval
        self.retries = retries
    }

    /// The image config's `Test` array: `["CMD", ...]` or `["CMD-SHELL", "..."]`.
    package var test: [String] {
        switch command {
        case .exec(let words): ["CMD"] + words
        case .shell(let line): ["CMD-SHELL", line]
        }
    }
}

/// `ONBUILD <instruction>`: stored for the image config, run by whoever builds on this image.
package struct OnbuildCommand: Sendable, Hashable {
    package var trigger: Node
    /// The trigger as it goes into the image config (`RUN echo hi`).
    package var expression: String

    package init(trigger: Node, expression: String) {
        self.trigger = trigger
        self.expression = expression
    }
}
