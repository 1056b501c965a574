import Foundation
import XCTest

/// The fuzz targets' seed corpora and every input a fuzzing run found (Tests/Fuzz/regressions, kept
/// once fixed) go through the corpus runner, `fer-fuzz`, built without libFuzzer: each must end in a
/// parse or a refusal, never a crash.
final class FuzzCorpusTests: XCTestCase {
    private static let fuzz = CLIRunner.binary.deletingLastPathComponent().appendingPathComponent("fer-fuzz")
    private static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz")

    func testEverySeedAndEveryFoundInputIsParsedOrRefused() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: Self.fuzz.path), "fer-fuzz was not built")
        var runs = 0
        for target in ["safetensors", "pickle", "cascade", "image", "video"] {
            let inputs = ["corpus", "regressions"].flatMap { kind -> [String] in
                let folder = Self.root.appendingPathComponent("\(kind)/\(target)")
                let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
                return names.sorted().map { folder.appendingPathComponent($0).path }
            }
            XCTAssertFalse(inputs.isEmpty, "\(target) has no seeds")
            let result = try CLIRunner.run([target] + inputs, executable: Self.fuzz.path)
            XCTAssertEqual(result.status, 0, "\(target): \(result.stderr)")
            let lines = result.stdout.split(separator: "\n")
            XCTAssertEqual(lines.count, inputs.count, "\(target): one line per input:\n\(result.stdout)")
            // The seeds are valid files: each parses.
            for line in lines where line.contains("/corpus/") { XCTAssertFalse(line.contains("refused"), String(line)) }
            runs += inputs.count
        }
        XCTAssertGreaterThan(runs, 4)
    }
}
