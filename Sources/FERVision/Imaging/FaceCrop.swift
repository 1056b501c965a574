import Foundation

/// The square of an image that becomes the network's input: its center, side and rotation, in image
/// pixels (x right, y down; the pixel at column c covers [c, c + 1)).
///
/// A face aligned on its eyes is a rotated square of fractional size; a center crop or a box crop is an
/// axis-aligned square of whole pixels (`pixelRect`), which the preprocessor cuts and area-averages as it
/// always has, so FER2013's own 48x48 faces reach the network untouched.
public struct FaceCrop: Equatable, Sendable {
    /// The square's center.
    public let center: SIMD2<Double>
    /// Its side.
    public let side: Double
    /// Its rotation in radians: the crop's x axis is the image's x axis turned by this much (toward +y).
    public let angle: Double
    /// The rectangle when the crop is one of whole pixels (made from a `PixelRect`), else nil.
    public let exactRect: PixelRect?

    public init(center: SIMD2<Double>, side: Double, angle: Double = 0) {
        self.center = center
        self.side = side
        self.angle = angle
        exactRect = nil
    }

    /// The axis-aligned crop `rect` (a square for every crop fer-live makes).
    public init(_ rect: PixelRect) {
        center = SIMD2(Double(rect.x) + Double(rect.width) / 2, Double(rect.y) + Double(rect.height) / 2)
        side = Double(max(rect.width, rect.height))
        angle = 0
        exactRect = rect
    }

    /// Where a point of the crop lands in the image: `u`, `v` in [-0.5, 0.5] across the crop (0 at its
    /// center), before rotation.
    public func imagePoint(u: Double, v: Double) -> SIMD2<Double> {
        let c = cos(angle), s = sin(angle)
        return center + side * SIMD2(c * u - s * v, s * u + c * v)
    }

    /// The axis-aligned box around the crop, in whole pixels (for showing where it is).
    public var boundingRect: PixelRect {
        let corners = [(-0.5, -0.5), (0.5, -0.5), (-0.5, 0.5), (0.5, 0.5)].map { imagePoint(u: $0.0, v: $0.1) }
        let left = corners.map(\.x).min()!, right = corners.map(\.x).max()!
        let top = corners.map(\.y).min()!, bottom = corners.map(\.y).max()!
        return PixelRect(x: Int(left.rounded(.down)), y: Int(top.rounded(.down)),
                         width: Int(right.rounded(.up)) - Int(left.rounded(.down)), height: Int(bottom.rounded(.up)) - Int(top.rounded(.down)))
    }

    /// The crop sampled to `size` x `size` gray values on the [0, 1] scale: each output pixel averages a
    /// k x k grid of bilinear samples over its footprint, k = ceil(side / size) (at most 8), a box
    /// prefilter like area averaging, so a large face is not aliased on its way down to 48 pixels. Points
    /// outside the image take the nearest edge pixel.
    func sampled(_ gray: ByteImage, size: Int) -> [Float] {
        precondition(gray.channels == 1)
        let k = min(8, max(1, Int((side / Double(size)).rounded(.up))))
        let c = cos(angle), s = sin(angle), step = side / Double(size * k)
        // Image position of sub-sample (0, 0) and the per-sub-sample steps along the crop's axes.
        let origin = imagePoint(u: -0.5, v: -0.5) + SIMD2(c - s, s + c) * (step / 2)
        let alongU = SIMD2(c, s) * step, alongV = SIMD2(-s, c) * step
        let width = gray.width, height = gray.height
        var result = [Float](repeating: 0, count: size * size)
        let weight = 1 / Float(k * k * 255)
        gray.pixels.withUnsafeBufferPointer { pixels in
            @inline(__always) func at(_ x: Int, _ y: Int) -> Float {
                Float(pixels[min(height - 1, max(0, y)) * width + min(width - 1, max(0, x))])
            }
            for j in 0..<size {
                for i in 0..<size {
                    var sum: Float = 0
                    for b in 0..<k {
                        for a in 0..<k {
                            // Pixel centers sit at +0.5: shift to sample-index space.
                            let p = origin + alongU * Double(i * k + a) + alongV * Double(j * k + b) - 0.5
                            let x0 = Int(p.x.rounded(.down)), y0 = Int(p.y.rounded(.down))
                            let fx = Float(p.x - Double(x0)), fy = Float(p.y - Double(y0))
                            let top = at(x0, y0) * (1 - fx) + at(x0 + 1, y0) * fx
                            let bottom = at(x0, y0 + 1) * (1 - fx) + at(x0 + 1, y0 + 1) * fx
                            sum += top * (1 - fy) + bottom * fy
                        }
                    }
                    result[j * size + i] = sum * weight
                }
            }
        }
        return result
    }
}
