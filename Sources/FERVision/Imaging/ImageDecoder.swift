import CImageCodecs
import Foundation

/// Why an image could not be read. The description is one line naming the file.
public struct ImageError: Error, CustomStringConvertible, Equatable {
    public enum Kind: Equatable, Sendable { case unreadable, empty, unknownFormat, corrupt }
    public let kind: Kind
    public let path: String
    public let detail: String

    public init(_ kind: Kind, path: String, _ detail: String) {
        self.kind = kind
        self.path = path
        self.detail = detail
    }

    public var description: String { "\(path): \(detail)" }
}

/// Decodes PNG (libpng), JPEG (libjpeg-turbo) and PGM/PPM (`PNMDecoder`) into `ByteImage`s.
/// The format comes from the file's first bytes, not its name. An image larger than `maximumPixels` is
/// refused from its header, before anything is allocated for it.
///
/// Why these: libpng is the reference PNG implementation, and libjpeg-turbo is the JPEG decoder Pillow
/// and torchvision use, so a JPEG decodes to exactly the pixels a PyTorch pipeline sees. Both report
/// errors as return values (libpng's simplified API, TurboJPEG), so no longjmp ever crosses Swift code.
/// Thread safety: every call is independent; decode from any thread.
public enum ImageDecoder {
    /// The formats recognized by their signature.
    public enum Format: String, Sendable { case png, jpeg, pnm }

    /// The largest image decoded: 100 megapixels (a 12,000 x 8,000 photo fits), about 300 MB as RGB.
    public static let maximumPixels = 100_000_000

    /// File name extensions (lowercase) of the formats we decode, for listing image folders.
    public static let fileExtensions: Set<String> = ["png", "jpg", "jpeg", "pgm", "ppm"]

