import Foundation

/// Random training-time changes to a square 8-bit image, each switchable (RECIPE.md): pad 4 and crop
/// back at a random offset, horizontal flip with probability 0.5, rotation by a uniform angle in
/// +-`maxRotationDegrees` (nearest neighbour, black fill, like torchvision's RandomRotation defaults).
/// Applied to raw pixels, before normalization, as torchvision transforms are.
public struct Augmentation: Sendable, Equatable {
    public var padCrop: Bool
    public var flip: Bool
    public var rotation: Bool
    public var padding = 4
    public var maxRotationDegrees = 10.0

    public init(padCrop: Bool = false, flip: Bool = true, rotation: Bool = true) {
        self.padCrop = padCrop
        self.flip = flip
        self.rotation = rotation
    }

    /// No augmentation at all.
    public static let none = Augmentation(padCrop: false, flip: false, rotation: false)

    public var isEnabled: Bool { padCrop || flip || rotation }

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
        if rotation {
            let degrees = Double(random.uniform(-1, 1)) * maxRotationDegrees
            let angle = degrees * Double.pi / 180, c = Foundation.cos(angle), s = Foundation.sin(angle)
            let center = Double(size - 1) / 2
            var rotated = [UInt8](repeating: 0, count: pixels.count)
            for y in 0..<size {
                for x in 0..<size {
                    // Inverse map each output pixel to its source, about the image center.
                    let u = Double(x) - center, v = Double(y) - center
                    let sx = Int((c * u + s * v + center).rounded()), sy = Int((-s * u + c * v + center).rounded())
                    if sx >= 0, sx < size, sy >= 0, sy < size { rotated[y * size + x] = pixels[sy * size + sx] }
                }
            }
            pixels = rotated
        }
        return pixels
    }
}
