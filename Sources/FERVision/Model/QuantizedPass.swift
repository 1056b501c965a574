import CDNNL

// What both kinds of 8-bit pass are made of: each block's convolution with its scales, pooling,
// reorders, and the float classifier on the pooled 8-bit features.
extension QuantizedResNet9 {
    /// How a block's convolution runs: in float for the first block (it reads the float input), in 8 bits
    /// after it, scaled from its accumulator to the block's 8-bit output.
    struct BlockConvolution {
        let index: Int
        let block: ResNet9Architecture.Block
        let attributes: PrimitiveAttributes
        /// Per output channel, the 8-bit weights' scale (empty for the float block).
        let weightScales: [Float]
        /// The bias in the accumulator's units.
        let bias: [Float]
        /// The scale of the block's output values in 8 bits (255 / its range).
        let outScale: Float

        var isQuantized: Bool { index > 0 }
        var type: dnnl_data_type_t { isQuantized ? dnnl_u8 : dnnl_f32 }
    }

    /// Block `index`'s convolution reading values of scale `inScale` (nil: the float input) and, for a
    /// residual block, adding values of scale `skipScale`.
    func blockConvolution(_ index: Int, inScale: Float?, skipScale: Float?) -> BlockConvolution {
        let block = architecture.blocks[index]
        let (weights, bias) = layers[index]
        let outScale = outputScale(ofBlock: index)
        var attributes = PrimitiveAttributes(relu: true)
        var weightScales: [Float] = [], foldedBias = bias
        if index > 0, let inScale {
            // The accumulator counts units of 1 / (inScale * wScale): the bias is added in those units, and
            // the output scaled from them to this block's 8-bit scale.
            weightScales = Self.channelScales(weights, outChannels: block.outChannels)
            attributes.outputScales = weightScales.map { outScale / (inScale * $0) }
            attributes.scalesPerChannelOf = 1
            foldedBias = zip(bias, weightScales).map { $0 * inScale * $1 }
            if let skipScale { attributes.sumScale = outScale / skipScale }
        }
        return BlockConvolution(index: index, block: block, attributes: attributes, weightScales: weightScales, bias: foldedBias,
                                outScale: outScale)
    }

    /// The scale of block `index`'s output values in 8 bits: 255 / its calibrated range.
    func outputScale(ofBlock index: Int) -> Float { 255 / calibration.blockOutputRanges[index] }

    /// What oneDNN picks for `convolution` from `source` into `destination` (either may be
    /// `dnnl_format_tag_any`), padded with `rowPadding` zero rows above and below and a zero column either side.
    func choice(for convolution: BlockConvolution, source: TensorLayout, destination: TensorLayout,
                rowPadding: (above: Int, below: Int) = (1, 1), engine: OneDNNEngine) throws(OneDNNError) -> PrimitiveChoice {
        let block = convolution.block
        let weights = try TensorLayout([block.outChannels, block.inChannels, 3, 3], convolution.isQuantized ? dnnl_s8 : dnnl_f32,
                                       dnnl_format_tag_any)
        let bias = try TensorLayout([block.outChannels], dnnl_f32, dnnl_x)
        var description = dnnl_convolution_desc_t()
        let status = withUnsafePointer(to: source.descriptor) { s in
            withUnsafePointer(to: weights.descriptor) { w in
                withUnsafePointer(to: bias.descriptor) { b in
                    withUnsafePointer(to: destination.descriptor) { d in
                        dnnl_convolution_forward_desc_init(&description, dnnl_forward_inference, dnnl_convolution_direct, s, w, b, d,
                                                           [1, 1], [Int64(rowPadding.above), 1], [Int64(rowPadding.below), 1])
                    }
                }
            }
        }
        guard status == dnnl_success else { throw OneDNNError(call: "describing \(block.name)", status: Int(status.rawValue)) }
        return try PrimitiveChoice(description, attributes: convolution.attributes, engine: engine, what: block.name)
    }