    /// Decodes the image file at `path` into grayscale or RGB, as stored.
    public static func decode(contentsOf path: String) throws(ImageError) -> ByteImage {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            var isDirectory: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
            throw ImageError(.unreadable, path: path, !exists ? "no such file" : isDirectory.boolValue ? "is a directory" : "cannot be read")
        }
        return try decode(data, path: path)
    }

    /// Decodes image bytes; `path` names them in errors.
    public static func decode(_ data: Data, path: String) throws(ImageError) -> ByteImage {
        guard !data.isEmpty else { throw ImageError(.empty, path: path, "empty file") }
        switch format(of: data) {
        case .png: return try decodePNG(data, path: path)
        case .jpeg: return try decodeJPEG(data, path: path)
        case .pnm: return try PNMDecoder.decode([UInt8](data), path: path)
        case nil: throw ImageError(.unknownFormat, path: path, "not a PNG, JPEG, PGM or PPM image")
        }
    }

    /// The format the bytes' signature announces.
    public static func format(of data: Data) -> Format? {
        if data.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if data.starts(with: [0xFF, 0xD8, 0xFF]) { return .jpeg }
        if data.count >= 2, data[data.startIndex] == UInt8(ascii: "P"),
           [UInt8(ascii: "2"), UInt8(ascii: "3"), UInt8(ascii: "5"), UInt8(ascii: "6")].contains(data[data.startIndex + 1]) {
            return .pnm
        }
        return nil
    }

    private static func decodePNG(_ data: Data, path: String) throws(ImageError) -> ByteImage {
        var image = png_image()
        image.version = png_uint_32(CImageCodecs_PNG_IMAGE_VERSION)
        func message(_ image: inout png_image) -> String {
            withUnsafeBytes(of: &image.message) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        }
        let began = data.withUnsafeBytes { png_image_begin_read_from_memory(&image, $0.baseAddress, $0.count) }
        guard began != 0 else {
            let why = message(&image)
            png_image_free(&image)
            throw ImageError(.corrupt, path: path, "corrupt PNG (\(why))")
        }
        // Ask for 8-bit gray or RGB as stored, with alpha if present: libpng would composite alpha onto
        // black, while Pillow's convert("L") ignores it, so we read it and drop it ourselves.
        let isColor = image.format & png_uint_32(CImageCodecs_PNG_FORMAT_FLAG_COLOR) != 0
        let hasAlpha = image.format & png_uint_32(CImageCodecs_PNG_FORMAT_FLAG_ALPHA) != 0
        image.format = png_uint_32(isColor ? CImageCodecs_PNG_FORMAT_RGB : CImageCodecs_PNG_FORMAT_GRAY)
            | (hasAlpha ? png_uint_32(CImageCodecs_PNG_FORMAT_FLAG_ALPHA) : 0)
        let channels = isColor ? 3 : 1, stored = channels + (hasAlpha ? 1 : 0)
        let width = Int(image.width), height = Int(image.height)
        if let refusal = sizeRefusal(width: width, height: height, path: path) {
            png_image_free(&image)
            throw refusal
        }
        var samples = [UInt8](repeating: 0, count: width * height * stored)
        let finished = samples.withUnsafeMutableBytes {
            png_image_finish_read(&image, nil, $0.baseAddress, png_int_32(width * stored), nil)
        }
        guard finished != 0 else {
            let why = message(&image)
            png_image_free(&image)
            throw ImageError(.corrupt, path: path, "corrupt PNG (\(why))")
        }
        var pixels = samples
        if hasAlpha {
            pixels = [UInt8](repeating: 0, count: width * height * channels)
            for i in 0..<width * height {
                for c in 0..<channels { pixels[i * channels + c] = samples[i * stored + c] }
            }
        }
        return ByteImage(width: width, height: height, channels: channels, pixels: pixels)
    }

    private static func decodeJPEG(_ data: Data, path: String) throws(ImageError) -> ByteImage {
        guard let handle = tjInitDecompress() else { throw ImageError(.corrupt, path: path, "cannot start the JPEG decoder") }
        defer { tjDestroy(handle) }
        func failure() -> ImageError {
            ImageError(.corrupt, path: path, "corrupt JPEG (\(String(cString: tjGetErrorStr2(handle))))")
        }
        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        let header = data.withUnsafeBytes {
            tjDecompressHeader3(handle, $0.bindMemory(to: UInt8.self).baseAddress, UInt($0.count), &width, &height, &subsampling, &colorspace)
        }
        guard header == 0, width > 0, height > 0 else { throw failure() }
        if let refusal = sizeRefusal(width: Int(width), height: Int(height), path: path) { throw refusal }
        let isGray = colorspace == Int32(TJCS_GRAY.rawValue)
        let channels = isGray ? 1 : 3
        var pixels = [UInt8](repeating: 0, count: Int(width) * Int(height) * channels)
        let status = data.withUnsafeBytes { source in
            pixels.withUnsafeMutableBufferPointer { target in
                tjDecompress2(handle, source.bindMemory(to: UInt8.self).baseAddress, UInt(source.count), target.baseAddress,
                              width, 0, height, isGray ? Int32(TJPF_GRAY.rawValue) : Int32(TJPF_RGB.rawValue), 0)
            }
        }
        // A warning (e.g. premature end of data) still yields an image with gray filler; reject it as corrupt,
        // since a truncated frame would silently feed the model made-up pixels.
        guard status == 0 else { throw failure() }
        return ByteImage(width: Int(width), height: Int(height), channels: channels, pixels: pixels)
    }

    /// The error for an image whose header announces more than `maximumPixels`, else nil.
    static func sizeRefusal(width: Int, height: Int, path: String) -> ImageError? {
        guard width > 0, height > 0 else { return ImageError(.corrupt, path: path, "the header gives a size of \(width)x\(height)") }
        guard width <= maximumPixels / height else {
            return ImageError(.corrupt, path: path, "is \(width)x\(height) pixels, more than the \(maximumPixels / 1_000_000) megapixels fer-live decodes")
        }
        return nil
    }
}
