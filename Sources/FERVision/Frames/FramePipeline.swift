import Dispatch
import Foundation

/// One classified face of a frame.
public struct FaceResult: Sendable {
    /// The face's index: stable across frames while it is tracked (0 for the center crop).
    public let index: Int
    /// The face's square, in frame pixels.
    public let box: PixelRect
    /// What was classified, and the eyes it was aligned on (nil: not aligned on eyes).
    public let crop: FaceCrop
    public let eyes: EyePair?
    /// Class probabilities (smoothed per face when smoothing is on).
    public let prediction: EmotionPrediction
}

/// What the pipeline delivers for each frame.
public struct FrameResult: Sendable {
    public let frame: Frame
    /// Every face classified in the frame, by index; empty when none was found.
    public let faces: [FaceResult]
    /// When the frame passed each stage; `delivered` is set just before sinks see it.
    public var times: FrameTimes
}

/// A located, preprocessed frame waiting for inference.
private struct PendingFrame {
    let frame: Frame
    let faces: [LocatedFace]
    /// The network's input for each face, in order.
    let inputs: [[Float]]
    var times: FrameTimes
}

/// Shows delivered frames: the window. Called on the sink queue after every sink has the frame.
public protocol FrameDisplay: AnyObject {
    /// Returns once the frame is on screen, with the time it got there (pipeline clock), or nil when it
    /// was not shown (the window is closed). `dropped` is the pipeline's count so far, for the HUD.
    func present(_ result: FrameResult, dropped: Int) -> Double?
}

/// Receives every delivered frame, in order, on the pipeline's sink queue.
public protocol FrameSink: AnyObject {
    func deliver(_ result: FrameResult) throws
    /// Flushes and closes; called once, after the last frame.
    func finish() throws
}

/// The frame pipeline: capture (the caller's thread), face location and preprocessing, inference and
/// sinks, each on its own serial Dispatch queue, so the stages overlap. Every face of a frame is
/// classified in one batched pass.
///
/// Two policies: `lossless` (replay) delivers every frame in order, letting inference batch frames that
/// queue up, and holds capture back when too many are in flight; `latestOnly` (live) never queues: at
/// each stage (detection, inference, and the sinks with the window) at most one frame waits, a newer frame
/// replaces it, and the drop is counted. A slow display or disk thus costs frames, never memory.
///
/// `@unchecked Sendable`: its stages run on its queues and `stop()`/`setPaused(_:)` come from any
/// thread. The flags they share are read and written under `lock`; everything else a stage touches
/// belongs to that stage's serial queue (or to `run()`'s thread), handed over through the queues.
public final class FramePipeline: @unchecked Sendable {
    public enum Policy: Sendable, Equatable {
        case lossless(batch: Int)
        case latestOnly
    }

    /// The longest a real-time replay waits between two frames, whatever their timestamps say.
    public static let maximumPacedGap = 10.0

    /// A paced replay starts reading a frame this long before it is due, beyond 1.5 times the slowest
    /// recent read: a read slower than that makes its frame late by the difference (the capture stage).
    static let readMargin = 0.002

    public enum Pacing: Sendable, Equatable {
        /// Release each frame at its timestamp (relative to the first): a replay runs in real time.
        case realTime
        /// Release frames as fast as the pipeline takes them.
        case asFastAsPossible
        /// A camera: frames come when the source has them, and each frame's timestamp is its capture time
        /// on the pipeline's monotonic clock (V4L2 buffer timestamps are).
        case live
    }

    /// What the run did, for the end-of-run summary.
    public struct Summary {
        public let latency: LatencyRecorder
        public let skipped: SkippedFrames
        public let stoppedEarly: Bool
        /// Why the source ended the stream early (a camera unplugged), after everything captured before it
        /// was delivered and flushed; nil when it ended normally or was stopped.
        public let sourceError: Error?
    }

