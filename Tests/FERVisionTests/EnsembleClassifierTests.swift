import FERVision
import XCTest

/// An ensemble averages its models' calibrated probabilities, is one model when it has one, and refuses
/// models that read faces differently.
final class EnsembleClassifierTests: XCTestCase {
    private func model(temperature: Float = 1, classNames: [String]? = nil) throws -> LoadedModel {
        let loaded = try ModelLoader.load(path: Fixtures.path("narrow_resnet9.safetensors"))
        var metadata = loaded.metadata
        metadata.temperature = temperature
        metadata.flipTemperature = temperature
        if let classNames { metadata.classNames = classNames }
        return LoadedModel(stateDict: loaded.stateDict, architecture: loaded.architecture, metadata: metadata)
    }

    private func faces() -> [ByteImage] {
        var random = SplitMix64(seed: 21)
        return (0..<3).map { _ in ByteImage(width: 48, height: 48, pixels: (0..<2304).map { _ in UInt8(truncatingIfNeeded: random.next()) }) }
    }

    func testAveragesTheModelsCalibratedProbabilities() throws {
        for flip in [false, true] {
            let sharp = try model(temperature: 0.5), soft = try model(temperature: 3)
            let ensemble = try EmotionClassifier(ensemble: [sharp, soft], paths: ["sharp", "soft"], flipAveraging: flip)
            XCTAssertEqual(ensemble.modelCount, 2)
            let a = EmotionClassifier(model: sharp, flipAveraging: flip).classify(faces())
            let b = EmotionClassifier(model: soft, flipAveraging: flip).classify(faces())
            for (mean, (first, second)) in zip(ensemble.classify(faces()), zip(a, b)) {
                for k in mean.probabilities.indices {
                    XCTAssertEqual(mean.probabilities[k], (first.probabilities[k] + second.probabilities[k]) / 2, accuracy: 1e-5)
                }
                XCTAssertNotEqual(first.probabilities, second.probabilities, "the two temperatures differ, so the test can tell")
            }
        }
    }

    func testAnEnsembleOfOneIsTheModel() throws {
        let one = try model(temperature: 1.7)
        let ensemble = try EmotionClassifier(ensemble: [one], paths: ["one"])
        XCTAssertEqual(ensemble.classify(faces()), EmotionClassifier(model: one).classify(faces()))
    }

    func testModelsThatReadFacesDifferentlyAreRefused() throws {
        let renamed = try model(classNames: ["a", "b", "c", "d", "e", "f", "g"])
        XCTAssertThrowsError(try EmotionClassifier(ensemble: [try model(), renamed], paths: ["first.safetensors", "renamed.safetensors"])) {
            let error = $0 as? ModelFileError
            XCTAssertEqual(error?.kind, .invalidMetadata)
            XCTAssert(error?.description.hasPrefix("renamed.safetensors: cannot join an ensemble with first.safetensors") == true, "\(String(describing: error))")
        }
    }
}
