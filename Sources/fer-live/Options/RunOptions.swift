import ArgumentParser
import FERVision
import Foundation

/// Options every run through the pipeline shares (camera and replay): window, outputs, smoothing.
struct RunOptions: ParsableArguments {
    @Flag(help: "No window: results go to --output and the summary only (runs without a display).")
    var headless = false

    @Option(help: ArgumentHelp("Per-frame results: .jsonl (JSON Lines) or .csv.", valueName: "file"))
    var output: String?

    @Flag(help: "Leave latency_ms out of --output: the same input then always gives the same file.")
    var withoutLatency = false

    @Option(help: ArgumentHelp("Write the latency report (JSON) here.", valueName: "file"))
    var latencyReport: String?

    @Option(help: ArgumentHelp("Draw latency per frame and its histogram (SVG) here.", valueName: "file"))
    var latencyPlot: String?

    @Option(help: ArgumentHelp("Write a video to share (H.264 in MP4) of the frames as the window shows them: boxes, labels, bars. Works headless.", valueName: "file"))
    var annotate: String?

    @Option(help: ArgumentHelp("Draw each face's emotions over time (SVG) here: a line per emotion and a strip of the shown label.", valueName: "file"))
    var timeline: String?

    @Option(help: ArgumentHelp("Write each face's summary (JSON) here: share of time per emotion, mean confidence, first and last seen.", valueName: "file"))
    var summary: String?

    @Option(help: ArgumentHelp("Smooth each face's probabilities over frames: the newest frame's weight, 0 < a <= 1 (1: off).", valueName: "a"))
    var smoothing: Float = RunOptions.defaultSmoothing

    @Option(help: ArgumentHelp("Change a face's shown label only when another class leads it by more than this probability (0: off).", valueName: "p"))
    var hysteresis: Float = RunOptions.defaultHysteresis

    @Flag(inversion: .prefixedNo, help: "Average each face's logits with its mirror image's (test-time flip averaging: twice the inference work).")
    var flip = RunOptions.defaultFlip

    /// The defaults, chosen on the real clips (BENCHMARKS.md, "Steady labels").
    /// Per frame: a moving average with the newest frame weighted 0.2 and a label that changes only on a
    /// lead of 0.1 cut label switches 4x with the label right more often; flip averaging did not pay for
    /// its doubled inference there.
    static let defaultSmoothing: Float = 0.2, defaultHysteresis: Float = 0.1, defaultFlip = false

    /// The label steadiness these options ask for.
    var smoother: LabelSmoother { LabelSmoother(alpha: smoothing, margin: hysteresis) }

    @Option(help: ArgumentHelp("Record the frames from the start, losslessly and in colour (the gray the network reads is kept exactly): into a video for a .mkv name (FFV1, a few MB a minute), else a directory of PNGs + timestamps.csv. In the window, r toggles recording.",
                               valueName: "dir"))
    var record: String?

    @Option(help: ArgumentHelp("Save the window to this PNG after --frames frames, then stop.", valueName: "file"))
    var screenshot: String?

    @Option(help: "Stop after this many frames (with --screenshot: save the window at that frame; default 1 there).")
    var frames: Int?

    @Flag(help: "Show, record and annotate the picture in gray, as the network sees it (default: in colour).")
    var gray = false

    /// Whether sources deliver each frame's colour: when a window, a recording or an annotated video shows
    /// the picture, unless --gray. A headless run without them skips the colour (results never depend on it).
    var wantsColor: Bool { !gray && (!headless || record != nil || annotate != nil) }

    @Option(help: ArgumentHelp("TrueType font for the window's text (default: DejaVu Sans from fonts-dejavu-core, or $FER_LIVE_FONT).",
                               valueName: "file"))
    var font: String?

    @Option(help: "Threads for inference.")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    func validate() throws {
        guard (1...256).contains(threads) else { throw ValidationError("--threads takes 1...256") }
        if let frames, !(1...100_000_000).contains(frames) { throw ValidationError("--frames takes 1...100000000") }
        guard smoothing > 0, smoothing <= 1 else { throw ValidationError("--smoothing takes a weight in (0, 1]") }
        guard hysteresis >= 0, hysteresis < 1 else { throw ValidationError("--hysteresis takes a probability in [0, 1)") }
        if screenshot != nil, headless { throw ValidationError("--screenshot needs the window: drop --headless") }
    }
}
