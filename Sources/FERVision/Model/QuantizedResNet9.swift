import CDNNL
import Foundation

/// A ResNet9 whose convolutions run in 8-bit integers on oneDNN: activations unsigned 8-bit (each block's
/// output in 0...`Int8Calibration` range), weights signed 8-bit per output channel; the first
/// convolution (one input channel, signed input) and the classifier stay in float.
///
/// oneDNN picks its kernels for the CPU at run time (AVX2, AVX-512, VNNI). Results differ from the float
/// network's by the rounding to 8 bits: BENCHMARKS.md and the model card give the accuracy it keeps.
///
/// Thread safety: `logits(for:)` may be called from several threads; passes run one at a time per lane.
public final class QuantizedResNet9: EmotionNetwork, @unchecked Sendable {
    public let architecture: ResNet9Architecture
    public let inputSize: Int
    public let calibration: Int8Calibration
    /// The most threads a pass uses, whatever `BLAS.threadCount` says (nil: no limit).
    public let threadLimit: Int?
    private let layers: [(weights: [Float], bias: [Float])]
    private let classifierWeights: [Float]
    private let classifierBias: [Float]
    /// Where passes run: one lane, or, live on a machine of several cores (`threadLimit` 1), two, each
    /// taking half of a batch's images at the same time.
    private let lanes: [Lane]
    /// Guards `convertedLayers`, which lanes compiling passes at the same time share.
    private let conversions = NSLock()

    /// A thread with its own stream and compiled passes. oneDNN's primitives (as Debian builds it) share
    /// one scratchpad per thread, so each runs on the thread that made it: a lane's passes stay on its
    /// thread, where OpenMP also keeps one warm team of threads for them.
    private final class Lane: @unchecked Sendable {
        let worker: DedicatedThread
        let engine: OneDNNEngine
        /// The compiled pass for each batch size and thread count used so far (oneDNN splits a
        /// primitive's work for the threads there are when it is made). Touched only on `worker`.
        var passes: [PassKey: Pass] = [:]

        init(name: String, engine: OneDNNEngine) {
            worker = DedicatedThread(name: name)
            self.engine = engine
        }
    }

    private struct PassKey: Hashable {
        let images: Int, threads: Int
    }

    public var precision: String { "int8" }

    /// Batch sizes compiled when the network is made (about 10 ms each; others on first use): up to 3 faces
    /// with their mirror images, what `camera` and `replay` classify per frame by default.
    public static let preparedBatchSizes = 1...6

    /// Largest batch one pass takes; larger ones run in passes of this many.
    static let maxImagesPerPass = 16

    /// - Parameter threadLimit: the most threads a pass uses. Live streams pass 1: oneDNN's OpenMP splits a
    ///   pass evenly over its threads, so it waits for the slowest, and beside the face search on a
    ///   2-core machine one of them was often not running (BENCHMARKS.md, "With 8-bit inference"). With 1,
    ///   on a machine of several cores (`BLAS.threadCount` above 1), a batch of several images is split
    ///   between two lanes of one thread each (BENCHMARKS.md, "Several faces on two lanes").
    /// - Precondition: the state dict matches `architecture` and the calibration has a range per block.
    public init(stateDict: StateDict, architecture: ResNet9Architecture, inputSize: Int = 48, calibration: Int8Calibration,
                threadLimit: Int? = nil) throws(OneDNNError) {
        precondition(calibration.blockOutputRanges.count == architecture.blocks.count)
        self.architecture = architecture
        self.inputSize = inputSize
        self.calibration = calibration
        self.threadLimit = threadLimit
        let engine = try OneDNNEngine()
        // Two faces (or one with its mirror image) on a frame where both cores are free take half the
        // time on two lanes; a lane on its own thread waits for nobody's barrier, as a 2-thread pass did.
        let second = threadLimit == 1 && BLAS.threadCount > 1 ? try OneDNNEngine(streamOn: engine) : nil
        lanes = [Lane(name: "fer-live.int8", engine: engine)] + (second.map { [Lane(name: "fer-live.int8.b", engine: $0)] } ?? [])
        layers = ResNet9.foldedConvolutions(stateDict: stateDict, architecture: architecture)
        let prefix = ResNet9Architecture.classifierPrefix
        classifierWeights = stateDict.tensor("\(prefix).weight")!.scalars
        classifierBias = stateDict.tensor("\(prefix).bias")!.scalars
        // Compiles the passes a live stream uses now (what the CPU or oneDNN cannot do fails here, in one
        // line), on the threads set now, and runs each once (its team of threads started, its memory
        // touched): the first frame with two faces must not wait for a compiler.
        let threads = passThreads
        for (index, lane) in lanes.enumerated() {
            // A batch split over the lanes gives the second at most half of the largest prepared one.
            let sizes = index == 0 ? Self.preparedBatchSizes : 1...Self.preparedBatchSizes.upperBound / 2
            try lane.worker.run { () -> Result<Void, OneDNNError> in
                lane.engine.useThreads(threads)
                return Result { () throws(OneDNNError) in
                    for images in sizes {
                        let pass = try pass(for: images, threads: threads, on: lane)
                        for step in pass.steps { try step.run(on: lane.engine) }
                        try lane.engine.wait()
                    }
                }
            }.get()
        }
    }

