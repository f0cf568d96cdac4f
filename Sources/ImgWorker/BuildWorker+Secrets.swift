import Foundation
import Glibc
import ImgFrontend
import ImgSystem

extension BuildWorker {
    /// A copy of the secret in `file` with the mount's mode and owner (BuildKit's 0400 root:root unless
    /// `mode=`, `uid=`, `gid=` say otherwise), on a tmpfs of its own so the value never reaches a disk the
    /// host file was not already on. The host file itself cannot be bound: it keeps its own mode and owner.
    /// Returns the copy's path and what removes it.
    func secretCopy(of file: String, id: String, mode: UInt32, uid: Int, gid: Int, step: BuildStep) throws
        -> (path: String, remove: () -> Void)
    {
        let parent = state.layout.runtimeDirectory
        if mkdir(parent, 0o700) != 0 && errno != EEXIST {
            throw error(step, "secret \(id): \(SystemError.errno("create \(parent)"))")
        }
        var template = Array((parent + "/secret-XXXXXX").utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw error(step, "secret \(id): \(SystemError.errno("create a directory in \(parent)"))")
        }
        let directory = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        do {
            try Mount.tmpfs(target: directory, options: "mode=0700", flags: [.noSUID, .noDev, .noExec])
        } catch {
            rmdir(directory)
            throw self.error(step, "secret \(id): \(error)")
        }
        let path = directory + "/secret"
        let remove = {
            unlink(path)
            try? Mount.unmount(directory, detach: true)
            rmdir(directory)
        }
        do {
            guard let bytes = FileManager.default.contents(atPath: file) else {
                throw error(step, "secret \(id): cannot read \(file)")
            }
            try SmallTextFile.write(Array(bytes), to: path, mode: 0o600)
            // After the write, so the umask cannot narrow it; the owner before the mode, as chown clears
            // set-id bits.
            guard chown(path, uid_t(uid), gid_t(gid)) == 0, chmod(path, mode_t(mode)) == 0 else {
                throw error(step, "secret \(id): \(SystemError.errno("set the owner \(uid):\(gid) and mode of its copy"))")
            }
        } catch {
            remove()
            throw error
        }
        return (path, remove)
    }
}
