import Foundation
import XCTest

/// The fer-live command as a user runs it: output, exit codes and error lines.
final class CLITests: XCTestCase {
    private let model = CLIRunner.fixture("narrow_resnet9.safetensors")
    private var folder: URL!

    override func setUpWithError() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: CLIRunner.binary.path),
                          "fer-live was not built next to the tests (\(CLIRunner.binary.path))")
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("fer-cli-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { if let folder { try? FileManager.default.removeItem(at: folder) } }

    private func json(_ line: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not a JSON object: \(line)")
    }

    func testHelpListsEverySubcommand() throws {
        let result = try CLIRunner.run(["--help"])
        XCTAssertEqual(result.status, 0)
        for command in ["classify", "bench", "import"] { XCTAssert(result.stdout.contains(command), "help lacks \(command)") }
    }

    func testClassifyPrintsOneJSONObjectPerImage() throws {
        let images = ["gray.png", "rgb.jpg", "rgb.ppm"].map(CLIRunner.fixture)
        let result = try CLIRunner.run(["classify", "--model", model, "--json"] + images)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdoutLines.count, 3)
        for (line, image) in zip(result.stdoutLines, images) {
            let object = try json(line)
            XCTAssertEqual(object["file"] as? String, image)
            let probabilities = try XCTUnwrap(object["probabilities"] as? [String: Double])
            XCTAssertEqual(Set(probabilities.keys), ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"])
            XCTAssertEqual(probabilities.values.reduce(0, +), 1, accuracy: 1e-4)
            let top = probabilities.max { $0.value < $1.value }!
            XCTAssertEqual(object["label"] as? String, top.key)
            XCTAssertEqual(try XCTUnwrap(object["confidence"] as? Double), top.value, accuracy: 1e-6)
        }
    }

    /// --ensemble DIR classifies with every model in DIR (here one model twice: the same probabilities),
    /// says what it costs, and refuses an empty directory or --model beside it in one line.
    func testEnsembleOfADirectoryOfModels() throws {
        let ensemble = folder.appendingPathComponent("ensemble")
        try FileManager.default.createDirectory(at: ensemble, withIntermediateDirectories: true)
        for name in ["a.safetensors", "b.safetensors"] {
            try FileManager.default.copyItem(atPath: model, toPath: ensemble.appendingPathComponent(name).path)
        }
        let image = CLIRunner.fixture("rgb.jpg")
        let single = try CLIRunner.run(["classify", "--model", model, "--json", image])
        let both = try CLIRunner.run(["classify", "--ensemble", ensemble.path, "--json", image])
        XCTAssertEqual(both.status, 0, both.stderr)
        XCTAssert(both.stderr.contains("an ensemble of 2 models (2 network passes per face)"), both.stderr)
        let one = try XCTUnwrap(try json(single.stdout)["probabilities"] as? [String: Double])
        let two = try XCTUnwrap(try json(both.stdout)["probabilities"] as? [String: Double])
        for (name, value) in one { XCTAssertEqual(two[name] ?? -1, value, accuracy: 1e-5, name) }

        let empty = folder.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        let nothing = try CLIRunner.run(["classify", "--ensemble", empty.path, image])
        XCTAssertEqual(nothing.status, 1)
        XCTAssertEqual(nothing.errorLines, ["fer-live: \(empty.path): holds no model files (.safetensors, .pth, .pt)"])
        let twice = try CLIRunner.run(["classify", "--ensemble", ensemble.path, "--model", model, image])
        XCTAssertEqual(twice.status, 64, "a usage error")
        XCTAssert(twice.stderr.contains("--model and --ensemble: give one"), twice.stderr)
    }

    func testClassifyTextNamesTheFileAndEveryClass() throws {
        let result = try CLIRunner.run(["classify", "--model", model, CLIRunner.fixture("gray.png")])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdoutLines.count, 1)
        XCTAssert(result.stdout.hasPrefix(CLIRunner.fixture("gray.png") + ": "))
        for name in ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"] { XCTAssert(result.stdout.contains(name)) }
    }

    func testBadImagesAreReportedAndTheRestStillClassified() throws {
        let notAnImage = folder.appendingPathComponent("notes.png").path
        try Data("just text".utf8).write(to: URL(fileURLWithPath: notAnImage))
        let missing = folder.appendingPathComponent("missing.jpg").path
        let good = CLIRunner.fixture("rgb.png")
        let result = try CLIRunner.run(["classify", "--model", model, "--json", notAnImage, good, missing])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stdoutLines.count, 1)
        XCTAssertEqual(try json(result.stdoutLines[0])["file"] as? String, good)
        XCTAssertEqual(result.errorLines.count, 2, result.stderr)
        XCTAssert(result.errorLines.first?.contains(notAnImage) == true && result.errorLines.last?.contains(missing) == true, result.stderr)
    }

    func testUnreadableModelIsOneLineAndExitOne() throws {
        let broken = folder.appendingPathComponent("broken.safetensors").path
        try Data("garbage that is not a model".utf8).write(to: URL(fileURLWithPath: broken))
        let result = try CLIRunner.run(["classify", "--model", broken, CLIRunner.fixture("gray.png")])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stdout, "")
        XCTAssertEqual(result.stderrLines.count, 1, result.stderr)
        XCTAssert(result.stderr.contains(broken))
    }

    func testMissingDefaultModelIsExplained() throws {
        let absent = folder.appendingPathComponent("none.safetensors").path
        let result = try CLIRunner.run(["classify", CLIRunner.fixture("gray.png")], environment: ["FER_LIVE_MODEL": absent])
        XCTAssertEqual(result.status, 1)
        XCTAssert(result.stderr.contains(absent) && result.stderr.contains("no such file"), result.stderr)
    }

    func testImportedNotebookCheckpointClassifiesLikeTheCheckpoint() throws {
        let checkpoint = CLIRunner.fixture("notebook_resnet9.pth")
        let imported = folder.appendingPathComponent("notebook.safetensors").path
        let normalization = ["--mean", "0.4914,0.4822,0.4465", "--std", "0.2023,0.1994,0.2010"]
        let result = try CLIRunner.run(["import", checkpoint, "--out", imported] + normalization)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssert(result.stderr.contains("dropping 7-9"), "no note about dropped outputs: \(result.stderr)")
        XCTAssert(result.stdout.contains("ResNet9(3, 7)"), result.stdout)

        let images = ["gray.png", "rgb.jpg"].map(CLIRunner.fixture)
        let fromImport = try CLIRunner.run(["classify", "--json", "--model", imported] + images)
        let fromCheckpoint = try CLIRunner.run(["classify", "--json", "--model", checkpoint] + normalization + images)
        XCTAssertEqual(fromImport.status, 0, fromImport.stderr)
        XCTAssertEqual(fromImport.stdout, fromCheckpoint.stdout)
        XCTAssertEqual(fromImport.stderr, "", "our own file needs no notes")

        let again = try CLIRunner.run(["import", checkpoint, "--out", imported])
        XCTAssertEqual(again.status, 1, "an existing file must not be overwritten without --force")
        XCTAssert(again.stderr.contains("--force"))
    }

    func testBenchJSONHasTheDocumentedKeys() throws {
        let result = try CLIRunner.run(["bench", "--model", model, "--iterations", "3", "--warmup", "1", "--batch", "2", "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let object = try json(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        XCTAssertEqual(object["batch"] as? Int, 2)
        XCTAssertEqual(object["threads"] as? Int, 1)
        for key in ["p50_ms", "p90_ms", "p99_ms", "gflops"] {
            XCTAssertGreaterThan(try XCTUnwrap(object[key] as? Double, key), 0, key)
        }
    }

    /// Paced passes report their interval; OpenBLAS runs kernels for this CPU, not its generic fallback
    /// (fer-live restarts itself with OPENBLAS_CORETYPE where OpenBLAS did not know the CPU).
    func testBenchPacesPassesAndRunsThisCPUsKernels() throws {
        let result = try CLIRunner.run(["bench", "--model", model, "--iterations", "3", "--warmup", "1", "--threads", "2",
                                        "--interval", "5", "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let object = try json(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        XCTAssertEqual(object["interval_ms"] as? Double, 5)
        XCTAssertEqual(object["threads"] as? Int, 2)
        let blas = try XCTUnwrap(object["blas"] as? String)
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        if ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil, cpuinfo.contains(" avx2 ") {
            XCTAssertFalse(blas.hasPrefix("OpenBLAS Prescott"), "generic kernels on an AVX2 CPU: \(blas)")
        }
    }

    func testBenchRejectsNonsense() throws {
        let result = try CLIRunner.run(["bench", "--batch", "0"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssert(result.stderr.contains("--batch"), result.stderr)
    }

    /// Values that once trapped (infinite, NaN, huge, negative) are refused by validation: one line, exit
    /// code 64, never a signal.
    func testOutOfRangeValuesAreRefusedNotTrapped() throws {
        let image = CLIRunner.fixture("gray.png"), model = CLIRunner.fixture("narrow_resnet9.safetensors")
        let cases: [[String]] = [
            ["detect", "--scale-factor", "inf", image], ["detect", "--scale-factor", "nan", image], ["detect", "--min-face", "0", image],
            ["detect", "--max-face", "-3", image], ["detect", "--min-neighbors", "99999999", image],
            ["replay", "/tmp", "--fps", "inf"], ["replay", "/tmp", "--fps", "-30"], ["replay", "/tmp", "--batch", "4611686018427387904"],
            ["replay", "/tmp", "--start", "1e15"], ["replay", "/tmp", "--duration", "1e300"], ["replay", "/tmp", "--start", "nan"],
            ["replay", "/tmp", "--start", "-1"], ["replay", "/tmp", "--duration", "inf"], ["camera", "--timeout", "1e300"],
            ["bench", "--interval", "1e300"],
            ["replay", "/tmp", "--smoothing", "nan"], ["replay", "/tmp", "--hysteresis", "-1"], ["replay", "/tmp", "--margin", "inf"],
            ["camera", "--fps", "inf"], ["camera", "--size", "99999999x480"], ["camera", "--timeout", "nan"],
            ["classify", "--batch", "0", image], ["bench", "--iterations", "-1"], ["bench", "--batch", "4611686018427387904"],
            ["evaluate", "--data", "/tmp", "--batch", "0"],
            ["train", "--data", "data", "--out", "x.safetensors", "--batch-size", "0"],
            ["train", "--data", "data", "--out", "x.safetensors", "--max-lr", "inf"],
            ["train", "--data", "data", "--out", "x.safetensors", "--dropout", "1"],
            ["train", "--data", "data", "--out", "x.safetensors", "--label-smoothing", "nan"],
        ]
        for arguments in cases {
            let run = try CLIRunner.run(arguments)
            XCTAssertFalse(run.signaled, "\(arguments): killed by signal \(run.status)")
            XCTAssertNotEqual(run.status, 0, "\(arguments) was accepted")
            XCTAssertEqual(run.status, 64, "\(arguments): \(run.stderr)")
            XCTAssert(run.stderr.hasPrefix("Error: "), "\(arguments): \(run.stderr)")
        }
        // A negative margin is a value, as documented, and the range check still names it.
        let shrink = try CLIRunner.run(["classify", "--model", model, "--margin", "-0.1", image])
        XCTAssertEqual(shrink.status, 0, shrink.stderr)
        let tooSmall = try CLIRunner.run(["replay", "/tmp", "--margin", "-0.5"])
        XCTAssertEqual(tooSmall.status, 64)
        XCTAssert(tooSmall.stderr.contains("--margin takes a fraction from -0.3"), tooSmall.stderr)
        // Checked when the model is loaded: one line, exit 1.
        let mean = try CLIRunner.run(["classify", "--model", model, "--mean", "nan", image])
        XCTAssertEqual(mean.status, 1)
        XCTAssertEqual(mean.errorLines, ["fer-live: --mean: 'nan' is not a comma-separated list of numbers"])
    }
}
