/// The fast path for the common cascade shape, Haar stumps (every tree one split, as in
/// haarcascade_frontalface_default): each stump's rectangles are compiled to offsets into the integral
/// tables, stored next to its weights, threshold and leaves, and the scan over windows runs on raw
/// pointers. The arithmetic is `WindowEvaluator`'s, so the hits are identical.
struct HaarStumpScanner {
    /// 12 offsets per stump: 3 rectangles x 4 corners.
    private let offsets: [Int]
    /// 6 numbers per stump: 3 weights, threshold, left leaf, right leaf.
    private let parameters: [Float]
    /// Where each stage's stumps end, and its threshold.
    private let stageEnds: [Int]
    private let stageThresholds: [Double]
    private let norm: (corners: (Int, Int, Int, Int), area: Double)

    /// Nil when the cascade is not Haar stumps.
    init?(cascade: Cascade, stride: Int) {
        guard cascade.featureType == .haar, cascade.isStumps else { return nil }
        func corners(_ r: PixelRect) -> [Int] { IntegralImage.corners(of: r, stride: stride) }
        var offsets: [Int] = [], parameters: [Float] = []
        for tree in cascade.trees {
            let node = cascade.nodes[tree.firstNode]
            let feature = cascade.haarFeatures[Int(node.feature)]
            offsets += feature.rects.flatMap(corners)
            // A stump's children are leaves 0 and -1: left leaf first.
            parameters += feature.weights + [node.threshold, cascade.leaves[tree.firstLeaf - Int(node.left)],
                                              cascade.leaves[tree.firstLeaf - Int(node.right)]]
        }
        self.offsets = offsets
        self.parameters = parameters
        stageEnds = cascade.stages.map { $0.firstTree + $0.treeCount }
        stageThresholds = cascade.stages.map { Double($0.threshold) }
        let inset = corners(cascade.normRect)
        norm = ((inset[0], inset[1], inset[2], inset[3]), Double(cascade.normRect.width * cascade.normRect.height))
    }

    /// Window positions (in the scaled image) that pass every stage, scanning rows `0..<rows` and
    /// columns `0..<columns` by `step`, skipping a column after a first-stage rejection as OpenCV does.
    func scan(_ integral: IntegralImage, columns: Int, rows: Int, step: Int) -> [(x: Int, y: Int)] {
        var hits: [(x: Int, y: Int)] = []
        let stride = integral.stride
        let (n0, n1, n2, n3) = norm.corners
        let area = norm.area
        integral.sums.withUnsafeBufferPointer { sumsBuffer in
        integral.squares.withUnsafeBufferPointer { squaresBuffer in
        offsets.withUnsafeBufferPointer { offsetsBuffer in
        parameters.withUnsafeBufferPointer { parametersBuffer in
        stageEnds.withUnsafeBufferPointer { ends in
        stageThresholds.withUnsafeBufferPointer { thresholds in
            let sums = sumsBuffer.baseAddress!, squares = squaresBuffer.baseAddress!
            let allOffsets = offsetsBuffer.baseAddress!, allParameters = parametersBuffer.baseAddress!
            for y in Swift.stride(from: 0, to: rows, by: step) {
                var x = 0
                while x < columns {
                    let base = y * stride + x
                    let sum = sums[base + n0] &- sums[base + n1] &- sums[base + n2] &+ sums[base + n3]
                    let square = squares[base + n0] &- squares[base + n1] &- squares[base + n2] &+ squares[base + n3]
                    var result = -1
                    if let normFactor = IntegralImage.varianceNorm(sum: sum, squares: square, area: area) {
                        result = 1
                        let window = sums + base
                        var stump = 0
                        for stage in 0..<ends.count {
                            var total = 0.0
                            let end = ends[stage]
                            while stump < end {
                                let o = allOffsets + 12 * stump, p = allParameters + 6 * stump
                                let r0 = window[o[0]] &- window[o[1]] &- window[o[2]] &+ window[o[3]]
                                let r1 = window[o[4]] &- window[o[5]] &- window[o[6]] &+ window[o[7]]
                                var value = p[0] * Float(r0) + p[1] * Float(r1)
                                if p[2] != 0 {
                                    let r2 = window[o[8]] &- window[o[9]] &- window[o[10]] &+ window[o[11]]
                                    value += p[2] * Float(r2)
                                }
                                total += Double(value * normFactor < p[3] ? p[4] : p[5])
                                stump += 1
                            }
                            if total < thresholds[stage] {
                                result = -stage
                                break
                            }
                        }
                    }
                    if result > 0 { hits.append((x, y)) }
                    if result == 0 { x += step }
                    x += step
                }
            }
        }}}}}}
        return hits
    }
}
