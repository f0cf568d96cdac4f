import Foundation
package import ImgOCI
import Glibc
import GRDB
import ImgSystem

package struct GCOptions: Sendable, Hashable {
    /// Unlocked ingest files older than this are removed (a resumable download that was abandoned).
    package var ingestMaxAge: Duration
    /// Report what would be removed without removing it.
    package var dryRun: Bool

    package init(ingestMaxAge: Duration = .seconds(24 * 3600), dryRun: Bool = false) {
        self.ingestMaxAge = ingestMaxAge
        self.dryRun = dryRun
    }
}

package struct GCReport: Sendable, Hashable {
    package var removedBlobs: [Digest] = []
    package var reclaimedBytes: Int64 = 0
    package var keptBlobs: Int = 0
    package var removedIngests: Int = 0
    package var removedIngestBytes: Int64 = 0
    package var expiredLeases: Int = 0
}

extension StateDirectory {
    /// Mark and sweep: keeps every blob reachable from an image, from a cache record, or named by a live
    /// lease (leaf only), and removes the other blobs and stale ingest files.
    ///
    /// Runs under the exclusive state lock from reading its roots to the end of the sweep; ingests make a
    /// blob visible only under the shared lock after leasing it, so a pull in progress never loses a blob.
    @discardableResult
    package func collectGarbage(_ options: GCOptions = GCOptions()) async throws(ContentError) -> GCReport {
        try await content.stateLock.withExclusive { () async throws(ContentError) -> GCReport in
            var report = GCReport()
            let now = Date()
            let dryRun = options.dryRun
            report.expiredLeases = try await database.write("expire leases") { db -> Int in
                if dryRun {
                    return try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM leases WHERE expires < ?", arguments: [StoredDate(now)]) ?? 0
                }
                try db.execute(sql: "DELETE FROM leases WHERE expires < ?", arguments: [StoredDate(now)])
                return db.changesCount
            }
            let roots = try await database.read("read GC roots") { db in
                GCRoots(
                    descriptors: try String.fetchAll(db, sql: "SELECT descriptor FROM images")
                        + String.fetchAll(db, sql: "SELECT descriptor FROM cache_records"),
                    leased: try String.fetchAll(db, sql: """
                        SELECT r.digest FROM lease_resources r JOIN leases l ON l.id = r.lease_id WHERE l.expires >= ?
                        """, arguments: [StoredDate(now)]))
            }
            var descriptors: [Descriptor] = []
            for json in roots.descriptors { descriptors.append(try ImageStore.decode(json, name: "a GC root")) }
            var marked = try content.closure(of: descriptors).digests
            for text in roots.leased { if let d = try? Digest(parsing: text) { marked.insert(d) } }

            for blob in try content.list() {
                if marked.contains(blob.digest) {
                    report.keptBlobs += 1
                    continue
                }
                if !dryRun { try content.delete(blob.digest) }
                report.removedBlobs.append(blob.digest)
                report.reclaimedBytes += blob.size
            }
            if !dryRun, !report.removedBlobs.isEmpty {
                let removed = report.removedBlobs
                try await database.write("forget the sources of removed blobs") { db in
                    try BlobSourceStore.forget(removed, in: db)
                }
            }
            try sweepIngests(olderThan: now.addingTimeInterval(-options.ingestMaxAge.timeInterval), dryRun: dryRun,
                             into: &report)
            return report
        }
    }

    /// Removes ingest files nobody holds (an ingest in progress keeps its file locked) that were last
    /// written before `cutoff`.
    private func sweepIngests(olderThan cutoff: Date, dryRun: Bool, into report: inout GCReport) throws(ContentError) {
        let directory = layout.ingestDirectory
        let names: [String]
        do { names = try FileSystem.contentsOfDirectory(path: directory) } catch {
            throw ContentError.io("list \(directory)", error)
        }
        for name in names {
            let path = directory + "/" + name
            guard let status = try? FileSystem.status(path: path), status.isRegularFile,
                  status.modified < cutoff.timeIntervalSince1970
            else { continue }
            do {
                // Unlinked while we hold its lock, so a writer waiting for it retries on a fresh file.
                guard case .locked(let file) = try SystemFile.tryLocking(path: path, flags: O_RDWR, exclusive: true)
                else { continue }
                if !dryRun { try FileSystem.removeFile(path: path) }
                file.unlock()
            } catch { throw ContentError.io("remove stale ingest \(path)", error) }
            report.removedIngests += 1
            report.removedIngestBytes += status.size
        }
    }
}

private struct GCRoots: Sendable {
    var descriptors: [String]
    var leased: [String]
}