    deinit { lanes.forEach { $0.worker.stop() } }

    /// Raw class scores for a batch [N, inputChannels, inputSize, inputSize] -> [N, classCount].
    public func logits(for batch: Tensor) -> Tensor {
        do {
            return try computeLogits(for: batch)
        } catch {
            // The one-image pass compiled and ran at init; a batch size that cannot compile runs image by image.
            guard batch.shape[0] > 1 else { fatalError("\(error)") }
            let length = batch.count / batch.shape[0]
            let rows = (0..<batch.shape[0]).flatMap { i in
                logits(for: Tensor(shape: [1] + batch.shape.dropFirst(), scalars: Array(batch.scalars[i * length..<(i + 1) * length]))).scalars
            }
            return Tensor(shape: [batch.shape[0], architecture.classCount], scalars: rows)
        }
    }

    /// Threads the next pass uses.
    private var passThreads: Int { min(BLAS.threadCount, threadLimit ?? .max) }

    private func computeLogits(for batch: Tensor) throws(OneDNNError) -> Tensor {
        let threads = passThreads, images = batch.shape[0]
        func part(_ images: Range<Int>, on lane: Lane) -> () -> Result<[Float], OneDNNError> {
            { Result { () throws(OneDNNError) in try self.logits(of: batch, images: images, threads: threads, on: lane) } }
        }
        let scalars: [Float]
        if lanes.count > 1, images > 1 {
            let half = (images + 1) / 2
            let (first, second) = DedicatedThread.runTogether(lanes[0].worker, part(0..<half, on: lanes[0]),
                                                              lanes[1].worker, part(half..<images, on: lanes[1]))
            scalars = try first.get() + second.get()
        } else {
            scalars = try lanes[0].worker.run(part(0..<images, on: lanes[0])).get()
        }
        return Tensor(shape: [images, architecture.classCount], scalars: scalars)
    }

    /// The logits of `images` of `batch`, on `lane`'s thread.
    private func logits(of batch: Tensor, images: Range<Int>, threads: Int, on lane: Lane) throws(OneDNNError) -> [Float] {
        let classes = architecture.classCount
        let imageLength = architecture.inputChannels * inputSize * inputSize
        var result = [Float](repeating: 0, count: images.count * classes)
        lane.engine.useThreads(threads)
        for first in stride(from: 0, to: images.count, by: Self.maxImagesPerPass) {
            let count = min(Self.maxImagesPerPass, images.count - first)
            let pass = try pass(for: count, threads: threads, on: lane)
            batch.scalars.withUnsafeBufferPointer { input in
                pass.input.data.assumingMemoryBound(to: Float.self)
                    .update(from: input.baseAddress! + (images.lowerBound + first) * imageLength, count: count * imageLength)
            }
            for step in pass.steps { try step.run(on: lane.engine) }
            try lane.engine.wait()
            pass.logits(into: &result, first: first, count: count, weights: classifierWeights, bias: classifierBias)
        }
        return result
    }

    /// Each block's weights and bias converted for oneDNN, one entry per weights layout seen.
    private var convertedLayers: [Int: [(weights: OneDNNTensor, bias: OneDNNTensor)]] = [:]

    /// The converted weights and bias of `block` whose weights satisfy `matching`, made by `convert` the first time.
    private func converted(block: Int, _ convert: () throws(OneDNNError) -> (OneDNNTensor, OneDNNTensor),
                           matching: (OneDNNTensor) -> Bool) throws(OneDNNError) -> (OneDNNTensor, OneDNNTensor) {
        conversions.lock()
        defer { conversions.unlock() }
        if let found = convertedLayers[block, default: []].first(where: { matching($0.weights) }) { return found }
        let made = try convert()
        convertedLayers[block, default: []].append(made)
        return made
    }

