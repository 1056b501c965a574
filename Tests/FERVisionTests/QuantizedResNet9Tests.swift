import FERVision
import Foundation
import XCTest

/// The 8-bit network against the float one: the same weights give nearly the same logits, the ranges
/// file is tied to its model, and on real faces it keeps the float model's accuracy.
final class QuantizedResNet9Tests: XCTestCase {
    private func inputs(_ count: Int, seed: UInt64) -> Tensor {
        var random = SplitMix64(seed: seed)
        return Tensor(shape: [count, 1, 48, 48], scalars: (0..<count * 2304).map { _ in random.uniform(-2, 2) })
    }

    /// Logits within 2% of the float logits' spread: what 8 bits per activation and weight allow. A wrong
    /// scale or bias moves them by far more (the bias added without its scaling: over a third of the spread).
    func testLogitsAreTheFloatLogitsToWithinEightBitRounding() throws {
        let model = try ModelLoader.load(path: Fixtures.path("narrow_resnet9.safetensors"))
        let float = model.makeNetwork()
        let calibration = Int8Calibration(peaks: float.blockOutputPeaks(for: inputs(64, seed: 3)), quantile: 1, modelDigest: "test")
        XCTAssert(calibration.blockOutputRanges.allSatisfy { $0 > 0 })
        let quantized = try QuantizedResNet9(stateDict: model.stateDict, architecture: model.architecture, calibration: calibration)
        XCTAssertEqual(quantized.precision, "int8")
        for (count, threads) in [(1, 1), (5, 2), (20, 2)] {
            BLAS.setThreadCount(threads)
            defer { BLAS.setThreadCount(1) }
            let batch = inputs(count, seed: UInt64(10 + count))
            let expected = float.logits(for: batch).scalars, got = quantized.logits(for: batch).scalars
            XCTAssertEqual(got.count, expected.count)
            let spread = expected.max()! - expected.min()!
            let worst = zip(got, expected).map { abs($0 - $1) }.max()!
            XCTAssertLessThan(worst, 0.02 * spread, "batch \(count), \(threads) threads: 8-bit logits \(worst) from float (spread \(spread))")
            XCTAssertGreaterThan(spread, 0, "the test inputs give different logits")
        }
    }

    /// Live, on two cores, a pass runs on one thread and a batch is split between two lanes: every image
    /// still gets its own logits, in its own place (against each image passed alone), for batches split
    /// evenly, unevenly, and beyond one pass's largest batch.
    func testABatchSplitBetweenLanesKeepsEachImagesLogits() throws {
        let model = try ModelLoader.load(path: Fixtures.path("narrow_resnet9.safetensors"))
        let float = model.makeNetwork()
        let calibration = Int8Calibration(peaks: float.blockOutputPeaks(for: inputs(64, seed: 3)), quantile: 1, modelDigest: "test")
        BLAS.setThreadCount(2)
        defer { BLAS.setThreadCount(1) }
        let live = try QuantizedResNet9(stateDict: model.stateDict, architecture: model.architecture, calibration: calibration, threadLimit: 1)
        for count in [2, 3, 6, 33] {
            let batch = inputs(count, seed: UInt64(40 + count))
            let together = live.logits(for: batch).scalars
            XCTAssertEqual(together.count, count * 7)
            for image in 0..<count {
                let alone = live.logits(for: Tensor(shape: [1, 1, 48, 48], scalars: Array(batch.scalars[image * 2304..<(image + 1) * 2304]))).scalars
                let spread = alone.max()! - alone.min()!
                let worst = zip(together[image * 7..<(image + 1) * 7], alone).map { abs($0 - $1) }.max()!
                XCTAssertLessThanOrEqual(worst, 0.001 * spread, "batch \(count), image \(image): \(worst) from its logits alone")
            }
        }
    }

