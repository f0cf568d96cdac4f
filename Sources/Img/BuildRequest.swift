package import ImgOCI
package import ImgRuntime
package import ImgWorker

/// Everything one `img build` asks for, as the engine takes it: the command line maps its flags onto this.
package struct BuildRequest: Sendable {
    /// The context directory, or `-` for a tar archive on standard input.
    package var context: String
    /// `-f`: the Dockerfile (relative to the working directory, `-` for standard input); nil is
    /// `CONTEXT/Dockerfile`.
    package var dockerfile: String?
    package var target: String?
    /// `--build-arg` values, `KEY=VALUE` or `KEY` (from the environment).
    package var buildArgs: [String] = []
    /// `--label` values, `KEY=VALUE`.
    package var labels: [String] = []
    /// `--platform`: one or several comma-separated `os/arch[/variant]`; nil is the host's.
    package var platform: String?
    package var noCache = false
    /// `-t` names: stored as `type=image` unless an image output already takes them.
    package var tags: [String] = []
    package var outputs: [BuildOutput] = []
    /// `--secret` specs (`id=ID,src=FILE` or `id=ID,env=VAR`).
    package var secrets: [String] = []
    /// `--ssh` specs.
    package var ssh: [String] = []
    package var entitlements: Set<Entitlement> = []
    /// `--runtime`: the OCI runtime for RUN; nil is runc.
    package var runtime: String?
    /// `--cache-to`: where the build's cache is exported, each in turn.
    package var cacheTo: [CacheExportSpec] = []
    /// `--cache-from`: caches asked, in order, when a step misses the local cache.
    package var cacheFrom: [CacheImportSpec] = []

    /// `--build-context NAME=VALUE`, parsed.
    package var buildContexts: [BuildContextSpec] = []

    /// `--push`: the image output (made from `-t` if there is none) is pushed too, as `push=true` does.
    package var push = false
    /// `--pull`: base images are resolved against their registry even when stored.
    package var pull = false

    /// `--network`: the network of RUN steps that name none.
    package var network: RunStep.Network = .host
    /// `--add-host`: extra `/etc/hosts` lines of RUN steps.
    package var extraHosts: [RunStep.ExtraHost] = []
    /// `--shm-size` in bytes; nil is 64 MiB.
    package var shmSize: Int64?
    /// `--ulimit`: resource limits of RUN steps.
    package var ulimits: [RunStep.Ulimit] = []
    /// `--annotation`: for the manifests, index and descriptors the outputs write.
    package var annotations = ImageAnnotations()
    /// `--no-cache-filter`: stage names whose steps run again.
    package var noCacheStages: [String] = []
    /// `--provenance`, `--sbom`, `--attest`.
    package var attestations = AttestationOptions()
    /// The img building, named in provenance.
    package var builder = BuilderIdentity.unknown
    /// `SOURCE_DATE_EPOCH` (a number, or `context`) or `--reproducible`: see `ImgEngine+Epoch`.
    package var epoch: EpochSource?

    package init(context: String) { self.context = context }
}
