/// The SLSA provenance v1 predicate (https://slsa.dev/spec/v1.0/provenance): how an image was built
/// (`buildDefinition`) and by what (`runDetails`). img's build type is described in docs/provenance.md.
package struct SLSAProvenance: Codable, Sendable, Hashable {
    package struct ResourceDescriptor: Codable, Sendable, Hashable {
        package var uri: String
        package var digest: [String: String]

        package init(uri: String, digest: [String: String]) {
            self.uri = uri
            self.digest = digest
        }
    }

    /// What the build was asked: the Dockerfile (`configSource`) and the request's parameters.
    package struct ExternalParameters: Codable, Sendable, Hashable {
        package struct ConfigSource: Codable, Sendable, Hashable {
            package var uri: String?
            package var digest: [String: String]
            package var path: String

            package init(uri: String?, digest: [String: String], path: String) {
                self.uri = uri
                self.digest = digest
                self.path = path
            }
        }

        package struct Request: Codable, Sendable, Hashable {
            package var frontend = "dockerfile.v0"
            /// `target`, `platform`, and in `mode=max` each `build-arg:NAME`.
            package var args: [String: String]
            /// Only the names of the local directories sent, never their host paths.
            package var locals: [Local]

            package struct Local: Codable, Sendable, Hashable {
                package var name: String
                package init(name: String) { self.name = name }
            }

            package init(args: [String: String], locals: [Local]) {
                self.args = args
                self.locals = locals
            }
        }

        package var configSource: ConfigSource
        package var request: Request

        package init(configSource: ConfigSource, request: Request) {
            self.configSource = configSource
            self.request = request
        }
    }

    package struct InternalParameters: Codable, Sendable, Hashable {
        package var builderPlatform: String
        /// `mode=max`: the build's steps, as the progress titles them.
        package var buildSteps: [String]?

        package init(builderPlatform: String, buildSteps: [String]? = nil) {
            self.builderPlatform = builderPlatform
            self.buildSteps = buildSteps
        }
    }

    package struct BuildDefinition: Codable, Sendable, Hashable {
        package var buildType: String
        package var externalParameters: ExternalParameters
        package var internalParameters: InternalParameters
        package var resolvedDependencies: [ResourceDescriptor]

        package init(buildType: String, externalParameters: ExternalParameters, internalParameters: InternalParameters,
                     resolvedDependencies: [ResourceDescriptor]) {
            self.buildType = buildType
            self.externalParameters = externalParameters
            self.internalParameters = internalParameters
            self.resolvedDependencies = resolvedDependencies
        }
    }

    package struct Builder: Codable, Sendable, Hashable {
        package var id: String
        package var version: [String: String]

        package init(id: String, version: [String: String]) {
            self.id = id
            self.version = version
        }
    }

    /// Left out of a reproducible build (SOURCE_DATE_EPOCH set): the same build is the same statement.
    package struct Metadata: Codable, Sendable, Hashable {
        package var invocationId: String?
        package var startedOn: String?
        package var finishedOn: String?

        package init(invocationId: String?, startedOn: String?, finishedOn: String?) {
            self.invocationId = invocationId
            self.startedOn = startedOn
            self.finishedOn = finishedOn
        }
    }

    package struct RunDetails: Codable, Sendable, Hashable {
        package var builder: Builder
        package var metadata: Metadata?

        package init(builder: Builder, metadata: Metadata?) {
            self.builder = builder
            self.metadata = metadata
        }
    }

    /// img's build type: a Dockerfile built by img (docs/provenance.md).
    package static let buildType = "urn:img:build-type:dockerfile:v1"

    package var buildDefinition: BuildDefinition
    package var runDetails: RunDetails

    package init(buildDefinition: BuildDefinition, runDetails: RunDetails) {
        self.buildDefinition = buildDefinition
        self.runDetails = runDetails
    }
}
