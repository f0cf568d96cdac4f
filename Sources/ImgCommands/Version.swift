import ArgumentParser
import ImgDockerfile

/// What `img version` and `img -v` report.
struct VersionInfo {
    static let current = VersionInfo()
    let version = "0.1.0-dev"
    let commit = BuildInfo.gitCommit
    let swift: String = {
        #if swift(>=6.3)
        "6.3"
        #elseif swift(>=6.2)
        "6.2"
        #else
        "6.1"
        #endif
    }()
    var short: String { "img version \(version), commit \(commit), swift \(swift)" }
}

struct Version: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Show the version information.")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let v = VersionInfo.current
        print("version     : \(v.version)")
        print("git commit  : \(v.commit)")
        print("swift       : \(v.swift)")
        print("platform    : \(BuildPlatform.host)")
    }
}
