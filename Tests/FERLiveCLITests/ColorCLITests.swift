import FERVision
import FERWindow
import Foundation
import XCTest

/// The picture in colour: sources add each frame's colour without changing the gray the pipeline reads,
/// recordings keep it and replay bit for bit, the window (under Xvfb) and annotated videos show it, and
/// `--gray` keeps the gray look. Colour clips are made with the `ffmpeg` command (skipped where it is not
/// installed).
final class ColorCLITests: XCTestCase {
    private let model = CLIRunner.fixture("narrow_resnet9.safetensors")
    private var folder: URL!

    override func setUpWithError() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: CLIRunner.binary.path), "fer-live was not built")
        try XCTSkipIf(FFmpegCommand.ffmpeg == nil, "ffmpeg is not installed (apt-get install ffmpeg): skipping the colour tests")
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("fer-color-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { if let folder { try? FileManager.default.removeItem(at: folder) } }

    private func make(_ name: String, _ arguments: [String]) throws -> String {
        try FFmpegCommand.make(name, arguments, in: folder)
    }

    /// A moving colour test pattern of `frames` frames, encoded with `codec` (testsrc: it keeps odd sizes).
    private func colorClip(_ name: String, size: String = "96x72", frames: Int = 8, codec: [String]) throws -> String {
        try make(name, ["-f", "lavfi", "-i", "testsrc=size=\(size):rate=10", "-frames:v", String(frames)] + codec)
    }

    static let blocksWidth = 320, blocksHeight = 240

    /// Colour blocks of 16x16 pixels (4:2:0 keeps their colour exactly), each a random colour that YUV
    /// holds without clipping: 4 identical frames as PNGs, and as an FFV1 video in 4:2:0 made from them by
    /// ffmpeg. Returns the directory, the video, and the frames' RGB (what every view must show).
    private func colorBlocks() throws -> (directory: String, video: String, rgb: [UInt8]) {
        let directory = folder.appendingPathComponent("blocks")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var random = SplitMix64(seed: 25)
        let (width, height) = (Self.blocksWidth, Self.blocksHeight)
        let colors = (0..<(width / 16) * (height / 16)).map { _ in (0..<3).map { _ in UInt8(40 + random.next() % 176) } }
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width { for c in 0..<3 { rgb[3 * (y * width + x) + c] = colors[(y / 16) * (width / 16) + x / 16][c] } }
        }
        let png = try ImageEncoder.png(ByteImage(width: width, height: height, channels: 3, pixels: rgb))
        for i in 0..<4 { try png.write(to: directory.appendingPathComponent("frame\(i).png")) }
        // Point sampling: ffmpeg's default filter would spread each block's colour into its neighbours'.
        let video = try make("blocks.mkv", ["-framerate", "10", "-i", directory.appendingPathComponent("frame%d.png").path,
                                            "-sws_flags", "neighbor", "-c:v", "ffv1", "-pix_fmt", "yuv420p"])
        return (directory.path, video, rgb)
    }

    /// Every frame of `path` as the source delivers it.
    private func frames(_ path: String, color: Bool) throws -> [Frame] {
        let source = try VideoFileSource(path: path, threads: 1, color: color)
        var frames: [Frame] = []
        while let frame = try source.nextFrame() { frames.append(frame) }
        return frames
    }

    /// One frame of `path` as RGB, converted by ffmpeg itself.
    private func referenceRGB(_ path: String, frame: Int) throws -> [UInt8] {
        let raw = try make("reference-\(UUID()).rgb", ["-i", path, "-vf", "select=eq(n\\,\(frame))", "-frames:v", "1", "-f", "rawvideo",
                                                       "-pix_fmt", "rgb24"])
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: raw)))
    }

    private func replay(_ inputs: [String], _ extra: [String]) throws -> [[String: Any]] {
        let output = folder.appendingPathComponent("out-\(UUID()).jsonl")
        let run = try CLIRunner.run(["replay"] + inputs + ["--headless", "--as-fast-as-possible", "--crop", "center", "--model", model,
                                                            "--output", output.path] + extra)
        XCTAssertEqual(run.status, 0, run.stderr)
        return try String(contentsOf: output, encoding: .utf8).split(separator: "\n").map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    private func probabilities(_ records: [[String: Any]]) -> [[String: Double]?] {
        records.map { $0["probabilities"] as? [String: Double] }
    }

    /// Whatever the pixel format (4:2:0 from a camera-like codec, 4:2:2, 4:4:4, RGB, JPEG's full range,
    /// a file marked full range, an odd size, gray), the gray delivered with colour is the gray delivered
    /// without it, and the colour is there exactly when the file has colour.
    func testColourNeverChangesTheGray() throws {
        let clips: [(name: String, codec: [String], hasColor: Bool)] = [
            ("mpeg4-420.mp4", ["-c:v", "mpeg4", "-q:v", "3", "-pix_fmt", "yuv420p"], true),
            ("ffv1-422.mkv", ["-c:v", "ffv1", "-pix_fmt", "yuv422p"], true),
            ("ffv1-444.mkv", ["-c:v", "ffv1", "-pix_fmt", "yuv444p"], true),
            ("ffv1-rgb.mkv", ["-c:v", "ffv1", "-pix_fmt", "bgr0"], true),
            ("mjpeg-full.avi", ["-c:v", "mjpeg", "-q:v", "3", "-pix_fmt", "yuvj420p"], true),
            ("ffv1-420-full.mkv", ["-c:v", "ffv1", "-pix_fmt", "yuv420p", "-color_range", "pc"], true),
            ("ffv1-gray.mkv", ["-c:v", "ffv1", "-pix_fmt", "gray"], false),
        ]
        for clip in clips {
            let path = try colorClip(clip.name, codec: clip.codec)
            let gray = try frames(path, color: false), color = try frames(path, color: true)
            XCTAssertEqual(gray.count, 8, clip.name)
            XCTAssertEqual(gray.map(\.image), color.map(\.image), "\(clip.name): the gray is the same with colour")
            XCTAssert(gray.allSatisfy { $0.chroma == nil }, "\(clip.name): no colour unless asked")
            XCTAssertEqual(color.allSatisfy { $0.chroma != nil }, clip.hasColor, clip.name)
            if let chroma = color.first?.chroma {
                XCTAssertEqual([chroma.width, chroma.height], [48, 36], clip.name)
                XCTAssertGreaterThan(chroma.u.filter { abs(Int($0) - 128) > 20 }.count, chroma.u.count / 4, "\(clip.name) has colour")
            }
        }
        // An odd size: the colour covers the last row and column.
        let odd = try colorClip("odd.mkv", size: "97x71", frames: 2, codec: ["-c:v", "ffv1", "-pix_fmt", "yuv444p"])
        let oddFrames = try frames(odd, color: true)
        XCTAssertEqual(oddFrames.map(\.image), try frames(odd, color: false).map(\.image))
        XCTAssertEqual(oddFrames.first.flatMap { $0.chroma.map { [$0.width, $0.height] } }, [49, 36])
    }

    /// A run recorded in colour (a lossless video, a PNG directory) replays to exactly the run's results,
    /// and so does one recorded with --gray (the gray FFV1 earlier versions wrote).
    func testColourRecordingsReplayBitForBit() throws {
        let clip = try colorClip("clip.mp4", frames: 12, codec: ["-c:v", "mpeg4", "-q:v", "3", "-pix_fmt", "yuv420p"])
        let video = folder.appendingPathComponent("session.mkv").path, pictures = folder.appendingPathComponent("session").path
        let grayVideo = folder.appendingPathComponent("gray.mkv").path
        let live = try replay([clip], ["--record", video])
        XCTAssertEqual(live.count, 12)
        XCTAssertEqual(probabilities(try replay([clip], ["--record", pictures])), probabilities(live))
        XCTAssertEqual(probabilities(try replay([clip], ["--record", grayVideo, "--gray"])), probabilities(live))

        let probes = try [video, grayVideo].map { path in
            try CLIRunner.run(["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=codec_name,pix_fmt,color_range",
                               "-of", "csv=p=0", path], executable: FFmpegCommand.ffprobe).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        XCTAssertEqual(probes, ["ffv1,yuv420p,pc", "ffv1,gray,unknown"], "colour in full range, and gray as earlier versions wrote")
        let png = try ImageDecoder.decode(contentsOf: "\(pictures)/frame000000.png")
        XCTAssertEqual(png.channels, 3, "the PNGs are in colour")

        for recording in [video, pictures, grayVideo] {
            XCTAssertEqual(probabilities(try replay([recording], [])), probabilities(live), "\(recording) replays bit for bit")
            XCTAssertEqual(probabilities(try replay([recording], ["--record", folder.appendingPathComponent("again-\(UUID()).mkv").path])),
                           probabilities(live), "\(recording) replayed with colour")
        }
    }

    /// Under Xvfb, the window shows a colour video and a colour frame directory in colour: the picture
    /// area's pixels are the frames' RGB within a few levels, where a gray picture would be off by far more.
    /// --gray shows them gray.
    func testWindowShowsTheFrameInColour() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/bin/xvfb-run"),
                          "xvfb-run is not installed (apt-get install xvfb): the window tests need a virtual display")
        let blocks = try colorBlocks()
        for (input, gray) in [(blocks.video, false), (blocks.directory, false), (blocks.video, true)] {
            let shot = folder.appendingPathComponent("shot-\(UUID()).png").path, output = folder.appendingPathComponent("shot-\(UUID()).jsonl")
            let run = try CLIRunner.run(["-a", "-s", "-screen 0 1280x1024x24", CLIRunner.binary.path, "replay", input, "--model", model,
                                         "--crop", "center", "--screenshot", shot, "--frames", "3", "--output", output.path]
                                            + (gray ? ["--gray"] : []), executable: "/usr/bin/xvfb-run")
            XCTAssertEqual(run.status, 0, run.stderr)
            let box = try XCTUnwrap(try String(contentsOf: output, encoding: .utf8).split(separator: "\n").first.flatMap {
                (try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["box"] as? [Int]
            })
            let layout = OverlayLayout(frameWidth: Self.blocksWidth, frameHeight: Self.blocksHeight, classCount: 7)
            let match = compare(try ImageDecoder.decode(contentsOf: shot), at: layout.frame, with: blocks.rgb, outside: box)
            if gray {
                XCTAssertLessThan(match.colorful, 0.01, "--gray shows no colour")
            } else {
                XCTAssertGreaterThan(match.colorful, 0.5, "\(input) is shown in colour")
                XCTAssertLessThan(match.meanError, 1, "\(input): the picture's RGB is the frames'")
                XCTAssertGreaterThan(match.withinTolerance, 0.999, "\(input): every pixel within 4 levels of the frames'")
            }
        }
    }

    /// --annotate writes the frames in colour, and with --gray in gray.
    func testAnnotatedVideoIsInColour() throws {
        let blocks = try colorBlocks()
        for gray in [false, true] {
            let annotated = folder.appendingPathComponent("annotated-\(gray).mp4").path
            let box = try XCTUnwrap(try replay([blocks.video], ["--annotate", annotated] + (gray ? ["--gray"] : [])).first?["box"] as? [Int])
            let layout = OverlayLayout(frameWidth: Self.blocksWidth, frameHeight: Self.blocksHeight, classCount: 7)
            let canvas = ByteImage(width: layout.canvasWidth, height: layout.canvasHeight, channels: 3, pixels: try referenceRGB(annotated, frame: 1))
            let match = compare(canvas, at: layout.frame, with: blocks.rgb, outside: box)
            if gray {
                XCTAssertLessThan(match.colorful, 0.02, "--gray annotates in gray")
            } else {
                XCTAssertGreaterThan(match.colorful, 0.5, "the annotated frame is in colour")
                // H.264 at its default quality adds its own error at the blocks' edges.
                XCTAssertLessThan(match.meanError, 5, "the annotated picture's RGB is the frames'")
            }
        }
    }

    /// How `image`'s picture area (the frame drawn 1:1 at `rect`) compares with `reference` (the frame's
    /// RGB) inside its colour blocks, leaving out 3 pixels either side of `box`'s outline (drawn over the picture): mean absolute
    /// error per sample, the share of pixels within 4 levels on every channel, and the share of pixels
    /// with colour (channels more than 40 levels apart).
    private func compare(_ image: ByteImage, at rect: PixelRect, with reference: [UInt8],
                         outside box: [Int]) -> (meanError: Double, withinTolerance: Double, colorful: Double) {
        let (width, height) = (Self.blocksWidth, Self.blocksHeight)
        func inside(_ x: Int, _ y: Int, margin: Int) -> Bool {
            x >= box[0] - margin && x < box[0] + box[2] + margin && y >= box[1] - margin && y < box[1] + box[3] + margin
        }
        var error = 0, within = 0, colorful = 0, count = 0
        for y in 0..<height {
            // The renderer samples the half-size colour planes bilinearly, which blends two blocks' colours
            // over the pixel either side of their border (as a real picture's colour should be): borders are
            // left out, the blocks' insides are compared.
            for x in 0..<width where !(inside(x, y, margin: 3) && !inside(x, y, margin: -3)) && ![0, 15].contains(x % 16) && ![0, 15].contains(y % 16) {
                let i = ((rect.y + y) * image.width + rect.x + x) * 3, j = (y * width + x) * 3
                let seen = (0..<3).map { Int(image.pixels[i + $0]) }, expected = (0..<3).map { Int(reference[j + $0]) }
                let differences = (0..<3).map { abs(seen[$0] - expected[$0]) }
                error += differences.reduce(0, +)
                if differences.allSatisfy({ $0 <= 4 }) { within += 1 }
                if seen.max()! - seen.min()! > 40 { colorful += 1 }
                count += 1
            }
        }
        return (Double(error) / Double(3 * count), Double(within) / Double(count), Double(colorful) / Double(count))
    }
}
