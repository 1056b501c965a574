import Foundation

/// How a face found in a frame is cut out for the network.
public enum FaceFraming: Sendable, Equatable {
    /// FER2013's framing: the crop puts the eyes where FER2013's faces have them (eye line level, eye
    /// distance and height as measured), or, where no eyes are found, the cascade box in the measured
    /// relation to that crop.
    case aligned
    /// The cascade box's square grown by `margin` (a fraction of its side; negative shrinks) on every side.
    case box(margin: Double)
}

/// Cuts faces out of frames the way FER2013 framed its faces, so a real face reaches the network at the
/// scale, position and angle the network learned.
///
/// The framing was measured, not chosen (benchmarks/face_framing.py, BENCHMARKS.md "Face framing"):
/// OpenCV's eye cascade, run by fer-live on 3,000 FER2013 training faces, finds the eye centers at
/// (14.4, 18.6) and (32.8, 18.2) of the 48x48 image (medians; eyes found in 62%). An aligned crop is the
/// similarity transform that puts a face's eyes there: rotated so the eye line is level, scaled so the eye
/// distance is FER2013's, shifted so the eyes' midpoint is. On the real clips, that crop's side is 0.98 of
/// the face cascade's box side (median; 0.80-1.01 from person to person) and its center sits 0.01 box
/// sides below the box's center: the fallback when no eyes are found.
///
/// Thread safety: immutable; use from any thread.
public struct FaceAligner: Sendable {
    /// Where FER2013's eyes are, in input pixels of a 48x48 face (x right, y down; pixel c covers
    /// [c, c + 1)). The measured heights differ by 0.4 pixel; their mean keeps the eye line level.
    public static let fer2013LeftEye = SIMD2(14.4, 18.4)
    public static let fer2013RightEye = SIMD2(32.8, 18.4)
    /// The side of FER2013's faces, which the eye positions above are in.
    public static let fer2013Side = 48.0
    /// The aligned crop relative to the cascade box on real faces, in box sides: center offset and side.
    public static let boxOffset = SIMD2(0.0, 0.01)
    public static let boxScale = 0.98

    /// Finds the eyes for `.aligned` framing; without one, every face takes the box fallback.
    public let eyeFinder: EyeFinder?
    public let framing: FaceFraming

    public init(framing: FaceFraming, eyeFinder: EyeFinder?) {
        self.framing = framing
        self.eyeFinder = eyeFinder
    }

    /// The crop for the face in `box`, and the eyes it was aligned on (nil: none were used).
    public func crop(face box: PixelRect, in image: ByteImage) -> (crop: FaceCrop, eyes: EyePair?) {
        switch framing {
        case .box(let margin):
            return (FaceCrop(box.squareCrop(margin: margin, frameWidth: image.width, frameHeight: image.height)), nil)
        case .aligned:
            if let eyes = eyeFinder?.eyes(in: image, face: box) { return (Self.crop(eyes: eyes), eyes) }
            return (Self.crop(box: box), nil)
        }
    }

    /// The crop that puts `eyes` where FER2013 has them.
    public static func crop(eyes: EyePair) -> FaceCrop {
        let canonical = fer2013RightEye - fer2013LeftEye
        let scale = eyes.distance / (canonical * canonical).sum().squareRoot()      // frame pixels per input pixel
        let angle = eyes.angle - atan2(canonical.y, canonical.x)
        // From the canonical eye midpoint to the input's center, in input pixels, turned into the frame.
        let toCenter = (SIMD2(fer2013Side, fer2013Side) / 2 - (fer2013LeftEye + fer2013RightEye) / 2) * scale
        let c = cos(angle), s = sin(angle)
        let center = eyes.midpoint + SIMD2(c * toCenter.x - s * toCenter.y, s * toCenter.x + c * toCenter.y)
        return FaceCrop(center: center, side: fer2013Side * scale, angle: angle)
    }

    /// The crop for a cascade box when no eyes are found: the box in the measured relation.
    public static func crop(box: PixelRect) -> FaceCrop {
        let side = Double(max(box.width, box.height))
        let center = SIMD2(Double(box.x) + Double(box.width) / 2, Double(box.y) + Double(box.height) / 2) + boxOffset * side
        return FaceCrop(center: center, side: side * boxScale)
    }
}
