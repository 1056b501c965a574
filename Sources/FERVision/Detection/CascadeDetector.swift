import Dispatch
import Foundation

/// How to search a frame, with OpenCV's detectMultiScale meaning for each setting.
public struct DetectionParameters: Equatable, Sendable {
    /// Each scale is this much larger than the last (1.1: 10% steps).
    public var scaleFactor = 1.1
    /// A face needs more than this many overlapping hits; fewer are noise.
    public var minNeighbors = 5
    /// Smallest and largest face side searched, in pixels of the searched image (nil: the image).
    public var minSize = 40
    public var maxSize: Int?

    public init(scaleFactor: Double = 1.1, minNeighbors: Int = 5, minSize: Int = 40, maxSize: Int? = nil) {
        self.scaleFactor = scaleFactor
        self.minNeighbors = minNeighbors
        self.minSize = minSize
        self.maxSize = maxSize
    }
}

/// A face found in a frame: its box and how many raw hits agreed on it.
public struct FaceDetection: Equatable, Sendable {
    public let box: PixelRect
    public let neighbors: Int

    public init(box: PixelRect, neighbors: Int) {
        self.box = box
        self.neighbors = neighbors
    }
}

/// Runs a cascade over an image at every scale, as OpenCV's CascadeClassifier::detectMultiScale does:
/// the same scales, resampling, window steps, variance normalization, stage arithmetic and grouping,
/// so the boxes come out as OpenCV's.
///
/// Thread safety: a detector is immutable; `detect` may run on several threads at once.
public final class CascadeDetector: @unchecked Sendable {
    public let cascade: Cascade
    private let lock = NSLock()
    /// The stump scanner compiled for an integral-table stride (frames of one size share one).
    private var scanners: [Int: HaarStumpScanner] = [:]
    /// Search threads by helper count (a detector is searched at one thread count in practice).
    private var pools: [Int: WorkerPool] = [:]

    public init(cascade: Cascade) { self.cascade = cascade }

    deinit { pools.values.forEach { $0.stop() } }

    /// Loads the cascade file and makes a detector of it.
    public convenience init(contentsOf path: String) throws(CascadeError) {
        self.init(cascade: try Cascade.load(contentsOf: path))
    }

    /// The faces in `image` (converted to grayscale if it is color), clipped to the image. With
    /// `threads` > 1 the scales are searched in parallel; the result is the same.
    public func detect(_ image: ByteImage, parameters: DetectionParameters = DetectionParameters(), threads: Int = 1) -> [FaceDetection] {
        let gray = image.grayscale()
        guard let plan = plan(for: gray, parameters: parameters) else { return [] }
        return group(hits(in: gray, plan: plan, scales: plan.scales.indices, threads: threads), in: gray, parameters: parameters)
    }

    /// What a whole-image search visits, fixed by the image's size and the parameters: its scales, and
    /// OpenCV's row stripes, which depend on the first scale (so a search done in parts needs the plan
    /// of the whole).
    struct SearchPlan: Equatable {
        let width: Int, height: Int
        let scales: [Float]
        let stripes: Int
        let stride: Int
    }

    /// The search plan for `gray`, nil when nothing would be searched.
    func plan(for gray: ByteImage, parameters: DetectionParameters) -> SearchPlan? {
        guard gray.width > 0, gray.height > 0, parameters.scaleFactor > 1 else { return nil }
        let scales = scales(width: gray.width, height: gray.height, parameters: parameters)
        guard let first = scales.first else { return nil }
        // OpenCV splits every scale's rows into as many stripes as the first scale has 32-pixel columns,
        // and its stripe arithmetic leaves out a last odd row: the same rows are searched here.
        let stripes = Int((Double(workingSize(gray, scale: first).width) / 32).rounded(.up))
        return SearchPlan(width: gray.width, height: gray.height, scales: scales, stripes: stripes,
                          stride: scaledSize(gray, scale: first).width + 1)
    }

    /// The windows a scale visits, for splitting a search into parts of about equal work.
    func windowCount(_ plan: SearchPlan, scale: Float) -> Int {
        let working = workingSize(width: plan.width, height: plan.height, scale: scale), step = windowStep(scale)
        return (working.width / step + 1) * (working.height / step + 1)
    }

    /// Raw hits at the plan's scales in `scales` (indices), in scale order, before grouping.
    func hits(in gray: ByteImage, plan: SearchPlan, scales: Range<Int>, threads: Int) -> [PixelRect] {
        let scanner = stumpScanner(stride: plan.stride)
        if threads > 1, scales.count > 1 {
            // Each scale is independent; gathered back in scale order, the hits are the serial ones. Every
            // thread takes the next scale not yet taken, the largest first.
            let perScale = Locked([[PixelRect]](repeating: [], count: scales.count))
            let taken = Locked(0)
            let searchScales: @Sendable (Int) -> Void = { _ in
                while case let offset = taken.withLock({ next in defer { next += 1 }; return next }), offset < scales.count {
                    let found = self.detections(in: gray, scale: plan.scales[scales.lowerBound + offset], stripes: plan.stripes,
                                                stride: plan.stride, scanner: scanner)
                    perScale.withLock { $0[offset] = found }
                }
            }
            let parts = min(threads, scales.count)
            if !searchPool(helpers: parts - 1).run(parts: parts, searchScales) {
                DispatchQueue.concurrentPerform(iterations: parts, execute: searchScales)
            }
            return perScale.withLock { $0.flatMap { $0 } }
        }
        return scales.flatMap { detections(in: gray, scale: plan.scales[$0], stripes: plan.stripes, stride: plan.stride, scanner: scanner) }
    }

