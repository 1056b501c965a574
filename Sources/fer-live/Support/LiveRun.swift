import ArgumentParser
import FERVision
import FERWindow
import Foundation

/// One run of the pipeline for `camera` and `replay`: opens every output first, shows the window unless
/// headless, stops cleanly on Ctrl-C, q or a lost camera, then writes the reports and the summary.
struct LiveRun {
    let options: RunOptions
    let source: FrameSource
    let classifier: EmotionClassifier
    let locator: (locator: FaceLocator, faceSlots: Int)
    let policy: FramePipeline.Policy
    let pacing: FramePipeline.Pacing
    /// Frame size to open the window at (the window adapts if frames differ).
    let frameSize: (width: Int, height: Int)
    /// "replayed 120 frames of DIR" style heading: called with the frame count.
    let heading: (_ frames: Int, _ stoppedEarly: Bool) -> String

    /// On the main thread (the window's SDL calls must come from it): commands call it through
    /// `runOnMainThread()`.
    @MainActor @discardableResult
    func run() throws -> FramePipeline.Summary {
        BLAS.setThreadCount(options.threads)
        let stopper = SignalStopper.shared
        // Every output is opened before the first frame, so a bad path fails now, not after an hour.
        var sinks: [FrameSink] = []
        if let output = options.output { sinks.append(try ResultWriter(path: output, classNames: classifier.classNames, includesLatency: !options.withoutLatency)) }
        let recorder = try SwitchableRecorder(recordingTo: options.record) { Terminal.error("warning: \($0)") }
        sinks.append(recorder)
        let timeline = EmotionTimelineSink(classNames: classifier.classNames, svgPath: options.timeline, summaryPath: options.summary,
                                           title: "Emotions over time: \(source.name)")
        sinks.append(timeline)
        if let annotate = options.annotate {
            sinks.append(try AnnotatedVideoWriter(path: annotate, classCount: classifier.classNames.count, faceSlots: locator.faceSlots,
                                                  fontPath: options.font ?? FontFiles.locate()))
        }
        for path in [options.latencyReport, options.latencyPlot, options.screenshot, options.timeline, options.summary].compactMap({ $0 }) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else { throw CommandFailure("\(path): cannot be written") }
        }
        let window = options.headless ? nil : try openWindow()

        // --frames ends the run after that many frames; with --screenshot the window ends it instead, once it
        // has shown them (drops not counted).
        let source: FrameSource = if let count = options.frames, options.screenshot == nil {
            FirstFrames(of: self.source, count: count)
        } else {
            self.source
        }
        let pipeline = FramePipeline(source: source, classifier: classifier, locator: locator.locator, sinks: sinks, display: window, policy: policy,
                                     pacing: pacing, smoother: options.smoother)
        stopper.stop = { pipeline.stop() }
        // Written by the pipeline's thread in the window's run, read after that run has returned (which
        // waits for the thread): never at the same time.
        nonisolated(unsafe) var outcome: Result<FramePipeline.Summary, Error>?
        if let window {
            let controls = WindowControls(
                stop: { pipeline.stop() },
                setPaused: { pipeline.setPaused($0) },
                toggleRecording: { try recorder.toggle(startingIn: SwitchableRecorder.newDirectoryName()) },
                recordingDestination: { recorder.directory })
            window.run(controls: controls) { outcome = Result { try pipeline.run() } }
            for note in window.notes { Terminal.note(note) }
            if let screenshot = options.screenshot, (try? FileManager.default.attributesOfItem(atPath: screenshot)[.size] as? Int) == 0 {
                try? FileManager.default.removeItem(atPath: screenshot)
                Terminal.error("warning: no frame was shown: no screenshot saved to \(screenshot)")
            }
        } else {
            outcome = Result { try pipeline.run() }
        }
        let summary = try outcome!.get()

        for error in summary.skipped.prefix(5) { Terminal.error("warning: skipped \(error)") }
        if summary.skipped.count > 5 { Terminal.error("warning: skipped \(summary.skipped.count) unreadable frames in all") }
        if let path = options.latencyReport { try writeText(summary.latency.report.serialized + "\n", to: path) }
        if let path = options.latencyPlot { try writeText(summary.latency.plotSVG, to: path) }
        FileHandle.standardError.write(Data("""
            \(heading(summary.latency.frames, summary.stoppedEarly)) (\(summary.skipped.count) unreadable)
            \(summary.latency.table)
            \(timeline.timeline.text)

            """.utf8))
        if let error = summary.sourceError { throw CommandFailure("\(error)") }
        if let failure = window?.failure { throw CommandFailure(failure.description) }
        return summary
    }

    /// The window, sized for the frames; a run that cannot show it fails before the first frame.
    @MainActor
    private func openWindow() throws -> LiveWindow {
        var windowOptions = LiveWindow.Options()
        windowOptions.title = "fer-live: \(source.name)"
        windowOptions.screenshotPath = options.screenshot
        windowOptions.screenshotAfterFrames = options.frames ?? 1
        windowOptions.fontPath = options.font
        let window: LiveWindow
        do {
            window = try LiveWindow(frameWidth: frameSize.width, frameHeight: frameSize.height,
                                    classCount: classifier.classNames.count, faceSlots: locator.faceSlots, options: windowOptions)
        } catch {
            if let screenshot = options.screenshot { try? FileManager.default.removeItem(atPath: screenshot) }
            throw error
        }
        if !window.hasText {
            Terminal.error("warning: no font found (install fonts-dejavu-core, or pass --font): the window shows bars without text")
        }
        return window
    }

    /// Runs on the calling thread, which must be the main thread, as a command's `run()` is; stops the
    /// process with a message otherwise.
    /// Returns whether the run was stopped before its source's end (Ctrl-C, q).
    @discardableResult
    func runOnMainThread() throws -> Bool {
        // assumeIsolated runs the closure at once, on this thread: `self` is never used anywhere else meanwhile.
        nonisolated(unsafe) let liveRun = self
        return try MainActor.assumeIsolated { try liveRun.run().stoppedEarly }
    }

    private func writeText(_ text: String, to path: String) throws {
        do { try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw CommandFailure("\(path): cannot write")
        }
    }
}

