@testable import FERVision
import Foundation
import XCTest

/// The recipe options against PyTorch (tools/make_fixtures.py, `training_options_reference`): the whole-map
/// classifier pooling, dropout with a recorded mask, mixup's blended inputs and targets and label
/// smoothing, in one backward; and the whole-map pooling at inference.
final class TrainingOptionsParityTests: XCTestCase {
    func testLossAndGradientsMatchPyTorch() throws {
        let expected = try Fixtures.tensors("train_options_expected.safetensors")
        let initial = try ModelLoader.load(path: Fixtures.path("train_initial.safetensors"))
        var architecture = initial.architecture
        architecture.classifierPooling = .wholeMap
        let network = TrainableResNet9(stateDict: initial.stateDict, architecture: architecture)
        // PyTorch's label_smoothing on probability targets: t (1 - e) + e / classes.
        let smoothing: Float = 0.1, classes = 7
        let targets = expected.tensor("targets")!
        let smoothed = Tensor(shape: targets.shape, scalars: targets.scalars.map { $0 * (1 - smoothing) + smoothing / Float(classes) })
        let loss = network.step(inputs: expected.tensor("inputs")!, targets: smoothed, featureMask: expected.tensor("mask")!.scalars)
        let reference = Double(expected.tensor("loss")!.scalars[0])
        XCTAssertEqual(loss, reference, accuracy: 1e-5 * abs(reference), "loss")
        for slot in network.slots {
            assertClose(Array(network.gradients[slot.range]), expected.tensor("grad.\(slot.name)")!.scalars, tolerance: 1e-4,
                        "gradient of \(slot.name)")
        }
    }

    func testWholeMapPoolingAtInferenceMatchesPyTorch() throws {
        let expected = try Fixtures.tensors("train_options_expected.safetensors")
        let initial = try ModelLoader.load(path: Fixtures.path("train_initial.safetensors"))
        var architecture = initial.architecture
        architecture.classifierPooling = .wholeMap
        let network = ResNet9(stateDict: initial.stateDict, architecture: architecture)
        assertClose(network.logits(for: expected.tensor("eval.inputs")!).scalars, expected.tensor("eval.logits")!.scalars,
                    tolerance: 1e-4, "logits with the whole map pooled")
        // The reference pooling reads only the top-left 4x4: a different function of the same weights.
        let reference = ResNet9(stateDict: initial.stateDict, architecture: initial.architecture)
        XCTAssertGreaterThan(maxAbsoluteDifference(reference.logits(for: expected.tensor("eval.inputs")!).scalars,
                                                   expected.tensor("eval.logits")!.scalars).value, 1e-3)
    }

    /// The pooling is not in the weights: the model file's metadata carries it, and loading follows it.
    func testPoolingTravelsInTheModelFile() throws {
        let initial = try ModelLoader.load(path: Fixtures.path("train_initial.safetensors"))
        XCTAssertEqual(initial.architecture.classifierPooling, .topLeft4, "a file without the key is the reference network")
        var architecture = initial.architecture
        architecture.classifierPooling = .wholeMap
        var metadata = initial.metadata
        metadata.classifierPooling = .wholeMap
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("pooling-\(UUID()).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        try ModelLoader.save(LoadedModel(stateDict: initial.stateDict, architecture: architecture, metadata: metadata), to: file)
        let loaded = try ModelLoader.load(path: file)
        XCTAssertEqual(loaded.architecture.classifierPooling, .wholeMap)
        XCTAssertEqual(loaded.metadata.classifierPooling, .wholeMap)

        let (tensors, _) = try SafeTensors.decode(try Data(contentsOf: URL(fileURLWithPath: file)), path: file)
        var entries = metadata.safeTensorsEntries
        entries["classifier_pooling"] = "average"
        try SafeTensors.encode(tensors, metadata: entries).write(to: URL(fileURLWithPath: file))
        XCTAssertThrowsError(try ModelLoader.load(path: file)) { error in
            XCTAssert("\(error)".contains("classifier_pooling") && "\(error)".contains("average"), "\(error)")
        }
    }
}

/// Each option's behaviour in the training loop's own code.
final class TrainingOptionTests: XCTestCase {
    func testLabelSmoothingTargets() {
        var configuration = TrainingConfiguration()
        configuration.labelSmoothing = 0.1
        let rows = configuration.targets([2, 0], classes: 4)
        for (value, expected) in zip(rows[0..<4], [0.025, 0.025, 0.925, 0.025] as [Float]) { XCTAssertEqual(value, expected, accuracy: 1e-6) }
        XCTAssertEqual(rows[4..<8].reduce(0, +), 1, accuracy: 1e-6)
        configuration.labelSmoothing = 0
        XCTAssertEqual(configuration.targets([1], classes: 2), [0, 1])
    }

