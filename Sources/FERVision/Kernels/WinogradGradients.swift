// Backward of the Winograd F(2x2, 3x3) convolution (Winograd.swift) for training. Each forward transform
// is linear, so its backward is its adjoint (transpose), applied to the gradient:
//
//   forward   Y = A^T [ (G g G^T) ⊙ (B^T d B) ] A,  summed over input channels
//   backward  dM = A dY A^T                                       (`winogradOutputGradients`)
//             dU[k] = dM[k] x V[k]^T, dV[k] = U[k]^T x dM[k]      (16 GEMMs each, over the tiles / out channels)
//             dd = B dV B^T, added where the 4x4 input tiles overlap (`winogradInputGradients`)
//             dg = G^T dU G                                        (`winogradFilterGradients`)
//
// These are the exact gradients of the forward computation, and the weight and input gradients do 2.25x
// fewer multiplies than im2col + GEMM, like the forward.

private let lanes = Lanes.scalarCount

/// dM = A dY A^T for every tile: the adjoint of `winogradOutputs`. Reads the output gradient [outChannels,
/// images, h, w] at images `firstImage ..< firstImage + imageCount` and writes [16, outChannels, imageCount
/// * tiles], component k at `k * componentStride`. Pixels a tile has past an odd edge count as zero. Only
/// channels in `channelRange` are written. Vectorized across `Lanes` neighbouring tiles of a tile row.
func winogradOutputGradients(
    _ dOutput: UnsafePointer<Float>, outChannels: Int, images: Int, height: Int, width: Int,
    firstImage: Int, imageCount: Int, channelRange: Range<Int>, into dProducts: UnsafeMutablePointer<Float>, componentStride: Int
) {
    let tilesY = (height + 1) / 2, tilesX = (width + 1) / 2, tilesPerImage = tilesY * tilesX
    let columns = imageCount * tilesPerImage
    for o in channelRange {
        for i in 0..<imageCount {
            let plane = dOutput + (o * images + firstImage + i) * height * width
            let target = dProducts + o * columns + i * tilesPerImage
            for ty in 0..<tilesY {
                let top = plane + 2 * ty * width, hasBottom = 2 * ty + 1 < height
                for tx in Swift.stride(from: 0, to: tilesX, by: lanes) {
                    let count = min(lanes, tilesX - tx), offset = ty * tilesX + tx
                    // Even and odd pixels of the tiles' two rows: (g00, g01) on top, (g10, g11) below.
                    let (g00, g01) = evenAndOddPixels(top, from: 2 * tx, width: width)
                    let (g10, g11) = hasBottom ? evenAndOddPixels(top + width, from: 2 * tx, width: width) : (Lanes(), Lanes())
                    // A applied to a pair (p, q) is (p, p + q, p - q, -q): first down the rows of g, then along them.
                    @inline(__always) func emitRow(_ r: Int, _ p: Lanes, _ q: Lanes) {
                        store(p, to: target + (4 * r) * componentStride + offset, count: count)
                        store(p + q, to: target + (4 * r + 1) * componentStride + offset, count: count)
                        store(p - q, to: target + (4 * r + 2) * componentStride + offset, count: count)
                        store(-q, to: target + (4 * r + 3) * componentStride + offset, count: count)
                    }
                    emitRow(0, g00, g01)
                    emitRow(1, g00 + g10, g01 + g11)
                    emitRow(2, g00 - g10, g01 - g11)
                    emitRow(3, -g10, -g11)
                }
            }
        }
    }
}

/// Pixels `from`, `from + 2`, ... and `from + 1`, `from + 3`, ... of a row (a vector each, zero past `width`).
@inline(__always)
private func evenAndOddPixels(_ row: UnsafePointer<Float>, from x: Int, width: Int) -> (Lanes, Lanes) {
    if x + 2 * lanes <= width {
        let pixels = UnsafeRawPointer(row + x).loadUnaligned(as: SIMD8<Float>.self)
        return (pixels.evenHalf, pixels.oddHalf)
    }
    var staged = SIMD8<Float>()
    for j in 0..<min(2 * lanes, width - x) { staged[j] = row[x + j] }
    return (staged.evenHalf, staged.oddHalf)
}

/// Scratch floats `winogradInputGradients` needs per worker for a feature map: the even and the odd
/// columns of a zero-bordered plane, held apart.
func winogradInputGradientScratchCount(height: Int, width: Int) -> Int { 2 * (height + 3) * ((width + 1) / 2 + 9) }

