import FERVision
import Foundation
import XCTest

/// `fer-live camera` and `fer-live devices` on what a machine without a webcam has; the camera itself,
/// through libv4l2, is EmulatedWebcamCLITests.
final class CameraCLITests: XCTestCase {
    private let model = CLIRunner.fixture("narrow_resnet9.safetensors")
    private var folder: URL!
    private var frames: URL { folder.appendingPathComponent("frames") }

    override func setUpWithError() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: CLIRunner.binary.path), "fer-live was not built")
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("fer-camera-\(UUID())")
        try FileManager.default.createDirectory(at: frames, withIntermediateDirectories: true)
        for index in 0..<4 {
            let image = ByteImage(width: 160, height: 120, pixels: (0..<(160 * 120)).map { UInt8(truncatingIfNeeded: $0 / 7 + 40 * index) })
            try ImageEncoder.png(image).write(to: frames.appendingPathComponent("frame\(index).png"))
        }
    }

    override func tearDownWithError() throws { if let folder { try? FileManager.default.removeItem(at: folder) } }

    func testMissingDeviceSuggestsDevicesAndReplay() throws {
        let run = try CLIRunner.run(["camera", "--device", "/dev/video-fer-live-none", "--headless", "--model", model])
        XCTAssertEqual(run.status, 1)
        XCTAssertEqual(run.errorLines.count, 1, run.stderr)
        XCTAssert(run.stderr.contains("/dev/video-fer-live-none: no such device"), run.stderr)
        XCTAssert(run.stderr.contains("fer-live devices") && run.stderr.contains("fer-live replay"), run.stderr)
    }

    func testNotACameraIsRejected() throws {
        let run = try CLIRunner.run(["camera", "--device", "/dev/null", "--headless", "--model", model])
        XCTAssertEqual(run.status, 1)
        XCTAssert(run.stderr.contains("/dev/null: is not a V4L2 video device"), run.stderr)
    }

    func testBadSizeIsAUsageError() throws {
        let run = try CLIRunner.run(["camera", "--size", "640by480", "--headless"])
        XCTAssertNotEqual(run.status, 0)
        XCTAssert(run.stderr.contains("WIDTHxHEIGHT"), run.stderr)
    }

    func testDevicesListsWhatIsThere() throws {
        let run = try CLIRunner.run(["devices"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let nodes = (try? FileManager.default.contentsOfDirectory(atPath: "/dev"))?.filter { $0.hasPrefix("video") } ?? []
        if nodes.isEmpty {
            XCTAssert(run.stdout.contains("no video devices"), run.stdout)
        } else {
            for node in nodes { XCTAssert(run.stdout.contains("/dev/\(node)"), run.stdout) }
        }
    }
}
