#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension IgnoreFile {
    /// The ignore file that applies to a build: `<Dockerfile name>.dockerignore` next to the Dockerfile wins
    /// over `<context>/.dockerignore`; nil when neither exists. A relative `dockerfile` is taken as given
    /// (relative to the working directory), like the path the user typed.
    package static func location(contextDirectory: String, dockerfile: String) -> String? {
        let specific = dockerfile + ".dockerignore"
        if isRegularFile(specific) { return specific }
        let general = (contextDirectory.hasSuffix("/") ? contextDirectory : contextDirectory + "/") + ".dockerignore"
        if isRegularFile(general) { return general }
        return nil
    }

    /// The matcher for a build: the applicable ignore file read and compiled (errors name that file and
    /// line), or an empty matcher when there is none.
    package static func matcher(contextDirectory: String, dockerfile: String) throws(DockerfileError) -> IgnoreMatcher {
        guard let path = location(contextDirectory: contextDirectory, dockerfile: dockerfile) else {
            return try IgnoreMatcher(patterns: [])
        }
        let bytes = try readBytes(path)
        return try IgnoreMatcher(ignoreFileText: String(decoding: bytes, as: UTF8.self), file: path)
    }

    /// Follows symlinks on purpose: an ignore file may be a link, like a Dockerfile.
    static func isRegularFile(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && st.st_mode & S_IFMT == S_IFREG
    }

    static func readBytes(_ path: String) throws(DockerfileError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw DockerfileError("ignore", "cannot open: \(String(cString: strerror(errno)))", file: path)
        }
        defer { close(fd) }
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { systemRead(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw DockerfileError("ignore", "cannot read: \(String(cString: strerror(errno)))", file: path)
            }
            if n == 0 { break }
            result.append(contentsOf: buffer[..<n])
        }
        return result
    }
}

/// `read(2)`, named apart from `IgnoreFile.read`.
private func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    read(fd, buffer, count)
}
