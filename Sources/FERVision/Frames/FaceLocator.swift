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
///
/// While faces are in view, most frames are searched only near them (`FaceFinder.faces(in:near:)`); the
/// whole frame is searched every `fullSearchInterval` frames, and whenever no face was seen last frame.
public final class CascadeFaceLocator: FaceLocator {
    public let finder: FaceFinder
    public let tracker: FaceTracker
    public let margin: Double
    /// Faces beyond this many (the largest first) are not classified.
    public let maximumFaces: Int
    /// How often (in frames) the whole frame is searched for new faces; 1 searches every frame.
    public let fullSearchInterval: Int
    private var framesSinceFullSearch = 0

    public init(finder: FaceFinder, tracker: FaceTracker = FaceTracker(), margin: Double = 0, maximumFaces: Int = 3,
                fullSearchInterval: Int = 10) {
        self.finder = finder
        self.tracker = tracker
        self.margin = margin
        self.maximumFaces = maximumFaces
        self.fullSearchInterval = max(1, fullSearchInterval)
    }

    public func locate(in image: ByteImage) -> [(index: Int, box: PixelRect)] {
        let seen = tracker.tracks.filter { $0.missed == 0 }.map(\.box)
        framesSinceFullSearch += 1
        let found: [PixelRect]
        if seen.isEmpty || framesSinceFullSearch >= fullSearchInterval {
            found = Array(finder.faces(in: image).prefix(maximumFaces))
            framesSinceFullSearch = 0
        } else {
            found = Array(finder.faces(in: image, near: seen).prefix(maximumFaces))
        }
        return tracker.update(with: found).map { face in
            (face.index, face.box.squareCrop(margin: margin, frameWidth: image.width, frameHeight: image.height))
        }.sorted { $0.index < $1.index }
    }
}
