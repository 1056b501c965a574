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

extension ImageEncoder {
    /// The image as baseline JPEG bytes at `quality` (1...100), gray or RGB as the image is: for training's
    /// codec augmentation, which shows the model the blocks and ringing of compressed video.
    public static func jpeg(_ image: ByteImage, quality: Int) throws(ImageError) -> Data {
        guard (1...100).contains(quality) else { throw ImageError(.corrupt, path: "<memory>", "JPEG quality \(quality) is not in 1...100") }
        guard let handle = tjInitCompress() else { throw ImageError(.corrupt, path: "<memory>", "cannot start the JPEG encoder") }
        defer { tjDestroy(handle) }
        let gray = image.channels == 1
        var output: UnsafeMutablePointer<UInt8>? = nil
        var size: UInt = 0
        defer { if let output { tjFree(output) } }
        let status = image.pixels.withUnsafeBufferPointer { pixels in
            tjCompress2(handle, pixels.baseAddress, Int32(image.width), Int32(image.width * image.channels), Int32(image.height),
                        Int32(gray ? TJPF_GRAY.rawValue : TJPF_RGB.rawValue), &output, &size,
                        Int32(gray ? TJSAMP_GRAY.rawValue : TJSAMP_420.rawValue), Int32(quality), 0)
        }
        guard status == 0, let output else {
            throw ImageError(.corrupt, path: "<memory>", "JPEG encoding failed (\(String(cString: tjGetErrorStr2(handle))))")
        }
        return Data(bytes: output, count: Int(size))
    }
}
