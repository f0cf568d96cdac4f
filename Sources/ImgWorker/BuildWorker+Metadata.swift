import Foundation
import ImgDockerfile
import ImgFrontend
import ImgGraph
import ImgOCI

extension BuildWorker {
    /// Instructions that only change the image config (and history, with `empty_layer`).
    func metadata(_ step: BuildStep, parent: BuildState) throws -> BuildState {
        var result = parent
        var container = parent.container
        var history: String?
        // What this step changes, for the cache key; the parent's key already stands for the config before it.
        var change: [String] = []
        switch step.instruction.command {
        case .env(let env):
            var list = container.env ?? []
            for pair in env.pairs {
                let prefix = pair.key + "="
                list.removeAll { $0.hasPrefix(prefix) || $0 == pair.key }
                list.append(prefix + pair.value)
                change += [pair.key, pair.value]
            }
            container.env = list
            history = "ENV " + env.pairs.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        case .label(let label):
            var labels = container.labels ?? [:]
            for pair in label.pairs {
                labels[pair.key] = pair.value
                change += [pair.key, pair.value]
            }
            container.labels = labels
            history = "LABEL " + label.pairs.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        case .expose(let ports):
            var exposed = container.exposedPorts ?? [:]
            for port in ports {
                let normalised = port.contains("/") ? port.lowercased() : port + "/tcp"
                exposed[normalised] = EmptyObject()
            }
            container.exposedPorts = exposed
            change = ports
            history = "EXPOSE " + ports.joined(separator: " ")
        case .volume(let paths):
            var volumes = container.volumes ?? [:]
            for path in paths { volumes[path] = EmptyObject() }
            container.volumes = volumes
            change = paths
            history = "VOLUME " + paths.joined(separator: " ")
        case .user(let user):
            container.user = user
            change = [user]
            history = "USER \(user)"
        case .cmd(let line):
            container.cmd = Self.words(line, shell: container.shell)
            change = container.cmd ?? []
            result.cmdSetInStage = true
            history = "CMD " + Self.historyForm(container.cmd ?? [])
        case .entrypoint(let line):
            container.entrypoint = Self.words(line, shell: container.shell)
            // docker: an ENTRYPOINT clears a CMD inherited from the base; a CMD of this stage stays.
            if !parent.cmdSetInStage { container.cmd = nil }
            change = container.entrypoint ?? []
            history = "ENTRYPOINT " + Self.historyForm(container.entrypoint ?? [])
        case .healthcheck(let check):
            switch check {
            case .none:
                container.healthcheck = Healthcheck(test: ["NONE"])
                history = "HEALTHCHECK NONE"
            case .check(let options):
                var health = Healthcheck(test: options.test)
                health.interval = options.interval.map(Self.nanoseconds)
                health.timeout = options.timeout.map(Self.nanoseconds)
                health.startPeriod = options.startPeriod.map(Self.nanoseconds)
                health.startInterval = options.startInterval.map(Self.nanoseconds)
                health.retries = options.retries
                container.healthcheck = health
                change = [String(decoding: try JSONEncoder().encode(health), as: UTF8.self)]
                history = "HEALTHCHECK " + Self.historyForm(options.test)
            }
        case .stopSignal(let signal):
            container.stopSignal = signal
            change = [signal]
            history = "STOPSIGNAL \(signal)"
        case .onbuild(let trigger):
            container.onBuild = (container.onBuild ?? []) + [trigger.expression]
            change = [trigger.expression]
            history = "ONBUILD \(trigger.expression)"
        case .shell(let shell):
            container.shell = shell
            change = shell
            history = "SHELL " + Self.historyForm(shell)
        case .maintainer(let author):
            result.config.author = author
            history = "MAINTAINER \(author)"
        case .arg:
            // ARG values reach RUN through the step's args; they are not part of the image.
            break
        case .from, .run, .copy, .add, .workdir:
            preconditionFailure("not a metadata instruction")
        }
        result.container = container
        var key = CacheKeyBuilder(kind: "metadata")
        key.add("parent", parent.cacheKey)
        // Keyed by what the step changes (its instruction's kind and expanded values) and its history line,
        // not by a reflection-built description of the instruction (a conformance scan per warm build), nor
        // by the whole config it leaves: encoding that at every step made N ENV lines cost N^2.
        key.add("instruction", step.instruction.keyword.name)
        key.add("change", change)
        key.add("author", result.config.author ?? "-")
        key.add("history", history ?? "-")
        key.add("cmd-set-in-stage", result.cmdSetInStage)
        result.cacheKey = key.finish()
        // A metadata step takes the time of the step before it, so an unchanged rebuild gives the same
        // config (and image digest) instead of a new one each time.
        if let history { result.appendEmpty(createdBy: history, created: parent.config.history?.last?.created ?? now) }
        return result
    }

    /// CMD/ENTRYPOINT/HEALTHCHECK words: exec form as written, shell form through SHELL.
    static func words(_ line: ImgDockerfile.CommandLine, shell: [String]?) -> [String] {
        switch line {
        case .exec(let words): words
        case .shell(let text): (shell ?? ["/bin/sh", "-c"]) + [text]
        }
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

    static func nanoseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
    }
}
