/// A face of a frame and how it is cut out for the network.
public struct LocatedFace: Equatable, Sendable {
    /// Stable across frames for a tracked face (0 for the center crop).
    public let index: Int
    /// The face's square in frame pixels: what is shown and written.
    public let box: PixelRect
    /// What is classified (see `FaceAligner`).
    public let crop: FaceCrop
    /// The eyes the crop was aligned on, if any.
    public let eyes: EyePair?

    public init(index: Int, box: PixelRect, crop: FaceCrop, eyes: EyePair? = nil) {
        self.index = index
        self.box = box
        self.crop = crop
        self.eyes = eyes
    }

    /// A face classified as the square `box` itself.
    public init(index: Int, box: PixelRect) {
        self.init(index: index, box: box, crop: FaceCrop(box))
    }
}

/// Where the faces are in each frame: what the pipeline classifies.
///
/// Called once per frame, in frame order, on the pipeline's preprocessing queue, so a locator may keep
/// state from frame to frame (tracking).
public protocol FaceLocator: AnyObject {
    /// The faces to classify, in index order.
    func locate(in image: ByteImage) -> [LocatedFace]
}

/// The frame's center square, as face 0: for a user sitting in the middle, or faces already cropped.
public final class CenterCropLocator: FaceLocator {
    public init() {}
    public func locate(in image: ByteImage) -> [LocatedFace] {
        [LocatedFace(index: 0, box: PixelRect.centerSquare(width: image.width, height: image.height))]
    }
}

/// Faces found by a cascade, tracked across frames (for their numbers), and cut out by a `FaceAligner`.
///
/// How the whole frame is searched is the `schedule`: all of it every frame (lossless replay: each
/// frame's faces are exactly `fer-live detect`'s), or, live while faces are in view, spread over a few
/// frames (`SpreadSearch`), every frame also searched near the faces of the last one
/// (`FaceFinder.faces(in:near:)`), so no frame with a face to classify waits for a whole search.
/// A tracked face's crop is smoothed over frames (`cropSmoothing`): the eye cascade's few pixels of
/// jitter would otherwise shift the crop from frame to frame, and the label with it.
///
/// A face the search misses keeps its track (and number) for the tracker's patience, but is looked for
/// where it was only for `searchPatience` frames: after a scene cut, searching near every face of the
/// last shot for ten frames cost more than the whole search that finds the new ones.
public final class CascadeFaceLocator: FaceLocator {
    public let finder: FaceFinder
    public let tracker: FaceTracker
    public let aligner: FaceAligner
    /// Faces beyond this many (the largest first) are not classified.
    public let maximumFaces: Int
    /// When the whole frame is searched.
    public enum Schedule: Sendable, Equatable {
        /// Every frame: no face the search can find is missed.
        case everyFrame
        /// While faces are tracked, the whole search spread over `frames` frames, a part per frame, and
        /// near the tracked faces in every frame; while none is, the whole search every frame. A new face
        /// appears in the output at most `2 * frames - 1` frames after it comes into view.
        case spread(frames: Int)
    }

    public let schedule: Schedule
    /// Weight of the newest frame's crop in a tracked face's crop (1: no smoothing).
    public let cropSmoothing: Double
    /// Frames a missed face is still searched for near its last box.
    public let searchPatience: Int
    private let spreadSearch: SpreadSearch?
    private var crops: [Int: FaceCrop] = [:]

    public init(finder: FaceFinder, tracker: FaceTracker = FaceTracker(), aligner: FaceAligner = FaceAligner(framing: .box(margin: 0), eyeFinder: nil),
                maximumFaces: Int = 3, schedule: Schedule = .everyFrame, cropSmoothing: Double = 0.5, searchPatience: Int = 1) {
        self.finder = finder
        self.tracker = tracker
        self.aligner = aligner
        self.maximumFaces = maximumFaces
        self.schedule = schedule
        self.cropSmoothing = min(1, max(0, cropSmoothing))
        self.searchPatience = max(0, searchPatience)
        if case .spread(let frames) = schedule { spreadSearch = SpreadSearch(finder: finder, parts: frames) } else { spreadSearch = nil }
    }

    public func locate(in image: ByteImage) -> [LocatedFace] {
        // Faces seen in the last frames: one the search lost for a frame is looked for where it was, not
        // by a whole search; the most recently seen first, as many as are classified.
        let tracked = tracker.tracks.filter { $0.missed <= searchPatience }.sorted { $0.missed < $1.missed }
            .prefix(maximumFaces).map(\.box)
        let found: [PixelRect]
        if let spreadSearch, !tracked.isEmpty {
            let near = finder.faces(in: image, near: tracked)
            // A completed whole search adds the faces it found away from the ones followed this frame
            // (those are current; its boxes are up to a cycle old).
            let new = (spreadSearch.advance(with: image) ?? []).filter { face in !near.contains { $0.overlap(with: face) > 0.3 } }
            found = Array((near + new).sorted(by: FaceFinder.reportedBefore).prefix(maximumFaces))
        } else {
            // Every frame's whole search; live, only while no face is tracked, when there is nothing to
            // classify that it could delay.
            found = Array(finder.faces(in: image).prefix(maximumFaces))
        }
        let faces = tracker.update(with: found).map { face -> LocatedFace in
            let (crop, eyes) = aligner.crop(face: face.box, in: image)
            let square = face.box.squareCrop(margin: 0, frameWidth: image.width, frameHeight: image.height)
            return LocatedFace(index: face.index, box: square, crop: smoothed(crop, face: face.index), eyes: eyes)
        }.sorted { $0.index < $1.index }
        let live = Set(tracker.tracks.map(\.index))
        crops = crops.filter { live.contains($0.key) }
        return faces
    }

    /// The face's crop blended with its last one (center, side and angle alike); whole-pixel crops
    /// (`.box` framing) stay as they are, so they keep the exact area-averaging path.
    private func smoothed(_ crop: FaceCrop, face: Int) -> FaceCrop {
        guard crop.exactRect == nil, cropSmoothing < 1, let last = crops[face] else {
            crops[face] = crop
            return crop
        }
        let a = cropSmoothing
        let blended = FaceCrop(center: a * crop.center + (1 - a) * last.center, side: a * crop.side + (1 - a) * last.side,
                               angle: a * crop.angle + (1 - a) * last.angle)
        crops[face] = blended
        return blended
    }
}
