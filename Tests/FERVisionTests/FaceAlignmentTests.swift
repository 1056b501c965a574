@testable import FERVision
import Foundation
import XCTest

/// The face framing: the similarity transform from eyes to crop, its prefiltered sampling, and the eye
/// finder on real and FER2013 faces.
final class FaceAlignmentTests: XCTestCase {
    /// Level eyes 100 px apart: worked out by hand from FER2013's eye positions (14.4, 18.4) and (32.8, 18.4).
    func testLevelEyesGiveTheHandComputedCrop() {
        let crop = FaceAligner.crop(eyes: EyePair(left: SIMD2(100, 200), right: SIMD2(200, 200)))
        let scale = 100 / 18.4                      // frame pixels per input pixel
        XCTAssertEqual(crop.angle, 0, accuracy: 1e-12)
        XCTAssertEqual(crop.side, 48 * scale, accuracy: 1e-9)              // 260.87
        XCTAssertEqual(crop.center.x, 150 + (24 - 23.6) * scale, accuracy: 1e-9)
        XCTAssertEqual(crop.center.y, 200 + (24 - 18.4) * scale, accuracy: 1e-9)   // 230.43: the eyes sit above the center
        XCTAssertNil(crop.exactRect, "an aligned crop is sampled, not cut")
    }

    /// Whatever the tilt, the crop maps FER2013's eye positions onto the eyes it was made from.
    func testTheCropPutsTheEyesWhereFER2013HasThem() {
        for (left, right) in [(SIMD2(100.0, 200.0), SIMD2(180.0, 230.0)), (SIMD2(310, 95), SIMD2(352, 70)), (SIMD2(10, 10), SIMD2(11, 10.5))] {
            let crop = FaceAligner.crop(eyes: EyePair(left: left, right: right))
            func mapped(_ eye: SIMD2<Double>) -> SIMD2<Double> { crop.imagePoint(u: eye.x / 48 - 0.5, v: eye.y / 48 - 0.5) }
            for (expected, actual) in [(left, mapped(FaceAligner.fer2013LeftEye)), (right, mapped(FaceAligner.fer2013RightEye))] {
                XCTAssertEqual(actual.x, expected.x, accuracy: 1e-9)
                XCTAssertEqual(actual.y, expected.y, accuracy: 1e-9)
            }
            XCTAssertEqual(crop.angle, atan2(right.y - left.y, right.x - left.x), accuracy: 1e-12)
        }
    }

    func testTheBoxFallbackUsesTheMeasuredRelation() {
        let crop = FaceAligner.crop(box: PixelRect(x: 100, y: 50, width: 200, height: 200))
        XCTAssertEqual(crop.side, 200 * FaceAligner.boxScale, accuracy: 1e-9)
        XCTAssertEqual(crop.center.x, 200 + 200 * FaceAligner.boxOffset.x, accuracy: 1e-9)
        XCTAssertEqual(crop.center.y, 150 + 200 * FaceAligner.boxOffset.y, accuracy: 1e-9)
        let box = FaceAligner(framing: .box(margin: 0.1), eyeFinder: nil)
            .crop(face: PixelRect(x: 100, y: 50, width: 200, height: 200), in: ByteImage(width: 640, height: 480, pixels: [UInt8](repeating: 0, count: 640 * 480)))
        XCTAssertEqual(box.crop.exactRect, PixelRect(x: 80, y: 30, width: 240, height: 240), "--margin keeps whole-pixel box crops")
    }

    /// An unrotated crop at twice the input size samples each 2x2 block at its pixel centers: exactly the
    /// area average the whole-pixel path computes.
    func testSamplingAtAnIntegerScaleIsTheAreaAverage() {
        var random = SplitMix64(seed: 3)
        let image = ByteImage(width: 120, height: 100, pixels: (0..<12_000).map { _ in UInt8(random.next() % 256) })
        let preprocessor = Preprocessor(inputSize: 48, channels: 1, mean: [0], std: [1])
        let sampled = preprocessor.resizedGray(image, crop: FaceCrop(center: SIMD2(10 + 48, 2 + 48), side: 96))!
        let area = preprocessor.resizedGray(image, crop: PixelRect(x: 10, y: 2, width: 96, height: 96))!
        XCTAssertLessThan(maxAbsoluteDifference(sampled, area).value, 1e-5)
    }