    func testRandomErasingBlanksOneRectangleOfTheDocumentedShape() {
        let size = 48
        let image = ArraySlice([UInt8](repeating: 200, count: size * size))
        var random = SplitMix64(seed: 9)
        let erasing = Augmentation(padCrop: false, flip: false, rotation: false, erasing: 1, erasingValue: 7)
        XCTAssert(erasing.isEnabled)
        var areas: [Int] = []
        for _ in 0..<200 {
            let out = erasing.apply(image, size: size, random: &random)
            let erased = out.indices.filter { out[$0] == 7 }
            XCTAssertEqual(Set(out), erased.isEmpty ? [200] : [7, 200])
            guard let first = erased.first, let last = erased.last else { continue }
            // One solid rectangle: its bounding box is all erased.
            let (x0, y0, x1, y1) = (erased.map { $0 % size }.min()!, first / size, erased.map { $0 % size }.max()!, last / size)
            XCTAssertEqual(erased.count, (x1 - x0 + 1) * (y1 - y0 + 1))
            let ratio = Double(y1 - y0 + 1) / Double(x1 - x0 + 1)
            XCTAssert(ratio > 0.2 && ratio < 5, "aspect \(ratio)")
            areas.append(erased.count)
        }
        XCTAssertGreaterThan(areas.count, 190, "with p = 1 nearly every image is erased (10 tries may all miss)")
        XCTAssertGreaterThanOrEqual(areas.min()!, Int(0.015 * Double(size * size)))
        XCTAssertLessThanOrEqual(areas.max()!, Int(0.36 * Double(size * size)))
        let none = Augmentation(padCrop: false, flip: false, rotation: false, erasing: 0)
        XCTAssertFalse(none.isEnabled)
        XCTAssertEqual(none.apply(image, size: size, random: &random), Array(image))
    }

    /// A centered square's side follows the zoom: within 1 +- j, both ways, and spread across the range.
    func testScaleJitterZoomsAboutTheCenterWithinItsRange() {
        let size = 48
        var image = [UInt8](repeating: 0, count: size * size)
        for y in 14..<34 { for x in 14..<34 { image[y * size + x] = 255 } }  // a 20-pixel square
        var random = SplitMix64(seed: 5)
        let zoom = Augmentation(padCrop: false, flip: false, rotation: false, scaleJitter: 0.2)
        XCTAssert(zoom.isEnabled)
        var sides: [Int] = []
        for _ in 0..<300 {
            let out = zoom.apply(ArraySlice(image), size: size, random: &random)
            let row = out[(size / 2) * size..<(size / 2 + 1) * size]
            let lit = row.indices.filter { row[$0] == 255 }
            let column = (0..<size).filter { out[$0 * size + size / 2] == 255 }
            XCTAssertEqual(lit.count, column.count, "a zoom without rotation keeps the square square")
            // Centered: as much dark on the left as on the right (within the rounding of one pixel).
            XCTAssertLessThanOrEqual(abs((lit.first! - row.startIndex) - (row.endIndex - 1 - lit.last!)), 1)
            sides.append(lit.count)
        }
        XCTAssertGreaterThanOrEqual(sides.min()!, Int((20 * 0.8).rounded(.down)) - 1)
        XCTAssertLessThanOrEqual(sides.max()!, Int((20 * 1.2).rounded(.up)) + 1)
        XCTAssertLessThan(sides.min()!, 18, "zooms out happen")
        XCTAssertGreaterThan(sides.max()!, 22, "zooms in happen")
    }

    /// Without scale jitter the rotation draws exactly what it drew before the option existed: old
    /// checkpoints resume bit for bit.
    func testRotationWithoutScaleJitterKeepsItsRandomStream() {
        var image = [UInt8](repeating: 0, count: 48 * 48)
        for i in image.indices { image[i] = UInt8(truncatingIfNeeded: i * 7) }
        var a = SplitMix64(seed: 3), b = SplitMix64(seed: 3)
        let rotate = Augmentation(padCrop: true, flip: true, rotation: true)
        let plain = rotate.apply(ArraySlice(image), size: 48, random: &a)
        var explicit = rotate
        explicit.scaleJitter = 0
        XCTAssertEqual(plain, explicit.apply(ArraySlice(image), size: 48, random: &b))
        var zooming = rotate
        zooming.scaleJitter = 0.1
        var c = SplitMix64(seed: 3)
        _ = zooming.apply(ArraySlice(image), size: 48, random: &c)
        let next = (a: a.next(), b: b.next(), c: c.next())
        XCTAssertEqual(next.a, next.b)
        XCTAssertEqual(next.c, a.next(), "the zoom takes one more draw")
    }

