import Foundation
import ImgContext
import ImgDockerfile
import ImgOCI
import ImgSystem
import ImgWorker

/// What provenance says of the whole build, gathered before the build runs; each platform adds its own
/// materials (docs/provenance.md).
struct ProvenanceInputs: Sendable {
    var mode: AttestationOptions.ProvenanceMode
    var builder: BuilderIdentity
    var dockerfileDigest: Digest
    /// Relative to the context, or the file's name: never a host path.
    var dockerfilePath: String
    /// The context's repository (without credentials) and commit, when it is one.
    var contextRemote: String?
    var contextCommit: String?
    var target: String?
    /// `mode=max` only.
    var buildArgs: [String: String]
    var started: Date
    /// nil, or SOURCE_DATE_EPOCH: then no time or invocation id is written (the same build, the same bytes).
    var sourceDateEpoch: Int64?

    func predicate(platform: Platform, materials: [BuildMaterial], finished: Date) -> SLSAProvenance {
        var args: [String: String] = ["platform": platform.description]
        if let target { args["target"] = target }
        if mode == .max {
            for (key, value) in buildArgs { args["build-arg:" + key] = value }
        }
        var digest: [String: String] = [dockerfileDigest.algorithm.rawValue: dockerfileDigest.hex]
        if let contextCommit { digest["sha1"] = contextCommit }
        var dependencies = materials.map { SLSAProvenance.ResourceDescriptor(uri: $0.uri, digest: $0.digest) }
        if let contextRemote, let contextCommit {
            dependencies.insert(SLSAProvenance.ResourceDescriptor(uri: contextRemote, digest: ["sha1": contextCommit]), at: 0)
        }
        let definition = SLSAProvenance.BuildDefinition(
            buildType: SLSAProvenance.buildType,
            externalParameters: .init(
                configSource: .init(uri: contextRemote, digest: digest, path: dockerfilePath),
                request: .init(args: args, locals: [.init(name: "context"), .init(name: "dockerfile")])),
            internalParameters: .init(builderPlatform: BuildPlatform.host.description),
            resolvedDependencies: dependencies)
        let metadata: SLSAProvenance.Metadata? = sourceDateEpoch != nil ? nil : .init(
            invocationId: UUID().uuidString.lowercased(),
            startedOn: Self.rfc3339(started), finishedOn: Self.rfc3339(finished))
        return SLSAProvenance(
            buildDefinition: definition,
            runDetails: .init(builder: .init(id: "pkg:generic/img@\(builder.version)",
                                             version: ["img": builder.version, "commit": builder.commit]),
                              metadata: metadata))
    }

    /// The in-toto statement about `manifest`, for each of the image's names.
    func statement(platform: Platform, materials: [BuildMaterial], manifest: Descriptor,
                   names: [Reference]) throws -> AttestationStatement {
        let subjects = InTotoStatement<SLSAProvenance>.subjects(of: manifest.digest, names: names, platform: platform)
        let statement = InTotoStatement(subject: subjects, predicateType: Attestation.slsaProvenanceV1,
                                        predicate: predicate(platform: platform, materials: materials, finished: Date()))
        return AttestationStatement(predicateType: Attestation.slsaProvenanceV1, bytes: try statement.encoded())
    }

    static func rfc3339(_ date: Date) -> String {
        RFC3339.string(secondsSince1970: Int64(date.timeIntervalSince1970.rounded(.down)))
    }
}

extension BuildRun {
    /// The provenance this build attaches, or nil.
    func provenanceInputs(source: DockerfileSource, dockerfilePath: String?, contextDirectory: String,
                          gitContext: (address: GitAddress, commit: String)?, outputs: [BuildOutput],
                          started: Date) throws -> ProvenanceInputs? {
        let pushing = outputs.contains { $0.push }
        guard let mode = command.attestations.provenanceMode(pushing: pushing) else { return nil }
        var remote: String?, commit: String?
        if let gitContext {
            remote = gitContext.address.withoutUser
            commit = gitContext.commit
        } else if command.context != "-" {
            (remote, commit) = Self.workTree(of: contextDirectory)
        }
        return ProvenanceInputs(
            mode: mode, builder: command.builder, dockerfileDigest: .sha256(of: source.bytes),
            dockerfilePath: Self.relativeDockerfile(dockerfilePath, context: contextDirectory),
            contextRemote: remote, contextCommit: commit, target: command.target,
            buildArgs: mode == .max ? try BuildArguments.parse(command.buildArgs) : [:],
            started: started, sourceDateEpoch: nil)
    }

    /// The Dockerfile as provenance names it: its path inside the context, else only its file name.
    static func relativeDockerfile(_ path: String?, context: String) -> String {
        guard let path else { return "Dockerfile" }
        let file = URL(filePath: path).standardizedFileURL.path
        let root = URL(filePath: context).standardizedFileURL.path
        if file.hasPrefix(root + "/") { return String(file.dropFirst(root.count + 1)) }
        return URL(filePath: file).lastPathComponent
    }

    /// A local context inside a git work tree: its `origin` remote (without credentials) and HEAD commit.
    static func workTree(of directory: String) -> (remote: String?, commit: String?) {
        guard let (commit, _) = workTreeCommit(directory), let git = ExecutableLookup.find("git") else { return (nil, nil) }
        var remote: String?
        // Read only, as workTreeCommit: a checkout owned by another user is still read.
        if let origin = try? ChildProcess.collect(executable: git, arguments: ["-c", "safe.directory=*", "-C", directory,
                                                                             "remote", "get-url", "origin"]),
           origin.status.isSuccess {
            let url = origin.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            // A remote that is a local path would name the host's file system: left out.
            if url.contains("://") || url.contains("@") {
                remote = GitAddress.parse(url)?.withoutUser
            }
        }
        return (remote, commit.count == 40 ? commit : nil)
    }
}
