/// Keeps each face's index stable across frames: a detection continues the track whose last box it
/// overlaps most (intersection over union at least `minimumOverlap`); the best-overlapping pairs are
/// matched first. A detection matching no track starts a new index; a track unseen for `patience` frames
/// ends.
public final class FaceTracker {
    public struct Track: Equatable, Sendable {
        public let index: Int
        public var box: PixelRect
        /// Frames since the track last matched a detection.
        public var missed: Int
    }

    public let minimumOverlap: Double
    public let patience: Int
    public private(set) var tracks: [Track] = []
    private var nextIndex = 0

    public init(minimumOverlap: Double = 0.3, patience: Int = 10) {
        self.minimumOverlap = minimumOverlap
        self.patience = patience
    }

    /// Assigns an index to each of this frame's detections; returns (index, box) in detection order.
    public func update(with detections: [PixelRect]) -> [(index: Int, box: PixelRect)] {
        var pairs: [(overlap: Double, track: Int, detection: Int)] = []
        for (t, track) in tracks.enumerated() {
            for (d, box) in detections.enumerated() {
                let overlap = track.box.overlap(with: box)
                if overlap >= minimumOverlap { pairs.append((overlap, t, d)) }
            }
        }
        pairs.sort { ($0.overlap, -$0.track, -$0.detection) > ($1.overlap, -$1.track, -$1.detection) }
        var trackOf = [Int?](repeating: nil, count: detections.count)
        var taken = Set<Int>()
        for pair in pairs where trackOf[pair.detection] == nil && !taken.contains(pair.track) {
            trackOf[pair.detection] = pair.track
            taken.insert(pair.track)
        }
        for t in tracks.indices { tracks[t].missed += 1 }
        var assigned: [(index: Int, box: PixelRect)] = []
        for (d, box) in detections.enumerated() {
            if let t = trackOf[d] {
                tracks[t].box = box
                tracks[t].missed = 0
                assigned.append((tracks[t].index, box))
            } else {
                tracks.append(Track(index: nextIndex, box: box, missed: 0))
                assigned.append((nextIndex, box))
                nextIndex += 1
            }
        }
        tracks.removeAll { $0.missed > patience }
        return assigned
    }
}
