import Foundation

/// The centers of a face's two eyes, in image pixels; `left` is the one on the image's left.
public struct EyePair: Equatable, Sendable {
    public var left: SIMD2<Double>
    public var right: SIMD2<Double>

    public init(left: SIMD2<Double>, right: SIMD2<Double>) {
        self.left = left
        self.right = right
    }

    /// Distance between the eye centers.
    public var distance: Double {
        let d = right - left
        return (d * d).sum().squareRoot()
    }

    /// Angle of the eye line from the image's x axis, in radians (positive: the right eye lower, y down).
    public var angle: Double { atan2(right.y - left.y, right.x - left.x) }

    public var midpoint: SIMD2<Double> { (left + right) / 2 }
}

/// Finds the two eyes inside a face box with an eye cascade (OpenCV's haarcascade_eye.xml, evaluated by
/// `CascadeDetector`).
///
/// The box's upper part is scaled to a fixed width (`normalizedWidth`), so the search costs the same
/// for every face and eyes fall in a known size range; candidates are then paired: one on each side of
/// the box's center, level within `maximumTilt`, their distance a plausible share of the face's width,
/// of similar size. Among the pairs that pass, the most symmetric about the box's center with the most
/// agreeing hits wins. Mouth corners and nostrils, which the eye cascade also fires on, sit below the
/// searched band or fail the pairing.
///
/// Thread safety: immutable; `eyes(in:face:)` may run on several threads at once.
public struct EyeFinder: Sendable {
    public let detector: CascadeDetector
    /// The face box's width in the searched image, in pixels.
    public static let normalizedWidth = 120
    /// The band of the face box searched, as fractions of its height from the top.
    public static let band = 0.15...0.62
    /// Largest eye-line tilt accepted, in radians (about 25 degrees).
    public static let maximumTilt = 0.44

    public init(detector: CascadeDetector) { self.detector = detector }

    /// Loads the eye cascade file (see `CascadeFiles.locateEyes`).
    public init(contentsOf path: String) throws(CascadeError) {
        self.init(detector: try CascadeDetector(contentsOf: path))
    }

    /// The eyes in `face` (a box in `image`'s pixels), or nil when no plausible pair was found.
    public func eyes(in image: ByteImage, face: PixelRect) -> EyePair? {
        let gray = image.grayscale()
        let top = face.y + Int((Double(face.height) * Self.band.lowerBound).rounded(.down))
        let bottom = face.y + Int((Double(face.height) * Self.band.upperBound).rounded(.up))
        let region = PixelRect(x: face.x, y: top, width: face.width, height: bottom - top)
            .clamped(toWidth: gray.width, height: gray.height)
        guard region.width >= 8, region.height >= 4 else { return nil }
        let factor = Double(Self.normalizedWidth) / Double(face.width)
        let width = max(1, Int((Double(region.width) * factor).rounded()))
        let height = max(1, Int((Double(region.height) * factor).rounded()))
        var pixels = [UInt8](repeating: 0, count: region.width * region.height)
        gray.pixels.withUnsafeBufferPointer { source in
            for y in 0..<region.height {
                let row = (region.y + y) * gray.width + region.x
                for x in 0..<region.width { pixels[y * region.width + x] = source[row + x] }
            }
        }
        let crop = ByteImage(width: region.width, height: region.height, pixels: pixels)
        let searched = ByteImage(width: width, height: height, pixels: LinearResize.resize(crop, width: width, height: height))
        // Eyes are 15-40% of the face's width; the cascade's 20x20 window sets the floor.
        let parameters = DetectionParameters(scaleFactor: 1.08, minNeighbors: 2, minSize: 18,
                                             maxSize: Int(0.4 * Double(Self.normalizedWidth)))
        let candidates = detector.detect(searched, parameters: parameters).map { hit in
            (center: SIMD2(Double(region.x), Double(region.y))
                + SIMD2(Double(hit.box.x) + Double(hit.box.width) / 2, Double(hit.box.y) + Double(hit.box.height) / 2) / factor,
             size: Double(hit.box.width) / factor, neighbors: hit.neighbors)
        }
        let centerX = Double(face.x) + Double(face.width) / 2, faceWidth = Double(face.width)
        var best: (score: Double, pair: EyePair)?
        for a in candidates {
            for b in candidates where b.center.x > a.center.x {
                let pair = EyePair(left: a.center, right: b.center)
                let separation = pair.distance / faceWidth
                guard a.center.x < centerX, b.center.x > centerX, (0.25...0.65).contains(separation),
                      abs(pair.angle) <= Self.maximumTilt, max(a.size, b.size) <= 1.7 * min(a.size, b.size) else { continue }
                let asymmetry = abs(pair.midpoint.x - centerX) / faceWidth
                let score = Double(min(a.neighbors, b.neighbors)) - 40 * asymmetry
                if best == nil || score > best!.score { best = (score, pair) }
            }
        }
        return best?.pair
    }
}
