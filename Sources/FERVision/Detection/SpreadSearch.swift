/// A whole-frame search spread over several frames of a stream, so that no frame pays for all of it.
///
/// The search's scales are cut into `parts` runs of about equal work (windows visited); each frame
/// searches one run, and when the last run is in, the hits of all of them are grouped as one search
/// would group them. A face that holds still is found as `FaceFinder.faces(in:)` finds it; one that
/// moves during a cycle is found where its hits agree. A face in view from some frame on is reported at
/// the latest when the first cycle that starts after it ends: within `2 * parts - 1` frames.
public final class SpreadSearch {
    public let finder: FaceFinder
    /// Frames one whole search is spread over.
    public let parts: Int
    private var plan: CascadeDetector.SearchPlan?
    private var runs: [Range<Int>] = []
    private var next = 0
    private var hits: [PixelRect] = []

    public init(finder: FaceFinder, parts: Int) {
        self.finder = finder
        self.parts = max(1, parts)
    }

    /// Searches `image` with the next run of scales; returns the faces (frame pixels, largest first)
    /// when this frame completes a whole search, else nil.
    public func advance(with image: ByteImage) -> [PixelRect]? {
        let searched = finder.searchImage(for: image)
        let detector = finder.detector
        guard let plan = detector.plan(for: searched.image, parameters: searched.parameters) else { return [] }
        if plan != self.plan {
            // A new stream or a new frame size: start a cycle of its own.
            self.plan = plan
            runs = Self.balancedRuns(plan.scales.map { detector.windowCount(plan, scale: $0) }, parts: parts)
            next = 0
            hits = []
        }
        hits += detector.hits(in: searched.image, plan: plan, scales: runs[next], threads: finder.threads)
        next += 1
        guard next == runs.count else { return nil }
        let faces = finder.ordered(searched.toFrame(detector.group(hits, in: searched.image, parameters: searched.parameters)))
        next = 0
        hits = []
        return faces.map(\.box)
    }

    /// Consecutive runs of `costs`' indices, at most `parts` of them, none empty, each cut where the
    /// running total passes the next equal share.
    static func balancedRuns(_ costs: [Int], parts: Int) -> [Range<Int>] {
        guard !costs.isEmpty else { return [0..<0] }
        let total = max(1, costs.reduce(0, +)), count = min(parts, costs.count)
        var runs: [Range<Int>] = [], start = 0, sum = 0
        for (index, cost) in costs.enumerated() {
            sum += cost
            let remainingScales = costs.count - index - 1, remainingRuns = count - runs.count - 1
            if remainingRuns > 0, remainingScales >= remainingRuns, sum * count >= total * (runs.count + 1) || remainingScales == remainingRuns {
                runs.append(start..<index + 1)
                start = index + 1
            }
        }
        runs.append(start..<costs.count)
        return runs
    }
}
