import FERVision
import Foundation

/// What the window's keys do to the run.
public struct WindowControls {
    /// q, Esc or closing the window: end the run (outputs are flushed).
    public var stop: () -> Void
    /// Space: pause or resume.
    public var setPaused: (Bool) -> Void
    /// r: start or stop recording; returns the directory now recorded to, nil when recording stopped.
    public var toggleRecording: () throws -> String?
    /// Where the recording goes now, nil when none runs: read for every frame shown, so the HUD follows
    /// the recorder's real state (a recording given on the command line, one stopped for a slow disk).
    public var recordingDestination: () -> String?

    public init(stop: @escaping () -> Void, setPaused: @escaping (Bool) -> Void, toggleRecording: @escaping () throws -> String?,
                recordingDestination: @escaping () -> String? = { nil }) {
        self.stop = stop
        self.setPaused = setPaused
        self.toggleRecording = toggleRecording
        self.recordingDestination = recordingDestination
    }
}

/// The live window: shows each frame the pipeline delivers with its emotion overlay.
///
/// SDL runs on the main thread, which creates the window and calls `run` (hence `@MainActor`); the
/// pipeline runs on another thread and hands frames over through `present`, which returns once the
/// frame is on screen, so drawing is the pipeline's last stage ("render") in the latency report.
@MainActor
public final class LiveWindow: FrameDisplay {
    public struct Options {
        public var title = "fer-live"
        /// Save the window to this PNG after `screenshotAfterFrames` frames, then end the run.
        public var screenshotPath: String?
        public var screenshotAfterFrames = 1
        /// The font; nil searches the usual places (`FontFiles`).
        public var fontPath: String?
        public init() {}
    }

    /// A frame waiting for the main thread.
    private final class Job: Sendable {
        let result: FrameResult
        let dropped: Int
        let done = DispatchSemaphore(value: 0)
        /// Set on the main thread before `done` is signalled; read by the presenter after.
        let presentedAt = Locked<Double?>(nil)
        init(result: FrameResult, dropped: Int) {
            self.result = result
            self.dropped = dropped
        }
    }

    /// What the pipeline's thread and the main thread share: the frame waiting, and whether the window
    /// still shows frames.
    private struct Handover {
        var pending: Job?
        var closed = false
    }

    private let window: SDLWindow
    private let options: Options
    private let classCount: Int
    private let faceSlots: Int
    private let clock: () -> Double
    private var layout: OverlayLayout
    private let handover = Locked(Handover())
    /// Signalled when a frame waits (or the run ended), to wake the main loop.
    private let frameWaiting = DispatchSemaphore(value: 0)
    private var last: FrameResult?
    private var hud = HUDState()
    private var presentTimes: [Double] = []
    private var shown = 0
    private var screenshotRequested: String?
    /// Messages for the terminal (screenshots saved, recordings started), and the first failure.
    public private(set) var notes: [String] = []
    public private(set) var failure: WindowError?
    /// Whether a font was found: without one, the window draws bars but no text.
    public let hasText: Bool

    /// Opens the window (sized for `frameWidth` x `frameHeight` frames until the first frame says
    /// otherwise), with room in the panel for `faceSlots` faces.
    public init(frameWidth: Int = 640, frameHeight: Int = 480, classCount: Int = 7, faceSlots: Int = 1, options: Options = Options(),
                clock: @escaping () -> Double = MonotonicClock.seconds) throws(WindowError) {
        layout = OverlayLayout(frameWidth: frameWidth, frameHeight: frameHeight, classCount: classCount, faceSlots: faceSlots)
        window = try SDLWindow(title: options.title, width: layout.canvasWidth, height: layout.canvasHeight,
                               fontPath: options.fontPath ?? FontFiles.locate())
        hasText = window.canDrawText
        self.options = options
        self.classCount = classCount
        self.faceSlots = faceSlots
        self.clock = clock
    }

