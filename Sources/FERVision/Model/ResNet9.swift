import Foundation

/// What classifies faces: a batch of normalized inputs in, raw class scores out.
public protocol EmotionNetwork: AnyObject, Sendable {
    /// - Parameter batch: [N, channels, size, size], normalized as the model expects.
    /// - Returns: [N, classes].
    func logits(for batch: Tensor) -> Tensor
    /// How it computes, for reports: "float" or "int8".
    var precision: String { get }
}

/// A ResNet9 ready for inference: batch norm folded into each convolution, every convolution GEMMs in
/// OpenBLAS (Winograd F(2x2, 3x3) by default, im2col as the reference), activations kept channel-major
/// ([channels, images, h, w]) so each layer's output is directly the next layer's input.
///
/// Thread safety: immutable after init; `logits(for:)` may be called from several threads at once
/// (each call borrows its own scratch workspace).
public final class ResNet9: EmotionNetwork, @unchecked Sendable {
    /// Layer widths, channels and classes.
    public let architecture: ResNet9Architecture
    /// Side of the square input, in pixels (48 for FER2013).
    public let inputSize: Int

    /// How the 3x3 convolutions are computed. Both give the same logits to float rounding.
    public enum ConvolutionMethod: String, Sendable, CaseIterable {
        /// im2col + one GEMM per layer: 9 multiply-adds per weight and output pixel. The plain reference.
        case im2col
        /// Winograd F(2x2, 3x3) + 16 GEMMs per layer: 2.25x fewer multiply-adds, plus cheap transforms.
        /// Faster overall on the recipe's network, at batch 1 and in batches (measured: BENCHMARKS.md),
        /// except in a pass too small for it (see `minimumWinogradColumns`), which runs im2col.
        case winograd
    }

    /// A convolution with its batch norm folded in: bias [out], and weights as the methods need them.
    struct FoldedConvolution {
        let block: ResNet9Architecture.Block
        /// [out, in * 9], for im2col: with `.im2col`, and with `.winograd` on maps so small that a pass
        /// of few images runs im2col.
        let direct: [Float]?
        /// [16, out, in], Winograd-transformed (`.winograd` only).
        let winograd: [Float]?
        let bias: [Float]

        /// Whether a pass of `images` images of side `side` runs Winograd.
        func usesWinograd(images: Int, side: Int) -> Bool {
            guard winograd != nil else { return false }
            return direct == nil || images * winogradTileCount(height: side, width: side) >= ResNet9.minimumWinogradColumns
        }
    }

    /// The fewest columns (images x tiles) a Winograd GEMM gets before im2col is faster. With fewer,
    /// OpenBLAS spends most of the 16 GEMMs copying the weights into its blocked layout (each weight
    /// used for a handful of columns): at batch 1 on the 6x6 maps (9 tiles), im2col's one GEMM, with
    /// 36 columns per weight, made the whole pass 7% faster (AMD EPYC family 25 model 17, 2 threads); from 4 images
    /// on, Winograd was faster again.
    static let minimumWinogradColumns = 16

    let convolutions: [FoldedConvolution]
    let classifierWeights: [Float]   // [classes, features]
    let classifierBias: [Float]      // [classes]
    private let workspaces = WorkspacePool()

    /// Images per pass through the network: enough for the 6x6 layers to make wide GEMMs, few enough
    /// that the activations of a large evaluation batch stay small.
    static let maxImagesPerPass = 16

    /// BatchNorm2d's epsilon in the recipe.
    public static let batchNormEpsilon = 1e-5

