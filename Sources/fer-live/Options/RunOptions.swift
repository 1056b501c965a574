import ArgumentParser
import Foundation

/// Options every run through the pipeline shares (camera and replay): window, outputs, smoothing.
struct RunOptions: ParsableArguments {
    @Flag(help: "No window: results go to --output and the summary only (runs without a display).")
    var headless = false

    @Option(help: ArgumentHelp("Per-frame results: .jsonl (JSON Lines) or .csv.", valueName: "file"))
    var output: String?

    @Option(help: ArgumentHelp("Write the latency report (JSON) here.", valueName: "file"))
    var latencyReport: String?

    @Option(help: ArgumentHelp("Draw latency per frame and its histogram (SVG) here.", valueName: "file"))
    var latencyPlot: String?

    @Option(help: ArgumentHelp("Smooth probabilities over frames: weight of the newest frame, 0 < a <= 1 (off by default).", valueName: "a"))
    var smoothing: Float?

    @Option(help: ArgumentHelp("Record the frames (PNG + timestamps.csv) into this directory from the start; in the window, r toggles recording.",
                               valueName: "dir"))
    var record: String?

    @Option(help: ArgumentHelp("Save the window to this PNG after --frames frames, then stop.", valueName: "file"))
    var screenshot: String?

    @Option(help: "Frames to show before --screenshot is taken.")
    var frames = 1

    @Option(help: ArgumentHelp("TrueType font for the window's text (default: DejaVu Sans from fonts-dejavu-core, or $FER_LIVE_FONT).",
                               valueName: "file"))
    var font: String?

    @Option(help: "Threads for inference.")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    func validate() throws {
        guard threads > 0 else { throw ValidationError("--threads must be positive") }
        guard frames > 0 else { throw ValidationError("--frames must be positive") }
        if let smoothing, !(smoothing > 0 && smoothing <= 1) { throw ValidationError("--smoothing takes a weight in (0, 1]") }
        if screenshot != nil, headless { throw ValidationError("--screenshot needs the window: drop --headless") }
    }
}
