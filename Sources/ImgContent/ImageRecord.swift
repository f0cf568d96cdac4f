package import Foundation
package import ImgOCI
import Glibc

/// A named image: its normalised reference and the descriptor (index or manifest) it points at.
package struct ImageRecord: Sendable, Hashable {
    package var name: Reference
    package var descriptor: Descriptor
    package var created: Date
    package var updated: Date

    package init(name: Reference, descriptor: Descriptor, created: Date, updated: Date) {
        self.name = name
        self.descriptor = descriptor
        self.created = created
        self.updated = updated
    }
}

/// Which images `ImageStore.list` returns.
package enum ImageFilter: Sendable, Hashable {
    case all
    /// Exactly this name (`:latest` added when it has neither tag nor digest).
    case reference(Reference)
    /// Every tag of one repository (`domain/path` of the reference; its tag is ignored).
    case repository(Reference)
    /// A shell glob matched against the normalised name and the familiar one: `busybox:*`, `*/alpine:3*`.
    case pattern(String)
    /// Images whose descriptor has this digest.
    case digest(Digest)

    func matches(_ record: ImageRecord) -> Bool {
        switch self {
        case .all: return true
        case .reference(let r): return record.name == r.withDefaultTag
        case .repository(let r): return record.name.name == r.name
        case .digest(let d): return record.descriptor.digest == d
        case .pattern(let p):
            return fnmatch(p, record.name.description, 0) == 0 || fnmatch(p, record.name.familiar, 0) == 0
        }
    }
}

extension ContentError {
    static func imageNotFound(_ name: Reference) -> ContentError {
        ContentError(.imageNotFound, "image not found: \(name)")
    }
}
