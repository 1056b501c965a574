import CImageCodecs
import Foundation

/// Lossless PNG encoding with libpng's simplified API, for recorded frames, screenshots and tests.
public enum ImageEncoder {
    /// The image as PNG bytes (8-bit gray or RGB, as the image is).
    public static func png(_ image: ByteImage) throws(ImageError) -> Data {
        var header = png_image()
        header.version = png_uint_32(CImageCodecs_PNG_IMAGE_VERSION)
        header.width = png_uint_32(image.width)
        header.height = png_uint_32(image.height)
        header.format = png_uint_32(image.channels == 3 ? CImageCodecs_PNG_FORMAT_RGB : CImageCodecs_PNG_FORMAT_GRAY)
        let stride = png_int_32(image.width * image.channels)
        var size: png_alloc_size_t = 0
        // First call measures, second writes (the simplified API's two-step protocol).
        let measured = image.pixels.withUnsafeBytes { png_image_write_to_memory(&header, nil, &size, 0, $0.baseAddress, stride, nil) }
        guard measured != 0, size > 0 else {
            throw ImageError(.corrupt, path: "<memory>", "PNG encoding failed")
        }
        var data = Data(count: Int(size))
        let written = data.withUnsafeMutableBytes { output in
            image.pixels.withUnsafeBytes { png_image_write_to_memory(&header, output.baseAddress, &size, 0, $0.baseAddress, stride, nil) }
        }
        guard written != 0 else { throw ImageError(.corrupt, path: "<memory>", "PNG encoding failed") }
        return data.prefix(Int(size))
    }
}
