@testable import FERVision
import Foundation
import XCTest

/// The pipeline's policies with an artificially slow inference stage, on synthetic frames.
final class FramePipelineTests: XCTestCase {
    /// Frames of a plain gray, numbered, at `interval` seconds apart.
    final class SyntheticSource: FrameSource {
        let name = "synthetic"
        let skipped = SkippedFrames()
        let count: Int, interval: Double
        private var next = 0
        init(count: Int, interval: Double) { self.count = count; self.interval = interval }
        func nextFrame() throws -> Frame? {
            guard next < count else { return nil }
            defer { next += 1 }
            let image = ByteImage(width: 64, height: 48, pixels: [UInt8](repeating: UInt8(next % 256), count: 64 * 48))
            return Frame(sequence: next, timestamp: Double(next) * interval, image: image, sourceName: "frame\(next)")
        }
    }

    final class CollectingSink: FrameSink {
        var results: [FrameResult] = []
        var finished = false
        func deliver(_ result: FrameResult) throws { results.append(result) }
        func finish() throws { finished = true }
    }

    private func classifier() -> EmotionClassifier { Self.tinyClassifier() }

    /// A narrow, randomly initialized classifier: fast, and good enough to exercise the pipeline.
    static func tinyClassifier() -> EmotionClassifier {
        let architecture = ResNet9Architecture(inputChannels: 1, classCount: 7, widths: [4, 8, 8, 16])
        let model = LoadedModel(stateDict: .initialized(architecture, seed: 1), architecture: architecture,
                                metadata: ModelMetadata(classNames: ModelMetadata.fer2013ClassNames))
        return EmotionClassifier(model: model)
    }

    /// Closed until the source has given its last frame: a stage that waits on it is as slow as a stage
    /// can be, with no clock and no sleep involved (the tests hold under any load or sanitizer).
    final class Gate: @unchecked Sendable {
        private let opened = DispatchSemaphore(value: 0)
        /// Waits until the gate opens (at once afterwards).
        func pass() {
            opened.wait()
            opened.signal()
        }
        func open() { opened.signal() }
    }

    /// `count` frames, as fast as they are taken; opens `gate` once they are all out.
    final class GateOpeningSource: FrameSource {
        let name = "gated"
        let skipped = SkippedFrames()
        private let frames: SyntheticSource, gate: Gate
        init(count: Int, gate: Gate) { frames = SyntheticSource(count: count, interval: 0); self.gate = gate }
        func nextFrame() throws -> Frame? {
            guard let frame = try frames.nextFrame() else { gate.open(); return nil }
            return frame
        }
    }

    /// A face locator that waits at `gate` (a detector slower than the camera).
    final class GatedLocator: FaceLocator {
        let gate: Gate
        init(gate: Gate) { self.gate = gate }
        func locate(in image: ByteImage) -> [LocatedFace] {
            gate.pass()
            return [LocatedFace(index: 0, box: PixelRect.centerSquare(width: image.width, height: image.height))]
        }
    }

    /// A sink that waits at `gate` (a display or disk slower than the camera).
    final class GatedSink: FrameSink {
        let gate: Gate
        var results: [FrameResult] = []
        init(gate: Gate) { self.gate = gate }
        func deliver(_ result: FrameResult) throws {
            gate.pass()
            results.append(result)
        }
        func finish() throws {}
    }

    /// Live, 100 frames while one stage holds its first frame until the last is captured. Without a queue
    /// in front of that stage, only the frame it held and the newest one or two that waited in the
    /// single-frame slots get through (only the newest, when the stage had not taken the first frame before
    /// the source was done): every other frame is counted as dropped, none is lost, all in order.
    private func checkNothingQueued(delivered: [FrameResult], dropped: Int, finished: Bool = true,
                                    file: StaticString = #filePath, line: UInt = #line) {
        let sequences = delivered.map(\.frame.sequence)
        XCTAssertEqual(delivered.count + dropped, 100, "every frame is delivered or counted as dropped", file: file, line: line)
        XCTAssert((1...3).contains(delivered.count), "frames queued up: \(sequences) delivered", file: file, line: line)
        XCTAssertEqual(sequences, sequences.sorted(), "delivered in order", file: file, line: line)
        XCTAssertEqual(sequences.last, 99, "the newest frame is the one that waited", file: file, line: line)
        XCTAssert(finished, "sinks finished", file: file, line: line)
    }

    func testLatestOnlyNeverQueuesInFrontOfASlowNetwork() throws {
        let classifier = classifier(), sink = CollectingSink(), gate = Gate()
        let pipeline = FramePipeline(source: GateOpeningSource(count: 100, gate: gate), classifier: classifier, sinks: [sink],
                                     policy: .latestOnly, pacing: .asFastAsPossible,
                                     predict: { inputs in gate.pass(); return classifier.predictions(for: inputs) })
        let summary = try pipeline.run()
        checkNothingQueued(delivered: sink.results, dropped: summary.latency.dropped, finished: sink.finished)
    }

    func testLatestOnlyNeverQueuesInFrontOfASlowDetector() throws {
        let sink = CollectingSink(), gate = Gate()
        let pipeline = FramePipeline(source: GateOpeningSource(count: 100, gate: gate), classifier: classifier(),
                                     locator: GatedLocator(gate: gate), sinks: [sink], policy: .latestOnly, pacing: .asFastAsPossible)
        let summary = try pipeline.run()
        checkNothingQueued(delivered: sink.results, dropped: summary.latency.dropped, finished: sink.finished)
        XCTAssertLessThanOrEqual(sink.results.count, 2, "in front of the first stage only one frame can wait")
    }

