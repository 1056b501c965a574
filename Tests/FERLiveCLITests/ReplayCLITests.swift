import FERVision
import Foundation
import XCTest

/// `fer-live replay` as a user runs it.
final class ReplayCLITests: XCTestCase {
    private let model = CLIRunner.fixture("narrow_resnet9.safetensors")
    private var folder: URL!
    private var frames: URL { folder.appendingPathComponent("frames") }

    override func setUpWithError() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: CLIRunner.binary.path), "fer-live was not built")
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("fer-replay-\(UUID())")
        try FileManager.default.createDirectory(at: frames, withIntermediateDirectories: true)
        var random = SplitMix64(seed: 9)
        // Frames of two sizes, gray and color, named so that string order and natural order differ.
        for i in 0..<12 {
            let (width, height, channels) = i % 3 == 0 ? (80, 60, 3) : (64, 64, 1)
            let image = ByteImage(width: width, height: height, channels: channels,
                                  pixels: (0..<width * height * channels).map { _ in UInt8(truncatingIfNeeded: random.next()) })
            try ImageEncoder.png(image).write(to: frames.appendingPathComponent("frame\(i).png"))
        }
    }

    override func tearDownWithError() throws { if let folder { try? FileManager.default.removeItem(at: folder) } }

    private func lines(_ path: URL) throws -> [[String: Any]] {
        try String(contentsOf: path, encoding: .utf8).split(separator: "\n").map { line in
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not JSON: \(line)")
        }
    }

    /// One frame at a time, replay and classify run the same code on the same pixels: identical output.
    /// Batched, OpenBLAS's kernels for other matrix widths may round the last bit differently.
    func testReplayGivesWhatClassifyGives() throws {
        let files = (0..<12).map { frames.appendingPathComponent("frame\($0).png").path }
        let classify = try CLIRunner.run(["classify", "--json", "--crop", "center", "--no-flip", "--batch", "1", "--model", model] + files)
        let direct = try classify.stdoutLines.map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        for batch in [1, 4] {
            let output = folder.appendingPathComponent("out\(batch).jsonl")
            let replay = try CLIRunner.run(["replay", frames.path, "--crop", "center", "--headless", "--model", model, "--as-fast-as-possible", "--smoothing", "1", "--hysteresis", "0",
                                            "--batch", String(batch), "--output", output.path])
            XCTAssertEqual(replay.status, 0, replay.stderr)
            XCTAssert(replay.stderr.contains("end_to_end"), "no latency summary: \(replay.stderr)")
            let records = try lines(output)
            XCTAssertEqual(records.map { $0["file"] as? String }, (0..<12).map { "frame\($0).png" }, "natural order, every frame")
            for (record, expected) in zip(records, direct) {
                XCTAssertEqual(record["label"] as? String, expected["label"] as? String)
                let ours = try XCTUnwrap(record["probabilities"] as? [String: Double])
                let theirs = try XCTUnwrap(expected["probabilities"] as? [String: Double])
                if batch == 1 {
                    XCTAssertEqual(ours, theirs, "batch 1 must be identical")
                } else {
                    for (name, value) in theirs { XCTAssertEqual(ours[name]!, value, accuracy: 1e-6, name) }
                }
            }
            for key in ["frame", "timestamp", "box", "confidence", "latency_ms"] { XCTAssertNotNil(records[0][key], key) }
            XCTAssertEqual(records[0]["box"] as? [Int], [10, 0, 60, 60], "center square of an 80x60 frame")
        }
    }

    func testLatencyReportAndCSVOutput() throws {
        let report = folder.appendingPathComponent("latency.json"), csv = folder.appendingPathComponent("out.csv")
        let plot = folder.appendingPathComponent("latency.svg")
        let result = try CLIRunner.run(["replay", frames.path, "--crop", "center", "--headless", "--model", model, "--fps", "100",
                                        "--output", csv.path, "--latency-report", report.path, "--latency-plot", plot.path])
        XCTAssertEqual(result.status, 0, result.stderr)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: report)) as? [String: Any])
        for stage in ["capture", "detect", "preprocess", "inference", "end_to_end"] {
            let entry = try XCTUnwrap(object[stage] as? [String: Any], stage)
            for key in ["count", "p50_ms", "p90_ms", "p99_ms", "max_ms"] { XCTAssertNotNil(entry[key], "\(stage).\(key)") }
        }
        XCTAssertEqual(object["dropped"] as? Int, 0)
        XCTAssertNotNil(object["fps"])
        let rows = try String(contentsOf: csv, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(rows.count, 13)
        XCTAssert(rows[0].hasPrefix("frame,file,timestamp,faces,face,box_x"), String(rows[0]))
        XCTAssertEqual(Set(rows.map { $0.split(separator: ",", omittingEmptySubsequences: false).count }).count, 1, "every row as wide as the header")
        XCTAssert(try String(contentsOf: plot, encoding: .utf8).hasPrefix("<svg"))
        // The shown label's changes: counted in the report and the summary, per minute of the stream
        // (12 frames at 100 fps: 0.11 s between the first and the last).
        let header = rows[0].split(separator: ",").map(String.init), labelColumn = try XCTUnwrap(header.firstIndex(of: "label"))
        let labels = rows.dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false)[labelColumn] }
        let changes = zip(labels, labels.dropFirst()).filter { $0 != $1 }.count
        XCTAssertEqual(object["label_switches"] as? Int, changes)
        XCTAssertEqual(try XCTUnwrap(object["switches_per_minute"] as? Double), Double(changes) / 0.11 * 60, accuracy: 1e-6)
        XCTAssert(result.stderr.contains("labels changed \(changes) times"), result.stderr)
    }

    /// A replay of the test frames, looping at 200 fps until it is stopped, started in the background.
    private func loopingReplay(_ extra: [String], errors: Pipe? = nil) throws -> Process {
        let process = Process()
        process.executableURL = CLIRunner.binary
        process.arguments = ["replay", frames.path, "--crop", "center", "--headless", "--model", model, "--loop", "--fps", "200"] + extra
        if let errors { process.standardError = errors } else { process.standardError = FileHandle.nullDevice }
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        return process
    }

    func testSIGINTLeavesValidCompleteOutput() throws {
        let output = folder.appendingPathComponent("out.jsonl")
        let errors = Pipe()
        let process = try loopingReplay(["--output", output.path], errors: errors)
        // Until it has looped twice (a fixed wait failed on a loaded machine, where start-up took most of it).
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, ((try? String(contentsOf: output, encoding: .utf8)) ?? "").split(separator: "\n").count <= 30 {
            Thread.sleep(forTimeInterval: 0.05)
        }
        process.interrupt()   // SIGINT, as Ctrl-C sends
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, stderr)
        let records = try lines(output)   // every line parses: none cut in half
        XCTAssertGreaterThan(records.count, 24, "looped at least twice")
        XCTAssertEqual(records.map { $0["frame"] as? Int }, records.indices.map { $0 }, "no frame lost or repeated")
        XCTAssert(stderr.contains("stopped \(records.count) frames"), stderr)
    }

    /// A SIGTERM at any moment of start-up never leaves a half-made file: either the process ended before
    /// it created any output (the usual status, 143, or the signal itself in its first milliseconds), or
    /// the run stopped cleanly: exit 0 with a complete latency report and whole output lines.
    func testSIGTERMDuringStartUpNeverLeavesHalfMadeFiles() throws {
        var clean = 0
        for delay in [0.005, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5] {
            let report = folder.appendingPathComponent("latency-\(delay).json"), output = folder.appendingPathComponent("out-\(delay).jsonl")
            let process = Process()
            process.executableURL = CLIRunner.binary
            process.arguments = ["replay", frames.path, "--crop", "center", "--headless", "--model", model, "--loop", "--fps", "200",
                                 "--output", output.path, "--latency-report", report.path]
            process.standardError = FileHandle.nullDevice
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            Thread.sleep(forTimeInterval: delay)
            process.terminate()   // SIGTERM
            process.waitUntilExit()
            let made = FileManager.default.fileExists(atPath: report.path) || FileManager.default.fileExists(atPath: output.path)
            guard made else {
                XCTAssert(process.terminationReason == .uncaughtSignal || process.terminationStatus == 143, "after \(delay) s")
                continue
            }
            clean += 1
            XCTAssertEqual(process.terminationReason, .exit, "after \(delay) s")
            XCTAssertEqual(process.terminationStatus, 0, "after \(delay) s")
            let object = try JSONSerialization.jsonObject(with: Data(contentsOf: report)) as? [String: Any]
            XCTAssertNotNil(object?["end_to_end"], "latency report after \(delay) s")
            _ = try lines(output)
        }
        XCTAssertGreaterThan(clean, 0, "some signal arrived after the outputs were opened")
    }

    /// Ctrl-C twice: the second exits at once (130) if the clean stop has not finished; either way every
    /// line written is whole.
    func testSecondSIGINTExitsAtOnce() throws {
        let output = folder.appendingPathComponent("twice.jsonl")
        let process = try loopingReplay(["--output", output.path])
        Thread.sleep(forTimeInterval: 1)
        process.interrupt()
        process.interrupt()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .exit)
        XCTAssert([0, 130].contains(process.terminationStatus), "\(process.terminationStatus)")
        XCTAssertGreaterThan(try lines(output).count, 0)
    }

    /// A second Ctrl-C ends the process before the MP4's trailer is written: the annotated video is a
    /// fragmented MP4, so it still plays up to its last whole fragment (a plain MP4 without its index
    /// does not play at all).
    func testSecondSIGINTDuringAnnotateLeavesAPlayableVideo() throws {
        let ffprobe = ["/usr/bin/ffprobe", "/usr/local/bin/ffprobe"].first { FileManager.default.isExecutableFile(atPath: $0) }
        try XCTSkipIf(ffprobe == nil, "ffprobe is not installed (apt-get install ffmpeg)")
        let video = folder.appendingPathComponent("cut-short.mp4"), output = folder.appendingPathComponent("cut-short.jsonl")
        let process = try loopingReplay(["--annotate", video.path, "--output", output.path])
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, ((try? String(contentsOf: output, encoding: .utf8)) ?? "").split(separator: "\n").count < 150 {
            Thread.sleep(forTimeInterval: 0.05)
        }
        process.interrupt()
        process.interrupt()
        process.waitUntilExit()
        let probe = try CLIRunner.run(["-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries", "stream=nb_read_frames",
                                       "-of", "csv=p=0", video.path], executable: ffprobe)
        XCTAssertEqual(probe.status, 0, probe.stderr)
        // Fragments end at keyframes, which x264 also puts at the loop's cuts: how many frames the last whole
        // fragment holds varies, but without the fragments nothing would decode at all.
        XCTAssertGreaterThan(Int(probe.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0, 0,
                             "the frames up to the last whole fragment play: \(probe.stdout) \(probe.stderr)")
    }

    /// The run's own summary and timeline, and `report` rebuilding both from its JSON Lines and CSV outputs.
    func testTimelineAndSummaryFromTheRunAndFromItsOutput() throws {
        let jsonl = folder.appendingPathComponent("out.jsonl"), csv = folder.appendingPathComponent("out.csv")
        let chart = folder.appendingPathComponent("timeline.svg"), summary = folder.appendingPathComponent("summary.json")
        let run = try CLIRunner.run(["replay", frames.path, "--crop", "center", "--headless", "--model", model, "--fps", "100",
                                     "--output", jsonl.path, "--timeline", chart.path, "--summary", summary.path])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssert(run.stderr.contains("face 0: 0.0-0.1 s, "), run.stderr)
        XCTAssert(try String(contentsOf: chart, encoding: .utf8).hasPrefix("<svg"))
        let own = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: summary)) as? [String: Any])
        let faces = try XCTUnwrap(own["faces"] as? [[String: Any]])
        XCTAssertEqual(faces.count, 1)
        XCTAssertEqual(faces[0]["frames"] as? Int, 12)
        XCTAssertEqual(own["duration_s"] as? Double ?? 0, 0.11, accuracy: 1e-9)
        let shares = try XCTUnwrap(faces[0]["share_of_time"] as? [String: Double])
        XCTAssertEqual(shares.values.reduce(0, +), 1, accuracy: 1e-9)
        // Each face's shown labels, frame by frame, decide its shares: count them from the output.
        let labels = try lines(jsonl).compactMap { $0["label"] as? String }
        for (name, share) in shares { XCTAssertEqual(share, Double(labels.filter { $0 == name }.count) / 12, accuracy: 1e-9, name) }

        XCTAssertEqual(try CLIRunner.run(["replay", frames.path, "--crop", "center", "--headless", "--model", model, "--fps", "100",
                                          "--output", csv.path]).status, 0)
        for results in [jsonl, csv] {
            let rebuilt = folder.appendingPathComponent("rebuilt.json")
            let report = try CLIRunner.run(["report", results.path, "--summary", rebuilt.path, "--timeline", folder.appendingPathComponent("r.svg").path])
            XCTAssertEqual(report.status, 0, report.stderr)
            let again = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: rebuilt)) as? [String: Any])
            let face = try XCTUnwrap((again["faces"] as? [[String: Any]])?.first)
            XCTAssertEqual(face["frames"] as? Int, 12, results.lastPathComponent)
            for (name, share) in shares {
                XCTAssertEqual((face["share_of_time"] as? [String: Double])?[name] ?? -1, share, accuracy: 1e-9, "\(results.lastPathComponent) \(name)")
            }
        }
        let bad = try CLIRunner.run(["report", frames.appendingPathComponent("frame0.png").path])
        XCTAssertEqual(bad.status, 1)
        XCTAssertEqual(bad.errorLines.count, 1, bad.stderr)
    }

    func testRecordingReplaysTheSameWay() throws {
        let recording = folder.appendingPathComponent("recording"), first = folder.appendingPathComponent("a.jsonl")
        let second = folder.appendingPathComponent("b.jsonl")
        XCTAssertEqual(try CLIRunner.run(["replay", frames.path, "--crop", "center", "--headless", "--model", model, "--fps", "100",
                                          "--output", first.path, "--record", recording.path]).status, 0)
        XCTAssert(FileManager.default.fileExists(atPath: recording.appendingPathComponent("timestamps.csv").path))
        let again = try CLIRunner.run(["replay", recording.path, "--crop", "center", "--headless", "--model", model, "--output", second.path])
        XCTAssertEqual(again.status, 0, again.stderr)
        let a = try lines(first), b = try lines(second)
        XCTAssertEqual(a.map { $0["probabilities"] as? [String: Double] }, b.map { $0["probabilities"] as? [String: Double] })
        XCTAssertEqual(a.map { $0["timestamp"] as? Double }, b.map { $0["timestamp"] as? Double }, "recorded timestamps replayed")
    }

    /// A lossless video recording (FFV1 in Matroska) replays to exactly the run's results and times; a
    /// frame of another size than the recording's is refused in one line naming the file.
    func testRecordingToAVideoReplaysTheSameWay() throws {
        let sameSize = folder.appendingPathComponent("same-size")
        try FileManager.default.createDirectory(at: sameSize, withIntermediateDirectories: true)
        var random = SplitMix64(seed: 4)
        for i in 0..<12 {
            let image = ByteImage(width: 72, height: 54, channels: 1, pixels: (0..<72 * 54).map { _ in UInt8(truncatingIfNeeded: random.next()) })
            try ImageEncoder.png(image).write(to: sameSize.appendingPathComponent("frame\(i).png"))
        }
        let video = folder.appendingPathComponent("session.mkv"), first = folder.appendingPathComponent("live.jsonl")
        let second = folder.appendingPathComponent("again.jsonl")
        let run = try CLIRunner.run(["replay", sameSize.path, "--crop", "center", "--headless", "--model", model, "--fps", "50",
                                     "--output", first.path, "--record", video.path])
        XCTAssertEqual(run.status, 0, run.stderr)
        let again = try CLIRunner.run(["replay", video.path, "--crop", "center", "--headless", "--model", model, "--output", second.path])
        XCTAssertEqual(again.status, 0, again.stderr)
        let a = try lines(first), b = try lines(second)
        XCTAssertEqual(a.count, 12)
        XCTAssertEqual(a.map { $0["probabilities"] as? [String: Double] }, b.map { $0["probabilities"] as? [String: Double] }, "bit for bit")
        for (x, y) in zip(a, b) {
            XCTAssertEqual(x["timestamp"] as? Double ?? -1, y["timestamp"] as? Double ?? -2, accuracy: 0.0005, "times kept to the millisecond")
        }
        let mixed = try CLIRunner.run(["replay", frames.path, "--crop", "center", "--headless", "--model", model, "--as-fast-as-possible",
                                       "--record", folder.appendingPathComponent("mixed.mkv").path])
        XCTAssertEqual(mixed.status, 1)
        XCTAssert(mixed.errorLines.last?.contains("mixed.mkv: frame 1 is 64x64, the recording 80x60") == true, mixed.stderr)
    }

    func testBadInputs() throws {
        let missing = try CLIRunner.run(["replay", folder.appendingPathComponent("nope").path, "--headless", "--model", model])
        XCTAssertEqual(missing.status, 1)
        XCTAssert(missing.stderr.contains("no such file"), missing.stderr)

        let empty = folder.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        let none = try CLIRunner.run(["replay", empty.path, "--headless", "--model", model])
        XCTAssertEqual(none.status, 1)
        XCTAssert(none.stderr.contains("holds no frames"), none.stderr)

        let unwritable = try CLIRunner.run(["replay", frames.path, "--crop", "center", "--headless", "--model", model, "--output", "/proc/nope/out.jsonl"])
        XCTAssertEqual(unwritable.status, 1)
        XCTAssert(unwritable.stderr.contains("/proc/nope/out.jsonl"), unwritable.stderr)
        XCTAssertFalse(unwritable.stderr.contains("replayed"), "must fail before replaying")

        // A capture time no stream can hold (it made a paced replay wait for ever): one line naming the file
        // and line, exit 1, and no output begun.
        let timed = folder.appendingPathComponent("timed")
        try FileManager.default.copyItem(at: frames, to: timed)
        let rows = (0..<12).map { "frame\($0).png,\($0 == 5 ? "1e300" : String(Double($0) / 30))" }
        try Data((["file,timestamp_s"] + rows).joined(separator: "\n").utf8).write(to: timed.appendingPathComponent("timestamps.csv"))
        let timedOutput = folder.appendingPathComponent("timed.jsonl")
        let huge = try CLIRunner.run(["replay", timed.path, "--crop", "center", "--headless", "--model", model, "--output", timedOutput.path])
        XCTAssertEqual(huge.status, 1, huge.stderr)
        XCTAssertEqual(huge.errorLines, ["fer-live: \(timed.path)/timestamps.csv: line 7: 1e+300 s is beyond +-10^12 s, the longest stream time fer-live handles"])
        // A valid but hours-long gap is paced as at most FramePipeline.maximumPacedGap: the replay ends.
        let gap = (0..<12).map { "frame\($0).png,\($0 < 11 ? String(Double($0) / 30) : "1e9")" }
        try Data((["file,timestamp_s"] + gap).joined(separator: "\n").utf8).write(to: timed.appendingPathComponent("timestamps.csv"))
        let started = Date()
        let paced = try CLIRunner.run(["replay", timed.path, "--crop", "center", "--headless", "--model", model, "--output", timedOutput.path])
        XCTAssertEqual(paced.status, 0, paced.stderr)
        XCTAssertEqual(try lines(timedOutput).count, 12)
        XCTAssertLessThan(Date().timeIntervalSince(started), FramePipeline.maximumPacedGap + 30)

        try Data("broken".utf8).write(to: frames.appendingPathComponent("frame5.png"))
        let output = folder.appendingPathComponent("out.jsonl")
        let corrupt = try CLIRunner.run(["replay", frames.path, "--crop", "center", "--headless", "--model", model, "--as-fast-as-possible", "--output", output.path])
        XCTAssertEqual(corrupt.status, 0, corrupt.stderr)
        XCTAssert(corrupt.stderr.contains("frame5.png") && corrupt.stderr.contains("1 unreadable"), corrupt.stderr)
        XCTAssertEqual(try lines(output).count, 11)
    }
}
