import FERVision

/// `--annotate`: every delivered frame drawn as the window draws it (a box per face, each face's label and
/// a bar per class, the HUD) into memory, and encoded into a video to share (H.264 in MP4 where Debian's
/// FFmpeg has it). Needs no display: it works headless.
public final class AnnotatedVideoWriter: FrameSink {
    private let encoder: VideoEncoder
    private let classCount: Int, faceSlots: Int
    private let fontPath: String?
    private var canvas: SoftwareCanvas?
    private var layout: OverlayLayout?
    private var previous: Double?

    /// Checks now that `path` can be written. `fontPath` nil draws the overlay without text.
    public init(path: String, classCount: Int, faceSlots: Int, fontPath: String?) throws(DatasetError) {
        encoder = try VideoEncoder(path: path, kind: .shareable)
        self.classCount = classCount
        self.faceSlots = faceSlots
        self.fontPath = fontPath
    }

    public func deliver(_ result: FrameResult) throws {
        if layout == nil {
            // A video keeps one size: the first frame's layout (frames of another size are scaled into it).
            let first = OverlayLayout(frameWidth: result.frame.image.width, frameHeight: result.frame.image.height,
                                      classCount: classCount, faceSlots: faceSlots)
            layout = first
            canvas = SoftwareCanvas(width: first.canvasWidth, height: first.canvasHeight, fontPath: fontPath)
        }
        guard let layout, let canvas else { return }
        var hud = HUDState()
        // The stream's own rate between frames (a video's time, not the machine's).
        if let previous, result.frame.timestamp > previous { hud.framesPerSecond = 1 / (result.frame.timestamp - previous) }
        previous = result.frame.timestamp
        // No "capture to screen" latency: nothing is shown on a screen here.
        OverlayRenderer(layout: layout).draw(result, hud: hud, on: canvas)
        try encoder.append(canvas.image, timestamp: result.frame.timestamp, label: "frame \(result.frame.sequence)")
    }

    public func finish() throws { try encoder.finish() }
}
