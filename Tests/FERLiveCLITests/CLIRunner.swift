import Foundation
import XCTest

/// Runs the built `fer-live` binary the way a user would, capturing its output.
struct CLIRunner {
    struct Result {
        let status: Int32
        /// Whether the process exited or was killed by a signal (a trap: status is then the signal).
        let signaled: Bool
        let stdout: String
        let stderr: String
        var stdoutLines: [String] { stdout.split(separator: "\n").map(String.init) }
        var stderrLines: [String] { stderr.split(separator: "\n").map(String.init) }
        /// stderr without the informational `note:` lines.
        var errorLines: [String] { stderrLines.filter { !$0.hasPrefix("fer-live: note:") } }
    }

    /// The executable SwiftPM built next to this test bundle.
    static var binary: URL {
        Bundle.main.bundleURL.appendingPathComponent("fer-live")
    }

    /// The PyTorch fixtures of the library tests, read from the source tree.
    static func fixture(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("FERVisionTests/Fixtures/\(name)").path
    }

    /// Runs fer-live (or `executable`, such as xvfb-run wrapping it) with `arguments`.
    static func run(_ arguments: [String], environment: [String: String] = [:], executable: String? = nil) throws -> Result {
        let process = Process()
        process.executableURL = executable.map { URL(fileURLWithPath: $0) } ?? binary
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "FER_LIVE_MODEL")
        env.merge(environment) { $1 }
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read both pipes before waiting, so a chatty process cannot block on a full pipe.
        let errors = Collected()
        let finished = DispatchSemaphore(value: 0)
        Thread {
            errors.data = err.fileHandleForReading.readDataToEndOfFile()
            finished.signal()
        }.start()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        finished.wait()
        return Result(status: process.terminationStatus, signaled: process.terminationReason == .uncaughtSignal,
                      stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errors.data!, as: UTF8.self))
    }
}

private final class Collected: @unchecked Sendable {
    var data: Data?
}