    private let source: FrameSource
    private let locator: FaceLocator
    private let preprocessor: Preprocessor
    private let classNames: [String]
    private let predict: (Tensor) -> [EmotionPrediction]
    /// The network's first pass, on a blank face, before the first frame (nil when a test stands in for it).
    private let warmUp: (() -> Void)?
    private let sinks: [FrameSink]
    private let display: FrameDisplay?
    private let policy: Policy
    private let pacing: Pacing
    private let smoother: LabelSmoother
    private let clock: () -> Double

    private let preprocessQueue = DispatchQueue(label: "fer-live.preprocess")
    private let inferenceQueue = DispatchQueue(label: "fer-live.inference")
    private let sinkQueue = DispatchQueue(label: "fer-live.sinks")
    private let group = DispatchGroup()
    private let lock = NSLock()
    private var pending: [PendingFrame] = []
    /// Live: the newest captured frame not yet taken by face detection.
    private let waitingForPreprocess: LatestSlot<(Frame, FrameTimes)>
    /// Live: the newest classified frame not yet taken by the sinks.
    private let waitingForSinks: LatestSlot<(PendingFrame, [EmotionPrediction], inferred: Double)>
    private var stopRequested = false
    private var isPaused = false
    private var sinkError: Error?
    private let latency = LatencyRecorder()

    /// - Parameters:
    ///   - locator: where the faces are in each frame (default: the center square).
    ///   - display: shows each frame after the sinks (the window); its time is the "render" stage.
    ///   - predict: runs the network (defaults to the classifier's); tests slow it down to see the policies.
    ///   - smoother: keeps each face's label steady (default: none, every frame's top class is shown).
    public init(source: FrameSource, classifier: EmotionClassifier, locator: FaceLocator = CenterCropLocator(),
                sinks: [FrameSink], display: FrameDisplay? = nil,
                policy: Policy, pacing: Pacing, smoother: LabelSmoother = LabelSmoother(), predict: ((Tensor) -> [EmotionPrediction])? = nil,
                clock: @escaping () -> Double = MonotonicClock.seconds) {
        self.source = source
        self.locator = locator
        self.preprocessor = classifier.preprocessor
        self.classNames = classifier.classNames
        self.predict = predict ?? { classifier.predictions(for: $0) }
        warmUp = predict != nil ? nil : {
            let input = classifier.preprocessor
            _ = classifier.predictions(for: Tensor(shape: [1, input.channels, input.inputSize, input.inputSize]))
        }
        self.sinks = sinks
        self.display = display
        self.policy = policy
        self.pacing = pacing
        self.smoother = smoother
        self.clock = clock
        waitingForPreprocess = LatestSlot(queue: preprocessQueue)
        waitingForSinks = LatestSlot(queue: sinkQueue)
    }

    /// Asks the run to end: capture stops, frames already captured are delivered, sinks are flushed.
    /// Safe from any thread (a signal handler's queue).
    public func stop() {
        lock.lock()
        stopRequested = true
        lock.unlock()
    }

    /// Pauses or resumes capture. A paused replay resumes where it was, with its pacing shifted by the
    /// pause; a paused camera stops streaming, and its first frame after the pause is a fresh one.
    public func setPaused(_ paused: Bool) {
        lock.lock()
        isPaused = paused
        lock.unlock()
    }

    private var paused: Bool {
        lock.lock()
        defer { lock.unlock() }
        return isPaused
    }

