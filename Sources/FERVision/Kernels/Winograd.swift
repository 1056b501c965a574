// Winograd F(2x2, 3x3) for 3x3 convolutions with padding 1, stride 1 (Lavin & Gray, 2015): each 2x2
// output tile costs 16 multiplies per input/output channel pair instead of 36, so the GEMMs do 2.25x
// less work. Transforms (B, G, A below) are exact in binary floating point up to the halves in G.
//
// filter  U = G g G^T   G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]          (4x4 from 3x3)
// input   V = B^T d B   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]          (4x4 tile d, stride 2)
// output  Y = A^T M A   A^T = [1 1 1 0; 0 1 -1 -1]                             (2x2 from 4x4)
// with M[k] = U[k] * V[k] as 16 GEMMs over channels: [out, in] x [in, tiles] -> [out, tiles].

/// U for every (out, in) pair: [16, outChannels, inChannels], from weights [out, in, 3, 3].
func winogradFilters(_ weights: [Float], outChannels: Int, inChannels: Int) -> [Float] {
    precondition(weights.count == outChannels * inChannels * 9)
    let pairs = outChannels * inChannels
    var transformed = [Float](repeating: 0, count: 16 * pairs)
    weights.withUnsafeBufferPointer { w in
        transformed.withUnsafeMutableBufferPointer { u in
            winogradFilters(w.baseAddress!, pairs: pairs, pairRange: 0..<pairs, into: u.baseAddress!)
        }
    }
    return transformed
}

/// U = G g G^T for the (out, in) pairs in `pairRange` of weights [pairs, 3, 3], into [16, pairs]
/// (workers can split the pairs). Sums in Double, so U is the correctly rounded transform.
func winogradFilters(_ weights: UnsafePointer<Float>, pairs: Int, pairRange: Range<Int>, into transformed: UnsafeMutablePointer<Float>) {
    // G applied to three values (a column or a row of the 3x3 filter).
    @inline(__always) func g(_ a: Double, _ b: Double, _ c: Double) -> (Double, Double, Double, Double) {
        (a, 0.5 * (a + b + c), 0.5 * (a - b + c), c)
    }
    for pair in pairRange {
        let w = weights + pair * 9
        // t = G w, one column of w at a time: t[i][j] for rows i.
        let c0 = g(Double(w[0]), Double(w[3]), Double(w[6]))
        let c1 = g(Double(w[1]), Double(w[4]), Double(w[7]))
        let c2 = g(Double(w[2]), Double(w[5]), Double(w[8]))
        // U = t G^T, one row of t at a time.
        @inline(__always) func emit(_ i: Int, _ row: (Double, Double, Double, Double)) {
            transformed[(i * 4) * pairs + pair] = Float(row.0)
            transformed[(i * 4 + 1) * pairs + pair] = Float(row.1)
            transformed[(i * 4 + 2) * pairs + pair] = Float(row.2)
            transformed[(i * 4 + 3) * pairs + pair] = Float(row.3)
        }
        emit(0, g(c0.0, c1.0, c2.0)); emit(1, g(c0.1, c1.1, c2.1)); emit(2, g(c0.2, c1.2, c2.2)); emit(3, g(c0.3, c1.3, c2.3))
    }
}

/// Floats from one of the 16 components of a transformed stream to the next, for `channels * columns`
/// values each: a cache line more than they hold. Unpadded, every component would start a multiple of
/// 4 KiB after the last (true of every layer here), so the 16 that each tile touches at once would all
/// compete for the same few cache sets.
@inline(__always)
func winogradComponentStride(channels: Int, columns: Int) -> Int { channels * columns + 16 }

/// Images per chunk (at least 1, at most `images`) whose 16-component stream of `channels` channels fits
/// `capacity` floats.
/// - Precondition: one image fits (callers size their buffers from the shapes).
func winogradImagesFitting(capacity: Int, channels: Int, tiles: Int, images: Int) -> Int {
    let fitting = (capacity / 16 - 16) / (channels * tiles)
    precondition(fitting >= 1, "a Winograd buffer of \(capacity) floats cannot hold one image of \(channels) channels x \(tiles) tiles")
    return min(images, fitting)
}

