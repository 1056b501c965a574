import FERVision
import XCTest

/// The shared preprocessing path on images whose right answer is known by hand.
final class PreprocessorTests: XCTestCase {
    private let plain = Preprocessor(inputSize: 4, channels: 1, mean: [0], std: [1])

    func testIdentityAtInputSize() {
        let pixels: [UInt8] = (0..<16).map { UInt8($0 * 17) }
        let image = ByteImage(width: 4, height: 4, pixels: pixels)
        XCTAssertEqual(plain.resizedGray(image), pixels.map { Float($0) / 255 })
    }

    func testIntegerFactorAveragesBlocks() {
        // 8x8 made of 2x2 blocks with values 0, 10, 20, 30 inside each block: each block averages to 15.
        var pixels = [UInt8](repeating: 0, count: 64)
        for y in 0..<8 { for x in 0..<8 { pixels[y * 8 + x] = UInt8(((y % 2) * 2 + x % 2) * 10) } }
        let result = plain.resizedGray(ByteImage(width: 8, height: 8, pixels: pixels))!
        assertClose(result, [Float](repeating: 15 / 255, count: 16), tolerance: 1e-6, "2x2 block means")
    }

    func testFractionalFactorWeighsStraddlingPixels() {
        // 6 pixels to 4: scale 1.5, output 0 covers [0, 1.5): pixel 0 fully, pixel 1 half -> (a + b/2) / 1.5.
        let row: [UInt8] = [0, 60, 120, 180, 240, 90]
        let image = ByteImage(width: 6, height: 6, pixels: Array((0..<6).map { _ in row }.joined()))
        let result = plain.resizedGray(image)!
        let expected: [Float] = [(0 + 30) / 1.5, (30 + 120) / 1.5, (180 + 120) / 1.5, (120 + 90) / 1.5].map { $0 / 255 }
        assertClose(Array(result[0..<4]), expected, tolerance: 1e-5, "first row")
        assertClose(Array(result[12..<16]), expected, tolerance: 1e-5, "last row")
    }

    func testCenterSquareOfWideAndTallImages() {
        XCTAssertEqual(PixelRect.centerSquare(width: 640, height: 480), PixelRect(x: 80, y: 0, width: 480, height: 480))
        XCTAssertEqual(PixelRect.centerSquare(width: 3, height: 8), PixelRect(x: 0, y: 2, width: 3, height: 3))
        // A wide image whose sides are marked 255 and middle 0: the center crop sees only the middle.
        var pixels = [UInt8](repeating: 255, count: 12 * 4)
        for y in 0..<4 { for x in 4..<8 { pixels[y * 12 + x] = 0 } }
        XCTAssertEqual(plain.resizedGray(ByteImage(width: 12, height: 4, pixels: pixels)), [Float](repeating: 0, count: 16))
    }

    func testColorIsConvertedToGrayFirst() {
        let image = ByteImage(width: 4, height: 4, channels: 3, pixels: Array([UInt8]([255, 0, 0]).lazy.cycled(16)))
        // Pillow's L of pure red: (255 * 19595 + 32768) >> 16 = 76.
        XCTAssertEqual(plain.resizedGray(image), [Float](repeating: 76 / 255, count: 16))
    }

    func testNormalizationReplicatesGrayToEachChannel() {
        let preprocessor = Preprocessor(inputSize: 2, channels: 3, mean: [0.5, 0.25, 0], std: [0.5, 0.25, 1])
        let input = preprocessor.input(for: ByteImage(width: 2, height: 2, pixels: [255, 255, 0, 0]))!
        XCTAssertEqual(input, [1, 1, -1, -1, 3, 3, -1, -1, 1, 1, 0, 0])
    }

    func testCropOutsideImageGivesNil() {
        let image = ByteImage(width: 4, height: 4, pixels: [UInt8](repeating: 9, count: 16))
        XCTAssertNil(plain.input(for: image, crop: PixelRect(x: 10, y: 10, width: 4, height: 4)))
        XCTAssertNotNil(plain.input(for: image, crop: PixelRect(x: 2, y: 2, width: 4, height: 4)), "partly inside is clamped")
    }

    func testAreaWeightsConservePlainImages() {
        for (side, size) in [(640, 48), (97, 48), (31, 48), (480, 48)] {
            let image = ByteImage(width: side, height: side, pixels: [UInt8](repeating: 200, count: side * side))
            let result = Preprocessor(inputSize: size, channels: 1, mean: [0], std: [1]).resizedGray(image)!
            assertClose(result, [Float](repeating: 200 / 255, count: size * size), tolerance: 1e-5, "\(side) -> \(size)")
        }
    }
}

private extension LazySequence where Base == [UInt8] {
    func cycled(_ times: Int) -> [UInt8] { Array(Array(repeating: elements, count: times).joined()) }
}
