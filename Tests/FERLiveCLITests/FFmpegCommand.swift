import Foundation
import XCTest

/// The `ffmpeg` and `ffprobe` commands, for tests that make their own video files (each skips with a
/// message where ffmpeg is not installed).
enum FFmpegCommand {
    /// The ffmpeg executable, nil when it is not installed.
    static let ffmpeg = ["/usr/bin/ffmpeg", "/usr/local/bin/ffmpeg"].first { FileManager.default.isExecutableFile(atPath: $0) }
    /// The ffprobe beside it.
    static var ffprobe: String? { ffmpeg?.replacingOccurrences(of: "ffmpeg", with: "ffprobe") }

    /// Runs ffmpeg with `arguments` (inputs and encoder settings) writing `name` in `folder`; returns the
    /// file's path. A failure of ffmpeg fails the calling test.
    static func make(_ name: String, _ arguments: [String], in folder: URL, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let path = folder.appendingPathComponent(name).path
        let run = try CLIRunner.run(["-loglevel", "error", "-y"] + arguments + [path], executable: ffmpeg)
        XCTAssertEqual(run.status, 0, "ffmpeg: \(run.stderr)", file: file, line: line)
        return path
    }
}
