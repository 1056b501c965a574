/// Several inputs played one after another as one stream (`replay a.mp4 b.mp4 recording/`): frames are
/// numbered through, each keeps its own source's name and timestamp (a new input starts again near 0;
/// the pipeline's pacing starts over with it).
///
/// Each input is opened when its turn comes and released at its end, so a run over hundreds of files
/// holds one demuxer, one decoder's threads and one descriptor at a time.
///
/// Thread safety: one thread at a time, as every source.
public final class SequentialSource: FrameSource {
    public let name: String
    /// The inputs, as given.
    public let inputs: [String]
    private let open: (String) throws -> FrameSource
    private var current = 0, sequence = 0
    private var source: FrameSource?
    private var skippedBefore = SkippedFrames()

    /// Opens the first input now (so its errors and its frame size come before the run starts); the
    /// others are opened by `open` when their turn comes.
    public init(inputs: [String], open: @escaping (String) throws -> FrameSource) throws {
        precondition(!inputs.isEmpty)
        self.inputs = inputs
        self.open = open
        source = try open(inputs[0])
        name = inputs.count == 1 ? source!.name : "\(source!.name) and \(inputs.count - 1) more"
    }

    public var skipped: SkippedFrames {
        var all = skippedBefore
        if let source { all.append(contentsOf: source.skipped) }
        return all
    }

    public func pause() throws { try source?.pause() }

    /// The next frame of the current input, or of the next one at its end. An input that fails to open or
    /// fails mid-stream ends the whole stream with its error (the frames before it were delivered).
    public func nextFrame() throws -> Frame? {
        while current < inputs.count {
            if source == nil { source = try open(inputs[current]) }
            if let frame = try source!.nextFrame() {
                defer { sequence += 1 }
                return Frame(sequence: sequence, timestamp: frame.timestamp, image: frame.image, chroma: frame.chroma,
                             sourceName: frame.sourceName)
            }
            skippedBefore.append(contentsOf: source!.skipped)
            source = nil   // its files and threads go now, not at the end of the run
            current += 1
        }
        return nil
    }

    /// The input playing now.
    public var playing: FrameSource? { source }
}
