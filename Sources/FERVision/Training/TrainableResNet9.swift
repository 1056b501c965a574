import Foundation

/// A ResNet9 that learns: batch norm in training mode, forward and backward for every layer, parameters
/// and gradients each in one flat buffer laid out in PyTorch's `named_parameters()` order, so the
/// optimizer and checkpoints are flat loops.
///
/// Not thread-safe: one training loop owns it. Work inside a step is spread over `BLAS.threadCount` workers.
public final class TrainableResNet9 {
    /// A named range of the flat parameter buffer.
    public struct Slot: Sendable, Equatable {
        public let name: String
        public let shape: [Int]
        public let range: Range<Int>
    }

    public let architecture: ResNet9Architecture
    public let inputSize: Int
    /// Every learned tensor, in `named_parameters()` order.
    public let slots: [Slot]
    /// The parameters, flat (see `slots`).
    public var parameters: [Float]
    /// Gradients of the last `step`, same layout as `parameters`.
    public private(set) var gradients: [Float]
    /// BatchNorm running statistics per block, and how many training batches updated them.
    public private(set) var runningMeans: [[Float]]
    public private(set) var runningVariances: [[Float]]
    public private(set) var batchesTracked: Int

    /// BatchNorm2d's momentum for the running statistics (PyTorch's default).
    public static let batchNormMomentum: Float = 0.1

    private var slotIndex: [String: Int] = [:]

    /// Starts from a validated state dict (fresh from `StateDict.initialized` or a checkpoint).
    public init(stateDict: StateDict, architecture: ResNet9Architecture, inputSize: Int = 48) {
        self.architecture = architecture
        self.inputSize = inputSize
        var slots: [Slot] = [], offset = 0
        for (name, shape, isInteger) in architecture.parameterLayout
        where !isInteger && !name.hasSuffix("running_mean") && !name.hasSuffix("running_var") {
            let count = Tensor.elementCount(of: shape)
            slots.append(Slot(name: name, shape: shape, range: offset..<offset + count))
            offset += count
        }
        self.slots = slots
        parameters = [Float](repeating: 0, count: offset)
        gradients = [Float](repeating: 0, count: offset)
        for (i, slot) in slots.enumerated() {
            slotIndex[slot.name] = i
            parameters.replaceSubrange(slot.range, with: stateDict.tensor(slot.name)!.scalars)
        }
        runningMeans = architecture.blocks.map { stateDict.tensor("\($0.name).1.running_mean")!.scalars }
        runningVariances = architecture.blocks.map { stateDict.tensor("\($0.name).1.running_var")!.scalars }
        batchesTracked = Int(stateDict.tensor("conv1.1.num_batches_tracked")?.scalars.first ?? 0)
    }

    /// The range of the named parameter in the flat buffers.
    public func range(of name: String) -> Range<Int> { slots[slotIndex[name]!].range }

    /// Parameters and running statistics as a state dict in PyTorch's order.
    public var stateDict: StateDict {
        var entries: [StateDict.Entry] = []
        for (name, shape, isInteger) in architecture.parameterLayout {
            let values: [Float]
            if isInteger {
                values = [Float(batchesTracked)]
            } else if let index = slotIndex[name] {
                values = Array(parameters[slots[index].range])
            } else {
                let block = architecture.blocks.firstIndex { name.hasPrefix("\($0.name).1.") }!
                values = name.hasSuffix("running_mean") ? runningMeans[block] : runningVariances[block]
            }
            entries.append(.init(name: name, tensor: Tensor(shape: shape, scalars: values), isInteger: isInteger))
        }
        return StateDict(entries)
    }

    // MARK: one training step

    /// What the forward pass keeps for backward, per block.
    private struct BlockRecord {
        var input: [Float] = []        // [in, N, s, s]
        var z: [Float] = []            // conv output
        var y: [Float] = []            // after batch norm and ReLU
        var pooled: [Float] = []       // after 2x2 max pooling, when the block pools
        var winners: [UInt8] = []
        var mean: [Float] = [], inverseStd: [Float] = []
        var side = 0
    }

