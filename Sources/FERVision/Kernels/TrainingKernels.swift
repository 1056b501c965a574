import Foundation

// Forward and backward of each training layer, side by side, over channel-major batches
// [channels, images, h, w] (the layout the inference network uses, so one GEMM covers a whole chunk).
// Backward functions accumulate into gradient buffers where a value has several consumers.

/// Batch norm in training mode fused with ReLU, per channel over `count` = images * h * w values.
/// z: [channels, count] (conv output) -> y = relu(gamma * (z - mean) / sqrt(var + eps) + beta).
/// Saves mean and 1/sqrt(var + eps) per channel for backward; var is the biased batch variance, as
/// PyTorch normalizes with; returns the unbiased variance for the running estimate. Sums run in Double.
func batchNormReLUForward(
    _ z: UnsafePointer<Float>, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
    channels: Range<Int>, count: Int, epsilon: Double,
    y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, inverseStd: UnsafeMutablePointer<Float>,
    unbiasedVariance: UnsafeMutablePointer<Float>
) {
    for c in channels {
        let row = z + c * count
        let m = sumInDouble(count) { Double(row[$0]) } vector: { SIMD8<Double>(vector(row, $0)) } / Double(count)
        let squares = sumInDouble(count) { let d = Double(row[$0]) - m; return d * d } vector: {
            let d = SIMD8<Double>(vector(row, $0)) - m
            return d * d
        }
        let variance = squares / Double(count)
        let invStd = 1 / (variance + epsilon).squareRoot()
        mean[c] = Float(m)
        inverseStd[c] = Float(invStd)
        unbiasedVariance[c] = Float(count > 1 ? squares / Double(count - 1) : 0)
        let scale = Float(Double(gamma[c]) * invStd), shift = Float(Double(beta[c]) - m * Double(gamma[c]) * invStd)
        let out = y + c * count
        var j = 0
        while j + 8 <= count {
            let v = vector(row, j) * scale + shift
            store(v.replacing(with: 0, where: v .< 0), to: out + j)
            j += 8
        }
        while j < count { out[j] = max(0, row[j] * scale + shift); j += 1 }
    }
}

/// Backward of `batchNormReLUForward`. dy: gradient at the ReLU output; writes dz and accumulates dgamma,
/// dbeta, and the gradient of the preceding convolution's bias.
/// With a = relu'(y) * dy and x̂ = (z - mean) * invStd:
///   dbeta = Σ a, dgamma = Σ a x̂, dz = gamma * invStd / M * (M a - dbeta - x̂ dgamma)
/// The conv bias gradient Σ dz is 0 in exact arithmetic (batch norm subtracts the bias at once); summing
/// Float32 dz leaves noise that Adam would turn into learning-rate-sized steps. Its closed form
/// Σ dz = -gamma * invStd * mean(a x̂) * Σ x̂, with Σ x̂ = invStd * (Σ z - M mean) in Double, is the exact
/// value to double precision.
func batchNormReLUBackward(
    dy: UnsafePointer<Float>, y: UnsafePointer<Float>, z: UnsafePointer<Float>,
    gamma: UnsafePointer<Float>, mean: UnsafePointer<Float>, inverseStd: UnsafePointer<Float>,
    channels: Range<Int>, count: Int,
    dz: UnsafeMutablePointer<Float>, dgamma: UnsafeMutablePointer<Float>, dbeta: UnsafeMutablePointer<Float>,
    dConvolutionBias: UnsafeMutablePointer<Float>
) {
    for c in channels {
        let g = dy + c * count, out = y + c * count, input = z + c * count
        let m = mean[c], s = inverseStd[c]
        @inline(__always) func a(_ j: Int) -> Float { out[j] > 0 ? g[j] : 0 }
        @inline(__always) func a8(_ j: Int) -> SIMD8<Float> { vector(g, j).replacing(with: 0, where: vector(out, j) .<= 0) }
        let sumA = sumInDouble(count) { Double(a($0)) } vector: { SIMD8<Double>(a8($0)) }
        let sumAX = sumInDouble(count) { Double(a($0) * ((input[$0] - m) * s)) } vector: { SIMD8<Double>(a8($0) * ((vector(input, $0) - m) * s)) }
        let sumZ = sumInDouble(count) { Double(input[$0]) } vector: { SIMD8<Double>(vector(input, $0)) }
        let sumX = Double(s) * (sumZ - Double(count) * Double(m))
        dbeta[c] += Float(sumA)
        dgamma[c] += Float(sumAX)
        dConvolutionBias[c] += Float(-Double(gamma[c]) * Double(s) * (sumAX / Double(count)) * sumX)
        let scale = gamma[c] * s
        let meanA = Float(sumA / Double(count)), meanAX = Float(sumAX / Double(count))
        let target = dz + c * count
        var j = 0
        while j + 8 <= count {
            store(scale * (a8(j) - meanA - (vector(input, j) - m) * s * meanAX), to: target + j)
            j += 8
        }
        while j < count { target[j] = scale * (a(j) - meanA - (input[j] - m) * s * meanAX); j += 1 }
    }
}

