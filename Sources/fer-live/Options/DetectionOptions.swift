import ArgumentParser
import FERVision

/// The face search's settings, shared by every command that finds faces.
struct DetectionOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Cascade XML file (default: $FER_LIVE_CASCADE, else OpenCV's haarcascade_frontalface_default.xml from opencv-data).",
                               valueName: "file"))
    var cascade: String?

    @Option(help: "Each search scale is this much larger than the last.")
    var scaleFactor = 1.1

    @Option(help: "Hits that must agree on a face (more: fewer false faces, more missed ones).")
    var minNeighbors = 5

    @Option(help: "Smallest face side searched, in pixels.")
    var minFace = 40

    @Option(help: "Largest face side searched, in pixels (default: the frame).")
    var maxFace: Int?

    func validate() throws {
        guard scaleFactor > 1 else { throw ValidationError("--scale-factor must be above 1") }
        guard minNeighbors >= 0, minFace > 0 else { throw ValidationError("--min-neighbors must be >= 0 and --min-face positive") }
    }

    var parameters: DetectionParameters {
        DetectionParameters(scaleFactor: scaleFactor, minNeighbors: minNeighbors, minSize: minFace, maxSize: maxFace)
    }

    /// The cascade named or found; a missing one is an error naming where it was looked for.
    func loadDetector() throws -> CascadeDetector {
        guard let path = cascade ?? CascadeLocator.locate() else {
            throw CommandFailure("no face cascade found: install opencv-data (sudo apt-get install opencv-data) or pass --cascade FILE")
        }
        return try CascadeDetector(contentsOf: path)
    }
}
