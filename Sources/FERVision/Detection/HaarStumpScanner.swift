/// The fast path for the common cascade shape, Haar stumps (every tree one split, as in
/// haarcascade_frontalface_default): each stump's rectangles are compiled to offsets into the integral
/// tables, stored next to its weights, threshold and leaves, and the scan over windows runs on raw
/// pointers. The arithmetic is `WindowEvaluator`'s, so the hits are identical.
///
/// Windows are judged eight neighbours of a row at a time, one per SIMD lane: the same corner of eight
/// windows is eight table entries side by side (at a step of 2, side by side in a copy of the table
/// split into its even and odd entries), one vector load. While more than `scalarLanes` of the eight
/// are still alive a stage runs on all of them; the few that go deeper finish one at a time. Each lane does the scalar operations in the scalar order (Float
/// features, Double stage sums), and OpenCV's walk (a column skipped after a first-stage rejection)
/// decides which lanes count, so neither the hits nor their order change.
struct HaarStumpScanner {
    /// 12 offsets per stump: 3 rectangles x 4 corners.
    private let offsets: [Int]
    /// 6 numbers per stump: 3 weights, threshold, left leaf, right leaf.
    private let parameters: [Float]
    /// Where each stage's stumps end, and its threshold.
    private let stageEnds: [Int]
    private let stageThresholds: [Double]
    private let norm: (corners: (Int, Int, Int, Int), area: Double)

    /// With this many live lanes or fewer a batch finishes its windows one at a time: a stage on eight
    /// lanes costs about what it costs two or three windows alone (`fer-live detect` on noisy frames was
    /// slowest at 0 and 1, level from 2 to 4).
    static let scalarLanes = 2

    /// Nil when the cascade is not Haar stumps (or has no stage, which a file cannot have).
    init?(cascade: Cascade, stride: Int) {
        guard cascade.featureType == .haar, cascade.isStumps, !cascade.stages.isEmpty else { return nil }
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
        integral.sums.withUnsafeBufferPointer { sums in
        integral.squares.withUnsafeBufferPointer { squares in
        offsets.withUnsafeBufferPointer { offsets in
        parameters.withUnsafeBufferPointer { parameters in
        stageEnds.withUnsafeBufferPointer { ends in
        stageThresholds.withUnsafeBufferPointer { thresholds in
            let tables = Tables(sums: sums.baseAddress!, squares: squares.baseAddress!, stride: integral.stride,
                                offsets: offsets.baseAddress!, parameters: parameters.baseAddress!, ends: ends,
                                thresholds: thresholds.baseAddress!, normCorners: norm.corners, normArea: norm.area)
            switch step {
            case 1:
                let lanes = AdjacentWindows(sums: tables.sums, squares: tables.squares)
                for y in 0..<rows { tables.scanRow(y: y, columns: columns, lanes: lanes, hits: &hits) }
            case 2:
                let halves = UnsafeMutableBufferPointer<Int32>.allocate(capacity: sums.count)
                defer { halves.deallocate() }
                AlternateWindows.split(sums, into: halves)
                let lanes = AlternateWindows(evenSums: halves.baseAddress!, oddSums: halves.baseAddress! + (sums.count + 1) / 2,
                                             squares: tables.squares)
                for y in Swift.stride(from: 0, to: rows, by: 2) { tables.scanRow(y: y, columns: columns, lanes: lanes, hits: &hits) }
            default:
                for y in Swift.stride(from: 0, to: rows, by: step) { tables.scanWindows(y: y, from: 0, columns: columns, step: step, hits: &hits) }
            }
        }}}}}}
        return hits
    }
}

/// How the eight windows of a batch lie in the integral tables: where a feature's corner of each is read.
private protocol WindowLanes {
    /// Columns between neighbouring windows.
    var step: Int { get }
    /// The sums table at `entry`, `entry + step`, ... (eight entries).
    func sums(at entry: Int) -> SIMD8<Int32>
    /// The squares table at the same eight entries.
    func squares(at entry: Int) -> SIMD8<UInt32>
}

/// Windows at every column (scales from 2 up): eight neighbouring entries, one load.
private struct AdjacentWindows: WindowLanes {
    let sums: UnsafePointer<Int32>, squares: UnsafePointer<UInt32>
    var step: Int { 1 }

    @inline(__always)
    func sums(at entry: Int) -> SIMD8<Int32> { UnsafeRawPointer(sums + entry).loadUnaligned(as: SIMD8<Int32>.self) }

