@testable import FERVision
import XCTest

/// The engine against PyTorch: logits of narrow ResNet9s with real batch-norm statistics, loaded from
/// the safetensors and torch.save files PyTorch wrote.
final class PyTorchParityTests: XCTestCase {
    func testSafeTensorsModelMatchesPyTorchLogits() throws {
        let expected = try Fixtures.tensors("narrow_resnet9_expected.safetensors")
        let model = try ModelLoader.load(path: Fixtures.path("narrow_resnet9.safetensors"))
        XCTAssertEqual(model.architecture, ResNet9Architecture(inputChannels: 1, classCount: 7, widths: [4, 8, 16, 32]))
        let logits = model.makeNetwork().logits(for: expected.tensor("inputs")!)
        XCTAssertEqual(logits.shape, [3, 7])
        assertClose(logits.scalars, expected.tensor("logits")!.scalars, tolerance: 1e-4, "logits vs PyTorch")
    }

    func testPthCheckpointMatchesPyTorchLogits() throws {
        let expected = try Fixtures.tensors("narrow_resnet9_expected.safetensors")
        let model = try ModelLoader.load(path: Fixtures.path("narrow_resnet9.pth"))
        let logits = model.makeNetwork().logits(for: expected.tensor("inputs")!)
        assertClose(logits.scalars, expected.tensor("logits")!.scalars, tolerance: 1e-4, "logits vs PyTorch")
    }

    func testPthAndSafeTensorsGiveIdenticalModels() throws {
        let fromPth = try ModelLoader.load(path: Fixtures.path("narrow_resnet9.pth"))
        let fromSafeTensors = try ModelLoader.load(path: Fixtures.path("narrow_resnet9.safetensors"))
        XCTAssertEqual(fromPth.stateDict.names, ResNet9Architecture(inputChannels: 1, classCount: 7, widths: [4, 8, 16, 32]).parameterLayout.map(\.name))
        assertIdentical(fromPth.stateDict, fromSafeTensors.stateDict)
        XCTAssertEqual(fromPth.metadata, fromSafeTensors.metadata)
    }

    /// The reference notebook's shape: 3 input channels, 10 outputs of which FER2013 uses the first 7.
    func testNotebookShapedCheckpointKeepsFirstSevenOutputs() throws {
        let expected = try Fixtures.tensors("notebook_resnet9_expected.safetensors")
        let model = try ModelLoader.load(path: Fixtures.path("notebook_resnet9.pth"))
        XCTAssertEqual(model.architecture.inputChannels, 3)
        XCTAssertEqual(model.architecture.classCount, 7)
        XCTAssertEqual(model.metadata.classNames, ModelMetadata.fer2013ClassNames)
        XCTAssert(model.notes.contains { $0.contains("10 outputs for 7 classes") }, "no note about dropped outputs: \(model.notes)")
        let logits = model.makeNetwork().logits(for: expected.tensor("inputs")!)
        let reference = expected.tensor("logits")!.scalars
        let firstSeven = (0..<2).flatMap { Array(reference[$0 * 10..<$0 * 10 + 7]) }
        assertClose(logits.scalars, firstSeven, tolerance: 1e-4, "first 7 logits vs PyTorch")
    }

    func testImportedModelRoundTripsThroughOurSafeTensors() throws {
        let loaded = try ModelLoader.load(path: Fixtures.path("notebook_resnet9.pth"),
                                          overrides: ModelOverrides(mean: [0.4914, 0.4822, 0.4465], std: [0.2023, 0.1994, 0.2010]))
        var metadata = loaded.metadata
        metadata.provenance["source"] = "test"
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("roundtrip-\(UUID()).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        try ModelLoader.save(LoadedModel(stateDict: loaded.stateDict, architecture: loaded.architecture, metadata: metadata), to: file)
        let reread = try ModelLoader.load(path: file)
        assertIdentical(reread.stateDict, loaded.stateDict)
        XCTAssertEqual(reread.metadata, metadata)
        XCTAssertEqual(reread.notes, [], "a file with our metadata needs no assumptions")
    }
}

/// Both convolution methods against PyTorch, and against each other on the full-size network.
final class ConvolutionMethodTests: XCTestCase {
    func testEveryMethodMatchesPyTorch() throws {
        let expected = try Fixtures.tensors("narrow_resnet9_expected.safetensors")
        let model = try ModelLoader.load(path: Fixtures.path("narrow_resnet9.safetensors"))
        for method in ResNet9.ConvolutionMethod.allCases {
            let network = ResNet9(stateDict: model.stateDict, architecture: model.architecture, convolutionMethod: method)
            let logits = network.logits(for: expected.tensor("inputs")!)
            assertClose(logits.scalars, expected.tensor("logits")!.scalars, tolerance: 1e-4, "\(method) logits vs PyTorch")
        }
    }

    func testWinogradAgreesWithIm2ColOnTheFullNetwork() {
        let architecture = ResNet9Architecture(inputChannels: 1, classCount: 7)
        let weights = StateDict.initialized(architecture, seed: 4)
        var random = SplitMix64(seed: 8)
        let batch = Tensor(shape: [2, 1, 48, 48], scalars: (0..<2 * 2304).map { _ in random.uniform(-2, 2) })
        let reference = ResNet9(stateDict: weights, architecture: architecture, convolutionMethod: .im2col).logits(for: batch)
        let winograd = ResNet9(stateDict: weights, architecture: architecture, convolutionMethod: .winograd).logits(for: batch)
        let scale = reference.scalars.map(abs).max()!
        assertClose(winograd.scalars, reference.scalars, tolerance: 1e-4 * max(1, scale), "Winograd vs im2col (scale \(scale))")
    }

