import ArgumentParser
import FERVision
import Foundation

/// `fer-live replay`: a recorded frame directory through the pipeline, as if it were live.
struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay video files or recorded frame directories through the pipeline, in the window or headless.",
        discussion: """
            Each input is a video file (mp4, mkv, webm, avi, mov: whatever Debian's FFmpeg libraries decode) \
            or a frame directory (PNG, JPEG, PGM, PPM in natural order, frame2 before frame10). Several play \
            one after another, each record naming its input. A video's frames carry their presentation time in \
            seconds from the stream's start, and every decoded frame is classified; --start and --duration \
            (seconds) play part of it. A directory is paced by its recorded timestamps.csv, else by --fps. \
            Replay runs in real time; --as-fast-as-possible measures throughput. Every frame is classified \
            (lossless, in order; --batch lets inference batch frames that queue up). Faces are found and \
            tracked as by the camera (the whole-frame search spread over --search-frames frames while faces \
            are in view); --as-fast-as-possible searches every frame whole, so each frame's faces are \
            exactly what detect finds (see the Faces options; --crop center classifies the center square \
            instead). The \
            window shows each frame with a box per face, and per face the emotion and a bar per class; keys: q \
            or Esc quits, space pauses, s saves a screenshot, r starts or stops recording. --output writes one \
            record per face: JSON Lines (frame, file, timestamp, faces, face, box, label, confidence, \
            probabilities, latency_ms; a frame without a face gets one record with faces 0 and null face \
            fields) or CSV for a .csv name. Headless on a terminal, a progress bar shows how far a video is. \
            The end-of-run summary shows per-stage latency (p50/p90/p99/max), the slowest frame and the stage \
            it spent longest in, fps, dropped frames and label changes per minute. Ctrl-C stops cleanly: outputs stay valid and complete. A damaged video is \
            replayed up to the damage, then named in one line (exit 1), with every output complete.

            Example: fer-live replay interview.mp4 --headless --output interview.jsonl --latency-report latency.json
            """)

    @Argument(help: ArgumentHelp("Video files or frame directories, played in order.", valueName: "input"))
    var inputs: [String]

    @OptionGroup var modelOptions: ClassifierOptions
    @OptionGroup var runOptions: RunOptions
    @OptionGroup(title: "Faces") var faces: FaceOptions

    @Option(help: "Frames per second of a frame directory without timestamps.csv.")
    var fps = 30.0

    @Option(help: ArgumentHelp("Start each video this many seconds in.", valueName: "seconds"))
    var start = 0.0

    @Option(help: ArgumentHelp("Play this many seconds of each video (default: to its end).", valueName: "seconds"))
    var duration: Double?

    @Flag(help: "No pacing: as fast as the pipeline goes.")
    var asFastAsPossible = false

    @Option(help: "Frames inference may classify in one pass.")
    var batch = 1

    @Flag(help: "Start over at the end (until Ctrl-C or q).")
    var loop = false

    /// Set by `analyze` for the replays it starts: a replay stopped before its end exits 130 (so it is
    /// never taken for a whole one), and one whose analyze has gone ends too.
    @Flag(help: .hidden)
    var analyzeWorker = false

    func validate() throws {
        guard !inputs.isEmpty else { throw ValidationError("give a video file or a frame directory") }
        guard fps > 0, fps <= 1000 else { throw ValidationError("--fps takes a rate in (0, 1000]") }
        guard (1...1024).contains(batch) else { throw ValidationError("--batch takes 1...1024") }
        guard start >= 0 else { throw ValidationError("--start takes seconds, 0 or more") }
        if let problem = StreamTime.refusal(start) { throw ValidationError("--start: \(problem)") }
        if let duration {
            guard duration > 0 else { throw ValidationError("--duration takes a positive number of seconds") }
            if let problem = StreamTime.refusal(duration) { throw ValidationError("--duration: \(problem)") }
        }
        if loop, inputs.count > 1 { throw ValidationError("--loop plays one input again and again: give one") }
    }

    func run() throws {
        SignalStopper.shared.holdUntilStopIsSet()   // a Ctrl-C from here on stops the run cleanly
        try reportingFailures {
            // A missing input is found before the run starts; each is opened only when its turn comes.
            if let missing = inputs.first(where: { !FileManager.default.fileExists(atPath: $0) }) {
                throw CommandFailure("\(missing): no such file")
            }
            let sequence = try SequentialSource(inputs: inputs, open: openSource)
            var frameSize = (width: 640, height: 480)
            if let video = sequence.playing as? VideoFileSource {
                frameSize = (video.width, video.height)
            } else if let directory = sequence.playing as? FrameDirectorySource,
                      let first = try? ImageDecoder.decode(contentsOf: "\(directory.name)/\(directory.files[0])") {
                frameSize = (first.width, first.height)
            }
            let source: FrameSource = runOptions.headless && inputs.contains(where: { !Self.isDirectory($0) })
                ? VideoProgress(sequence) : sequence
            BLAS.setThreadCount(runOptions.threads)   // before the network is made: an 8-bit one compiles for them
            let classifier = try modelOptions.classifier(flipAveraging: runOptions.flip, live: true)
            if analyzeWorker { Self.endWhenParentEnds() }
            let stoppedEarly = try LiveRun(options: runOptions, source: source, classifier: classifier, locator: faces.locator(threads: runOptions.threads, searchEveryFrame: asFastAsPossible),
                        policy: .lossless(batch: batch), pacing: asFastAsPossible ? .asFastAsPossible : .realTime, frameSize: frameSize,
                        heading: { frames, stopped in "\(stopped ? "stopped" : "replayed") \(frames) frames of \(sequence.name)" }).runOnMainThread()
            if analyzeWorker, stoppedEarly { throw ExitCode(130) }
        }
    }

    /// An analyze worker whose analyze process has gone (killed, or its machine's task cancelled) would
    /// work on for nobody, holding a core: it ends within a second instead. Its outputs are in a scratch
    /// folder that only its analyze would have moved into place.
    private static func endWhenParentEnds() {
        let parent = getppid()
        let watcher = Thread {
            while getppid() == parent { sleep(1) }
            _exit(137)
        }
        watcher.name = "fer-live parent watch"
        watcher.start()
    }

    private static func isDirectory(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    /// A video file or a frame directory, by what the path is.
    private func openSource(_ path: String) throws -> FrameSource {
        if Self.isDirectory(path) {
            guard start == 0, duration == nil else { throw CommandFailure("\(path): --start and --duration take video files, not frame directories") }
            return try FrameDirectorySource(directory: path, loops: loop, fps: fps, color: runOptions.wantsColor)
        }
        guard !loop else { throw CommandFailure("\(path): --loop takes a frame directory") }
        // validate() has checked both, so the conversions cannot fail.
        return try VideoFileSource(path: path, start: StreamTime(seconds: start) ?? .zero, length: duration.flatMap { StreamTime(seconds: $0) },
                                   threads: 2, color: runOptions.wantsColor)
    }
}

