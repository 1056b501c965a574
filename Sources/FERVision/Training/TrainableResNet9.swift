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
    public internal(set) var gradients: [Float]
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
        records = [BlockRecord](repeating: BlockRecord(), count: architecture.blocks.count)
        residualSums = [[Float]](repeating: [], count: architecture.blocks.count)
        inputGradients = [[Float]](repeating: [], count: architecture.blocks.count)
        filters = architecture.blocks.map { _ in ScratchBuffer() }
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
        batchesTracked = Int(stateDict.tensor("\(architecture.blocks[0].name).1.num_batches_tracked")?.scalars.first ?? 0)
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

    /// Every buffer a step fills is kept for the next one: allocating and first-touching the hundreds of
    /// megabytes a batch of 64 needs costs more (page faults, zeroing) than many layers' arithmetic.
    private var records: [BlockRecord]
    /// Residual sums (at the blocks that add one), the gradient at each block's input, and the gradients
    /// inside a block's backward.
    private var residualSums: [[Float]]
    var inputGradients: [[Float]]
    private let poolGradient = ScratchBuffer(), convolutionGradient = ScratchBuffer()
    /// The batch in channel-major order, and the gradient at the classifier's pooling input.
    private var channelMajorInput: [Float] = [], classifierGradient: [Float] = []

    /// Forward in training mode (batch statistics; running statistics updated), loss against hard labels,
    /// and backward (`step(inputs:targets:featureMask:)` with one-hot targets).
    @discardableResult
    public func step(inputs: Tensor, labels: [Int]) -> Double {
        step(inputs: inputs, targets: Self.oneHot(labels, classes: architecture.classCount))
    }

    /// One-hot rows [N, classes] for `labels`.
    public static func oneHot(_ labels: [Int], classes: Int) -> Tensor {
        var rows = [Float](repeating: 0, count: labels.count * classes)
        for (i, label) in labels.enumerated() { rows[i * classes + label] = 1 }
        return Tensor(shape: [labels.count, classes], scalars: rows)
    }

    /// Forward in training mode (batch statistics; running statistics updated), loss, and backward.
    /// - Parameters:
    ///   - inputs: [N, channels, size, size], normalized.
    ///   - targets: [N, classes], a probability distribution per image (one-hot, smoothed or mixed).
    ///   - featureMask: dropout before the classifier: N x `architecture.widths[3]` factors (0 for a dropped
    ///     feature, 1 / (1 - p) for a kept one, as PyTorch's Dropout scales), or nil for none.
    /// - Returns: the mean cross-entropy loss. `gradients` then holds d(loss)/d(parameters).
    @discardableResult
    public func step(inputs: Tensor, targets: Tensor, featureMask: [Float]? = nil) -> Double {
        let n = targets.shape.first ?? 0, channels = architecture.inputChannels, side = inputSize
        precondition(targets.shape == [n, architecture.classCount], "targets \(targets.shape) are not [N, \(architecture.classCount)]")
        precondition(inputs.shape == [n, channels, side, side], "inputs \(inputs.shape) do not match \(n) targets")
        precondition(featureMask == nil || featureMask!.count == n * architecture.widths[3], "feature mask of the wrong size")
        let workers = BLAS.threadCount
        gradients.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }

        var x: [Float] = []
        swap(&x, &channelMajorInput)
        defer { channelMajorInput = x }
        reuse(&x, count: inputs.count)
        inputs.scalars.withUnsafeBufferPointer { input in
            transposeToChannelMajor(input.baseAddress!, images: n, channels: channels, plane: side * side, into: &x)
        }

        let blocks = architecture.blocks, skipSources = architecture.skipSources
        var current = x, s = side
        var skips: [Int: [Float]] = [:]                    // the inputs a residual adds later
        for (b, block) in blocks.enumerated() {
            if skipSources.contains(b) { skips[b] = current }
            var record = BlockRecord()
            swap(&record, &records[b])
            record.side = s
            record.input = current
            forwardBlock(b, block, &record, images: n, workers: workers)
            current = block.pools ? record.pooled : record.y
            if let source = block.addsInputOf {
                var sum: [Float] = []
                swap(&sum, &residualSums[b])
                add(current, skips.removeValue(forKey: source)!, into: &sum)
                current = sum
                residualSums[b] = sum
            }
            if block.pools { s /= 2 }
            swap(&record, &records[b])
        }

        // Classifier: max pooling (MaxPool2d(4), or the whole map) -> flatten -> (dropout) -> linear.
        let width = architecture.widths[3], kernel = architecture.classifierPoolKernel(inputSize: side)
        let pooledSide = s / kernel, pooledPlane = pooledSide * pooledSide
        let features = width * pooledPlane, classes = architecture.classCount
        var pooled = [Float](repeating: 0, count: width * n * pooledPlane)
        var winners = [Int32](repeating: 0, count: pooled.count)
        classifierMaxPoolForward(current, planes: width * n, side: s, kernel: kernel, output: &pooled, winners: &winners)
        var flat = [Float](repeating: 0, count: n * features)
        for image in 0..<n {
            for c in 0..<width {
                for i in 0..<pooledPlane { flat[image * features + c * pooledPlane + i] = pooled[(c * n + image) * pooledPlane + i] }
            }
        }
        if let featureMask { for i in flat.indices { flat[i] *= featureMask[i] } }
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
        let loss = softmaxCrossEntropy(logits: logits, targets: targets.scalars, images: n, classes: classes, dLogits: &dLogits)

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
        if let featureMask { for i in dFlat.indices { dFlat[i] *= featureMask[i] } }
        var dCurrent: [Float] = []
        swap(&dCurrent, &classifierGradient)
        reuse(&dCurrent, count: width * n * s * s)
        dCurrent.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        for image in 0..<n {
            for c in 0..<width {
                for i in 0..<pooledPlane {
                    let p = (c * n + image) * pooledPlane + i
                    dCurrent[(c * n + image) * s * s + Int(winners[p])] = dFlat[image * features + c * pooledPlane + i]
                }
            }
        }
        classifierGradient = dCurrent

        // Backward through the blocks; a residual's output gradient also flows to its skip input.
        var dSkips: [Int: [Float]] = [:]                   // keyed by the block whose input the skip was
        for b in blocks.indices.reversed() {
            if let source = blocks[b].addsInputOf { dSkips[source] = dCurrent }
            var dInput = backwardBlock(b, blocks[b], records[b], dOutput: dCurrent, images: n,
                                       needsInputGradient: b > 0, workers: workers)
            if let dSkip = dSkips.removeValue(forKey: b) { for i in dInput.indices { dInput[i] += dSkip[i] } }
            dCurrent = dInput
            records[b].input = []      // the previous block's output: it writes there again next step
        }
        batchesTracked += 1
        return loss
    }

    /// Clips every gradient of the last step to [-limit, limit] in place (PyTorch's `clip_grad_value_`).
    public func clipGradients(limit: Float) {
        FERVision.clipGradients(&gradients, limit: limit)
    }

    /// sum = a + b, reusing sum's storage when it has the right size.
    private func add(_ a: [Float], _ b: [Float], into sum: inout [Float]) {
        reuse(&sum, count: a.count)
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                sum.withUnsafeMutableBufferPointer { sum in
                    for i in sum.indices { sum[i] = a[i] + b[i] }
                }
            }
        }
    }

    /// conv -> batch norm (batch statistics) -> ReLU -> optional pool, filling `record`.
    private func forwardBlock(_ b: Int, _ block: ResNet9Architecture.Block, _ record: inout BlockRecord, images n: Int, workers: Int) {
        let s = record.side, count = n * s * s, out = block.outChannels
        reuse(&record.z, count: out * count)
        convolutionForward(b, block, input: record.input, images: n, side: s, output: &record.z, workers: workers)
        reuse(&record.y, count: out * count)
        reuse(&record.mean, count: out)
        reuse(&record.inverseStd, count: out)
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
            reuse(&record.pooled, count: out * n * (s / 2) * (s / 2))
            reuse(&record.winners, count: record.pooled.count)
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
        let pooled = block.pools ? poolGradient.reserve(out * count) : nil
        if let pooled {
            dOutput.withUnsafeBufferPointer { d in
                record.winners.withUnsafeBufferPointer { winners in
                    BLAS.parallelSlices(of: out * n, parts: workers) { _, planes in
                        maxPool2Backward(d.baseAddress!, winners: winners.baseAddress!, planes: planes, height: s, width: s,
                                         dInput: pooled)
                    }
                }
            }
        }
        let dz = convolutionGradient.reserve(out * count)
        let gamma = range(of: "\(block.name).1.weight"), beta = range(of: "\(block.name).1.bias")
        let bias = range(of: "\(block.name).0.bias")
        parameters.withUnsafeBufferPointer { p in
            gradients.withUnsafeMutableBufferPointer { g in
                dOutput.withUnsafeBufferPointer { unpooled in
                    // The gradient at the ReLU's output: through the pooling when the block pools.
                    let dy = pooled.map { UnsafePointer($0) } ?? unpooled.baseAddress!
                    BLAS.parallelSlices(of: out, parts: workers) { _, channels in
                        batchNormReLUBackward(dy: dy, y: record.y, z: record.z,
                                              gamma: p.baseAddress! + gamma.lowerBound, mean: record.mean,
                                              inverseStd: record.inverseStd, channels: channels, count: count,
                                              dz: dz, dgamma: g.baseAddress! + gamma.lowerBound,
                                              dbeta: g.baseAddress! + beta.lowerBound,
                                              dConvolutionBias: g.baseAddress! + bias.lowerBound)
                    }
                }
            }
        }
        return convolutionBackward(b, block, input: record.input, dz: dz, images: n, side: s,
                                   needsInputGradient: needsInputGradient, workers: workers)
    }

    // The training convolutions' buffers (TrainableResNet9Convolution.swift), kept between steps: fresh
    // multi-megabyte buffers every layer of every step cost more in page faults than the work they hold.
    let transformed = ScratchBuffer(), products = ScratchBuffer(), transformedGradient = ScratchBuffer()
    let filterGradient = ScratchBuffer()
    /// U per block from this step's weights: made by the forward pass, used again by backward.
    let filters: [ScratchBuffer]
    /// The tile transforms' scratch, one per worker.
    var tileScratch: [ScratchBuffer] = []
}

/// Makes `buffer` hold `count` elements, keeping its storage (and contents) when it already does: for
/// buffers the caller overwrites whole.
func reuse<Element: Numeric>(_ buffer: inout [Element], count: Int) {
    if buffer.count != count { buffer = [Element](repeating: 0, count: count) }
}

/// A scratch buffer that only grows, kept for the life of its owner.
final class ScratchBuffer {
    private var pointer: UnsafeMutablePointer<Float>?
    private var capacity = 0

    /// At least `count` floats; the contents are whatever the last user left.
    func reserve(_ count: Int) -> UnsafeMutablePointer<Float> {
        if let pointer, capacity >= count { return pointer }
        pointer?.deallocate()
        pointer = .allocate(capacity: count)
        capacity = count
        return pointer!
    }

    deinit { pointer?.deallocate() }
}
