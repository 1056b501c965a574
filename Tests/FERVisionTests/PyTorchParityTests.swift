import FERVision
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
