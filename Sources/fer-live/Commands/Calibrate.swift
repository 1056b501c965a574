import ArgumentParser
import FERVision
import Foundation

/// `fer-live calibrate`: fits a model's temperatures on labelled validation data and stores them in it.
struct Calibrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make a model's confidences honest: fit its temperature on validation data and store it in the model.",
        discussion: """
            Temperature scaling divides the logits by one number T, fitted to minimize the negative \
            log-likelihood of DIR's labels, so that among faces shown with 70% confidence about 70% are \
            right. Predictions do not change, only their confidences. Two temperatures are fitted and \
            stored: one for plain inference, one for test-time flip averaging. Use a validation split, \
            never the test split you report. `fer-live evaluate` shows the calibration error before and after.

            Example: fer-live calibrate --model models/resnet9-fer2013.safetensors --data ../shared/data/fer2013/val
            """)

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: ArgumentHelp("Labelled validation split (one folder per class).", valueName: "dir"))
    var data: String

    @Option(help: ArgumentHelp("Where to write the calibrated model (default: replace the model file).", valueName: "path"))
    var out: String?

    @Option(help: "Threads.")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    func validate() throws {
        guard (1...256).contains(threads) else { throw ValidationError("--threads must be 1...256") }
    }

    func run() throws {
        try reportingFailures {
            BLAS.setThreadCount(threads)
            let model = try modelOptions.load()
            guard let path = out ?? modelOptions.resolvedPath else { throw CommandFailure(ModelOptions.noModelMessage) }
            let dataset = try LabelledSplit(path: data, classNames: model.metadata.classNames, threads: threads)
            var (calibrated, fits) = model.calibrated(on: dataset.images, labels: dataset.labels)
            for fit in fits { print(Self.describe(fit, images: dataset.labels.count)) }
            calibrated = calibrated.withProvenance("calibrated_on", URL(fileURLWithPath: data).standardized.pathComponents.suffix(2).joined(separator: "/"))
            try ModelLoader.save(calibrated, to: path)
            print("wrote \(path)")
        }
    }
}

extension Calibrate {
    static func describe(_ fit: LoadedModel.TemperatureFit, images: Int) -> String {
        String(format: "%@: temperature %.4f (NLL %.4f -> %.4f on %d images)", fit.flipAveraging ? "with flip averaging" : "plain",
               fit.temperature, fit.nllBefore, fit.nllAfter, images)
    }
}

/// A labelled ImageFolder split with its labels mapped to a model's class indices by name.
struct LabelledSplit {
    let images: ImageFolder
    /// The model's index of each image's class.
    let labels: [Int]

    init(path: String, classNames: [String], size: Int = 48, threads: Int) throws {
        images = try ImageFolder.load(path, size: size, threads: threads)
        if !images.skipped.isEmpty {
            Terminal.error("warning: skipped \(images.skipped.count) unreadable image(s), first: \(images.skipped[0])")
        }
        let mapping = try images.classNames.map { name -> Int in
            guard let index = classNames.firstIndex(of: name) else {
                throw CommandFailure("\(path): class '\(name)' is not one of the model's classes (\(classNames.joined(separator: ", ")))")
            }
            return index
        }
        labels = images.labels.map { mapping[$0] }
    }
}
