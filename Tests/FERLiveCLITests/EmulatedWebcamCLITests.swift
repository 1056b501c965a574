import FERVision
import FERWindow
import Foundation
import XCTest

/// `fer-live camera` and `devices` through the real libv4l2 and libv4lconvert, on an emulated USB webcam:
/// Tests/FakeWebcam/fake_webcam.c, compiled here and loaded with LD_PRELOAD, answers the system calls
/// for one fake device node the way a UVC driver does (MJPEG and YUYV, sizes, rate, buffer timestamps,
/// faults). No machine here has a camera or can load a kernel driver; this is the whole program above
/// the kernel. Needs a C compiler and ffmpeg (to make the frames); skips with a message without them.
final class EmulatedWebcamCLITests: XCTestCase {
    private let model = CLIRunner.fixture("narrow_resnet9.safetensors")
    // Set once in the class's setUp, before any test runs; read-only afterwards.
    nonisolated(unsafe) private static var library: String?
    nonisolated(unsafe) private static var frames: URL?
    nonisolated(unsafe) private static var root: URL?
    private var folder: URL!
    private var device: String { folder.appendingPathComponent("video9").path }

    /// Builds the emulator and the frames once: 30 frames of two FER2013 faces (happy, placed as in the
    /// face tests) on a gradient, as JPEG at 640x480 and 1280x720 and as raw YUYV at 640x480.
    override class func setUp() {
        super.setUp()
        let compiler = ["cc", "gcc", "clang"].lazy.compactMap(executableOnPath).first   // Swift's toolchain brings clang
        let ffmpeg = executableOnPath("ffmpeg")
        guard let compiler, let ffmpeg else { return }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("fer-webcam-\(UUID())")
        Self.root = root
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("FakeWebcam/fake_webcam.c").path
        let built = root.appendingPathComponent("libfakewebcam.so").path
        try? FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        guard (try? CLIRunner.run(["-shared", "-fPIC", "-O1", "-o", built, source, "-ldl"], executable: compiler))?.status == 0 else { return }
        // The frames: a moving gradient with two faces, PNG first, then converted by ffmpeg.
        let pngs = root.appendingPathComponent("png")
        try? FileManager.default.createDirectory(at: pngs, withIntermediateDirectories: true)
        let faces = faceImages()
        for index in 0..<30 {
            var pixels = (0..<(640 * 480)).map { UInt8(truncatingIfNeeded: 60 + ($0 % 640) / 8 + ($0 / 640) / 6 + index) }
            for (slot, face) in faces.prefix(2).enumerated() {
                let left = 60 + slot * 330, top = 100 + slot * 40
                for y in 0..<144 { for x in 0..<144 { pixels[(top + y) * 640 + left + x] = face[(y / 3) * 48 + x / 3] } }
            }
            try? ImageEncoder.png(ByteImage(width: 640, height: 480, pixels: pixels))
                .write(to: pngs.appendingPathComponent(String(format: "f%03d.png", index)))
        }
        let camera = root.appendingPathComponent("camera")
        // 4:2:0 JPEGs: libv4lconvert decodes 4:2:0 and 4:2:2 laid out 2x1, but ffmpeg writes its 4:2:2 as
        // 2x2 luma blocks, which libv4lconvert refuses (as it would from a camera that sent them).
        for (folder, arguments) in [("mjpg-640x480", ["-pix_fmt", "yuvj420p", "-q:v", "2"]),
                                    ("mjpg-1280x720", ["-vf", "scale=1280:720", "-pix_fmt", "yuvj420p", "-q:v", "2"]),
                                    ("yuyv-640x480", ["-c:v", "rawvideo", "-pix_fmt", "yuyv422", "-f", "image2"])] {
            let target = camera.appendingPathComponent(folder)
            try? FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
            let name = folder.hasPrefix("mjpg") ? "f%03d.jpg" : "f%03d.raw"
            _ = try? CLIRunner.run(["-loglevel", "error", "-y", "-i", pngs.appendingPathComponent("f%03d.png").path] + arguments
                                   + [target.appendingPathComponent(name).path], executable: ffmpeg)
        }
        // At 320x240, colour frames (ffmpeg's test pattern), as a colour camera sends them.
        for (folder, arguments) in [("mjpg-320x240", ["-pix_fmt", "yuvj420p", "-q:v", "2", "f%03d.jpg"]),
                                    ("yuyv-320x240", ["-c:v", "rawvideo", "-pix_fmt", "yuyv422", "-f", "image2", "f%03d.raw"])] {
            let target = camera.appendingPathComponent(folder)
            try? FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
            _ = try? CLIRunner.run(["-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=30", "-frames:v", "10"]
                                   + arguments.dropLast() + [target.appendingPathComponent(arguments.last!).path], executable: ffmpeg)
        }
        library = built
        frames = camera
    }

