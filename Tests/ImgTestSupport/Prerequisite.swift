// Prerequisite.swift owns the one prerequisite policy of every test target: what a test needs from the host.
//
// A `Prerequisite` is checked twice. The trait `.needs(...)` enables the test when everything is there, and
// always under `CI=true`; elsewhere the test is a visible skip whose comment names what is missing. The
// `require` at the top of the test body throws `MissingPrerequisite` naming the fix, so under `CI=true` a
// missing prerequisite is a failure, never a skip.
package import Testing
import Foundation
import Glibc
import ImgSystem

/// Something a test cannot run without: a tool on the PATH, root, a device, a data directory.
package struct Prerequisite: Sendable, CustomStringConvertible {
    /// What is needed, as a skip names it: `docker-registry (Debian package docker-registry)`.
    package let description: String
    /// What was found (a path, `root`), or nil when it is missing.
    private let locate: @Sendable () -> String?

    package init(_ description: String, locate: @escaping @Sendable () -> String?) {
        self.description = description
        self.locate = locate
    }

    /// What was found: the tool's path, the directory; nil when missing.
    package var found: String? { locate() }
    package var isPresent: Bool { found != nil }

    /// `CI=true`: a missing prerequisite fails instead of skipping.
    package static var isCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    /// For `.enabled(if:)`: true when every prerequisite is present, and always under `CI=true`, where the
    /// test runs and its `require` fails naming what is missing.
    package static func met(_ prerequisites: [Prerequisite]) -> Bool { isCI || prerequisites.allSatisfy(\.isPresent) }
    package static func met(_ prerequisites: Prerequisite...) -> Bool { met(prerequisites) }

    /// Throws `MissingPrerequisite` naming everything missing.
    package static func require(_ prerequisites: Prerequisite...) throws { try require(prerequisites) }
    package static func require(_ prerequisites: [Prerequisite]) throws {
        let missing = prerequisites.filter { !$0.isPresent }
        guard missing.isEmpty else { throw MissingPrerequisite(missing) }
    }

    /// What was found (for a tool its path), or `MissingPrerequisite` naming the fix.
    @discardableResult
    package func require() throws -> String {
        guard let found else { throw MissingPrerequisite([self]) }
        return found
    }
}

/// A prerequisite the test cannot do without, naming the fix.
package struct MissingPrerequisite: Error, CustomStringConvertible {
    package var description: String
    package init(description: String) { self.description = description }
    package init(_ missing: [Prerequisite]) {
        description = "missing prerequisite: " + missing.map(\.description).joined(separator: ", ")
    }
}

extension Trait where Self == ConditionTrait {
    /// Enables the test when every prerequisite is present, and always under `CI=true` (where the test's
    /// `require` then fails naming what is missing); elsewhere skips it with a comment naming them.
    package static func needs(_ prerequisites: Prerequisite..., sourceLocation: SourceLocation = #_sourceLocation) -> Self {
        needs(prerequisites, sourceLocation: sourceLocation)
    }

    package static func needs(_ prerequisites: [Prerequisite], sourceLocation: SourceLocation = #_sourceLocation) -> Self {
        // The comment, shown with a skip, names what is missing (all of them when nothing is).
        let missing = prerequisites.filter { !$0.isPresent }
        return .enabled(if: Prerequisite.met(prerequisites),
                        Comment(rawValue: "needs " + (missing.isEmpty ? prerequisites : missing).map(\.description).joined(separator: ", ")),
                        sourceLocation: sourceLocation)
    }
}

/// The PATH tools are looked up on, whatever the test runner's own PATH is.
package let standardPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

extension Prerequisite {
    /// `name` on `standardPath`, from Debian package `package`.
    package static func tool(_ name: String, package: String) -> Prerequisite {
        Prerequisite("\(name) (Debian package \(package))") { ExecutableLookup.find(name, searchPath: standardPath) }
    }

    /// The executable at exactly `path`, from Debian package `package`.
    package static func executable(_ path: String, package: String) -> Prerequisite {
        Prerequisite("\(path) (Debian package \(package))") { access(path, X_OK) == 0 ? path : nil }
    }

    /// An existing file or directory `path`; `description` names it and the fix.
    package static func path(_ path: String, _ description: String) -> Prerequisite {
        Prerequisite(description) { access(path, F_OK) == 0 ? path : nil }
    }

    /// The Python 3 module `module`, from Debian package `package`.
    package static func pythonModule(_ module: String, package: String) -> Prerequisite {
        Prerequisite("Python module \(module) (Debian package \(package))") {
            guard let python = ExecutableLookup.find("python3", searchPath: standardPath),
                  let result = try? ChildProcess.collect(executable: python, arguments: ["-c", "import \(module)"]),
                  result.status.isSuccess
            else { return nil }
            return python
        }
    }

    /// Effective uid 0: mounts, users, namespaces and containers.
    package static let root = Prerequisite("root (run the tests as root)") { geteuid() == 0 ? "root" : nil }

    /// `imgtest` and `imgnosub` (`TestUsers`): root to create them, uidmap for the range, runuser to be them.
    package static let rootlessTestUsers = Prerequisite(
        "the unprivileged test users with a subordinate id range (root, Debian packages uidmap, util-linux)"
    ) {
        geteuid() == 0 && ExecutableLookup.find("newuidmap", searchPath: standardPath) != nil
            && ExecutableLookup.find("runuser", searchPath: standardPath) != nil ? TestUsers.withRange : nil
    }

    /// `/dev/fuse`, for fuse-overlayfs.
    package static let devFuse = path("/dev/fuse", "/dev/fuse (modprobe fuse)")

    package static let dockerRegistry = tool("docker-registry", package: "docker-registry")
    package static let skopeo = tool("skopeo", package: "skopeo")
    package static let umoci = tool("umoci", package: "umoci")
    package static let openssl = tool("openssl", package: "openssl")
    package static let htpasswd = tool("htpasswd", package: "apache2-utils")
    package static let python3 = tool("python3", package: "python3")
    package static let tar = tool("tar", package: "tar")
    package static let gzip = tool("gzip", package: "gzip")
    package static let zstd = tool("zstd", package: "zstd")
    package static let sha256sum = tool("sha256sum", package: "coreutils")
    package static let runc = tool("runc", package: "runc")
    package static let newuidmap = tool("newuidmap", package: "uidmap")
    package static let runuser = tool("runuser", package: "util-linux")
    package static let fuseOverlayfs = tool("fuse-overlayfs", package: "fuse-overlayfs")
    package static let setpriv = executable("/usr/bin/setpriv", package: "util-linux")
    package static let capsh = executable("/usr/sbin/capsh", package: "libcap2-bin")
    /// Debian's static busybox, which the test images copy in (a dynamic one would not run there).
    package static let busybox = executable("/bin/busybox", package: "busybox-static")
}
