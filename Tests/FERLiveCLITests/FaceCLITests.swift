import FERVision
import FERWindow
import Foundation
import XCTest

/// Face detection as a user meets it: `fer-live detect`, and replay with several faces per frame, in
/// the output and in the window. Frames carry FER2013 test faces (../shared/data; skipped where absent).
final class FaceCLITests: XCTestCase {
    private let model = CLIRunner.fixture("narrow_resnet9.safetensors")
    private var folder: URL!
    private var frames: URL { folder.appendingPathComponent("frames") }
    /// Where the two faces of frame 0 are (frame 1 has none).
    private let placed = [PixelRect(x: 60, y: 100, width: 144, height: 144), PixelRect(x: 400, y: 160, width: 144, height: 144)]

    override func setUpWithError() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: CLIRunner.binary.path), "fer-live was not built")
        try XCTSkipIf(CascadeFiles.locate() == nil, "no face cascade (apt-get install opencv-data): skipping")
        let data = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("shared/data/fer2013/test").path
        try XCTSkipUnless(FileManager.default.fileExists(atPath: data), "FER2013 is not at \(data): skipping")
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("fer-faces-\(UUID())")
        try FileManager.default.createDirectory(at: frames, withIntermediateDirectories: true)
        // Two happy faces, each pixel tripled (144 px), on a gray frame with mild noise; then a frame without.
        // The faces are ones the cascade finds at those places (it misses about a quarter of FER2013's):
        // these tests are about what happens to found faces.
        let test = try ImageFolder.load(data, threads: 2)
        let happy = test.classNames.firstIndex(of: "happy")!
        var random = SplitMix64(seed: 5)
        let background = (0..<(640 * 480)).map { _ in UInt8(100 + Int(random.next() % 24)) }
        func placing(_ index: Int, at box: PixelRect, into pixels: inout [UInt8]) {
            let face = Array(test.image(index))
            for y in 0..<box.height { for x in 0..<box.width { pixels[(box.y + y) * 640 + box.x + x] = face[(y / 3) * 48 + x / 3] } }
        }
        let finder = FaceFinder(detector: try CascadeDetector(contentsOf: CascadeFiles.locate()!))
        var pixels = background, candidates = test.labels.indices.filter { test.labels[$0] == happy }.makeIterator()
        for box in placed {
            while let index = candidates.next() {
                var trial = background
                placing(index, at: box, into: &trial)
                if finder.faces(in: ByteImage(width: 640, height: 480, pixels: trial)).contains(where: { $0.overlap(with: box) >= 0.5 }) {
                    placing(index, at: box, into: &pixels)
                    break
                }
            }
        }
        let empty = background
        try ImageEncoder.png(ByteImage(width: 640, height: 480, pixels: pixels)).write(to: frames.appendingPathComponent("frame0.png"))
        try ImageEncoder.png(ByteImage(width: 640, height: 480, pixels: empty)).write(to: frames.appendingPathComponent("frame1.png"))
    }

    override func tearDownWithError() throws { if let folder { try? FileManager.default.removeItem(at: folder) } }

    private func records(_ url: URL) throws -> [[String: Any]] {
        try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    private func box(_ record: [String: Any]) -> PixelRect? {
        (record["box"] as? [Int]).map { PixelRect(x: $0[0], y: $0[1], width: $0[2], height: $0[3]) }
    }

    func testDetectPrintsEachFace() throws {
        let run = try CLIRunner.run(["detect", "--json", frames.appendingPathComponent("frame0.png").path, frames.appendingPathComponent("frame1.png").path])
        XCTAssertEqual(run.status, 0, run.stderr)
        let lines = run.stdoutLines.map { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let found = (lines[0]?["faces"] as? [[String: Any]])?.compactMap { ($0["box"] as? [Int]).map { PixelRect(x: $0[0], y: $0[1], width: $0[2], height: $0[3]) } }
        XCTAssertEqual(found?.count, 2, run.stdout)
        for face in placed { XCTAssert(found?.contains { $0.overlap(with: face) >= 0.3 } == true, "\(face) not in \(found ?? [])") }
        XCTAssertEqual((lines[1]?["faces"] as? [Any])?.count, 0)
    }

    func testReplayWritesARecordPerFaceAndSaysWhenThereIsNone() throws {
        let output = folder.appendingPathComponent("faces.jsonl")
        let run = try CLIRunner.run(["replay", frames.path, "--headless", "--model", model, "--output", output.path])
        XCTAssertEqual(run.status, 0, run.stderr)
        let all = try records(output)
        let first = all.filter { $0["frame"] as? Int == 0 }, second = all.filter { $0["frame"] as? Int == 1 }
        XCTAssertEqual(first.count, 2)
        XCTAssertEqual(Set(first.compactMap { $0["face"] as? Int }), [0, 1])
        XCTAssertEqual(first.compactMap { $0["faces"] as? Int }, [2, 2])
        for face in placed {
            XCTAssert(first.contains { box($0).map { $0.overlap(with: face) >= 0.3 } ?? false }, "\(face) not classified")
        }
        XCTAssertEqual(second.count, 1)
        XCTAssertEqual(second.first?["faces"] as? Int, 0)
        XCTAssert(second.first?["label"] is NSNull, "no made-up label: \(second)")
        XCTAssert(run.stderr.contains("detect"), "the detect stage is in the summary")
    }

    func testBrokenCascadeFallsBackToTheCenterWithAWarning() throws {
        let broken = folder.appendingPathComponent("broken.xml")
        try "<opencv_storage><cascade><stageType>BOOST</stageType>".write(to: broken, atomically: true, encoding: .utf8)
        let output = folder.appendingPathComponent("center.jsonl")
        let run = try CLIRunner.run(["replay", frames.path, "--headless", "--model", model, "--cascade", broken.path, "--output", output.path])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssert(run.stderr.contains("warning: \(broken.path): not well-formed XML") && run.stderr.contains("center square"), run.stderr)
        XCTAssertEqual(try records(output).compactMap { $0["face"] as? Int }, [0, 0], "one center crop per frame")
        let detect = try CLIRunner.run(["detect", "--cascade", broken.path, frames.appendingPathComponent("frame0.png").path])
        XCTAssertEqual(detect.status, 1)
        XCTAssertEqual(detect.errorLines, ["fer-live: \(broken.path): not well-formed XML: the file ends inside <cascade> (truncated?)"])

        // A byte that is not UTF-8 in an element name once trapped inside FoundationXML (found by fuzzing).
        var bytes = Data("<opencv_storage><cascade><featureType>HAAR<".utf8)
        bytes.append(0xEE)
        bytes.append(contentsOf: Data("/featureType></cascade></opencv_storage>".utf8))
        try bytes.write(to: broken)
        let binary = try CLIRunner.run(["detect", "--cascade", broken.path, frames.appendingPathComponent("frame0.png").path])
        XCTAssertFalse(binary.signaled, binary.stderr)
        XCTAssertEqual(binary.status, 1)
        XCTAssertEqual(binary.errorLines, ["fer-live: \(broken.path): not UTF-8 text (byte 43 is not part of a UTF-8 character)"])
    }

    func testWindowShowsEveryFaceWithItsOwnBars() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/bin/xvfb-run"), "xvfb-run is not installed: skipping")
        let shot = folder.appendingPathComponent("faces.png"), output = folder.appendingPathComponent("window.jsonl")
        let run = try CLIRunner.run(["-a", "-s", "-screen 0 1280x1024x24", CLIRunner.binary.path, "replay", frames.path, "--model", model,
                                     "--screenshot", shot.path, "--frames", "1", "--output", output.path], executable: "/usr/bin/xvfb-run")
        XCTAssertEqual(run.status, 0, run.stderr)
        let image = try ImageDecoder.decode(contentsOf: shot.path)
        let layout = OverlayLayout(frameWidth: 640, frameHeight: 480, classCount: 7, faceSlots: 3)
        XCTAssertEqual([image.width, image.height], [layout.canvasWidth, layout.canvasHeight])
        func pixel(_ x: Int, _ y: Int) -> [UInt8] { Array(image.pixels[((y * image.width + x) * 3)...].prefix(3)) }
        let faces = try records(output).filter { $0["frame"] as? Int == 0 }.sorted { ($0["face"] as! Int) < ($1["face"] as! Int) }
        XCTAssertEqual(faces.count, 2)
        for (slot, record) in faces.enumerated() {
            let outline = layout.onCanvas(try XCTUnwrap(box(record)))
            XCTAssertEqual(pixel(outline.x, outline.y + outline.height / 2), [OverlayColors.box.0, OverlayColors.box.1, OverlayColors.box.2])
            let probabilities = try XCTUnwrap(record["probabilities"] as? [String: Double])
            for (index, name) in ModelMetadata.fer2013ClassNames.enumerated() {
                let track = layout.track(index, slot: slot), y = track.y + track.height / 2
                var length = 0
                while length < track.width, pixel(track.x + length, y) != [OverlayColors.track.0, OverlayColors.track.1, OverlayColors.track.2] {
                    length += 1
                }
                XCTAssertEqual(Double(length), probabilities[name]! * Double(track.width), accuracy: 2, "face \(slot) \(name)")
            }
        }
    }

    /// A photo larger than a face crop is searched: one record per face with its box (two faces placed
    /// off-center here), and a photo without a face gets no label.
    func testClassifyFindsEachFaceInAPhotoAndNamesNoneWhenThereIsNone() throws {
        let photo = frames.appendingPathComponent("frame0.png").path, empty = frames.appendingPathComponent("frame1.png").path
        let run = try CLIRunner.run(["classify", "--json", "--model", model, photo, empty])
        XCTAssertEqual(run.status, 0, run.stderr)
        let lines = try run.stdoutLines.map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        let faces = lines.filter { $0["file"] as? String == photo }
        XCTAssertEqual(faces.count, 2, run.stdout)
        XCTAssertEqual(faces.compactMap { $0["faces"] as? Int }, [2, 2])
        XCTAssertEqual(faces.compactMap { $0["face"] as? Int }, [0, 1])
        for face in placed {
            XCTAssert(faces.contains { box($0).map { $0.overlap(with: face) >= 0.3 } ?? false }, "\(face) not classified: \(run.stdout)")
        }
        let none = lines.filter { $0["file"] as? String == empty }
        XCTAssertEqual(none.count, 1)
        XCTAssertEqual(none.first?["faces"] as? Int, 0)
        XCTAssert(none.first?["label"] is NSNull, "no made-up label")
        let text = try CLIRunner.run(["classify", "--model", model, empty])
        XCTAssertEqual(text.stdoutLines, ["\(empty): no face found"])
        // The old way, on request: the center square, whatever is there.
        let center = try CLIRunner.run(["classify", "--json", "--crop", "center", "--model", model, empty])
        XCTAssertEqual(center.stdoutLines.count, 1)
        XCTAssertNotNil((try JSONSerialization.jsonObject(with: Data(center.stdoutLines[0].utf8)) as? [String: Any])?["label"] as? String)
    }

    /// With the shipped model, each placed happy face (FER2013 test faces, off-center in a 640x480 photo)
    /// is labelled happy, in either framing; the whole photo's center square, which holds no face, is not
    /// what is classified.
    func testClassifyLabelsOffCenterFacesWithTheShippedModel() throws {
        let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("models/\(DefaultModel.fileName)").path
        try XCTSkipUnless(FileManager.default.fileExists(atPath: shipped), "no shipped model: skipping")
        for framing in ["box", "aligned"] {
            let run = try CLIRunner.run(["classify", "--json", "--model", shipped, "--framing", framing, frames.appendingPathComponent("frame0.png").path])
            XCTAssertEqual(run.status, 0, run.stderr)
            let labels = run.stdoutLines.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["label"] as? String }
            XCTAssertEqual(labels, ["happy", "happy"], "\(framing): \(run.stdout)")
        }
    }

    /// Frames whose faces jump from place to place (unrelated frames): lossless replay finds in every
    /// frame exactly the faces `detect` finds with the same search (no tracking shortcut loses one).
    func testLosslessReplayFindsWhatDetectFinds() throws {
        let data = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("shared/data/fer2013/test").path
        let test = try ImageFolder.load(data, threads: 2)
        let jumping = folder.appendingPathComponent("jumping")
        try FileManager.default.createDirectory(at: jumping, withIntermediateDirectories: true)
        var random = SplitMix64(seed: 11)
        for frame in 0..<8 {
            var pixels = (0..<(640 * 480)).map { _ in UInt8(100 + Int(random.next() % 24)) }
            for slot in 0..<2 {
                // Each face somewhere else in every frame: left half, then right half.
                let x = slot * 320 + Int(random.next() % 150), y = Int(random.next() % 320)
                let face = Array(test.image(Int(random.next() % UInt64(test.count))))
                for dy in 0..<144 { for dx in 0..<144 { pixels[(y + dy) * 640 + x + dx] = face[(dy / 3) * 48 + dx / 3] } }
            }
            try ImageEncoder.png(ByteImage(width: 640, height: 480, pixels: pixels)).write(to: jumping.appendingPathComponent("frame\(frame).png"))
        }
        let files = (0..<8).map { jumping.appendingPathComponent("frame\($0).png").path }
        let detect = try CLIRunner.run(["detect", "--json", "--search-width", "320"] + files)
        XCTAssertEqual(detect.status, 0, detect.stderr)
        let expected = detect.stdoutLines.map { line -> [PixelRect] in
            let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
            return ((object?["faces"] as? [[String: Any]]) ?? []).compactMap { ($0["box"] as? [Int]).map { PixelRect(x: $0[0], y: $0[1], width: $0[2], height: $0[3]) } }
        }
        XCTAssertGreaterThan(expected.map(\.count).reduce(0, +), 6, "the cascade finds most of the placed faces")
        let output = folder.appendingPathComponent("jumping.jsonl")
        let replay = try CLIRunner.run(["replay", jumping.path, "--headless", "--as-fast-as-possible", "--model", model, "--output", output.path])
        XCTAssertEqual(replay.status, 0, replay.stderr)
        let records = try self.records(output)
        for frame in 0..<8 {
            let found = records.filter { $0["frame"] as? Int == frame }.compactMap(box)
            XCTAssertEqual(found.count, expected[frame].count, "frame \(frame): replay \(found), detect \(expected[frame])")
            for face in expected[frame] {
                XCTAssert(found.contains { $0.overlap(with: face) > 0.9 }, "frame \(frame): \(face) not in \(found)")
            }
        }
    }
}

