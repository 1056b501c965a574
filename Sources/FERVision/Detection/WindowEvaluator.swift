import Foundation

/// The cascade applied to one window of one scale's integral image. Feature rectangles are turned into
/// offsets into the integral tables once per scale, so a feature costs a few loads and multiplies.
/// The arithmetic follows OpenCV's exactly (Float features, Double stage sums, its variance norm).
struct WindowEvaluator {
    private let cascade: Cascade
    private let integral: IntegralImage
    /// Haar: 12 offsets (3 rectangles x 4 corners) per feature. LBP: the 16 corners of its 3x3 blocks.
    private let offsets: [Int]
    /// Haar: 3 weights per feature.
    private let weights: [Float]
    /// Corners of the window inset by one pixel, whose mean and variance normalize Haar features.
    private let normCorners: (Int, Int, Int, Int)
    private let normArea: Double

    init(cascade: Cascade, integral: IntegralImage) {
        self.cascade = cascade
        self.integral = integral
        let stride = integral.stride
        func corners(_ r: PixelRect) -> [Int] { IntegralImage.corners(of: r, stride: stride) }
        if cascade.featureType == .haar {
            offsets = cascade.haarFeatures.flatMap { $0.rects.flatMap(corners) }
            weights = cascade.haarFeatures.flatMap(\.weights)
        } else {
            offsets = cascade.lbpBlocks.flatMap { block in
                (0..<4).flatMap { j in (0..<4).map { i in block.x + i * block.width + stride * (block.y + j * block.height) } }
            }
            weights = []
        }
        let norm = cascade.normRect
        let c = corners(norm)
        normCorners = (c[0], c[1], c[2], c[3])
        normArea = Double(norm.width * norm.height)
    }

    /// 1 when every stage accepts the window at (x, y); minus the rejecting stage otherwise (0: the
    /// first); -1 for a flat window, which Haar features cannot judge.
    func evaluate(x: Int, y: Int) -> Int {
        let base = y * integral.stride + x
        return integral.sums.withUnsafeBufferPointer { sums in
            offsets.withUnsafeBufferPointer { offsets in
                let window = sums.baseAddress! + base
                if cascade.featureType == .lbp {
                    return cascade.subsets.withUnsafeBufferPointer { subsets in
                        runStages { at, split in
                            let c = Self.lbpCode(window, offsets.baseAddress! + 16 * Int(split.feature))
                            return subsets[8 * at + (c >> 5)] & Int32(bitPattern: UInt32(1) << UInt32(c & 31)) != 0
                        }
                    }
                }
                guard let norm = varianceNorm(base) else { return -1 }
                return weights.withUnsafeBufferPointer { weights in
                    runStages { _, split in
                        let f = Int(split.feature)
                        func rectangle(_ o: Int) -> Int32 {
                            window[offsets[o]] &- window[offsets[o + 1]] &- window[offsets[o + 2]] &+ window[offsets[o + 3]]
                        }
                        var value = weights[3 * f] * Float(rectangle(12 * f)) + weights[3 * f + 1] * Float(rectangle(12 * f + 4))
                        if weights[3 * f + 2] != 0 { value += weights[3 * f + 2] * Float(rectangle(12 * f + 8)) }
                        return value * norm < split.threshold
                    }
                }
            }
        }
    }

    /// OpenCV's Haar normalization: 1 / (area x standard deviation) of the inset window, or nil for a
    /// window too flat to judge.
    private func varianceNorm(_ base: Int) -> Float? {
        let (n0, n1, n2, n3) = normCorners
        let sum = integral.sums[base + n0] &- integral.sums[base + n1] &- integral.sums[base + n2] &+ integral.sums[base + n3]
        let squares = integral.squares[base + n0] &- integral.squares[base + n1] &- integral.squares[base + n2] &+ integral.squares[base + n3]
        return IntegralImage.varianceNorm(sum: sum, squares: squares, area: normArea)
    }

    /// Walks every stage's trees, each split going left when `goesLeft(node index, node)`; stage sums
    /// in Double, as OpenCV's.
    private func runStages(_ goesLeft: (Int, Cascade.Node) -> Bool) -> Int {
        cascade.nodes.withUnsafeBufferPointer { nodes in
            cascade.leaves.withUnsafeBufferPointer { leaves in
                for (index, stage) in cascade.stages.enumerated() {
                    var total = 0.0
                    for t in stage.firstTree..<(stage.firstTree + stage.treeCount) {
                        let tree = cascade.trees[t]
                        var node = 0
                        repeat {
                            let at = tree.firstNode + node
                            node = Int(goesLeft(at, nodes[at]) ? nodes[at].left : nodes[at].right)
                        } while node > 0
                        total += Double(leaves[tree.firstLeaf - node])
                    }
                    if total < Double(stage.threshold) { return -index }
                }
                return 1
            }
        }
    }

    /// The 8-bit local binary pattern of a 3x3 grid of blocks: each outer block's sum against the center's.
    private static func lbpCode(_ window: UnsafePointer<Int32>, _ corners: UnsafePointer<Int>) -> Int {
        func block(_ a: Int, _ b: Int, _ c: Int, _ d: Int) -> Int32 {
            window[corners[a]] &- window[corners[b]] &- window[corners[c]] &+ window[corners[d]]
        }
        let center = block(5, 6, 9, 10)
        var bits = 0
        if block(0, 1, 4, 5) >= center { bits |= 128 }
        if block(1, 2, 5, 6) >= center { bits |= 64 }
        if block(2, 3, 6, 7) >= center { bits |= 32 }
        if block(6, 7, 10, 11) >= center { bits |= 16 }
        if block(10, 11, 14, 15) >= center { bits |= 8 }
        if block(9, 10, 13, 14) >= center { bits |= 4 }
        if block(8, 9, 12, 13) >= center { bits |= 2 }
        if block(4, 5, 8, 9) >= center { bits |= 1 }
        return bits
    }
}
