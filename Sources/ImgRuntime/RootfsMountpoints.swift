import CImgShim
import Glibc

/// The mount targets runc creates in a rootfs that lacks them (`/etc/resolv.conf`, `/proc`, a `RUN --mount`
/// destination). A build step must not leave those in its layer, so the executor notes which were missing
/// before the step and removes the ones that are still empty afterwards.
struct RootfsMountpoints {
    private let rootfs: String
    private var missing: [String] = []

    /// Notes which of `paths` (absolute inside the rootfs) and their parent directories do not exist yet.
    init(rootfs: String, paths: [String]) {
        self.rootfs = rootfs
        var candidates: Set<String> = []
        for path in paths {
            var components = path.split(separator: "/")
            while !components.isEmpty {
                candidates.insert(components.joined(separator: "/"))
                components.removeLast()
            }
        }
        let root = open(rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard root >= 0 else { return }
        defer { close(root) }
        for candidate in candidates {
            let fd = img_shim_open_in_root(root, candidate, IMG_SHIM_O_PATH | O_NOFOLLOW, 0)
            if fd >= 0 { close(fd) } else if errno == ENOENT { missing.append(candidate) }
        }
        // Deepest first, so a created directory is empty by the time it is removed.
        missing.sort { $0.split(separator: "/").count > $1.split(separator: "/").count }
    }

    /// Removes the noted paths that now exist as an empty file or an empty directory.
    func removeCreated() {
        let root = open(rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard root >= 0 else { return }
        defer { close(root) }
        for path in missing {
            var components = path.split(separator: "/")
            let name = String(components.removeLast())
            let parent = components.isEmpty ? dup(root) : img_shim_open_in_root(root, components.joined(separator: "/"), IMG_SHIM_O_PATH | O_DIRECTORY, 0)
            guard parent >= 0 else { continue }
            defer { close(parent) }
            var info = stat()
            guard fstatat(parent, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            switch info.st_mode & S_IFMT {
            case S_IFREG where info.st_size == 0:
                unlinkat(parent, name, 0)
            case S_IFDIR:
                unlinkat(parent, name, AT_REMOVEDIR)  // fails, harmlessly, unless empty
            default:
                break
            }
        }
    }
}
