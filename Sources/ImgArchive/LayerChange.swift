package import ImgSystem

/// One difference between two trees, in the order a layer tar writes it.
package struct LayerChange: Sendable, Hashable, CustomStringConvertible {
    package enum Kind: String, Sendable, Hashable {
        /// New in the upper tree.
        case added
        /// In both, but different (overlay diffs cannot tell added from modified and say modified).
        case modified
        /// Gone from the upper tree: written as `.wh.NAME`.
        case deleted
        /// The directory at `path` hides everything below it in lower layers: `.wh..wh..opq`.
        case opaque
        /// An unchanged directory written only because something beneath it changed.
        case parent
    }

    /// Relative path, components joined by `/`.
    package var path: String
    package var kind: Kind
    /// The upper tree's file (nil for `deleted` and `opaque`).
    package var status: FileStatus?
    package var xattrs: [String: [UInt8]]
    package var linkTarget: String?

    package init(path: String, kind: Kind, status: FileStatus? = nil, xattrs: [String: [UInt8]] = [:], linkTarget: String? = nil) {
        self.path = path
        self.kind = kind
        self.status = status
        self.xattrs = xattrs
        self.linkTarget = linkTarget
    }

    package var description: String { "\(kind.rawValue) \(path)" }
}