    /// Builds the network from a validated state dict (see `ModelLoader`), folding each BatchNorm into its
    /// convolution (`foldedConvolutions`).
    /// - Precondition: the state dict matches `architecture.parameterLayout` and `inputSize` is accepted.
    public init(stateDict: StateDict, architecture: ResNet9Architecture, inputSize: Int = 48,
                convolutionMethod: ConvolutionMethod = .winograd) {
        precondition(ResNet9Architecture.acceptedInputSizes.contains(inputSize), "input size \(inputSize) not supported")
        self.architecture = architecture
        self.inputSize = inputSize
        func values(_ key: String) -> [Float] {
            guard let tensor = stateDict.tensor(key) else { preconditionFailure("state dict lacks \(key)") }
            return tensor.scalars
        }
        var side = inputSize
        convolutions = zip(architecture.blocks, Self.foldedConvolutions(stateDict: stateDict, architecture: architecture)).map { block, layer in
            let blockSide = side
            if block.pools { side /= 2 }
            let tiles = winogradTileCount(height: blockSide, width: blockSide)
            switch convolutionMethod {
            case .im2col:
                return FoldedConvolution(block: block, direct: layer.weights, winograd: nil, bias: layer.bias)
            case .winograd:
                let filters = winogradFilters(layer.weights, outChannels: block.outChannels, inChannels: block.inChannels)
                return FoldedConvolution(block: block, direct: tiles < Self.minimumWinogradColumns ? layer.weights : nil,
                                         winograd: filters, bias: layer.bias)
            }
        }
        let prefix = ResNet9Architecture.classifierPrefix
        classifierWeights = values("\(prefix).weight")
        classifierBias = values("\(prefix).bias")
    }

    /// Each block's convolution with its BatchNorm folded in, in block order: weights [out, in, 3, 3]
    /// w' = w * g / sqrt(var + eps) and bias b' = (b - mean) * g / sqrt(var + eps) + beta.
    /// - Precondition: the state dict matches `architecture.parameterLayout`.
    static func foldedConvolutions(stateDict: StateDict, architecture: ResNet9Architecture) -> [(weights: [Float], bias: [Float])] {
        func values(_ key: String) -> [Float] {
            guard let tensor = stateDict.tensor(key) else { preconditionFailure("state dict lacks \(key)") }
            return tensor.scalars
        }
        return architecture.blocks.map { block in
            let weight = values("\(block.name).0.weight"), bias = values("\(block.name).0.bias")
            let gamma = values("\(block.name).1.weight"), beta = values("\(block.name).1.bias")
            let mean = values("\(block.name).1.running_mean"), variance = values("\(block.name).1.running_var")
            let fanIn = block.inChannels * 9
            var folded = [Float](repeating: 0, count: weight.count)
            var foldedBias = [Float](repeating: 0, count: block.outChannels)
            for o in 0..<block.outChannels {
                let scale = Double(gamma[o]) / (Double(variance[o]) + batchNormEpsilon).squareRoot()
                for j in 0..<fanIn { folded[o * fanIn + j] = Float(Double(weight[o * fanIn + j]) * scale) }
                foldedBias[o] = Float((Double(bias[o]) - Double(mean[o])) * scale + Double(beta[o]))
            }
            return (folded, foldedBias)
        }
    }

    public var precision: String { "float" }

    /// Multiply-adds of one image's forward pass.
    public var multiplyAddsPerImage: Int { architecture.multiplyAdds(inputSize: inputSize) }

    /// Raw class scores for a batch.
    /// - Parameter batch: [N, inputChannels, inputSize, inputSize], normalized as the model expects.
    /// - Returns: [N, classCount].
    public func logits(for batch: Tensor) -> Tensor {
        let channels = architecture.inputChannels, side = inputSize
        precondition(batch.shape.count == 4 && batch.shape[1] == channels && batch.shape[2] == side && batch.shape[3] == side,
                     "input \(batch.shape) does not match [N, \(channels), \(side), \(side)]")
        return Tensor(shape: [batch.shape[0], architecture.classCount], scalars: logitsInPasses(batch, observe: nil))
    }

    /// Each image's largest value in each block's output (after its ReLU, residual add and pooling):
    /// [images][blocks]. What 8-bit inference calibrates its ranges on (`Int8Calibration`).
    public func blockOutputPeaks(for batch: Tensor) -> [[Float]] {
        let blocks = architecture.blocks
        var peaks = [[Float]](repeating: [Float](repeating: 0, count: blocks.count), count: batch.shape[0])
        _ = logitsInPasses(batch) { first, count, block, values, side in
            // Channel-major: image i's plane of channel c is at (c * count + i) * side * side.
            let plane = side * side
            for i in 0..<count {
                var peak = -Float.infinity
                for c in 0..<blocks[block].outChannels {
                    let start = values + (c * count + i) * plane
                    for j in 0..<plane { peak = max(peak, start[j]) }
                }
                peaks[first + i][block] = peak
            }
        }
        return peaks
    }

