/// The adjoint of `im2col3x3`: accumulates column gradients back into the input gradient.
///
/// columns:  [channels * 9, imageCount * height * width] for images `firstImage ..< firstImage + imageCount`
/// gradient: [channels, images, height, width], added to (not overwritten)
/// Only channels in `channelRange` are touched, so workers can split the channels.
func col2im3x3(
    columns: UnsafePointer<Float>, channels: Int, images: Int, height: Int, width: Int,
    firstImage: Int, imageCount: Int, channelRange: Range<Int>,
    addingInto gradient: UnsafeMutablePointer<Float>
) {
    let plane = height * width
    let rowLength = imageCount * plane
    for c in channelRange {
        for ky in 0..<3 {
            for kx in 0..<3 {
                let row = columns + (c * 9 + ky * 3 + kx) * rowLength
                let dx = kx - 1
                let xStart = max(0, -dx), xEnd = min(width, width - dx)
                for i in 0..<imageCount {
                    let target = gradient + (c * images + firstImage + i) * plane
                    let source = row + i * plane
                    for y in 0..<height {
                        let sy = y + ky - 1
                        guard sy >= 0, sy < height else { continue }
                        let from = source + y * width, to = target + sy * width + dx
                        for x in xStart..<xEnd { to[x] += from[x] }
                    }
                }
            }
        }
    }
}
