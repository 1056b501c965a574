@testable import FERVision
import XCTest

/// A frame's colour beside its gray: RGB made from gray and chroma gives the same gray back exactly (so a
/// colour PNG recording replays bit for bit), and colour survives the trip through chroma planes.
final class ChromaPlanesTests: XCTestCase {
    func testRGBGivesTheSameGrayBackForEveryLumaAndColour() {
        for luma in 0...255 {
            for cb in stride(from: 0, through: 255, by: 17) {
                for cr in stride(from: 0, through: 255, by: 17) {
                    let pixel = ByteImage.lumaExactRGB(luma: UInt8(luma), cb: UInt8(cb), cr: UInt8(cr))
                    let gray = ByteImage(width: 1, height: 1, channels: 3, pixels: [pixel.r, pixel.g, pixel.b]).grayscale()
                    XCTAssertEqual(gray.pixels, [UInt8(luma)], "Y \(luma) Cb \(cb) Cr \(cr) gave \(pixel)")
                }
            }
        }
        XCTAssert(ByteImage.lumaExactRGB(luma: 77, cb: 128, cr: 128) == (77, 77, 77), "no colour is gray")
    }

    /// Colour in 2x2 blocks (what 4:2:0 keeps), through gray + chroma and back: within 3 levels, where
    /// dropping the colour would be off by up to 200.
    func testColourOfAnRGBImageRoundTrips() {
        var random = SplitMix64(seed: 25)
        let width = 7, height = 5   // odd: the last column and row have blocks of their own
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        for by in 0..<3 {
            for bx in 0..<4 {
                let color = (0..<3).map { _ in UInt8(truncatingIfNeeded: random.next()) }
                for y in (2 * by)..<min(2 * by + 2, height) {
                    for x in (2 * bx)..<min(2 * bx + 2, width) { for c in 0..<3 { rgb[3 * (y * width + x) + c] = color[c] } }
                }
            }
        }
        let image = ByteImage(width: width, height: height, channels: 3, pixels: rgb)
        let chroma = ChromaPlanes(rgb: image)
        XCTAssertEqual([chroma.width, chroma.height], [4, 3])
        let back = image.grayscale().rgb(chroma: chroma)
        XCTAssertEqual(back.grayscale(), image.grayscale(), "the gray is kept exactly")
        let worst = zip(back.pixels, rgb).map { abs(Int($0) - Int($1)) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst, 3, "colour kept within 3 levels")
    }

    func testGrayHasNeutralChroma() {
        let gray = ByteImage(width: 3, height: 3, channels: 3, pixels: [UInt8](repeating: 90, count: 27))
        XCTAssertEqual(ChromaPlanes(rgb: gray), .neutral(lumaWidth: 3, lumaHeight: 3))
    }
}
