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
            match OpenCV's for the same cascade and settings. With --eyes, each face's eye centers too \
            (OpenCV's eye cascade inside the face), the points fer-live aligns faces on; an image no larger \
            than a face crop (64x64, FER2013's faces are 48x48) is taken as one face, as classify does.

            Example: fer-live detect group.jpg --json
            """)

    @Argument(help: ArgumentHelp("Images (PNG, JPEG, PGM, PPM).", valueName: "image"))
    var images: [String]

    @OptionGroup var detection: DetectionOptions

    @Option(help: ArgumentHelp("Search images wider than this downscaled to it, as camera and replay do (0, the default: full size, OpenCV's boxes).", valueName: "pixels"))
    var searchWidth = 0

    @Flag(help: "One JSON object per image: file, faces (box, neighbors, and eyes with --eyes), detect_ms.")
    var json = false

    @Flag(help: "Also find each face's eyes: [x, y] of the left and right eye centers in the image, or none.")
    var eyes = false

    @Option(help: ArgumentHelp("Save each face as the network sees it (48x48 gray, framed as --framing says, as camera, replay and classify frame faces) to DIR/<image>-face<N>.png.", valueName: "dir"))
    var crops: String?

    @OptionGroup var framing: FramingOptions

    func validate() throws {
        guard (0...100_000).contains(searchWidth) else { throw ValidationError("--search-width takes 0...100000") }
    }

    func run() throws {
        try reportingFailures {
            let detector = try detection.loadDetector()
            let finder = FaceFinder(detector: detector, parameters: detection.parameters, searchWidth: searchWidth)
            let eyeFinder = eyes ? try detection.loadEyeFinder() : nil
            let aligner = framing.aligner(detection)
            if let crops {
                do { try FileManager.default.createDirectory(atPath: crops, withIntermediateDirectories: true) } catch {
                    throw CommandFailure("\(crops): cannot create the folder")
                }
            }
            var failed = false
            for path in images {
                guard let image = decodedImage(at: path) else {
                    failed = true
                    continue
                }
                let start = MonotonicClock.seconds()
                let faces: [FaceDetection] = FaceImage.isFaceCrop(image)
                    ? [FaceDetection(box: PixelRect(x: 0, y: 0, width: image.width, height: image.height), neighbors: 0)]
                    : searchWidth > 0 ? finder.detections(in: image) : detector.detect(image, parameters: detection.parameters)
                let found = faces.map { (face: $0, eyes: eyeFinder?.eyes(in: image, face: $0.box)) }
                let milliseconds = (MonotonicClock.seconds() - start) * 1000
                if let crops {
                    for (n, item) in found.enumerated() {
                        try saveCrop(image, aligner.crop(face: item.face.box, in: image).crop, to: "\(crops)/\(URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent)-face\(n).png")
                    }
                }
                if json {
                    let list = found.map { item in
                        var fields: [(String, JSONValue)] = [
                            ("box", .array([item.face.box.x, item.face.box.y, item.face.box.width, item.face.box.height].map { .integer($0) })),
                            ("neighbors", .integer(item.face.neighbors))]
                        if eyes { fields.append(("eyes", item.eyes.map(Self.json) ?? .null)) }
                        return JSONValue.object(fields)
                    }
                    print(JSONValue.object([("file", .string(path)), ("faces", .array(list)),
                                            ("detect_ms", .number((milliseconds * 1000).rounded() / 1000))]).serialized)
                } else {
                    let boxes = found.map { item in
                        let box = "[\(item.face.box.x), \(item.face.box.y), \(item.face.box.width)x\(item.face.box.height)]"
                        guard eyes else { return box }
                        guard let pair = item.eyes else { return box + " eyes: none" }
                        return box + String(format: " eyes: (%.1f, %.1f) (%.1f, %.1f)", pair.left.x, pair.left.y, pair.right.x, pair.right.y)
                    }.joined(separator: " ")
                    print("\(path): \(faces.count) face\(faces.count == 1 ? "" : "s") \(boxes)")
                }
            }
            if failed { throw ExitCode.failure }
        }
    }
}

extension Detect {
    /// The 48x48 gray crop the network would see, as a PNG.
    private func saveCrop(_ image: ByteImage, _ crop: FaceCrop, to path: String) throws {
        let preprocessor = Preprocessor(inputSize: 48, channels: 1, mean: [0], std: [1])
        guard let gray = preprocessor.resizedGray(image, crop: crop) else { return }
        let crop = ByteImage(width: 48, height: 48, pixels: gray.map { UInt8(max(0, min(255, ($0 * 255).rounded()))) })
        do { try ImageEncoder.png(crop).write(to: URL(fileURLWithPath: path)) } catch {
            throw CommandFailure("\(path): cannot write the crop")
        }
    }

    /// [[x, y], [x, y]]: the left then the right eye center, to 0.01 pixel.
    static func json(_ eyes: EyePair) -> JSONValue {
        .array([eyes.left, eyes.right].map { point in .array([point.x, point.y].map { .number(($0 * 100).rounded() / 100) }) })
    }
}
