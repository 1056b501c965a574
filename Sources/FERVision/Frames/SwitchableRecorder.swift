import Foundation

/// Records delivered frames while switched on (the window's r key, or --record from the start). Each
/// recording is its own frame directory that `fer-live replay` plays back.
///
/// Thread safety: `toggle` from any thread (the window's); frames arrive on the sink queue.
public final class SwitchableRecorder: FrameSink {
    private let lock = NSLock()
    private var recorder: FrameRecorder?

    /// Starts recording into `directory` at once when given.
    public init(recordingTo directory: String? = nil) throws(DatasetError) {
        if let directory { recorder = try FrameRecorder(directory: directory) }
    }

    /// The directory being recorded to, if any.
    public var directory: String? {
        lock.lock()
        defer { lock.unlock() }
        return recorder?.directory
    }

    /// Stops a running recording, or starts one in `directory`. Returns the directory now recorded to,
    /// nil when recording stopped.
    public func toggle(startingIn directory: @autoclosure () -> String) throws -> String? {
        lock.lock()
        defer { lock.unlock() }
        if let running = recorder {
            recorder = nil
            try running.finish()
            return nil
        }
        let started = try FrameRecorder(directory: directory())
        recorder = started
        return started.directory
    }

    /// A new directory name for a recording started from the window: recording-<date>-<time>.
    public static func newDirectoryName(now: Date = Date()) -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        return "recording-\(formatter.string(from: now))"
    }

    public func deliver(_ result: FrameResult) throws {
        lock.lock()
        defer { lock.unlock() }
        try recorder?.deliver(result)
    }

    public func finish() throws {
        lock.lock()
        defer { lock.unlock() }
        try recorder?.finish()
    }
}
