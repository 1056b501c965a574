import Foundation

/// Random changes of light, optics, sensor and codec: the ways a face from a webcam or a video differs
/// from FER2013's, which are cropped from photographs of one look. `strength` in 0...1 scales every range
/// (0: off, 1: the widest). In the order a camera applies them:
/// - blur (out of focus, motion, a face scaled down from few pixels): with probability 0.3 x strength, a
///   Gaussian of sigma 0.3 to 0.3 + 0.9 x strength pixels;
/// - light: contrast about the image's mean by a factor in 1 +- 0.4 x strength, brightness by
///   +- 0.25 x strength of the full scale, then gamma log-uniform in 1.5^(+-strength);
/// - sensor noise: with probability 0.5 x strength, Gaussian of sigma up to 0.04 x strength of the full scale;
/// - JPEG: with probability 0.3 x strength, re-encoded at quality 20-80.
/// Draws happen only while it is on, so runs without it see the same random stream as before it existed.
public struct PhotometricJitter: Sendable, Equatable {
    public var strength: Double

    public init(strength: Double = 0) { self.strength = strength }

    public var isEnabled: Bool { strength > 0 }

    /// Changes `pixels` (`size` x `size`, 8-bit gray) in place.
    public func apply(_ pixels: inout [UInt8], size: Int, random: inout SplitMix64) {
        guard isEnabled else { return }
        precondition(pixels.count == size * size, "\(pixels.count) pixels are not \(size)x\(size)")
        var values = pixels.map { Double($0) / 255 }
        if random.openUnit() < 0.3 * strength {
            blur(&values, size: size, sigma: 0.3 + 0.9 * strength * random.openUnit())
        }
        let contrast = 1 + 0.4 * strength * Double(random.uniform(-1, 1))
        let brightness = 0.25 * strength * Double(random.uniform(-1, 1))
        let gamma = Foundation.pow(1.5, strength * Double(random.uniform(-1, 1)))
        let mean = values.reduce(0, +) / Double(values.count)
        for i in values.indices {
            let lit = min(1, max(0, (values[i] - mean) * contrast + mean + brightness))
            values[i] = Foundation.pow(lit, gamma)
        }
        if random.openUnit() < 0.5 * strength {
            let sigma = 0.04 * strength * random.openUnit()
            for i in values.indices { values[i] += sigma * random.normal() }
        }
        for i in values.indices { pixels[i] = UInt8(min(255, max(0, (values[i] * 255).rounded()))) }
        if random.openUnit() < 0.3 * strength {
            let quality = 20 + Int(random.next() % 61)
            // A codec failure on a 48x48 gray image in memory would be a bug; the image stays as it was then.
            if let encoded = try? ImageEncoder.jpeg(ByteImage(width: size, height: size, pixels: pixels), quality: quality),
               let decoded = try? ImageDecoder.decode(encoded, path: "<augmentation>"),
               decoded.width == size, decoded.height == size, decoded.channels == 1 {
                pixels = decoded.pixels
            }
        }
    }

    /// A separable Gaussian blur with edge pixels repeated.
    private func blur(_ values: inout [Double], size: Int, sigma: Double) {
        let radius = max(1, Int((2 * sigma).rounded(.up)))
        var kernel = (-radius...radius).map { Foundation.exp(-Double($0 * $0) / (2 * sigma * sigma)) }
        let total = kernel.reduce(0, +)
        kernel = kernel.map { $0 / total }
        var pass = values
        for y in 0..<size {
            for x in 0..<size {
                var sum = 0.0
                for (k, weight) in kernel.enumerated() { sum += weight * values[y * size + min(size - 1, max(0, x + k - radius))] }
                pass[y * size + x] = sum
            }
        }
        for y in 0..<size {
            for x in 0..<size {
                var sum = 0.0
                for (k, weight) in kernel.enumerated() { sum += weight * pass[min(size - 1, max(0, y + k - radius)) * size + x] }
                values[y * size + x] = sum
            }
        }
    }
}
