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
}