/// dd = B dV B^T for every tile, summed where the 4x4 input tiles overlap: the adjoint of `winogradInputs`.
/// Reads [16, channels, imageCount * tiles] (component k at `k * componentStride`) and overwrites the input
/// gradient [channels, images, h, w] at images `firstImage ..< firstImage + imageCount` (what falls on the
/// zero padding is dropped). Only channels in `channelRange` are written, so workers can split them, each
/// with its own scratch. Vectorized across `Lanes` neighbouring tiles of a tile row: tile tx covers padded columns
/// 2tx ..< 2tx + 4, which are even column tx, odd tx, even tx + 1, odd tx + 1 of a de-interleaved row.
func winogradInputGradients(
    _ dTransformed: UnsafePointer<Float>, componentStride: Int, channels: Int, images: Int, height: Int, width: Int,
    firstImage: Int, imageCount: Int, channelRange: Range<Int>,
    scratch: UnsafeMutablePointer<Float>, into dInput: UnsafeMutablePointer<Float>
) {
    let tilesY = (height + 1) / 2, tilesX = (width + 1) / 2
    let tilesPerImage = tilesY * tilesX, columns = imageCount * tilesPerImage
    // Rows of the padded plane's even and odd columns, with room for a whole vector past the last tile.
    let laneStride = tilesX + 9, planeLength = (height + 3) * laneStride
    let evens = scratch, odds = scratch + planeLength
    @inline(__always) func add(_ v: Lanes, _ p: UnsafeMutablePointer<Float>) {
        let raw = UnsafeMutableRawPointer(p)
        raw.storeBytes(of: raw.loadUnaligned(as: Lanes.self) + v, as: Lanes.self)
    }
    for c in channelRange {
        for i in 0..<imageCount {
            scratch.update(repeating: 0, count: 2 * planeLength)
            let source = dTransformed + c * columns + i * tilesPerImage
            for ty in 0..<tilesY {
                for tx in Swift.stride(from: 0, to: tilesX, by: lanes) {
                    let count = min(lanes, tilesX - tx), offset = ty * tilesX + tx
                    @inline(__always) func v(_ k: Int) -> Lanes { load(source + k * componentStride + offset, count: count) }
                    // B applied to (a, b, c, d) is (a, b - c + d, b + c - a, -d): down the rows, then along them.
                    @inline(__always) func b(_ a: Lanes, _ b: Lanes, _ c: Lanes, _ d: Lanes) -> (Lanes, Lanes, Lanes, Lanes) {
                        (a, b - c + d, b + c - a, -d)
                    }
                    let c0 = b(v(0), v(4), v(8), v(12)), c1 = b(v(1), v(5), v(9), v(13))
                    let c2 = b(v(2), v(6), v(10), v(14)), c3 = b(v(3), v(7), v(11), v(15))
                    @inline(__always) func addRow(_ r: Int, _ row: (Lanes, Lanes, Lanes, Lanes)) {
                        let at = (2 * ty + r) * laneStride + tx
                        add(row.0, evens + at); add(row.1, odds + at); add(row.2, evens + at + 1); add(row.3, odds + at + 1)
                    }
                    addRow(0, b(c0.0, c1.0, c2.0, c3.0))
                    addRow(1, b(c0.1, c1.1, c2.1, c3.1))
                    addRow(2, b(c0.2, c1.2, c2.2, c3.2))
                    addRow(3, b(c0.3, c1.3, c2.3, c3.3))
                }
            }
            // Input pixel (y, x) is padded (y + 1, x + 1): odd column x / 2 for even x, even column x / 2 + 1 for odd x.
            let plane = dInput + (c * images + firstImage + i) * height * width
            for y in 0..<height {
                let row = plane + y * width, evenRow = evens + (y + 1) * laneStride + 1, oddRow = odds + (y + 1) * laneStride
                for t in 0..<width / 2 { row[2 * t] = oddRow[t]; row[2 * t + 1] = evenRow[t] }
                if width & 1 == 1 { row[width - 1] = oddRow[width / 2] }
            }
        }
    }
}

/// dg = G^T dU G for the (out, in) pairs in `pairRange` of dU [16, pairs], added to the weight gradient
/// [pairs, 3, 3]: the adjoint of `winogradFilters`. Workers can split the pairs.
func winogradFilterGradients(
    _ dTransformed: UnsafePointer<Float>, pairs: Int, pairRange: Range<Int>, addingInto dWeights: UnsafeMutablePointer<Float>
) {
    // G^T applied to four values (a column or a row of dU).
    @inline(__always) func gT(_ a: Double, _ b: Double, _ c: Double, _ d: Double) -> (Double, Double, Double) {
        (a + 0.5 * (b + c), 0.5 * (b - c), 0.5 * (b + c) + d)
    }
    for pair in pairRange {
        @inline(__always) func u(_ i: Int, _ j: Int) -> Double { Double(dTransformed[(4 * i + j) * pairs + pair]) }
        // t = G^T dU (3x4), one column of dU at a time; then dg = t G, one row of t at a time.
        let c0 = gT(u(0, 0), u(1, 0), u(2, 0), u(3, 0)), c1 = gT(u(0, 1), u(1, 1), u(2, 1), u(3, 1))
        let c2 = gT(u(0, 2), u(1, 2), u(2, 2), u(3, 2)), c3 = gT(u(0, 3), u(1, 3), u(2, 3), u(3, 3))
        let target = dWeights + pair * 9
        @inline(__always) func add(_ r: Int, _ row: (Double, Double, Double)) {
            target[3 * r] += Float(row.0); target[3 * r + 1] += Float(row.1); target[3 * r + 2] += Float(row.2)
        }
        add(0, gT(c0.0, c1.0, c2.0, c3.0))
        add(1, gT(c0.1, c1.1, c2.1, c3.1))
        add(2, gT(c0.2, c1.2, c2.2, c3.2))
    }
}
