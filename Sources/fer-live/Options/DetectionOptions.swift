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
        guard scaleFactor > 1, scaleFactor <= 4 else { throw ValidationError("--scale-factor takes a factor in (1, 4]") }
        guard (0...1000).contains(minNeighbors) else { throw ValidationError("--min-neighbors takes 0...1000") }
        guard (1...100_000).contains(minFace), maxFace.map({ (1...100_000).contains($0) }) ?? true else {
            throw ValidationError("--min-face and --max-face take sides of 1...100000 pixels")
        }
    }

    var parameters: DetectionParameters {
        DetectionParameters(scaleFactor: scaleFactor, minNeighbors: minNeighbors, minSize: minFace, maxSize: maxFace)
    }

    @Option(help: ArgumentHelp("Eye cascade XML file for aligning faces (default: $FER_LIVE_EYE_CASCADE, else OpenCV's haarcascade_eye.xml from opencv-data).",
                               valueName: "file"))
    var eyeCascade: String?

    /// The eye finder on the eye cascade named or found; a missing one is an error naming what to install.
    func loadEyeFinder() throws -> EyeFinder {
        guard let path = eyeCascade ?? CascadeFiles.locateEyes() else {
            throw CommandFailure("no eye cascade found: install opencv-data (sudo apt-get install opencv-data) or pass --eye-cascade FILE")
        }
        return try EyeFinder(contentsOf: path)
    }

    /// The cascade named or found; a missing one is an error naming where it was looked for.
    func loadDetector() throws -> CascadeDetector {
        guard let path = cascade ?? CascadeFiles.locate() else {
            throw CommandFailure("no face cascade found: install opencv-data (sudo apt-get install opencv-data) or pass --cascade FILE")
        }
        return try CascadeDetector(contentsOf: path)
    }
}

/// How a stream (camera, replay) finds the faces it classifies.
struct FaceOptions: ParsableArguments {
    /// Where the classified square comes from.
    enum Crop: String, ExpressibleByArgument, CaseIterable {
        case face, center
    }

    @OptionGroup var detection: DetectionOptions

    /// The square(s) classified in each frame of a stream.
    @Option(help: "face: find the faces (cascade) and classify each; center: the frame's center square. Default face, or center with a warning when no cascade can be read.")
    var crop: Crop = .face

    @OptionGroup var framing: FramingOptions

    @Option(help: ArgumentHelp("Search frames wider than this downscaled to it (0: full size).", valueName: "pixels"))
    var searchWidth = 320

    @Option(help: "Most faces classified per frame (the largest first).")
    var maxFaces = 3

    @Option(help: ArgumentHelp("Live (camera, replay at its pace): while faces are in view, spread the whole-frame face search over this many frames, a part per frame, beside a search near the faces already seen, so no frame waits for a whole search; a new face shows within 2n-1 frames (while no face is tracked, every frame is searched whole). Lossless replay (--as-fast-as-possible) searches every frame whole.",
                               valueName: "n"))
    var searchFrames = FaceOptions.liveSearchFrames

    func validate() throws {
        guard (0...100_000).contains(searchWidth), (1...100).contains(maxFaces) else {
            throw ValidationError("--search-width takes 0...100000 and --max-faces 1...100")
        }
        guard (1...30).contains(searchFrames) else { throw ValidationError("--search-frames takes 1...30") }
    }

    /// Live, the whole-frame search is spread over this many frames (BENCHMARKS.md, "Replay and the
    /// window"): a part of it costs about a quarter of a whole search, and a new face shows within 7 frames.
    static let liveSearchFrames = 4

    /// Where a stream's faces come from: found and tracked faces (full searches on `threads` threads),
    /// or the center square when asked for or when no cascade can be read (with a warning saying why).
    /// Replay as fast as possible searches every frame whole, finding exactly what `detect
    /// --search-width` finds; live (camera, paced replay), the whole-frame search is spread over
    /// `searchFrames` frames while faces are in view.
    func locator(threads: Int, searchEveryFrame: Bool) -> (locator: FaceLocator, faceSlots: Int) {
        guard crop == .face else { return (CenterCropLocator(), 1) }
        do {
            let finder = FaceFinder(detector: try detection.loadDetector(), parameters: detection.parameters,
                                    searchWidth: searchWidth == 0 ? nil : searchWidth, threads: threads)
            let schedule: CascadeFaceLocator.Schedule = searchEveryFrame ? .everyFrame : .spread(frames: searchFrames)
            return (CascadeFaceLocator(finder: finder, aligner: framing.aligner(detection), maximumFaces: maxFaces, schedule: schedule), maxFaces)
        } catch {
            Terminal.error("warning: \(error); classifying the center square instead (--crop center)")
            return (CenterCropLocator(), 1)
        }
    }
}

/// How each found face is cut out for the network (camera, replay, classify, detect --crops).
struct FramingOptions: ParsableArguments {
    enum Framing: String, ExpressibleByArgument, CaseIterable {
        case aligned, box
    }

    @Option(help: "aligned: rotate and scale each face so its eyes sit where FER2013's faces have them (eye line level; the box's measured relation where no eyes are found); box: the cascade's square, grown by --margin. See README, \"Faces\".")
    var framing: Framing = FramingOptions.defaultFraming

    // Unconditional parsing takes "-0.1" as the value, not as an unknown flag: shrinking is documented.
    @Option(parsing: .unconditional, help: "With box framing, grow (or, negative, shrink) the cascade's square by this fraction of its side on every side.")
    var margin = FramingOptions.defaultMargin

    /// The defaults, chosen on the development people of the labelled real clips (BENCHMARKS.md, "Real
    /// faces, every emotion"): the cascade's square grown by a twentieth of its side on every side
    /// classified them best (0.761 of the labelled frames against 0.723 at 0.1 and 0.685 at 0), above all
    /// the crying and frightened faces, which a wider crop took for happy.
    static let defaultFraming = Framing.box
    static let defaultMargin = 0.05

    func validate() throws {
        guard margin >= -0.3, margin <= 1 else { throw ValidationError("--margin takes a fraction from -0.3 (shrink) to 1") }
    }

    /// How faces are cut out: `--margin`'s box, or aligned on the eyes (on the box's measured relation,
    /// with a warning, when no eye cascade can be read).
    func aligner(_ detection: DetectionOptions) -> FaceAligner {
        if framing == .box { return FaceAligner(framing: .box(margin: margin), eyeFinder: nil) }
        do { return FaceAligner(framing: .aligned, eyeFinder: try detection.loadEyeFinder()) } catch {
            Terminal.error("warning: \(error); faces are framed by their box alone")
            return FaceAligner(framing: .aligned, eyeFinder: nil)
        }
    }
}
