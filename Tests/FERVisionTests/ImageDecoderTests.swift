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
}