/// Tiles per vector in the transforms: four, so that a transform's 16 values stay in registers on
/// baseline x86-64 (SSE), which the package is built for.
typealias Lanes = SIMD4<Float>

/// Tiles per image for a `height` x `width` output: ceil(h / 2) * ceil(w / 2).
@inline(__always)
func winogradTileCount(height: Int, width: Int) -> Int { ((height + 1) / 2) * ((width + 1) / 2) }

/// Scratch floats `winogradInputs` needs for a feature map `width` pixels wide: one zero-bordered plane
/// row set plus even/odd de-interleaved copies of four rows.
func winogradScratchCount(height: Int, width: Int) -> Int {
    (height + 3) * (width + 3) + 8 * (width / 2 + 10)
}

/// V for images `firstImage ..< firstImage + imageCount` of a channel-major input [channels, images, h, w]:
/// transformed: [16, channels, imageCount * tiles], component k at `k * componentStride`. Vectorized across `Lanes` neighbouring tiles of a tile row,
/// so each of the 16 outputs is stored a vector of contiguous floats at a time.
/// Only channels in `channelRange` are transformed, so workers can split the channels (each with its own scratch).
func winogradInputs(
    _ input: UnsafePointer<Float>, channels: Int, images: Int, height: Int, width: Int,
    firstImage: Int, imageCount: Int, channelRange: Range<Int>,
    scratch: UnsafeMutablePointer<Float>, into transformed: UnsafeMutablePointer<Float>, componentStride: Int
) {
    let tilesY = (height + 1) / 2, tilesX = (width + 1) / 2
    let tilesPerImage = tilesY * tilesX, columns = imageCount * tilesPerImage
    let stride = width + 3          // the left pad, and room to read a 4-wide tile past odd right edges
    let padded = scratch
    // Tile tx reads columns 2tx ..< 2tx + 4 of a padded row: evens[tx], odds[tx], evens[tx + 1], odds[tx + 1].
    let laneStride = tilesX + 9, evens = scratch + (height + 3) * stride, odds = evens + 4 * laneStride
    padded.update(repeating: 0, count: (height + 3) * stride)
    evens.update(repeating: 0, count: 8 * laneStride)
    for c in channelRange {
        for i in 0..<imageCount {
            let plane = input + (c * images + firstImage + i) * height * width
            for y in 0..<height { (padded + (y + 1) * stride + 1).update(from: plane + y * width, count: width) }
            let out = transformed + c * columns + i * tilesPerImage
            for ty in 0..<tilesY {
                for r in 0..<4 {
                    let row = padded + (2 * ty + r) * stride
                    for t in 0...tilesX {
                        evens[r * laneStride + t] = row[2 * t]
                        odds[r * laneStride + t] = row[2 * t + 1]
                    }
                }
                for tx in Swift.stride(from: 0, to: tilesX, by: Lanes.scalarCount) {
                    @inline(__always) func load(_ base: UnsafeMutablePointer<Float>, _ r: Int, _ shift: Int) -> Lanes {
                        UnsafeRawPointer(base + r * laneStride + tx + shift).loadUnaligned(as: Lanes.self)
                    }
                    // Row r of d B, for 8 tiles at once: (d0 - d2, d1 + d2, d2 - d1, d1 - d3).
                    @inline(__always) func rowTimesB(_ r: Int) -> (Lanes, Lanes, Lanes, Lanes) {
                        let d0 = load(evens, r, 0), d1 = load(odds, r, 0), d2 = load(evens, r, 1), d3 = load(odds, r, 1)
                        return (d0 - d2, d1 + d2, d2 - d1, d1 - d3)
                    }
                    let e0 = rowTimesB(0), e1 = rowTimesB(1), e2 = rowTimesB(2), e3 = rowTimesB(3)
                    let count = min(Lanes.scalarCount, tilesX - tx), offset = ty * tilesX + tx
                    // B^T (d B): rows e0 - e2, e1 + e2, e2 - e1, e1 - e3; output k = 4 * row + column.
                    @inline(__always) func emit(_ k: Int, _ v: Lanes) { store(v, to: out + k * componentStride + offset, count: count) }
                    emit(0, e0.0 - e2.0); emit(1, e0.1 - e2.1); emit(2, e0.2 - e2.2); emit(3, e0.3 - e2.3)
                    emit(4, e1.0 + e2.0); emit(5, e1.1 + e2.1); emit(6, e1.2 + e2.2); emit(7, e1.3 + e2.3)
                    emit(8, e2.0 - e1.0); emit(9, e2.1 - e1.1); emit(10, e2.2 - e1.2); emit(11, e2.3 - e1.3)
                    emit(12, e1.0 - e3.0); emit(13, e1.1 - e3.1); emit(14, e1.2 - e3.2); emit(15, e1.3 - e3.3)
                }
            }
        }
    }
}

