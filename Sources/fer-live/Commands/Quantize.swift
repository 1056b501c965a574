import ArgumentParser
import FERVision
import Foundation

/// `fer-live quantize`: measures the activation ranges 8-bit inference (`--precision int8`) needs.
struct Quantize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Prepare a model for 8-bit inference: measure its activation ranges on training images.",
        discussion: """
            `--precision int8` runs the network's convolutions in 8-bit integers (oneDNN), about twice as \
            fast as float on a CPU without VNNI. Each layer's output is mapped to 0-255 over a range measured \
            here: the float network's largest values on training images (the --quantile of the images' \
            peaks, so a rare outlier does not cost every other face its precision). The ranges go to a small \
            JSON file beside the model (NAME.int8.json), tied to the model file by its SHA-256. Use training \
            images, not the split you report; `fer-live evaluate --precision int8` shows what 8 bits cost.

            Example: fer-live quantize --data ../shared/data/fer2013/train
            """)

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: ArgumentHelp("Labelled training split (one folder per class) to measure on.", valueName: "dir"))
    var data: String

    @Option(help: "Images measured, spread evenly over the split.")
    var images = 2000

    @Option(help: "Which of the images' peaks each range is (1: the largest).")
    var quantile = 0.999

    @Option(help: ArgumentHelp("Where to write the ranges (default: beside the model, NAME.int8.json).", valueName: "path"))
    var out: String?

    @Option(help: "Threads.")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    func validate() throws {
        guard images >= 1 else { throw ValidationError("--images must be at least 1") }
        guard (0.5...1).contains(quantile) else { throw ValidationError("--quantile takes 0.5...1") }
        guard (1...256).contains(threads) else { throw ValidationError("--threads must be 1...256") }
    }

    func run() throws {
        try reportingFailures {
            BLAS.setThreadCount(threads)
            let model = try modelOptions.load()
            guard let modelPath = modelOptions.resolvedPath else { throw CommandFailure(ModelOptions.noModelMessage) }
            let digest = try SHA256.hex(ofFile: modelPath)
            let split = try LabelledSplit(path: data, classNames: model.metadata.classNames, size: model.metadata.inputSize, threads: threads)
            let total = min(images, split.images.count)
            let bar = ProgressBar(label: "measuring")
            let calibration = Int8Calibration.measure(model: model, on: split.images, count: total, quantile: quantile, modelDigest: digest) {
                bar.update(fraction: Double($0) / Double(total), remaining: nil, detail: "\($0)/\(total) images")
            }
            bar.finish()
            let path = out ?? Int8Calibration.sidecarPath(forModel: modelPath)
            try calibration.write(to: path)
            print("ranges per block: " + calibration.blockOutputRanges.map { String(format: "%.3f", $0) }.joined(separator: " "))
            print("wrote \(path)")
        }
    }
}
