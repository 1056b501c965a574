/// im2col for a 3x3 convolution with padding 1 and stride 1, over a channel-major batch.
///
/// input:   [channels, images, height, width]   (channel-major: a GEMM's output is the next layer's input)
/// columns: [channels * 9, imageCount * height * width] for images `firstImage ..< firstImage + imageCount`;
///          row `c * 9 + ky * 3 + kx`, column `i * height * width + y * width + x` holds
///          input[c, firstImage + i, y + ky - 1, x + kx - 1], or 0 outside the image.
///          Only rows of channels in `channelRange` are written, so workers can split the channels.
func im2col3x3(
    input: UnsafePointer<Float>, channels: Int, images: Int, height: Int, width: Int,
    firstImage: Int, imageCount: Int, channelRange: Range<Int>? = nil,
    columns: UnsafeMutablePointer<Float>
) {
    let plane = height * width
    let rowLength = imageCount * plane
    for c in channelRange ?? 0..<channels {
        for ky in 0..<3 {
            for kx in 0..<3 {
                let row = columns + (c * 9 + ky * 3 + kx) * rowLength
                let dx = kx - 1
                // Columns x in [xStart, xEnd) read inside the image; the rest are padding.
                let xStart = max(0, -dx), xEnd = min(width, width - dx)
                for i in 0..<imageCount {
                    let source = input + (c * images + firstImage + i) * plane
                    let target = row + i * plane
                    for y in 0..<height {
                        let sy = y + ky - 1
                        let out = target + y * width
                        guard sy >= 0, sy < height else {
                            out.update(repeating: 0, count: width)
                            continue
                        }
                        if xStart > 0 { out.update(repeating: 0, count: xStart) }
                        (out + xStart).update(from: source + sy * width + xStart + dx, count: xEnd - xStart)
                        if xEnd < width { (out + xEnd).update(repeating: 0, count: width - xEnd) }
                    }
                }
            }
        }
    }
}
