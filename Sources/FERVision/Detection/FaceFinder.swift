/// Finds faces in frames with a cascade, fast enough for live video: frames wider than `searchWidth`
/// are searched at that width (a 640x480 frame at 320x240 costs a quarter) and the boxes scaled back.
public struct FaceFinder: Sendable {
    public let detector: CascadeDetector
    /// Search settings in frame pixels (minSize and maxSize are face sides in the frame).
    public let parameters: DetectionParameters
    /// Frames wider than this are searched downscaled to it; nil searches at full size.
    public let searchWidth: Int?
    /// Threads a full-frame search may use (its scales in parallel).
    public let threads: Int

    public init(detector: CascadeDetector, parameters: DetectionParameters = DetectionParameters(), searchWidth: Int? = 320,
                threads: Int = 1) {
        self.detector = detector
        self.parameters = parameters
        self.searchWidth = searchWidth
        self.threads = max(1, threads)
    }

    /// The faces in `image`, in frame pixels, largest first.
    public func faces(in image: ByteImage) -> [PixelRect] { detections(in: image).map(\.box) }

    /// The faces in `image` with the hits that agreed on each, in frame pixels, largest first.
    public func detections(in image: ByteImage) -> [FaceDetection] {
        let searched = searchImage(for: image)
        return ordered(searched.toFrame(detector.detect(searched.image, parameters: searched.parameters, threads: threads)))
    }

    /// The image a whole-frame search runs on: the frame in gray, downscaled to `searchWidth`, with the
    /// parameters in its pixels and the way back to the frame's.
    struct SearchImage {
        let image: ByteImage
        let parameters: DetectionParameters
        let factor: Double
        let frameWidth: Int, frameHeight: Int

        func toFrame(_ found: [FaceDetection]) -> [FaceDetection] {
            guard factor != 1 else { return found }
            return found.map { face in
                FaceDetection(box: PixelRect(x: Int((Double(face.box.x) * factor).rounded()), y: Int((Double(face.box.y) * factor).rounded()),
                                             width: Int((Double(face.box.width) * factor).rounded()),
                                             height: Int((Double(face.box.height) * factor).rounded()))
                                  .clamped(toWidth: frameWidth, height: frameHeight),
                              neighbors: face.neighbors)
            }
        }
    }

    func searchImage(for image: ByteImage) -> SearchImage {
        let gray = image.grayscale()
        guard let searchWidth, gray.width > searchWidth, searchWidth > 0 else {
            return SearchImage(image: gray, parameters: parameters, factor: 1, frameWidth: gray.width, frameHeight: gray.height)
        }
        let factor = Double(gray.width) / Double(searchWidth)
        let height = max(1, Int((Double(gray.height) / factor).rounded()))
        let small = ByteImage(width: searchWidth, height: height, pixels: LinearResize.resize(gray, width: searchWidth, height: height))
        var scaled = parameters
        scaled.minSize = max(1, Int((Double(parameters.minSize) / factor).rounded()))
        scaled.maxSize = parameters.maxSize.map { max(1, Int((Double($0) / factor).rounded())) }
        return SearchImage(image: small, parameters: scaled, factor: factor, frameWidth: gray.width, frameHeight: gray.height)
    }

    /// Searches only around faces seen in the last frame: a region twice each face's size, at face sizes
    /// from 0.7x to 1.4x of it, the region scaled so the face is about 60 pixels. A few hundred windows
    /// instead of tens of thousands; new faces elsewhere wait for the next full search.
    public func faces(in image: ByteImage, near previous: [PixelRect]) -> [PixelRect] {
        let gray = image.grayscale()
        var found: [PixelRect] = []
        for box in previous {
            let side = max(box.width, box.height)
            let region = PixelRect(x: box.x - side / 2, y: box.y - side / 2, width: 2 * side, height: 2 * side)
                .clamped(toWidth: gray.width, height: gray.height)
            guard region.width >= detector.cascade.windowWidth, region.height >= detector.cascade.windowHeight else { continue }
            let factor = max(1, Double(side) / 60)
            let width = max(1, Int((Double(region.width) / factor).rounded())), height = max(1, Int((Double(region.height) / factor).rounded()))
            var pixels = [UInt8](repeating: 0, count: region.width * region.height)
            for y in 0..<region.height {
                for x in 0..<region.width { pixels[y * region.width + x] = gray.pixels[(region.y + y) * gray.width + region.x + x] }
            }
            let crop = ByteImage(width: region.width, height: region.height, pixels: pixels)
            let small = ByteImage(width: width, height: height, pixels: LinearResize.resize(crop, width: width, height: height))
            var near = parameters
            near.minSize = Int(0.7 * Double(side) / factor)
            near.maxSize = Int((1.4 * Double(side) / factor).rounded(.up))
            for face in detector.detect(small, parameters: near) {
                let mapped = PixelRect(x: region.x + Int((Double(face.box.x) * factor).rounded()),
                                       y: region.y + Int((Double(face.box.y) * factor).rounded()),
                                       width: Int((Double(face.box.width) * factor).rounded()),
                                       height: Int((Double(face.box.height) * factor).rounded()))
                // Regions of faces close together can find the same face twice.
                if !found.contains(where: { $0.overlap(with: mapped) > 0.3 }) { found.append(mapped) }
            }
        }
        return found.sorted(by: Self.reportedBefore)
    }

    func ordered(_ faces: [FaceDetection]) -> [FaceDetection] { faces.sorted { Self.reportedBefore($0.box, $1.box) } }

    /// The order faces are reported in: the largest first, then the leftmost.
    static func reportedBefore(_ a: PixelRect, _ b: PixelRect) -> Bool {
        (a.width * a.height, -a.x) > (b.width * b.height, -b.x)
    }
}
