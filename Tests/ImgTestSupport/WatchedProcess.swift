// WatchedProcess.swift owns starting a process in the background and waiting until its stderr shows a text.
package import Foundation

/// A process started in the background, once its stderr showed the text waited for (or it ended first).
package struct WatchedProcess {
    package var process: Process
    /// Whether the text appeared before stderr closed.
    package var found: Bool
    /// Stderr up to that point.
    package var output: String

    /// Starts `executable ARGUMENTS...` with stdout discarded and returns once its stderr contains `text` or
    /// closes; stderr goes on being drained afterwards, so a chatty process never blocks on a full pipe.
    package static func start(_ executable: URL, _ arguments: [String], environment: [String: String]? = nil,
                              directory: String? = nil, until text: String) throws -> WatchedProcess {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let environment { process.environment = environment }
        if let directory { process.currentDirectoryURL = URL(filePath: directory) }
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        var seen = Data()
        while !String(decoding: seen, as: UTF8.self).contains(text) {
            let chunk = err.fileHandleForReading.availableData
            if chunk.isEmpty {
                return WatchedProcess(process: process, found: false, output: String(decoding: seen, as: UTF8.self))
            }
            seen.append(chunk)
        }
        _ = ReadAll(err.fileHandleForReading)
        return WatchedProcess(process: process, found: true, output: String(decoding: seen, as: UTF8.self))
    }
}