    func testBetaSamplesForMixup() {
        var random = SplitMix64(seed: 4)
        let samples = (0..<20_000).map { _ in random.beta(0.2, 0.2) }
        XCTAssert(samples.allSatisfy { $0 >= 0 && $0 <= 1 }, "a Gamma(0.2) deviate may underflow: 0 or 1, never outside")
        let mean = samples.reduce(0, +) / Double(samples.count)
        XCTAssertEqual(mean, 0.5, accuracy: 0.01)
        // Beta(0.2, 0.2) is U-shaped: variance 1 / (4 (2 alpha + 1)) = 0.1786; most mass near 0 and 1.
        let variance = samples.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(samples.count)
        XCTAssertEqual(variance, 0.1786, accuracy: 0.01)
        XCTAssertGreaterThan(samples.filter { $0 < 0.1 || $0 > 0.9 }.count, samples.count / 2)
    }

    /// A dropout mask of zeros leaves the classifier only its bias: no gradient reaches any convolution.
    func testDropoutMaskGatesTheFeatures() throws {
        let initial = try ModelLoader.load(path: Fixtures.path("train_initial.safetensors"))
        let network = TrainableResNet9(stateDict: initial.stateDict, architecture: initial.architecture)
        var random = SplitMix64(seed: 2)
        let inputs = Tensor(shape: [2, 1, 48, 48], scalars: (0..<2 * 48 * 48).map { _ in random.uniform(-1, 1) })
        let targets = TrainableResNet9.oneHot([1, 4], classes: 7)
        network.step(inputs: inputs, targets: targets, featureMask: [Float](repeating: 0, count: 2 * 32))
        let conv = network.range(of: "conv1.0.weight"), bias = network.range(of: "classifier.2.bias")
        XCTAssert(network.gradients[conv].allSatisfy { $0 == 0 })
        XCTAssert(network.gradients[bias].contains { $0 != 0 })
        network.step(inputs: inputs, targets: targets, featureMask: [Float](repeating: 1, count: 2 * 32))
        let masked = Array(network.gradients)
        network.step(inputs: inputs, targets: targets)
        XCTAssertEqual(masked, network.gradients, "a mask of ones is no dropout")
    }

    func testSettingsAreValidated() {
        var configuration = TrainingConfiguration()
        XCTAssertNil(configuration.problem)
        for change in [{ (c: inout TrainingConfiguration) in c.batchSize = 0 }, { $0.dropout = 1 }, { $0.labelSmoothing = -0.1 },
                       { $0.erasing = 1.5 }, { $0.mixup = .nan }, { $0.maxLearningRate = .infinity }, { $0.widths = [4, 8, 8] },
                       { $0.subset = -1 }, { $0.epochs = 0 }, { $0.scaleJitter = 0.5 }, { $0.scaleJitter = -0.1 }] {
            configuration = TrainingConfiguration()
            change(&configuration)
            XCTAssertNotNil(configuration.problem, "\(configuration)")
        }
    }

    /// A checkpoint written before the options existed still resumes, with the reference's values.
    func testConfigurationsWithoutTheNewSettingsDecode() throws {
        let old = """
            {"epochs":6,"batchSize":64,"maxLearningRate":0.005,"weightDecay":9e-06,"gradientClip":0.1,"seed":0,
             "padCrop":false,"flip":true,"rotation":true,"widths":[64,128,256,512],"inputSize":48}
            """
        let decoded = try JSONDecoder().decode(TrainingConfiguration.self, from: Data(old.utf8))
        var expected = TrainingConfiguration()
        expected.epochs = 6
        XCTAssertEqual(decoded, expected)
        let roundTrip = try JSONDecoder().decode(TrainingConfiguration.self, from: JSONEncoder().encode(decoded))
        XCTAssertEqual(roundTrip, decoded)
    }

    func testSubsetIsSeededAndStable() {
        var configuration = TrainingConfiguration()
        configuration.subset = 10
        let a = Trainer.trainingIndices(configuration, count: 100)
        XCTAssertEqual(a.count, 10)
        XCTAssertEqual(a, a.sorted())
        XCTAssertEqual(a, Trainer.trainingIndices(configuration, count: 100))
        configuration.seed = 1
        XCTAssertNotEqual(a, Trainer.trainingIndices(configuration, count: 100))
        configuration.subset = 0
        XCTAssertEqual(Trainer.trainingIndices(configuration, count: 5), [0, 1, 2, 3, 4])
    }

    /// A block wider than the Winograd buffers' usual 8M floats hold for one image (1024 channels at
    /// 48x48: 9.4M) gets buffers sized from its shape: a finite step, not a write past the buffers.
    func testWideNetworksGetBuffersSizedFromTheirShapes() {
        let architecture = ResNet9Architecture(inputChannels: 1, classCount: 3, widths: [2, 1024, 4, 4])
        let network = TrainableResNet9(stateDict: .initialized(architecture, seed: 1), architecture: architecture)
        var random = SplitMix64(seed: 6)
        let inputs = Tensor(shape: [1, 1, 48, 48], scalars: (0..<48 * 48).map { _ in random.uniform(-1, 1) })
        let loss = network.step(inputs: inputs, labels: [2])
        XCTAssert(loss.isFinite && network.gradients.allSatisfy(\.isFinite))
    }
}

