import ImgErrors
package import ImgSystem

/// What stops a scan: the root cannot be opened, a package database cannot be read or is too big, or it is
/// not what its name says. Each names the file inside the root.
package enum SBOMError: ImgError {
    /// The root directory itself could not be opened.
    case root(String, SystemError)
    /// A file inside the root could not be read (not a missing one: those are skipped).
    case read(String, SystemError)
    /// A package database is bigger than any real one; read no further rather than exhaust memory.
    case tooLarge(String, size: Int64, limit: Int64)
    /// A package database that cannot be parsed at all.
    case malformed(String, String)
    /// The tree has more directories than the scan will walk.
    case tooManyDirectories(String, limit: Int)

    package var errorCode: String {
        switch self {
        case .root: "sbom-root"
        case .read: "sbom-read"
        case .tooLarge: "sbom-too-large"
        case .malformed: "sbom-malformed"
        case .tooManyDirectories: "sbom-too-many-directories"
        }
    }

    package var description: String {
        switch self {
        case .root(let path, let error): "sbom: cannot open root \(path): \(error)"
        case .read(let path, let error): "sbom: cannot read \(path): \(error)"
        case .tooLarge(let path, let size, let limit): "sbom: \(path) is \(size) bytes, more than the \(limit) a package database may have"
        case .malformed(let path, let reason): "sbom: \(path) is malformed: \(reason)"
        case .tooManyDirectories(let root, let limit): "sbom: \(root) has more than \(limit) directories to search for Python packages"
        }
    }

    package var underlyingError: (any Error)? {
        switch self {
        case .root(_, let error), .read(_, let error): error
        default: nil
        }
    }
}
