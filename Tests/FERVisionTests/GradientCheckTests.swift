@testable import FERVision
import XCTest

/// Each layer's backward against central finite differences on tiny shapes, away from the points where
/// ReLU and max pooling are not differentiable. (The whole network's gradients are checked against a
/// float64 PyTorch reference in TrainingParityTests, which is sharper than finite differences of a
/// Float32 network full of ReLU kinks.)
final class GradientCheckTests: XCTestCase {
    private var random = SplitMix64(seed: 31)

    private func values(_ count: Int, _ low: Float = -1, _ high: Float = 1) -> [Float] {
        (0..<count).map { _ in random.uniform(low, high) }
    }

    private func dot(_ a: [Float], _ b: [Float]) -> Double { zip(a, b).reduce(0) { $0 + Double($1.0) * Double($1.1) } }

    /// Each Winograd backward transform is its forward's adjoint: <forward(x), c> = <x, backward(c)> for
    /// any x and c, on odd sides (tiles past the edge), a chunk of images inside a larger batch, and the
    /// padded component stride the training convolution uses.
    func testWinogradBackwardTransformsAreAdjoints() {
        let (channels, images, height, width, first, count) = (3, 4, 5, 7, 1, 2)
        let tiles = winogradTileCount(height: height, width: width), columns = count * tiles
        let componentStride = winogradComponentStride(channels: channels, columns: columns)
        let plane = height * width
        // Only the chunk's images take part; the others must stay untouched by the backward transforms.
        let x = values(channels * images * plane), c = values(16 * componentStride)
        var chunkMask = [Float](repeating: 0, count: x.count)
        for ch in 0..<channels { for i in first..<first + count { for j in 0..<plane { chunkMask[(ch * images + i) * plane + j] = 1 } } }
        let inChunk = zip(x, chunkMask).map { $0 * $1 }
        // Lanes between components are padding: zero them in c so both sides ignore them.
        var padded = c
        for k in 0..<16 { for j in channels * columns..<componentStride { padded[k * componentStride + j] = 0 } }

        var scratch = [Float](repeating: 0, count: max(winogradScratchCount(height: height, width: width),
                                                         winogradInputGradientScratchCount(height: height, width: width)))
        var transformed = [Float](repeating: 0, count: 16 * componentStride)
        winogradInputs(x, channels: channels, images: images, height: height, width: width, firstImage: first,
                       imageCount: count, channelRange: 0..<channels, scratch: &scratch, into: &transformed,
                       componentStride: componentStride)
        let sentinel: Float = 7
        var back = [Float](repeating: sentinel, count: x.count)
        winogradInputGradients(padded, componentStride: componentStride, channels: channels, images: images, height: height,
                               width: width, firstImage: first, imageCount: count, channelRange: 0..<channels,
                               scratch: &scratch, into: &back)
        XCTAssertEqual(zip(back, chunkMask).filter { $0.1 == 0 }.map(\.0), [Float](repeating: sentinel, count: chunkMask.filter { $0 == 0 }.count),
                       "images outside the chunk are left alone")
        XCTAssertEqual(dot(transformed, padded), dot(inChunk, zip(back, chunkMask).map { $0 * $1 }), accuracy: 1e-3, "input transform")

        // Outputs: products [16, channels, columns] -> planes; its adjoint gathers the planes' gradient.
        var outputs = [Float](repeating: 0, count: x.count)
        winogradOutputs(padded, componentStride: componentStride, outChannels: channels, images: images, height: height,
                        width: width, firstImage: first, imageCount: count, channelRange: 0..<channels, into: &outputs)
        var dProducts = [Float](repeating: 0, count: 16 * componentStride)
        winogradOutputGradients(x, outChannels: channels, images: images, height: height, width: width, firstImage: first,
                                imageCount: count, channelRange: 0..<channels, into: &dProducts, componentStride: componentStride)
        XCTAssertEqual(dot(zip(outputs, chunkMask).map { $0 * $1 }, x), dot(padded, dProducts), accuracy: 1e-3, "output transform")

        // Filters: [pairs, 3, 3] -> [16, pairs]; the adjoint adds into the weight gradient.
        let pairs = 6
        let w = values(pairs * 9), du = values(16 * pairs)
        var u = [Float](repeating: 0, count: 16 * pairs), dw = [Float](repeating: 0, count: pairs * 9)
        winogradFilters(w, pairs: pairs, pairRange: 0..<pairs, into: &u)
        winogradFilterGradients(du, pairs: pairs, pairRange: 0..<pairs, addingInto: &dw)
        XCTAssertEqual(dot(u, du), dot(w, dw), accuracy: 1e-4, "filter transform")
    }

