/// Records delivered frames losslessly into a video file: FFV1 in Matroska, the gray the pipeline sees
/// with the frames' colour when they have it (full-range YUV 4:2:0, the gray as its Y plane), each stamped
/// with its capture time (to the millisecond). Replaying the file gives the same gray pixels and so the
/// same results as the run; a few megabytes a minute where PNG frames take hundreds. `finish` (end of
/// stream, Ctrl-C) writes the container's index.
public final class VideoRecorder: FrameSink {
    private let encoder: VideoEncoder

    /// Checks now that `path` can be written.
    public init(path: String) throws(DatasetError) {
        encoder = try VideoEncoder(path: path, kind: .lossless)
    }

    public var path: String { encoder.path }

    public func deliver(_ result: FrameResult) throws {
        try encoder.append(result.frame.image, chroma: result.frame.chroma, timestamp: result.frame.timestamp, label: "frame \(result.frame.sequence)")
    }

    public func finish() throws { try encoder.finish() }
}
