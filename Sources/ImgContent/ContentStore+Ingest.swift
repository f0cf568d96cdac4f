package import Foundation
package import ImgOCI
import Glibc
import ImgSystem

extension ContentStore {
    /// Starts (or resumes) writing the blob `expected` describes. If it is already stored the writer is
    /// `isComplete` and needs nothing; otherwise write from `offset` on and `commit()`. Waits while another
    /// writer, in this or another process, holds the same digest; when that one commits, this one comes
    /// back complete. With a lease, the digest is protected from GC from here on.
    package func beginIngest(expected: Descriptor, lease: Lease? = Lease.current) async throws(ContentError) -> IngestWriter {
        let digest = expected.digest
        guard digest.algorithm == .sha256 else { throw ContentError.unsupported(digest) }
        guard expected.size >= 0 else {
            throw ContentError(.sizeMismatch, "blob \(digest) has a negative expected size \(expected.size)")
        }
        let present = { IngestWriter(store: self, expected: expected, mediaType: expected.mediaType, lease: lease,
                                     path: self.layout.blobPath(digest), file: nil, hasher: DigestHasher(), offset: expected.size) }
        if let lease {
            if try await protect(digest, lease: lease) { return present() }
        } else if exists(digest) {
            return present()
        }
        let path = layout.ingestPath(digest)
        var backoff = Backoff()
        while true {
            let attempt: LockAttempt
            do {
                attempt = try SystemFile.tryLocking(path: path, flags: O_RDWR | O_CREAT, permissions: 0o600, exclusive: true)
            } catch { throw ContentError.io("open ingest of blob \(digest)", error) }
            switch attempt {
            case .locked(let file):
                if exists(digest) {
                    // Committed by someone else meanwhile; what is left here is ours to drop.
                    _ = try? FileSystem.removeFile(path: path)
                    return present()
                }
                let (hasher, offset) = try resume(file, expected: expected)
                return IngestWriter(store: self, expected: expected, mediaType: expected.mediaType, lease: lease,
                                    path: path, file: file, hasher: hasher, offset: offset)
            case .busy, .missing:
                try await backoff.wait("waiting for the ingest of blob \(digest)")
                if exists(digest) { return present() }
            }
        }
    }

    /// Starts writing a blob whose digest is not known yet (a layer being built). Not resumable.
    package func beginIngest(mediaType: MediaType, lease: Lease? = Lease.current) async throws(ContentError) -> IngestWriter {
        while true {
            let path = layout.ingestDirectory + "/tmp-" + randomName()
            do {
                let file = try SystemFile(path: path, flags: O_RDWR | O_CREAT | O_EXCL, permissions: 0o600)
                // Locked so GC's stale-ingest sweep leaves it alone however long it is written; if GC
                // removed it between create and lock, start again under a new name.
                if try file.tryLock(exclusive: true),
                   let current = try FileSystem.status(path: path), try file.status().isSameFile(as: current) {
                    return IngestWriter(store: self, expected: nil, mediaType: mediaType, lease: lease, path: path,
                                        file: file, hasher: DigestHasher(), offset: 0)
                }
            } catch { throw ContentError.io("create ingest file \(path)", error) }
        }
    }

    /// Stores `bytes` (a manifest, a config) and returns its descriptor.
    @discardableResult
    package func ingest(_ bytes: some DataProtocol & Sendable, mediaType: MediaType,
                        lease: Lease? = Lease.current) async throws(ContentError) -> Descriptor {
        let descriptor = Descriptor(mediaType: mediaType, digest: .sha256(of: bytes), size: Int64(bytes.count))
        return try await ingest(bytes, expected: descriptor, lease: lease)
    }