    /// A frame turned by 30 degrees, cut out with the crop turned by the same angle, is the upright face again.
    func testARotatedCropUndoesTheRotation() {
        let side = 96
        var random = SplitMix64(seed: 8)
        // Smooth content (sums of a few low-frequency waves), so bilinear resampling loses little.
        let phases = (0..<6).map { _ in Double(random.uniform(0, 6.28)) }
        func content(_ x: Double, _ y: Double) -> Double {
            128 + 40 * sin(x / 9 + phases[0]) + 30 * cos(y / 7 + phases[1]) + 25 * sin((x + y) / 11 + phases[2])
        }
        let upright = ByteImage(width: side, height: side, pixels: (0..<side * side).map { i in
            UInt8(content(Double(i % side) + 0.5, Double(i / side) + 0.5).rounded())
        })
        let angle = Double.pi / 6, frameSide = 200, center = 100.0
        let turned = ByteImage(width: frameSide, height: frameSide, pixels: (0..<frameSide * frameSide).map { i in
            // The frame point (x, y) shows the upright point rotated back by the angle.
            let dx = Double(i % frameSide) + 0.5 - center, dy = Double(i / frameSide) + 0.5 - center
            let u = cos(angle) * dx + sin(angle) * dy, v = -sin(angle) * dx + cos(angle) * dy
            return UInt8(content(u + Double(side) / 2, v + Double(side) / 2).rounded())
        })
        let preprocessor = Preprocessor(inputSize: 48, channels: 1, mean: [0], std: [1])
        let recovered = preprocessor.resizedGray(turned, crop: FaceCrop(center: SIMD2(center, center), side: Double(side), angle: angle))!
        let expected = preprocessor.resizedGray(upright, crop: PixelRect(x: 0, y: 0, width: side, height: side))!
        let meanError = zip(recovered, expected).map { abs($0 - $1) }.reduce(0, +) / Float(expected.count)
        XCTAssertLessThan(meanError, 0.01, "mean difference on the [0, 1] scale")
        let unturned = preprocessor.resizedGray(turned, crop: FaceCrop(center: SIMD2(center, center), side: Double(side)))!
        let wrong = zip(unturned, expected).map { abs($0 - $1) }.reduce(0, +) / Float(expected.count)
        XCTAssertGreaterThan(wrong, 5 * meanError, "without the rotation the crop is another picture")
    }

    /// On FER2013's own faces the eyes are found near where the framing says they are, and a face-sized
    /// picture is the face.
    func testEyesOnFER2013FacesSitNearTheMeasuredFraming() throws {
        guard let path = CascadeFiles.locateEyes() else { throw XCTSkip("no eye cascade (apt-get install opencv-data): skipping") }
        let finder = try EyeFinder(contentsOf: path)
        let test = try ImageFolder.load(try RealData.fer2013() + "/test", threads: 2)
        var found = 0, near = 0
        for index in stride(from: 0, to: test.count, by: 36) {
            let face = ByteImage(width: 48, height: 48, pixels: Array(test.image(index)))
            XCTAssert(FaceImage.isFaceCrop(face))
            guard let eyes = finder.eyes(in: face, face: PixelRect(x: 0, y: 0, width: 48, height: 48)) else { continue }
            found += 1
            XCTAssertLessThan(eyes.left.x, 24)
            XCTAssertGreaterThan(eyes.right.x, 24)
            let leftError = eyes.left - FaceAligner.fer2013LeftEye, rightError = eyes.right - FaceAligner.fer2013RightEye
            if (leftError * leftError).sum() < 16, (rightError * rightError).sum() < 16 { near += 1 }
        }
        XCTAssertGreaterThan(found, 40, "eyes in about 60% of 100 faces")
        XCTAssertGreaterThan(Double(near) / Double(found), 0.6, "most within 4 px of the framing's eyes")
    }
}

/// The label steadiness and the calibration math.
final class LabelAndCalibrationTests: XCTestCase {
    private let names = ["a", "b", "c"]

