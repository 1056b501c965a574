import Foundation
import XCTest

/// `fer-live replay` on video files the tests make with the `ffmpeg` command (skipped with a message
/// where it is not installed): frame counts and presentation times, variable frame rate, several files,
/// part of a file, and files that are damaged, silent or not video at all.
final class VideoReplayCLITests: XCTestCase {
    private let model = CLIRunner.fixture("narrow_resnet9.safetensors")
    private var folder: URL!

    override func setUpWithError() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: CLIRunner.binary.path), "fer-live was not built")
        try XCTSkipIf(FFmpegCommand.ffmpeg == nil, "ffmpeg is not installed (apt-get install ffmpeg): skipping the video tests")
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("fer-video-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { if let folder { try? FileManager.default.removeItem(at: folder) } }

    private func make(_ name: String, _ arguments: [String]) throws -> String {
        try FFmpegCommand.make(name, arguments, in: folder)
    }

    /// A test pattern of `frames` frames at `rate` fps.
    private func pattern(_ name: String, frames: Int, rate: Int, codec: [String] = ["-c:v", "mpeg4", "-q:v", "3"]) throws -> String {
        try make(name, ["-f", "lavfi", "-i", "testsrc=size=96x72:rate=\(rate)", "-frames:v", String(frames)] + codec + ["-pix_fmt", "yuv420p"])
    }

    private func replay(_ inputs: [String], _ extra: [String] = []) throws -> (CLIRunner.Result, [[String: Any]]) {
        let output = folder.appendingPathComponent("out-\(UUID()).jsonl")
        let run = try CLIRunner.run(["replay"] + inputs + ["--headless", "--as-fast-as-possible", "--crop", "center", "--model", model,
                                                            "--output", output.path] + extra)
        let records = (try? String(contentsOf: output, encoding: .utf8))?.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        } ?? []
        return (run, records)
    }

    func testEveryFrameWithItsPresentationTime() throws {
        let video = try pattern("cfr.mp4", frames: 25, rate: 10)
        let (run, records) = try replay([video])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(records.compactMap { $0["frame"] as? Int }, Array(0..<25))
        for (i, record) in records.enumerated() {
            XCTAssertEqual(record["timestamp"] as? Double ?? -1, Double(i) / 10, accuracy: 1e-6, "frame \(i)")
            XCTAssertEqual(record["file"] as? String, video)
        }
    }

    /// Frame n at n * n * 10 ms (intervals from 10 to 210 ms): each frame keeps its own time, as ffprobe
    /// reads it.
    func testVariableFrameRateKeepsEachFramesTime() throws {
        let video = try make("vfr.mkv", ["-f", "lavfi", "-i", "testsrc=size=96x72:rate=20", "-frames:v", "12",
                                         "-vf", "settb=1/1000,setpts='N*N*10'", "-fps_mode", "passthrough", "-enc_time_base", "1/1000",
                                         "-c:v", "ffv1"])
        let (run, records) = try replay([video])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(records.count, 12)
        for (n, record) in records.enumerated() {
            XCTAssertEqual(record["timestamp"] as? Double ?? -1, Double(n * n) * 0.01, accuracy: 1e-6, "frame \(n)")
        }
    }

    func testSeveralFilesAndPartOfAFile() throws {
        let first = try pattern("a.mp4", frames: 10, rate: 10), second = try pattern("b.mkv", frames: 5, rate: 5, codec: ["-c:v", "ffv1"])
        let (run, records) = try replay([first, second])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(records.compactMap { $0["file"] as? String }, Array(repeating: first, count: 10) + Array(repeating: second, count: 5))
        XCTAssertEqual(records.compactMap { $0["frame"] as? Int }, Array(0..<15), "frames are numbered through")
        XCTAssertEqual(records[10]["timestamp"] as? Double, 0, "each file's times start at its own beginning")
        let (part, partRecords) = try replay([first], ["--start", "0.3", "--duration", "0.4"])
        XCTAssertEqual(part.status, 0, part.stderr)
        XCTAssertEqual(partRecords.compactMap { $0["timestamp"] as? Double }.map { ($0 * 10).rounded() }, [3, 4, 5, 6])
    }

    /// 300 inputs in one command under a 64-descriptor limit: each is opened when its turn comes and closed
    /// at its end (opened all at once, they ran out of descriptors and decoder threads).
    func testThreeHundredInputsUnderALowDescriptorLimit() throws {
        let video = try pattern("one.mp4", frames: 2, rate: 10)
        let inputs = try (0..<300).map { index -> String in
            let copy = folder.appendingPathComponent("input\(index).mp4").path
            try FileManager.default.copyItem(atPath: video, toPath: copy)
            return copy
        }
        let output = folder.appendingPathComponent("many.jsonl").path
        let command = (["ulimit -n 64 && exec \"$0\" \"$@\"", CLIRunner.binary.path, "replay"] + inputs
                       + ["--headless", "--as-fast-as-possible", "--crop", "center", "--model", model, "--output", output])
        let run = try CLIRunner.run(["-c"] + command, executable: "/bin/bash")
        XCTAssertEqual(run.status, 0, run.stderr)
        let lines = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 600, "two frames of each of the 300 inputs")
        XCTAssert(lines.last?.contains("input299.mp4") == true)
    }

    /// A start or length past anything a stream can hold is refused by validation in one line (it trapped
    /// converting to FFmpeg's ticks); a start past this file's end plays nothing and is no error.
    func testHugeStartIsRefusedAndAStartPastTheEndPlaysNothing() throws {
        let video = try pattern("short.mp4", frames: 10, rate: 10)
        let (huge, hugeRecords) = try replay([video], ["--start", "1e15"])
        XCTAssertFalse(huge.signaled, huge.stderr)
        XCTAssertEqual(huge.status, 64, huge.stderr)
        XCTAssert(huge.stderr.hasPrefix("Error: --start: "), huge.stderr)
        XCTAssert(hugeRecords.isEmpty)
        let (late, lateRecords) = try replay([video], ["--start", "1e11"])
        XCTAssertEqual(late.status, 0, late.stderr)
        XCTAssert(lateRecords.isEmpty)
    }

    /// Several inputs recorded into one video keep the run's times: the second file continues one frame
    /// after the first instead of being squeezed 1 ms apart, so the recording replays as the run went.
    func testRecordingOfSeveralInputsKeepsTheRunsTimes() throws {
        let first = try pattern("a.mp4", frames: 10, rate: 10), second = try pattern("b.mp4", frames: 5, rate: 5)
        let recording = folder.appendingPathComponent("both.mkv").path
        let (run, records) = try replay([first, second], ["--record", recording])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(records.count, 15)
        let (again, replayed) = try replay([recording])
        XCTAssertEqual(again.status, 0, again.stderr)
        let times = replayed.compactMap { $0["timestamp"] as? Double }
        XCTAssertEqual(times.count, 15)
        // 0.0 ... 0.9 s at 10 fps, then 1.0, 1.2, ... 1.8 s at 5 fps.
        let expected = (0..<10).map { Double($0) / 10 } + (0..<5).map { 1.0 + Double($0) / 5 }
        for (time, want) in zip(times, expected) { XCTAssertEqual(time, want, accuracy: 0.002) }
    }

    /// A file cut short: the frames before the cut are classified and written, then one line names the
    /// file and what the container declared that the file no longer holds; exit 1. FFmpeg's demuxers end
    /// each of these with a plain end of file: an mp4's index, an avi's frame count and a Matroska
    /// file's DURATION tag are what tell.
    func testTruncatedFileDeliversWhatItHasThenSaysSo() throws {
        let containers: [(String, [String], String)] = [
            ("mp4", ["-c:v", "mpeg4", "-q:v", "3", "-movflags", "+faststart"], "its index goes on to byte"),
            ("avi", ["-c:v", "mpeg4", "-q:v", "3"], "cut short: "),   // the index or the header's frame count, by where the cut falls
            ("mkv", ["-c:v", "ffv1"], "s its header declares"),
        ]
        for (container, codec, reason) in containers {
            let whole = try pattern("whole.\(container)", frames: 40, rate: 10, codec: codec)
            let (intact, all) = try replay([whole])
            XCTAssertEqual(intact.status, 0, "\(container): \(intact.stderr)")
            XCTAssertEqual(all.count, 40, container)
            let bytes = try Data(contentsOf: URL(fileURLWithPath: whole))
            let cut = folder.appendingPathComponent("cut.\(container)").path
            try bytes.prefix(bytes.count * 6 / 10).write(to: URL(fileURLWithPath: cut))
            let (run, records) = try replay([cut])
            XCTAssertEqual(run.status, 1, container)
            let errors = run.errorLines.filter { $0.hasPrefix("fer-live: ") }
            XCTAssertEqual(errors.count, 1, run.stderr)
            XCTAssert(errors.first?.hasPrefix("fer-live: \(cut): damaged after frame \(records.count) (cut short: ") == true, run.stderr)
            XCTAssert(errors.first?.contains(reason) == true, "\(container): \(run.stderr)")
            XCTAssertGreaterThan(records.count, 5, container)
            XCTAssertLessThan(records.count, 40, container)
            XCTAssertEqual(records.compactMap { $0["frame"] as? Int }, Array(0..<records.count), "every frame before the damage, in order")
        }
    }

    func testFilesWithoutVideoAreOneLineErrors() throws {
        let audio = try make("tone.m4a", ["-f", "lavfi", "-i", "sine=frequency=440:duration=1"])
        let text = folder.appendingPathComponent("notes.mp4").path
        try Data("not a video at all".utf8).write(to: URL(fileURLWithPath: text))
        for (path, reason) in [(audio, "has no video stream"), (text, "not a video FFmpeg can read"),
                               (folder.appendingPathComponent("missing.mp4").path, "no such file")] {
            let (run, records) = try replay([path])
            XCTAssertEqual(run.status, 1)
            XCTAssertEqual(run.errorLines.count, 1, run.stderr)
            XCTAssert(run.errorLines.first?.hasPrefix("fer-live: \(path): \(reason)") == true, run.stderr)
            XCTAssert(records.isEmpty)
        }
    }

    /// --annotate writes a video of every frame as the window draws it, headless (no display at all).
    func testAnnotatedVideoHasEveryFrameWithoutADisplay() throws {
        let video = try pattern("source.mp4", frames: 20, rate: 10)
        let annotated = folder.appendingPathComponent("annotated.mp4").path
        let run = try CLIRunner.run(["replay", video, "--headless", "--as-fast-as-possible", "--model", model, "--annotate", annotated],
                                    environment: ["DISPLAY": "", "WAYLAND_DISPLAY": ""])
        XCTAssertEqual(run.status, 0, run.stderr)
        let probe = try CLIRunner.run(["-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                                       "stream=codec_name,nb_read_frames,width,height", "-of", "csv=p=0", annotated],
                                      executable: FFmpegCommand.ffprobe)
        let fields = probe.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ",")
        XCTAssertEqual(fields.last, "20", "every frame: \(probe.stdout) \(probe.stderr)")
        XCTAssert(["h264", "mpeg4"].contains(fields.first ?? ""), probe.stdout)
        // The canvas holds the frame and the panel: wider than the 96-pixel frame.
        XCTAssertGreaterThan(Int(fields.dropFirst().first ?? "") ?? 0, 96)
    }
}

