import Glibc
package import ImgDockerfile
import ImgSystem

/// Where COPY/ADD sources come from.
package struct SourceTree: Sendable, Hashable {
    /// Absolute host directory: the build context, or another stage's (or image's) rootfs.
    package var root: String
    /// The `.dockerignore` rules (context only): ignored paths are invisible to COPY.
    package var ignore: IgnoreMatcher?
    /// Whether copies keep the source's owners. BuildKit resets context files to 0:0 (the client maps every
    /// uid/gid to 0 when it sends the context) but keeps the ids of files copied from a stage or image.
    package var keepsOwnership: Bool

    package init(root: String, ignore: IgnoreMatcher?, keepsOwnership: Bool) {
        self.root = root
        self.ignore = ignore.flatMap { $0.isEmpty ? nil : $0 }
        self.keepsOwnership = keepsOwnership
    }

    /// The build context at `root`, with the ignore file docker would use: `<Dockerfile>.dockerignore` next
    /// to the Dockerfile when it exists, else `<root>/.dockerignore`.
    package static func context(_ root: String, dockerfilePath: String?) throws(ContextError) -> SourceTree {
        let absolute = try absoluteDirectory(root)
        let matcher: IgnoreMatcher
        do {
            if let dockerfilePath {
                matcher = try IgnoreFile.matcher(contextDirectory: absolute, dockerfile: dockerfilePath)
            } else {
                // `IgnoreFile.location` wants a Dockerfile; without one only the context's own file applies.
                let general = absolute + "/.dockerignore"
                let text = try? SmallTextFile.read(general)
                matcher = try IgnoreMatcher(ignoreFileText: text ?? "", file: general)
            }
        } catch {
            throw ContextError(.invalidPattern, "\(error)", instruction: nil)
        }
        return SourceTree(root: absolute, ignore: matcher, keepsOwnership: false)
    }

    /// A directory copied from as it is (`COPY --from`): no ignore rules, owners kept.
    package static func directory(_ root: String) -> SourceTree {
        SourceTree(root: IgnorePath.clean(root), ignore: nil, keepsOwnership: true)
    }

    /// `root` made absolute and cleaned; it must be a directory.
    static func absoluteDirectory(_ root: String) throws(ContextError) -> String {
        var path = root
        if !path.hasPrefix("/") {
            guard let cwd = getcwd(nil, 0) else {
                throw ContextError(.io, "cannot resolve the build context \(root): \(String(cString: strerror(errno)))", instruction: nil)
            }
            path = String(cString: cwd) + "/" + path
            free(cwd)
        }
        path = IgnorePath.clean(path)
        var st = stat()
        guard stat(path, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else {
            throw ContextError(.notFound, "build context is not a directory: \(root)", instruction: nil)
        }
        return path
    }
}
