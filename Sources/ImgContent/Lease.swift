package import Foundation

/// Protects digests from garbage collection while their image is not recorded yet: a pull ingests under
/// a lease, tags the image, then releases the lease. A lease left by a killed process expires.
package struct Lease: Sendable, Hashable {
    package let id: String
    package let expires: Date

    package init(id: String, expires: Date) {
        self.id = id
        self.expires = expires
    }

    /// The lease of the enclosing `withLease`; ingests default to it.
    @TaskLocal package static var current: Lease?
}
