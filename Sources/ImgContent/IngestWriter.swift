package import Foundation
package import ImgOCI
import ImgSystem
import Synchronization

/// One blob being written into the content store: bytes are hashed as they are appended to a temp file
/// under `content/ingest/`, and `commit()` renames the file into place only when size and digest match.
///
/// A writer for an expected digest is resumable: dropping or `close()`-ing it keeps the partial file, and
/// the next `beginIngest` for that digest starts at `offset` (ask the registry for `Range: bytes=offset-`).
/// It holds an exclusive `flock` on its file, so at most one writer per digest exists across processes.
/// Sendable (state behind a mutex) so it can cross tasks and actors; writes are still meant to be
/// sequential.
package final class IngestWriter: Sendable {
    /// The descriptor the blob must match; nil when the digest is learnt from the bytes.
    package let expected: Descriptor?
    package let mediaType: MediaType
    private let store: ContentStore
    private let lease: Lease?
    private let path: String
    private let state: Mutex<State>

    private enum Phase: Sendable { case open, present, committing, committed(Descriptor), closed, failed }

    private struct State: Sendable {
        var phase: Phase
        var file: SystemFile?
        var hasher: HasherBox
        var offset: Int64
        /// Where writeback was last started: bytes after it are only in the page cache.
        var writebackStart: Int64
        /// Why a write failed: said again to a caller that writes on, instead of "no longer open".
        var failure: ContentError?
    }

    /// How much to write before starting writeback. Flushing as the blob arrives, rather than all of it at
    /// commit, took a pull's last fsync from 0.1-0.3 s (60 MB layers) off the end of the pull.
    private static let writebackInterval: Int64 = 8 << 20

    /// swift-crypto's SHA256 is a plain value without shared storage but is not declared Sendable.
    private struct HasherBox: @unchecked Sendable {
        var value: DigestHasher
    }

    init(store: ContentStore, expected: Descriptor?, mediaType: MediaType, lease: Lease?, path: String,
         file: SystemFile?, hasher: DigestHasher, offset: Int64) {
        self.store = store
        self.expected = expected
        self.mediaType = mediaType
        self.lease = lease
        self.path = path
        state = Mutex(State(phase: file == nil ? .present : .open, file: file, hasher: HasherBox(value: hasher), offset: offset,
                           writebackStart: offset))
    }

    deinit { close() }

    /// Bytes written so far (including those kept from an earlier, interrupted ingest).
    package var offset: Int64 { state.withLock { $0.offset } }

    /// The digest of the bytes written so far, partial file included. A stored blob has its own digest.
    package var heldDigest: Digest {
        state.withLock {
            switch $0.phase {
            case .present: expected!.digest
            case .committed(let d): d.digest
            default: $0.hasher.value.finalize()
            }
        }
    }

    /// True when the blob is already stored (found at `beginIngest`, or committed): nothing to write.
    package var isComplete: Bool {
        state.withLock {
            switch $0.phase {
            case .present, .committed: true
            default: false
            }
        }
    }

    private var name: String { expected.map { "blob \($0.digest)" } ?? "blob being written to \(path)" }

    /// Appends bytes. Writing more than the expected size discards the partial file and throws.
    package func write(_ buffer: UnsafeRawBufferPointer) throws(ContentError) {
        try state.withLock { (s) throws(ContentError) in
            guard case .open = s.phase, let file = s.file else {
                if let failure = s.failure { throw failure }
                throw ContentError(.ingestClosed, "\(name): ingest is no longer open for writing")
            }
            if let expected, s.offset + Int64(buffer.count) > expected.size {
                s.phase = .failed
                s.file = nil
                _ = try? FileSystem.removeFile(path: path)
                file.unlock()
                throw ContentError(.sizeMismatch,
                                   "blob \(expected.digest) is larger than its expected size \(expected.size)")
            }
            do { try file.write(buffer) } catch {
                // The file may hold part of this buffer; a resumed ingest re-hashes what is there.
                s.phase = .failed
                s.file = nil
                let failure = ContentError.writing(path, error)
                s.failure = failure
                throw failure
            }
            s.hasher.value.update(buffer)
            s.offset += Int64(buffer.count)
            if s.offset - s.writebackStart >= Self.writebackInterval {
                file.startWriteback(offset: s.writebackStart, length: s.offset - s.writebackStart)
                s.writebackStart = s.offset
            }
        }
    }

    package func write(_ bytes: some DataProtocol) throws(ContentError) {
        for region in bytes.regions {
            var failure: ContentError?
            region.withUnsafeBytes { buffer in
                do throws(ContentError) { try write(buffer) } catch { failure = error }
            }
            if let failure { throw failure }
        }
    }

    private enum Prepared { case done(Descriptor), publish(SystemFile, Descriptor) }

    /// Verifies size and digest, syncs, and moves the blob into the store. A digest mismatch discards the
    /// partial file; a short blob keeps it so the download can be resumed.
    @discardableResult
    package func commit() async throws(ContentError) -> Descriptor {
        let prepared = try state.withLock { (s) throws(ContentError) -> Prepared in
            switch s.phase {
            case .present: return .done(expected!)
            case .committed(let d): return .done(d)
            case .open: break
            default: throw ContentError(.ingestClosed, "\(name): ingest was already closed")
            }
            guard let file = s.file else { throw ContentError(.ingestClosed, "\(name): ingest was already closed") }
            if let expected, s.offset != expected.size {
                s.phase = .failed
                s.file = nil
                throw ContentError(.sizeMismatch,
                                   "blob \(expected.digest) has \(s.offset) bytes, expected \(expected.size)")
            }
            let actual = s.hasher.value.finalize()
            if let expected, actual != expected.digest {
                s.phase = .failed
                s.file = nil
                _ = try? FileSystem.removeFile(path: path)
                throw ContentError.digestMismatch(expected: expected.digest, actual: actual)
            }
            do { try file.sync() } catch {
                s.phase = .failed
                s.file = nil
                throw ContentError.writing(path, error)
            }
            s.phase = .committing
            s.file = nil
            var descriptor = expected ?? Descriptor(mediaType: mediaType, digest: actual, size: s.offset)
            descriptor.mediaType = mediaType
            return .publish(file, descriptor)
        }
        switch prepared {
        case .done(let descriptor):
            return descriptor
        case .publish(let file, let descriptor):
            do throws(ContentError) {
                // The file stays open and locked until the rename is done, so no one resumes it meanwhile.
                try await store.publish(path: path, file: file, as: descriptor.digest, lease: lease)
            } catch {
                state.withLock { $0.phase = .failed }
                throw error
            }
            state.withLock { $0.phase = .committed(descriptor) }
            return descriptor
        }
    }

    /// Gives up and removes the partial file.
    package func abort() {
        state.withLock { s in
            guard case .open = s.phase else { return }
            _ = try? FileSystem.removeFile(path: path)  // still locked by us: no one else is using it
            s.file = nil
            s.phase = .closed
        }
    }

    /// Stops writing but keeps the partial file for a later resume (a writer without an expected digest
    /// cannot be resumed, so its file is removed). Dropping the writer does the same.
    package func close() {
        guard expected != nil else { return abort() }
        state.withLock { s in
            guard case .open = s.phase else { return }
            s.file = nil
            s.phase = .closed
        }
    }
}
