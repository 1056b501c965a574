import FERVision
import Foundation
import XCTest

/// Decoding against Pillow: the grayscale pixels `Image.open(f).convert("L")` gives for the same files.
final class ImageDecoderTests: XCTestCase {
    private func expectedGray(_ name: String) throws -> [Float] {
        try XCTUnwrap(Fixtures.tensors("images_expected.safetensors").tensor(name)).scalars
    }

    private func decodedGray(_ name: String) throws -> ByteImage {
        try ImageDecoder.decode(contentsOf: Fixtures.path(name)).grayscale()
    }

    func testLosslessFormatsMatchPillowExactly() throws {
        for name in ["gray.png", "rgb.png", "rgba.png", "gray.pgm", "rgb.ppm"] {
            let image = try decodedGray(name)
            XCTAssertEqual([image.width, image.height], [13, 11], name)
            XCTAssertEqual(image.pixels.map(Float.init), try expectedGray(name), "\(name) differs from Pillow")
        }
    }

    func testJPEGMatchesPillowWithinOneLevel() throws {
        for name in ["gray.jpg", "rgb.jpg"] {
            let image = try decodedGray(name)
            XCTAssertEqual([image.width, image.height], [32, 24], name)
            assertClose(image.pixels.map(Float.init), try expectedGray(name), tolerance: 1, "\(name) vs Pillow")
        }
    }

    func testColorFilesDecodeAsRGB() throws {
        XCTAssertEqual(try ImageDecoder.decode(contentsOf: Fixtures.path("rgb.png")).channels, 3)
        XCTAssertEqual(try ImageDecoder.decode(contentsOf: Fixtures.path("rgb.ppm")).channels, 3)
        XCTAssertEqual(try ImageDecoder.decode(contentsOf: Fixtures.path("gray.jpg")).channels, 1)
    }

    private func decodeError(_ data: Data?, name: String) throws -> ImageError? {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(UUID())-\(name)").path
        if let data { try data.write(to: URL(fileURLWithPath: path)) }
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            _ = try ImageDecoder.decode(contentsOf: path)
            XCTFail("\(name) decoded")
            return nil
        } catch {
            XCTAssert(error.description.hasPrefix(path), "error does not name the file: \(error)")
            return error
        }
    }

    func testBadInputsGiveClearErrors() throws {
        XCTAssertEqual(try decodeError(nil, name: "missing.png")?.kind, .unreadable)
        XCTAssertEqual(try decodeError(Data(), name: "empty.png")?.kind, .empty)
        XCTAssertEqual(try decodeError(Data("hello, not an image".utf8), name: "text.png")?.kind, .unknownFormat)
        for name in ["rgb.png", "rgb.jpg", "rgb.ppm"] {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path(name)))
            XCTAssertEqual(try decodeError(bytes.prefix(bytes.count / 2), name: "cut-" + name)?.kind, .corrupt, name)
        }
    }

    func testDirectoryIsNotAnImage() {
        XCTAssertThrowsError(try ImageDecoder.decode(contentsOf: FileManager.default.temporaryDirectory.path)) { error in
            XCTAssert("\(error)".contains("directory"), "\(error)")
        }
    }

    /// Headers announcing huge images are refused before anything is allocated: a 1,000,000 x 1,000,000
    /// PNG, a 65,000 x 65,000 JPEG, a PGM as large as its header can say.
    func testHugeImagesAreRefusedFromTheirHeaders() throws {
        var png = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("gray.png"))))
        // IHDR's data starts at byte 16: width and height, big-endian; its CRC covers type and data.
        let million: [UInt8] = [0x00, 0x0F, 0x42, 0x40]
        png.replaceSubrange(16..<20, with: million)
        png.replaceSubrange(20..<24, with: million)
        let crc = crc32(Array(png[12..<29]))
        png.replaceSubrange(29..<33, with: [UInt8(crc >> 24), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc & 0xFF)])
        var jpeg = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("gray.jpg"))))
        let frame = try XCTUnwrap((0..<jpeg.count - 1).first { jpeg[$0] == 0xFF && jpeg[$0 + 1] == 0xC0 }, "no SOF0 marker")
        jpeg.replaceSubrange(frame + 5..<frame + 9, with: [0xFD, 0xE8, 0xFD, 0xE8])   // 65,000 x 65,000
        let pgm = Array("P5 999999999 999999999 255\n".utf8) + [0, 0, 0]
        for (name, bytes) in [("huge.png", png), ("huge.jpg", jpeg), ("huge.pgm", pgm)] {
            let error = try decodeError(Data(bytes), name: name)
            XCTAssert(error?.description.contains("megapixels fer-live decodes") == true, "\(name): \(String(describing: error))")
        }
    }

    /// PGM/PPM decode from the bytes given (not by re-reading a path), in every flavour.
    func testNetpbmFlavoursDecodeFromMemory() throws {
        let plain = try ImageDecoder.decode(Data("P2\n# a comment\n3 2\n255\n0 128 255\n1 2 3\n".utf8), path: "not-a-file.pgm")
        XCTAssertEqual([plain.width, plain.height, plain.channels], [3, 2, 1])
        XCTAssertEqual(plain.pixels, [0, 128, 255, 1, 2, 3])
        let wide = try ImageDecoder.decode(Data(Array("P5 2 1 1023\n".utf8) + [0x03, 0xFF, 0x02, 0x00]), path: "ten-bit.pgm")
        XCTAssertEqual(wide.pixels, [255, 128], "1023 -> 255, 512 -> 128 (rounded)")
        let color = try ImageDecoder.decode(Data("P3 1 1 15 15 0 7".utf8), path: "plain.ppm")
        XCTAssertEqual(color.pixels, [255, 0, 119])
        let fixture = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("gray.pgm")))
        XCTAssertEqual(try ImageDecoder.decode(fixture, path: "elsewhere.pgm"), try ImageDecoder.decode(contentsOf: Fixtures.path("gray.pgm")))
        for bad in ["P5 2 2 255\n\u{0}", "P2 2 1 255 7", "P5 2 1 0\n\u{0}\u{0}", "P2 1 1 9 12", "P6 x 1 255\n"] {
            XCTAssertThrowsError(try ImageDecoder.decode(Data(bad.utf8), path: "bad.pgm"), bad) { error in
                XCTAssert("\(error)".hasPrefix("bad.pgm: corrupt PGM/PPM"), "\(error)")
            }
        }
    }

    private func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }
}
