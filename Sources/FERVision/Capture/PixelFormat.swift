import CV4L2

/// A V4L2 pixel format code (fourcc), with what capture can read of it.
public struct PixelFormat: Hashable, Sendable, CustomStringConvertible {
    public let code: UInt32
    public init(code: UInt32) { self.code = code }

    public static let yuv420 = PixelFormat(code: CV4L2_PIX_FMT_YUV420)
    public static let grey = PixelFormat(code: CV4L2_PIX_FMT_GREY)
    public static let yuyv = PixelFormat(code: CV4L2_PIX_FMT_YUYV)
    public static let rgb24 = PixelFormat(code: CV4L2_PIX_FMT_RGB24)
    public static let mjpeg = PixelFormat(code: CV4L2_PIX_FMT_MJPEG)

    /// What capture asks for, best first: planar YUV 4:2:0 (its first plane is the grayscale image, and
    /// libv4l2 converts any camera to it), then formats the camera may offer itself.
    public static let preferred: [PixelFormat] = [.yuv420, .grey, .yuyv, .rgb24]

    /// The four characters, e.g. "YU12".
    public var description: String {
        String((0..<4).map { Character(Unicode.Scalar(UInt8(truncatingIfNeeded: code >> (8 * $0)))) })
    }

    /// The luma (8-bit gray) in a buffer of this format and, with `color`, its chroma (nil for GREY), or
    /// nil when the buffer is too short or not one of the formats capture reads.
    func picture(_ bytes: UnsafeRawBufferPointer, width: Int, height: Int, bytesPerLine: Int,
                 color: Bool) -> (luma: ByteImage, chroma: ChromaPlanes?)? {
        let sampleWidth = self == .yuyv ? 2 : self == .rgb24 ? 3 : 1
        let stride = max(bytesPerLine, width * sampleWidth)
        guard Self.preferred.contains(self), width > 0, height > 0, bytes.count >= stride * (height - 1) + width * sampleWidth else {
            return nil
        }
        let source = bytes.bindMemory(to: UInt8.self)
        if self == .rgb24 {
            var rgb = [UInt8](repeating: 0, count: width * height * 3)
            for y in 0..<height { for x in 0..<(width * 3) { rgb[y * width * 3 + x] = source[y * stride + x] } }
            let image = ByteImage(width: width, height: height, channels: 3, pixels: rgb)
            return (image.grayscale(), color ? ChromaPlanes(rgb: image) : nil)
        }
        var gray = [UInt8](repeating: 0, count: width * height)
        gray.withUnsafeMutableBufferPointer { out in
            for y in 0..<height {
                let row = y * stride
                if sampleWidth == 1 {
                    // YUV 4:2:0 and GREY: the luma rows as they are.
                    UnsafeMutableRawPointer(out.baseAddress! + y * width).copyMemory(from: source.baseAddress! + row, byteCount: width)
                } else {
                    // YUYV: luma is every other byte.
                    for x in 0..<width { out[y * width + x] = source[row + 2 * x] }
                }
            }
        }
        let luma = ByteImage(width: width, height: height, pixels: gray)
        guard color else { return (luma, nil) }
        return (luma, chroma(source, width: width, height: height, stride: stride))
    }

    /// The U and V planes of a YU12 or YUYV buffer (nil for GREY, or a YU12 buffer without its chroma).
    /// YU12's planes follow the luma at half its bytes per line; YUYV has a U and a V per pixel pair on
    /// every row, of which the even rows' are taken.
    private func chroma(_ source: UnsafeBufferPointer<UInt8>, width: Int, height: Int, stride: Int) -> ChromaPlanes? {
        let chromaWidth = (width + 1) / 2, chromaHeight = (height + 1) / 2
        var u = [UInt8](repeating: 128, count: chromaWidth * chromaHeight), v = u
        switch self {
        case .yuv420:
            let chromaStride = (stride + 1) / 2, uStart = stride * height, vStart = uStart + chromaStride * chromaHeight
            guard source.count >= vStart + chromaStride * (chromaHeight - 1) + chromaWidth else { return nil }
            for y in 0..<chromaHeight {
                for x in 0..<chromaWidth {
                    u[y * chromaWidth + x] = source[uStart + y * chromaStride + x]
                    v[y * chromaWidth + x] = source[vStart + y * chromaStride + x]
                }
            }
        case .yuyv:
            for y in 0..<chromaHeight {
                let row = 2 * y * stride
                // An odd width's last pixel has no pair: its samples stay neutral where the buffer ends.
                for x in 0..<chromaWidth where row + 4 * x + 3 < source.count {
                    u[y * chromaWidth + x] = source[row + 4 * x + 1]
                    v[y * chromaWidth + x] = source[row + 4 * x + 3]
                }
            }
        default: return nil
        }
        return ChromaPlanes(lumaWidth: width, lumaHeight: height, u: u, v: v)
    }
}