    /// The logits [N * classes] of a batch, `maxImagesPerPass` images per pass; `observe` sees each pass's
    /// block outputs (its first image, its image count, then as `forward`'s).
    private func logitsInPasses(_ batch: Tensor, observe: ((Int, Int, Int, UnsafePointer<Float>, Int) -> Void)?) -> [Float] {
        let images = batch.shape[0], classes = architecture.classCount, imageLength = batch.count / max(1, images)
        var result = [Float](repeating: 0, count: images * classes)
        let workspace = workspaces.borrow(for: self)
        defer { workspaces.giveBack(workspace) }
        batch.scalars.withUnsafeBufferPointer { input in
            result.withUnsafeMutableBufferPointer { output in
                for first in stride(from: 0, to: images, by: Self.maxImagesPerPass) {
                    let count = min(Self.maxImagesPerPass, images - first)
                    forward(input.baseAddress! + first * imageLength, images: count, logits: output.baseAddress! + first * classes,
                            workspace: workspace, observe: observe.map { observe in { observe(first, count, $0, $1, $2) } })
                }
            }
        }
        return result
    }

    /// One pass over at most `maxImagesPerPass` images; `observe` sees each block's output (block index,
    /// the channel-major values, their side).
    private func forward(_ input: UnsafePointer<Float>, images n: Int, logits: UnsafeMutablePointer<Float>, workspace: Workspace,
                         observe: ((Int, UnsafePointer<Float>, Int) -> Void)? = nil) {
        let side = inputSize, channels = architecture.inputChannels
        let (x, a, b, c, d) = (workspace.input, workspace.buffers[0], workspace.buffers[1], workspace.buffers[2], workspace.buffers[3])
        transposeToChannelMajor(input, images: n, channels: channels, plane: side * side, into: x)
        // The blocks as the architecture lists them. Three activation buffers suffice: the current one,
        // a skip input held for a residual, and the output being written.
        let spare = [a, b, c], skipSources = architecture.skipSources
        var current = x, held: [Int: UnsafeMutablePointer<Float>] = [:], s = side
        for (index, block) in architecture.blocks.enumerated() {
            if skipSources.contains(index) { held[index] = current }
            let output = spare.first { $0 != current && !held.values.contains($0) }!
            let layer = convolutions[index]
            if block.pools {
                convolveBiasReLUPool(layer, current, images: n, side: s, into: output, workspace: workspace); s /= 2
            } else {
                convolve(layer, current, images: n, side: s, into: output, workspace: workspace)
                biasReLU(layer, output, planeLength: n * s * s, addingSkip: block.addsInputOf.map { held.removeValue(forKey: $0)! },
                         workers: workspace.workers)
            }
            current = output
            observe?(index, current, s)
        }
        let scratch = spare.first { $0 != current }!
        // classifier: MaxPool2d(4) (floor) or the whole map's max -> flatten (PyTorch order c, y, x) -> linear
        let width = architecture.widths[3], kernel = architecture.classifierPoolKernel(inputSize: side)
        let pooled = s / kernel, pooledPlane = pooled * pooled, features = width * pooledPlane
        maxPool(current, into: scratch, planes: width * n, height: s, width: s, kernel: kernel)
        for image in 0..<n {
            for channel in 0..<width {
                (d + image * features + channel * pooledPlane).update(from: scratch + (channel * n + image) * pooledPlane, count: pooledPlane)
            }
        }
        let classes = architecture.classCount
        for image in 0..<n { (logits + image * classes).update(from: classifierBias, count: classes) }
        classifierWeights.withUnsafeBufferPointer { w in
            // logits[N, K] += features[N, F] * W[K, F]^T
            BLAS.multiply(m: n, n: classes, k: features, a: d, lda: features,
                          b: w.baseAddress!, ldb: features, transposeB: true,
                          c: logits, ldc: classes, accumulate: true)
        }
    }