    @inline(__always)
    func squares(at entry: Int) -> SIMD8<UInt32> { UnsafeRawPointer(squares + entry).loadUnaligned(as: SIMD8<UInt32>.self) }
}

/// Windows at every other column (scales below 2). The sums, read once per feature, come from a copy of
/// the table split into its even and odd entries, where every other entry lies side by side; the
/// squares, read once per batch, are read sixteen at a time and the even ones kept.
private struct AlternateWindows: WindowLanes {
    let evenSums: UnsafePointer<Int32>, oddSums: UnsafePointer<Int32>, squares: UnsafePointer<UInt32>
    var step: Int { 2 }

    /// `table`'s entries split by parity into `halves`: the even ones first, then the odd ones.
    static func split(_ table: UnsafeBufferPointer<Int32>, into halves: UnsafeMutableBufferPointer<Int32>) {
        let evens = (table.count + 1) / 2
        for index in 0..<table.count { halves[(index & 1) * evens + index >> 1] = table[index] }
    }

    @inline(__always)
    func sums(at entry: Int) -> SIMD8<Int32> {
        UnsafeRawPointer((entry & 1 == 0 ? evenSums : oddSums) + entry >> 1).loadUnaligned(as: SIMD8<Int32>.self)
    }

    @inline(__always)
    func squares(at entry: Int) -> SIMD8<UInt32> {
        UnsafeRawPointer(squares + entry).loadUnaligned(as: SIMD16<UInt32>.self).evenHalf
    }
}

/// The scanner's arrays and one scale's integral tables, as raw pointers for the length of a scan.
private struct Tables {
    let sums: UnsafePointer<Int32>, squares: UnsafePointer<UInt32>, stride: Int
    let offsets: UnsafePointer<Int>, parameters: UnsafePointer<Float>
    let ends: UnsafeBufferPointer<Int>, thresholds: UnsafePointer<Double>
    let normCorners: (Int, Int, Int, Int), normArea: Double

    /// The window at table entry `base`'s variance norm; nil for a flat window.
    @inline(__always)
    func norm(at base: Int) -> Float? {
        let (n0, n1, n2, n3) = normCorners
        let sum = sums[base + n0] &- sums[base + n1] &- sums[base + n2] &+ sums[base + n3]
        let square = squares[base + n0] &- squares[base + n1] &- squares[base + n2] &+ squares[base + n3]
        return IntegralImage.varianceNorm(sum: sum, squares: square, area: normArea)
    }

    /// The eight windows' variance norms from table entry `base` on, and which are not flat, as bits:
    /// `IntegralImage.varianceNorm`'s operations per lane (a flat lane's norm is not used).
    @inline(__always)
    func norms<Lanes: WindowLanes>(at base: Int, lanes: Lanes) -> (SIMD8<Float>, judged: Int) {
        let (n0, n1, n2, n3) = normCorners
        let sum = lanes.sums(at: base + n0) &- lanes.sums(at: base + n1) &- lanes.sums(at: base + n2) &+ lanes.sums(at: base + n3)
        let square = lanes.squares(at: base + n0) &- lanes.squares(at: base + n1) &- lanes.squares(at: base + n2)
            &+ lanes.squares(at: base + n3)
        let sumAsDouble = SIMD8<Double>(sum)
        let spread = normArea * SIMD8<Double>(square) - sumAsDouble * sumAsDouble
        let norms = SIMD8<Float>(1 / spread.squareRoot())
        let judged = (spread .> 0) .& (normArea * SIMD8<Double>(norms) .< 0.1)
        var bits = 0
        for lane in 0..<8 where judged[lane] { bits |= 1 << lane }
        return (norms, bits)
    }

    /// 1 when the window passes stages `first...`, else minus the stage that rejects it.
    @inline(__always)
    func result(_ window: UnsafePointer<Int32>, norm: Float, from first: Int) -> Int {
        var stump = first == 0 ? 0 : ends[first - 1]
        for stage in first..<ends.count {
            var total = 0.0
            let end = ends[stage]
            while stump < end {
                let o = offsets + 12 &* stump, p = parameters + 6 &* stump
                let r0 = window[o[0]] &- window[o[1]] &- window[o[2]] &+ window[o[3]]
                let r1 = window[o[4]] &- window[o[5]] &- window[o[6]] &+ window[o[7]]
                var value = p[0] * Float(r0) + p[1] * Float(r1)
                if p[2] != 0 {
                    let r2 = window[o[8]] &- window[o[9]] &- window[o[10]] &+ window[o[11]]
                    value += p[2] * Float(r2)
                }
                total += Double(value * norm < p[3] ? p[4] : p[5])
                stump += 1
            }
            if total < thresholds[stage] { return -stage }
        }
        return 1
    }

