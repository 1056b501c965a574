@testable import FERVision
import XCTest

/// The fast kernels against plain reference loops, and the ResNet9 plumbing.
final class KernelTests: XCTestCase {
    /// Direct 3x3 convolution, padding 1, NCHW, in Double: the reference im2col + GEMM must match.
    private func referenceConvolution(_ input: [Float], images: Int, inChannels: Int, side: Int,
                                      weights: [Float], outChannels: Int) -> [Float] {
        var out = [Float](repeating: 0, count: images * outChannels * side * side)
        for n in 0..<images { for o in 0..<outChannels { for y in 0..<side { for x in 0..<side {
            var sum = 0.0
            for c in 0..<inChannels { for ky in 0..<3 { for kx in 0..<3 {
                let sy = y + ky - 1, sx = x + kx - 1
                guard sy >= 0, sy < side, sx >= 0, sx < side else { continue }
                sum += Double(input[((n * inChannels + c) * side + sy) * side + sx]) * Double(weights[((o * inChannels + c) * 3 + ky) * 3 + kx])
            } } }
            out[((n * outChannels + o) * side + y) * side + x] = Float(sum)
        } } } }
        return out
    }

    func testIm2ColGEMMMatchesDirectConvolution() {
        var random = SplitMix64(seed: 5)
        let (images, inChannels, outChannels, side) = (3, 2, 4, 5)
        let inputNCHW = (0..<images * inChannels * side * side).map { _ in random.uniform(-1, 1) }
        let weights = (0..<outChannels * inChannels * 9).map { _ in random.uniform(-1, 1) }
        // Channel-major input, as the network keeps it.
        var input = [Float](repeating: 0, count: inputNCHW.count)
        let plane = side * side
        for n in 0..<images { for c in 0..<inChannels {
            for i in 0..<plane { input[(c * images + n) * plane + i] = inputNCHW[(n * inChannels + c) * plane + i] }
        } }
        var columns = [Float](repeating: .nan, count: inChannels * 9 * images * plane)
        var output = [Float](repeating: 0, count: outChannels * images * plane)
        input.withUnsafeBufferPointer { source in
            columns.withUnsafeMutableBufferPointer { cols in
                im2col3x3(input: source.baseAddress!, channels: inChannels, images: images, height: side, width: side,
                          firstImage: 0, imageCount: images, columns: cols.baseAddress!)
            }
        }
        columns.withUnsafeBufferPointer { cols in
            weights.withUnsafeBufferPointer { w in
                output.withUnsafeMutableBufferPointer { out in
                    BLAS.multiply(m: outChannels, n: images * plane, k: inChannels * 9, a: w.baseAddress!, lda: inChannels * 9,
                                  b: cols.baseAddress!, ldb: images * plane, c: out.baseAddress!, ldc: images * plane)
                }
            }
        }
        let expected = referenceConvolution(inputNCHW, images: images, inChannels: inChannels, side: side, weights: weights, outChannels: outChannels)
        var outputNCHW = [Float](repeating: 0, count: output.count)
        for n in 0..<images { for o in 0..<outChannels {
            for i in 0..<plane { outputNCHW[(n * outChannels + o) * plane + i] = output[(o * images + n) * plane + i] }
        } }
        assertClose(outputNCHW, expected, tolerance: 1e-5, "im2col + sgemm vs direct convolution")
    }

    func testMaxPoolFloorReadsOnlyTopLeftWindow() {
        // A 6x6 plane whose maximum lies outside the top-left 4x4: MaxPool2d(4) must not see it.
        var plane = [Float](repeating: 0, count: 36)
        plane[5 * 6 + 5] = 100
        plane[3 * 6 + 2] = 7
        var out: [Float] = [0]
        plane.withUnsafeBufferPointer { p in out.withUnsafeMutableBufferPointer { o in
            maxPool(p.baseAddress!, into: o.baseAddress!, planes: 1, height: 6, width: 6, kernel: 4)
        } }
        XCTAssertEqual(out, [7])
    }

    func testSoftmaxRows() {
        let p = softmaxRows([0, 0, 1000, 1, 2, 3], columns: 3)
        XCTAssertEqual(p[0] + p[1] + p[2], 1, accuracy: 1e-6)
        XCTAssertEqual(p[2], 1, accuracy: 1e-6, "large logits must not overflow")
        XCTAssertEqual(p[5], exp(3) / (exp(1) + exp(2) + exp(3)), accuracy: 1e-6)
    }

    func testRecipeNetworkCostAndSize() {
        let architecture = ResNet9Architecture(inputChannels: 1, classCount: 7)
        // RECIPE.md: 0.851 G multiply-adds at 48x48, about 6.6 M parameters.
        XCTAssertEqual(Double(architecture.multiplyAdds(inputSize: 48)) / 1e9, 0.851, accuracy: 0.001)
        XCTAssertEqual(Double(architecture.parameterCount) / 1e6, 6.57, accuracy: 0.01)
    }

    func testBatchedLogitsEqualOneByOne() {
        let architecture = ResNet9Architecture(inputChannels: 1, classCount: 7, widths: [4, 8, 8, 16])
        let network = ResNet9(stateDict: .initialized(architecture, seed: 9), architecture: architecture)
        var random = SplitMix64(seed: 10)
        let count = ResNet9.maxImagesPerPass + 3   // more than one pass
        let batch = Tensor(shape: [count, 1, 48, 48], scalars: (0..<count * 48 * 48).map { _ in random.uniform(-2, 2) })
        let together = network.logits(for: batch).scalars
        for i in [0, 5, count - 1] {
            let single = Tensor(shape: [1, 1, 48, 48], scalars: Array(batch.scalars[i * 2304..<(i + 1) * 2304]))
            assertClose(network.logits(for: single).scalars, Array(together[i * 7..<(i + 1) * 7]), tolerance: 1e-5, "image \(i)")
        }
    }

    func testWidthsAreReadFromWeights() throws {
        let architecture = ResNet9Architecture(inputChannels: 3, classCount: 10, widths: [4, 6, 8, 10])
        let shapes = Dictionary(uniqueKeysWithValues: architecture.parameterLayout.map { ($0.name, $0.shape) })
        XCTAssertEqual(try ResNet9Architecture(inferringFrom: shapes), architecture)
    }
}
