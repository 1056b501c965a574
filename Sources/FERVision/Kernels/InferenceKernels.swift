import Foundation

// Inference kernels over channel-major batches [channels, images, height, width].
// Each takes raw buffers so the network can run them in a reused workspace without allocating.

/// out[c, j] = max(0, out[c, j] + bias[c]) (+ skip[c, j] when given), for `planeLength` elements per channel.
/// The residual add comes after the ReLU, as in ResNet9's `res(x) + x`.
func addBiasReLU(
    _ out: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, channels: Int, planeLength: Int,
    addingSkip skip: UnsafePointer<Float>? = nil
) {
    for c in 0..<channels {
        let b = bias[c]
        let row = out + c * planeLength
        if let skip {
            let skipRow = skip + c * planeLength
            for j in 0..<planeLength { row[j] = max(0, row[j] + b) + skipRow[j] }
        } else {
            for j in 0..<planeLength { row[j] = max(0, row[j] + b) }
        }
    }
}

/// 2x2 max pooling (stride 2, floor) fused with bias and ReLU: max commutes with adding a per-channel
/// constant and with ReLU, so pooling first does a quarter of the work.
/// input: [channels, planes, height, width] -> output: [channels, planes, height / 2, width / 2]
func maxPool2BiasReLU(
    _ input: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>,
    channels: Int, planes: Int, height: Int, width: Int
) {
    let outHeight = height / 2, outWidth = width / 2
    for c in 0..<channels {
        let b = bias[c]
        for p in 0..<planes {
            let source = input + (c * planes + p) * height * width
            let target = output + (c * planes + p) * outHeight * outWidth
            for y in 0..<outHeight {
                let top = source + 2 * y * width, bottom = top + width
                let out = target + y * outWidth
                for x in 0..<outWidth {
                    let m = max(max(top[2 * x], top[2 * x + 1]), max(bottom[2 * x], bottom[2 * x + 1]))
                    out[x] = max(0, m + b)
                }
            }
        }
    }
}

/// k x k max pooling, stride k, floor semantics (PyTorch's MaxPool2d(k) default): windows that do not
/// fit are dropped, so MaxPool2d(4) on 6x6 reads only the top-left 4x4.
/// input: [planes, height, width] -> output: [planes, height / k, width / k]
func maxPool(
    _ input: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>,
    planes: Int, height: Int, width: Int, kernel k: Int
) {
    let outHeight = height / k, outWidth = width / k
    for p in 0..<planes {
        let source = input + p * height * width
        let target = output + p * outHeight * outWidth
        for oy in 0..<outHeight {
            for ox in 0..<outWidth {
                var m = -Float.infinity
                for dy in 0..<k {
                    let row = source + (oy * k + dy) * width + ox * k
                    for dx in 0..<k { m = max(m, row[dx]) }
                }
                target[oy * outWidth + ox] = m
            }
        }
    }
}

/// Numerically stable softmax of each row of `logits` ([rows, columns]).
public func softmaxRows(_ logits: [Float], columns: Int) -> [Float] {
    precondition(columns > 0 && logits.count % columns == 0, "softmax: \(logits.count) values do not form rows of \(columns)")
    var result = [Float](repeating: 0, count: logits.count)
    for start in stride(from: 0, to: logits.count, by: columns) {
        let row = logits[start..<start + columns]
        let top = row.max()!
        var sum: Float = 0
        for j in 0..<columns {
            let e = exp(logits[start + j] - top)
            result[start + j] = e
            sum += e
        }
        for j in 0..<columns { result[start + j] /= sum }
    }
    return result
}

/// NCHW [images, channels, plane] -> channel-major [channels, images, plane], the layout every network
/// layer works in.
func transposeToChannelMajor(_ input: UnsafePointer<Float>, images: Int, channels: Int, plane: Int,
                             into output: UnsafeMutablePointer<Float>) {
    for image in 0..<images {
        for channel in 0..<channels {
            (output + (channel * images + image) * plane).update(from: input + (image * channels + channel) * plane, count: plane)
        }
    }
}
