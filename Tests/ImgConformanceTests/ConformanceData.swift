import Foundation
import ImgTestSupport

/// Locates the shared conformance data: `$IMG_CONFORMANCE_DIR`, else `../shared/conformance` beside the
/// package root. The data is never copied into the repository.
enum ConformanceData {
    static let root: URL? = {
        let env = ProcessInfo.processInfo.environment
        let url: URL
        if let dir = env["IMG_CONFORMANCE_DIR"], !dir.isEmpty {
            url = URL(filePath: dir, directoryHint: .isDirectory)
        } else {
            // Tests/ImgConformanceTests/ConformanceData.swift → package root → ../shared/conformance
            let packageRoot = URL(filePath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent()
            url = packageRoot.deletingLastPathComponent().appending(path: "shared/conformance")
        }
        return FileManager.default.fileExists(atPath: url.path) ? url.standardizedFileURL : nil
    }()

    /// The data folder `sub`, or `MissingPrerequisite` (`.conformanceData`) when there is no data.
    static func directory(_ sub: String) throws -> URL {
        URL(filePath: try Prerequisite.conformanceData.require(), directoryHint: .isDirectory).appending(path: sub)
    }

    static func read(_ url: URL) throws -> Data { try Data(contentsOf: url) }

    /// Prints a suite's tally in a fixed shape so CI logs show what ran: `conformance parser: 33/33 passed`.
    static func report(_ suite: String, passed: Int, total: Int) {
        print("conformance \(suite): \(passed)/\(total) passed")
    }
}

extension Prerequisite {
    /// The shared conformance data (`ConformanceData.root`).
    static let conformanceData = Prerequisite(
        "the conformance data (set IMG_CONFORMANCE_DIR or place it at ../shared/conformance)"
    ) { ConformanceData.root?.path }

    /// Debian's python3-jsonschema, the independent validator of the OCI schema tests.
    static let jsonschema = pythonModule("jsonschema", package: "python3-jsonschema")
}