    /// Runs the window on this thread while `work` (the pipeline) runs on another; returns when `work`
    /// has returned, with the window closed. Keys act through `controls`.
    /// `work` is `@Sendable` because it runs on the other thread: a closure isolated to the main actor
    /// would trap there.
    public func run(controls: WindowControls, work: @escaping @Sendable () -> Void) {
        let finished = DispatchSemaphore(value: 0)
        let thread = Thread { [frameWaiting] in
            work()
            finished.signal()
            frameWaiting.signal()
        }
        thread.stackSize = 16 << 20
        thread.start()
        var quitting = false
        func quit() {
            guard !quitting else { return }
            quitting = true
            close()
            controls.stop()
        }
        while finished.wait(timeout: .now()) == .timedOut {
            // A frame wakes the loop at once; without frames, keys are read every 10 ms.
            _ = frameWaiting.wait(timeout: .now() + 0.01)
            for input in window.pendingInput() {
                switch input {
                case .quit: quit()
                case .togglePause:
                    hud.paused.toggle()
                    controls.setPaused(hud.paused)
                    redrawLast()
                case .screenshot:
                    screenshotRequested = Self.screenshotName()
                    redrawLast()
                case .toggleRecording:
                    do {
                        hud.recordingTo = try controls.toggleRecording()
                        notes.append(hud.recordingTo.map { "recording to \($0)" } ?? "recording stopped")
                    } catch {
                        notes.append("cannot record: \(error)")
                    }
                    redrawLast()
                case .exposed: redrawLast()
                }
            }
            if let job = takeJob() {
                hud.recordingTo = controls.recordingDestination()
                render(job)
                if options.screenshotPath != nil, shown == options.screenshotAfterFrames { quit() }
            }
        }
        close()
        // A stream shorter than --frames still leaves the screenshot it was asked for: its last frame.
        if let path = options.screenshotPath, shown < options.screenshotAfterFrames, let last {
            notes.append("the stream ended after \(shown) shown frames: the screenshot is of the last")
            draw(last, savingTo: path)
        }
        // Here, on the window's thread: the last reference may go with the pipeline's thread.
        window.close()
    }

    // MARK: FrameDisplay (the pipeline's sink queue)

    public nonisolated func present(_ result: FrameResult, dropped: Int) -> Double? {
        let job = Job(result: result, dropped: dropped)
        let accepted = handover.withLock { handover in
            guard !handover.closed else { return false }
            handover.pending = job
            return true
        }
        guard accepted else { return nil }
        frameWaiting.signal()
        job.done.wait()
        return job.presentedAt.withLock { $0 }
    }

    // MARK: Main thread

    private func takeJob() -> Job? {
        handover.withLock { $0.pending.take() }
    }

    /// No more frames are shown; a frame waiting is released unshown.
    private func close() {
        let job = handover.withLock { handover in
            handover.closed = true
            return handover.pending.take()
        }
        job?.done.signal()
    }

    private func render(_ job: Job) {
        let image = job.result.frame.image
        let wanted = OverlayLayout(frameWidth: image.width, frameHeight: image.height, classCount: classCount, faceSlots: faceSlots)
        if wanted != layout {
            layout = wanted
            window.resizeCanvas(width: layout.canvasWidth, height: layout.canvasHeight)
        }
        hud.dropped = job.dropped
        let isScreenshotFrame = shown + 1 == options.screenshotAfterFrames
        draw(job.result, savingTo: isScreenshotFrame ? options.screenshotPath ?? screenshotRequested : screenshotRequested)
        let presentedAt = clock()
        job.presentedAt.withLock { $0 = presentedAt }
        shown += 1
        presentTimes.append(presentedAt)
        if presentTimes.count > 30 { presentTimes.removeFirst() }
        if presentTimes.count > 1 { hud.framesPerSecond = Double(presentTimes.count - 1) / (presentTimes.last! - presentTimes.first!) }
        hud.latencyMilliseconds = (presentedAt - job.result.times.captured) * 1000
        last = job.result
        job.done.signal()
    }

    private func redrawLast() {
        guard let last else { return }
        draw(last, savingTo: screenshotRequested)
    }

    /// Draws, saves a screenshot if one is due (the pixels must be read before presenting), presents.
    private func draw(_ result: FrameResult, savingTo target: String?) {
        OverlayRenderer(layout: layout).draw(result, hud: hud, on: window)
        if let target {
            screenshotRequested = nil
            do {
                let png = try ImageEncoder.png(try window.readPixels())
                try png.write(to: URL(fileURLWithPath: target), options: .atomic)
                notes.append("screenshot saved to \(target)")
            } catch {
                let failure = WindowError("\(target): cannot save the screenshot (\(error))")
                self.failure = self.failure ?? failure
                notes.append(failure.description)
            }
        }
        window.present()
    }

    static func screenshotName() -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMdd-HHmmss-SSS"
        return "fer-live-screenshot-\(formatter.string(from: Date())).png"
    }
}
