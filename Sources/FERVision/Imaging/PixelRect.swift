import Foundation

/// A rectangle in image pixels: origin at the top-left corner, y down.
public struct PixelRect: Equatable, Hashable, Sendable {
    public var x: Int, y: Int, width: Int, height: Int

    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }

    /// The largest square centered in a `width` x `height` image (odd leftovers go right and down).
    public static func centerSquare(width: Int, height: Int) -> PixelRect {
        let side = min(width, height)
        return PixelRect(x: (width - side) / 2, y: (height - side) / 2, width: side, height: side)
    }

    /// The part of this rectangle inside a `width` x `height` image (possibly empty).
    public func clamped(toWidth width: Int, height: Int) -> PixelRect {
        let left = max(0, x), top = max(0, y)
        let right = min(width, x + self.width), bottom = min(height, y + self.height)
        return PixelRect(x: left, y: top, width: max(0, right - left), height: max(0, bottom - top))
    }

    /// Intersection over union with another rectangle (0 when they do not overlap).
    public func overlap(with other: PixelRect) -> Double {
        let width = max(0, min(x + self.width, other.x + other.width) - max(x, other.x))
        let height = max(0, min(y + self.height, other.y + other.height) - max(y, other.y))
        let intersection = width * height
        guard intersection > 0 else { return 0 }
        return Double(intersection) / Double(self.width * self.height + other.width * other.height - intersection)
    }

    /// The square around this box grown by `margin` (a fraction of its side) on every side, moved to lie
    /// inside a `width` x `height` frame where it fits, else clamped.
    public func squareCrop(margin: Double, frameWidth width: Int, frameHeight height: Int) -> PixelRect {
        let side = Int((Double(max(self.width, self.height)) * (1 + 2 * margin)).rounded())
        let fitted = min(side, width, height)
        let centerX = x + self.width / 2, centerY = y + self.height / 2
        let left = min(max(0, centerX - fitted / 2), width - fitted)
        let top = min(max(0, centerY - fitted / 2), height - fitted)
        return PixelRect(x: left, y: top, width: fitted, height: fitted)
    }
}
