import FERVision
import Foundation
import XCTest

/// Replay on real faces: FER2013 test faces scaled up into the middle of 640x480 frames with a noisy
/// background, replayed through the pipeline, must get the labels the faces get directly.
final class RealFaceReplayTests: XCTestCase {
    final class Collector: FrameSink {
        var labels: [String: String] = [:]
        func deliver(_ result: FrameResult) throws { labels[result.frame.sourceName] = result.faces.first?.prediction.label }
        func finish() throws {}
    }

    /// A 48x48 face scaled up by `factor` by pixel replication. The pipeline's area-averaging resize
    /// inverts that exactly, so any disagreement is the pipeline's (crop placement, resize, batching), not
    /// resampling blur: with bilinear scaling, 94 of these 100 faces kept their label (the blur itself
    /// moves borderline faces).
    private func upscale(_ face: ArraySlice<UInt8>, factor: Int) -> [UInt8] {
        let side = 48 * factor, pixels = Array(face)
        var out = [UInt8](repeating: 0, count: side * side)
        for y in 0..<side { for x in 0..<side { out[y * side + x] = pixels[(y / factor) * 48 + x / factor] } }
        return out
    }

    func testReplayedFramesGetTheLabelsOfTheFaces() throws {
        let model = try RealData.shippedModel(), data = try RealData.fer2013()
        let classifier = try EmotionClassifier(path: model)
        let test = try ImageFolder.load(data + "/test", threads: 2)
        let picks = Array(stride(from: 0, to: test.count, by: 36))   // 100 faces across all classes
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("fer-faces-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }

        var random = SplitMix64(seed: 17)
        var direct: [String: String] = [:]
        for (n, index) in picks.enumerated() {
            // Noisy mid-gray background, the face scaled 10x (480x480) in the middle.
            var frame = (0..<640 * 480).map { _ in UInt8(100 + random.next() % 60) }
            let face = upscale(test.image(index), factor: 10)
            for y in 0..<480 { for x in 0..<480 { frame[y * 640 + 80 + x] = face[y * 480 + x] } }
            let name = "frame\(n).png"
            try ImageEncoder.png(ByteImage(width: 640, height: 480, pixels: frame)).write(to: folder.appendingPathComponent(name))
            direct[name] = classifier.classify([ByteImage(width: 48, height: 48, pixels: Array(test.image(index)))])[0].label
        }
        let collector = Collector()
        let source = try FrameDirectorySource(directory: folder.path)
        _ = try FramePipeline(source: source, classifier: classifier, sinks: [collector], policy: .lossless(batch: 8),
                              pacing: .asFastAsPossible).run()
        XCTAssertEqual(collector.labels.count, picks.count)
        let agreeing = direct.filter { collector.labels[$0.key] == $0.value }.count
        let share = Double(agreeing) / Double(picks.count)
        print("replayed faces: \(agreeing) of \(picks.count) labels agree with the faces classified directly")
        XCTAssertGreaterThanOrEqual(share, 0.95)
    }
}
