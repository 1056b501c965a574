import FERVision

/// Where everything goes in the window, in canvas pixels (rectangles as `PixelRect`s of the canvas): the
/// frame on the left, a panel on the right with the emotion label, one bar per class and the HUD.
///
/// Pure geometry, shared by the renderer and the screenshot tests. The canvas keeps this size whatever
/// the window's: SDL scales it uniformly and letterboxes, so resizing never distorts.
public struct OverlayLayout: Equatable, Sendable {
    public static let panelWidth = 320
    public static let minimumHeight = 400
    /// Frames larger than this are shown scaled down.
    public static let largestFrame = (width: 960, height: 720)

    public let canvasWidth: Int, canvasHeight: Int
    /// Where the frame is drawn.
    public let frame: PixelRect
    /// The frame's scale on the canvas (1 for frames up to `largestFrame`).
    public let frameScale: Double
    /// The emotion label with its confidence.
    public let label: PixelRect
    public let classCount: Int
    /// fps, inference time, latency and drops.
    public let hud: PixelRect

    static let margin = 16, labelHeight = 40, rowHeight = 34, barHeight = 18, nameWidth = 84, percentWidth = 56

    public init(frameWidth: Int, frameHeight: Int, classCount: Int) {
        let scale = min(1, Double(Self.largestFrame.width) / Double(max(frameWidth, 1)),
                        Double(Self.largestFrame.height) / Double(max(frameHeight, 1)))
        let shownWidth = max(1, Int((Double(frameWidth) * scale).rounded()))
        let shownHeight = max(1, Int((Double(frameHeight) * scale).rounded()))
        let panelHeight = Self.margin * 3 + Self.labelHeight + classCount * Self.rowHeight + 96
        canvasHeight = max(shownHeight, Self.minimumHeight, panelHeight)
        canvasWidth = shownWidth + Self.panelWidth
        frame = PixelRect(x: 0, y: (canvasHeight - shownHeight) / 2, width: shownWidth, height: shownHeight)
        frameScale = scale
        self.classCount = classCount
        label = PixelRect(x: shownWidth + Self.margin, y: Self.margin, width: Self.panelWidth - 2 * Self.margin, height: Self.labelHeight)
        hud = PixelRect(x: shownWidth + Self.margin, y: canvasHeight - Self.margin - 80, width: Self.panelWidth - 2 * Self.margin, height: 80)
    }

    /// The panel's area (right of the frame).
    public var panel: PixelRect { PixelRect(x: frame.width, y: 0, width: Self.panelWidth, height: canvasHeight) }

    private func rowTop(_ index: Int) -> Int { label.y + label.height + Self.margin + index * Self.rowHeight }

    /// The class name of row `index`.
    public func name(_ index: Int) -> PixelRect {
        PixelRect(x: label.x, y: rowTop(index), width: Self.nameWidth, height: Self.rowHeight - 8)
    }

    /// The full-length track of bar `index` (probability 1 fills it).
    public func track(_ index: Int) -> PixelRect {
        let x = label.x + Self.nameWidth
        return PixelRect(x: x, y: rowTop(index) + (Self.rowHeight - 8 - Self.barHeight) / 2,
                          width: label.x + label.width - Self.percentWidth - x, height: Self.barHeight)
    }

    /// The filled part of bar `index` for a probability: exactly proportional, rounded to whole pixels.
    public func bar(_ index: Int, probability: Float) -> PixelRect {
        var rect = track(index)
        rect.width = Int((Double(max(0, min(1, probability))) * Double(rect.width)).rounded())
        return rect
    }

    /// The percentage right of bar `index`.
    public func percent(_ index: Int) -> PixelRect {
        let track = track(index)
        return PixelRect(x: track.x + track.width + 6, y: rowTop(index), width: Self.percentWidth - 6, height: Self.rowHeight - 8)
    }

    /// A rectangle of frame pixels (the crop box) on the canvas.
    public func onCanvas(_ rect: PixelRect) -> PixelRect {
        PixelRect(x: frame.x + Int((Double(rect.x) * frameScale).rounded()), y: frame.y + Int((Double(rect.y) * frameScale).rounded()),
                   width: Int((Double(rect.width) * frameScale).rounded()), height: Int((Double(rect.height) * frameScale).rounded()))
    }
}

/// The window's colors (RGB), shared with the screenshot tests.
public enum OverlayColors {
    public static let background: (UInt8, UInt8, UInt8) = (24, 24, 28)
    public static let panel: (UInt8, UInt8, UInt8) = (36, 36, 42)
    public static let track: (UInt8, UInt8, UInt8) = (62, 62, 70)
    public static let bar: (UInt8, UInt8, UInt8) = (70, 130, 200)
    /// The top class's bar.
    public static let topBar: (UInt8, UInt8, UInt8) = (255, 190, 40)
    public static let box: (UInt8, UInt8, UInt8) = (0, 220, 90)
    public static let text: (UInt8, UInt8, UInt8) = (235, 235, 235)
    public static let dimText: (UInt8, UInt8, UInt8) = (160, 160, 170)
}