    /// Forward in training mode (batch statistics; running statistics updated), loss, and backward.
    /// - Parameters:
    ///   - inputs: [N, channels, size, size], normalized.
    ///   - labels: N class indices.
    /// - Returns: the mean cross-entropy loss. `gradients` then holds d(loss)/d(parameters).
    @discardableResult
    public func step(inputs: Tensor, labels: [Int]) -> Double {
        let n = labels.count, channels = architecture.inputChannels, side = inputSize
        precondition(inputs.shape == [n, channels, side, side], "inputs \(inputs.shape) do not match \(n) labels")
        let workers = BLAS.threadCount
        gradients = [Float](repeating: 0, count: parameters.count)

        var x = [Float](repeating: 0, count: inputs.count)
        inputs.scalars.withUnsafeBufferPointer { input in
            transposeToChannelMajor(input.baseAddress!, images: n, channels: channels, plane: side * side, into: &x)
        }

        var records = [BlockRecord](repeating: BlockRecord(), count: 8)
        var current = x, s = side
        var skip: [Float] = []
        for (b, block) in architecture.blocks.enumerated() {
            if b == 2 || b == 6 { skip = current }            // input of res1 / res2
            var record = BlockRecord()
            record.side = s
            record.input = current
            forwardBlock(b, block, &record, images: n, workers: workers)
            var output = block.pools ? record.pooled : record.y
            if b == 3 || b == 7 { for i in output.indices { output[i] += skip[i] } }
            if block.pools { s /= 2 }
            current = output
            records[b] = record
        }

        // Classifier: MaxPool2d(4) -> flatten -> linear.
        let width = architecture.widths[3], pooledSide = s / 4, pooledPlane = pooledSide * pooledSide
        let features = width * pooledPlane, classes = architecture.classCount
        var pooled = [Float](repeating: 0, count: width * n * pooledPlane)
        var winners = [Int32](repeating: 0, count: pooled.count)
        maxPool4Forward(current, planes: width * n, side: s, output: &pooled, winners: &winners)
        var flat = [Float](repeating: 0, count: n * features)
        for image in 0..<n {
            for c in 0..<width {
                for i in 0..<pooledPlane { flat[image * features + c * pooledPlane + i] = pooled[(c * n + image) * pooledPlane + i] }
            }
        }
        let weightRange = range(of: "\(ResNet9Architecture.classifierPrefix).weight")
        let biasRange = range(of: "\(ResNet9Architecture.classifierPrefix).bias")
        var logits = [Float](repeating: 0, count: n * classes)
        for image in 0..<n { for k in 0..<classes { logits[image * classes + k] = parameters[biasRange.lowerBound + k] } }
        parameters.withUnsafeBufferPointer { p in
            BLAS.multiply(m: n, n: classes, k: features, a: flat, lda: features,
                          b: p.baseAddress! + weightRange.lowerBound, ldb: features, transposeB: true,
                          c: &logits, ldc: classes, accumulate: true)
        }
        var dLogits = [Float](repeating: 0, count: logits.count)
        let loss = softmaxCrossEntropy(logits: logits, labels: labels, classes: classes, dLogits: &dLogits)

        // Backward through the classifier.
        var dFlat = [Float](repeating: 0, count: flat.count)
        parameters.withUnsafeBufferPointer { p in
            gradients.withUnsafeMutableBufferPointer { g in
                // dW [K, F] = dLogits^T [K, N] x features [N, F]; db = column sums; dFeatures = dLogits x W.
                BLAS.multiply(m: classes, n: features, k: n, a: dLogits, lda: classes, transposeA: true,
                              b: flat, ldb: features, c: g.baseAddress! + weightRange.lowerBound, ldc: features)
                for image in 0..<n { for k in 0..<classes { g[biasRange.lowerBound + k] += dLogits[image * classes + k] } }
                BLAS.multiply(m: n, n: features, k: classes, a: dLogits, lda: classes,
                              b: p.baseAddress! + weightRange.lowerBound, ldb: features, c: &dFlat, ldc: features)
            }
        }
        var dCurrent = [Float](repeating: 0, count: width * n * s * s)
        for image in 0..<n {
            for c in 0..<width {
                for i in 0..<pooledPlane {
                    let p = (c * n + image) * pooledPlane + i
                    dCurrent[(c * n + image) * s * s + Int(winners[p])] = dFlat[image * features + c * pooledPlane + i]
                }
            }
        }

        // Backward through the blocks; a residual's output gradient also flows to its skip input.
        var dSkip: [Float] = []
        for b in stride(from: 7, through: 0, by: -1) {
            if b == 3 || b == 7 { dSkip = dCurrent }
            var dInput = backwardBlock(b, architecture.blocks[b], records[b], dOutput: dCurrent, images: n,
                                       needsInputGradient: b > 0, workers: workers)
            if b == 2 || b == 6 { for i in dInput.indices { dInput[i] += dSkip[i] } }
            dCurrent = dInput
        }
        batchesTracked += 1
        return loss
    }

