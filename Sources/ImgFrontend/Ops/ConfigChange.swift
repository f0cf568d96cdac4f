package import ImgGraph
package import ImgOCI

/// The config op: what an instruction that makes no layer changes in the image config.
package enum ConfigChange: Sendable, Hashable {
    case env([NamedValue])
    case label([NamedValue])
    case expose([String])
    case volume([String])
    case user(String)
    case cmd(CommandForm)
    case entrypoint(CommandForm)
    /// Nil for `HEALTHCHECK NONE`.
    case healthcheck(Healthcheck?)
    case stopSignal(String)
    /// The trigger as written after ONBUILD.
    case onbuild(String)
    case shell([String])
    case maintainer(String)
    /// ARG: its values reach later steps through `BuildStep.args`; nothing in the image changes but the
    /// history, where BuildKit writes each name with the value it got (none when it has no value).
    case arg([DeclaredArg])

    /// The instruction's name, as the key has it.
    package var keyword: String {
        switch self {
        case .env: "ENV"
        case .label: "LABEL"
        case .expose: "EXPOSE"
        case .volume: "VOLUME"
        case .user: "USER"
        case .cmd: "CMD"
        case .entrypoint: "ENTRYPOINT"
        case .healthcheck: "HEALTHCHECK"
        case .stopSignal: "STOPSIGNAL"
        case .onbuild: "ONBUILD"
        case .shell: "SHELL"
        case .maintainer: "MAINTAINER"
        case .arg: "ARG"
        }
    }
}

/// One name of an ARG instruction and the value it has in the stage (a build arg, its default, or the global
/// ARG it inherits), nil when it has none.
package struct DeclaredArg: Sendable, Hashable {
    package var name: String
    package var value: String?

    package init(_ name: String, _ value: String?) {
        self.name = name
        self.value = value
    }
}

extension ConfigChange {
    /// The step's key, given what the worker computed from the parent's config: the values it changes, the
    /// author and the history line. Keyed by these, not by a reflection-built description of the
    /// instruction (a conformance scan per warm build), nor by the whole config it leaves: encoding that at
    /// every step made N ENV lines cost N^2.
    package func cacheKey(parent: Digest, changed: [String], author: String?, history: String?,
                          cmdSetInStage: Bool) -> CacheKeyBuilder {
        var key = CacheKeyBuilder(kind: "metadata")
        key.add("parent", parent)
        key.add("instruction", keyword)
        key.add("change", changed)
        key.add("author", author ?? "-")
        key.add("history", history ?? "-")
        key.add("cmd-set-in-stage", cmdSetInStage)
        return key
    }
}
