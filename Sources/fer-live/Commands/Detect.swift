import ArgumentParser
import FERVision
import Foundation

/// `fer-live detect`: the faces in still images, with OpenCV's cascades.
struct Detect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Find the faces in images with a cascade (OpenCV's frontal face cascade by default).",
        discussion: """
            Prints each image's face boxes (x, y, width, height in pixels) and how many raw hits agreed on \
            each. The search is OpenCV's detectMultiScale: same scales, resampling and grouping, so the boxes \
            match OpenCV's for the same cascade and settings.

            Example: fer-live detect group.jpg --json
            """)

    @Argument(help: ArgumentHelp("Images (PNG, JPEG, PGM, PPM).", valueName: "image"))
    var images: [String]

    @OptionGroup var detection: DetectionOptions

    @Flag(help: "One JSON object per image: file, faces (box, neighbors), detect_ms.")
    var json = false

    func run() throws {
        try reportingFailures {
            let detector = try detection.loadDetector()
            var failed = false
            for path in images {
                let image: ByteImage
                do { image = try ImageDecoder.decode(contentsOf: path) } catch {
                    Terminal.error("\(error)")
                    failed = true
                    continue
                }
                let start = FramePipeline.monotonicSeconds()
                let faces = detector.detect(image, parameters: detection.parameters)
                let milliseconds = (FramePipeline.monotonicSeconds() - start) * 1000
                if json {
                    let list = faces.map { face in
                        JSONValue.object([("box", .array([face.box.x, face.box.y, face.box.width, face.box.height].map { .integer($0) })),
                                          ("neighbors", .integer(face.neighbors))])
                    }
                    print(JSONValue.object([("file", .string(path)), ("faces", .array(list)),
                                            ("detect_ms", .number((milliseconds * 1000).rounded() / 1000))]).serialized)
                } else {
                    let boxes = faces.map { "[\($0.box.x), \($0.box.y), \($0.box.width)x\($0.box.height)]" }.joined(separator: " ")
                    print("\(path): \(faces.count) face\(faces.count == 1 ? "" : "s") \(boxes)")
                }
            }
            if failed { throw ExitCode.failure }
        }
    }
}
