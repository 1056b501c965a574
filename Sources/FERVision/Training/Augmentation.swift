import Foundation

/// Random training-time changes to a square 8-bit image, each switchable (RECIPE.md): pad 4 and crop
/// back at a random offset, horizontal flip with probability 0.5, rotation by a uniform angle in
/// +-`maxRotationDegrees` and a zoom by a uniform factor in 1 +- `scaleJitter` about the center, in one
/// resampling (nearest neighbour, black fill, like torchvision's RandomRotation and RandomAffine defaults),
/// then random erasing (torchvision's RandomErasing: with probability `erasing`, a rectangle of 2-33% of
/// the area and aspect ratio 0.3-3.3 is set to `erasingValue`, the mean pixel, which normalizes to 0 as
/// torchvision's default fill after Normalize does).
/// Applied to raw pixels, before normalization, in that order.
public struct Augmentation: Sendable, Equatable {
    public var padCrop: Bool
    public var flip: Bool
    public var rotation: Bool
    /// Probability of erasing a rectangle (0: never).
    public var erasing: Double
    /// The value erased pixels get.
    public var erasingValue: UInt8
    /// Largest relative zoom in or out (0: none). A detected face's box varies in scale from person to
    /// person and frame to frame; FER2013's faces do not, so without it a model learns one scale only.
    public var scaleJitter: Double
    public var padding = 4
    public var maxRotationDegrees = 10.0

    public init(padCrop: Bool = false, flip: Bool = true, rotation: Bool = true, erasing: Double = 0, erasingValue: UInt8 = 0,
                scaleJitter: Double = 0) {
        self.padCrop = padCrop
        self.scaleJitter = scaleJitter
        self.flip = flip
        self.rotation = rotation
        self.erasing = erasing
        self.erasingValue = erasingValue
    }

    /// No augmentation at all.
    public static let none = Augmentation(padCrop: false, flip: false, rotation: false)

    public var isEnabled: Bool { padCrop || flip || rotation || erasing > 0 || scaleJitter > 0 }

    /// The augmented copy of `image` (`size` x `size`).
    public func apply(_ image: ArraySlice<UInt8>, size: Int, random: inout SplitMix64) -> [UInt8] {
        var pixels = Array(image)
        if padCrop {
            let dx = Int(random.next() % UInt64(2 * padding + 1)) - padding
            let dy = Int(random.next() % UInt64(2 * padding + 1)) - padding
            var shifted = [UInt8](repeating: 0, count: pixels.count)
            for y in 0..<size {
                let sy = y + dy
                guard sy >= 0, sy < size else { continue }
                for x in 0..<size {
                    let sx = x + dx
                    if sx >= 0, sx < size { shifted[y * size + x] = pixels[sy * size + sx] }
                }
            }
            pixels = shifted
        }
        if flip, random.next() & 1 == 1 {
            for y in 0..<size { pixels[y * size..<(y + 1) * size].reverse() }
        }
        if rotation || scaleJitter > 0 {
            // Draws happen only for the steps that are on, so a run without scale jitter sees the same
            // random stream as before it existed (its checkpoints resume exactly).
            let degrees = rotation ? Double(random.uniform(-1, 1)) * maxRotationDegrees : 0
            let zoom = scaleJitter > 0 ? 1 + Double(random.uniform(-1, 1)) * scaleJitter : 1
            let angle = degrees * Double.pi / 180
            let c = Foundation.cos(angle) / zoom, s = Foundation.sin(angle) / zoom
            let center = Double(size - 1) / 2
            var warped = [UInt8](repeating: 0, count: pixels.count)
            for y in 0..<size {
                for x in 0..<size {
                    // Inverse map each output pixel to its source, about the image center.
                    let u = Double(x) - center, v = Double(y) - center
                    let sx = Int((c * u + s * v + center).rounded()), sy = Int((-s * u + c * v + center).rounded())
                    if sx >= 0, sx < size, sy >= 0, sy < size { warped[y * size + x] = pixels[sy * size + sx] }
                }
            }
            pixels = warped
        }
        if erasing > 0, Double(random.uniform(0, 1)) < erasing, let area = erasedRectangle(size: size, random: &random) {
            for y in area.y..<area.y + area.height {
                for x in area.x..<area.x + area.width { pixels[y * size + x] = erasingValue }
            }
        }
        return pixels
    }

    /// torchvision's RandomErasing.get_params: up to 10 tries at a rectangle of a random share of the area
    /// (0.02-0.33) and log-uniform aspect ratio (0.3-3.3) that fits; nil when none did.
    private func erasedRectangle(size: Int, random: inout SplitMix64) -> (x: Int, y: Int, width: Int, height: Int)? {
        let area = Double(size * size)
        for _ in 0..<10 {
            let target = area * Double(random.uniform(0.02, 0.33))
            let ratio = Foundation.exp(Double(random.uniform(Float(Foundation.log(0.3)), Float(Foundation.log(3.3)))))
            let height = Int((target * ratio).squareRoot().rounded()), width = Int((target / ratio).squareRoot().rounded())
            guard height < size, width < size, height > 0, width > 0 else { continue }
            let y = Int(random.next() % UInt64(size - height + 1)), x = Int(random.next() % UInt64(size - width + 1))
            return (x, y, width, height)
        }
        return nil
    }
}