    /// output[out, N, s, s] = W * input (3x3, pad 1), without bias, in chunks of images that fit the
    /// workspace; each chunk's GEMMs write its slice of every output row (ldc = N * s * s).
    private func convolve(_ layer: FoldedConvolution, _ input: UnsafePointer<Float>, images n: Int, side s: Int,
                          into output: UnsafeMutablePointer<Float>, workspace: Workspace) {
        let inChannels = layer.block.inChannels, outChannels = layer.block.outChannels
        if layer.usesWinograd(images: n, side: s), let filters = layer.winograd {
            let tiles = winogradTileCount(height: s, width: s)
            let chunk = min(winogradImagesFitting(capacity: workspace.columnCapacity, channels: inChannels, tiles: tiles, images: n),
                            winogradImagesFitting(capacity: workspace.productCapacity, channels: outChannels, tiles: tiles, images: n))
            filters.withUnsafeBufferPointer { u in
                for first in stride(from: 0, to: n, by: chunk) {
                    let count = min(chunk, n - first), columns = count * tiles
                    let inStride = winogradComponentStride(channels: inChannels, columns: columns)
                    let outStride = winogradComponentStride(channels: outChannels, columns: columns)
                    BLAS.parallelSlices(of: inChannels, parts: workspace.workers) { worker, channels in
                        winogradInputs(input, channels: inChannels, images: n, height: s, width: s, firstImage: first,
                                       imageCount: count, channelRange: channels,
                                       scratch: workspace.winogradScratch[worker], into: workspace.columns, componentStride: inStride)
                    }
                    BLAS.parallelSlices(of: 16, parts: workspace.workers) { _, components in
                        for k in components {
                            BLAS.multiply(m: outChannels, n: columns, k: inChannels,
                                          a: u.baseAddress! + k * outChannels * inChannels, lda: inChannels,
                                          b: workspace.columns + k * inStride, ldb: columns,
                                          c: workspace.products + k * outStride, ldc: columns)
                        }
                    }
                    BLAS.parallelSlices(of: outChannels, parts: workspace.workers) { _, channels in
                        winogradOutputs(workspace.products, componentStride: outStride, outChannels: outChannels, images: n,
                                        height: s, width: s, firstImage: first, imageCount: count, channelRange: channels, into: output)
                    }
                }
            }
        } else if let direct = layer.direct {
            let plane = s * s, depth = inChannels * 9
            let chunk = max(1, min(n, workspace.columnCapacity / (depth * plane)))
            direct.withUnsafeBufferPointer { weights in
                for first in stride(from: 0, to: n, by: chunk) {
                    let count = min(chunk, n - first)
                    BLAS.parallelSlices(of: inChannels, parts: workspace.workers) { _, channels in
                        im2col3x3(input: input, channels: inChannels, images: n, height: s, width: s,
                                  firstImage: first, imageCount: count, channelRange: channels, columns: workspace.columns)
                    }
                    // Each worker computes a band of output channels (rows of W and of the output).
                    BLAS.parallelSlices(of: outChannels, parts: workspace.workers) { _, rows in
                        BLAS.multiply(m: rows.count, n: count * plane, k: depth,
                                      a: weights.baseAddress! + rows.lowerBound * depth, lda: depth,
                                      b: workspace.columns, ldb: count * plane,
                                      c: output + rows.lowerBound * n * plane + first * plane, ldc: n * plane)
                    }
                }
            }
        }
    }

    /// A pooling block: convolve into the workspace's pre-pool buffer, then pool with bias and ReLU fused.
    private func convolveBiasReLUPool(_ layer: FoldedConvolution, _ input: UnsafePointer<Float>, images n: Int, side s: Int,
                                      into output: UnsafeMutablePointer<Float>, workspace: Workspace) {
        convolve(layer, input, images: n, side: s, into: workspace.beforePooling, workspace: workspace)
        let inPlane = n * s * s, outPlane = n * (s / 2) * (s / 2)
        layer.bias.withUnsafeBufferPointer { bias in
            BLAS.parallelSlices(of: layer.block.outChannels, parts: workspace.workers) { _, channels in
                maxPool2BiasReLU(workspace.beforePooling + channels.lowerBound * inPlane, into: output + channels.lowerBound * outPlane,
                                 bias: bias.baseAddress! + channels.lowerBound,
                                 channels: channels.count, planes: n, height: s, width: s)
            }
        }
    }

