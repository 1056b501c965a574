import FERVision
import XCTest

/// Pieces the frame pipeline builds on: natural frame order and lossless PNG for recordings.
final class FrameBuildingBlockTests: XCTestCase {
    func testNaturalOrderPutsFrame2BeforeFrame10() {
        let names = ["frame10.png", "frame2.png", "frame1.png", "frame002.png", "b.png", "a10.png", "a9.png", "frame.png"]
        XCTAssertEqual(names.sorted(by: naturallyOrdered),
                       ["a9.png", "a10.png", "b.png", "frame.png", "frame1.png", "frame2.png", "frame002.png", "frame10.png"])
    }

    func testNaturalOrderIsAStrictOrder() {
        XCTAssertFalse(naturallyOrdered("x1", "x1"))
        XCTAssertTrue(naturallyOrdered("x1", "x01"))
        XCTAssertFalse(naturallyOrdered("x01", "x1"))
    }

    func testPNGRoundTripIsLossless() throws {
        var random = SplitMix64(seed: 3)
        for channels in [1, 3] {
            let image = ByteImage(width: 17, height: 9, channels: channels,
                                  pixels: (0..<17 * 9 * channels).map { _ in UInt8(truncatingIfNeeded: random.next()) })
            let data = try ImageEncoder.png(image)
            XCTAssertEqual(ImageDecoder.format(of: data), .png)
            XCTAssertEqual(try ImageDecoder.decode(data, path: "memory.png"), image)
        }
    }
}
