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

    /// col2im is im2col's adjoint: <im2col(x), c> = <x, col2im(c)> for any x and c.
    func testCol2ImIsTheAdjointOfIm2Col() {
        let (channels, images, height, width) = (2, 2, 4, 5)
        let x = values(channels * images * height * width), c = values(channels * 9 * images * height * width)
        var columns = [Float](repeating: 0, count: c.count), back = [Float](repeating: 0, count: x.count)
        im2col3x3(input: x, channels: channels, images: images, height: height, width: width,
                  firstImage: 0, imageCount: images, columns: &columns)
        col2im3x3(columns: c, channels: channels, images: images, height: height, width: width,
                  firstImage: 0, imageCount: images, channelRange: 0..<channels, addingInto: &back)
        XCTAssertEqual(dot(columns, c), dot(x, back), accuracy: 1e-4)
    }

    func testBatchNormReLUBackward() {
        let (channels, count) = (2, 6)
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
        var dy = weights, dz = [Float](repeating: 0, count: z.count)
        var dgamma: [Float] = [0, 0], dbeta: [Float] = [0, 0], dbias: [Float] = [0, 0]
        var mean = [Float](repeating: 0, count: channels), invStd = mean, unbiased = mean, scratch = y
        batchNormReLUForward(z, gamma: gamma, beta: beta, channels: 0..<channels, count: count, epsilon: 1e-5,
                             y: &scratch, mean: &mean, inverseStd: &invStd, unbiasedVariance: &unbiased)
        batchNormReLUBackward(dy: &dy, y: y, z: z, gamma: gamma, mean: mean, inverseStd: invStd, channels: 0..<channels,
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

    func testSoftmaxCrossEntropyBackward() {
        let classes = 4, labels = [2, 0, 3]
        let logits = values(labels.count * classes, -3, 3)
        var gradient = [Float](repeating: 0, count: logits.count), scratch = gradient
        _ = softmaxCrossEntropy(logits: logits, labels: labels, classes: classes, dLogits: &gradient)
        for i in logits.indices {
            var plus = logits, minus = logits
            plus[i] += 1e-3
            minus[i] -= 1e-3
            let numeric = (softmaxCrossEntropy(logits: plus, labels: labels, classes: classes, dLogits: &scratch)
                           - softmaxCrossEntropy(logits: minus, labels: labels, classes: classes, dLogits: &scratch)) / 2e-3
            XCTAssertEqual(Double(gradient[i]), numeric, accuracy: 1e-4, "dLogits[\(i)]")
        }
    }
}
