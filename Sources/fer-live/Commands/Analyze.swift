import ArgumentParser
import FERVision
import Foundation

/// `fer-live analyze`: many videos and frame directories, each to its own results, resumable.
struct Analyze: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Analyze many videos or frame directories, each to its own results; a rerun goes on where the last one stopped.",
        discussion: """
            Each input is a video file, a frame directory, a folder (walked for videos and frame directories at any \
            depth), or a .txt/.list file naming inputs one per line (relative to the list's folder; # starts a \
            comment). Every input is replayed headless, as fast as it goes, every frame classified (as `replay \
            --as-fast-as-possible`), and gets its own results in --out, named by its path inside the folder given \
            (or its file name): NAME.jsonl (one record per frame and face, as replay's --output, without latency) \
            and NAME.summary.json (each face's share of time per emotion); NAME.timeline.svg with --timeline and \
            NAME.annotated.mp4 with --annotate. Results are made in --out/.work and moved into place whole, so \
            none is ever half-written.

            --out/manifest.jsonl records each input's state (done or failed, the reason, its size, time and \
            SHA-256, its results). A rerun skips the inputs done and unchanged, redoes changed and failed ones, \
            and refuses a folder made with another model, options or defaults. A damaged input is recorded as failed and \
            the batch goes on; the exit status is 1 when any input failed, 130 after Ctrl-C (run the same \
            command again to go on).

            --jobs N analyzes N inputs at once (default: one per core), the cores split between them (memory: one \
            input per job; the same --threads gives the same bytes). \
            --shard I/N takes every N-th input from the I-th, so N machines or cluster tasks can share a batch \
            and one output folder (integrations/ray does that on a Ray cluster). Options after -- go to each \
            input's replay: faces (--crop, --min-face, ...), --smoothing, --flip, --start/--duration.

            Example: fer-live analyze videos/ --out results/
            """)

    @Argument(help: ArgumentHelp("Videos, frame directories, folders of them, or lists of them.", valueName: "input"))
    var inputs: [String]

    @Option(help: ArgumentHelp("Output folder: results, manifest.jsonl, settings.json.", valueName: "dir"))
    var out: String

    /// One job per core by default: a job's decoding and face search run on one thread, so two jobs of one
    /// thread analyzed 14% more video per second than one of two on a 2-core machine (BENCHMARKS.md).
    @Option(help: ArgumentHelp("Inputs analyzed at once, the cores split between them (default: one per core).", valueName: "n"))
    var jobs = min(256, ProcessInfo.processInfo.activeProcessorCount)

    @Option(help: ArgumentHelp("Inference threads per job (default: the cores / --jobs).", valueName: "n"))
    var threads: Int?

    @Option(help: ArgumentHelp("Take only part I of N of the inputs (1-based: 1/4 ... 4/4).", valueName: "I/N"))
    var shard: String?

    @Option(name: .long, help: ArgumentHelp("Model file (default: the installed model).", valueName: "path"))
    var model: String?

    @Flag(help: "Also draw each input's emotions over time (NAME.timeline.svg).")
    var timeline = false

    @Flag(help: "Also write each input as an annotated video (NAME.annotated.mp4: H.264, boxes and labels drawn).")
    var annotate = false

    @Flag(help: "Print the inputs this run would take (one per line: name, then path, tab-separated) and stop; --out is not touched.")
    var dryRun = false

    @Argument(parsing: .postTerminator, help: ArgumentHelp("Options for each input's replay, after --.", valueName: "replay-option"))
    var replayOptions: [String] = []

    func validate() throws {
        guard !inputs.isEmpty else { throw ValidationError("give videos, frame directories, folders or lists to analyze") }
        guard (1...256).contains(jobs) else { throw ValidationError("--jobs takes 1...256") }
        if let threads, !(1...256).contains(threads) { throw ValidationError("--threads takes 1...256") }
        if let shard, Self.shardParts(shard) == nil { throw ValidationError("--shard takes I/N with 1 <= I <= N (e.g. 2/8), not '\(shard)'") }
        let reserved = ["--output", "--summary", "--timeline", "--annotate", "--headless", "--threads", "--model", "--record", "--loop"]
        if let clash = replayOptions.first(where: { option in reserved.contains { option == $0 || option.hasPrefix($0 + "=") } }) {
            throw ValidationError("\(clash) after -- is analyze's to set (see its own options)")
        }
    }

    static func shardParts(_ text: String) -> (index: Int, count: Int)? {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).compactMap { Int($0) }
        guard parts.count == 2, parts[1] >= 1, parts[1] <= 1_000_000, (1...parts[1]).contains(parts[0]) else { return nil }
        return (parts[0], parts[1])
    }

    func run() throws {
        SignalStopper.shared.holdUntilStopIsSet()   // Ctrl-C from here on: finish cleanly, keep what is done
        try reportingFailures {
            guard let modelPath = model ?? DefaultModel.locate() else { throw CommandFailure(ModelOptions.noModelMessage) }
            guard FileManager.default.fileExists(atPath: modelPath) else { throw CommandFailure("\(modelPath): no such file") }
            var (all, missing) = try BatchInputs.expand(inputs, excluding: out)
            if let shard, let (index, count) = Self.shardParts(shard) {
                all = BatchInputs.shard(all, index: index, count: count)
                missing = missing.filter { Self.inShard($0.key, index, count) }
            }
            if dryRun {
                print((all + missing).map { "\($0.key)\t\($0.path)" }.joined(separator: "\n"), terminator: all.isEmpty && missing.isEmpty ? "" : "\n")
                return
            }
            let folder = try BatchFolder(path: out)
            var wanted: [BatchFolder.Output] = [.records, .summary]
            if timeline { wanted.append(.timeline) }
            if annotate { wanted.append(.annotatedVideo) }
            // The 8-bit ranges beside the model change every probability a little: a folder holds one kind.
            let ranges = Int8Calibration.sidecarPath(forModel: modelPath)
            let usesRanges = FileManager.default.fileExists(atPath: ranges) && !replayOptions.contains { $0 == "--precision=float" }
                && !zip(replayOptions, replayOptions.dropFirst()).contains { $0 == ("--precision", "float") }
            try folder.agree(on: .object([
                ("model_sha256", .string(try SHA256.hex(ofFile: modelPath))),
                ("int8_ranges_sha256", usesRanges ? .string(try SHA256.hex(ofFile: ranges)) : .null),
                ("outputs", .array(wanted.map { .string($0.suffix) })),
                ("replay_options", .array(replayOptions.map { .string($0) })),
                ("replay_defaults", Self.resultDefaults),
            ]))
            let manifest = try BatchManifest(folder: out)
            for input in missing where manifest.latest[input.key]?.state != .failed {
                try manifest.append(.init(key: input.key, path: input.path, state: .failed, fingerprint: nil, sha256: nil, outputs: [],
                                          reason: "\(input.path): no such file", seconds: nil))
            }
            let scheduler = BatchScheduler(folder: folder, manifest: manifest, outputs: wanted, jobs: jobs,
                                           threads: threads ?? max(1, ProcessInfo.processInfo.activeProcessorCount / jobs),
                                           replayArguments: ["--model", modelPath] + replayOptions)
            SignalStopper.shared.stop = { scheduler.stop() }
            let outcome = try scheduler.run(all)
            let failedNow = outcome.failed + missing.count
            var line = "analyzed \(all.count + missing.count) inputs into \(out): \(outcome.done) done now, \(outcome.skipped) done before"
            if failedNow > 0 { line += ", \(failedNow) failed (reasons in \(manifest.path))" }
            if outcome.busy > 0 { line += ", \(outcome.busy) in progress in another process" }
            if outcome.stopped { line += "; stopped: \(outcome.left) left, run the same command again to go on" }
            FileHandle.standardError.write(Data((line + "\n").utf8))
            for (key, reason) in outcome.failures.prefix(5) { Terminal.error("\(key): failed: \(reason)") }
            if outcome.stopped { throw ExitCode(130) }
            if failedNow > 0 { throw ExitCode.failure }
        }
    }

    /// The defaults behind every result that the options above do not name: a folder begun before one of
    /// them changed (the box margin went from 0.1 to 0.05) is refused, not finished with the new one.
    private static let resultDefaults = JSONValue.object([
        ("framing", .string(FramingOptions.defaultFraming.rawValue)),
        ("margin", .number(FramingOptions.defaultMargin)),
        ("smoothing", .float(RunOptions.defaultSmoothing)),
        ("hysteresis", .float(RunOptions.defaultHysteresis)),
        ("flip", .bool(RunOptions.defaultFlip)),
    ])

    private static func inShard(_ key: String, _ index: Int, _ count: Int) -> Bool {
        // A missing list entry has no place in the key order of the present ones; it goes by its name.
        Int(key.utf8.reduce(UInt32(2_166_136_261)) { ($0 ^ UInt32($1)) &* 16_777_619 } % UInt32(count)) == index - 1
    }
}
