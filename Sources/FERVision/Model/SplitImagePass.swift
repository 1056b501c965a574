import CDNNL
import Foundation
import Synchronization

extension QuantizedResNet9 {
    /// One image computed by both lanes at once: every layer's output rows are split into a top and a
    /// bottom half, each a part that either lane takes, in order. A layer's parts start once both parts of
    /// the layer before are finished (each reads a row of the other's), so a lane waits at most for a part
    /// already under way; a lane that comes late (its core busy) finds the parts taken, and the image costs
    /// what it costs on one lane.
    ///
    /// Why: live, a batch is split between the lanes image by image, so an odd image kept one lane busy
    /// while the other had finished (three faces: two images' time, where one and a half would do, the
    /// slowest frames with oneDNN's AVX2 kernels; BENCHMARKS.md, "One image on both lanes").
    ///
    /// The maps are `nhwc`, where a run of rows is one contiguous run of memory: each part's primitives
    /// read and write views of the whole maps, which both lanes share; each lane compiles its own
    /// primitives (oneDNN's scratchpad is per thread).
    ///
    /// `@unchecked Sendable`: the parts are compiled before any run and read-only after; a run's tensors
    /// are ordered by `finished` (a part's writes are released by its increment, acquired by the wait of
    /// every later part), and the caller resets the counters between runs, while no lane runs.
    final class SplitImagePass: @unchecked Sendable {
        /// The image in, [1, 1, side, side]: one channel, so its rows are contiguous in any layout.
        let input: OneDNNTensor
        /// The classifier's input, [1, width] in 8 bits, and its scale.
        let features: OneDNNTensor
        let featureScale: Float
        /// Per lane, its compiled parts in the order they are taken.
        private var laneParts: [[Part]] = []
        /// The whole maps the parts read and write views of, made by the lane compiled first.
        private var maps: [OneDNNTensor] = []
        private let taken = Atomic<Int>(0)
        private let finished = Atomic<Int>(0)
        /// How many lanes sleep in `waitForFinished`, and the condition they sleep on.
        private let sleepers = Atomic<Int>(0)
        private let partFinished = NSCondition()

        private struct Part {
            let steps: [OneDNNStep]
            /// How many parts are finished before this one starts: every part of the layers before.
            let after: Int
        }

        private enum Half: CaseIterable {
            case top, bottom

            /// The rows of a `side`-row map this half writes.
            func rows(side: Int) -> Range<Int> { self == .top ? 0..<side / 2 : side / 2..<side }

            /// The rows a 3x3 convolution reads to write them, and the zero rows it pads above and below.
            func convolutionInput(side: Int) -> (rows: Range<Int>, padding: (above: Int, below: Int)) {
                switch self {
                case .top: (rows: 0..<side / 2 + 1, padding: (above: 1, below: 0))
                case .bottom: (rows: side / 2 - 1..<side, padding: (above: 0, below: 1))
                }
            }
        }

        /// A whole map and its shape, [1, channels, side, side] in `nhwc`.
        private struct Map {
            let tensor: OneDNNTensor
            let channels: Int, side: Int

            /// Rows `rows` of the map, as a tensor of their own on its memory.
            func rows(_ rows: Range<Int>, engine: OneDNNEngine) throws(OneDNNError) -> OneDNNTensor {
                let elementSize = tensor.layout.byteCount / (channels * side * side)
                // One channel (the input) is the same memory either way; `nchw` is what float kernels read.
                let layout = try TensorLayout([1, channels, rows.count, side], tensor.layout.type, channels == 1 ? dnnl_nchw : dnnl_nhwc)
                return try OneDNNTensor(viewing: tensor, at: rows.lowerBound * side * channels * elementSize, as: layout, engine: engine)
            }
        }

        /// Whether `architecture` at `inputSize` splits into halves: one input channel, and each map's rows
        /// split evenly, also after each pooling.
        static func splits(_ architecture: ResNet9Architecture, inputSize: Int) -> Bool {
            guard architecture.inputChannels == 1 else { return false }
            var side = inputSize
            for block in architecture.blocks {
                guard side >= 2, side % (block.pools ? 4 : 2) == 0 else { return false }
                if block.pools { side /= 2 }
            }
            return true
        }

        init(network: QuantizedResNet9, engine: OneDNNEngine) throws(OneDNNError) {
            precondition(Self.splits(network.architecture, inputSize: network.inputSize))
            let side = network.inputSize
            input = try OneDNNTensor(TensorLayout([1, 1, side, side], dnnl_f32, dnnl_nchw), engine: engine)
            features = try OneDNNTensor(TensorLayout([1, network.architecture.widths[3], 1, 1], dnnl_u8, dnnl_nhwc), engine: engine)
            featureScale = network.outputScale(ofBlock: network.architecture.blocks.count - 1)
        }