/// The write end of SignalStopper's pipe: set once, before the signal handler that reads it exists.
nonisolated(unsafe) private var signalPipeWriteEnd: Int32 = -1

/// SIGINT and SIGTERM for the whole process, handled on a thread of their own (not in signal context).
///
/// Installed first thing in `main`. By default a signal ends the process at once with the usual status
/// (128 + the signal), as without a handler. A streaming command calls `holdUntilStopIsSet()` before it
/// loads or opens anything: a signal during its start-up is then remembered, and `stop` runs when the
/// run sets it, so the run ends cleanly with every output complete. A second signal means the clean stop
/// is not coming: fer-live exits at once (every output line is written whole as it goes, so what was
/// written stays valid).
final class SignalStopper: @unchecked Sendable {
    static let shared = SignalStopper()

    // Guarded by `lock`: set from the main thread, read from the signal thread.
    private let lock = NSLock()
    private var action: (() -> Void)?
    private var holding = false
    private var signals = 0

    /// Takes SIGINT and SIGTERM over; call once, first thing in `main`. The handler only writes the
    /// signal's number to a pipe (all a handler may safely do), and a thread of its own reads the pipe
    /// and acts. Whichever thread the kernel picks (OpenBLAS starts its threads before `main`), the
    /// signal arrives. (A Dispatch signal source over SIG_IGN lost signals that landed in such a thread,
    /// and a replay then ran on after SIGTERM.)
    func install() {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { return }   // the default actions stay: a signal ends fer-live at once
        signalPipeWriteEnd = ends[1]
        _ = fcntl(ends[1], F_SETFL, O_NONBLOCK)
        let readEnd = ends[0]
        let reader = Thread { [unowned self] in
            while true {
                var number: UInt8 = 0
                let count = read(readEnd, &number, 1)
                if count == 1 { received(Int32(number)) } else if count < 0, errno != EINTR { return }
            }
        }
        reader.name = "fer-live signals"
        reader.start()
        for number in [SIGINT, SIGTERM] {
            _ = signal(number) { number in
                var byte = UInt8(truncatingIfNeeded: number)
                _ = write(signalPipeWriteEnd, &byte, 1)
            }
        }
    }

    /// From now on a signal is kept for `stop` instead of ending the process.
    func holdUntilStopIsSet() { lock.withLock { holding = true } }

    /// What a signal does; a signal that came before runs it now.
    var stop: (() -> Void)? {
        get { lock.withLock { action } }
        set {
            lock.lock()
            action = newValue
            let pending = signals > 0
            lock.unlock()
            if pending { newValue?() }
        }
    }

    private func received(_ number: Int32) {
        lock.lock()
        signals += 1
        // _exit, not exit: exit's atexit handlers and static destructors would run while the pipeline's
        // threads still use what they tear down (a crash, seen as SIGSEGV). A signal without a handler
        // ends a process the same way. Still holding the lock: start-up cannot pass
        // `holdUntilStopIsSet()` and create outputs between this decision and the exit (under
        // ThreadSanitizer's slowness a replay once left its files behind that way).
        if !holding { _exit(128 + number) }
        let count = signals, action = self.action
        lock.unlock()
        if count >= 2 {
            FileHandle.standardError.write(Data("fer-live: interrupted again: exiting now\n".utf8))
            _exit(128 + number)
        }
        action?()
    }
}

/// `--frames N`: the first N frames of a source, then its end.
private final class FirstFrames: FrameSource {
    private let source: FrameSource
    private var left: Int

    init(of source: FrameSource, count: Int) {
        self.source = source
        left = count
    }

    var name: String { source.name }
    var skipped: SkippedFrames { source.skipped }
    func pause() throws { try source.pause() }

    func nextFrame() throws -> Frame? {
        guard left > 0 else { return nil }
        left -= 1
        return try source.nextFrame()
    }
}

