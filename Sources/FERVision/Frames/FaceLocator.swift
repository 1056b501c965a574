/// Where the faces are in each frame: what the pipeline classifies.
///
/// Called once per frame, in frame order, on the pipeline's preprocessing queue, so a locator may keep
/// state from frame to frame (tracking).
public protocol FaceLocator: AnyObject {
    /// The squares to classify, each with the face's index (stable across frames for a tracked face).
    func locate(in image: ByteImage) -> [(index: Int, box: PixelRect)]
}

/// The frame's center square, as face 0: for a user sitting in the middle, or faces already cropped.
public final class CenterCropLocator: FaceLocator {
    public init() {}
    public func locate(in image: ByteImage) -> [(index: Int, box: PixelRect)] {
        [(0, PixelRect.centerSquare(width: image.width, height: image.height))]
    }
}

/// Faces found by a cascade and tracked across frames, each cropped as a square around the detection
/// grown by `margin` on every side (0 by default: on FER2013's validation faces the cascade's own box
/// classified best; see benchmarks/face_margin.py).
public final class CascadeFaceLocator: FaceLocator {
    public let finder: FaceFinder
    public let tracker: FaceTracker
    public let margin: Double
    /// Faces beyond this many (the largest first) are not classified.
    public let maximumFaces: Int

    public init(finder: FaceFinder, tracker: FaceTracker = FaceTracker(), margin: Double = 0, maximumFaces: Int = 3) {
        self.finder = finder
        self.tracker = tracker
        self.margin = margin
        self.maximumFaces = maximumFaces
    }

    public func locate(in image: ByteImage) -> [(index: Int, box: PixelRect)] {
        let found = Array(finder.faces(in: image).prefix(maximumFaces))
        return tracker.update(with: found).map { face in
            (face.index, face.box.squareCrop(margin: margin, frameWidth: image.width, frameHeight: image.height))
        }.sorted { $0.index < $1.index }
    }
}
