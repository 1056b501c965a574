import Foundation
import XCTest

/// `fer-live analyze` on short clips the tests make with ffmpeg (skipped with a message where it is not
/// installed): stopped halfway and run again it finishes without redoing anything and writes what an
/// uninterrupted run writes; damaged inputs are recorded and the others finish; shards and jobs give the
/// same results as one run; a changed input is redone; other settings are refused.
final class AnalyzeCLITests: XCTestCase {
    private let model = CLIRunner.fixture("narrow_resnet9.safetensors")
    private var folder: URL!

    override func setUpWithError() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: CLIRunner.binary.path), "fer-live was not built")
        try XCTSkipIf(FFmpegCommand.ffmpeg == nil, "ffmpeg is not installed (apt-get install ffmpeg): skipping the analyze tests")
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("fer-analyze-\(UUID())")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("clips/day2"), withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { if let folder { try? FileManager.default.removeItem(at: folder) } }

    private func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    /// A clip of `frames` frames of ffmpeg's test pattern, its content varied by `seed`.
    @discardableResult
    private func clip(_ name: String, frames: Int = 30, seed: Int = 0) throws -> String {
        let run = try CLIRunner.run(["-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=96x72:rate=10", "-frames:v", String(frames),
                                     "-vf", "hue=h=\(seed * 40),noise=alls=\(10 + seed):allf=t+u", "-c:v", "mpeg4", "-q:v", "3", "-pix_fmt", "yuv420p",
                                     "-movflags", "+faststart", path(name)], executable: FFmpegCommand.ffmpeg)
        XCTAssertEqual(run.status, 0, "ffmpeg: \(run.stderr)")
        return path(name)
    }

    /// Eight clips, two of them in a subfolder.
    private func clips() throws {
        for index in 0..<6 { try clip("clips/c\(index).mp4", seed: index) }
        for index in 6..<8 { try clip("clips/day2/c\(index).mp4", seed: index) }
    }

    private func analyze(_ arguments: [String], into out: String, replay: [String] = ["--crop", "center"]) throws -> CLIRunner.Result {
        try CLIRunner.run(["analyze"] + arguments + ["--out", out, "--model", model, "--threads", "1", "--"] + replay)
    }

    private func manifest(_ out: String) throws -> [[String: Any]] {
        try String(contentsOfFile: out + "/manifest.jsonl", encoding: .utf8).split(separator: "\n").map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    /// The result files of a folder (manifest and settings aside), by name, with their bytes.
    private func results(_ out: String) throws -> [String: Data] {
        var found: [String: Data] = [:]
        let enumerator = FileManager.default.enumerator(atPath: out)!
        while let name = enumerator.nextObject() as? String {
            if name.hasPrefix(".work") { continue }
            guard name.hasSuffix(".jsonl") || name.hasSuffix(".json"), name != "manifest.jsonl", name != "settings.json" else { continue }
            found[name] = try Data(contentsOf: URL(fileURLWithPath: out + "/" + name))
        }
        return found
    }

    func testStoppedHalfwayAndRunAgainFinishesWithoutRedoingAnyInputAndWritesWhatOneRunWrites() throws {
        try clips()
        let whole = try analyze([path("clips")], into: path("whole"))
        XCTAssertEqual(whole.status, 0, whole.stderr)
        let expected = try results(path("whole"))
        XCTAssertEqual(expected.count, 16, "a records file and a summary per clip: \(expected.keys.sorted())")
        XCTAssertNotNil(expected["day2/c6.mp4.jsonl"], "results keep the input's folders")
        let records = try String(decoding: XCTUnwrap(expected["c0.mp4.jsonl"]), as: UTF8.self).split(separator: "\n")
        XCTAssertEqual(records.count, 30, "a record per frame")
        XCTAssertFalse(records[0].contains("latency_ms"), "no field that differs from run to run")

        // Ctrl-C once two inputs are done.
        let out = path("stopped")
        let process = Process()
        process.executableURL = CLIRunner.binary
        process.arguments = ["analyze", path("clips"), "--out", out, "--model", model, "--threads", "1", "--", "--crop", "center"]
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline, ((try? manifest(out)) ?? []).count < 2 { Thread.sleep(forTimeInterval: 0.02) }
        process.interrupt()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 130, "stopped before the end")
        let doneBefore = try manifest(out).count
        XCTAssertGreaterThanOrEqual(doneBefore, 2)
        XCTAssertLessThan(doneBefore, 8, "the run was stopped halfway")
        XCTAssertEqual(try results(out).count, doneBefore * 2, "only whole results in place")

        let again = try analyze([path("clips")], into: out)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssert(again.stderr.contains("\(8 - doneBefore) done now, \(doneBefore) done before"), again.stderr)
        let entries = try manifest(out)
        XCTAssertEqual(entries.count, 8, "each input done exactly once")
        XCTAssertEqual(Set(entries.compactMap { $0["input"] as? String }).count, 8)
        XCTAssert(entries.allSatisfy { $0["state"] as? String == "done" && ($0["sha256"] as? String)?.count == 64 })
        XCTAssertEqual(try results(out), expected, "the same bytes as the uninterrupted run")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: out + "/.work").filter { $0 != "locks" }
        XCTAssertEqual(leftovers, [], "no scratch left behind")
    }

    func testDamagedInputsAreRecordedAndTheOthersFinish() throws {
        try clip("clips/a.mp4", seed: 1)
        try clip("clips/b.mp4", seed: 2)
        let whole = try Data(contentsOf: URL(fileURLWithPath: try clip("long.mp4", frames: 60, seed: 3)))
        try whole.prefix(whole.count * 6 / 10).write(to: URL(fileURLWithPath: path("clips/cut.mp4")))
        try Data("not a video".utf8).write(to: URL(fileURLWithPath: path("clips/notes.mp4")))
        let out = path("out")
        let run = try analyze([path("clips")], into: out)
        XCTAssertEqual(run.status, 1, "an input failed: \(run.stderr)")
        XCTAssert(run.stderr.contains("2 done now, 0 done before, 2 failed"), run.stderr)
        let entries = Dictionary(uniqueKeysWithValues: try manifest(out).map { ($0["input"] as! String, $0) })
        XCTAssertEqual(entries["a.mp4"]?["state"] as? String, "done")
        XCTAssertEqual(entries["b.mp4"]?["state"] as? String, "done")
        XCTAssertEqual(entries["notes.mp4"]?["state"] as? String, "failed")
        XCTAssert((entries["notes.mp4"]?["reason"] as? String)?.contains("not a video") == true, "\(entries["notes.mp4"] ?? [:])")
        XCTAssertEqual(entries["cut.mp4"]?["state"] as? String, "failed")
        XCTAssert((entries["cut.mp4"]?["reason"] as? String)?.contains("damaged after frame") == true, "\(entries["cut.mp4"] ?? [:])")
        XCTAssertEqual(entries["cut.mp4"]?["outputs"] as? [String], ["cut.mp4.jsonl", "cut.mp4.summary.json"], "the frames before the damage are kept")
        XCTAssertEqual(try results(out).count, 6)

        // Run again: the failed inputs are tried again, the done ones are not.
        let again = try analyze([path("clips")], into: out)
        XCTAssertEqual(again.status, 1)
        XCTAssert(again.stderr.contains("0 done now, 2 done before, 2 failed"), again.stderr)
    }

    func testShardsAndJobsWriteWhatOneRunWrites() throws {
        try clips()
        let one = try analyze([path("clips")], into: path("one"))
        XCTAssertEqual(one.status, 0, one.stderr)
        for index in 1...3 {
            let part = try analyze([path("clips"), "--shard", "\(index)/3"], into: path("shards"))
            XCTAssertEqual(part.status, 0, part.stderr)
            XCTAssert(part.stderr.contains("analyzed \(index == 3 ? 2 : 3) inputs"), part.stderr)
        }
        let jobs = try analyze([path("clips"), "--jobs", "2"], into: path("jobs"))
        XCTAssertEqual(jobs.status, 0, jobs.stderr)
        let expected = try results(path("one"))
        XCTAssertEqual(try results(path("shards")), expected)
        XCTAssertEqual(try results(path("jobs")), expected)
        XCTAssertEqual(try manifest(path("shards")).count, 8)
    }

    func testAChangedInputIsRedoneAndOtherSettingsAreRefused() throws {
        try clips()
        let out = path("out")
        XCTAssertEqual(try analyze([path("clips")], into: out).status, 0)
        let before = try results(out)
        try clip("clips/c3.mp4", frames: 20, seed: 9)   // new contents
        let touched = path("clips/c4.mp4")   // same contents, new time
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(60)], ofItemAtPath: touched)
        let again = try analyze([path("clips")], into: out)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssert(again.stderr.contains("1 done now, 7 done before"), again.stderr)
        let after = try results(out)
        XCTAssertNotEqual(after["c3.mp4.jsonl"], before["c3.mp4.jsonl"])
        XCTAssertEqual(String(decoding: after["c3.mp4.jsonl"]!, as: UTF8.self).split(separator: "\n").count, 20)
        XCTAssertEqual(after["c4.mp4.jsonl"], before["c4.mp4.jsonl"])

        let other = try analyze([path("clips")], into: out, replay: ["--crop", "center", "--flip"])
        XCTAssertEqual(other.status, 1)
        XCTAssertEqual(other.errorLines.count, 1, other.stderr)
        XCTAssert(other.stderr.contains("holds results made with other settings"), other.stderr)
    }

    /// A folder begun under other defaults (here the box margin of 0.1, the default until 2026-12-06) is
    /// refused, not finished with results of a second kind.
    func testAFolderBegunUnderOtherDefaultsIsRefused() throws {
        try clip("clips/c0.mp4")
        let out = path("out")
        XCTAssertEqual(try analyze([path("clips")], into: out, replay: []).status, 0)
        let settings = out + "/settings.json"
        let recorded = try String(contentsOfFile: settings, encoding: .utf8)
        XCTAssert(recorded.contains(#""replay_defaults":{"framing":"box","margin":0.05,"#), recorded)
        try recorded.replacingOccurrences(of: #""margin":0.05"#, with: #""margin":0.1"#).write(toFile: settings, atomically: true, encoding: .utf8)
        try clip("clips/c1.mp4", seed: 1)
        let again = try analyze([path("clips")], into: out, replay: [])
        XCTAssertEqual(again.status, 1)
        XCTAssert(again.stderr.contains("holds results made with other settings"), again.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/c1.mp4.jsonl"), "nothing was added to the folder")
    }

    func testAListOfInputsWithAMissingOne() throws {
        try clip("clips/a.mp4", seed: 1)
        try clip("clips/b.mp4", seed: 2)
        try "# the batch\nclips/a.mp4\n\nclips/gone.mp4\nclips/b.mp4\n".write(toFile: path("inputs.txt"), atomically: true, encoding: .utf8)
        let out = path("out")
        let run = try analyze([path("inputs.txt")], into: out)
        XCTAssertEqual(run.status, 1, run.stderr)
        XCTAssert(run.stderr.contains("analyzed 3 inputs"), run.stderr)
        let entries = try manifest(out)
        XCTAssertEqual(entries.filter { $0["state"] as? String == "done" }.count, 2)
        XCTAssert(entries.contains { $0["input"] as? String == "gone.mp4" && ($0["reason"] as? String)?.hasSuffix("no such file") == true },
                  "\(entries)")
        let missing = try analyze([path("nowhere")], into: path("out2"))
        XCTAssertEqual(missing.status, 1)
        XCTAssertEqual(missing.errorLines, ["fer-live: \(path("nowhere")): no such file or folder"])
    }
}
