import Foundation
import ImgFrontend
import ImgGraph
import ImgOCI

extension BuildWorker {
    /// The config op: a change to the image config only (and history, with `empty_layer`).
    func metadata(_ step: BuildStep, _ change: ConfigChange, parent: BuildState) throws -> BuildState {
        var result = parent
        var container = parent.container
        var history: String?
        // What of the history the key has, when not all of it.
        var keyHistory: String?
        // What this step changes, for the cache key; the parent's key already stands for the config before it.
        var changed: [String] = []
        switch change {
        case .env(let pairs):
            var list = container.env ?? []
            for pair in pairs {
                let prefix = pair.name + "="
                list.removeAll { $0.hasPrefix(prefix) || $0 == pair.name }
                list.append(prefix + pair.value)
                changed += [pair.name, pair.value]
            }
            container.env = list
            history = "ENV " + pairs.map { "\($0.name)=\($0.value)" }.joined(separator: " ")
        case .label(let pairs):
            var labels = container.labels ?? [:]
            for pair in pairs {
                labels[pair.name] = pair.value
                changed += [pair.name, pair.value]
            }
            container.labels = labels
            history = "LABEL " + pairs.map { "\($0.name)=\($0.value)" }.joined(separator: " ")
        case .expose(let ports):
            var exposed = container.exposedPorts ?? [:]
            for port in ports {
                let normalised = port.contains("/") ? port.lowercased() : port + "/tcp"
                exposed[normalised] = EmptyObject()
            }
            container.exposedPorts = exposed
            changed = ports
            // Current BuildKit's text: the ports with their protocol, in order, as a Go list.
            history = "EXPOSE [" + ports.map { $0.contains("/") ? $0.lowercased() : $0 + "/tcp" }.joined(separator: " ") + "]"
        case .volume(let paths):
            var volumes = container.volumes ?? [:]
            for path in paths { volumes[path] = EmptyObject() }
            container.volumes = volumes
            changed = paths
            history = "VOLUME " + paths.joined(separator: " ")
        case .user(let user):
            container.user = user
            changed = [user]
            history = "USER \(user)"
        case .cmd(let form):
            container.cmd = form.arguments(shell: container.shell)
            changed = container.cmd ?? []
            result.cmdSetInStage = true
            history = "CMD " + Self.historyForm(container.cmd ?? [])
        case .entrypoint(let form):
            container.entrypoint = form.arguments(shell: container.shell)
            // docker: an ENTRYPOINT clears a CMD inherited from the base; a CMD of this stage stays.
            if !parent.cmdSetInStage { container.cmd = nil }
            changed = container.entrypoint ?? []
            history = "ENTRYPOINT " + Self.historyForm(container.entrypoint ?? [])
        case .healthcheck(nil):
            container.healthcheck = Healthcheck(test: ["NONE"])
            history = "HEALTHCHECK NONE"
        case .healthcheck(let health?):
            container.healthcheck = health
            changed = [String(decoding: try JSONEncoder().encode(health), as: UTF8.self)]
            history = "HEALTHCHECK " + Self.historyForm(health.test ?? [])
        case .stopSignal(let signal):
            container.stopSignal = signal
            changed = [signal]
            history = "STOPSIGNAL \(signal)"
        case .onbuild(let trigger):
            container.onBuild = (container.onBuild ?? []) + [trigger]
            changed = [trigger]
            // BuildKit keeps the trigger in the config only: ONBUILD writes no history entry.
        case .shell(let shell):
            container.shell = shell
            changed = shell
            history = "SHELL " + Self.historyForm(shell)
        case .maintainer(let author):
            result.config.author = author
            history = "MAINTAINER \(author)"
        case .arg(let declared):
            // ARG values reach RUN through the step's args; only the history shows them, as BuildKit's does.
            // The key has the names only: a value reaches the key of the steps that use it, so steps that do
            // not stay cached when it changes (a cache hit takes this history from its parent).
            changed = declared.map(\.name)
            keyHistory = "ARG " + changed.joined(separator: " ")
            history = "ARG " + declared.map { arg in arg.value.map { "\(arg.name)=\($0)" } ?? arg.name }.joined(separator: " ")
        }
        result.container = container
        let key = change.cacheKey(parent: parent.cacheKey, changed: changed, author: result.config.author,
                                  history: keyHistory ?? history, cmdSetInStage: result.cmdSetInStage)
        result.cacheKey = key.finish()
        // A metadata step takes the time of the step before it, so an unchanged rebuild gives the same
        // config (and image digest) instead of a new one each time.
        if let history { result.appendEmpty(createdBy: history, created: parent.config.history?.last?.created ?? now) }
        return result
    }

    static func historyForm(_ words: [String]) -> String {
        // Not Foundation's replacingOccurrences: on Linux it goes through NSString.
        "[" + words.map { word in
            var quoted = "\""
            for character in word {
                if character == "\"" { quoted += "\\" }
                quoted.append(character)
            }
            return quoted + "\""
        }.joined(separator: " ") + "]"
    }
}