    /// 19 values per channel: two whole vectors of 8 and a scalar tail.
    func testBatchNormReLUBackward() {
        let (channels, count) = (2, 19)
        let z = values(channels * count, -2, 2), gamma: [Float] = [1.3, 0.7], beta: [Float] = [0.2, -0.1]
        let weights = values(channels * count)
        func loss(_ z: [Float]) -> (Double, [Float]) {
            var y = [Float](repeating: 0, count: z.count), mean = [Float](repeating: 0, count: channels)
            var invStd = mean, unbiased = mean
            batchNormReLUForward(z, gamma: gamma, beta: beta, channels: 0..<channels, count: count, epsilon: 1e-5,
                                 y: &y, mean: &mean, inverseStd: &invStd, unbiasedVariance: &unbiased)
            return (dot(y, weights), y)
        }
        let (_, y) = loss(z)
        let dy = weights
        var dz = [Float](repeating: 0, count: z.count)
        var dgamma: [Float] = [0, 0], dbeta: [Float] = [0, 0], dbias: [Float] = [0, 0]
        var mean = [Float](repeating: 0, count: channels), invStd = mean, unbiased = mean, scratch = y
        batchNormReLUForward(z, gamma: gamma, beta: beta, channels: 0..<channels, count: count, epsilon: 1e-5,
                             y: &scratch, mean: &mean, inverseStd: &invStd, unbiasedVariance: &unbiased)
        batchNormReLUBackward(dy: dy, y: y, z: z, gamma: gamma, mean: mean, inverseStd: invStd, channels: 0..<channels,
                              count: count, dz: &dz, dgamma: &dgamma, dbeta: &dbeta, dConvolutionBias: &dbias)
        let h: Float = 1e-3
        for i in z.indices {
            var plus = z, minus = z
            plus[i] += h
            minus[i] -= h
            let numeric = (loss(plus).0 - loss(minus).0) / Double(2 * h)
            XCTAssertEqual(Double(dz[i]), numeric, accuracy: 2e-3 + 2e-2 * abs(numeric), "dz[\(i)]")
        }
        XCTAssertEqual(dbias[0], 0, accuracy: 1e-6, "a bias before batch norm has no gradient")
    }

    func testMaxPool2Backward() {
        let (planes, side) = (2, 4)
        let x = (0..<planes * side * side).map { Float($0 * 7 % 32) / 8 }   // distinct values: no ties
        let weights = values(planes * side * side / 4)
        func loss(_ x: [Float]) -> Double {
            var out = [Float](repeating: 0, count: weights.count), winners = [UInt8](repeating: 0, count: weights.count)
            maxPool2Forward(x, planes: 0..<planes, height: side, width: side, output: &out, winners: &winners)
            return dot(out, weights)
        }
        var out = [Float](repeating: 0, count: weights.count), winners = [UInt8](repeating: 0, count: weights.count)
        maxPool2Forward(x, planes: 0..<planes, height: side, width: side, output: &out, winners: &winners)
        var dx = [Float](repeating: .nan, count: x.count)
        maxPool2Backward(weights, winners: winners, planes: 0..<planes, height: side, width: side, dInput: &dx)
        for i in x.indices {
            var plus = x, minus = x
            plus[i] += 1e-3
            minus[i] -= 1e-3
            XCTAssertEqual(Double(dx[i]), (loss(plus) - loss(minus)) / 2e-3, accuracy: 1e-3, "dx[\(i)]")
        }
    }

    /// Hard labels, soft targets (label smoothing blended with mixup) and class-weighted rows alike.
    func testSoftmaxCrossEntropyBackward() {
        let classes = 4
        let hard = TrainableResNet9.oneHot([2, 0, 3], classes: classes).scalars
        var soft = hard.map { $0 * 0.9 + 0.1 / Float(classes) }
        for k in 0..<classes { soft[k] = 0.7 * soft[k] + 0.3 * soft[classes + k] }
        // Class-balanced rows: each scaled by its label's weight, so a row sums to that weight.
        var weighted = soft
        for (row, weight) in [Float(2.5), 0.4, 1].enumerated() { for k in 0..<classes { weighted[row * classes + k] *= weight } }
        for targets in [hard, soft, weighted] {
            let images = targets.count / classes
            let logits = values(targets.count, -3, 3)
            var gradient = [Float](repeating: 0, count: logits.count), scratch = gradient
            _ = softmaxCrossEntropy(logits: logits, targets: targets, images: images, classes: classes, dLogits: &gradient)
            for i in logits.indices {
                var plus = logits, minus = logits
                plus[i] += 1e-3
                minus[i] -= 1e-3
                let numeric = (softmaxCrossEntropy(logits: plus, targets: targets, images: images, classes: classes, dLogits: &scratch)
                               - softmaxCrossEntropy(logits: minus, targets: targets, images: images, classes: classes, dLogits: &scratch)) / 2e-3
                XCTAssertEqual(Double(gradient[i]), numeric, accuracy: 1e-4, "dLogits[\(i)]")
            }
        }
    }
}
