import Foundation
import Glibc
import ImgArchive
package import ImgOCI
import ImgSystem

/// Snapshots by chain id, shared by every build and process using one state directory:
///
///     <root>/overlay/<chain hex>/fs        one layer, overlayfs form (both overlay backends)
///     <root>/overlay/<chain hex>/diffids   the chain's diffIDs, one a line
///     <root>/native/<chain hex>/fs         the whole tree
///     <root>/tmp/<kind>-<token>-<random>/  work directories: prepares, workspaces, probes
///
/// A snapshot is built in `tmp/` and renamed into place, so it is either complete or absent, and two
/// processes preparing the same chain race harmlessly (the loser's rename fails and it discards its copy).
/// Work directories carry their process's owner token (`ProcessOwners`, records in `<root>/../owners`): those
/// of processes that are gone are removed at start.
package actor SnapshotStore {
    package nonisolated let backend: SnapshotBackend
    /// Canonical (symlinks resolved), so mount points compare equal to `/proc/self/mountinfo`.
    package nonisolated let root: String
    nonisolated let temporary: String
    /// Workspaces with a mount still in place, by directory.
    var mounted: [String: MountedWorkspace] = [:]
    /// Prepares running in this process, by final chain id: a second caller waits for the first.
    var preparing: [Digest: Task<Void, any Error>] = [:]
    /// `<root>/in-use.lock`, held shared while this store is open: `img prune` removes snapshots only when it
    /// can hold it exclusively, i.e. when no build or unpack is running.
    private nonisolated let inUse: Int32

    enum MountedWorkspace {
        case kernel(target: String, volatile: Bool)
        case fuse(FuseOverlayProcess)
    }

    /// root: `<state>/snapshots`. Creates it.
    package init(root: String, backend: SnapshotBackend) throws(SnapshotError) {
        try Self.makeParents(of: root)
        for directory in [root, root + "/tmp", root + "/unsynced"] + SnapshotFormat.allCases.map({ root + "/" + $0.rawValue }) {
            guard mkdir(directory, 0o700) == 0 || errno == EEXIST else {
                throw SnapshotError(.io, "cannot create the snapshot directory \(directory)", cause: SystemError.errno("mkdir"))
            }
        }
        guard let canonical = realpath(root, nil) else {
            throw SnapshotError(.io, "cannot resolve \(root)", cause: SystemError.errno("realpath"))
        }
        self.root = String(cString: canonical)
        free(canonical)
        self.backend = backend
        inUse = try Self.lockInUse(root: self.root, exclusive: false, wait: true)!
        temporary = self.root + "/tmp"
        Self.removeAbandoned(in: temporary, owners: Self.ownersDirectory(temporary: temporary))
        Self.dropUnsynced(root: self.root)
    }

    deinit { close(inUse) }

    // MARK: - In use

    /// Opens `<root>/in-use.lock` and locks it; nil when `wait` is false and another process holds it in a
    /// conflicting way. A `prune` holds it for as long as its removal takes; a build opening its store
    /// meanwhile waits (blocking its thread: it happens at most while one prune runs).
    static func lockInUse(root: String, exclusive: Bool, wait: Bool) throws(SnapshotError) -> Int32? {
        let path = root + "/in-use.lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SnapshotError(.io, "cannot open \(path)", cause: SystemError.errno("open")) }
        while flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0 {
            let code = errno
            guard code == EWOULDBLOCK || code == EINTR else {
                close(fd)
                throw SnapshotError(.io, "cannot lock \(path)", cause: SystemError.errno("flock"))
            }
            guard wait else {
                close(fd)
                return nil
            }
            if code == EWOULDBLOCK { usleep(10_000) }
        }
        return fd
    }

    /// Runs `body` while no store is open on `root` in any process, holding that off until it returns; nil
    /// without running it when one is (a build is running).
    package static func whileUnused<T>(root: String, _ body: () throws -> T) throws -> T? {
        guard access(root, F_OK) == 0 else { return try body() }
        guard let fd = try lockInUse(root: root, exclusive: true, wait: false) else { return nil }
        defer { close(fd) }
        return try body()
    }

    /// Removes every snapshot, mark and work directory under `root` (call it through `whileUnused`), keeping
    /// the `auto` probe's memo. Returns the bytes they held; with `dryRun` only counts.
    package static func removeAll(root: String, dryRun: Bool) -> Int64 {
        var total: Int64 = 0
        for directory in SnapshotFormat.allCases.map(\.rawValue) + ["tmp", "unsynced"] {
            let path = root + "/" + directory
            for name in (try? DirectoryEntries.names(in: AT_FDCWD, path)) ?? [] {
                total += DirectoryEntries.allocatedBytes(path + "/" + name)
                if !dryRun { remove(path + "/" + name) }
            }
        }
        return total
    }

    // MARK: - Snapshots from volatile mounts

    /// The kernel's id of this boot (`/proc/sys/kernel/random/boot_id`, dashes dropped).
    package static let bootID: String = {
        let text = (try? SmallTextFile.read("/proc/sys/kernel/random/boot_id")) ?? nil
        return String((text ?? "unknown").filter { $0.isHexDigit })
    }()

    /// How long after a snapshot was made its data is surely on disk: the kernel writes dirty pages back
    /// after 30 s (`vm.dirty_expire_centisecs`); ten times that.
    static let writebackGrace: Int = 300

    /// Records, before a snapshot made through a volatile overlay mount is published, that its files may
    /// still be only in the page cache: an empty `unsynced/<chain id>.<boot id>`. No sync is paid for it.
    nonisolated func markUnsynced(_ chainID: Digest) throws(SnapshotError) {
        let path = "\(root)/unsynced/\(chainID.hex).\(Self.bootID)"
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SnapshotError(.io, "cannot record snapshot \(chainID)", cause: SystemError.errno("open \(path)")) }
        close(fd)
    }

    /// Drops the snapshots an earlier boot marked unsynced: the machine went down before it was known their
    /// data reached the disk, so their files may be empty or short. They are made again from their layer
    /// blobs (which are fsynced) when next needed. Marks of this boot older than `writebackGrace` go.
    static func dropUnsynced(root: String) {
        let directory = root + "/unsynced"
        guard let names = try? DirectoryEntries.names(in: AT_FDCWD, directory), !names.isEmpty else { return }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        for name in names {
            let parts = name.split(separator: ".")
            let marker = directory + "/" + name
            guard parts.count == 2 else { unlink(marker); continue }
            if parts[1] != bootID {
                for format in SnapshotFormat.allCases { remove("\(root)/\(format.rawValue)/\(parts[0])") }
                unlink(marker)
                continue
            }
            var st = stat()
            if lstat(marker, &st) == 0 && Int(now.tv_sec) - Int(st.st_mtim.tv_sec) > writebackGrace { unlink(marker) }
        }
    }

    // MARK: - Paths

    nonisolated func snapshotDirectory(_ chainID: Digest, _ format: SnapshotFormat? = nil) -> String {
        "\(root)/\((format ?? backend.format).rawValue)/\(chainID.hex)"
    }

    nonisolated func tree(_ chainID: Digest) -> String { snapshotDirectory(chainID) + "/fs" }

    /// A new, empty work directory: `tmp/<kind>-<token>-<random>`.
    nonisolated func makeWorkDirectory(_ kind: String) throws(SnapshotError) -> String {
        try Self.makeWorkDirectory(kind, in: temporary)
    }

    /// `<state>/owners` for `<state>/snapshots/tmp`.
    static func ownersDirectory(temporary: String) -> String {
        let root = temporary.dropLast("/tmp".count)
        return String(root[..<(root.lastIndex(of: "/") ?? root.startIndex)]) + "/owners"
    }

    static func makeWorkDirectory(_ kind: String, in temporary: String) throws(SnapshotError) -> String {
        // Held before anything carries the token, so no other process can take the directory for a leftover.
        let owners = ownersDirectory(temporary: temporary)
        do { try ProcessOwners.register(in: owners) } catch {
            throw SnapshotError(.io, "cannot record this process in \(owners)", cause: error)
        }
        var template = Array("\(temporary)/\(kind)-\(ProcessOwners.token)-XXXXXX".utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw SnapshotError(.io, "cannot create a work directory in \(temporary)", cause: SystemError.errno("mkdtemp"))
        }
        return String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `mkdir -p` of the directories above `path` (the state directory may be new).
    static func makeParents(of path: String) throws(SnapshotError) {
        var prefix = ""
        for component in path.split(separator: "/").dropLast() {
            prefix += "/" + component
            guard mkdir(prefix, 0o755) == 0 || errno == EEXIST else {
                throw SnapshotError(.io, "cannot create \(prefix)", cause: SystemError.errno("mkdir"))
            }
        }
    }

    static func makeDirectory(_ path: String, mode: mode_t = 0o755) throws(SnapshotError) {
        guard mkdir(path, mode) == 0 else { throw SnapshotError(.io, "cannot create \(path)", cause: SystemError.errno("mkdir")) }
    }

    /// `rm -rf` that never follows symlinks; quiet when it is already gone.
    static func remove(_ path: String) {
        let slash = path.lastIndex(of: "/")!
        let parent = open(String(path[..<slash]).isEmpty ? "/" : String(path[..<slash]), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard parent >= 0 else { return }
        defer { close(parent) }
        try? DirectoryEntries.removeTree(in: parent, String(path[path.index(after: slash)...]))
    }

    /// Removes work directories whose process has ended (killed mid-build); their mounts went with their
    /// mount namespace. The dead process's record in `owners` is the state directory's to remove.
    static func removeAbandoned(in temporary: String, owners: String) {
        let dead = ProcessOwners.dead(in: owners)
        defer { for owner in dead { owner.release(forget: false) } }
        let tokens = Set(dead.map(\.token))
        guard !tokens.isEmpty, let names = try? DirectoryEntries.names(in: AT_FDCWD, temporary), !names.isEmpty else { return }
        let mounts = ((try? MountInfoEntry.current()) ?? []).map(\.mountPoint)
        for name in names where ProcessOwners.isLeftover(name, of: tokens) {
            let directory = temporary + "/" + name
            // Mounted in this namespace (real root without a private one): detach first, never delete through it.
            for mountPoint in mounts where mountPoint.hasPrefix(directory + "/") { try? Mount.unmount(mountPoint, detach: true) }
            remove(directory)
        }
    }

    static func writeDiffIDs(_ diffIDs: [Digest], into directory: String) throws(SnapshotError) {
        let text = diffIDs.map { "\($0)\n" }.joined()
        // No fsync: a snapshot is as durable as its files, which `unsynced/` marks stand for.
        do { try SmallTextFile.write(Array(text.utf8), to: directory + "/diffids") } catch {
            throw SnapshotError(.io, "cannot write \(directory)/diffids: \(error)")
        }
    }

    static func readDiffIDs(in directory: String) -> [Digest]? {
        guard let text = try? SmallTextFile.read(directory + "/diffids") else { return nil }
        var result: [Digest] = []
        for line in text.split(separator: "\n") {
            guard let digest = try? Digest(parsing: String(line)) else { return nil }
            result.append(digest)
        }
        return result
    }

    /// Renames a finished snapshot into place; false when another process got there first (ours is
    /// discarded).
    @discardableResult
    nonisolated func publish(_ built: String, as chainID: Digest) throws(SnapshotError) -> Bool {
        let destination = snapshotDirectory(chainID)
        if rename(built, destination) == 0 { return true }
        let error = SystemError.errno("rename \(built) \(destination)")
        guard error.code == EEXIST || error.code == ENOTEMPTY else {
            Self.remove(built)
            throw SnapshotError(.io, "cannot store snapshot \(chainID)", cause: error)
        }
        Self.remove(built)
        return false
    }

    // MARK: - Queries

    package func exists(_ chainID: Digest) -> Bool { has(chainID) }

    nonisolated func has(_ chainID: Digest) -> Bool {
        access(snapshotDirectory(chainID) + "/diffids", F_OK) == 0
    }

    // MARK: - Prepare

    /// How layers are applied for this backend, as this process stands (root, or root in img's namespace).
    nonisolated var applyOptions: LayerApplyOptions {
        switch backend.format {
        case .overlay: LayerApplyOptions(whiteouts: .overlay(.init(namespace: .user, form: .deviceElseXattr)))
        case .native: LayerApplyOptions(whiteouts: .merged)
        }
    }

    /// The snapshot after `layers` (in order), applying only the layers whose chain is not prepared yet.
    /// Idempotent and safe when two img processes prepare the same chain at once. A layer whose diffID does
    /// not match is an error and nothing is kept.
    ///
    /// The layers are applied off the actor, so prepares of different chains run in parallel; a second
    /// prepare of a chain this process is already preparing waits for the first.
    package func prepare(_ layers: [LayerBlob]) async throws(SnapshotError) -> Snapshot {
        let diffIDs = layers.map(\.diffID)
        let snapshot = Snapshot(diffIDs: diffIDs)
        guard let chainID = snapshot.chainID else { return snapshot }
        if has(chainID) { return snapshot }
        let task: Task<Void, any Error>
        if let running = preparing[chainID] {
            task = running
        } else {
            task = Task { try await self.build(layers, chainID: chainID) }
            preparing[chainID] = task
        }
        do {
            try await task.value
        } catch {
            if preparing[chainID] == task { preparing[chainID] = nil }
            throw error as? SnapshotError ?? SnapshotError(.io, "preparing \(chainID) failed: \(error)")
        }
        if preparing[chainID] == task { preparing[chainID] = nil }
        return snapshot
    }

    /// The positions of the layers `prepare` would apply for the chain `diffIDs` as things stand: none when
    /// the chain is prepared; for overlay the layers whose own prefix is missing, for native the layers
    /// above the longest prepared prefix. Only their blobs need to be in the content store.
    package nonisolated func layersToApply(_ diffIDs: [Digest]) -> [Int] {
        let chains = ChainID.prefixes(diffIDs)
        guard let last = chains.last, !has(last) else { return [] }
        switch backend.format {
        case .overlay: return chains.indices.filter { !has(chains[$0]) }
        case .native:
            let start = (chains.lastIndex { has($0) }).map { $0 + 1 } ?? 0
            return Array(start..<chains.count)
        }
    }

    nonisolated func build(_ layers: [LayerBlob], chainID: Digest) async throws(SnapshotError) {
        switch backend.format {
        case .overlay: try prepareOverlay(layers)
        case .native: try prepareNative(layers, chainID: chainID)
        }
    }

    /// Each layer is its own directory: apply the missing ones, then publish them all, bottom first.
    private nonisolated func prepareOverlay(_ layers: [LayerBlob]) throws(SnapshotError) {
        let chains = ChainID.prefixes(layers.map(\.diffID))
        var built: [(directory: String, chainID: Digest)] = []
        do {
            for (index, layer) in layers.enumerated() where !has(chains[index]) {
                let work = try makeWorkDirectory("prepare")
                built.append((work, chains[index]))
                try Self.makeDirectory(work + "/fs")
                try apply(layer, into: work + "/fs")
                try Self.writeDiffIDs(Array(layers[...index].map(\.diffID)), into: work)
            }
            for (directory, chainID) in built { try publish(directory, as: chainID) }
        } catch {
            for (directory, _) in built { Self.remove(directory) }
            throw error
        }
    }

    /// One tree: copy the longest prepared prefix, apply the rest on top, publish only the full chain.
    private nonisolated func prepareNative(_ layers: [LayerBlob], chainID: Digest) throws(SnapshotError) {
        let chains = ChainID.prefixes(layers.map(\.diffID))
        let start = (chains.lastIndex { has($0) }).map { $0 + 1 } ?? 0
        let work = try makeWorkDirectory("prepare")
        do {
            try Self.makeDirectory(work + "/fs")
            if start > 0 { try TreeCopy.copy(from: tree(chains[start - 1]), to: work + "/fs") }
            for layer in layers[start...] { try apply(layer, into: work + "/fs") }
            try Self.writeDiffIDs(layers.map(\.diffID), into: work)
            try publish(work, as: chainID)
        } catch {
            Self.remove(work)
            throw error
        }
    }

    private nonisolated func apply(_ layer: LayerBlob, into directory: String) throws(SnapshotError) {
        do {
            _ = try LayerApplier.apply(layerAt: layer.path, to: directory, options: applyOptions, expectedDiffID: layer.diffID,
                                       label: layer.label)
        } catch {
            throw SnapshotError(error.code == .digestMismatch ? .digestMismatch : .layer, "cannot unpack", cause: error)
        }
    }

    // MARK: - Prune

    /// Removes every snapshot not in `keep` (for `img prune`), in every format (a backend switched away
    /// from still frees its space); returns bytes freed. Overlay snapshots a kept one stands on are kept.
    package func prune(keeping keep: Set<Digest>) async throws(SnapshotError) -> Int64 {
        var freed: Int64 = 0
        for format in SnapshotFormat.allCases {
            let directory = "\(root)/\(format.rawValue)"
            let names: [String]
            do { names = try DirectoryEntries.names(in: AT_FDCWD, directory) } catch {
                throw SnapshotError(.io, "cannot list \(directory)", cause: error)
            }
            var kept = Set<String>()
            for chainID in keep {
                kept.insert(chainID.hex)
                if format == .overlay, let diffIDs = Self.readDiffIDs(in: snapshotDirectory(chainID, .overlay)) {
                    for prefix in ChainID.prefixes(diffIDs) { kept.insert(prefix.hex) }
                }
            }
            for name in names where !kept.contains(name) {
                freed += DiskUsage.bytes(of: directory + "/" + name)
                Self.remove(directory + "/" + name)
            }
        }
        return freed
    }
}

/// Space a tree takes on disk (allocated blocks, each inode once).
enum DiskUsage {
    static func bytes(of path: String) -> Int64 {
        var seen = Set<UInt64>()
        return walk(AT_FDCWD, path, &seen)
    }

    private static func walk(_ parent: Int32, _ name: String, _ seen: inout Set<UInt64>) -> Int64 {
        var info = stat()
        guard fstatat(parent, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { return 0 }
        var total: Int64 = 0
        if seen.insert(UInt64(info.st_ino)).inserted { total += Int64(info.st_blocks) * 512 }
        guard info.st_mode & S_IFMT == S_IFDIR else { return total }
        let fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return total }
        defer { close(fd) }
        for child in (try? DirectoryEntries.names(in: fd)) ?? [] { total += walk(fd, child, &seen) }
        return total
    }
}