/// Shows how far the playing video is, on a terminal (headless runs): seconds done and left.
private final class VideoProgress: FrameSource {
    private let source: SequentialSource
    private var bar: ProgressBar?
    private var barSource: ObjectIdentifier?
    private let started = Date()

    init(_ source: SequentialSource) { self.source = source }

    var name: String { source.name }
    var skipped: SkippedFrames { source.skipped }
    func pause() throws { try source.pause() }

    func nextFrame() throws -> Frame? {
        let frame = try source.nextFrame()
        guard let frame, let video = source.playing as? VideoFileSource, let total = video.length?.seconds ?? video.duration.map({ $0 - video.start.seconds }) else {
            bar?.finish()
            bar = nil
            return frame
        }
        if barSource != ObjectIdentifier(video) {
            bar?.finish()
            bar = ProgressBar(label: (video.path as NSString).lastPathComponent, terminalOnly: true)
            barSource = ObjectIdentifier(video)
        }
        let done = max(0, frame.timestamp - video.start.seconds), elapsed = Date().timeIntervalSince(started)
        let speed = elapsed > 0 ? done / elapsed : 0
        bar?.update(fraction: done / max(total, 1e-9), remaining: speed > 0 ? (total - done) / speed : nil,
                    detail: String(format: "%.1f of %.1f s  frame %d", done, total, frame.sequence))
        return frame
    }
}
