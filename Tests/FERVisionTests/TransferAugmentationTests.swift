@testable import FERVision
import Foundation
import XCTest

/// The options that aim training at real faces: photometric jitter and class-balanced loss weights.
final class TransferAugmentationTests: XCTestCase {
    private func face(size: Int) -> [UInt8] {
        (0..<size * size).map { UInt8(40 + ($0 % size) * 2 + ($0 / size) * 2) }
    }

    func testPhotometricJitterOffLeavesImageAndRandomStreamAlone() {
        var pixels = face(size: 48)
        var random = SplitMix64(seed: 3), untouched = random
        PhotometricJitter(strength: 0).apply(&pixels, size: 48, random: &random)
        XCTAssertEqual(pixels, face(size: 48))
        XCTAssertEqual(random.next(), untouched.next(), "no draw when off, so older runs resume exactly")
    }

    func testPhotometricJitterChangesLightWithinItsRangeAndIsSeeded() {
        let original = face(size: 48)
        let originalMean = Double(original.reduce(0) { $0 + Int($1) }) / Double(original.count)
        var changed = 0, largestShift = 0.0
        for seed in 0..<200 {
            var pixels = original, random = SplitMix64(seed: UInt64(seed))
            PhotometricJitter(strength: 1).apply(&pixels, size: 48, random: &random)
            var again = original, replay = SplitMix64(seed: UInt64(seed))
            PhotometricJitter(strength: 1).apply(&again, size: 48, random: &replay)
            XCTAssertEqual(pixels, again, "seed \(seed): the same seed gives the same image")
            if pixels != original { changed += 1 }
            let mean = Double(pixels.reduce(0) { $0 + Int($1) }) / Double(pixels.count)
            largestShift = max(largestShift, abs(mean - originalMean))
        }
        XCTAssertEqual(changed, 200, "every draw at full strength changes the light")
        // Brightness +-0.25 and gamma 1.5^+-1 of a mid-gray image move its mean by well under 60% of the scale.
        XCTAssertGreaterThan(largestShift, 10)
        XCTAssertLessThan(largestShift, 0.6 * 255)
    }

    func testJPEGRoundTripKeepsTheImageClose() throws {
        let image = ByteImage(width: 48, height: 48, pixels: face(size: 48))
        let data = try ImageEncoder.jpeg(image, quality: 50)
        let decoded = try ImageDecoder.decode(data, path: "<test>")
        XCTAssertEqual(decoded.width, 48)
        XCTAssertEqual(decoded.channels, 1)
        let worst = zip(decoded.pixels, image.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0
        XCTAssertLessThan(worst, 40, "a smooth ramp survives quality 50")
        XCTAssertThrowsError(try ImageEncoder.jpeg(image, quality: 0))
    }

    func testClassWeightsFavourSmallClassesAndAverageOne() throws {
        var configuration = TrainingConfiguration()
        let labels = Array(repeating: 0, count: 100) + Array(repeating: 1, count: 25) + Array(repeating: 3, count: 400)
        XCTAssertNil(configuration.classWeights(labels: labels, classes: 4), "off by default")
        configuration.classBalance = 1
        let full = try XCTUnwrap(configuration.classWeights(labels: labels, classes: 4))
        XCTAssertEqual(full[2], 0, "a class without images")
        // Power 1: every class's total weight is the same.
        XCTAssertEqual(full[0] * 100, full[1] * 25, accuracy: 1e-3)
        XCTAssertEqual(full[0] * 100, full[3] * 400, accuracy: 1e-3)
        configuration.classBalance = 0.5
        let half = try XCTUnwrap(configuration.classWeights(labels: labels, classes: 4))
        XCTAssertEqual(half[1] / half[0], 2, accuracy: 1e-4, "(100 / 25)^0.5")
        for weights in [full, half] {
            let average = labels.map { Double(weights[$0]) }.reduce(0, +) / Double(labels.count)
            XCTAssertEqual(average, 1, accuracy: 1e-5, "a training image weighs 1 on average")
        }
        let targets = configuration.targets([1, 3], classes: 4, weights: half)
        XCTAssertEqual(targets[1], half[1])
        XCTAssertEqual(targets[4 + 3], half[3])
    }

    func testNewSettingsAreValidatedAndOldCheckpointsDecodeWithoutThem() throws {
        for change in [{ (c: inout TrainingConfiguration) in c.photometric = 1.5 }, { $0.photometric = -0.1 },
                       { $0.classBalance = 2 }, { $0.classBalance = .nan }, { $0.distillation = 0.5 },
                       { $0.teachers = ["t.safetensors"]; $0.distillation = 1.5 }] {
            var configuration = TrainingConfiguration()
            change(&configuration)
            XCTAssertNotNil(configuration.problem, "\(configuration)")
        }
        let old = """
            {"epochs":3,"batchSize":64,"maxLearningRate":0.001,"weightDecay":9e-06,"gradientClip":0.1,"seed":1,
             "padCrop":true,"flip":true,"rotation":true,"scaleJitter":0.15,"widths":[64,128,256,512],"inputSize":48}
            """
        let decoded = try JSONDecoder().decode(TrainingConfiguration.self, from: Data(old.utf8))
        XCTAssertEqual(decoded.photometric, 0)
        XCTAssertEqual(decoded.classBalance, 0)
        XCTAssertEqual(decoded.distillation, 0)
        XCTAssertEqual(decoded.teachers, [])
    }

    /// Distillation's targets: (1 - d) the label rows plus d the teachers' probabilities, each row keeping
    /// its sum (the class-balance weight), so the loss gradient stays `w p - t` with rows summing to w.
    func testDistilledTargetsMixLabelsAndTeachersAndKeepEachRowsWeight() {
        var targets: [Float] = [1, 0, 0, /* weighted 2: */ 0, 2, 0]
        let soft: [Float] = [0.2, 0.5, 0.3, 0.6, 0.3, 0.1]
        Trainer.distill(&targets, toward: soft, weight: 0.25, classes: 3)
        let expected: [Float] = [0.75 + 0.05, 0.125, 0.075, 0.3, 1.5 + 0.15, 0.05]
        for (got, want) in zip(targets, expected) { XCTAssertEqual(got, want, accuracy: 1e-6) }
        XCTAssertEqual(targets[0..<3].reduce(0, +), 1, accuracy: 1e-6)
        XCTAssertEqual(targets[3..<6].reduce(0, +), 2, accuracy: 1e-6)
        var onlyTeachers: [Float] = [0, 1, 0]
        Trainer.distill(&onlyTeachers, toward: [0.2, 0.5, 0.3], weight: 1, classes: 3)
        XCTAssertEqual(onlyTeachers, [0.2, 0.5, 0.3])
    }
}
