@testable import FERVision
import Foundation
import XCTest

/// The pipeline's policies with an artificially slow inference stage, on synthetic frames.
final class FramePipelineTests: XCTestCase {
    /// Frames of a plain gray, numbered, at `interval` seconds apart.
    final class SyntheticSource: FrameSource {
        let name = "synthetic"
        let skipped: [ImageError] = []
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

    /// A network that takes `delay` seconds per pass.
    private func slow(_ classifier: EmotionClassifier, delay: Double) -> (Tensor) -> [EmotionPrediction] {
        { inputs in
            usleep(UInt32(delay * 1e6))
            return classifier.predictions(for: inputs)
        }
    }

    func testLatestOnlyDropsFramesAndKeepsLatencyBounded() throws {
        let classifier = classifier(), sink = CollectingSink()
        // 100 frames at 200 fps into an inference stage that manages 40 fps.
        let pipeline = FramePipeline(source: SyntheticSource(count: 100, interval: 0.005), classifier: classifier, sinks: [sink],
                                     policy: .latestOnly, pacing: .realTime, predict: slow(classifier, delay: 0.025))
        let summary = try pipeline.run()
        XCTAssertGreaterThan(summary.latency.dropped, 50, "a busy inference stage must drop frames")
        XCTAssertEqual(sink.results.count + summary.latency.dropped, 100, "every frame is delivered or counted as dropped")
        XCTAssertEqual(sink.results.map(\.frame.sequence), sink.results.map(\.frame.sequence).sorted(), "delivered in order")
        let worst = sink.results.map { $0.times.delivered - $0.times.captured }.max()!
        // At most one frame waits while one is inferred: about two inference times, never a growing queue.
        XCTAssertLessThan(worst, 0.2, "latency grew to \(worst) s: frames queued up")
        XCTAssert(sink.finished)
    }

    /// A face locator that takes `delay` seconds per frame (a slow detector).
    final class SlowLocator: FaceLocator {
        let delay: Double
        init(delay: Double) { self.delay = delay }
        func locate(in image: ByteImage) -> [LocatedFace] {
            usleep(UInt32(delay * 1e6))
            return [LocatedFace(index: 0, box: PixelRect.centerSquare(width: image.width, height: image.height))]
        }
    }

    func testLatestOnlyDropsFramesASlowDetectorCannotTake() throws {
        let classifier = classifier(), sink = CollectingSink()
        // 100 frames at 200 fps into a detector that manages 40 fps: no queue may build up in front of it.
        let pipeline = FramePipeline(source: SyntheticSource(count: 100, interval: 0.005), classifier: classifier,
                                     locator: SlowLocator(delay: 0.025), sinks: [sink], policy: .latestOnly, pacing: .realTime)
        let summary = try pipeline.run()
        XCTAssertGreaterThan(summary.latency.dropped, 50)
        XCTAssertEqual(sink.results.count + summary.latency.dropped, 100, "every frame is delivered or counted as dropped")
        XCTAssertEqual(sink.results.map(\.frame.sequence), sink.results.map(\.frame.sequence).sorted())
        let worst = sink.results.map { $0.times.delivered - $0.times.captured }.max()!
        XCTAssertLessThan(worst, 0.2, "latency grew to \(worst) s: frames queued in front of the detector")
    }

    /// A sink that takes `delay` seconds per frame: a slow display or disk.
    final class SlowSink: FrameSink {
        let delay: Double
        var results: [FrameResult] = []
        init(delay: Double) { self.delay = delay }
        func deliver(_ result: FrameResult) throws {
            usleep(UInt32(delay * 1e6))
            results.append(result)
        }
        func finish() throws {}
    }

    /// Live, a sink slower than the camera costs frames (counted), never a queue: 100 frames at 200 fps
    /// into a sink that takes 40 ms each would queue 4 s of frames; at most one may wait.
    func testLatestOnlyNeverQueuesInFrontOfASlowSink() throws {
        let classifier = classifier(), sink = SlowSink(delay: 0.04)
        let pipeline = FramePipeline(source: SyntheticSource(count: 100, interval: 0.005), classifier: classifier, sinks: [sink],
                                     policy: .latestOnly, pacing: .realTime)
        let summary = try pipeline.run()
        XCTAssertGreaterThan(summary.latency.dropped, 50, "a slow sink must cost frames")
        XCTAssertEqual(sink.results.count + summary.latency.dropped, 100, "every frame is delivered or counted as dropped")
        XCTAssertEqual(sink.results.map(\.frame.sequence), sink.results.map(\.frame.sequence).sorted())
        let worst = sink.results.map { $0.times.delivered - $0.times.captured }.max()!
        XCTAssertLessThan(worst, 0.25, "latency grew to \(worst) s: frames queued in front of the sink")
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

    func testStopEndsARunAndFlushesSinks() throws {
        let classifier = classifier(), sink = CollectingSink()
        let pipeline = FramePipeline(source: SyntheticSource(count: 10_000, interval: 0.01), classifier: classifier, sinks: [sink],
                                     policy: .lossless(batch: 2), pacing: .realTime)
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.3) { pipeline.stop() }
        let summary = try pipeline.run()
        XCTAssert(summary.stoppedEarly)
        XCTAssert(sink.finished)
        XCTAssertGreaterThan(sink.results.count, 5)
        XCTAssertLessThan(sink.results.count, 100)
        XCTAssertEqual(sink.results.map(\.frame.sequence), Array(0..<sink.results.count), "nothing captured is lost")
    }
}
