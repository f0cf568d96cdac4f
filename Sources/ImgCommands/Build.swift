import ArgumentParser
import Foundation
import Glibc
import Img
import ImgOCI
import ImgRegistry
import ImgRuntime
import ImgSystem
import ImgWorker
import Synchronization

/// `img build [OPTIONS] PATH`: a Dockerfile and its context into an image, as docker build does; or, with
/// `--check`, only the Dockerfile's lint findings.
struct Build: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build", abstract: "Build an image from a Dockerfile.",
        discussion: """
            PATH is the build context directory (or - for a tar archive on stdin, or a git URL such as \
            https://host/repo.git#ref:dir); the Dockerfile defaults to \
            PATH/Dockerfile. With -t the image is stored under each name (see img ls). With --check, img \
            parses the Dockerfile, resolves its stages and prints each lint finding as FILE:LINE: \
            warning|error: Rule: message, without building.
            """
    )

    @OptionGroup var global: GlobalOptions
    @ParentCommand var root: ImgCommand

    @Flag(help: "Parse, resolve stages and run lint checks without building.")
    var check = false

    @Option(name: [.short, .customLong("tag")], help: ArgumentHelp("Name and optionally a tag (name:tag); repeatable.", valueName: "name"))
    var tags: [String] = []

    @Option(name: [.short, .customLong("file")], help: ArgumentHelp("Name of the Dockerfile (default: PATH/Dockerfile; - reads stdin).", valueName: "file"))
    var file: String?

    @Option(help: ArgumentHelp("Build stage to target.", valueName: "stage"))
    var target: String?

    @Option(name: .customLong("build-arg"), help: ArgumentHelp("Set a build-time variable (KEY=VALUE, or KEY to take it from the environment).", valueName: "key=value"))
    var buildArgs: [String] = []

    @Option(name: .customLong("label"), help: ArgumentHelp("Set a label on the image (KEY=VALUE).", valueName: "key=value"))
    var labels: [String] = []

    @Option(help: ArgumentHelp("Target platform, or several separated by commas for a multi-platform image (default: the host's).", valueName: "os/arch[/variant][,...]"))
    var platform: String?

    @Flag(name: .customLong("no-cache"), help: "Do not use the build cache.")
    var noCache = false

    @Flag(name: .customLong("no-console"), help: "Plain progress output (same as --progress plain).")
    var noConsole = false

    @Option(help: ArgumentHelp("Progress output: auto, tty or plain.", valueName: "type"))
    var progress: ProgressMode = .auto

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("Output: type=image|oci|docker|tar|local[,dest=...][,name=...][,push=true][,rewrite-timestamp=true], DIR, or - (rootfs tar to stdout).", valueName: "spec"))
    var outputs: [String] = []

    @Option(name: .customLong("secret"), help: ArgumentHelp("Secret for RUN --mount=type=secret: id=ID,src=FILE or id=ID,env=VAR.", valueName: "spec"))
    var secrets: [String] = []

    @Option(name: .customLong("ssh"), help: ArgumentHelp("SSH agent for RUN --mount=type=ssh: default (uses $SSH_AUTH_SOCK), or ID=SOCKET, or ID=KEY[,KEY...].", valueName: "spec"))
    var ssh: [String] = []

    @Option(name: .customLong("allow"), help: ArgumentHelp("Grant an entitlement: security.insecure (RUN --security=insecure) or network.host; repeatable or comma-separated.", valueName: "entitlement"))
    var allow: [String] = []

    @Option(name: .customLong("cache-to"), help: ArgumentHelp("Export the build cache: type=local,dest=DIR[,tag=T] or type=registry,ref=HOST/REPO:TAG, with [,mode=min|max][,ignore-error=true][,compression=gzip|zstd|uncompressed][,compression-level=N][,force-compression=true][,cache-mounts=true], or type=inline (in the image's config, mode=min); repeatable.", valueName: "spec"))
    var cacheTo: [String] = []

    @Option(name: .customLong("cache-from"), help: ArgumentHelp("Use a build cache when a step misses the local one: type=local,src=DIR[,tag=T], type=registry,ref=HOST/REPO:TAG, or HOST/REPO:TAG (a cache manifest or an image's inline cache); repeatable, tried in order.", valueName: "spec"))
    var cacheFrom: [String] = []

    @Option(name: .customLong("runtime"), help: ArgumentHelp("OCI runtime for RUN (default: runc).", valueName: "path"))
    var runtime: String?

    @Option(help: ArgumentHelp("Network of RUN steps that set none: default (the host's), none (loopback only) or host; a RUN's own --network wins.", valueName: "mode"))
    var network: String?

    @Option(name: .customLong("add-host"), help: ArgumentHelp("Add a line to /etc/hosts of RUN steps (HOST:IP or HOST=IP, IPv6 allowed); repeatable.", valueName: "host:ip"))
    var addHosts: [String] = []

    @Option(name: .customLong("shm-size"), help: ArgumentHelp("Size of /dev/shm in RUN steps (bytes, or with k, m, g: 128m; default 64m).", valueName: "size"))
    var shmSize: String?

    @Option(name: .customLong("ulimit"), help: ArgumentHelp("Resource limit of RUN steps (TYPE=SOFT[:HARD], TYPE one of docker's: nofile, nproc, core, memlock, stack, cpu, fsize, ...; -1 is unlimited); repeatable.", valueName: "type=soft[:hard]"))
    var ulimits: [String] = []

    @Option(name: .customLong("annotation"), help: ArgumentHelp("Add an OCI annotation to the image: [TYPE[[os/arch]]:]KEY=VALUE, TYPE manifest (default), index, manifest-descriptor or index-descriptor (the last three need several platforms, except manifest-descriptor for type=oci); repeatable.", valueName: "annotation"))
    var annotations: [String] = []

    @Option(name: .customLong("no-cache-filter"), help: ArgumentHelp("Do not use the build cache for the steps of these stages; repeatable or comma-separated.", valueName: "stage"))
    var noCacheFilter: [String] = []

    @Option(help: ArgumentHelp("Attach SLSA provenance v1: true (mode=min), false, or mode=min|max (max adds the build args); default: mode=min when pushing.", valueName: "value"))
    var provenance: String?

    @Option(help: ArgumentHelp("Attach an SPDX 2.3 SBOM of the image's packages: true or false.", valueName: "value"))
    var sbom: String?

    @Option(help: ArgumentHelp("Attestation: type=provenance[,mode=min|max][,disabled=true] or type=sbom[,disabled=true]; repeatable.", valueName: "spec"))
    var attest: [String] = []

    @Flag(help: "Reproducible image: SOURCE_DATE_EPOCH from the context's git commit time, or its newest file (as SOURCE_DATE_EPOCH=context); a number in SOURCE_DATE_EPOCH wins.")
    var reproducible = false

    @Flag(help: "Push the image to its registry (shorthand for -o type=image,push=true with the -t names).")
    var push = false

    @Flag(help: "Always ask the registry for base images, even when they are stored.")
    var pull = false

    @Flag(name: [.short, .long], help: "Print only the image digest (the build's output is shown only if it fails).")
    var quiet = false

    @Option(help: ArgumentHelp("Write the image digest (as img ls shows it) to the file.", valueName: "file"))
    var iidfile: String?

    @Option(name: .customLong("metadata-file"), help: ArgumentHelp("Write the build result's metadata (buildx's JSON keys) to the file.", valueName: "file"))
    var metadataFile: String?

    @Option(name: .customLong("build-context"), help: ArgumentHelp("Additional build context NAME=VALUE, used by FROM NAME, COPY --from=NAME and RUN --mount=from=NAME, replacing a stage or image of that name: a directory (its own .dockerignore applies), docker-image://REF[@DIGEST] or oci-layout://PATH[:TAG|@DIGEST]; repeatable.", valueName: "name=value"))
    var buildContexts: [String] = []

    @Argument(help: ArgumentHelp("Build context directory, - for a tar archive on stdin, or a git URL.", valueName: "PATH"))
    var context: String

    enum ProgressMode: String, ExpressibleByArgument, CaseIterable { case auto, tty, plain }

    func validate() throws {
        if file == "-" && context == "-" { throw ValidationError("the Dockerfile and the context cannot both come from stdin") }
        for output in outputs { _ = try BuildOutput(parsing: output) }
        _ = try entitlements()
    }

    /// `--allow` values, each a comma-separated list of buildx entitlement names.
    func entitlements() throws -> Set<Entitlement> {
        var granted: Set<Entitlement> = []
        for value in allow {
            for name in value.split(separator: ",", omittingEmptySubsequences: false) {
                let name = name.trimmingCharacters(in: .whitespaces)
                guard let entitlement = Entitlement(rawValue: name) else {
                    let known = Entitlement.allCases.map(\.rawValue).joined(separator: ", ")
                    throw ValidationError("--allow: unknown entitlement \"\(name)\" (known: \(known))")
                }
                granted.insert(entitlement)
            }
        }
        return granted
    }

    func run() async throws {
        let options = root.global.merged(with: global)
        let log = CommandLog(debug: options.debug)
        if check {
            try await reportingErrors {
                let source = try DockerfileSource.load(file: file, context: context)
                let args = try BuildArguments.parse(buildArgs)
                log.debug("checking \(source.displayName) (\(source.bytes.count) bytes), context \(context)")
                let outcome = try CheckRunner(log: log).run(source: source, target: target, buildArgs: args,
                                                         platform: platform?.split(separator: ",").first.map(String.init))
                if outcome.failed { throw ExitCode.failure }
            }
            return
        }
        try await reportingErrors {
            let request = try request()
            try enterNamespace(log)
            let engine = options.engine(log: log)
            let useTTY = switch progress {
            case .tty: true
            case .plain: false
            case .auto: !noConsole && isatty(2) != 0
            }
            // -q: the plain lines are kept and shown only if the build fails.
            let held = HeldOutput()
            let display: any ProgressDisplay = if quiet { PlainProgress(debug: options.debug, write: held.append) }
                else if useTTY { TTYProgress(debug: options.debug) } else { PlainProgress(debug: options.debug) }
            defer { display.stop() }
            let result: BuildResult?
            do {
                result = try await TransferProgress.$observer.withValue(BuildTransfers(display)) {
                    try await engine.build(request, progress: display)
                }
            } catch {
                if quiet { FileHandle.standardError.write(Data(held.text.utf8)) }
                throw error
            }
            try writeResult(result)
        }
    }

    /// `--iidfile`, `--metadata-file` and `-q`: each file written whole.
    private func writeResult(_ result: BuildResult?) throws {
        guard iidfile != nil || metadataFile != nil || quiet else { return }
        guard let result else {
            throw CommandError("--iidfile, --metadata-file and -q need an image output (-t NAME, or -o type=image|oci|docker)")
        }
        if let iidfile { try Self.writeWhole(Data(result.descriptor.digest.description.utf8), to: iidfile, flag: "--iidfile") }
        if let metadataFile { try Self.writeWhole(try result.metadataJSON, to: metadataFile, flag: "--metadata-file") }
        if quiet { print(result.descriptor.digest.description) }
    }

    /// Through `OutputFile`: a regular file is replaced whole, a device or FIFO (`/dev/null`, `/dev/stdout`)
    /// written into, never replaced.
    static func writeWhole(_ data: Data, to path: String, flag: String) throws {
        do {
            let file = try OutputFile(path)
            do {
                try data.withUnsafeBytes { try file.write($0) }
                try file.commit()
            } catch {
                file.abandon()
                throw error
            }
        } catch {
            throw CommandError("\(flag) \(path): cannot write: \(error)")
        }
    }

    /// The flags as a request for the engine.
    func request() throws -> BuildRequest {
        var request = BuildRequest(context: context)
        request.dockerfile = file
        request.target = target
        request.buildArgs = buildArgs
        request.labels = labels
        request.platform = platform
        request.noCache = noCache
        request.tags = tags
        request.outputs = try outputs.map { try BuildOutput(parsing: $0) }
        request.secrets = secrets
        request.ssh = ssh
        request.entitlements = try entitlements()
        request.runtime = runtime
        request.cacheTo = try cacheTo.map { try CacheExportSpec(parsing: $0) }
        request.cacheFrom = try cacheFrom.map { try CacheImportSpec(parsing: $0) }
        request.buildContexts = try buildContexts.map { try BuildContextSpec(parsing: $0) }
        request.push = push
        request.pull = pull
        if let network { request.network = try BuildRequest.network(parsing: network) }
        request.extraHosts = try addHosts.map(BuildRequest.extraHost(parsing:))
        request.shmSize = try shmSize.map(BuildRequest.shmSize(parsing:))
        request.ulimits = try ulimits.map(BuildRequest.ulimit(parsing:))
        request.annotations = ImageAnnotations(try annotations.flatMap(BuildRequest.annotation(parsing:)))
        request.noCacheStages = try BuildRequest.noCacheStages(parsing: noCacheFilter)
        for spec in attest { try request.attestations.parse(attest: spec) }
        if let provenance { try request.attestations.parse(provenance: provenance) }
        if let sbom { try request.attestations.parse(sbom: sbom) }
        request.builder = BuilderIdentity(version: VersionInfo.current.version, commit: VersionInfo.current.commit)
        request.epoch = try EpochSource.requested(reproducible: reproducible, environment: ProcessInfo.processInfo.environment)
        return request
    }

    /// Rootless: img's user namespace (subuid-mapped); as root: a private mount namespace, so no snapshot
    /// mount is ever visible to (or left behind on) the host.
    private func enterNamespace(_ log: CommandLog) throws {
        do { try UserNamespace.enterIfNeeded(privateMountsForRoot: true) } catch {
            throw CommandError("\(error)")
        }
        if UserNamespace.enteredDirectly {
            log.debug("user namespace: entered at start-up, ids mapped by newuidmap/newgidmap (no re-exec)")
        }
        log.debug("id mapping: \(UserNamespace.mappingDescription)")
        log.debug("sandbox: \(StepIsolation.current.description)")
        if UserNamespace.mapping == .single {
            // As podman does: the build goes on, but a RUN that needs another id will fail, so say it up front.
            StandardError.print("warning: no subordinate id range (or no newuidmap) for uid \(UserNamespace.outsideUID): building with a single id, RUN steps can use only uid and gid 0; add a range to /etc/subuid and /etc/subgid for the others")
        }
    }
}

/// `-q`: progress lines kept in memory, for the error case.
final class HeldOutput: Sendable {
    private let lines = Mutex("")
    var text: String { lines.withLock { $0 } }
    func append(_ line: String) { lines.withLock { $0 += line } }
}
