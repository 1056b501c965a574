/// A frame's colour beside its luma: the U (Cb) and V (Cr) planes of full-range YUV 4:2:0, one sample per
/// 2x2 block of pixels (a last odd row or column has its own), as JPEG and webcams use them.
///
/// The pipeline reads only the luma (`Frame.image`); these planes are what the window, recordings and
/// annotated videos add to show the picture in colour. The window hands them to SDL as they are (an IYUV
/// texture); `ByteImage.rgb(chroma:)` makes RGB where pixels are needed.
public struct ChromaPlanes: Equatable, Sendable {
    /// The luma's size, which the planes cover.
    public let lumaWidth: Int, lumaHeight: Int
    /// Samples per row and rows of each plane: half the luma's, rounded up.
    public let width: Int, height: Int
    /// `width * height` samples each, row-major, 128 for no colour.
    public let u: [UInt8], v: [UInt8]

    /// Planes for a `lumaWidth` x `lumaHeight` picture.
    /// - Precondition: each plane has `((lumaWidth + 1) / 2) * ((lumaHeight + 1) / 2)` samples.
    public init(lumaWidth: Int, lumaHeight: Int, u: [UInt8], v: [UInt8]) {
        let width = (lumaWidth + 1) / 2, height = (lumaHeight + 1) / 2
        precondition(u.count == width * height && v.count == width * height,
                     "chroma planes of \(u.count) and \(v.count) samples do not cover a \(lumaWidth)x\(lumaHeight) picture")
        self.lumaWidth = lumaWidth
        self.lumaHeight = lumaHeight
        self.width = width
        self.height = height
        self.u = u
        self.v = v
    }

    /// No colour: a gray picture's planes.
    public static func neutral(lumaWidth: Int, lumaHeight: Int) -> ChromaPlanes {
        let count = ((lumaWidth + 1) / 2) * ((lumaHeight + 1) / 2)
        return ChromaPlanes(lumaWidth: lumaWidth, lumaHeight: lumaHeight, u: [UInt8](repeating: 128, count: count),
                            v: [UInt8](repeating: 128, count: count))
    }

    /// The colour of an RGB image: each 2x2 block's mean RGB in full-range BT.601 (JPEG's) Cb and Cr.
    /// - Precondition: `rgb` has 3 channels.
    public init(rgb: ByteImage) {
        precondition(rgb.channels == 3, "chroma comes from an RGB image")
        let width = (rgb.width + 1) / 2, height = (rgb.height + 1) / 2
        var u = [UInt8](repeating: 128, count: width * height), v = u
        rgb.pixels.withUnsafeBufferPointer { pixels in
            for cy in 0..<height {
                for cx in 0..<width {
                    var r = 0, g = 0, b = 0, n = 0
                    for y in (2 * cy)..<min(2 * cy + 2, rgb.height) {
                        for x in (2 * cx)..<min(2 * cx + 2, rgb.width) {
                            let i = 3 * (y * rgb.width + x)
                            r += Int(pixels[i]); g += Int(pixels[i + 1]); b += Int(pixels[i + 2]); n += 1
                        }
                    }
                    // Cb = 128 - 0.168736 R - 0.331264 G + 0.5 B, Cr = 128 + 0.5 R - 0.418688 G - 0.081312 B,
                    // in 16-bit fixed point over the block's sums, rounded.
                    let scale = 65536 * n, half = scale / 2
                    let cb = (-11059 * r - 21709 * g + 32768 * b + 128 * scale + half)
                    let cr = (32768 * r - 27439 * g - 5329 * b + 128 * scale + half)
                    u[cy * width + cx] = UInt8(clamping: Self.floorDivide(cb, scale))
                    v[cy * width + cx] = UInt8(clamping: Self.floorDivide(cr, scale))
                }
            }
        }
        self.init(lumaWidth: rgb.width, lumaHeight: rgb.height, u: u, v: v)
    }

    private static func floorDivide(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }
}

extension ByteImage {
    /// The picture as RGB: this luma with `chroma` (full-range BT.601), each pixel's red, green and blue
    /// nudged by a level or two where needed so that `grayscale()` of the result gives this luma back
    /// exactly. A colour PNG written from it therefore replays with the same gray pixels, and so the same
    /// results, as the run that wrote it.
    /// - Precondition: the image is gray and `chroma` covers its size.
    public func rgb(chroma: ChromaPlanes) -> ByteImage {
        precondition(channels == 1 && chroma.lumaWidth == width && chroma.lumaHeight == height, "chroma for another picture")
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        rgb.withUnsafeMutableBufferPointer { out in
            pixels.withUnsafeBufferPointer { luma in
                chroma.u.withUnsafeBufferPointer { u in
                    chroma.v.withUnsafeBufferPointer { v in
                        for y in 0..<height {
                            let chromaRow = (y / 2) * chroma.width
                            for x in 0..<width {
                                let c = chromaRow + x / 2
                                let pixel = Self.lumaExactRGB(luma: luma[y * width + x], cb: u[c], cr: v[c])
                                let i = 3 * (y * width + x)
                                out[i] = pixel.r; out[i + 1] = pixel.g; out[i + 2] = pixel.b
                            }
                        }
                    }
                }
            }
        }
        return ByteImage(width: width, height: height, channels: 3, pixels: rgb)
    }

    /// Full-range BT.601 YCbCr to RGB, then the nearest RGB whose `grayscale()` luma is `luma`. A step of
    /// green moves that luma by 0.587 and never skips a level, so green alone gets there unless it is at
    /// 0 or 255; red and blue follow. Gray (r = g = b = luma) always satisfies it, so the walk ends.
    static func lumaExactRGB(luma: UInt8, cb: UInt8, cr: UInt8) -> (r: UInt8, g: UInt8, b: UInt8) {
        let y = Int(luma) << 16, u = Int(cb) - 128, v = Int(cr) - 128, target = Int(luma)
        // R = Y + 1.402 V, G = Y - 0.344136 U - 0.714136 V, B = Y + 1.772 U, in 16-bit fixed point.
        var r = min(255, max(0, (y + 91881 * v + 32768) >> 16))
        var g = min(255, max(0, (y - 22554 * u - 46802 * v + 32768) >> 16))
        var b = min(255, max(0, (y + 116130 * u + 32768) >> 16))
        var current = (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16
        while current != target {
            let step = current < target ? 1 : -1
            // Green first (the largest share of luma, in steps under one level), then red, then blue.
            if (0...255).contains(g + step) { g += step } else if (0...255).contains(r + step) { r += step } else { b += step }
            current = (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16
        }
        return (UInt8(r), UInt8(g), UInt8(b))
    }
}