    /// The compiled pass for `images` images on `threads` threads, the calling thread's OpenMP setting
    /// (made on first use, on `lane`'s thread: oneDNN generates its kernels then).
    private func pass(for images: Int, threads: Int, on lane: Lane) throws(OneDNNError) -> Pass {
        let key = PassKey(images: images, threads: threads)
        if let pass = lane.passes[key] { return pass }
        let pass = try Pass(images: images, network: self, engine: lane.engine)
        lane.passes[key] = pass
        return pass
    }

    /// One batch size's primitives and tensors, in order.
    private final class Pass {
        let input: OneDNNTensor
        /// The classifier's input: [images, width] in 8 bits, and its scale.
        let features: OneDNNTensor
        let featureScale: Float
        var steps: [OneDNNStep] = []

        init(images n: Int, network: QuantizedResNet9, engine: OneDNNEngine) throws(OneDNNError) {
            let architecture = network.architecture
            let ranges = network.calibration.blockOutputRanges
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
                let (weights, bias) = network.layers[index]
                let outScale = 255 / ranges[index]
                let dims = (source: [n, block.inChannels, side, side], output: [n, block.outChannels, side, side])
                let skip = block.addsInputOf.flatMap { held.removeValue(forKey: $0) }
                // The first block reads the float input (one signed channel): a float convolution.
                let quantized = index > 0
                var attributes = PrimitiveAttributes(relu: true)
                var weightScales: [Float] = [], foldedBias = bias
                if quantized, let inScale = currentScale {
                    // The accumulator counts units of 1 / (inScale * wScale): the bias is added in those
                    // units, and the output scaled from them to this block's 8-bit scale.
                    weightScales = Self.channelScales(weights, outChannels: block.outChannels)
                    attributes.outputScales = weightScales.map { outScale / (inScale * $0) }
                    attributes.scalesPerChannelOf = 1
                    foldedBias = zip(bias, weightScales).map { $0 * inScale * $1 }
                    if let skip { attributes.sumScale = outScale / skip.scale }
                }
                let type = quantized ? dnnl_u8 : dnnl_f32
                let destination = if let skip { skip.tensor.layout } else { try TensorLayout(dims.output, type, dnnl_format_tag_any) }
                let sourceAny = try TensorLayout(dims.source, type, dnnl_format_tag_any)
                let weightsAny = try TensorLayout([block.outChannels, block.inChannels, 3, 3], quantized ? dnnl_s8 : dnnl_f32, dnnl_format_tag_any)
                let biasLayout = try TensorLayout([block.outChannels], dnnl_f32, dnnl_x)
                var convolution = dnnl_convolution_desc_t()
                let status = withUnsafePointer(to: sourceAny.descriptor) { s in
                    withUnsafePointer(to: weightsAny.descriptor) { w in
                        withUnsafePointer(to: biasLayout.descriptor) { b in
                            withUnsafePointer(to: destination.descriptor) { d in
                                dnnl_convolution_forward_desc_init(&convolution, dnnl_forward_inference, dnnl_convolution_direct, s, w, b, d,
                                                                   [1, 1], [1, 1], [1, 1])
                            }
                        }
                    }
                }
                guard status == dnnl_success else { throw OneDNNError(call: "describing \(block.name)", status: Int(status.rawValue)) }
                let choice = try PrimitiveChoice(convolution, attributes: attributes, engine: engine, what: block.name)
                // The input in the layout and type the convolution reads (the float first output scaled to 8 bits).
                var source = current
                if !choice.source.matches(current.layout) {
                    source = try OneDNNTensor(choice.source, engine: engine)
                    let scales = current.layout.type == dnnl_f32 && quantized ? [currentScale!] : []
                    steps.append(try Self.reorder(current, into: source, scales: scales, engine: engine))
                }
                // Every batch size's pass shares the converted weights of a layout (oneDNN's layout for a
                // layer rarely depends on the batch).
                let (weightTensor, biasTensor) = try network.converted(block: index) { () throws(OneDNNError) in
                    (try Self.tensor(weights, layout: choice.weights, plain: [block.outChannels, block.inChannels, 3, 3],
                                     tag: dnnl_oihw, scales: weightScales, engine: engine),
                     try Self.tensor(foldedBias, layout: biasLayout, plain: [block.outChannels], tag: dnnl_x, scales: [], engine: engine))
                } matching: { $0.layout.matches(choice.weights) }
                let output = if let skip { skip.tensor } else { try OneDNNTensor(choice.destination, engine: engine) }
                steps.append(try OneDNNStep(choice, [(OneDNNArgument.source, source), (OneDNNArgument.weights, weightTensor),
                                                     (OneDNNArgument.bias, biasTensor), (OneDNNArgument.destination, output)]))
                current = output
                currentScale = outScale
                if block.pools {
                    side /= 2
                    let pooled = try Self.maxPool(current, dims: dims.output, kernel: 2, to: nil, engine: engine)
                    steps.append(pooled.step)
                    current = pooled.output
                }
            }
            // The classifier's pooling, to one value per channel (a 1x1 map at every accepted input size),
            // each image's features contiguous.
            let width = architecture.widths[3], kernel = architecture.classifierPoolKernel(inputSize: network.inputSize)
            precondition(side / kernel == 1, "the classifier's pooling leaves a 1x1 map")
            let plain = try TensorLayout([n, width, 1, 1], dnnl_u8, dnnl_nhwc)
            let pooled = try Self.maxPool(current, dims: [n, width, side, side], kernel: kernel, to: plain, engine: engine)
            steps.append(pooled.step)
            features = pooled.output
            featureScale = currentScale!
            self.steps = steps
        }

