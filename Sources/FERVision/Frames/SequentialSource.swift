/// Several sources played one after another as one stream (`replay a.mp4 b.mp4 recording/`): frames are
/// numbered through, each keeps its own source's name and timestamp (a new input starts again near 0;
/// the pipeline's pacing starts over with it).
///
/// Thread safety: one thread at a time, as every source.
public final class SequentialSource: FrameSource {
    public let name: String
    private let sources: [FrameSource]
    private var current = 0, sequence = 0

    public init(_ sources: [FrameSource]) {
        precondition(!sources.isEmpty)
        self.sources = sources
        name = sources.count == 1 ? sources[0].name : "\(sources[0].name) and \(sources.count - 1) more"
    }

    public var skipped: [ImageError] { sources.flatMap(\.skipped) }

    /// The next frame of the current source, or of the next one at its end. A source that fails ends the
    /// whole stream with its error (the frames before it were delivered).
    public func nextFrame() throws -> Frame? {
        while current < sources.count {
            if let frame = try sources[current].nextFrame() {
                defer { sequence += 1 }
                return Frame(sequence: sequence, timestamp: frame.timestamp, image: frame.image, sourceName: frame.sourceName)
            }
            current += 1
        }
        return nil
    }

    /// The source playing now.
    public var playing: FrameSource? { current < sources.count ? sources[current] : nil }
}
