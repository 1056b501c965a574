import ArgumentParser
import FERVision
import Foundation

/// `fer-live evaluate`: how well a model does on a labelled ImageFolder split.
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure accuracy, macro F1, per-class precision/recall/F1 and the confusion matrix.",
        discussion: """
            DIR is one split of an ImageFolder dataset (one folder per class; folders 0-6 are FER2013's \
            labels). Each class is matched to the model's class of the same name. With --json, prints \
            one object: accuracy, macro_f1, per_class (name -> precision, recall, f1, support), \
            confusion (rows = true class), and calibration: ece (expected calibration error, 15 bins of the \
            top class's confidence) and nll, with the model's temperature, and ece_uncalibrated and \
            nll_uncalibrated at temperature 1. --confusion writes the matrix as SVG (or CSV for a .csv name); \
            --reliability draws the reliability diagram (SVG). Each image is classified with its mirror \
            image averaged in (--no-flip for one pass), as classify does.

            Example: fer-live evaluate --model models/resnet9-fer2013.safetensors --data ../shared/data/fer2013/test
            """)

    @OptionGroup var modelOptions: ClassifierOptions

    @Option(help: ArgumentHelp("The labelled split to evaluate on.", valueName: "dir"))
    var data: String

    @Flag(help: "Print one JSON object instead of tables.")
    var json = false

    @Option(help: ArgumentHelp("Also write the confusion matrix here (.svg, or .csv).", valueName: "file"))
    var confusion: String?

    @Option(help: ArgumentHelp("Also write the reliability diagram here (SVG).", valueName: "file"))
    var reliability: String?

    @Flag(inversion: .prefixedNo, help: "Average each image's logits with its mirror image's (test-time flip averaging).")
    var flip = true

    @Option(help: "Images per batch.")
    var batch = 64

    @Option(help: "Threads.")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    func validate() throws {
        guard (1...4096).contains(batch), (1...256).contains(threads) else { throw ValidationError("--batch takes 1...4096 and --threads 1...256") }
    }

    func run() throws {
        try reportingFailures {
            BLAS.setThreadCount(threads)
            let classifier = try modelOptions.classifier(flipAveraging: flip)
            let split = try LabelledSplit(path: data, classNames: classifier.classNames, size: classifier.preprocessor.inputSize, threads: threads)
            let classes = classifier.classNames.count
            let logits = classifier.logits(split.images, batch: batch)
            let probabilities = softmaxRows(logits.map { $0 / classifier.temperature }, columns: classes)
            let calibrated = ReliabilityReport(probabilities: probabilities, labels: split.labels, classes: classes)
            let raw = ReliabilityReport(probabilities: softmaxRows(logits, columns: classes), labels: split.labels, classes: classes)
            let predictions = stride(from: 0, to: probabilities.count, by: classes).map { (row: Int) -> Int in
                EmotionPrediction(classNames: classifier.classNames, probabilities: Array(probabilities[row..<row + classes])).topIndex
            }
            let report = ClassificationReport(classNames: classifier.classNames, labels: split.labels, predictions: predictions)
            if json {
                guard case .object(var fields) = report.json else { preconditionFailure("a report is an object") }
                fields += [("ece", .number(calibrated.expectedCalibrationError)), ("nll", .number(calibrated.negativeLogLikelihood)),
                           ("temperature", .number(Double(classifier.temperature))),
                           ("ece_uncalibrated", .number(raw.expectedCalibrationError)), ("nll_uncalibrated", .number(raw.negativeLogLikelihood)),
                           ("flip_averaging", .bool(flip)), ("precision", .string(classifier.network.precision))]
                print(JSONValue.object(fields).serialized)
            } else {
                print(report.table)
                print("\nprecision: \(classifier.network.precision)")
                print(String(format: "calibration (temperature %.4f%@): ECE %.4f, NLL %.4f; at temperature 1: ECE %.4f, NLL %.4f",
                             classifier.temperature, flip ? ", flip averaging" : "", calibrated.expectedCalibrationError,
                             calibrated.negativeLogLikelihood, raw.expectedCalibrationError, raw.negativeLogLikelihood))
            }
            if let reliability {
                let title = "Reliability on \(URL(fileURLWithPath: data).lastPathComponent) (temperature \(String(format: "%.3f", classifier.temperature)))"
                do { try Data(calibrated.svg(title: title).utf8).write(to: URL(fileURLWithPath: reliability), options: .atomic) } catch {
                    throw CommandFailure("\(reliability): cannot write")
                }
            }
            if let confusion {
                let text = confusion.lowercased().hasSuffix(".csv") ? report.confusionCSV : report.confusionSVG
                do { try Data(text.utf8).write(to: URL(fileURLWithPath: confusion), options: .atomic) } catch {
                    throw CommandFailure("\(confusion): cannot write")
                }
            }
        }
    }
}
