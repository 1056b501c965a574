@testable import FERVision
import Foundation
import XCTest

/// The training loop end to end on a small synthetic ImageFolder dataset it can learn.
final class TrainerTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("fer-train-\(UUID())")
        var random = SplitMix64(seed: 5)
        // Three classes a network can tell apart: a bright band at the top, at the bottom, or in the middle.
        for (split, perClass) in [("train", 40), ("val", 15)] {
            for (label, band) in [("top", 0..<16), ("bottom", 32..<48), ("middle", 16..<32)] {
                let directory = folder.appendingPathComponent("\(split)/\(label)")
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                for i in 0..<perClass {
                    var pixels = [UInt8](repeating: 0, count: 48 * 48)
                    for y in 0..<48 {
                        for x in 0..<48 {
                            let base: Float = band.contains(y) ? 170 : 60
                            pixels[y * 48 + x] = UInt8(max(0, min(255, base + random.uniform(-50, 50))))
                        }
                    }
                    try writePGM(pixels, width: 48, height: 48, to: directory.appendingPathComponent("\(i).pgm"))
                }
            }
        }
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    private func writePGM(_ pixels: [UInt8], width: Int, height: Int, to url: URL) throws {
        var data = Data("P5\n\(width) \(height)\n255\n".utf8)
        data.append(contentsOf: pixels)
        try data.write(to: url)
    }

    private var configuration: TrainingConfiguration {
        var configuration = TrainingConfiguration()
        configuration.widths = [4, 8, 8, 16]
        configuration.batchSize = 16
        configuration.epochs = 4
        configuration.seed = 3
        return configuration
    }

    func testLearnsASyntheticDatasetFarAboveChance() throws {
        let train = try ImageFolder.load(folder.appendingPathComponent("train").path)
        let validation = try ImageFolder.load(folder.appendingPathComponent("val").path)
        XCTAssertEqual(train.classNames, ["bottom", "middle", "top"], "classes are the folder names in string order")
        XCTAssertEqual(train.count, 120)
        let trainer = Trainer(configuration: configuration, trainingSet: train)
        var records: [EpochRecord] = []
        while trainer.completedEpochs < configuration.epochs {
            records.append(trainer.runEpoch(trainingSet: train, validationSet: validation))
        }
        XCTAssertGreaterThanOrEqual(records.last!.validationAccuracy, 0.9, "chance is 0.33: \(records.map(\.logLine))")
        XCTAssertLessThan(records.last!.trainLoss, records.first!.trainLoss)
        XCTAssertEqual(trainer.history.learningRates.count, configuration.epochs * 8)
    }

    /// Two epochs straight, or one epoch, a checkpoint, and a resumed second epoch: the same weights.
    func testResumeContinuesExactly() throws {
        let train = try ImageFolder.load(folder.appendingPathComponent("train").path)
        let validation = try ImageFolder.load(folder.appendingPathComponent("val").path)
        let straight = Trainer(configuration: configuration, trainingSet: train)
        for _ in 0..<2 { _ = straight.runEpoch(trainingSet: train, validationSet: validation) }

        let first = Trainer(configuration: configuration, trainingSet: train)
        _ = first.runEpoch(trainingSet: train, validationSet: validation)
        let checkpoint = folder.appendingPathComponent("checkpoint.safetensors").path
        try first.saveCheckpoint(to: checkpoint)
        let resumed = try Trainer(resumingFrom: checkpoint, trainingSet: train)
        XCTAssertEqual(resumed.completedEpochs, 1)
        _ = resumed.runEpoch(trainingSet: train, validationSet: validation)

        XCTAssertEqual(resumed.network.parameters, straight.network.parameters, "weights differ after resume")
        XCTAssertEqual(resumed.network.stateDict, straight.network.stateDict, "running statistics differ after resume")
        XCTAssertEqual(resumed.history.learningRates, straight.history.learningRates)
        XCTAssertEqual(resumed.history.epochs.map(\.logLine), straight.history.epochs.map(\.logLine), "only timings may differ")
    }

    /// A checkpoint whose stored settings could not train (here batch size 0, which divides by zero) is
    /// refused when resumed, naming the setting, as the command line would refuse it.
    func testResumedSettingsAreValidated() throws {
        let train = try ImageFolder.load(folder.appendingPathComponent("train").path)
        let checkpoint = folder.appendingPathComponent("checkpoint.safetensors").path
        try Trainer(configuration: configuration, trainingSet: train).saveCheckpoint(to: checkpoint)
        let (tensors, stored) = try SafeTensors.decode(try Data(contentsOf: URL(fileURLWithPath: checkpoint)), path: checkpoint)
        var metadata = try XCTUnwrap(stored)
        metadata["configuration"] = try XCTUnwrap(metadata["configuration"]).replacingOccurrences(of: "\"batchSize\":16", with: "\"batchSize\":0")
        try SafeTensors.encode(tensors, metadata: metadata).write(to: URL(fileURLWithPath: checkpoint))
        XCTAssertThrowsError(try Trainer(resumingFrom: checkpoint, trainingSet: train)) { error in
            XCTAssert("\(error)".contains("checkpoint settings are invalid: batch size must be 1...4096 (0)"), "\(error)")
        }
    }

    func testBadDatasetsAreClearErrors() throws {
        XCTAssertThrowsError(try ImageFolder.load(folder.appendingPathComponent("missing").path)) { error in
            XCTAssert("\(error)".contains("no such folder"), "\(error)")
        }
        let empty = folder.appendingPathComponent("train/empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        XCTAssertThrowsError(try ImageFolder.load(folder.appendingPathComponent("train").path)) { error in
            XCTAssert("\(error)".contains("empty") && "\(error)".contains("holds no images"), "\(error)")
        }
        try FileManager.default.removeItem(at: empty)
        // An unreadable image is skipped and reported, not fatal.
        try Data("not an image".utf8).write(to: folder.appendingPathComponent("train/top/broken.png"))
        let dataset = try ImageFolder.load(folder.appendingPathComponent("train").path)
        XCTAssertEqual(dataset.count, 120)
        XCTAssertEqual(dataset.skipped.count, 1)
    }

    func testFER2013FolderNamesGetEmotionNames() {
        XCTAssertEqual(ImageFolder.className(forFolders: ["0", "1", "2", "3", "4", "5", "6"]), ModelMetadata.fer2013ClassNames)
        XCTAssertEqual(ImageFolder.className(forFolders: ["angry", "happy"]), ["angry", "happy"])
    }
}