    /// Live on two cores, one image (a frame's one face, a batch's odd one) is computed by both lanes, each
    /// its half of every map's rows: its logits are those of the image computed whole on one lane. A half
    /// that read the wrong rows of the other's, or padded at the seam, moves them.
    func testAnImageSplitBetweenLanesHasTheLogitsOfTheWholeImage() throws {
        let model = try ModelLoader.load(path: Fixtures.path("narrow_resnet9.safetensors"))
        let float = model.makeNetwork()
        let calibration = Int8Calibration(peaks: float.blockOutputPeaks(for: inputs(64, seed: 3)), quantile: 1, modelDigest: "test")
        let oneLane = try QuantizedResNet9(stateDict: model.stateDict, architecture: model.architecture, calibration: calibration, threadLimit: 1)
        BLAS.setThreadCount(2)
        defer { BLAS.setThreadCount(1) }
        let twoLanes = try QuantizedResNet9(stateDict: model.stateDict, architecture: model.architecture, calibration: calibration, threadLimit: 1)
        for count in [1, 3, 5, 1] {
            let batch = inputs(count, seed: UInt64(70 + count))
            let split = twoLanes.logits(for: batch).scalars, whole = oneLane.logits(for: batch).scalars
            XCTAssertEqual(split.count, count * 7)
            let spread = whole.max()! - whole.min()!
            let worst = zip(split, whole).map { abs($0 - $1) }.max()!
            XCTAssertLessThanOrEqual(worst, 1e-5 * spread, "batch \(count): \(worst) from the logits computed whole (spread \(spread))")
        }
    }

    func testRangesAreAQuantileOfTheImagesPeaks() {
        let peaks: [[Float]] = (1...101).map { [Float($0), Float(2 * $0)] }
        XCTAssertEqual(Int8Calibration(peaks: peaks, quantile: 1, modelDigest: "x").blockOutputRanges, [101, 202])
        XCTAssertEqual(Int8Calibration(peaks: peaks, quantile: 0.5, modelDigest: "x").blockOutputRanges, [51, 102])
    }

    func testTheRangesFileBelongsToItsModel() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("int8-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let model = folder + "/m.safetensors"
        XCTAssertEqual(Int8Calibration.sidecarPath(forModel: model), folder + "/m.int8.json")
        let path = Int8Calibration.sidecarPath(forModel: model)
        let calibration = Int8Calibration(blockOutputRanges: [1, 2, 3, 4, 5, 6, 7, 8], images: 10, quantile: 0.999, modelDigest: "abc")
        try calibration.write(to: path)
        XCTAssertEqual(try Int8Calibration.load(path: path, modelPath: model, modelDigest: "abc", blocks: 8), calibration)

        func refusal(digest: String = "abc", blocks: Int = 8, at path: String) -> String {
            do {
                _ = try Int8Calibration.load(path: path, modelPath: model, modelDigest: digest, blocks: blocks)
                return "accepted"
            } catch { return "\(error)" }
        }
        XCTAssert(refusal(digest: "other", at: path).contains("another model file"), refusal(digest: "other", at: path))
        XCTAssert(refusal(blocks: 9, at: path).contains("needs 9 positive finite block ranges"))
        XCTAssert(refusal(at: folder + "/none.int8.json").contains("fer-live quantize"))
        try Data("{\"format\": 3}".utf8).write(to: URL(fileURLWithPath: path))
        XCTAssert(refusal(at: path).contains("not a fer-live 8-bit calibration"))
    }

    /// The shipped model with its shipped ranges, on every 4th FER2013 test face: the 8-bit network agrees
    /// with the float one on nearly every face and keeps its accuracy.
    func testShippedModelKeepsItsAccuracyInEightBits() throws {
        let path = try RealData.shippedModel(), data = try RealData.fer2013()
        BLAS.setThreadCount(ProcessInfo.processInfo.activeProcessorCount)
        defer { BLAS.setThreadCount(1) }
        let model = try ModelLoader.load(path: path)
        let calibration = try Int8Calibration.load(path: Int8Calibration.sidecarPath(forModel: path), modelPath: path,
                                                   modelDigest: try SHA256.hex(ofFile: path), blocks: model.architecture.blocks.count)
        let float = EmotionClassifier(model: model)
        let quantized = EmotionClassifier(model: model, network: try QuantizedResNet9(stateDict: model.stateDict, architecture: model.architecture,
                                                                                       calibration: calibration))
        let test = try ImageFolder.load(data + "/test", threads: 2)
        let subset = Array(stride(from: 0, to: test.count, by: 4))
        let a = float.classify(test, indices: subset), b = quantized.classify(test, indices: subset)
        func accuracy(_ predictions: [EmotionPrediction]) -> Double {
            Double(zip(subset, predictions).filter { test.classNames[test.labels[$0]] == float.classNames[$1.topIndex] }.count) / Double(subset.count)
        }
        let agreement = Double(zip(a, b).filter { $0.topIndex == $1.topIndex }.count) / Double(subset.count)
        print("8-bit: agreement \(agreement), accuracy \(accuracy(b)) against float \(accuracy(a)) on \(subset.count) FER2013 test images")
        XCTAssertGreaterThanOrEqual(agreement, 0.95)
        XCTAssertGreaterThanOrEqual(accuracy(b), accuracy(a) - 0.01)
    }
}