    /// conv -> batch norm (batch statistics) -> ReLU -> optional pool, filling `record`.
    private func forwardBlock(_ b: Int, _ block: ResNet9Architecture.Block, _ record: inout BlockRecord, images n: Int, workers: Int) {
        let s = record.side, count = n * s * s, out = block.outChannels
        record.z = [Float](repeating: 0, count: out * count)
        convolutionForward(block, input: record.input, images: n, side: s, output: &record.z, workers: workers)
        record.y = [Float](repeating: 0, count: out * count)
        record.mean = [Float](repeating: 0, count: out)
        record.inverseStd = [Float](repeating: 0, count: out)
        var unbiased = [Float](repeating: 0, count: out)
        let gamma = range(of: "\(block.name).1.weight"), beta = range(of: "\(block.name).1.bias")
        parameters.withUnsafeBufferPointer { p in
            record.z.withUnsafeBufferPointer { z in
                record.y.withUnsafeMutableBufferPointer { y in
                    record.mean.withUnsafeMutableBufferPointer { mean in
                        record.inverseStd.withUnsafeMutableBufferPointer { invStd in
                            unbiased.withUnsafeMutableBufferPointer { variance in
                                BLAS.parallelSlices(of: out, parts: workers) { _, channels in
                                    batchNormReLUForward(z.baseAddress!, gamma: p.baseAddress! + gamma.lowerBound,
                                                         beta: p.baseAddress! + beta.lowerBound, channels: channels, count: count,
                                                         epsilon: ResNet9.batchNormEpsilon, y: y.baseAddress!, mean: mean.baseAddress!,
                                                         inverseStd: invStd.baseAddress!, unbiasedVariance: variance.baseAddress!)
                                }
                            }
                        }
                    }
                }
            }
        }
        let momentum = Self.batchNormMomentum
        for c in 0..<out {
            runningMeans[b][c] = (1 - momentum) * runningMeans[b][c] + momentum * record.mean[c]
            runningVariances[b][c] = (1 - momentum) * runningVariances[b][c] + momentum * unbiased[c]
        }
        if block.pools {
            record.pooled = [Float](repeating: 0, count: out * n * (s / 2) * (s / 2))
            record.winners = [UInt8](repeating: 0, count: record.pooled.count)
            record.y.withUnsafeBufferPointer { y in
                record.pooled.withUnsafeMutableBufferPointer { pooled in
                    record.winners.withUnsafeMutableBufferPointer { winners in
                        BLAS.parallelSlices(of: out * n, parts: workers) { _, planes in
                            maxPool2Forward(y.baseAddress!, planes: planes, height: s, width: s,
                                            output: pooled.baseAddress!, winners: winners.baseAddress!)
                        }
                    }
                }
            }
        }
    }

