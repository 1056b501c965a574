/// An 8-bit image: grayscale (1 channel) or RGB (3 channels, interleaved), rows top to bottom, no padding.
public struct ByteImage: Equatable, Sendable {
    public let width: Int
    public let height: Int
    /// 1 (grayscale) or 3 (RGB).
    public let channels: Int
    /// `height * width * channels` samples, row-major.
    public var pixels: [UInt8]

    /// - Precondition: the pixel count matches the geometry and `channels` is 1 or 3.
    public init(width: Int, height: Int, channels: Int = 1, pixels: [UInt8]) {
        precondition(channels == 1 || channels == 3, "channels must be 1 or 3, got \(channels)")
        precondition(width >= 0 && height >= 0 && pixels.count == width * height * channels,
                     "\(pixels.count) samples do not make a \(width)x\(height)x\(channels) image")
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    /// The image as 8-bit grayscale. RGB converts with ITU-R 601 luma in the same fixed-point arithmetic
    /// as Pillow's `convert("L")`, so our pixels equal those torchvision-based training saw.
    public func grayscale() -> ByteImage {
        guard channels == 3 else { return self }
        var gray = [UInt8](repeating: 0, count: width * height)
        pixels.withUnsafeBufferPointer { rgb in
            for i in 0..<gray.count {
                let r = UInt32(rgb[3 * i]), g = UInt32(rgb[3 * i + 1]), b = UInt32(rgb[3 * i + 2])
                gray[i] = UInt8((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16)
            }
        }
        return ByteImage(width: width, height: height, channels: 1, pixels: gray)
    }
}
