import ArgumentParser
import Foundation
import ImgErrors
import Logging

/// A user-facing failure of a command, printed as one line.
struct CommandError: ImgError {
    var description: String
    init(_ message: String) { description = message }
    var errorCode: String { "command-failed" }
}

/// Logging for a command: debug lines go to stderr only with `-d`.
struct CommandLog {
    let logger: Logger
    init(debug: Bool) {
        var logger = Logger(label: "img") { label in StreamLogHandler.standardError(label: label) }
        logger.logLevel = debug ? .debug : .notice
        self.logger = logger
    }
    func debug(_ message: @autoclosure () -> String) { logger.debug("\(message())") }
}

/// Standard error, for messages that are not the command's output.
enum StandardError {
    static func print(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}

/// Runs `body`, turning img's own errors (every type adopts `ImgError`) into one `error: ...` line on stderr
/// and exit status 1.
func reportingErrors(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as any ImgError {
        StandardError.print("error: \(error)")
        throw ExitCode.failure
    }
}
