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
