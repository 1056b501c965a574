/// One video frame as it enters the pipeline.
public struct Frame: Sendable {
    /// Position in the stream, from 0.
    public let sequence: Int
    /// Capture time in seconds on the source's clock (recorded time for replays, the buffer timestamp for
    /// cameras). Differences between frames are what matter.
    public let timestamp: Double
    /// The pixels the pipeline reads: 8-bit gray (the luma). Sources deliver gray; an RGB image is
    /// converted wherever it is read.
    public let image: ByteImage
    /// The picture's colour, when the source was asked for it (something shows or records the picture)
    /// and has it; nil for gray. It never changes a result: detection and the network read `image` only.
    public let chroma: ChromaPlanes?
    /// Where the frame came from: a file name, or a device.
    public let sourceName: String

    public init(sequence: Int, timestamp: Double, image: ByteImage, chroma: ChromaPlanes? = nil, sourceName: String) {
        self.sequence = sequence
        self.timestamp = timestamp
        self.image = image
        self.chroma = chroma
        self.sourceName = sourceName
    }
}

/// A stream of frames: a frame directory, a camera, or a test double.
///
/// Thread safety: a source is used from one thread at a time (the pipeline's capture queue).
public protocol FrameSource: AnyObject {
    /// A name for messages and summaries.
    var name: String { get }

    /// The next frame, or nil at the end of the stream. Frames that cannot be read are skipped by the
    /// source and reported through `skipped`; only a failure that ends the stream throws.
    func nextFrame() throws -> Frame?

    /// Frames the source could not read so far: how many, and the first ones with their reasons.
    var skipped: SkippedFrames { get }

    /// The run paused: a camera stops capturing, and its next frame is one taken after the pause.
    /// Called on the capture thread; a replay keeps its place (the default does nothing).
    func pause() throws
}

extension FrameSource {
    public func pause() throws {}
}
