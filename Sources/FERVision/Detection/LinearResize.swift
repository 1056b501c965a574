/// Bilinear resizing of 8-bit grayscale exactly as OpenCV's bit-exact linear resize
/// (cv::resize with INTER_LINEAR_EXACT), which its cascade detector builds the image pyramid with:
/// 8-bit fixed-point weights, rows first, then columns, rounded once at the end. The cascade's
/// thresholds sit on this pyramid, and matching it pixel for pixel makes our detections OpenCV's.
enum LinearResize {
    /// Source index and 8-bit weights (summing to 256) for each destination index along one axis;
    /// index -1 means "before the first source pixel" and `source` "past the last": both edges repeat.
    static func taps(destination: Int, source: Int) -> (index: [Int], weight0: [UInt32], weight1: [UInt32]) {
        let scale = 1 / (Double(destination) / Double(source))
        var index = [Int](repeating: 0, count: destination)
        var weight0 = [UInt32](repeating: 0, count: destination), weight1 = [UInt32](repeating: 256, count: destination)
        for d in 0..<destination {
            var f = scale * (Double(d) + 0.5) - 0.5
            let s = Int(f.rounded(.down))
            f -= Double(s)
            let w1 = UInt32((f * 256).rounded(.toNearestOrEven))
            if s < 0 {
                index[d] = 0
                weight0[d] = 256
                weight1[d] = 0
            } else if s >= source - 1 {
                index[d] = source - 1
                weight0[d] = 256
                weight1[d] = 0
            } else {
                index[d] = s
                weight0[d] = 256 - w1
                weight1[d] = w1
            }
        }
        return (index, weight0, weight1)
    }

    /// `image` (grayscale) scaled to `width` x `height`.
    static func resize(_ image: ByteImage, width: Int, height: Int) -> [UInt8] {
        if width == image.width && height == image.height { return image.pixels }
        let columns = taps(destination: width, source: image.width)
        let rows = taps(destination: height, source: image.height)
        var output = [UInt8](repeating: 0, count: width * height)
        // Horizontally filtered source rows (8 fractional bits), computed once each.
        var filtered = [UInt32](repeating: 0, count: width * 2)
        var filteredRows = (-1, -1)
        image.pixels.withUnsafeBufferPointer { pixels in
        output.withUnsafeMutableBufferPointer { out in
        filtered.withUnsafeMutableBufferPointer { buffer in
            func filter(_ y: Int, into slot: Int) {
                let source = pixels.baseAddress! + y * image.width
                let last = image.width - 1
                for x in 0..<width {
                    let s = columns.index[x]
                    buffer[slot * width + x] = UInt32(source[s]) * columns.weight0[x] + UInt32(source[min(s + 1, last)]) * columns.weight1[x]
                }
            }
            for y in 0..<height {
                let top = rows.index[y], bottom = min(top + 1, image.height - 1)
                // Two row slots, reused while consecutive output rows share source rows.
                if filteredRows.0 != top {
                    if filteredRows.1 == top {
                        (buffer.baseAddress!).update(from: buffer.baseAddress! + width, count: width)
                    } else {
                        filter(top, into: 0)
                    }
                    filteredRows.0 = top
                    filteredRows.1 = -1
                }
                if filteredRows.1 != bottom {
                    filter(bottom, into: 1)
                    filteredRows.1 = bottom
                }
                let b0 = rows.weight0[y], b1 = rows.weight1[y]
                for x in 0..<width {
                    let value = (buffer[x] * b0 + buffer[width + x] * b1 + (1 << 15)) >> 16
                    out[y * width + x] = UInt8(truncatingIfNeeded: min(value, 255))
                }
            }
        }}}
        return output
    }
}