    /// Live, a sink slower than the camera costs frames (counted), never a queue.
    func testLatestOnlyNeverQueuesInFrontOfASlowSink() throws {
        let gate = Gate(), sink = GatedSink(gate: gate)
        let pipeline = FramePipeline(source: GateOpeningSource(count: 100, gate: gate), classifier: classifier(), sinks: [sink],
                                     policy: .latestOnly, pacing: .asFastAsPossible)
        let summary = try pipeline.run()
        checkNothingQueued(delivered: sink.results, dropped: summary.latency.dropped)
    }

    /// A network that takes `delay` seconds per pass.
    private func slow(_ classifier: EmotionClassifier, delay: Double) -> (Tensor) -> [EmotionPrediction] {
        { inputs in
            usleep(UInt32(delay * 1e6))
            return classifier.predictions(for: inputs)
        }
    }

    /// A paced replay reads each frame shortly before it is due, as a camera delivers it, not a whole
    /// frame interval early, where its decoding would take a core from the frame before it. A loaded
    /// machine only makes reads later, never earlier, so the bound holds under any load.
    func testPacedReplayReadsEachFrameShortlyBeforeItIsDue() throws {
        final class TimedSource: FrameSource {
            let name = "timed"
            let skipped = SkippedFrames()
            let frames = SyntheticSource(count: 8, interval: 0.05)
            var readStarts: [Double] = [], readEnds: [Double] = []
            func nextFrame() throws -> Frame? {
                readStarts.append(MonotonicClock.seconds())
                defer { readEnds.append(MonotonicClock.seconds()) }
                return try frames.nextFrame()
            }
        }
        let source = TimedSource(), classifier = classifier(), sink = CollectingSink()
        _ = try FramePipeline(source: source, classifier: classifier, sinks: [sink], policy: .latestOnly, pacing: .realTime).run()
        XCTAssertEqual(sink.results.count, 8)
        // Frame k is due 0.05 k seconds after the first was read; the read of frames 2... waits for it.
        for k in 2..<8 {
            let early = source.readEnds[0] + 0.05 * Double(k) - source.readStarts[k]
            XCTAssertLessThan(early, 0.025, "frame \(k) read \(Int(early * 1000)) ms before it was due")
        }
    }

    func testLosslessDeliversEveryFrameInOrder() throws {
        let classifier = classifier(), sink = CollectingSink()
        let pipeline = FramePipeline(source: SyntheticSource(count: 60, interval: 0.005), classifier: classifier, sinks: [sink],
                                     policy: .lossless(batch: 4), pacing: .realTime, predict: slow(classifier, delay: 0.01))
        let summary = try pipeline.run()
        XCTAssertEqual(summary.latency.dropped, 0)
        XCTAssertEqual(sink.results.map(\.frame.sequence), Array(0..<60))
        XCTAssertEqual(summary.latency.summary(of: LatencyRecorder.endToEnd).count, 60)
    }

    func testBatchedReplayGivesTheSameProbabilitiesAsOneByOne() throws {
        let classifier = classifier()
        var outputs: [[[Float]]] = []
        for batch in [1, 8] {
            let sink = CollectingSink()
            _ = try FramePipeline(source: SyntheticSource(count: 20, interval: 0), classifier: classifier, sinks: [sink],
                                  policy: .lossless(batch: batch), pacing: .asFastAsPossible).run()
            outputs.append(sink.results.map { $0.faces[0].prediction.probabilities })
        }
        XCTAssertEqual(outputs[0].count, 20)
        for (a, b) in zip(outputs[0], outputs[1]) { assertClose(a, b, tolerance: 1e-5, "batched vs single") }
    }

    func testSmoothingAveragesProbabilities() throws {
        let classifier = classifier(), plain = CollectingSink(), smooth = CollectingSink()
        _ = try FramePipeline(source: SyntheticSource(count: 5, interval: 0), classifier: classifier, sinks: [plain],
                              policy: .lossless(batch: 1), pacing: .asFastAsPossible).run()
        _ = try FramePipeline(source: SyntheticSource(count: 5, interval: 0), classifier: classifier, sinks: [smooth],
                              policy: .lossless(batch: 1), pacing: .asFastAsPossible, smoother: LabelSmoother(alpha: 0.5)).run()
        let p = plain.results.map { $0.faces[0].prediction.probabilities }, s = smooth.results.map { $0.faces[0].prediction.probabilities }
        assertClose(s[0], p[0], tolerance: 1e-6, "the first frame has nothing to average with")
        assertClose(s[1], zip(p[0], p[1]).map { 0.5 * $0 + 0.5 * $1 }, tolerance: 1e-6, "EMA with weight 0.5")
    }

    /// `stop()` from another thread while frames flow: what was captured is delivered, then sinks finish.
    func testStopEndsARunAndFlushesSinks() throws {
        /// Asks the run to stop (from another thread, as a signal handler does) once it has given 20 frames.
        final class StoppingSource: FrameSource {
            let name = "stopping"
            let skipped = SkippedFrames()
            private let frames = SyntheticSource(count: 10_000, interval: 0)
            var stop: (@Sendable () -> Void)?
            func nextFrame() throws -> Frame? {
                let frame = try frames.nextFrame()
                if frame?.sequence == 20, let stop { DispatchQueue.global().sync { stop() } }
                return frame
            }
        }
        let classifier = classifier(), sink = CollectingSink(), source = StoppingSource()
        let pipeline = FramePipeline(source: source, classifier: classifier, sinks: [sink],
                                     policy: .lossless(batch: 2), pacing: .asFastAsPossible)
        source.stop = { pipeline.stop() }
        let summary = try pipeline.run()
        XCTAssert(summary.stoppedEarly)
        XCTAssert(sink.finished)
        XCTAssertEqual(sink.results.map(\.frame.sequence), Array(0...20), "every frame captured before the stop, nothing after")
    }
}
