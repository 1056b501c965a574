import FERVision

/// Where everything goes in the window, in canvas pixels (rectangles as `PixelRect`s of the canvas): the
/// frame on the left, a panel on the right with, per face slot, the emotion label and one bar per class,
/// and the HUD below.
///
/// Pure geometry, shared by the renderer and the screenshot tests. The canvas keeps this size whatever
/// the window's: SDL scales it uniformly and letterboxes, so resizing never distorts. One slot (the
/// center crop) gets large type; several (found faces) share the panel in compact rows.
public struct OverlayLayout: Equatable, Sendable {
    public static let panelWidth = 320
    public static let minimumHeight = 400
    /// Frames larger than this are shown scaled down.
    public static let largestFrame = (width: 960, height: 720)

    /// Sizes of one slot's parts.
    struct Metrics: Equatable, Sendable {
        let labelHeight: Int, rowHeight: Int, barHeight: Int, labelFont: Int32, nameFont: Int32
    }
    static let large = Metrics(labelHeight: 40, rowHeight: 34, barHeight: 18, labelFont: 28, nameFont: 16)
    static let compact = Metrics(labelHeight: 26, rowHeight: 19, barHeight: 11, labelFont: 18, nameFont: 13)
    static let margin = 16, nameWidth = 84, percentWidth = 56, hudHeight = 80

    public let canvasWidth: Int, canvasHeight: Int
    /// Where the frame is drawn.
    public let frame: PixelRect
    /// The frame's scale on the canvas (1 for frames up to `largestFrame`).
    public let frameScale: Double
    public let classCount: Int
    /// How many faces the panel has room for.
    public let faceSlots: Int
    /// fps, inference time, latency and drops.
    public let hud: PixelRect
    let metrics: Metrics

    public init(frameWidth: Int, frameHeight: Int, classCount: Int, faceSlots: Int = 1) {
        let scale = min(1, Double(Self.largestFrame.width) / Double(max(frameWidth, 1)),
                        Double(Self.largestFrame.height) / Double(max(frameHeight, 1)))
        let shownWidth = max(1, Int((Double(frameWidth) * scale).rounded()))
        let shownHeight = max(1, Int((Double(frameHeight) * scale).rounded()))
        metrics = faceSlots > 1 ? Self.compact : Self.large
        self.faceSlots = max(1, faceSlots)
        self.classCount = classCount
        let slotHeight = metrics.labelHeight + Self.margin + classCount * metrics.rowHeight
        let panelHeight = Self.margin + self.faceSlots * (slotHeight + Self.margin) + Self.margin + Self.hudHeight
        canvasHeight = max(shownHeight, Self.minimumHeight, panelHeight)
        canvasWidth = shownWidth + Self.panelWidth
        frame = PixelRect(x: 0, y: (canvasHeight - shownHeight) / 2, width: shownWidth, height: shownHeight)
        frameScale = scale
        hud = PixelRect(x: shownWidth + Self.margin, y: canvasHeight - Self.margin - Self.hudHeight,
                        width: Self.panelWidth - 2 * Self.margin, height: Self.hudHeight)
    }

    /// The panel's area (right of the frame).
    public var panel: PixelRect { PixelRect(x: frame.width, y: 0, width: Self.panelWidth, height: canvasHeight) }

    private var slotHeight: Int { metrics.labelHeight + Self.margin + classCount * metrics.rowHeight }

    /// The emotion label (with its confidence) of face slot `slot`.
    public func label(slot: Int = 0) -> PixelRect {
        PixelRect(x: frame.width + Self.margin, y: Self.margin + slot * (slotHeight + Self.margin),
                  width: Self.panelWidth - 2 * Self.margin, height: metrics.labelHeight)
    }

    private func rowTop(_ index: Int, slot: Int) -> Int {
        let label = label(slot: slot)
        return label.y + label.height + Self.margin / 2 + index * metrics.rowHeight
    }

    /// The class name of row `index`.
    public func name(_ index: Int, slot: Int = 0) -> PixelRect {
        PixelRect(x: label(slot: slot).x, y: rowTop(index, slot: slot), width: Self.nameWidth, height: metrics.rowHeight - 4)
    }

    /// The full-length track of bar `index` (probability 1 fills it).
    public func track(_ index: Int, slot: Int = 0) -> PixelRect {
        let label = label(slot: slot), x = label.x + Self.nameWidth
        return PixelRect(x: x, y: rowTop(index, slot: slot) + (metrics.rowHeight - 4 - metrics.barHeight) / 2,
                         width: label.x + label.width - Self.percentWidth - x, height: metrics.barHeight)
    }

    /// The filled part of bar `index` for a probability: exactly proportional, rounded to whole pixels.
    public func bar(_ index: Int, probability: Float, slot: Int = 0) -> PixelRect {
        var rect = track(index, slot: slot)
        rect.width = Int((Double(max(0, min(1, probability))) * Double(rect.width)).rounded())
        return rect
    }

    /// The percentage right of bar `index`.
    public func percent(_ index: Int, slot: Int = 0) -> PixelRect {
        let track = track(index, slot: slot)
        return PixelRect(x: track.x + track.width + 6, y: rowTop(index, slot: slot), width: Self.percentWidth - 6,
                         height: metrics.rowHeight - 4)
    }

    /// A rectangle of frame pixels (a face's box) on the canvas.
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