/// Y from the 16 GEMM products [16, outChannels, imageCount * tiles] (component k at `k * componentStride`) into the channel-major output
/// [outChannels, images, h, w] at images `firstImage ..< firstImage + imageCount`. Vectorized across `Lanes`
/// consecutive tiles of an output channel (spanning tile rows and images), then scattered as 2x2 blocks.
/// Only output channels in `channelRange` are written, so workers can split them.
func winogradOutputs(
    _ products: UnsafePointer<Float>, componentStride: Int, outChannels: Int, images: Int, height: Int, width: Int,
    firstImage: Int, imageCount: Int, channelRange: Range<Int>, into output: UnsafeMutablePointer<Float>
) {
    let columns = imageCount * winogradTileCount(height: height, width: width)
    let planeLength = height * width
    for o in channelRange {
        let source = products + o * columns
        var cursor = TileCursor(height: height, width: width, firstImage: firstImage)   // the next lane's tile
        for t in Swift.stride(from: 0, to: columns, by: Lanes.scalarCount) {
            let count = min(Lanes.scalarCount, columns - t)
            @inline(__always) func m(_ k: Int) -> Lanes { load(source + k * componentStride + t, count: count) }
            // A^T M: per column j, s0 = M0j + M1j + M2j and s1 = M1j - M2j - M3j.
            @inline(__always) func column(_ j: Int) -> (Lanes, Lanes) {
                let m0 = m(j), m1 = m(4 + j), m2 = m(8 + j), m3 = m(12 + j)
                return (m0 + m1 + m2, m1 - m2 - m3)
            }
            let c0 = column(0), c1 = column(1), c2 = column(2), c3 = column(3)
            // (A^T M) A: y0 = s[0] + s[1] + s[2], y1 = s[1] - s[2] - s[3], for each of the two rows.
            let y00 = c0.0 + c1.0 + c2.0, y01 = c1.0 - c2.0 - c3.0
            let y10 = c0.1 + c1.1 + c2.1, y11 = c1.1 - c2.1 - c3.1
            for lane in 0..<count {
                let y = 2 * cursor.row, x = 2 * cursor.column
                let top = output + (o * images + cursor.image) * planeLength + y * width + x
                top[0] = y00[lane]
                if x + 1 < width { top[1] = y01[lane] }
                if y + 1 < height {
                    top[width] = y10[lane]
                    if x + 1 < width { top[width + 1] = y11[lane] }
                }
                cursor.advance()
            }
        }
    }
}

/// The 2x2 output tiles in the order a transformed stream holds them (images, then tile rows, then tiles).
private struct TileCursor {
    let tilesX: Int, tilesY: Int
    private(set) var image: Int
    private(set) var row = 0, column = 0

    init(height: Int, width: Int, firstImage: Int) {
        tilesY = (height + 1) / 2
        tilesX = (width + 1) / 2
        image = firstImage
    }

    mutating func advance() {
        column += 1
        if column == tilesX {
            column = 0
            row += 1
            if row == tilesY { row = 0; image += 1 }
        }
    }
}