    /// Bias and ReLU (then the residual add) over each output channel's `planeLength` values, split by channel.
    private func biasReLU(_ layer: FoldedConvolution, _ buffer: UnsafeMutablePointer<Float>, planeLength: Int,
                          addingSkip skip: UnsafePointer<Float>? = nil, workers: Int) {
        layer.bias.withUnsafeBufferPointer { bias in
            BLAS.parallelSlices(of: layer.block.outChannels, parts: workers) { _, channels in
                let offset = channels.lowerBound * planeLength
                addBiasReLU(buffer + offset, bias: bias.baseAddress! + channels.lowerBound, channels: channels.count,
                            planeLength: planeLength, addingSkip: skip.map { $0 + offset })
            }
        }
    }

    /// Scratch memory for one forward pass of up to `maxImagesPerPass` images.
    final class Workspace {
        let input: UnsafeMutablePointer<Float>
        let buffers: [UnsafeMutablePointer<Float>]
        let beforePooling: UnsafeMutablePointer<Float>
        /// im2col columns, or Winograd-transformed inputs (16 padded component streams of in * tiles).
        let columns: UnsafeMutablePointer<Float>
        let columnCapacity: Int
        /// Winograd GEMM products, [16, out, tiles] per image, and the input transform's scratch.
        let products: UnsafeMutablePointer<Float>
        let productCapacity: Int
        /// Input-transform scratch, one per worker.
        let winogradScratch: [UnsafeMutablePointer<Float>]
        /// Threads this workspace's passes use (`BLAS.threadCount` when it was made).
        let workers: Int
        private let activationCapacity: Int

        init(for network: ResNet9) {
            let images = ResNet9.maxImagesPerPass
            var side = network.inputSize, largest = network.architecture.inputChannels * side * side, columns = 0
            var products = 0
            for block in network.architecture.blocks {
                largest = max(largest, block.outChannels * side * side)
                let tiles = winogradTileCount(height: side, width: side)
                columns = max(columns, block.inChannels * 9 * side * side,
                              16 * winogradComponentStride(channels: block.inChannels, columns: tiles))
                products = max(products, 16 * winogradComponentStride(channels: block.outChannels, columns: tiles))
                if block.pools { side /= 2 }
            }
            productCapacity = products
            self.products = .allocate(capacity: products)
            workers = BLAS.threadCount
            winogradScratch = (0..<workers).map { _ in
                .allocate(capacity: winogradScratchCount(height: network.inputSize, width: network.inputSize))
            }
            activationCapacity = largest * images
            columnCapacity = columns
            input = .allocate(capacity: activationCapacity)
            buffers = (0..<4).map { _ in .allocate(capacity: largest * images) }
            beforePooling = .allocate(capacity: activationCapacity)
            self.columns = .allocate(capacity: columns)
        }

        deinit {
            input.deallocate()
            buffers.forEach { $0.deallocate() }
            beforePooling.deallocate()
            columns.deallocate()
            products.deallocate()
            winogradScratch.forEach { $0.deallocate() }
        }
    }

    /// Reuses workspaces across calls (allocating and first-touching megabytes per frame costs real time).
    /// `@unchecked Sendable`: the idle list is touched only under `lock`, and a borrowed workspace
    /// belongs to one call until it is given back.
    private final class WorkspacePool: @unchecked Sendable {
        private let lock = NSLock()
        private var idle: [Workspace] = []

        func borrow(for network: ResNet9) -> Workspace {
            lock.lock()
            // A workspace made for another thread count has the wrong number of scratch buffers.
            idle.removeAll { $0.workers != BLAS.threadCount }
            let reused = idle.popLast()
            lock.unlock()
            return reused ?? Workspace(for: network)
        }

        func giveBack(_ workspace: Workspace) {
            lock.lock()
            idle.append(workspace)
            lock.unlock()
        }
    }
}
