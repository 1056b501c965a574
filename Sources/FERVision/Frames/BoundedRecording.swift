import Dispatch

/// A recording written on a queue of its own, so a slow disk never holds up the window or the other
/// outputs, with at most `limit` frames handed over and not yet written. When the disk falls that far
/// behind, the recording stops: the frames already handed over are still written, the file or folder is
/// closed, and nothing else of the run stops. Memory stays bounded by `limit` frames.
///
/// `@unchecked Sendable`: the recorder it writes through is used only on `queue` once made; the counts
/// and the first write error are `Locked`.
final class BoundedRecording: @unchecked Sendable {
    /// Where the frames go (a folder, or a `.mkv` file).
    let destination: String
    let limit: Int
    private let recorder: FrameSink
    private let queue = DispatchQueue(label: "fer-live.recording")

    private struct State {
        var waiting = 0
        var written = 0
        var stopped = false
        var closed = false
        var failure: Error?
    }

    private let state = Locked(State())

    init(_ recorder: FrameSink, destination: String, limit: Int) {
        self.recorder = recorder
        self.destination = destination
        self.limit = max(1, limit)
    }

    /// Hands a frame to the writer without waiting for the disk. Returns why the recording stopped when
    /// this frame found `limit` frames still waiting (the frame is not recorded, and neither is any
    /// after it); nil while it keeps up. Throws the first write error (a full disk), which ends the run
    /// as any output's failure does.
    func offer(_ result: FrameResult) throws -> String? {
        let (accepted, failure, written) = state.withLock { state -> (Bool, Error?, Int) in
            guard !state.stopped, state.failure == nil else { return (false, state.failure, state.written) }
            guard state.waiting < limit else {
                state.stopped = true
                return (false, nil, state.written)
            }
            state.waiting += 1
            return (true, nil, state.written)
        }
        if let failure { throw failure }
        guard accepted else {
            return "recording to \(destination) stopped after \(written + limit) frames: the disk did not keep up "
                + "(\(limit) frames were waiting to be written); the frames recorded so far are kept"
        }
        queue.async { [self] in
            do { try recorder.deliver(result) } catch {
                state.withLock { state in state.failure = state.failure ?? error }
            }
            state.withLock { state in
                state.waiting -= 1
                state.written += 1
            }
        }
        return nil
    }

    /// Closes the recording on its own queue once the frames handed over are written, without waiting:
    /// the window's r key must not wait for a slow disk. `finish` later waits for it and reports its errors.
    func close() {
        state.withLock { $0.stopped = true }
        queue.async { [self] in closeOnQueue() }
    }

    /// Waits for the frames handed over, then closes the recording (unless `close` did); throws the first
    /// write error.
    func finish() throws {
        let failure: Error? = queue.sync {
            closeOnQueue()
            return state.withLock { $0.failure }
        }
        if let failure { throw failure }
    }

    /// On `queue`: the recorder's finish, once.
    private func closeOnQueue() {
        guard !state.withLock({ $0.closed }) else { return }
        state.withLock { $0.closed = true }
        do { try recorder.finish() } catch { state.withLock { $0.failure = $0.failure ?? error } }
    }
}
