import ArgumentParser
import Dispatch
import FERVision
import Foundation

/// `fer-live replay`: a recorded frame directory through the pipeline, as if it were live.
struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay a recorded frame directory through the pipeline, with per-frame results and latency.",
        discussion: """
            Frames (PNG, JPEG, PGM, PPM) play in natural order (frame2 before frame10), paced by the \
            recorded timestamps.csv if there is one, else by --fps; --as-fast-as-possible measures throughput. \
            Every frame is classified (lossless, in order; --batch lets inference batch frames that queue up). \
            --output writes one record per frame: JSON Lines (frame, file, timestamp, box, label, confidence, \
            probabilities, latency_ms) or CSV for a .csv name. The end-of-run summary shows per-stage latency \
            (p50/p90/p99/max), fps and dropped frames. Ctrl-C stops cleanly: outputs stay valid and complete.

            Example: fer-live replay recordings/session1 --headless --output session1.jsonl --latency-report latency.json
            """)

    @Argument(help: ArgumentHelp("The frame directory.", valueName: "dir"))
    var directory: String

    @OptionGroup var modelOptions: ModelOptions

    @Flag(help: "Run without a window (the window arrives with `fer-live camera`; replay is headless for now).")
    var headless = false

    @Option(help: ArgumentHelp("Per-frame results: .jsonl (JSON Lines) or .csv.", valueName: "file"))
    var output: String?

    @Option(help: ArgumentHelp("Write the latency report (JSON) here.", valueName: "file"))
    var latencyReport: String?

    @Option(help: ArgumentHelp("Draw latency per frame and its histogram (SVG) here.", valueName: "file"))
    var latencyPlot: String?

    @Option(help: "Frames per second when the directory has no timestamps.csv.")
    var fps = 30.0

    @Flag(help: "No pacing: as fast as the pipeline goes.")
    var asFastAsPossible = false

    @Option(help: "Frames inference may classify in one pass.")
    var batch = 1

    @Flag(help: "Start over at the end (until Ctrl-C).")
    var loop = false

    @Option(help: ArgumentHelp("Smooth probabilities over frames: weight of the newest frame, 0 < a <= 1 (off by default).", valueName: "a"))
    var smoothing: Float?

    @Option(help: ArgumentHelp("Also record the frames (PNG + timestamps.csv) into this directory.", valueName: "dir"))
    var record: String?

    @Option(help: "Threads for inference.")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    func validate() throws {
        guard fps > 0, batch > 0, threads > 0 else { throw ValidationError("--fps, --batch and --threads must be positive") }
        if let smoothing, !(smoothing > 0 && smoothing <= 1) { throw ValidationError("--smoothing takes a weight in (0, 1]") }
    }

    func run() throws {
        try reportingFailures {
            BLAS.setThreadCount(threads)
            let source = try FrameDirectorySource(directory: directory, loops: loop, fps: fps)
            // Every output is opened before the first frame, so a bad path fails now, not after an hour.
            var sinks: [FrameSink] = []
            if let output { sinks.append(try ResultWriter(path: output)) }
            if let record { sinks.append(try FrameRecorder(directory: record)) }
            for path in [latencyReport, latencyPlot].compactMap({ $0 }) {
                guard FileManager.default.createFile(atPath: path, contents: nil) else { throw CommandFailure("\(path): cannot be written") }
            }
            let classifier = EmotionClassifier(model: try modelOptions.load())
            if !headless { Terminal.note("no window yet (it comes with `fer-live camera`): running headless") }

            let pipeline = FramePipeline(source: source, classifier: classifier, sinks: sinks, policy: .lossless(batch: batch),
                                         pacing: asFastAsPossible ? .asFastAsPossible : .realTime, smoothing: smoothing)
            let stopper = SignalStopper { pipeline.stop() }
            defer { stopper.cancel() }
            let summary = try pipeline.run()

            for error in summary.skipped.prefix(5) { Terminal.error("warning: skipped \(error)") }
            if summary.skipped.count > 5 { Terminal.error("warning: skipped \(summary.skipped.count) unreadable frames in all") }
            if let latencyReport {
                try writeText(summary.latency.report.serialized + "\n", to: latencyReport)
            }
            if let latencyPlot { try writeText(summary.latency.plotSVG, to: latencyPlot) }
            let heading = summary.stoppedEarly ? "stopped" : "replayed"
            FileHandle.standardError.write(Data("""
                \(heading) \(summary.latency.frames) frames of \(directory) (\(summary.skipped.count) unreadable)
                \(summary.latency.table)

                """.utf8))
        }
    }

    private func writeText(_ text: String, to path: String) throws {
        do { try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw CommandFailure("\(path): cannot write")
        }
    }
}

/// Turns SIGINT and SIGTERM into a call of `stop` (on a Dispatch queue, not in signal context), so a
/// run ends cleanly with its outputs flushed.
final class SignalStopper {
    private let sources: [DispatchSourceSignal]

    init(_ stop: @escaping () -> Void) {
        sources = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler(handler: stop)
            source.resume()
            return source
        }
    }

    func cancel() {
        sources.forEach { $0.cancel() }
        [SIGINT, SIGTERM].forEach { signal($0, SIG_DFL) }
    }
}
