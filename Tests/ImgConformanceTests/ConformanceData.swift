import Foundation
import Testing

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

    static var isCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    /// The data folder `sub`, or nil after saying loudly why it is missing. Under `CI=true` a missing
    /// folder is a test failure, never a skip.
    static func directory(_ sub: String, sourceLocation: SourceLocation = #_sourceLocation) -> URL? {
        guard let root else {
            let message = "conformance data not found: set IMG_CONFORMANCE_DIR or place it at ../shared/conformance"
            if isCI {
                Issue.record(Comment(rawValue: message), sourceLocation: sourceLocation)
            } else {
                print("SKIPPED (not CI): \(message)")
            }
            return nil
        }
        return root.appending(path: sub)
    }

    static func read(_ url: URL) throws -> Data { try Data(contentsOf: url) }

    /// Prints a suite's tally in a fixed shape so CI logs show what ran: `conformance parser: 33/33 passed`.
    static func report(_ suite: String, passed: Int, total: Int) {
        print("conformance \(suite): \(passed)/\(total) passed")
    }
}

/// Whether a conformance suite is allowed to run here: true when data exists; false (with a recorded failure
/// under CI) when not.
var conformanceAvailable: Bool { ConformanceData.root != nil || !ConformanceData.isCI }
