import Foundation
import Testing
import ImgTestSupport

/// External programs the tests drive, and the Debian package each comes from.
enum Tool: String, CaseIterable {
    case dockerRegistry = "docker-registry"
    case openssl
    case skopeo
    case htpasswd
    case python3
    case busybox
    case tar
    case gzip

    var package: String {
        switch self {
        case .dockerRegistry: "docker-registry"
        case .openssl: "openssl"
        case .skopeo: "skopeo"
        case .htpasswd: "apache2-utils"
        case .python3: "python3"
        case .busybox: "busybox-static"
        case .tar: "tar"
        case .gzip: "gzip"
        }
    }

    var path: String? {
        if self == .busybox { return FileManager.default.isExecutableFile(atPath: "/bin/busybox") ? "/bin/busybox" : nil }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let p = "\(dir)/\(rawValue)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }
}

/// Whether every tool is installed. Under `CI=true` a missing one is a test failure naming its Debian
/// package; elsewhere the test is skipped with a printed note.
func require(_ tools: Tool..., sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
    let missing = tools.filter { $0.path == nil }
    guard !missing.isEmpty else { return true }
    let list = missing.map { "\($0.rawValue) (Debian package \($0.package))" }.joined(separator: ", ")
    if ProcessInfo.processInfo.environment["CI"] == "true" {
        Issue.record("missing prerequisite: \(list)", sourceLocation: sourceLocation)
    } else {
        print("SKIPPED: missing prerequisite: \(list); install it with apt-get to run this test")
    }
    return false
}
