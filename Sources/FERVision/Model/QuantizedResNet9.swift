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
    let layers: [(weights: [Float], bias: [Float])]
    let classifierWeights: [Float]
    let classifierBias: [Float]
    /// Where passes run: one lane, or, live on a machine of several cores (`threadLimit` 1), two, each
    /// taking half of a batch's whole images at the same time.
    private let lanes: [Lane]
    /// With two lanes: one image computed by both at once (a batch's odd image, or a frame's one face);
    /// nil with one lane, or where the maps' rows do not split evenly. Set once, at the end of `init`.
    private var splitImage: SplitImagePass? = nil
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
    ///   on a machine of several cores (`BLAS.threadCount` above 1), a batch is split between two lanes of
    ///   one thread each, image by image, and an odd image (one face) row by row (BENCHMARKS.md, "Several
    ///   faces on two lanes", "One image on both lanes").
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
        // On a machine of two CPUs, each lane keeps to its own: left to the scheduler, both lanes were
        // often put on one CPU while the other idled (a virtual machine that packs threads onto its CPUs:
        // a 3-face pass took 20 ms in 4 ms turns, BENCHMARKS.md "One image on both lanes"). With more
        // CPUs, the scheduler has room, and a lane kept to a CPU another program is busy on would wait.
        let allowed = CPUAffinity.allowedCPUs()
        let laneCPUs = lanes.count == 2 && allowed.count == 2 ? allowed : nil
        let split = lanes.count > 1 && SplitImagePass.splits(architecture, inputSize: inputSize)
            ? try SplitImagePass(network: self, engine: lanes[0].engine) : nil
        for (index, lane) in lanes.enumerated() {
            // A batch split over the lanes gives the second at most half of the largest prepared one.
            let sizes = index == 0 ? Self.preparedBatchSizes : 1...Self.preparedBatchSizes.upperBound / 2
            try lane.worker.run { () -> Result<Void, OneDNNError> in
                if let laneCPUs { CPUAffinity.pinCallingThread(to: laneCPUs[index]) }
                lane.engine.useThreads(threads)
                return Result { () throws(OneDNNError) in
                    for images in sizes {
                        let pass = try pass(for: images, threads: threads, on: lane)
                        for step in pass.steps { try step.run(on: lane.engine) }
                        try lane.engine.wait()
                    }
                    try split?.compile(lane: index, network: self, engine: lane.engine)
                }
            }.get()
        }
        if let split {
            splitImage = split
            // Run once, as the passes above: the first frame with one face must not be the first to touch its memory.
            _ = try computeLogits(for: Tensor(shape: [1, architecture.inputChannels, inputSize, inputSize],
                                              scalars: [Float](repeating: 0, count: inputSize * inputSize)))
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
        // With two lanes, each takes half of the whole images; an odd one is split between them.
        let split = images % 2 == 1 ? splitImage : nil
        let wholeImages = split == nil ? images : images - 1
        func part(_ images: Range<Int>, on index: Int) -> () -> Result<[Float], OneDNNError> {
            {
                Result { () throws(OneDNNError) in
                    let lane = self.lanes[index]
                    let scalars = images.isEmpty ? [] : try self.logits(of: batch, images: images, threads: threads, on: lane)
                    try split?.takeParts(lane: index, engine: lane.engine)
                    return scalars
                }
            }
        }
        var scalars: [Float]
        if lanes.count > 1, images > 1 || split != nil {
            let half = (wholeImages + 1) / 2
            if let split { load(image: images - 1, of: batch, into: split) }
            let (first, second) = DedicatedThread.runTogether(lanes[0].worker, part(0..<half, on: 0),
                                                              lanes[1].worker, part(half..<wholeImages, on: 1))
            scalars = try first.get() + second.get()
            if let split {
                scalars += [Float](repeating: 0, count: architecture.classCount)
                classify(split.features, scale: split.featureScale, into: &scalars, first: images - 1, count: 1)
            }
        } else {
            scalars = try lanes[0].worker.run(part(0..<images, on: 0)).get()
        }
        return Tensor(shape: [images, architecture.classCount], scalars: scalars)
    }

    /// Copies image `image` of `batch` into `split`'s input and readies it for a run.
    private func load(image: Int, of batch: Tensor, into split: SplitImagePass) {
        let length = architecture.inputChannels * inputSize * inputSize
        batch.scalars.withUnsafeBufferPointer { input in
            split.input.data.assumingMemoryBound(to: Float.self).update(from: input.baseAddress! + image * length, count: length)
        }
        split.prepareRun()
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
            classify(pass.features, scale: pass.featureScale, into: &result, first: first, count: count)
        }
        return result
    }

    /// Each block's weights and bias converted for oneDNN, one entry per weights layout seen.
    private var convertedLayers: [Int: [(weights: OneDNNTensor, bias: OneDNNTensor)]] = [:]

    /// The converted weights and bias of `block` whose weights satisfy `matching`, made by `convert` the first time.
    func converted(block: Int, _ convert: () throws(OneDNNError) -> (OneDNNTensor, OneDNNTensor),
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
}