    /// Raw hits grouped into faces (OpenCV's groupRectangles), clipped to the image.
    func group(_ hits: [PixelRect], in gray: ByteImage, parameters: DetectionParameters) -> [FaceDetection] {
        RectangleGrouping.group(hits, minNeighbors: parameters.minNeighbors).compactMap { group in
            let clipped = group.rect.clamped(toWidth: gray.width, height: gray.height)
            return clipped.width > 0 && clipped.height > 0 ? FaceDetection(box: clipped, neighbors: group.neighbors) : nil
        }
    }

    /// The image scales searched: window sizes from the cascade's up by `scaleFactor`, kept between
    /// `minSize` and `maxSize` and no larger than the image.
    func scales(width: Int, height: Int, parameters: DetectionParameters) -> [Float] {
        let maxWidth = min(parameters.maxSize ?? width, width), maxHeight = min(parameters.maxSize ?? height, height)
        var scales: [Float] = []
        var factor = 1.0
        while true {
            let windowWidth = Int((Double(cascade.windowWidth) * factor).rounded(.toNearestOrEven))
            let windowHeight = Int((Double(cascade.windowHeight) * factor).rounded(.toNearestOrEven))
            if windowWidth > maxWidth || windowHeight > maxHeight { break }
            if windowWidth >= parameters.minSize && windowHeight >= parameters.minSize { scales.append(Float(factor)) }
            factor *= parameters.scaleFactor
        }
        return scales
    }

    /// OpenCV's window step: every other pixel below scale 2, every pixel from there up.
    private func windowStep(_ scale: Float) -> Int { scale >= 2 ? 1 : 2 }

    /// The image's size at a scale.
    private func scaledSize(_ image: ByteImage, scale: Float) -> (width: Int, height: Int) {
        scaledSize(width: image.width, height: image.height, scale: scale)
    }

    private func scaledSize(width: Int, height: Int, scale: Float) -> (width: Int, height: Int) {
        (Int((Float(width) / scale).rounded(.toNearestOrEven)), Int((Float(height) / scale).rounded(.toNearestOrEven)))
    }

    /// How many window positions there are across and down at a scale.
    private func workingSize(_ image: ByteImage, scale: Float) -> (width: Int, height: Int) {
        workingSize(width: image.width, height: image.height, scale: scale)
    }

    private func workingSize(width: Int, height: Int, scale: Float) -> (width: Int, height: Int) {
        let size = scaledSize(width: width, height: height, scale: scale)
        return (max(size.width + 1 - cascade.windowWidth, 0), max(size.height + 1 - cascade.windowHeight, 0))
    }

    /// The threads a search splits its scales over besides the caller's, kept for the detector's life.
    /// Not Dispatch's: live, a search starts every 33 ms, and Dispatch's parked workers joined a search
    /// started after such a pause so late that two threads searched a frame in 11-12 ms, one in 14
    /// (`WorkerPool`; its helper sleeps between frames too, but is woken directly). A search that finds
    /// the pool in use (two streams on one detector) falls back to Dispatch.
    private func searchPool(helpers: Int) -> WorkerPool {
        lock.lock()
        defer { lock.unlock() }
        if let pool = pools[helpers] { return pool }
        let pool = WorkerPool(helperCount: helpers)
        pools[helpers] = pool
        return pool
    }

    private func stumpScanner(stride: Int) -> HaarStumpScanner? {
        lock.lock()
        defer { lock.unlock() }
        if let scanner = scanners[stride] { return scanner }
        guard let scanner = HaarStumpScanner(cascade: cascade, stride: stride) else { return nil }
        if scanners.count > 8 { scanners.removeAll() }
        scanners[stride] = scanner
        return scanner
    }

    /// Raw hits at one scale, in the image's coordinates.
    func detections(in image: ByteImage, scale: Float, stripes: Int, stride: Int, scanner: HaarStumpScanner?) -> [PixelRect] {
        let (width, height) = scaledSize(image, scale: scale)
        let windowWidth = cascade.windowWidth, windowHeight = cascade.windowHeight
        guard width > windowWidth, height > windowHeight else { return [] }
        let scaled = LinearResize.resize(image, width: width, height: height)
        let integral = scaled.withUnsafeBufferPointer {
            IntegralImage(pixels: $0, width: width, height: height, stride: stride, withSquares: cascade.featureType == .haar)
        }
        let step = windowStep(scale)
        let working = workingSize(image, scale: scale)
        let stripeHeight = max((working.height / step + stripes - 1) / stripes, 1) * step
        let lastRow = min(stripes * stripeHeight, working.height)
        let box = (width: Int((Float(windowWidth) * scale).rounded(.toNearestOrEven)),
                   height: Int((Float(windowHeight) * scale).rounded(.toNearestOrEven)))
        var positions: [(x: Int, y: Int)] = []
        if let scanner {
            positions = scanner.scan(integral, columns: working.width, rows: lastRow, step: step)
        } else {
            let evaluator = WindowEvaluator(cascade: cascade, integral: integral)
            for y in Swift.stride(from: 0, to: lastRow, by: step) {
                var x = 0
                while x < working.width {
                    let result = evaluator.evaluate(x: x, y: y)
                    if result > 0 { positions.append((x, y)) }
                    // Rejected by the very first stage: the next window is likely no better, so skip it too.
                    if result == 0 { x += step }
                    x += step
                }
            }
        }
        return positions.map { position in
            PixelRect(x: Int((Float(position.x) * scale).rounded(.toNearestOrEven)),
                      y: Int((Float(position.y) * scale).rounded(.toNearestOrEven)), width: box.width, height: box.height)
        }
    }
}