    /// Which of eight windows pass `stage`, as bits (lane 0 lowest): `result`'s arithmetic per lane.
    @inline(__always)
    func passing<Lanes: WindowLanes>(_ stage: Int, at base: Int, norms: SIMD8<Float>, lanes: Lanes) -> Int {
        var total = SIMD8<Double>(repeating: 0)
        for stump in (stage == 0 ? 0 : ends[stage - 1])..<ends[stage] {
            let o = offsets + 12 &* stump, p = parameters + 6 &* stump
            @inline(__always) func rectangle(_ c: Int) -> SIMD8<Float> {
                SIMD8<Float>(lanes.sums(at: base + o[c]) &- lanes.sums(at: base + o[c + 1]) &- lanes.sums(at: base + o[c + 2])
                             &+ lanes.sums(at: base + o[c + 3]))
            }
            var value = p[0] * rectangle(0) + p[1] * rectangle(4)
            if p[2] != 0 { value += p[2] * rectangle(8) }
            let leaves = SIMD8<Float>(repeating: p[5]).replacing(with: p[4], where: value * norms .< p[3])
            total += widened(leaves)
        }
        let passed = total .>= thresholds[stage]
        var bits = 0
        for lane in 0..<8 where passed[lane] { bits |= 1 << lane }
        return bits
    }

    /// `SIMD8<Double>(values)`, which the standard library leaves as a call per stump.
    @inline(__always)
    private func widened(_ v: SIMD8<Float>) -> SIMD8<Double> {
        SIMD8(Double(v[0]), Double(v[1]), Double(v[2]), Double(v[3]), Double(v[4]), Double(v[5]), Double(v[6]), Double(v[7]))
    }

    /// Row `y`'s hits, eight windows at a time while eight fit, then one at a time.
    @inline(__always)
    func scanRow<Lanes: WindowLanes>(y: Int, columns: Int, lanes: Lanes, hits: inout [(x: Int, y: Int)]) {
        let step = lanes.step, width = 8 * step, row = y * stride
        // OpenCV's walk: the next column it visits, a column further after a first-stage rejection.
        var next = 0
        var x = 0
        // The last lane's load reaches `step - 1` entries past its window: stay inside the row's columns.
        while x + width <= columns {
            let (norms, judged) = norms(at: row + x, lanes: lanes)
            let window = sums + row + x
            let firstPassed = judged == 0 ? 0 : passing(0, at: row + x, norms: norms, lanes: lanes) & judged
            var alive = 0
            for lane in 0..<8 {
                let column = x + lane * step
                guard column == next else { continue }
                if judged & (1 << lane) == 0 {
                    next = column + step
                } else if firstPassed & (1 << lane) == 0 {
                    next = column + 2 * step
                } else {
                    next = column + step
                    alive |= 1 << lane
                }
            }
            var stage = 1
            while stage < ends.count, alive.nonzeroBitCount > HaarStumpScanner.scalarLanes {
                alive &= passing(stage, at: row + x, norms: norms, lanes: lanes)
                stage += 1
            }
            for lane in 0..<8 where alive & (1 << lane) != 0 {
                if stage == ends.count || result(window + lane * step, norm: norms[lane], from: stage) > 0 {
                    hits.append((x + lane * step, y))
                }
            }
            x += width
        }
        scanWindows(y: y, from: next, columns: columns, step: step, hits: &hits)
    }

    /// Row `y`'s hits from column `start` on, one window at a time.
    func scanWindows(y: Int, from start: Int, columns: Int, step: Int, hits: inout [(x: Int, y: Int)]) {
        var x = start
        while x < columns {
            let base = y * stride + x
            var result = -1
            if let norm = norm(at: base) { result = self.result(sums + base, norm: norm, from: 0) }
            if result > 0 { hits.append((x, y)) }
            // Rejected by the very first stage: the next window is likely no better, so skip it too.
            if result == 0 { x += step }
            x += step
        }
    }
}
