import ArgumentParser
import FERVision
import Foundation

/// `fer-live replay`: a recorded frame directory through the pipeline, as if it were live.
struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay a recorded frame directory through the pipeline, in the window or headless.",
        discussion: """
            Frames (PNG, JPEG, PGM, PPM) play in natural order (frame2 before frame10), paced by the \
            recorded timestamps.csv if there is one, else by --fps; --as-fast-as-possible measures throughput. \
            Every frame is classified (lossless, in order; --batch lets inference batch frames that queue up). \
            Faces are found in every frame and tracked (see the Faces options; --crop center classifies the \
            center square instead). The window shows each frame with a box per face, and per face the emotion \
            and a bar per class; keys: q or Esc quits, space pauses, s saves a screenshot, r starts or stops \
            recording. --output writes one record per face: JSON Lines (frame, file, timestamp, faces, face, \
            box, label, confidence, probabilities, latency_ms; a frame without a face gets one record with \
            faces 0 and null face fields) or CSV for a .csv name. The end-of-run summary shows per-stage latency (p50/p90/p99/max), fps and \
            dropped frames. Ctrl-C stops cleanly: outputs stay valid and complete.

            Example: fer-live replay recordings/session1 --headless --output session1.jsonl --latency-report latency.json
            """)

    @Argument(help: ArgumentHelp("The frame directory.", valueName: "dir"))
    var directory: String

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var runOptions: RunOptions
    @OptionGroup(title: "Faces") var faces: FaceOptions

    @Option(help: "Frames per second when the directory has no timestamps.csv.")
    var fps = 30.0

    @Flag(help: "No pacing: as fast as the pipeline goes.")
    var asFastAsPossible = false

    @Option(help: "Frames inference may classify in one pass.")
    var batch = 1

    @Flag(help: "Start over at the end (until Ctrl-C or q).")
    var loop = false

    func validate() throws {
        guard fps > 0, fps <= 1000 else { throw ValidationError("--fps takes a rate in (0, 1000]") }
        guard (1...1024).contains(batch) else { throw ValidationError("--batch takes 1...1024") }
    }

    func run() throws {
        SignalStopper.shared.holdUntilStopIsSet()   // a Ctrl-C from here on stops the run cleanly
        try reportingFailures {
            let source = try FrameDirectorySource(directory: directory, loops: loop, fps: fps)
            let first = try? ImageDecoder.decode(contentsOf: "\(directory)/\(source.files[0])")
            let classifier = EmotionClassifier(model: try modelOptions.load(), flipAveraging: runOptions.flip)
            try LiveRun(options: runOptions, source: source, classifier: classifier, locator: faces.locator(threads: runOptions.threads), policy: .lossless(batch: batch),
                        pacing: asFastAsPossible ? .asFastAsPossible : .realTime,
                        frameSize: (first?.width ?? 640, first?.height ?? 480),
                        heading: { frames, stopped in "\(stopped ? "stopped" : "replayed") \(frames) frames of \(directory)" }).run()
        }
    }
}
