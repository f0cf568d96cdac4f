import Foundation
package import ImgOCI
import GRDB

extension ContentStore {
    /// Records a new lease. It expires so that one left by a killed process stops protecting its blobs.
    package func createLease(expiresIn: Duration = .seconds(24 * 3600)) async throws(ContentError) -> Lease {
        let now = Date()
        let lease = Lease(id: randomName(), expires: now.addingTimeInterval(expiresIn.timeInterval))
        try await database.write("create lease") { db in
            try db.execute(sql: "INSERT INTO leases (id, created, expires) VALUES (?, ?, ?)",
                           arguments: [lease.id, StoredDate(now), StoredDate(lease.expires)])
        }
        return lease
    }

    /// Drops a lease; what it protected becomes collectable unless something else refers to it.
    package func releaseLease(_ lease: Lease) async throws(ContentError) {
        try await database.write("release lease \(lease.id)") { db in
            try db.execute(sql: "DELETE FROM leases WHERE id = ?", arguments: [lease.id])
        }
    }

    /// Runs `body` under a new lease (also `Lease.current`, which ingests use by default), then releases
    /// it, also when `body` throws. Record the image inside `body`, so it is never unprotected.
    package func withLease<T>(
        expiresIn: Duration = .seconds(24 * 3600),
        isolation: isolated (any Actor)? = #isolation,
        _ body: (Lease) async throws -> T
    ) async throws -> T {
        let lease = try await createLease(expiresIn: expiresIn)
        let result: T
        do {
            result = try await Lease.$current.withValue(lease, operation: { try await body(lease) }, isolation: isolation)
        } catch {
            try? await releaseLease(lease)
            throw error
        }
        try await releaseLease(lease)
        return result
    }

    /// Adds `digest` to `lease` and says whether the blob is stored; atomic with respect to GC, so a blob
    /// reported present here stays until the lease goes. Use it before skipping a download.
    package func protect(_ digest: Digest, lease: Lease) async throws(ContentError) -> Bool {
        try await stateLock.withShared { () async throws(ContentError) -> Bool in
            try await addToLease(digest, lease: lease)
            return exists(digest)
        }
    }

    /// The digests a lease protects.
    package func leasedDigests(_ lease: Lease) async throws(ContentError) -> Set<Digest> {
        let texts = try await database.read("read lease \(lease.id)") { db in
            try String.fetchAll(db, sql: "SELECT digest FROM lease_resources WHERE lease_id = ?", arguments: [lease.id])
        }
        return Set(texts.compactMap { try? Digest(parsing: $0) })
    }

    func addToLease(_ digest: Digest, lease: Lease) async throws(ContentError) {
        let found = try await database.write("lease blob \(digest)") { db -> Bool in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM leases WHERE id = ?", arguments: [lease.id]) != nil
            else { return false }
            try db.execute(sql: "INSERT OR IGNORE INTO lease_resources (lease_id, digest) VALUES (?, ?)",
                           arguments: [lease.id, digest.description])
            return true
        }
        guard found else {
            throw ContentError(.leaseNotFound, "lease \(lease.id) not found (expired and collected?)")
        }
    }
}

extension Duration {
    var timeInterval: TimeInterval {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