    /// Backward of one block from the gradient at its output; accumulates parameter gradients and returns
    /// the gradient at its input (empty when not needed).
    private func backwardBlock(_ b: Int, _ block: ResNet9Architecture.Block, _ record: BlockRecord, dOutput: [Float],
                               images n: Int, needsInputGradient: Bool, workers: Int) -> [Float] {
        let s = record.side, count = n * s * s, out = block.outChannels
        var dy: [Float]
        if block.pools {
            dy = [Float](repeating: 0, count: out * count)
            dOutput.withUnsafeBufferPointer { d in
                record.winners.withUnsafeBufferPointer { winners in
                    dy.withUnsafeMutableBufferPointer { target in
                        BLAS.parallelSlices(of: out * n, parts: workers) { _, planes in
                            maxPool2Backward(d.baseAddress!, winners: winners.baseAddress!, planes: planes, height: s, width: s,
                                             dInput: target.baseAddress!)
                        }
                    }
                }
            }
        } else {
            dy = dOutput
        }
        var dz = [Float](repeating: 0, count: out * count)
        let gamma = range(of: "\(block.name).1.weight"), beta = range(of: "\(block.name).1.bias")
        let bias = range(of: "\(block.name).0.bias")
        parameters.withUnsafeBufferPointer { p in
            gradients.withUnsafeMutableBufferPointer { g in
                dy.withUnsafeMutableBufferPointer { dy in
                    dz.withUnsafeMutableBufferPointer { dz in
                        BLAS.parallelSlices(of: out, parts: workers) { _, channels in
                            batchNormReLUBackward(dy: dy.baseAddress!, y: record.y, z: record.z,
                                                  gamma: p.baseAddress! + gamma.lowerBound, mean: record.mean,
                                                  inverseStd: record.inverseStd, channels: channels, count: count,
                                                  dz: dz.baseAddress!, dgamma: g.baseAddress! + gamma.lowerBound,
                                                  dbeta: g.baseAddress! + beta.lowerBound,
                                                  dConvolutionBias: g.baseAddress! + bias.lowerBound)
                        }
                    }
                }
            }
        }
        return convolutionBackward(block, input: record.input, dz: dz, images: n, side: s,
                                   needsInputGradient: needsInputGradient, workers: workers)
    }

    // MARK: convolution, im2col + GEMM in chunks of images

    /// Floats of im2col columns per chunk: whole images, as many as fit (at least one).
    private static let columnBudget = 4 << 20
    /// im2col columns and their gradient, allocated once: fresh multi-megabyte buffers every layer of
    /// every step cost more in page faults than the copies they hold.
    private var columnScratch: [Float] = []
    private var columnGradientScratch: [Float] = []

    private func reserveColumns(_ count: Int, gradient: Bool) {
        if columnScratch.count < count { columnScratch = [Float](repeating: 0, count: count) }
        if gradient, columnGradientScratch.count < count { columnGradientScratch = [Float](repeating: 0, count: count) }
    }

    private func convolutionForward(_ block: ResNet9Architecture.Block, input: [Float], images n: Int, side s: Int,
                                    output: inout [Float], workers: Int) {
        let plane = s * s, depth = block.inChannels * 9, out = block.outChannels
        let chunk = max(1, min(n, Self.columnBudget / (depth * plane)))
        reserveColumns(depth * chunk * plane, gradient: false)
        let weight = range(of: "\(block.name).0.weight"), bias = range(of: "\(block.name).0.bias")
        parameters.withUnsafeBufferPointer { p in
            input.withUnsafeBufferPointer { x in
                columnScratch.withUnsafeMutableBufferPointer { cols in
                    output.withUnsafeMutableBufferPointer { z in
                        for first in stride(from: 0, to: n, by: chunk) {
                            let count = min(chunk, n - first)
                            BLAS.parallelSlices(of: block.inChannels, parts: workers) { _, channels in
                                im2col3x3(input: x.baseAddress!, channels: block.inChannels, images: n, height: s, width: s,
                                          firstImage: first, imageCount: count, channelRange: channels, columns: cols.baseAddress!)
                            }
                            BLAS.parallelSlices(of: out, parts: workers) { _, rows in
                                BLAS.multiply(m: rows.count, n: count * plane, k: depth,
                                              a: p.baseAddress! + weight.lowerBound + rows.lowerBound * depth, lda: depth,
                                              b: cols.baseAddress!, ldb: count * plane,
                                              c: z.baseAddress! + rows.lowerBound * n * plane + first * plane, ldc: n * plane)
                            }
                        }
                        BLAS.parallelSlices(of: out, parts: workers) { _, rows in
                            for o in rows {
                                let b = p[bias.lowerBound + o], row = z.baseAddress! + o * n * plane
                                for j in 0..<n * plane { row[j] += b }
                            }
                        }
                    }
                }
            }
        }
    }