    /// The step running `convolution` as `choice` has it, from `source` into `destination` (tensors in the
    /// choice's layouts), with the block's weights converted for it (once per weights layout).
    func step(_ convolution: BlockConvolution, choice: PrimitiveChoice, source: OneDNNTensor, destination: OneDNNTensor,
              engine: OneDNNEngine) throws(OneDNNError) -> OneDNNStep {
        let block = convolution.block
        let (weights, bias) = try converted(block: convolution.index) { () throws(OneDNNError) in
            (try Pass.tensor(layers[convolution.index].weights, layout: choice.weights, plain: [block.outChannels, block.inChannels, 3, 3],
                             tag: dnnl_oihw, scales: convolution.weightScales, engine: engine),
             try Pass.tensor(convolution.bias, layout: TensorLayout([block.outChannels], dnnl_f32, dnnl_x), plain: [block.outChannels],
                             tag: dnnl_x, scales: [], engine: engine))
        } matching: { $0.layout.matches(choice.weights) }
        return try OneDNNStep(choice, [(OneDNNArgument.source, source), (OneDNNArgument.weights, weights),
                                       (OneDNNArgument.bias, bias), (OneDNNArgument.destination, destination)])
    }

    /// Per output channel: 127 / the channel's largest weight magnitude.
    static func channelScales(_ weights: [Float], outChannels: Int) -> [Float] {
        let fanIn = weights.count / outChannels
        return (0..<outChannels).map { o in
            let peak = weights[o * fanIn..<(o + 1) * fanIn].reduce(Float(0)) { max($0, abs($1)) }
            return peak > 0 ? 127 / peak : 1
        }
    }

    /// Logits of images `first ..< first + count` from their 8-bit `features` ([images, width], values of
    /// scale `scale`): the float linear layer.
    func classify(_ features: OneDNNTensor, scale: Float, into result: inout [Float], first: Int, count: Int) {
        let classes = classifierBias.count, length = classifierWeights.count / classes
        let bytes = features.data.assumingMemoryBound(to: UInt8.self)
        var values = [Float](repeating: 0, count: count * length)
        for j in 0..<values.count { values[j] = Float(bytes[j]) / scale }
        for image in 0..<count {
            for k in 0..<classes { result[(first + image) * classes + k] = classifierBias[k] }
        }
        values.withUnsafeBufferPointer { features in
            classifierWeights.withUnsafeBufferPointer { w in
                result.withUnsafeMutableBufferPointer { out in
                    BLAS.multiply(m: count, n: classes, k: length, a: features.baseAddress!, lda: length,
                                  b: w.baseAddress!, ldb: length, transposeB: true,
                                  c: out.baseAddress! + first * classes, ldc: classes, accumulate: true)
                }
            }
        }
    }

    /// One batch size's primitives and tensors, in order: whole images on one lane, in the layouts oneDNN
    /// picks.
    final class Pass {
        let input: OneDNNTensor
        /// The classifier's input: [images, width] in 8 bits, and its scale.
        let features: OneDNNTensor
        let featureScale: Float
        let steps: [OneDNNStep]

        init(images n: Int, network: QuantizedResNet9, engine: OneDNNEngine) throws(OneDNNError) {
            let architecture = network.architecture
            input = try OneDNNTensor(TensorLayout([n, architecture.inputChannels, network.inputSize, network.inputSize], dnnl_f32, dnnl_nchw),
                                     engine: engine)
            var current = input
            /// The scale of `current`'s values in 8 bits (255 / range); nil for the float input. The first
            /// block's output stays float until the second block reads it, scaled to 8 bits then.
            var currentScale: Float? = nil
            var held: [Int: (tensor: OneDNNTensor, scale: Float)] = [:]
            var side = network.inputSize
            let skipSources = architecture.skipSources
            var steps: [OneDNNStep] = []
            for (index, block) in architecture.blocks.enumerated() {
                if skipSources.contains(index), let currentScale { held[index] = (current, currentScale) }
                let skip = block.addsInputOf.flatMap { held.removeValue(forKey: $0) }
                let convolution = network.blockConvolution(index, inScale: currentScale, skipScale: skip?.scale)
                let dims = (source: [n, block.inChannels, side, side], output: [n, block.outChannels, side, side])
                let destination = if let skip { skip.tensor.layout } else { try TensorLayout(dims.output, convolution.type, dnnl_format_tag_any) }
                let choice = try network.choice(for: convolution, source: TensorLayout(dims.source, convolution.type, dnnl_format_tag_any),
                                                destination: destination, engine: engine)
                // The input in the layout and type the convolution reads (the float first output scaled to 8 bits).
                var source = current
                if !choice.source.matches(current.layout) {
                    source = try OneDNNTensor(choice.source, engine: engine)
                    let scales = current.layout.type == dnnl_f32 && convolution.isQuantized ? [currentScale!] : []
                    steps.append(try Self.reorder(current, into: source, scales: scales, engine: engine))
                }
                let output = if let skip { skip.tensor } else { try OneDNNTensor(choice.destination, engine: engine) }
                steps.append(try network.step(convolution, choice: choice, source: source, destination: output, engine: engine))
                current = output
                currentScale = convolution.outScale
                if block.pools {
                    side /= 2
                    let pooling = try Self.maxPool(current.layout, dims: dims.output, kernel: 2, to: nil, engine: engine)
                    let pooled = try OneDNNTensor(pooling.destination, engine: engine)
                    steps.append(try OneDNNStep(pooling, [(OneDNNArgument.source, current), (OneDNNArgument.destination, pooled)]))
                    current = pooled
                }
            }
            // The classifier's pooling, to one value per channel (a 1x1 map at every accepted input size),
            // each image's features contiguous.
            let width = architecture.widths[3], kernel = architecture.classifierPoolKernel(inputSize: network.inputSize)
            precondition(side / kernel == 1, "the classifier's pooling leaves a 1x1 map")
            let plain = try TensorLayout([n, width, 1, 1], dnnl_u8, dnnl_nhwc)
            let pooling = try Self.maxPool(current.layout, dims: [n, width, side, side], kernel: kernel, to: plain, engine: engine)
            features = try OneDNNTensor(plain, engine: engine)
            steps.append(try OneDNNStep(pooling, [(OneDNNArgument.source, current), (OneDNNArgument.destination, features)]))
            featureScale = currentScale!
            self.steps = steps
        }