    private static func executableOnPath(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    override class func tearDown() {
        if let root { try? FileManager.default.removeItem(at: root) }
        super.tearDown()
    }

    /// FER2013 test faces the cascade finds (happy ones), or plain gradients when FER2013 is absent.
    private static func faceImages() -> [[UInt8]] {
        let data = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("shared/data/fer2013/test").path
        guard let test = try? ImageFolder.load(data, threads: 2), let happy = test.classNames.firstIndex(of: "happy") else {
            return [[UInt8]](repeating: (0..<2304).map { UInt8($0 % 200) }, count: 2)
        }
        return test.labels.indices.filter { test.labels[$0] == happy }.prefix(2).map { Array(test.image($0)) }
    }

    override func setUpWithError() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: CLIRunner.binary.path), "fer-live was not built")
        try XCTSkipIf(Self.library == nil, "no C compiler (cc) or no ffmpeg to make the emulated webcam: skipping")
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("fer-webcam-run-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { if let folder { try? FileManager.default.removeItem(at: folder) } }

    /// Runs fer-live with the emulated webcam at `device`, offering `formats` (subfolders of the frames).
    private func run(_ arguments: [String], formats: [String] = ["mjpg-640x480", "mjpg-1280x720", "yuyv-640x480"],
                     fault: String? = nil, log: URL? = nil, executable: String? = nil) throws -> CLIRunner.Result {
        let offered = folder.appendingPathComponent("offered-\(UUID())")
        try FileManager.default.createDirectory(at: offered, withIntermediateDirectories: true)
        for format in formats {
            try FileManager.default.createSymbolicLink(at: offered.appendingPathComponent(format), withDestinationURL: Self.frames!.appendingPathComponent(format))
        }
        var environment = ["LD_PRELOAD": Self.library!, "FAKE_WEBCAM_DEVICE": device, "FAKE_WEBCAM_FRAMES": offered.path]
        if let fault { environment["FAKE_WEBCAM_FAULT"] = fault }
        if let log { environment["FAKE_WEBCAM_LOG"] = log.path }
        return try CLIRunner.run(arguments, environment: environment, executable: executable)
    }

    private func records(_ url: URL) throws -> [[String: Any]] {
        try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    private func camera(_ extra: [String], output: URL, report: URL? = nil) -> [String] {
        ["camera", "--device", device, "--headless", "--model", model, "--output", output.path]
            + (report.map { ["--latency-report", $0.path] } ?? []) + extra
    }

    func testDevicesDescribesTheWebcamAndWhatLibv4l2Converts() throws {
        let result = try run(["devices", "--json", device])
        XCTAssertEqual(result.status, 0, result.stderr)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(object["card"] as? String, "Fake Webcam")
        XCTAssertEqual(object["capture"] as? Bool, true)
        let formats = try XCTUnwrap(object["formats"] as? [[String: Any]])
        let native = formats.filter { $0["converted"] as? Bool == false }.compactMap { $0["fourcc"] as? String }
        XCTAssertEqual(native, ["MJPG", "YUYV"])
        let yu12 = try XCTUnwrap(formats.first { $0["fourcc"] as? String == "YU12" }, "libv4l2 offers the planar YUV 4:2:0 we ask for")
        XCTAssertEqual(yu12["converted"] as? Bool, true)
        XCTAssertEqual(yu12["sizes"] as? [String], ["640x480", "1280x720"])
    }

    /// MJPEG at 640x480 and 1280x720, YUYV at 640x480: libv4l2 picks the camera format for the size and
    /// converts it; every captured frame is classified or counted as dropped. For a UVC camera libv4lconvert
    /// takes the largest size within the one asked for, and of equal sizes the format cheapest to convert.
    func testEachFormatAndSizeIsCapturedAndConverted() throws {
        for (formats, size, expected) in [(["mjpg-640x480", "mjpg-1280x720", "yuyv-640x480"], "640x480", "S_FMT YUYV 640x480"),
                                          (["mjpg-640x480", "mjpg-1280x720"], "1280x720", "S_FMT MJPG 1280x720"),
                                          (["yuyv-640x480"], "640x480", "S_FMT YUYV 640x480"),
                                          (["mjpg-640x480", "mjpg-1280x720"], "1000x700", "S_FMT MJPG 640x480")] {
            let output = folder.appendingPathComponent("out.jsonl"), report = folder.appendingPathComponent("latency.json")
            let log = folder.appendingPathComponent("driver-\(UUID()).log")
            let result = try run(camera(["--size", size, "--frames", "20"], output: output, report: report), formats: formats, log: log)
            XCTAssertEqual(result.status, 0, result.stderr)
            let driver = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            XCTAssertEqual(driver.split(separator: "\n").filter { $0.hasPrefix("S_FMT") }.last.map(String.init), expected, "\(size) from \(formats)")
            let granted = expected.split(separator: " ").last!
            XCTAssert(result.stderr.contains("\(granted) YU12 at 30 fps"), "the note says what was granted: \(result.stderr)")
            let dropped = try XCTUnwrap((JSONSerialization.jsonObject(with: Data(contentsOf: report)) as? [String: Any])?["dropped"] as? Int)
            let frames = Set(try records(output).compactMap { $0["frame"] as? Int })
            XCTAssertEqual(frames.count + dropped, 20, "every frame classified or counted as dropped")
        }
    }

    /// The rate asked for reaches the driver; the rate it grants (its only one, 30) is what is reported.
    func testFrameRateRequestAndGrant() throws {
        let output = folder.appendingPathComponent("out.jsonl"), log = folder.appendingPathComponent("driver.log")
        let result = try run(camera(["--fps", "15", "--frames", "10"], output: output), log: log)
        XCTAssertEqual(result.status, 0, result.stderr)
        let asked = try XCTUnwrap(String(contentsOf: log, encoding: .utf8).split(separator: "\n").first { $0.hasPrefix("S_PARM ") })
        let ratio = asked.dropFirst("S_PARM ".count).split(separator: "/").compactMap { Double($0) }
        XCTAssertEqual(ratio.count, 2, String(asked))
        XCTAssertEqual(ratio[0] / ratio[1], 15, accuracy: 1e-9, "asked for 15 fps: \(asked)")
        XCTAssert(result.stderr.contains("at 30 fps"), result.stderr)
    }

    /// Frames carry the driver's monotonic capture time (1/30 s apart), and latency counts from it.
    func testCaptureTimestampsDriveTheTimesAndTheLatency() throws {
        let output = folder.appendingPathComponent("out.jsonl"), report = folder.appendingPathComponent("latency.json")
        let result = try run(camera(["--frames", "30", "--crop", "center"], output: output, report: report))
        XCTAssertEqual(result.status, 0, result.stderr)
        let all = try records(output)
        let times = all.compactMap { $0["timestamp"] as? Double }, numbers = all.compactMap { $0["frame"] as? Int }
        for i in 1..<times.count {
            XCTAssertEqual((times[i] - times[i - 1]) / Double(numbers[i] - numbers[i - 1]), 1 / 30, accuracy: 0.0005, "capture interval")
        }
        let monotonic = MonotonicClock.seconds()
        XCTAssertLessThan(monotonic - times.last!, 30, "times are on the monotonic clock the driver stamps")
        XCTAssertGreaterThan(monotonic, times.last!)
        let latency = try XCTUnwrap((JSONSerialization.jsonObject(with: Data(contentsOf: report)) as? [String: Any])?["end_to_end"] as? [String: Any])
        XCTAssertGreaterThan(try XCTUnwrap(latency["p50_ms"] as? Double), 0)
        XCTAssertLessThan(try XCTUnwrap(latency["p50_ms"] as? Double), 1000)
    }

    /// What libv4lconvert decodes from the camera's MJPEG is what fer-live's own decoder makes of the same
    /// JPEG files, exactly: both are libjpeg-turbo's decode of the luma plane (libv4lconvert's YUV 4:2:0
    /// keeps it whole, our grayscale decode is that plane alone), so the probabilities agree to float
    /// printing. Compared on the same center crop, because live detection tracks faces while a replay of
    /// frames searches each one whole, so their boxes may differ by a few pixels.
    func testResultsMatchAReplayOfTheSameFrames() throws {
        let live = folder.appendingPathComponent("live.jsonl"), replayed = folder.appendingPathComponent("replay.jsonl")
        let steady = ["--smoothing", "1", "--hysteresis", "0", "--crop", "center"]
        // 24 captured for more than 8 compared: the live policy drops frames while inference is behind,
        // which a loaded machine made it do for 4 of 12 (CI, beside a training run).
        let result = try run(camera(["--frames", "24"] + steady, output: live), formats: ["mjpg-640x480"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let replay = try CLIRunner.run(["replay", Self.frames!.appendingPathComponent("mjpg-640x480").path, "--headless", "--as-fast-as-possible",
                                        "--model", model, "--output", replayed.path] + steady)
        XCTAssertEqual(replay.status, 0, replay.stderr)
        let a = try records(live), b = try records(replayed)
        let frameNumbers = Set(a.compactMap { $0["frame"] as? Int })
        XCTAssertGreaterThan(frameNumbers.count, 8)
        var compared = 0
        for record in a {
            // The emulated camera serves the folder's files in order: its frame n is file n (of 30).
            guard let frame = record["frame"] as? Int, let face = record["face"] as? Int,
                  let twin = b.first(where: { $0["frame"] as? Int == frame % 30 && $0["face"] as? Int == face }) else { continue }
            XCTAssertEqual(record["box"] as? [Int], twin["box"] as? [Int], "frame \(frame) face \(face)")
            let ours = try XCTUnwrap(record["probabilities"] as? [String: Double]), theirs = try XCTUnwrap(twin["probabilities"] as? [String: Double])
            for (name, value) in theirs { XCTAssertEqual(ours[name]!, value, accuracy: 1e-6, "frame \(frame) face \(face) \(name)") }
            compared += 1
        }
        XCTAssertGreaterThan(compared, 8)
    }

    // MARK: faults

    func testOpeningFaultsAreOneLineEach() throws {
        for (fault, expected) in [("busy", "device is busy (another program is using the camera"),
                                  ("access", "permission denied (add yourself to the video group"),
                                  ("not-capture", "cannot capture video")] {
            let result = try run(camera([], output: folder.appendingPathComponent("x.jsonl")), fault: fault)
            XCTAssertEqual(result.status, 1, fault)
            XCTAssertEqual(result.errorLines.count, 1, "\(fault): \(result.stderr)")
            XCTAssert(result.errorLines.first?.hasPrefix("fer-live: \(device): ") == true, result.stderr)
            XCTAssert(result.stderr.contains(expected), "\(fault): \(result.stderr)")
        }
        let none = try run(camera([], output: folder.appendingPathComponent("y.jsonl")), formats: [])
        XCTAssertEqual(none.status, 1)
        XCTAssertEqual(none.errorLines.count, 1, none.stderr)
        XCTAssert(none.stderr.contains(device), none.stderr)
    }

    /// EAGAIN and EINTR from DQBUF (every third call) are retried: the run is complete.
    func testTransientDequeueErrorsAreRetried() throws {
        for fault in ["eagain", "eintr"] {
            let output = folder.appendingPathComponent("\(fault).jsonl"), report = folder.appendingPathComponent("\(fault).json")
            let result = try run(camera(["--frames", "15", "--crop", "center"], output: output, report: report), fault: fault)
            XCTAssertEqual(result.status, 0, "\(fault): \(result.stderr)")
            let dropped = try XCTUnwrap((JSONSerialization.jsonObject(with: Data(contentsOf: report)) as? [String: Any])?["dropped"] as? Int)
            XCTAssertEqual(try records(output).count + dropped, 15, fault)
        }
    }

    func testAFrameThatNeverComesTimesOut() throws {
        let output = folder.appendingPathComponent("silent.jsonl")
        let result = try run(camera(["--timeout", "1"], output: output), fault: "silent")
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.errorLines.filter { $0.hasPrefix("fer-live: ") }.count, 1, result.stderr)
        XCTAssert(result.stderr.contains("no frame within 1 s"), result.stderr)
    }

    /// A corrupt MJPEG frame is libv4lconvert's error: libv4l2 drops it and hands over the next one; the
    /// gap in the driver's frame numbers names it, it is counted, and the run goes on.
    func testACorruptFrameIsSkippedAndCountedNotFatal() throws {
        let output = folder.appendingPathComponent("corrupt.jsonl"), report = folder.appendingPathComponent("corrupt.json")
        let result = try run(camera(["--frames", "12", "--crop", "center"], output: output, report: report),
                             formats: ["mjpg-640x480"], fault: "corrupt:4")
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssert(result.stderr.contains("skipped \(device) frame 4: never delivered"), result.stderr)
        XCTAssert(result.stderr.contains("(1 unreadable)"), result.stderr)
        let dropped = try XCTUnwrap((JSONSerialization.jsonObject(with: Data(contentsOf: report)) as? [String: Any])?["dropped"] as? Int)
        XCTAssertEqual(try records(output).count + dropped, 12, "12 frames delivered after the corrupt one was skipped")
    }

    /// Unplugged mid-stream: everything captured before is written, the summary printed, one line with
    /// the hint, exit 1; the recording holds every frame delivered, with its capture time.
    func testUnplugMidStreamFlushesAndSaysSo() throws {
        let output = folder.appendingPathComponent("unplug.jsonl"), report = folder.appendingPathComponent("unplug.json")
        let recording = folder.appendingPathComponent("recorded")
        let result = try run(camera(["--crop", "center", "--record", recording.path], output: output, report: report), fault: "unplug:10")
        XCTAssertEqual(result.status, 1)
        XCTAssert(result.stderr.contains("captured"), "the summary: \(result.stderr)")
        let errors = result.errorLines.filter { $0.hasPrefix("fer-live: ") }
        XCTAssertEqual(errors.count, 1, result.stderr)
        XCTAssert(errors.first?.contains("disconnected") == true, result.stderr)
        let dropped = try XCTUnwrap((JSONSerialization.jsonObject(with: Data(contentsOf: report)) as? [String: Any])?["dropped"] as? Int)
        let written = try records(output).count
        XCTAssertEqual(written + dropped, 10, "every frame before the unplug, written or counted")
        let recorded = try FrameDirectorySource(directory: recording.path)
        XCTAssertEqual(recorded.files.count, written)
        XCTAssertEqual(recorded.recordedTimestamps?.count, written)
    }

    /// Space pauses the camera for 1.5 s and space resumes it (real key presses under Xvfb). The driver
    /// keeps no frames through the pause: the first frame after it was captured after the resume (no
    /// frame is late by the pause), and the frames the camera took meanwhile are not reported as lost.
    func testPauseAndResumeShowOnlyFreshFrames() throws {
        for tool in ["/usr/bin/xvfb-run", "/usr/bin/xdotool"] {
            try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: tool), "\(tool) is not installed: skipping")
        }
        let output = folder.appendingPathComponent("pause.jsonl"), report = folder.appendingPathComponent("pause.json")
        let script = folder.appendingPathComponent("pause.sh")
        try """
            '\(CLIRunner.binary.path)' camera --device '\(device)' --model '\(model)' --crop center --output '\(output.path)' \\
                --latency-report '\(report.path)' &
            pid=$!
            window=$(timeout 30 xdotool search --sync --name fer-live | head -1)
            if [ -z "$window" ]; then echo "no window appeared"; kill "$pid"; wait "$pid"; exit 0; fi
            sleep 1
            xdotool windowfocus --sync "$window"
            xdotool key space; sleep 1.5
            xdotool key space; sleep 1
            xdotool key q
            wait "$pid"
            echo "exit: $?"
            """.write(to: script, atomically: true, encoding: .utf8)
        let result = try run(["-a", "-s", "-screen 0 1280x1024x24", "bash", script.path], formats: ["mjpg-640x480"],
                             executable: "/usr/bin/xvfb-run")
        XCTAssert(result.stdout.contains("exit: 0"), result.stdout + result.stderr)
        XCTAssertFalse(result.stderr.contains("never delivered"), "the pause was counted as lost frames: \(result.stderr)")
        let times = try records(output).compactMap { $0["timestamp"] as? Double }
        let gaps = zip(times, times.dropFirst()).map { $1 - $0 }
        XCTAssertGreaterThan(gaps.max() ?? 0, 1.2, "the pause shows as a gap in the capture times")
        // A frame kept through the pause would be late by all of it (1.5 s).
        let latency = try XCTUnwrap((JSONSerialization.jsonObject(with: Data(contentsOf: report)) as? [String: Any])?["end_to_end"] as? [String: Any])
        XCTAssertLessThan(try XCTUnwrap(latency["max_ms"] as? Double), 1000, "a frame from before the pause was shown after it")
    }

    /// The window under Xvfb on the emulated camera: a screenshot with the face boxes.
    /// A colour camera (MJPEG, YUYV) is recorded in colour, and with --gray in gray: the colour planes
    /// libv4l2 delivers are kept.
    func testColourCameraIsRecordedInColour() throws {
        for (format, gray) in [("mjpg-320x240", false), ("yuyv-320x240", false), ("mjpg-320x240", true)] {
            let output = folder.appendingPathComponent("out-\(UUID()).jsonl"), recording = folder.appendingPathComponent("camera-\(UUID()).mkv")
            let result = try run(camera(["--size", "320x240", "--frames", "5", "--record", recording.path] + (gray ? ["--gray"] : []),
                                        output: output), formats: [format])
            XCTAssertEqual(result.status, 0, result.stderr)
            let source = try VideoFileSource(path: recording.path, color: true)
            let frame = try XCTUnwrap(try source.nextFrame(), "\(format): the recording has frames")
            if gray {
                XCTAssertNil(frame.chroma, "--gray records gray")
            } else {
                let chroma = try XCTUnwrap(frame.chroma, "\(format) recorded in colour")
                XCTAssertGreaterThan(chroma.v.filter { abs(Int($0) - 128) > 20 }.count, chroma.v.count / 4, "\(format): the test pattern's colour")
            }
        }
    }

    func testWindowShowsTheEmulatedCamera() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/bin/xvfb-run"), "xvfb-run is not installed: skipping")
        let shot = folder.appendingPathComponent("camera.png")
        let result = try run(["-a", "-s", "-screen 0 1280x1024x24", CLIRunner.binary.path, "camera", "--device", device, "--model", model,
                              "--screenshot", shot.path, "--frames", "5"], executable: "/usr/bin/xvfb-run")
        XCTAssertEqual(result.status, 0, result.stderr)
        let image = try ImageDecoder.decode(contentsOf: shot.path)
        let layout = OverlayLayout(frameWidth: 640, frameHeight: 480, classCount: 7, faceSlots: 3)
        XCTAssertEqual([image.width, image.height], [layout.canvasWidth, layout.canvasHeight])
    }
}