    /// dW += dZ x columns^T and (when asked) dX = col2im(W^T x dZ). The bias gradient comes from the batch
    /// norm's backward, which knows it in closed form.
    private func convolutionBackward(_ block: ResNet9Architecture.Block, input: [Float], dz: [Float], images n: Int, side s: Int,
                                     needsInputGradient: Bool, workers: Int) -> [Float] {
        let plane = s * s, depth = block.inChannels * 9, out = block.outChannels
        let chunk = max(1, min(n, Self.columnBudget / (depth * plane)))
        reserveColumns(depth * chunk * plane, gradient: true)
        var dx = needsInputGradient ? [Float](repeating: 0, count: block.inChannels * n * plane) : []
        let weight = range(of: "\(block.name).0.weight")
        parameters.withUnsafeBufferPointer { p in
            gradients.withUnsafeMutableBufferPointer { g in
                input.withUnsafeBufferPointer { x in
                    dz.withUnsafeBufferPointer { dz in
                        columnScratch.withUnsafeMutableBufferPointer { cols in
                            columnGradientScratch.withUnsafeMutableBufferPointer { dCols in
                                dx.withUnsafeMutableBufferPointer { dx in
                                    for first in stride(from: 0, to: n, by: chunk) {
                                        let count = min(chunk, n - first), width = count * plane
                                        BLAS.parallelSlices(of: block.inChannels, parts: workers) { _, channels in
                                            im2col3x3(input: x.baseAddress!, channels: block.inChannels, images: n, height: s, width: s,
                                                      firstImage: first, imageCount: count, channelRange: channels, columns: cols.baseAddress!)
                                        }
                                        // dW [out, depth] += dZ[:, chunk] [out, width] x columns^T [width, depth]
                                        BLAS.parallelSlices(of: out, parts: workers) { _, rows in
                                            BLAS.multiply(m: rows.count, n: depth, k: width,
                                                          a: dz.baseAddress! + rows.lowerBound * n * plane + first * plane, lda: n * plane,
                                                          b: cols.baseAddress!, ldb: width, transposeB: true,
                                                          c: g.baseAddress! + weight.lowerBound + rows.lowerBound * depth, ldc: depth,
                                                          accumulate: true)
                                        }
                                        guard needsInputGradient else { continue }
                                        // dColumns [depth, width] = W^T [depth, out] x dZ[:, chunk] [out, width]
                                        BLAS.parallelSlices(of: depth, parts: workers) { _, rows in
                                            BLAS.multiply(m: rows.count, n: width, k: out,
                                                          a: p.baseAddress! + weight.lowerBound + rows.lowerBound, lda: depth, transposeA: true,
                                                          b: dz.baseAddress! + first * plane, ldb: n * plane,
                                                          c: dCols.baseAddress! + rows.lowerBound * width, ldc: width)
                                        }
                                        BLAS.parallelSlices(of: block.inChannels, parts: workers) { _, channels in
                                            col2im3x3(columns: dCols.baseAddress!, channels: block.inChannels, images: n, height: s, width: s,
                                                      firstImage: first, imageCount: count, channelRange: channels, addingInto: dx.baseAddress!)
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return dx
    }
}
