import ArgumentParser
import Dispatch
import FERVision
import Foundation

/// `fer-live bench`: model-only inference latency and throughput.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure model-only inference latency per image (p50/p90/p99) and GFLOP/s.",
        discussion: """
            Times the ResNet9 forward pass (no decoding or preprocessing) on random inputs of the model's \
            shape. Latency is per image: a batch's time divided by its size. GFLOP/s is effective: the direct \
            convolution's 2 FLOPs per multiply-add (1.70 GFLOP per 48x48 image) over the median latency, \
            although Winograd convolutions do fewer. Without an installed model, a model of the same shape \
            with random weights is built in memory (the speed is the same). As everywhere, a model with its \
            8-bit ranges (see `fer-live quantize`) runs in 8 bits unless --precision float is given.

            Example: fer-live bench --batch 1 --threads 1 --iterations 100 --json
            """)

    @OptionGroup var modelOptions: ModelOptions

    @OptionGroup var precisionOptions: PrecisionOptions

    @Option(name: .customLong("batch"), help: "Images per pass (default 1; 64 with --training).")
    var batchOption: Int?

    var batch: Int { batchOption ?? (training ? 64 : 1) }

    @Option(help: "Threads the network's kernels use (OpenBLAS runs single-threaded inside each).")
    var threads = 1

    @Option(help: "Timed forward passes.")
    var iterations = 50

    @Option(help: "Untimed forward passes first (caches, thread start-up).")
    var warmup = 5

    @Option(help: ArgumentHelp("Start a pass every this many milliseconds, as a camera feeds the network (0: back to back).",
                               discussion: "Live, the network rests between frames; at 33 (30 fps) this times what a frame costs then."))
    var interval = 0.0

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    @Flag(help: "Time training steps instead (forward and backward with batch statistics, clipping, Adam): images/s.")
    var training = false

    func validate() throws {
        guard (1...4096).contains(batch), (1...256).contains(threads), (1...1_000_000).contains(iterations), (0...1_000_000).contains(warmup),
              (0...10_000).contains(interval) else {
            throw ValidationError("--batch takes 1...4096, --threads 1...256, --iterations 1...1000000, --warmup 0...1000000 and --interval 0...10000")
        }
    }

    func run() throws {
        try reportingFailures {
            BLAS.setThreadCount(threads)
            if training { return try benchTraining() }
            let (network, shape, modelName) = try makeNetwork()
            let side = shape.inputSize, channels = shape.architecture.inputChannels
            var random = SplitMix64(seed: 1)
            let input = Tensor(shape: [batch, channels, side, side],
                               scalars: (0..<batch * channels * side * side).map { _ in random.uniform(-2, 2) })
            var perImage: [Double] = []
            var due = DispatchTime.now().uptimeNanoseconds
            for iteration in 0..<(warmup + iterations) {
                if interval > 0 {
                    due += UInt64(interval * 1e6)
                    let now = DispatchTime.now().uptimeNanoseconds
                    if due > now { usleep(UInt32((due - now) / 1000)) } else { due = now }
                }
                let start = DispatchTime.now().uptimeNanoseconds
                _ = network.logits(for: input)
                let elapsed = DispatchTime.now().uptimeNanoseconds - start
                if iteration >= warmup { perImage.append(Double(elapsed) / 1e6 / Double(batch)) }
            }
            let result = BenchResult(model: modelName, shape: shape, precision: network.precision, batch: batch, threads: threads,
                                     interval: interval, perImageMilliseconds: perImage)
            print(json ? result.json.serialized : result.table)
        }
    }

    /// Training throughput of the recipe's step on random data: `fer-live train` runs exactly this per batch.
    private func benchTraining() throws {
        let architecture = ResNet9Architecture(inputChannels: 1, classCount: 7)
        let network = TrainableResNet9(stateDict: .initialized(architecture, seed: 1), architecture: architecture)
        var optimizer = Adam(parameterCount: network.parameters.count, learningRate: 0.005, weightDecay: 9e-6)
        var random = SplitMix64(seed: 2)
        let input = Tensor(shape: [batch, 1, 48, 48], scalars: (0..<batch * 2304).map { _ in random.uniform(-2, 2) })
        let labels = (0..<batch).map { _ in Int(random.next() % 7) }
        var seconds: [Double] = []
        for iteration in 0..<(warmup + iterations) {
            let start = DispatchTime.now().uptimeNanoseconds
            network.step(inputs: input, labels: labels)
            network.clipGradients(limit: 0.1)
            optimizer.update(&network.parameters, gradients: network.gradients)
            if iteration >= warmup { seconds.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9) }
        }
        let median = seconds.sorted()[seconds.count / 2]
        let result = JSONValue.object([
            ("mode", .string("training")), ("architecture", .string("ResNet9(1, 7)")), ("batch", .integer(batch)),
            ("threads", .integer(threads)), ("iterations", .integer(iterations)),
            ("step_p50_s", .number(median)), ("images_per_s", .number(Double(batch) / median)),
            ("blas", .string("OpenBLAS \(BLAS.coreName)")),
        ])
        print(json ? result.serialized : String(format: "training step, batch %d, %d threads: median %.3f s per step, %.1f images/s (%d timed steps)",
                                                batch, threads, median, Double(batch) / median, iterations))
    }

    private func makeNetwork() throws -> (any EmotionNetwork, ResNet9, String) {
        if let path = modelOptions.resolvedPath {
            let loaded = try modelOptions.load()
            let float = loaded.makeNetwork()
            return (try precisionOptions.network(for: loaded, at: path) ?? float, float, path)
        }
        guard precisionOptions.precision != .int8 else {
            throw CommandFailure("--precision int8 needs a model and its ranges: " + ModelOptions.noModelMessage)
        }
        Terminal.note("no default model installed; benchmarking a ResNet9(1, 7) built in memory with random weights (same shape, same speed)")
        let architecture = ResNet9Architecture(inputChannels: 1, classCount: 7)
        let network = ResNet9(stateDict: .initialized(architecture, seed: 1), architecture: architecture)
        return (network, network, "in-memory")
    }
}

