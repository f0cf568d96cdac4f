package import ImgOCI

/// How a layer is applied into a directory.
package struct LayerApplyOptions: Sendable, Hashable {
    /// What to do with OCI whiteouts (`.wh.NAME`, `.wh..wh..opq`).
    package enum Whiteouts: Sendable, Hashable {
        /// The directory already holds the lower layers: delete what the whiteouts name (`img unpack`,
        /// the native snapshotter).
        case merged
        /// The directory is one overlayfs lowerdir: turn whiteouts into overlayfs's own markers.
        case overlay(OverlayWhiteouts)
        /// Plain extraction: `.wh.` files are ordinary files.
        case literal
    }

    /// Which overlay markers to write.
    package struct OverlayWhiteouts: Sendable, Hashable {
        package enum Namespace: String, Sendable, Hashable {
            /// `trusted.overlay.*`: the kernel's default, needs CAP_SYS_ADMIN to set.
            case trusted
            /// `user.overlay.*`: what a mount with the `userxattr` option (rootless) reads.
            case user
        }
        /// How a deleted name is marked.
        package enum Form: Sendable, Hashable {
            /// A 0/0 character device; when `mknod` is not permitted that is an `unsupported` error.
            case device
            /// The kernel's alternative (6.7+): an empty file with `overlay.whiteout`, in a directory
            /// marked `overlay.opaque=x`. Needs no privilege with the `user` namespace.
            case xattr
            /// A device, or the xattr form (with a warning) when `mknod` is not permitted.
            case deviceElseXattr
        }
        package var namespace: Namespace
        package var form: Form

        package init(namespace: Namespace = .trusted, form: Form = .deviceElseXattr) {
            self.namespace = namespace
            self.form = form
        }
        var prefix: String { "\(namespace.rawValue).overlay." }
    }

    /// What to do when something the layer asks for is not permitted (unprivileged, or a file system
    /// without support).
    package enum Strictness: Sendable, Hashable {
        /// Fail the apply.
        case require
        /// Skip it and add a warning to the summary.
        case bestEffort
        /// Do not even try.
        case ignore
    }

    package var whiteouts: Whiteouts
    /// `lchown` to the entry's owner.
    package var ownership: Strictness
    /// Extended attributes (`security.*` and `trusted.*` need privilege).
    package var xattrs: Strictness
    /// Character and block devices (`mknod` needs privilege).
    package var devices: Strictness
    /// Owners are translated from the image's ids to the host's (applying from outside a user
    /// namespace). An id the map does not cover is an ownership failure, handled as `ownership` says.
    package var idMap: IDMap?

    package init(whiteouts: Whiteouts = .merged, ownership: Strictness = .bestEffort, xattrs: Strictness = .bestEffort,
                 devices: Strictness = .bestEffort, idMap: IDMap? = nil) {
        self.whiteouts = whiteouts
        self.ownership = ownership
        self.xattrs = xattrs
        self.devices = devices
        self.idMap = idMap
    }
}

/// What an apply did.
package struct LayerApplySummary: Sendable, Hashable {
    /// Tar entries read, whiteouts included.
    package var entries = 0
    /// Content bytes written to regular files.
    package var bytes: Int64 = 0
    /// Whiteouts acted on.
    package var whiteouts = 0
    /// Things skipped under `bestEffort`, the first `warningLimit` of them.
    package var warnings: [LayerApplyWarning] = []
    /// Warnings beyond those kept (an unprivileged apply can have one per entry).
    package var moreWarnings = 0
    /// The decompressed stream's digest, when the apply read a layer blob.
    package var diffID: Digest?

    package static let warningLimit = 50

    mutating func warn(_ warning: LayerApplyWarning) {
        if warnings.count < Self.warningLimit { warnings.append(warning) } else { moreWarnings += 1 }
    }
}

package struct LayerApplyWarning: Sendable, Hashable, CustomStringConvertible {
    package enum Kind: String, Sendable, Hashable {
        case ownership, xattr, device, whiteout, ignoredEntry = "ignored-entry"
    }
    package var kind: Kind
    package var path: String
    package var message: String
    package var description: String { "\(path): \(message)" }
}
