// ImgBinary.swift owns locating and running the `img` executable of this build.
import Glibc
package import Foundation

/// Runs the real `img` executable built next to the test bundle.
package struct ImgBinary {
    package struct Result: Sendable {
        package var status: Int32
        package var stdout: String
        package var stderr: String

        package init(status: Int32, stdout: String, stderr: String) {
            self.status = status
            self.stdout = stdout
            self.stderr = stderr
        }
    }

    /// The `img` executable of this build: found by walking up from the test runner, which lives in the same
    /// build directory.
    package static let url: URL = {
        // The test runner lives in the same build directory as the `img` product.
        let runner = URL(filePath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var dir = runner.deletingLastPathComponent()
        while !dir.path.isEmpty, dir.path != "/" {
            let candidate = dir.appending(path: "img")
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDir), !isDir.boolValue {
                return candidate
            }
            dir = dir.deletingLastPathComponent()
        }
        return URL(filePath: "img")
    }()

    package static func run(_ arguments: [String], stdin: String? = nil, cwd: URL? = nil,
                    environment: [String: String] = [:]) throws -> Result {
        let process = Process()
        process.executableURL = url
        process.arguments = arguments
        if let cwd { process.currentDirectoryURL = cwd }
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        // Read both pipes fully before waiting so a chatty child cannot block on a full pipe.
        let errData = ReadAll(err.fileHandleForReading)
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus,
                      stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData.wait(), as: UTF8.self))
    }
}

/// Reads a file handle to its end on a background thread.
package final class ReadAll: @unchecked Sendable {
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)
    package init(_ handle: FileHandle) {
        Thread.detachNewThread { [self] in
            data = handle.readDataToEndOfFile()
            done.signal()
        }
    }
    package func wait() -> Data {
        done.wait()
        return data
    }
}

extension Prerequisite {
    /// The `img` executable of this build (`ImgBinary.url`).
    package static let imgBinary = Prerequisite("the img executable of this build (swift build --product img)") {
        access(ImgBinary.url.path, X_OK) == 0 && ImgBinary.url.path != "img" ? ImgBinary.url.path : nil
    }
}
