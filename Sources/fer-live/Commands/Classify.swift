import ArgumentParser
import Foundation
import FERVision

/// `fer-live classify IMAGE...`: the emotion in each still image.
struct Classify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Classify the facial expression in still images (PNG, JPEG, PGM/PPM).",
        discussion: """
            Each image's center square is scaled to the model's input size and classified. Prints the top \
            emotion with its confidence and every class's probability, or with --json one JSON object per \
            line: {"file", "label", "confidence", "probabilities": {class: probability}}.
            An image that cannot be read is reported on stderr and skipped; the others are still classified, \
            and the exit code is 1.

            Example: fer-live classify --json face1.png face2.jpg
            """)

    @OptionGroup var modelOptions: ModelOptions

    @Flag(help: "Print one JSON object per image per line (JSON Lines).")
    var json = false

    @Option(help: ArgumentHelp("Images classified in one batched pass.", valueName: "n"))
    var batch = 32

    @Option(help: ArgumentHelp("Threads for inference.", valueName: "n"))
    var threads = ProcessInfo.processInfo.activeProcessorCount

    @Argument(help: ArgumentHelp("Image files.", valueName: "image"))
    var images: [String]

    func validate() throws {
        guard !images.isEmpty else { throw ValidationError("give at least one image") }
        guard batch > 0 else { throw ValidationError("--batch must be positive") }
        guard threads > 0 else { throw ValidationError("--threads must be positive") }
    }

    func run() throws {
        var failed = false
        try reportingFailures {
            BLAS.setThreadCount(threads)
            let classifier = EmotionClassifier(model: try modelOptions.load())
            for start in stride(from: 0, to: images.count, by: batch) {
                let paths = images[start..<min(images.count, start + batch)]
                var decoded: [(path: String, image: ByteImage)] = []
                for path in paths {
                    do { decoded.append((path, try ImageDecoder.decode(contentsOf: path))) } catch {
                        Terminal.error("\(error)")
                        failed = true
                    }
                }
                let predictions = classifier.classify(decoded.map(\.image))
                for (item, prediction) in zip(decoded, predictions) {
                    print(json ? Self.jsonLine(file: item.path, prediction) : Self.textLine(file: item.path, prediction))
                }
            }
        }
        if failed { throw ExitCode.failure }
    }

    static func jsonLine(file: String, _ prediction: EmotionPrediction) -> String {
        JSONValue.object([
            ("file", .string(file)),
            ("label", .string(prediction.label)),
            ("confidence", .float(prediction.confidence)),
            ("probabilities", .object(zip(prediction.classNames, prediction.probabilities).map { ($0, .float($1)) })),
        ]).serialized
    }

    static func textLine(file: String, _ prediction: EmotionPrediction) -> String {
        let all = zip(prediction.classNames, prediction.probabilities)
            .map { "\($0) \(percent($1))" }.joined(separator: "  ")
        return "\(file): \(prediction.label) \(percent(prediction.confidence))   [\(all)]"
    }

    static func percent(_ value: Float) -> String {
        String(format: "%.1f%%", Double(value) * 100)
    }
}