    /// Stores `bytes`, which must match `expected`.
    @discardableResult
    package func ingest(_ bytes: some DataProtocol & Sendable, expected: Descriptor,
                        lease: Lease? = Lease.current) async throws(ContentError) -> Descriptor {
        let writer = try await beginIngest(expected: expected, lease: lease)
        if writer.isComplete { return expected }
        if writer.offset > 0 {
            // A leftover partial of the same digest: its bytes were verified to be a prefix only by the
            // final hash, so start over rather than trust them.
            writer.abort()
            return try await ingest(bytes, expected: expected, lease: lease)
        }
        do throws(ContentError) {
            try writer.write(bytes)
            return try await writer.commit()
        } catch {
            writer.abort()
            throw error
        }
    }

    /// Streams the file at `path` into the store, verifying it against `expected` (OCI layout import).
    @discardableResult
    package func ingest(fileAt path: String, expected: Descriptor,
                        lease: Lease? = Lease.current) async throws(ContentError) -> Descriptor {
        let writer = try await beginIngest(expected: expected, lease: lease)
        if writer.isComplete { return expected }
        do throws(ContentError) {
            let source: SystemFile
            do { source = try SystemFile(path: path, flags: O_RDONLY) } catch {
                throw ContentError.io("open \(path)", error)
            }
            do { try source.seek(to: writer.offset) } catch { throw ContentError.io("seek \(path)", error) }
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.chunkSize, alignment: 16)
            defer { buffer.deallocate() }
            while true {
                let count: Int
                do { count = try source.readFully(into: buffer) } catch { throw ContentError.io("read \(path)", error) }
                if count == 0 { break }
                try writer.write(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
            }
            return try await writer.commit()
        } catch {
            writer.abort()
            throw error
        }
    }

    /// Rebuilds the hash of a partial file kept by an interrupted ingest, by re-reading it. A partial that
    /// cannot be a prefix of the blob (too long, or full length with the wrong digest) is discarded.
    private func resume(_ file: SystemFile, expected: Descriptor) throws(ContentError) -> (DigestHasher, Int64) {
        let what = "resume ingest of blob \(expected.digest)"
        do {
            var size = try file.status().size
            if size > expected.size {
                try file.truncate(to: 0)
                size = 0
            }
            var hasher = DigestHasher()
            if size > 0 {
                try file.seek(to: 0)
                let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.chunkSize, alignment: 16)
                defer { buffer.deallocate() }
                var left = size
                while left > 0 {
                    let want = Int(min(Int64(buffer.count), left))
                    let count = try file.readFully(into: UnsafeMutableRawBufferPointer(rebasing: buffer[..<want]))
                    guard count == want else { throw SystemError(operation: "read \(file.path)", code: EIO) }
                    hasher.update(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
                    left -= Int64(count)
                }
                if size == expected.size, hasher.finalize() != expected.digest {
                    try file.truncate(to: 0)
                    size = 0
                    hasher = DigestHasher()
                }
            }
            try file.seek(to: size)
            return (hasher, size)
        } catch { throw ContentError.io(what, error) }
    }

    /// Makes a verified, synced ingest file the blob: under the shared state lock so GC, which reads its
    /// roots under the exclusive lock, either sees the lease or runs after the blob exists and is leased.
    func publish(path: String, file: SystemFile, as digest: Digest, lease: Lease?) async throws(ContentError) {
        defer { file.unlock() }
        try await stateLock.withShared { () async throws(ContentError) in
            if let lease { try await addToLease(digest, lease: lease) }
            let target = layout.blobPath(digest)
            do {
                if exists(digest) {
                    try FileSystem.removeFile(path: path)
                    return
                }
                try file.setPermissions(0o444)
                try FileSystem.rename(path, to: target)
                try FileSystem.syncDirectory(path: layout.blobsDirectory(digest.algorithm))
            } catch { throw ContentError.io("store blob \(digest)", error) }
        }
    }
}

func randomName() -> String {
    String(UInt64.random(in: .min ... .max), radix: 16) + String(UInt64.random(in: .min ... .max), radix: 16)
}
