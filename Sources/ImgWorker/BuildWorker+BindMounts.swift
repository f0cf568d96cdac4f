import Foundation
import Glibc
import ImgFrontend
import ImgSystem

extension BuildWorker {
    /// For `RUN --mount=type=bind,rw` from the context: a copy of `source` (a directory's contents or one
    /// file) in the runtime directory, which the step may change and which is removed after it, as
    /// BuildKit's rw bind writes to a throwaway snapshot and never to the context.
    func writableBindCopy(of source: String, step: BuildStep) throws -> (path: String, remove: () -> Void) {
        let parent = state.layout.runtimeDirectory
        if mkdir(parent, 0o700) != 0 && errno != EEXIST {
            throw error(step, "RUN --mount=type=bind,rw: \(SystemError.errno("create \(parent)"))")
        }
        var template = Array((parent + "/bind-XXXXXX").utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw error(step, "RUN --mount=type=bind,rw: \(SystemError.errno("create a directory in \(parent)"))")
        }
        let directory = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let remove = { _ = try? ChildProcess.collect(executable: "/bin/rm", arguments: ["-rf", "--one-file-system", directory]) }
        var info = stat()
        let isDirectory = stat(source, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
        let copy = directory + "/source"
        // cp -a keeps modes, owners, times and links; --reflink=auto makes it cheap where the file system can.
        let result = try? ChildProcess.collect(executable: "/bin/cp",
                                               arguments: ["-a", "--reflink=auto", isDirectory ? source + "/." : source, copy])
        guard let result, result.status.isSuccess else {
            remove()
            throw error(step, "RUN --mount=type=bind,rw: cannot copy \(source): \(result?.stderr ?? "cp failed")")
        }
        return (copy, remove)
    }
}
