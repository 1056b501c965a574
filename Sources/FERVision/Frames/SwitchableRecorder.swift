import Foundation

/// Records delivered frames while switched on (the window's r key, or --record from the start). Each
/// recording is a frame directory, or a lossless video file (`.mkv`), that `fer-live replay` plays back.
///
/// Each recording is written on its own queue (`BoundedRecording`): a disk slower than the camera stops
/// the recording, with `onStop` told why, instead of slowing the window or growing memory.
///
/// Thread safety: `toggle` from any thread (the window's); frames arrive on the sink queue.
public final class SwitchableRecorder: FrameSink {
    /// Frames a recording may have waiting for the disk before it stops: 3 s at 30 fps.
    public static let defaultWaitingLimit = 90

    private let lock = NSLock()
    private var recording: BoundedRecording?
    /// Recordings stopped for falling behind, still writing what they were given.
    private var closing: [BoundedRecording] = []
    private let waitingLimit: Int
    private let onStop: (String) -> Void

    /// Starts recording to `destination` at once when given.
    /// - Parameters:
    ///   - waitingLimit: frames a recording may have waiting for the disk before it stops.
    ///   - onStop: told, in one line, when a recording stops because the disk did not keep up.
    public convenience init(recordingTo destination: String? = nil, waitingLimit: Int = SwitchableRecorder.defaultWaitingLimit,
                            onStop: @escaping (String) -> Void = { _ in }) throws(DatasetError) {
        var recording: (String, FrameSink)?
        if let destination { recording = (destination, try Self.recorder(for: destination)) }
        self.init(recording: recording, waitingLimit: waitingLimit, onStop: onStop)
    }

    /// Records through `recording`'s recorder (tests give a slow one).
    init(recording: (destination: String, recorder: FrameSink)?, waitingLimit: Int, onStop: @escaping (String) -> Void) {
        self.waitingLimit = waitingLimit
        self.onStop = onStop
        recording.map { self.recording = BoundedRecording($0.recorder, destination: $0.destination, limit: waitingLimit) }
    }

    /// What a destination records into: a lossless video for a `.mkv` name, else a frame directory.
    public static func recorder(for destination: String) throws(DatasetError) -> FrameSink {
        destination.lowercased().hasSuffix(".mkv") ? try VideoRecorder(path: destination) : try FrameRecorder(directory: destination)
    }

    /// Where the running recording goes, if any.
    public var directory: String? {
        lock.lock()
        defer { lock.unlock() }
        return recording?.destination
    }

    /// Stops a running recording, or starts one in `directory`. Returns the directory now recorded to,
    /// nil when recording stopped. Never waits for the disk: a stopped recording is closed on its own
    /// queue once its frames are written, and `finish` reports its errors.
    public func toggle(startingIn directory: @autoclosure () -> String) throws -> String? {
        lock.lock()
        defer { lock.unlock() }
        if let running = recording {
            recording = nil
            running.close()
            closing.append(running)
            return nil
        }
        let destination = directory()
        recording = BoundedRecording(try Self.recorder(for: destination), destination: destination, limit: waitingLimit)
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
        guard let running = recording, let reason = try running.offer(result) else { return }
        recording = nil
        closing.append(running)
        onStop(reason)
    }

    /// Waits for every recording to write what it was given, and closes them.
    public func finish() throws {
        lock.lock()
        defer { lock.unlock() }
        var firstError: Error?
        for running in closing + [recording].compactMap({ $0 }) {
            do { try running.finish() } catch { firstError = firstError ?? error }
        }
        closing = []
        if let firstError { throw firstError }
    }
}
