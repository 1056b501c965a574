import FERVision

/// What the overlay is drawn on: the SDL window, or `SoftwareCanvas` (pixels in memory, for annotated
/// videos, no display needed). Canvas pixels, origin top-left.
protocol OverlayCanvas: AnyObject {
    func clear(_ color: (UInt8, UInt8, UInt8))
    func fill(_ rect: PixelRect, _ color: (UInt8, UInt8, UInt8))
    /// A frame scaled into `rect`: its gray with its colour (`chroma`), or gray alone, or an RGB image.
    func draw(_ image: ByteImage, chroma: ChromaPlanes?, in rect: PixelRect)
    /// Text with its top-left at (x, y), vertically centered in `height` when given, or ending at x with
    /// `alignRight`; returns its width (0 when no font could be opened).
    @discardableResult
    func text(_ string: String, x: Int, y: Int, size: Int32, color: (UInt8, UInt8, UInt8), centeredIn height: Int?, alignRight: Bool) -> Int
}

extension OverlayCanvas {
    /// An outline `thickness` pixels wide, inside `rect`.
    func outline(_ rect: PixelRect, _ color: (UInt8, UInt8, UInt8), thickness: Int) {
        let t = min(thickness, rect.width / 2, rect.height / 2)
        fill(PixelRect(x: rect.x, y: rect.y, width: rect.width, height: t), color)
        fill(PixelRect(x: rect.x, y: rect.y + rect.height - t, width: rect.width, height: t), color)
        fill(PixelRect(x: rect.x, y: rect.y, width: t, height: rect.height), color)
        fill(PixelRect(x: rect.x + rect.width - t, y: rect.y, width: t, height: rect.height), color)
    }

    @discardableResult
    func text(_ string: String, x: Int, y: Int, size: Int32, color: (UInt8, UInt8, UInt8), centeredIn height: Int? = nil) -> Int {
        text(string, x: x, y: y, size: size, color: color, centeredIn: height, alignRight: false)
    }
}