    /// One image alone runs im2col on the 6x6 maps (too few Winograd columns), a batch runs Winograd
    /// there: each image gets the same logits either way.
    func testOneImageAloneAgreesWithItInABatch() {
        let architecture = ResNet9Architecture(inputChannels: 1, classCount: 7)
        let network = ResNet9(stateDict: StateDict.initialized(architecture, seed: 5), architecture: architecture)
        XCTAssertFalse(network.convolutions[7].usesWinograd(images: 1, side: 6))
        XCTAssertTrue(network.convolutions[7].usesWinograd(images: 4, side: 6))
        XCTAssertTrue(network.convolutions[1].usesWinograd(images: 1, side: 48))
        var random = SplitMix64(seed: 9)
        let batch = Tensor(shape: [4, 1, 48, 48], scalars: (0..<4 * 2304).map { _ in random.uniform(-2, 2) })
        let together = network.logits(for: batch).scalars
        let scale = together.map(abs).max()!
        for image in 0..<4 {
            let alone = network.logits(for: Tensor(shape: [1, 1, 48, 48], scalars: Array(batch.scalars[image * 2304..<(image + 1) * 2304])))
            assertClose(alone.scalars, Array(together[image * 7..<(image + 1) * 7]), tolerance: 1e-4 * max(1, scale), "image \(image)")
        }
    }

    /// Odd feature-map sides exercise the partial tiles at the right and bottom edges.
    func testWinogradHandlesOddSides() {
        let architecture = ResNet9Architecture(inputChannels: 2, classCount: 3, widths: [3, 5, 6, 7])
        let weights = StateDict.initialized(architecture, seed: 6)
        var random = SplitMix64(seed: 2)
        for side in [33, 47, 50] {
            let batch = Tensor(shape: [3, 2, side, side], scalars: (0..<3 * 2 * side * side).map { _ in random.uniform(-2, 2) })
            let reference = ResNet9(stateDict: weights, architecture: architecture, inputSize: side, convolutionMethod: .im2col)
            let winograd = ResNet9(stateDict: weights, architecture: architecture, inputSize: side, convolutionMethod: .winograd)
            assertClose(winograd.logits(for: batch).scalars, reference.logits(for: batch).scalars, tolerance: 1e-4, "side \(side)")
        }
    }
}

/// Splitting work across threads gives the same result: bit for bit with Winograd (each GEMM is the same
/// call, only on another thread), to float rounding with im2col (a band of rows can take OpenBLAS's
/// edge kernels, which sum in another order).
final class ThreadingTests: XCTestCase {
    override func tearDown() { BLAS.setThreadCount(1) }

    func testTwoThreadsGiveIdenticalLogits() {
        let architecture = ResNet9Architecture(inputChannels: 1, classCount: 7, widths: [8, 16, 16, 32])
        let weights = StateDict.initialized(architecture, seed: 12)
        var random = SplitMix64(seed: 13)
        let batch = Tensor(shape: [5, 1, 48, 48], scalars: (0..<5 * 2304).map { _ in random.uniform(-2, 2) })
        for method in ResNet9.ConvolutionMethod.allCases {
            let network = ResNet9(stateDict: weights, architecture: architecture, convolutionMethod: method)
            BLAS.setThreadCount(1)
            let single = network.logits(for: batch)
            BLAS.setThreadCount(2)
            let split = network.logits(for: batch)
            if method == .winograd {
                XCTAssertEqual(single.scalars, split.scalars, "\(method): threads changed the logits")
            } else {
                assertClose(split.scalars, single.scalars, tolerance: 1e-6, "\(method): 2 threads vs 1")
            }
        }
    }

    func testConcurrentCallersGetTheirOwnResults() {
        let architecture = ResNet9Architecture(inputChannels: 1, classCount: 7, widths: [4, 8, 8, 16])
        let network = ResNet9(stateDict: .initialized(architecture, seed: 14), architecture: architecture)
        let inputs = (0..<8).map { seed -> Tensor in
            var random = SplitMix64(seed: UInt64(seed))
            return Tensor(shape: [1, 1, 48, 48], scalars: (0..<2304).map { _ in random.uniform(-2, 2) })
        }
        // Each caller's result against a lone caller's at the same thread count: how a pass is split over
        // threads may change the last bit on some CPUs' GEMM kernels (seen on an AVX2-only EPYC), and
        // that is testThreadCountDoesNotChangeResults' concern, not this test's.
        BLAS.setThreadCount(2)
        let expected = inputs.map { network.logits(for: $0).scalars }
        let results = Results(count: inputs.count)
        DispatchQueue.concurrentPerform(iterations: 32) { i in
            results.set(i % inputs.count, network.logits(for: inputs[i % inputs.count]).scalars)
        }
        for (i, value) in results.values.enumerated() { XCTAssertEqual(value, expected[i], "caller \(i)") }
    }
}

private final class Results: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var values: [[Float]]
    init(count: Int) { values = Array(repeating: [], count: count) }
    func set(_ index: Int, _ value: [Float]) { lock.lock(); values[index] = value; lock.unlock() }
}