/// Latency statistics of one benchmark run.
struct BenchResult {
    let model: String
    /// The float network of the same weights: the shape and the work per image.
    let shape: ResNet9
    /// What ran: "float" or "int8".
    let precision: String
    let batch: Int
    let threads: Int
    /// Milliseconds from one pass's start to the next (0: back to back).
    let interval: Double
    let perImageMilliseconds: [Double]

    /// The nearest-rank percentile of the per-image latencies.
    func percentile(_ p: Double) -> Double {
        let sorted = perImageMilliseconds.sorted()
        return sorted[max(0, min(sorted.count - 1, Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1))]
    }

    /// What ran the convolutions.
    var engine: String { precision == "int8" ? "oneDNN int8" : "OpenBLAS \(BLAS.coreName)" }

    var gigaflops: Double { 2 * Double(shape.multiplyAddsPerImage) / (percentile(50) / 1000) / 1e9 }
    var imagesPerSecond: Double { 1000 / percentile(50) }

    var json: JSONValue {
        let a = shape.architecture
        return .object([
            ("model", .string(model)),
            ("architecture", .string("ResNet9(\(a.inputChannels), \(a.classCount))")),
            ("widths", .array(a.widths.map { .integer($0) })),
            ("input", .array([a.inputChannels, shape.inputSize, shape.inputSize].map { .integer($0) })),
            ("precision", .string(precision)),
            ("batch", .integer(batch)),
            ("threads", .integer(threads)),
            ("interval_ms", .number(interval)),
            ("iterations", .integer(perImageMilliseconds.count)),
            ("p50_ms", .number(percentile(50))),
            ("p90_ms", .number(percentile(90))),
            ("p99_ms", .number(percentile(99))),
            ("min_ms", .number(perImageMilliseconds.min()!)),
            ("images_per_s", .number(imagesPerSecond)),
            ("gflops", .number(gigaflops)),
            ("gflop_per_image", .number(2 * Double(shape.multiplyAddsPerImage) / 1e9)),
            ("blas", .string("OpenBLAS \(BLAS.coreName)")),
            ("engine", .string(engine)),
        ])
    }

    var table: String {
        let a = shape.architecture
        func ms(_ value: Double) -> String { String(format: "%.2f ms", value) }
        return """
            model       \(model): ResNet9(\(a.inputChannels), \(a.classCount)), widths \(a.widths.map(String.init).joined(separator: "/")), \
            \(String(format: "%.2f", 2 * Double(shape.multiplyAddsPerImage) / 1e9)) GFLOP per image
            setup       batch \(batch), \(threads) thread\(threads == 1 ? "" : "s"), \(perImageMilliseconds.count) iterations\
            \(interval > 0 ? String(format: " every %g ms", interval) : " back to back"), \(engine)
            per image   p50 \(ms(percentile(50)))   p90 \(ms(percentile(90)))   p99 \(ms(percentile(99)))   min \(ms(perImageMilliseconds.min()!))
            throughput  \(String(format: "%.1f", imagesPerSecond)) images/s   \(String(format: "%.1f", gigaflops)) GFLOP/s
            """
    }
}