/// Σ over j in 0..<count, in Double: `vector(j)` for each whole group of 8 (lanes summed apart, so the adds
/// overlap), `scalar(j)` for the rest.
@inline(__always)
private func sumInDouble(_ count: Int, scalar: (Int) -> Double, vector: (Int) -> SIMD8<Double>) -> Double {
    var lanes = SIMD8<Double>(), j = 0
    while j + 8 <= count { lanes += vector(j); j += 8 }
    var total = lanes.sum()
    while j < count { total += scalar(j); j += 1 }
    return total
}

/// Eight floats from `p + j` (the training kernels' vector width).
@inline(__always)
private func vector(_ p: UnsafePointer<Float>, _ j: Int) -> SIMD8<Float> { load(p + j) }

/// 2x2 max pooling (stride 2, floor), remembering which of the four won (the first maximum in row-major
/// order, as PyTorch's CPU kernel picks) for backward.
/// input [planes, h, w] -> output [planes, h / 2, w / 2], winners [planes, h / 2, w / 2] in 0...3.
func maxPool2Forward(
    _ input: UnsafePointer<Float>, planes: Range<Int>, height: Int, width: Int,
    output: UnsafeMutablePointer<Float>, winners: UnsafeMutablePointer<UInt8>
) {
    let outHeight = height / 2, outWidth = width / 2
    for p in planes {
        let source = input + p * height * width
        for oy in 0..<outHeight {
            for ox in 0..<outWidth {
                let top = source + 2 * oy * width + 2 * ox
                var best = top[0], index: UInt8 = 0
                if top[1] > best { best = top[1]; index = 1 }
                if top[width] > best { best = top[width]; index = 2 }
                if top[width + 1] > best { best = top[width + 1]; index = 3 }
                let o = (p * outHeight + oy) * outWidth + ox
                output[o] = best
                winners[o] = index
            }
        }
    }
}

/// Backward of `maxPool2Forward`: each output gradient goes to its winner; dInput is overwritten
/// (zero where nothing won, including rows and columns the floor dropped).
func maxPool2Backward(
    _ dOutput: UnsafePointer<Float>, winners: UnsafePointer<UInt8>, planes: Range<Int>, height: Int, width: Int,
    dInput: UnsafeMutablePointer<Float>
) {
    let outHeight = height / 2, outWidth = width / 2
    for p in planes {
        let target = dInput + p * height * width
        target.update(repeating: 0, count: height * width)
        for oy in 0..<outHeight {
            for ox in 0..<outWidth {
                let o = (p * outHeight + oy) * outWidth + ox
                let w = Int(winners[o])
                target[(2 * oy + w / 2) * width + 2 * ox + w % 2] = dOutput[o]
            }
        }
    }
}

/// The classifier's k x k max pooling on an s x s map (floor: only the top-left (s / k)k square is read, so
/// MaxPool2d(4) on 6x6 reads the top-left 4x4, and k = s reads the whole map), saving the flat index of
/// each window's first maximum.
/// input [planes, s, s] -> output [planes, s / k, s / k]
func classifierMaxPoolForward(
    _ input: UnsafePointer<Float>, planes: Int, side: Int, kernel k: Int,
    output: UnsafeMutablePointer<Float>, winners: UnsafeMutablePointer<Int32>
) {
    let out = side / k
    for p in 0..<planes {
        for oy in 0..<out {
            for ox in 0..<out {
                var best = -Float.infinity, index = 0
                for dy in 0..<k {
                    for dx in 0..<k {
                        let i = (oy * k + dy) * side + ox * k + dx
                        if input[p * side * side + i] > best { best = input[p * side * side + i]; index = i }
                    }
                }
                output[(p * out + oy) * out + ox] = best
                winners[(p * out + oy) * out + ox] = Int32(index)
            }
        }
    }
}

/// Softmax cross-entropy against target distributions, mean over the batch (PyTorch's `cross_entropy`
/// with probability targets; one-hot rows give the usual loss, smoothed or mixed rows label smoothing
/// and mixup; rows scaled by a class weight the weighted loss). logits, targets [images, classes] -> loss;
/// dLogits = (p * sum(target) - target) / N, which is (p - target) / N for a distribution.
func softmaxCrossEntropy(
    logits: UnsafePointer<Float>, targets: UnsafePointer<Float>, images n: Int, classes: Int,
    dLogits: UnsafeMutablePointer<Float>
) -> Double {
    var total = 0.0
    for i in 0..<n {
        let row = logits + i * classes, target = targets + i * classes
        var top = row[0]
        for k in 1..<classes { top = max(top, row[k]) }
        var sum = 0.0
        for k in 0..<classes { sum += Foundation.exp(Double(row[k] - top)) }
        let logSum = Foundation.log(sum) + Double(top)
        // A weighted row's targets sum to its weight w, not 1: d(-sum t log p)/dz = w p - t.
        var weight = 0.0
        for k in 0..<classes { weight += Double(target[k]) }
        for k in 0..<classes {
            let logP = Double(row[k]) - logSum
            total -= Double(target[k]) * logP
            dLogits[i * classes + k] = Float((weight * Foundation.exp(logP) - Double(target[k])) / Double(n))
        }
    }
    return total / Double(n)
}