    func testHysteresisHoldsTheLabelUntilAClearLead() {
        let smoother = LabelSmoother(alpha: 1, margin: 0.2)
        func step(_ p: [Float]) -> Int {
            smoother.nextFrame()
            return smoother.smooth(EmotionPrediction(classNames: names, probabilities: p), face: 0).shownIndex
        }
        XCTAssertEqual(step([0.6, 0.3, 0.1]), 0)
        XCTAssertEqual(step([0.45, 0.5, 0.05]), 0, "b leads by 0.05: a stays")
        XCTAssertEqual(step([0.35, 0.6, 0.05]), 1, "b leads by 0.25: b")
        XCTAssertEqual(step([0.5, 0.45, 0.05]), 1)
        XCTAssertEqual(smoother.switches, 1)
    }

    func testMovingAverageWeighsTheNewestFrame() {
        let smoother = LabelSmoother(alpha: 0.25)
        smoother.nextFrame()
        _ = smoother.smooth(EmotionPrediction(classNames: names, probabilities: [1, 0, 0]), face: 3)
        smoother.nextFrame()
        let second = smoother.smooth(EmotionPrediction(classNames: names, probabilities: [0, 1, 0]), face: 3)
        XCTAssertEqual(second.probabilities, [0.75, 0.25, 0])
        XCTAssertEqual(second.label, "a")
        let other = smoother.smooth(EmotionPrediction(classNames: names, probabilities: [0, 0, 1]), face: 4)
        XCTAssertEqual(other.label, "c", "each face has its own state")
        for _ in 0..<40 { smoother.nextFrame() }
        let returning = smoother.smooth(EmotionPrediction(classNames: names, probabilities: [0, 1, 0]), face: 3)
        XCTAssertEqual(returning.probabilities, [0, 1, 0], "a face back after a long absence starts afresh")
    }

    /// Labels drawn from softmax(z / 2): the fitted temperature is 2, within sampling error.
    func testTemperatureFitRecoversTheTrueTemperature() {
        var random = SplitMix64(seed: 12)
        var logits: [Float] = [], labels: [Int] = []
        for _ in 0..<4000 {
            let row = (0..<3).map { _ in Float(random.normal() * 3) }
            let p = softmaxRows(row.map { $0 / 2 }, columns: 3)
            let u = Float(random.openUnit())
            labels.append(u < p[0] ? 0 : u < p[0] + p[1] ? 1 : 2)
            logits += row
        }
        let temperature = Calibration.fitTemperature(logits: logits, labels: labels, classes: 3)
        XCTAssertEqual(temperature, 2, accuracy: 0.15)
        let fitted = Calibration.negativeLogLikelihood(logits: logits, labels: labels, classes: 3, temperature: Double(temperature))
        for other in [1.0, 1.5, 3.0] {
            XCTAssertLessThan(fitted, Calibration.negativeLogLikelihood(logits: logits, labels: labels, classes: 3, temperature: other))
        }
        let calibrated = ReliabilityReport(probabilities: softmaxRows(logits.map { $0 / temperature }, columns: 3), labels: labels, classes: 3)
        let raw = ReliabilityReport(probabilities: softmaxRows(logits, columns: 3), labels: labels, classes: 3)
        XCTAssertLessThan(calibrated.expectedCalibrationError, 0.03)
        XCTAssertGreaterThan(raw.expectedCalibrationError, 2 * calibrated.expectedCalibrationError, "overconfident before")
    }

    /// ECE by hand: two examples at 0.9 confidence (one right), two at 0.6 (both right):
    /// 2/4 * |0.5 - 0.9| + 2/4 * |1.0 - 0.6| = 0.4.
    func testExpectedCalibrationErrorByHand() {
        let probabilities: [Float] = [0.9, 0.1, 0.9, 0.1, 0.6, 0.4, 0.4, 0.6]
        let report = ReliabilityReport(probabilities: probabilities, labels: [0, 1, 0, 1], classes: 2)
        XCTAssertEqual(report.expectedCalibrationError, 0.4, accuracy: 1e-6)
        XCTAssertEqual(report.negativeLogLikelihood, -(log(0.9) + log(0.1) + log(0.6) + log(0.6)) / 4, accuracy: 1e-6)
        XCTAssert(report.svg(title: "t").contains("ECE 0.4000"))
    }
}