        /// A tensor of `values` (plain layout `plain`/`tag`) converted into `layout`, scaled per output
        /// channel by `scales` when given: run once, here.
        static func tensor(_ values: [Float], layout: TensorLayout, plain: [Int], tag: dnnl_format_tag_t, scales: [Float],
                           engine: OneDNNEngine) throws(OneDNNError) -> OneDNNTensor {
            let source = try OneDNNTensor(TensorLayout(plain, dnnl_f32, tag), engine: engine)
            values.withUnsafeBufferPointer { source.data.assumingMemoryBound(to: Float.self).update(from: $0.baseAddress!, count: values.count) }
            if scales.isEmpty, layout.matches(source.layout) { return source }
            let target = try OneDNNTensor(layout, engine: engine)
            var attributes = PrimitiveAttributes()
            if !scales.isEmpty {
                attributes.outputScales = scales
                attributes.scalesPerChannelOf = 0
            }
            let choice = try PrimitiveChoice(reorderFrom: source.layout, to: layout, attributes: attributes, engine: engine)
            try OneDNNStep(choice, [(OneDNNArgument.from, source), (OneDNNArgument.to, target)]).run(on: engine)
            try engine.wait()
            return target
        }

        static func reorder(_ source: OneDNNTensor, into target: OneDNNTensor, scales: [Float], engine: OneDNNEngine) throws(OneDNNError) -> OneDNNStep {
            let choice = try PrimitiveChoice(reorderFrom: source.layout, to: target.layout,
                                             attributes: PrimitiveAttributes(outputScales: scales), engine: engine)
            return try OneDNNStep(choice, [(OneDNNArgument.from, source), (OneDNNArgument.to, target)])
        }

        /// Max pooling (stride = kernel, floor) from `source` ([n, c, side, side]) into `destination`, or a
        /// layout oneDNN picks when nil.
        static func maxPool(_ source: TensorLayout, dims: [Int], kernel: Int, to destination: TensorLayout?,
                            engine: OneDNNEngine) throws(OneDNNError) -> PrimitiveChoice {
            let destination = if let destination { destination } else {
                try TensorLayout([dims[0], dims[1], dims[2] / kernel, dims[3] / kernel], source.type, dnnl_format_tag_any)
            }
            var pooling = dnnl_pooling_desc_t()
            let k = Int64(kernel)
            let status = withUnsafePointer(to: source.descriptor) { s in
                withUnsafePointer(to: destination.descriptor) { d in
                    dnnl_pooling_forward_desc_init(&pooling, dnnl_forward_inference, dnnl_pooling_max, s, d, [k, k], [k, k], [0, 0], [0, 0])
                }
            }
            guard status == dnnl_success else { throw OneDNNError(call: "describing a max pooling", status: Int(status.rawValue)) }
            return try PrimitiveChoice(pooling, engine: engine, what: "max pooling")
        }
    }
}
