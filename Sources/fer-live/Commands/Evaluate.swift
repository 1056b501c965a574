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
            one object: accuracy, macro_f1, per_class (name -> precision, recall, f1, support) and \
            confusion (rows = true class). --confusion writes the matrix as SVG (or CSV for a .csv name).

            Example: fer-live evaluate --model models/resnet9-fer2013.safetensors --data ../shared/data/fer2013/test
            """)

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: ArgumentHelp("The labelled split to evaluate on.", valueName: "dir"))
    var data: String

    @Flag(help: "Print one JSON object instead of tables.")
    var json = false

    @Option(help: ArgumentHelp("Also write the confusion matrix here (.svg, or .csv).", valueName: "file"))
    var confusion: String?

    @Option(help: "Images per batch.")
    var batch = 64

    @Option(help: "Threads.")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    func validate() throws {
        guard batch > 0, threads > 0 else { throw ValidationError("--batch and --threads must be positive") }
    }

    func run() throws {
        try reportingFailures {
            BLAS.setThreadCount(threads)
            let classifier = EmotionClassifier(model: try modelOptions.load())
            let dataset = try ImageFolder.load(data, size: classifier.preprocessor.inputSize, threads: threads)
            if !dataset.skipped.isEmpty {
                Terminal.error("warning: skipped \(dataset.skipped.count) unreadable image(s), first: \(dataset.skipped[0])")
            }
            let mapping = try dataset.classNames.map { name -> Int in
                guard let index = classifier.classNames.firstIndex(of: name) else {
                    throw CommandFailure("\(data): class '\(name)' is not one of the model's classes (\(classifier.classNames.joined(separator: ", ")))")
                }
                return index
            }
            let predictions = classifier.classify(dataset, batch: batch).map(\.topIndex)
            let report = ClassificationReport(classNames: classifier.classNames, labels: dataset.labels.map { mapping[$0] },
                                              predictions: predictions)
            print(json ? report.json.serialized : report.table)
            if let confusion {
                let text = confusion.lowercased().hasSuffix(".csv") ? report.confusionCSV : report.confusionSVG
                do { try Data(text.utf8).write(to: URL(fileURLWithPath: confusion), options: .atomic) } catch {
                    throw CommandFailure("\(confusion): cannot write")
                }
            }
        }
    }
}