    private var shouldStop: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopRequested || sinkError != nil
    }

    /// Runs until the source ends or `stop()`; blocks the calling thread, which does the capturing.
    /// Throws the first error a sink raised, after flushing every sink; a source that fails mid-stream
    /// (a camera unplugged) ends the run normally, with the error in the summary.
    public func run() throws -> Summary {
        let maxInFlight: Int
        if case .lossless(let batch) = policy { maxInFlight = 2 * batch + 2 } else { maxInFlight = .max }
        let slots = DispatchSemaphore(value: min(maxInFlight, 1 << 20))
        var firstTimestamp: Double?, lastTimestamp = -Double.infinity, start = 0.0, lastDue: Double?
        var sourceError: Error?
        // Paced: the gap before the last frame, and how long reading a frame has taken lately.
        var lastGap = 0.0, readLead = 0.0
        // The first pass of the network pays for page faults in its weights and buffers and for waking
        // its threads: paid here, on the inference queue's thread, it is not added to the first frame.
        if let warmUp { inferenceQueue.sync { warmUp() } }
        while !shouldStop {
            if paused {
                let pausedAt = clock()
                do { try source.pause() } catch { sourceError = error; break }
                while paused, !shouldStop { usleep(10_000) }
                start += clock() - pausedAt
                lastDue = lastDue.map { $0 + clock() - pausedAt }
                continue
            }
            if maxInFlight != .max {
                while slots.wait(timeout: .now() + 0.1) == .timedOut { if shouldStop { break } }
                if shouldStop { slots.signal(); break }
            }
            if pacing == .realTime, let lastDue, lastGap > 0 {
                // The next frame is read shortly before it is due, as a camera delivers one, not right
                // after this one was handed over: decoding it (a PNG or a video frame: milliseconds,
                // more for large ones) would take a core from this frame's search and inference.
                sleep(until: lastDue + lastGap - readLead)
            }
            let readStart = clock()
            let frame: Frame?
            do { frame = try source.nextFrame() } catch { sourceError = error; slots.signal(); break }
            guard let frame else { slots.signal(); break }
            // The lead covers the slowest recent read, with a margin; an old slow read is forgotten slowly.
            readLead = max(0.9 * readLead, 1.5 * (clock() - readStart) + Self.readMargin)
            // A new input of a sequence starts its clock again: pacing starts over with it.
            if firstTimestamp == nil || frame.timestamp < lastTimestamp {
                firstTimestamp = frame.timestamp
                start = clock()
                lastGap = 0
            } else {
                lastGap = min(frame.timestamp - lastTimestamp, Self.maximumPacedGap)
            }
            lastTimestamp = frame.timestamp
            var due = clock()
            if pacing == .live, abs(due - frame.timestamp) < 10 {
                due = min(due, frame.timestamp)
            } else if pacing == .realTime {
                due = start + (frame.timestamp - firstTimestamp!)
                // A gap of over `maximumPacedGap` between two frames (a paused recording, a clock that
                // jumped) is replayed as that long, as live pacing ignores clock jumps: never hours on a frame.
                if let lastDue, due - lastDue > Self.maximumPacedGap {
                    start -= due - lastDue - Self.maximumPacedGap
                    due = lastDue + Self.maximumPacedGap
                }
                lastDue = due
                sleep(until: due)
                due = min(due, clock())
            }
            var captured = FrameTimes(captured: due)
            captured.dequeued = clock()
            group.enter()
            if policy == .latestOnly {
                handOverLatest(frame, captured, slots: slots)
            } else {
                preprocessQueue.async { [self, captured] in preprocess(frame, captured, slots: slots) }
            }
        }
        group.wait()
        var finishError: Error?
        for sink in sinks {
            do { try sink.finish() } catch { finishError = finishError ?? error }
        }
        if let error = sinkError ?? finishError { throw error }
        return Summary(latency: latency, skipped: source.skipped, stoppedEarly: stopRequested, sourceError: sourceError)
    }

    /// Returns at `time` on the pipeline's clock, or sooner when the run is asked to stop.
    private func sleep(until time: Double) {
        while !shouldStop, clock() < time { usleep(UInt32(min(5_000, max(100, (time - clock()) * 1e6)))) }
    }

    /// Finds the faces and makes the network's inputs, then hands the frame to inference.
    private func preprocess(_ frame: Frame, _ captured: FrameTimes, slots: DispatchSemaphore) {
        var times = captured
        let faces = locator.locate(in: frame.image)
        times.located = clock()
        let inputs = faces.map { preprocessor.input(for: frame.image, crop: $0.crop) ?? [Float](repeating: 0, count: preprocessor.inputLength) }
        times.preprocessed = clock()
        enqueue(PendingFrame(frame: frame, faces: faces, inputs: inputs, times: times), slots: slots)
    }

    /// Live: a frame waits for face detection in a single slot, and a newer frame replaces it (counted as
    /// dropped), so a slow detector never builds a queue.
    private func handOverLatest(_ frame: Frame, _ captured: FrameTimes, slots: DispatchSemaphore) {
        let replaced = waitingForPreprocess.offer((frame, captured)) { [self] frame, captured in
            preprocess(frame, captured, slots: slots)
        }
        if replaced { countDropped() }
    }

    /// A frame that a newer one replaced in a live stage's slot: counted, and done with.
    private func countDropped() {
        sinkQueue.async { [self] in latency.dropped += 1; group.leave() }
    }

    /// Hands a preprocessed frame to inference, applying the policy.
    private func enqueue(_ item: PendingFrame, slots: DispatchSemaphore) {
        lock.lock()
        if policy == .latestOnly, !pending.isEmpty {
            // Inference is busy and a frame already waits: the newer one replaces it.
            pending.removeAll()
            lock.unlock()
            countDropped()
            lock.lock()
        }
        pending.append(item)
        lock.unlock()
        inferenceQueue.async { [self] in infer(slots: slots) }
    }

    /// Takes what waits (up to the batch size) and classifies it in one pass.
    private func infer(slots: DispatchSemaphore) {
        let batchLimit: Int
        if case .lossless(let batch) = policy { batchLimit = batch } else { batchLimit = 1 }
        // Everything about `pending` is decided under the lock; afterwards only the copy taken is used.
        lock.lock()
        let taken = min(batchLimit, pending.count)
        let batch = Array(pending[..<taken])
        pending.removeFirst(taken)
        lock.unlock()
        guard taken > 0 else { return }
        // Every face of every waiting frame in one pass.
        let size = preprocessor.inputSize
        let inputs = batch.flatMap(\.inputs)
        let predictions = inputs.isEmpty ? []
            : predict(Tensor(shape: [inputs.count, preprocessor.channels, size, size], scalars: inputs.flatMap { $0 }))
        let inferred = clock()
        var next = 0
        let perFrame = batch.map { item in
            defer { next += item.faces.count }
            return Array(predictions[next..<next + item.faces.count])
        }
        if policy == .latestOnly {
            // One frame per pass (batch 1): it waits for the sinks in a single slot.
            handOverToSinks(batch[0], perFrame[0], inferred: inferred, slots: slots)
            return
        }
        sinkQueue.async { [self] in
            for (item, predictions) in zip(batch, perFrame) {
                finish(item, predictions, inferred: inferred)
                slots.signal()
                group.leave()
            }
        }
    }

    /// Live: the classified frame waits for the sinks in a single slot; a newer one replaces it (counted
    /// as dropped), so a display or disk slower than the camera never builds a queue.
    private func handOverToSinks(_ item: PendingFrame, _ predictions: [EmotionPrediction], inferred: Double, slots: DispatchSemaphore) {
        let replaced = waitingForSinks.offer((item, predictions, inferred)) { [self] item, predictions, inferred in
            finish(item, predictions, inferred: inferred)
            group.leave()
        }
        if replaced { countDropped() }
        slots.signal()
    }

    /// On the sink queue: steadies each face's label and delivers the frame.
    private func finish(_ item: PendingFrame, _ predictions: [EmotionPrediction], inferred: Double) {
        smoother.nextFrame()
        var times = item.times
        times.inferred = inferred
        let faces = zip(item.faces, predictions).map { face, prediction in
            FaceResult(index: face.index, box: face.box, crop: face.crop, eyes: face.eyes,
                       prediction: smoother.smooth(prediction, face: face.index))
        }
        deliver(FrameResult(frame: item.frame, faces: faces, times: times))
    }

    private func deliver(_ result: FrameResult) {
        var result = result
        result.times.delivered = clock()
        lock.lock()
        let failed = sinkError != nil
        lock.unlock()
        guard !failed else { return }
        for sink in sinks {
            do { try sink.deliver(result) } catch {
                lock.lock()
                sinkError = sinkError ?? error
                lock.unlock()
                return
            }
        }
        if let display { result.times.presented = display.present(result, dropped: latency.dropped) }
        latency.record(result.times, frame: result.frame.sequence)
        latency.noteStreamTime(result.frame.timestamp)
        latency.labelSwitches = smoother.switches
    }
}
