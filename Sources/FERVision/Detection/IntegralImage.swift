/// Summed-area tables of an 8-bit image, (width + 1) x (height + 1) with a zero first row and column:
/// the sum over any rectangle is four lookups. Squares accumulate in 32 bits with wrap-around, as
/// OpenCV's do; differences over a window are still exact, since a window's sum of squares fits.
struct IntegralImage {
    let width: Int, height: Int
    /// Row stride of the tables: at least width + 1 (one stride for every scale lets compiled feature
    /// offsets serve them all).
    let stride: Int
    var sums: [Int32]
    var squares: [UInt32]

    init(pixels: UnsafeBufferPointer<UInt8>, width: Int, height: Int, stride: Int? = nil, withSquares: Bool) {
        self.width = width
        self.height = height
        let stride = max(stride ?? 0, width + 1)
        self.stride = stride
        sums = [Int32](repeating: 0, count: stride * (height + 1))
        squares = withSquares ? [UInt32](repeating: 0, count: stride * (height + 1)) : []
        sums.withUnsafeMutableBufferPointer { sum in
            for y in 0..<height {
                var rowSum: Int32 = 0
                let above = y * stride, here = (y + 1) * stride
                for x in 0..<width {
                    rowSum &+= Int32(pixels[y * width + x])
                    sum[here + x + 1] = sum[above + x + 1] &+ rowSum
                }
            }
        }
        if withSquares {
            squares.withUnsafeMutableBufferPointer { square in
                for y in 0..<height {
                    var rowSum: UInt32 = 0
                    let above = y * stride, here = (y + 1) * stride
                    for x in 0..<width {
                        let value = UInt32(pixels[y * width + x])
                        rowSum &+= value &* value
                        square[here + x + 1] = square[above + x + 1] &+ rowSum
                    }
                }
            }
        }
    }

    /// Offsets of a rectangle's corners (top-left, top-right, bottom-left, bottom-right) in tables of
    /// row stride `stride`: a rectangle's sum is table[0] - table[1] - table[2] + table[3].
    static func corners(of r: PixelRect, stride: Int) -> [Int] {
        [r.x + stride * r.y, r.x + r.width + stride * r.y, r.x + stride * (r.y + r.height), r.x + r.width + stride * (r.y + r.height)]
    }

    /// OpenCV's Haar normalization of a window from its inset rectangle's sum and sum of squares:
    /// 1 / (area x standard deviation), or nil for a window too flat to judge.
    @inline(__always)
    static func varianceNorm(sum: Int32, squares: UInt32, area: Double) -> Float? {
        let spread = area * Double(squares) - Double(sum) * Double(sum)
        guard spread > 0 else { return nil }
        let norm = Float(1 / spread.squareRoot())
        return area * Double(norm) < 0.1 ? norm : nil
    }
}
