import ArgumentParser
import Foundation
import FERVision

/// `fer-live classify IMAGE...`: the emotion of each face in still images.
struct Classify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Classify the facial expressions in still images (PNG, JPEG, PGM/PPM).",
        discussion: """
            A picture no larger than a face crop (64x64; FER2013's faces are 48x48) is classified whole. \
            A larger one is searched for faces (the cascade, at full size), and each face is classified, \
            framed as camera and replay frame it (--framing); a picture without a face says so and gets no \
            label. --crop center classifies the center square of every picture instead. Each face is \
            classified with its mirror image averaged in (--no-flip for one pass), and its confidence is \
            calibrated (the model's temperature, see `fer-live calibrate`).

            Prints per face its number, box (x, y, width, height), top emotion with its confidence and \
            every class's probability; with --json one JSON object per face per line: {"file", "faces", \
            "face", "box", "label", "confidence", "probabilities": {class: probability}}, and for a picture \
            without a face one object with faces 0 and null face, box and label.
            An image that cannot be read is reported on stderr and skipped; the others are still classified, \
            and the exit code is 1.

            Example: fer-live classify --json group-photo.jpg face2.png
            """)

    @OptionGroup var modelOptions: ClassifierOptions

    @Flag(help: "Print one JSON object per face per line (JSON Lines).")
    var json = false

    @Option(help: "face: find the faces in pictures larger than a face crop; center: classify every picture's center square.")
    var crop: FaceOptions.Crop = .face

    @OptionGroup(title: "Faces") var detection: DetectionOptions
    @OptionGroup var framing: FramingOptions

    @Option(help: "Most faces classified per picture (the largest first).")
    var maxFaces = 20

    @Flag(inversion: .prefixedNo, help: "Average each face's logits with its mirror image's (test-time flip averaging).")
    var flip = true

    @Option(help: ArgumentHelp("Images classified in one batched pass.", valueName: "n"))
    var batch = 32

    @Option(help: ArgumentHelp("Threads for inference.", valueName: "n"))
    var threads = ProcessInfo.processInfo.activeProcessorCount

    @Argument(help: ArgumentHelp("Image files.", valueName: "image"))
    var images: [String]

    func validate() throws {
        guard !images.isEmpty else { throw ValidationError("give at least one image") }
        guard (1...4096).contains(batch) else { throw ValidationError("--batch must be 1...4096") }
        guard (1...256).contains(threads) else { throw ValidationError("--threads must be 1...256") }
        guard (1...1000).contains(maxFaces) else { throw ValidationError("--max-faces takes 1...1000") }
    }

    /// One face to classify: where it is in which picture.
    private struct Face {
        let file: String, image: ByteImage, index: Int, count: Int, box: PixelRect, crop: FaceCrop
    }

    func run() throws {
        var failed = false
        try reportingFailures {
            BLAS.setThreadCount(threads)
            let classifier = try modelOptions.classifier(flipAveraging: flip)
            var finder: (FaceFinder, FaceAligner)?
            if crop == .face {
                let detector = try detection.loadDetector()
                finder = (FaceFinder(detector: detector, parameters: detection.parameters, searchWidth: nil, threads: threads),
                          framing.aligner(detection))
            }
            var waiting: [Face] = []
            func flush() {
                let predictions = classifier.classify(waiting.map(\.image), crops: waiting.map(\.crop))
                for (face, prediction) in zip(waiting, predictions) { print(line(face, prediction)) }
                waiting.removeAll()
            }
            for path in images {
                guard let image = decodedImage(at: path) else {
                    failed = true
                    continue
                }
                let faces = locate(in: image, with: finder)
                if faces.isEmpty {
                    flush()
                    print(noFaceLine(path))
                }
                for (index, face) in faces.enumerated() {
                    waiting.append(Face(file: path, image: image, index: index, count: faces.count, box: face.box, crop: face.crop))
                }
                if waiting.count >= batch { flush() }
            }
            flush()
        }
        if failed { throw ExitCode.failure }
    }

    /// The faces of one picture: the whole center square for a face-sized picture or --crop center,
    /// else the found faces, largest first.
    private func locate(in image: ByteImage, with finder: (FaceFinder, FaceAligner)?) -> [(box: PixelRect, crop: FaceCrop)] {
        guard let (finder, aligner) = finder, !FaceImage.isFaceCrop(image) else {
            let square = PixelRect.centerSquare(width: image.width, height: image.height)
            return [(square, FaceCrop(square))]
        }
        return finder.faces(in: image).prefix(maxFaces).map { box in
            (box.squareCrop(margin: 0, frameWidth: image.width, frameHeight: image.height), aligner.crop(face: box, in: image).crop)
        }
    }

    private func line(_ face: Face, _ prediction: EmotionPrediction) -> String {
        let box = face.box
        if json {
            return JSONValue.object([
                ("file", .string(face.file)), ("faces", .integer(face.count)), ("face", .integer(face.index)),
                ("box", .array([box.x, box.y, box.width, box.height].map { .integer($0) })),
                ("label", .string(prediction.label)),
                ("confidence", .float(prediction.confidence)),
                ("probabilities", .object(zip(prediction.classNames, prediction.probabilities).map { ($0, .float($1)) })),
            ]).serialized
        }
        let all = zip(prediction.classNames, prediction.probabilities).map { "\($0) \(Self.percent($1))" }.joined(separator: "  ")
        let whole = box == PixelRect.centerSquare(width: face.image.width, height: face.image.height) && face.count == 1
        let which = whole ? "" : " face \(face.index) [\(box.x), \(box.y), \(box.width)x\(box.height)]:"
        return "\(face.file):\(which) \(prediction.label) \(Self.percent(prediction.confidence))   [\(all)]"
    }

    private func noFaceLine(_ file: String) -> String {
        guard json else { return "\(file): no face found" }
        return JSONValue.object([("file", .string(file)), ("faces", .integer(0)), ("face", .null), ("box", .null),
                                 ("label", .null), ("confidence", .null), ("probabilities", .null)]).serialized
    }

    static func percent(_ value: Float) -> String {
        String(format: "%.1f%%", Double(value) * 100)
    }
}
