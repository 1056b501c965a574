@testable import FERVision
import XCTest

/// A live run's state stays the same size however long it runs: the latency plot's points and each
/// face's chart are thinned, while the histograms and the summaries still count every frame.
final class BoundedLiveStateTests: XCTestCase {
    func testLatencyTimelineIsThinnedAndTheHistogramsCountEveryFrame() {
        let recorder = LatencyRecorder()
        let frames = 100_000
        for i in 0..<frames {
            var times = FrameTimes(captured: Double(i) / 30)
            times.dequeued = times.captured + 0.001
            times.located = times.dequeued
            times.preprocessed = times.located
            times.inferred = times.preprocessed + 0.008
            times.delivered = times.inferred + (i % 100 == 0 ? 0.05 : 0.001)
            recorder.record(times, frame: i)
        }
        XCTAssertLessThan(recorder.timeline.count, LatencyRecorder.maximumTimelinePoints)
        XCTAssertGreaterThan(recorder.timeline.count, LatencyRecorder.maximumTimelinePoints / 4)
        XCTAssertEqual(recorder.timeline.count, (frames + recorder.timelineStride - 1) / recorder.timelineStride)
        XCTAssertEqual(recorder.summary(of: LatencyRecorder.endToEnd).count, frames)
        XCTAssertEqual(recorder.summary(of: LatencyRecorder.endToEnd).max, 59, accuracy: 0.1, "the slow frames are all in the histogram")
        XCTAssert(recorder.plotSVG.hasPrefix("<svg"))
    }

    /// The report names the slowest frame end to end and the stage it spent longest in, so a p99 can be
    /// traced to a frame in the results and to a stage.
    func testTheWorstFrameAndItsStageAreReported() throws {
        let recorder = LatencyRecorder()
        for i in 0..<600 {
            var times = FrameTimes(captured: Double(i) / 30)
            times.dequeued = times.captured + 0.001
            times.located = times.dequeued + (i == 417 ? 0.09 : 0.004)
            times.preprocessed = times.located
            times.inferred = times.preprocessed + (i == 100 ? 0.05 : 0.012)
            times.delivered = times.inferred + 0.001
            recorder.record(times, frame: 1000 + i)
        }
        let worst = try XCTUnwrap(recorder.worst)
        XCTAssertEqual(worst.frame, 1417)
        guard case .object(let fields) = recorder.report, case .object(let entry)? = fields.first(where: { $0.0 == "worst" })?.1 else {
            return XCTFail("no worst frame in the report")
        }
        XCTAssertEqual(entry.first { $0.0 == "frame" }?.1, .integer(1417))
        XCTAssertEqual(entry.first { $0.0 == "stage" }?.1, .string("detect"))
        XCTAssert(recorder.table.contains("worst: frame 1417, 104.00 ms end to end, 90.00 ms of it in detect"), recorder.table)
    }

    func testAFaceSeenForHoursKeepsAThinnedChartAndExactTotals() {
        var timeline = EmotionTimeline(classNames: ["a", "b"])
        let frames = 200_000
        for i in 0..<frames {
            let shown = i < frames / 4 ? 0 : 1
            timeline.add(timestamp: Double(i) / 30, faces: [(index: 0, probabilities: shown == 0 ? [0.9, 0.1] : [0.2, 0.8], shownIndex: shown)])
        }
        let face = timeline.faces[0]!
        XCTAssertLessThan(face.chart.count, EmotionTimeline.maximumChartSamples)
        XCTAssertGreaterThan(face.chart.count, EmotionTimeline.maximumChartSamples / 4)
        let summary = timeline.faceSummaries[0]
        XCTAssertEqual(summary.frames, frames)
        XCTAssertEqual(summary.shares[0], 0.25, accuracy: 1e-4)
        XCTAssertEqual(summary.meanConfidence, 0.25 * 0.9 + 0.75 * 0.8, accuracy: 1e-4)
        XCTAssertEqual(summary.lastSeen, Double(frames - 1) / 30, accuracy: 1e-9)
        // The thinned chart still draws one unbroken strip: no gap between kept samples breaks it.
        XCTAssertEqual(timeline.svg(title: "t").components(separatedBy: "M").count - 1, 2, "one path per emotion")
    }
}