        /// Compiles the parts for the lane numbered `lane` (the next one), on its thread (the caller's).
        func compile(lane: Int, network: QuantizedResNet9, engine: OneDNNEngine) throws(OneDNNError) {
            precondition(lane == laneParts.count, "lanes compile in order")
            let architecture = network.architecture
            var mapsUsed = 0
            /// The next whole map: made by the first lane, the same one for the second.
            func map(channels: Int, side: Int, type: dnnl_data_type_t) throws(OneDNNError) -> Map {
                defer { mapsUsed += 1 }
                if mapsUsed == maps.count { maps.append(try OneDNNTensor(TensorLayout([1, channels, side, side], type, dnnl_nhwc), engine: engine)) }
                return Map(tensor: maps[mapsUsed], channels: channels, side: side)
            }
            var parts: [Part] = []
            var current = Map(tensor: input, channels: 1, side: network.inputSize)
            /// The scale of `current`'s values in 8 bits; nil for the float input.
            var currentScale: Float? = nil
            var held: [Int: (map: Map, scale: Float)] = [:]
            let skipSources = architecture.skipSources
            for (index, block) in architecture.blocks.enumerated() {
                if skipSources.contains(index), let currentScale { held[index] = (current, currentScale) }
                let skip = block.addsInputOf.flatMap { held.removeValue(forKey: $0) }
                let convolution = network.blockConvolution(index, inScale: currentScale, skipScale: skip?.scale)
                let side = current.side, channels = block.outChannels
                let output = if let skip { skip.map } else { try map(channels: channels, side: side, type: dnnl_u8) }
                let pooled = if block.pools { try map(channels: channels, side: side / 2, type: dnnl_u8) } else { Map?.none }
                let after = parts.count
                for half in Half.allCases {
                    let (inputRows, padding) = half.convolutionInput(side: side)
                    let rows = half.rows(side: side)
                    let source = try current.rows(inputRows, engine: engine)
                    let destination = try output.rows(rows, engine: engine)
                    var steps: [OneDNNStep] = []
                    if convolution.isQuantized {
                        let choice = try network.choice(for: convolution, source: source.layout, destination: destination.layout,
                                                        rowPadding: padding, engine: engine)
                        steps.append(try network.step(convolution, choice: choice, source: source, destination: destination, engine: engine))
                    } else {
                        // The float block writes where oneDNN likes; its rows are then scaled to 8 bits into the shared map.
                        let floatOutput = try TensorLayout([1, channels, rows.count, side], dnnl_f32, dnnl_format_tag_any)
                        let choice = try network.choice(for: convolution, source: source.layout, destination: floatOutput,
                                                        rowPadding: padding, engine: engine)
                        let written = try OneDNNTensor(choice.destination, engine: engine)
                        steps.append(try network.step(convolution, choice: choice, source: source, destination: written, engine: engine))
                        steps.append(try Pass.reorder(written, into: destination, scales: [convolution.outScale], engine: engine))
                    }
                    if let pooled {
                        let into = try pooled.rows(rows.lowerBound / 2..<rows.upperBound / 2, engine: engine)
                        let pooling = try Pass.maxPool(destination.layout, dims: [1, channels, rows.count, side], kernel: 2,
                                                       to: into.layout, engine: engine)
                        steps.append(try OneDNNStep(pooling, [(OneDNNArgument.source, destination), (OneDNNArgument.destination, into)]))
                    }
                    parts.append(Part(steps: steps, after: after))
                }
                current = pooled ?? output
                currentScale = convolution.outScale
            }
            // The classifier's pooling reads the whole last map: one part, after both halves of it.
            let kernel = architecture.classifierPoolKernel(inputSize: network.inputSize)
            let pooling = try Pass.maxPool(current.tensor.layout, dims: [1, current.channels, current.side, current.side], kernel: kernel,
                                           to: features.layout, engine: engine)
            parts.append(Part(steps: [try OneDNNStep(pooling, [(OneDNNArgument.source, current.tensor), (OneDNNArgument.destination, features)])],
                              after: parts.count))
            laneParts.append(parts)
        }

        /// Readies the counters for the next run; called while no lane runs.
        func prepareRun() {
            taken.store(0, ordering: .relaxed)
            finished.store(0, ordering: .relaxed)
        }

        /// Takes parts until none is left, running each with `lane`'s primitives once the parts it reads
        /// are finished. Both lanes call it in a run; a part that fails still counts as finished, so the
        /// other lane never waits for it, and the error is thrown once no part is left.
        func takeParts(lane: Int, engine: OneDNNEngine) throws(OneDNNError) {
            let parts = laneParts[lane]
            var failure: OneDNNError?
            while true {
                let index = taken.wrappingAdd(1, ordering: .relaxed).oldValue
                guard index < parts.count else { break }
                let part = parts[index]
                waitForFinished(part.after)
                if failure == nil {
                    do throws(OneDNNError) {
                        for step in part.steps { try step.run(on: engine) }
                        try engine.wait()
                    } catch {
                        failure = error
                    }
                }
                finished.wrappingAdd(1, ordering: .sequentiallyConsistent)
                // A lane that checked `finished` before this part counted has announced itself first (both
                // sequentially consistent): one of the two sees the other.
                if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                    partFinished.lock()
                    partFinished.broadcast()
                    partFinished.unlock()
                }
            }
            if let failure { throw failure }
        }

        /// Returns once `count` parts are finished. It spins for a few microseconds (the halves of a layer
        /// end about together), then sleeps: the part waited for may be on this very core (the scheduler
        /// put both lanes on one, measured: 4 ms turns each while the other core idled), and spinning
        /// would keep it from running, and keep the idle core from taking a lane over.
        private func waitForFinished(_ count: Int) {
            var spins = 0
            while finished.load(ordering: .acquiring) < count {
                spins += 1
                guard spins == Self.spinsBeforeSleeping else { continue }
                sleepers.wrappingAdd(1, ordering: .sequentiallyConsistent)
                partFinished.lock()
                while finished.load(ordering: .sequentiallyConsistent) < count { partFinished.wait() }
                partFinished.unlock()
                sleepers.wrappingSubtract(1, ordering: .sequentiallyConsistent)
                return
            }
        }

        /// Looks at `finished` this many times before sleeping: a few tens of microseconds.
        private static let spinsBeforeSleeping = 20_000
    }
}
