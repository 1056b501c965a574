import Foundation

/// Records delivered frames while switched on (the window's r key, or --record from the start). Each
/// recording is a frame directory, or a lossless video file (`.mkv`), that `fer-live replay` plays back.
///
/// Thread safety: `toggle` from any thread (the window's); frames arrive on the sink queue.
public final class SwitchableRecorder: FrameSink {
    private let lock = NSLock()
    private var recorder: (sink: FrameSink, destination: String)?

    /// Starts recording to `destination` at once when given.
    public init(recordingTo destination: String? = nil) throws(DatasetError) {
        if let destination { recorder = (try Self.recorder(for: destination), destination) }
    }

    /// What a destination records into: a lossless video for a `.mkv` name, else a frame directory.
    public static func recorder(for destination: String) throws(DatasetError) -> FrameSink {
        destination.lowercased().hasSuffix(".mkv") ? try VideoRecorder(path: destination) : try FrameRecorder(directory: destination)
    }

    /// Where the running recording goes, if any.
    public var directory: String? {
        lock.lock()
        defer { lock.unlock() }
        return recorder?.destination
    }

    /// Stops a running recording, or starts one in `directory`. Returns the directory now recorded to,
    /// nil when recording stopped.
    public func toggle(startingIn directory: @autoclosure () -> String) throws -> String? {
        lock.lock()
        defer { lock.unlock() }
        if let running = recorder {
            recorder = nil
            try running.sink.finish()
            return nil
        }
        let destination = directory()
        recorder = (try Self.recorder(for: destination), destination)
        return destination
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
        try recorder?.sink.deliver(result)
    }

    public func finish() throws {
        lock.lock()
        defer { lock.unlock() }
        try recorder?.sink.finish()
    }
}