        /// Logits of images `first ..< first + count` from the 8-bit features: float linear layer.
        func logits(into result: inout [Float], first: Int, count: Int, weights: [Float], bias: [Float]) {
            let classes = bias.count, length = weights.count / classes
            let bytes = features.data.assumingMemoryBound(to: UInt8.self)
            var values = [Float](repeating: 0, count: count * length)
            for j in 0..<values.count { values[j] = Float(bytes[j]) / featureScale }
            for image in 0..<count {
                for k in 0..<classes { result[(first + image) * classes + k] = bias[k] }
            }
            values.withUnsafeBufferPointer { features in
                weights.withUnsafeBufferPointer { w in
                    result.withUnsafeMutableBufferPointer { out in
                        BLAS.multiply(m: count, n: classes, k: length, a: features.baseAddress!, lda: length,
                                      b: w.baseAddress!, ldb: length, transposeB: true,
                                      c: out.baseAddress! + first * classes, ldc: classes, accumulate: true)
                    }
                }
            }
        }

        /// Per output channel: 127 / the channel's largest weight magnitude.
        static func channelScales(_ weights: [Float], outChannels: Int) -> [Float] {
            let fanIn = weights.count / outChannels
            return (0..<outChannels).map { o in
                let peak = weights[o * fanIn..<(o + 1) * fanIn].reduce(Float(0)) { max($0, abs($1)) }
                return peak > 0 ? 127 / peak : 1
            }
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

        /// Max pooling (stride = kernel, floor) of `source` ([n, c, side, side]) into a new tensor.
        static func maxPool(_ source: OneDNNTensor, dims: [Int], kernel: Int, to layout: TensorLayout?, engine: OneDNNEngine)
            throws(OneDNNError) -> (step: OneDNNStep, output: OneDNNTensor) {
            let side = dims[2] / kernel
            let destination = if let layout { layout } else { try TensorLayout([dims[0], dims[1], side, side], source.layout.type, dnnl_format_tag_any) }
            var pooling = dnnl_pooling_desc_t()
            let k = Int64(kernel)
            let status = withUnsafePointer(to: source.layout.descriptor) { s in
                withUnsafePointer(to: destination.descriptor) { d in
                    dnnl_pooling_forward_desc_init(&pooling, dnnl_forward_inference, dnnl_pooling_max, s, d, [k, k], [k, k], [0, 0], [0, 0])
                }
            }
            guard status == dnnl_success else { throw OneDNNError(call: "describing a max pooling", status: Int(status.rawValue)) }
            let choice = try PrimitiveChoice(pooling, engine: engine, what: "max pooling")
            let output = try OneDNNTensor(choice.destination, engine: engine)
            return (try OneDNNStep(choice, [(OneDNNArgument.source, source), (OneDNNArgument.destination, output)]), output)
        }
    }
}
