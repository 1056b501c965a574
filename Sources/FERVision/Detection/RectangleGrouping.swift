/// OpenCV's groupRectangles: hits whose corners all lie within `eps` of each other (relative to their
/// size) form a cluster; clusters with more than `minNeighbors` hits give their average rectangle, and a
/// cluster inside a stronger one is dropped.
enum RectangleGrouping {
    static func group(_ rects: [PixelRect], minNeighbors: Int, eps: Double = 0.2) -> [(rect: PixelRect, neighbors: Int)] {
        guard minNeighbors > 0 else { return rects.map { ($0, 1) } }
        guard !rects.isEmpty else { return [] }
        let labels = partition(rects, eps: eps)
        let classCount = (labels.max() ?? -1) + 1
        var totals = [(x: Int, y: Int, width: Int, height: Int)](repeating: (0, 0, 0, 0), count: classCount)
        var counts = [Int](repeating: 0, count: classCount)
        for (rect, label) in zip(rects, labels) {
            totals[label].x += rect.x
            totals[label].y += rect.y
            totals[label].width += rect.width
            totals[label].height += rect.height
            counts[label] += 1
        }
        // Averages in single precision, rounded to nearest: OpenCV's arithmetic, so boxes come out equal.
        let averages = (0..<classCount).map { c -> PixelRect in
            let s = Float(1) / Float(counts[c])
            func average(_ total: Int) -> Int { Int((Float(total) * s).rounded(.toNearestOrEven)) }
            return PixelRect(x: average(totals[c].x), y: average(totals[c].y), width: average(totals[c].width), height: average(totals[c].height))
        }
        var grouped: [(rect: PixelRect, neighbors: Int)] = []
        for i in 0..<classCount where counts[i] > minNeighbors {
            let r1 = averages[i], n1 = counts[i]
            let swallowed = (0..<classCount).contains { j in
                let n2 = counts[j]
                guard j != i, n2 > minNeighbors else { return false }
                let r2 = averages[j]
                let dx = Int((Double(r2.width) * eps).rounded(.toNearestOrEven)), dy = Int((Double(r2.height) * eps).rounded(.toNearestOrEven))
                return r1.x >= r2.x - dx && r1.y >= r2.y - dy && r1.x + r1.width <= r2.x + r2.width + dx
                    && r1.y + r1.height <= r2.y + r2.height + dy && (n2 > max(3, n1) || n1 < 3)
            }
            if !swallowed { grouped.append((r1, n1)) }
        }
        return grouped
    }

    /// Whether two hits are the same object: every edge within eps of the mean smaller size.
    static func similar(_ a: PixelRect, _ b: PixelRect, eps: Double) -> Bool {
        let delta = eps * Double(min(a.width, b.width) + min(a.height, b.height)) * 0.5
        return Double(abs(a.x - b.x)) <= delta && Double(abs(a.y - b.y)) <= delta
            && Double(abs(a.x + a.width - b.x - b.width)) <= delta && Double(abs(a.y + a.height - b.y - b.height)) <= delta
    }

    /// Equivalence classes of `similar` (union-find), numbered in order of first appearance.
    static func partition(_ rects: [PixelRect], eps: Double) -> [Int] {
        var parent = Array(rects.indices)
        func root(_ i: Int) -> Int {
            var i = i
            while parent[i] != i {
                parent[i] = parent[parent[i]]
                i = parent[i]
            }
            return i
        }
        for i in rects.indices {
            for j in 0..<i where similar(rects[i], rects[j], eps: eps) {
                let a = root(i), b = root(j)
                if a != b { parent[a] = b }
            }
        }
        var labelOfRoot: [Int: Int] = [:]
        return rects.indices.map { i in
            let r = root(i)
            if let label = labelOfRoot[r] { return label }
            labelOfRoot[r] = labelOfRoot.count
            return labelOfRoot[r]!
        }
    }
}
