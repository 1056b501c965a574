import CSDL2
import FERVision

/// The overlay drawn into RGB pixels in memory: what `--annotate` encodes, with no display and no window.
/// Text comes from SDL_ttf, which renders glyphs into memory without SDL's video subsystem.
///
/// Not thread-safe: one drawer at a time.
final class SoftwareCanvas: OverlayCanvas {
    let width: Int, height: Int
    /// width * height * 3 bytes, row-major RGB.
    private(set) var pixels: [UInt8]
    private let fontPath: String?
    private var fonts: [Int32: OpaquePointer] = [:]
    /// Rendered strings: width, height and 8-bit coverage per pixel.
    private var glyphs: [String: (width: Int, height: Int, coverage: [UInt8])] = [:]

    /// A canvas of `width` x `height` pixels; `fontPath` nil (or a font that cannot be opened) draws no text.
    init(width: Int, height: Int, fontPath: String?) {
        self.width = width
        self.height = height
        pixels = [UInt8](repeating: 0, count: width * height * 3)
        self.fontPath = fontPath != nil && TTF_Init() == 0 ? fontPath : nil
    }

    deinit {
        for font in fonts.values { TTF_CloseFont(font) }
        if fontPath != nil { TTF_Quit() }
    }

    /// The canvas as an RGB image.
    var image: ByteImage { ByteImage(width: width, height: height, channels: 3, pixels: pixels) }

    func clear(_ color: (UInt8, UInt8, UInt8)) {
        for i in stride(from: 0, to: pixels.count, by: 3) { (pixels[i], pixels[i + 1], pixels[i + 2]) = color }
    }

    func fill(_ rect: PixelRect, _ color: (UInt8, UInt8, UInt8)) {
        let area = rect.clamped(toWidth: width, height: height)
        guard area.width > 0, area.height > 0 else { return }
        for y in area.y..<area.y + area.height {
            for x in area.x..<area.x + area.width {
                let i = (y * width + x) * 3
                (pixels[i], pixels[i + 1], pixels[i + 2]) = color
            }
        }
    }

    /// Nearest-neighbour scaling: the frame in an annotated video is about its own size.
    func draw(_ image: ByteImage, chroma: ChromaPlanes?, in rect: PixelRect) {
        let image = chroma.map { image.grayscale().rgb(chroma: $0) } ?? image
        guard rect.width > 0, rect.height > 0, image.width > 0, image.height > 0 else { return }
        let area = rect.clamped(toWidth: width, height: height)
        guard area.width > 0, area.height > 0 else { return }
        for y in area.y..<area.y + area.height {
            let sy = min(image.height - 1, (y - rect.y) * image.height / rect.height)
            for x in area.x..<area.x + area.width {
                let sx = min(image.width - 1, (x - rect.x) * image.width / rect.width)
                let i = (y * width + x) * 3
                if image.channels == 3 {
                    let s = (sy * image.width + sx) * 3
                    (pixels[i], pixels[i + 1], pixels[i + 2]) = (image.pixels[s], image.pixels[s + 1], image.pixels[s + 2])
                } else {
                    let v = image.pixels[sy * image.width + sx]
                    (pixels[i], pixels[i + 1], pixels[i + 2]) = (v, v, v)
                }
            }
        }
    }

    @discardableResult
    func text(_ string: String, x: Int, y: Int, size: Int32, color: (UInt8, UInt8, UInt8), centeredIn height: Int?, alignRight: Bool) -> Int {
        guard !string.isEmpty, let glyph = rendered(string, size: size) else { return 0 }
        let top = height.map { y + ($0 - glyph.height) / 2 } ?? y
        let left = alignRight ? x - glyph.width : x
        for gy in 0..<glyph.height {
            let py = top + gy
            guard py >= 0, py < self.height else { continue }
            for gx in 0..<glyph.width {
                let px = left + gx, a = Int(glyph.coverage[gy * glyph.width + gx])
                guard px >= 0, px < width, a > 0 else { continue }
                let i = (py * width + px) * 3
                pixels[i] = UInt8((Int(color.0) * a + Int(pixels[i]) * (255 - a)) / 255)
                pixels[i + 1] = UInt8((Int(color.1) * a + Int(pixels[i + 1]) * (255 - a)) / 255)
                pixels[i + 2] = UInt8((Int(color.2) * a + Int(pixels[i + 2]) * (255 - a)) / 255)
            }
        }
        return glyph.width
    }

    /// The string's coverage, from SDL_ttf's blended (anti-aliased) rendering in white: its alpha.
    private func rendered(_ string: String, size: Int32) -> (width: Int, height: Int, coverage: [UInt8])? {
        let key = "\(size)|\(string)"
        if let cached = glyphs[key] { return cached }
        guard let fontPath else { return nil }
        if fonts[size] == nil { fonts[size] = TTF_OpenFont(fontPath, size) }
        guard let font = fonts[size], let surface = TTF_RenderUTF8_Blended(font, string, SDL_Color(r: 255, g: 255, b: 255, a: 255)) else {
            return nil
        }
        // The rendered surface is freed whether or not the conversion succeeds.
        let converted = SDL_ConvertSurfaceFormat(surface, CSDL2_PIXELFORMAT_ARGB8888, 0)
        SDL_FreeSurface(surface)
        guard let converted else { return nil }
        defer { SDL_FreeSurface(converted) }
        let w = Int(converted.pointee.w), h = Int(converted.pointee.h), pitch = Int(converted.pointee.pitch)
        var coverage = [UInt8](repeating: 0, count: w * h)
        let base = converted.pointee.pixels!
        for y in 0..<h {
            let row = (base + y * pitch).assumingMemoryBound(to: UInt32.self)
            for x in 0..<w { coverage[y * w + x] = UInt8(row[x] >> 24) }
        }
        if glyphs.count > 1024 { glyphs.removeAll() }
        let entry = (w, h, coverage)
        glyphs[key] = entry
        return entry
    }
}
