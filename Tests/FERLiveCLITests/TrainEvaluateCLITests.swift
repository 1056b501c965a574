import FERVision
import Foundation
import XCTest

/// `fer-live train` and `fer-live evaluate` as a user runs them, on a small synthetic dataset.
final class TrainEvaluateCLITests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: CLIRunner.binary.path), "fer-live was not built")
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("fer-train-cli-\(UUID())")
        for (split, count) in [("train", 24), ("val", 9)] {
            for (label, bright) in [("0", 0..<24), ("3", 24..<48)] {   // FER2013 labels: angry, happy
                let directory = folder.appendingPathComponent("data/\(split)/\(label)")
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                for i in 0..<count {
                    var data = Data("P5\n48 48\n255\n".utf8)
                    data.append(contentsOf: (0..<48 * 48).map { bright.contains($0 / 48) ? UInt8(150 + (i * 7 + $0) % 50) : UInt8(40 + $0 % 30) })
                    try data.write(to: directory.appendingPathComponent("\(i).pgm"))
                }
            }
        }
    }

    override func tearDownWithError() throws { if let folder { try? FileManager.default.removeItem(at: folder) } }

    func testTrainWritesModelHistoryPlotsAndCheckpointThenEvaluateReadsIt() throws {
        let data = folder.appendingPathComponent("data").path
        let model = folder.appendingPathComponent("out/model.safetensors").path
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("out"), withIntermediateDirectories: true)
        let result = try CLIRunner.run(["train", "--data", data, "--out", model, "--epochs", "2", "--batch-size", "16",
                                        "--widths", "4,8,8,16", "--threads", "2"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let epochLines = result.stdoutLines.filter { $0.hasPrefix("Epoch [") }
        XCTAssertEqual(epochLines.count, 2, result.stdout)
        XCTAssert(epochLines[0].contains("last_lr") && epochLines[0].contains("val_acc"), epochLines[0])
        let logs = folder.appendingPathComponent("out/model-training")
        for name in ["history.json", "history.csv", "accuracy.svg", "loss.svg", "lr.svg", "checkpoint.safetensors"] {
            XCTAssert(FileManager.default.fileExists(atPath: logs.appendingPathComponent(name).path), "missing \(name)")
        }
        let history = try JSONSerialization.jsonObject(with: Data(contentsOf: logs.appendingPathComponent("history.json"))) as? [String: Any]
        XCTAssertEqual((history?["epochs"] as? [Any])?.count, 2)
        XCTAssertEqual((history?["lrs"] as? [Any])?.count, 2 * 3, "one learning rate per batch")

        let evaluation = try CLIRunner.run(["evaluate", "--model", model, "--data", folder.appendingPathComponent("data/val").path,
                                            "--json", "--confusion", folder.appendingPathComponent("confusion.csv").path])
        XCTAssertEqual(evaluation.status, 0, evaluation.stderr)
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(evaluation.stdout.utf8)) as? [String: Any])
        for key in ["accuracy", "macro_f1", "per_class", "confusion", "ece", "nll", "ece_uncalibrated", "nll_uncalibrated"] {
            XCTAssertNotNil(report[key], key)
        }
        // The finished model was calibrated on val: its temperatures are stored, and lower the val NLL.
        XCTAssertEqual(result.stdoutLines.filter { $0.contains("temperature") }.count, 2, result.stdout)
        let stored = try ModelLoader.load(path: model).metadata
        XCTAssertNotEqual(stored.temperature, 1)
        XCTAssertEqual(report["temperature"] as? Double ?? 0, Double(stored.flipTemperature), accuracy: 1e-6)
        XCTAssertLessThanOrEqual(try XCTUnwrap(report["nll"] as? Double), try XCTUnwrap(report["nll_uncalibrated"] as? Double) + 1e-9)
        let perClass = try XCTUnwrap(report["per_class"] as? [String: [String: Any]])
        XCTAssertEqual(Set(perClass.keys), ["angry", "happy"], "the model knows the classes by name")
        XCTAssertEqual((perClass["angry"]?["support"] as? Int), 9)
        XCTAssert(FileManager.default.fileExists(atPath: folder.appendingPathComponent("confusion.csv").path))

        // Resuming a finished run does nothing more and says so.
        let resumed = try CLIRunner.run(["train", "--data", data, "--out", model, "--resume", logs.appendingPathComponent("checkpoint.safetensors").path,
                                         "--widths", "4,8,8,16"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssert(resumed.stderr.contains("after epoch 2 of 2"), resumed.stderr)

        // A warm restart from the model, with random zoom: the new model says where it started.
        let warm = folder.appendingPathComponent("out/warm.safetensors").path
        let restarted = try CLIRunner.run(["train", "--data", data, "--out", warm, "--init-from", model, "--epochs", "1", "--batch-size", "16",
                                           "--scale-jitter", "0.15", "--threads", "2"])
        XCTAssertEqual(restarted.status, 0, restarted.stderr)
        XCTAssert(restarted.stdout.contains("scale jitter 0.15"), restarted.stdout)
        let provenance = try ModelLoader.load(path: warm).metadata.provenance
        XCTAssertEqual(provenance["epochs"], "1 of 1")
        let origin = try XCTUnwrap(provenance["started_from"])
        XCTAssert(origin.hasPrefix("model.safetensors; epochs 2 of 2; settings 2 epochs"), origin)

        // Distillation from the two as an ensemble; a resumed run loads the same teachers from its checkpoint.
        let student = folder.appendingPathComponent("out/student.safetensors").path
        let distilled = try CLIRunner.run(["train", "--data", data, "--out", student, "--teacher", model, "--teacher", warm, "--epochs", "1",
                                           "--batch-size", "16", "--widths", "4,8,8,16", "--threads", "2"])
        XCTAssertEqual(distilled.status, 0, distilled.stderr)
        XCTAssert(distilled.stdout.contains("distillation 0.5 from model.safetensors + warm.safetensors"), distilled.stdout)
        try FileManager.default.removeItem(atPath: warm)
        let orphan = try CLIRunner.run(["train", "--data", data, "--out", student, "--resume",
                                        folder.appendingPathComponent("out/student-training/checkpoint.safetensors").path])
        XCTAssertEqual(orphan.status, 1)
        XCTAssertEqual(orphan.errorLines.count, 1, orphan.stderr)
        XCTAssert(orphan.stderr.contains(warm), orphan.stderr)
        let wrongClasses = try CLIRunner.run(["train", "--data", data, "--out", student, "--teacher", CLIRunner.fixture("narrow_resnet9.safetensors"),
                                              "--epochs", "1", "--widths", "4,8,8,16"])
        XCTAssertEqual(wrongClasses.status, 1)
        XCTAssert(wrongClasses.stderr.contains("a teacher must have this run's classes"), wrongClasses.stderr)
    }

    /// `quantize` writes the model's 8-bit ranges beside it; from then on the model runs in 8 bits unless
    /// --precision float is given; ranges of another model file are refused (in float, with a note, when
    /// nobody asked for 8 bits).
    func testQuantizeMakesTheModelRunInEightBits() throws {
        let data = folder.appendingPathComponent("data").path
        let model = folder.appendingPathComponent("m.safetensors").path
        try FileManager.default.copyItem(atPath: CLIRunner.fixture("narrow_resnet9.safetensors"), toPath: model)
        func evaluate(_ extra: [String] = []) throws -> (CLIRunner.Result, [String: Any]) {
            let result = try CLIRunner.run(["evaluate", "--model", model, "--data", data + "/val", "--json"] + extra)
            let report = (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]) ?? [:]
            return (result, report)
        }
        XCTAssertEqual(try evaluate().1["precision"] as? String, "float", "no ranges yet: float")

        let quantized = try CLIRunner.run(["quantize", "--model", model, "--data", data + "/train", "--images", "30"])
        XCTAssertEqual(quantized.status, 0, quantized.stderr)
        let ranges = folder.appendingPathComponent("m.int8.json").path
        XCTAssert(quantized.stdout.contains("wrote \(ranges)"), quantized.stdout)
        let (auto, report) = try evaluate()
        XCTAssertEqual(auto.status, 0, auto.stderr)
        XCTAssertEqual(report["precision"] as? String, "int8")
        XCTAssertEqual(try evaluate(["--precision", "float"]).1["precision"] as? String, "float")
        let bench = try CLIRunner.run(["bench", "--model", model, "--iterations", "2", "--warmup", "1", "--json"])
        let benchReport = try JSONSerialization.jsonObject(with: Data(bench.stdout.utf8)) as? [String: Any]
        XCTAssertEqual(benchReport?["engine"] as? String, "oneDNN int8", bench.stdout + bench.stderr)

        // Ranges measured for another model file.
        var file = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: ranges))) as? [String: Any])
        file["modelDigest"] = String(repeating: "0", count: 64)
        try JSONSerialization.data(withJSONObject: file).write(to: URL(fileURLWithPath: ranges))
        let (fallback, fallbackReport) = try evaluate()
        XCTAssertEqual(fallback.status, 0, fallback.stderr)
        XCTAssertEqual(fallbackReport["precision"] as? String, "float")
        XCTAssert(fallback.stderr.contains("was measured for another model file") && fallback.stderr.contains("running in float"), fallback.stderr)
        let (refused, _) = try evaluate(["--precision", "int8"])
        XCTAssertEqual(refused.status, 1)
        XCTAssertEqual(refused.errorLines.count, 1, refused.stderr)
        XCTAssert(refused.stderr.contains("run `fer-live quantize` again"), refused.stderr)
    }

    func testMissingValidationSplitFailsBeforeTraining() throws {
        try FileManager.default.removeItem(at: folder.appendingPathComponent("data/val"))
        let result = try CLIRunner.run(["train", "--data", folder.appendingPathComponent("data").path,
                                        "--out", folder.appendingPathComponent("m.safetensors").path])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.errorLines.count, 1, result.stderr)
        XCTAssert(result.stderr.contains("val") && result.stderr.contains("no such folder"), result.stderr)
    }

    func testMismatchedClassesAreRefused() throws {
        try FileManager.default.moveItem(at: folder.appendingPathComponent("data/val/3"), to: folder.appendingPathComponent("data/val/4"))
        let result = try CLIRunner.run(["train", "--data", folder.appendingPathComponent("data").path,
                                        "--out", folder.appendingPathComponent("m.safetensors").path])
        XCTAssertEqual(result.status, 1)
        XCTAssert(result.stderr.contains("train/ has classes"), result.stderr)
    }

    func testUnwritableOutputFailsBeforeLoadingData() throws {
        let result = try CLIRunner.run(["train", "--data", folder.appendingPathComponent("data").path,
                                        "--out", "/proc/fer-live-cannot-write/m.safetensors"])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.errorLines.count, 1, result.stderr)
    }
}
