import CSDL2
import FERVision
import Foundation

/// A resizable SDL window with a renderer, owned by Swift: the drawing primitives the overlay needs
/// (rectangles, a frame in colour or gray, text) and reading back what was drawn. Main thread only, which the
/// type states: SDL's video calls must come from the thread that initialized it.
@MainActor
final class SDLWindow: @MainActor OverlayCanvas {
    /// What the user did since the last call.
    enum Input: Equatable {
        case quit, togglePause, screenshot, toggleRecording, exposed
    }

    private let window: OpaquePointer
    private let renderer: OpaquePointer
    private var frameTexture: OpaquePointer?
    private var frameTextureSize = (width: 0, height: 0)
    private var neutral: ChromaPlanes?
    private var fonts: [Int32: OpaquePointer] = [:]
    private let fontPath: String?
    private var textCache: [String: (texture: OpaquePointer, width: Int32, height: Int32)] = [:]
    private(set) var width: Int, height: Int

    /// Opens a window of `width` x `height` canvas pixels. `fontPath` nil draws no text.
    init(title: String, width: Int, height: Int, fontPath: String?) throws(WindowError) {
        // Without a display SDL falls back to an invisible offscreen driver: say so instead of showing nothing.
        let environment = ProcessInfo.processInfo.environment
        let chosenDriver = environment["SDL_VIDEODRIVER"].flatMap { $0.isEmpty ? nil : $0 }
        if chosenDriver == nil, [environment["DISPLAY"], environment["WAYLAND_DISPLAY"]].allSatisfy({ ($0 ?? "").isEmpty }) {
            throw WindowError("cannot open a window: no display (DISPLAY and WAYLAND_DISPLAY are unset); run with --headless")
        }
        SDL_SetMainReady()
        guard SDL_Init(UInt32(SDL_INIT_VIDEO)) == 0 else {
            throw WindowError("cannot open a window: \(Self.lastError) (no display? run with --headless)")
        }
        let driver = String(cString: SDL_GetCurrentVideoDriver())
        if chosenDriver == nil, driver == "offscreen" || driver == "dummy" {
            SDL_Quit()
            throw WindowError("cannot open a window: the display cannot be reached; run with --headless")
        }
        _ = SDL_SetHint(SDL_HINT_RENDER_SCALE_QUALITY, "1")
        // Frames' YUV is full range (JPEG's), as webcams deliver it and video sources convert to it.
        SDL_SetYUVConversionMode(SDL_YUV_CONVERSION_JPEG)
        guard let window = SDL_CreateWindow(title, Int32(bitPattern: CSDL2_WINDOWPOS_CENTERED), Int32(bitPattern: CSDL2_WINDOWPOS_CENTERED),
                                            Int32(width), Int32(height), SDL_WINDOW_RESIZABLE.rawValue | SDL_WINDOW_SHOWN.rawValue) else {
            let message = Self.lastError
            SDL_Quit()
            throw WindowError("cannot open a window: \(message)")
        }
        guard let renderer = SDL_CreateRenderer(window, -1, 0) else {
            let message = Self.lastError
            SDL_DestroyWindow(window)
            SDL_Quit()
            throw WindowError("cannot draw in the window: \(message)")
        }
        // A fixed canvas SDL scales uniformly with letterboxing: resizing never distorts.
        SDL_RenderSetLogicalSize(renderer, Int32(width), Int32(height))
        self.window = window
        self.renderer = renderer
        self.width = width
        self.height = height
        if let fontPath, TTF_Init() == 0 {
            self.fontPath = fontPath
        } else {
            self.fontPath = nil
        }
    }

    private var isClosed = false

    /// Destroys the window and all SDL holds for it; nothing may be drawn afterwards. Call it on the
    /// thread that opened the window: the renderer's OpenGL context belongs to that thread, and destroyed
    /// from another one, X answers GLXBadContext, whose default Xlib handler exits the process with
    /// status 1. Closing twice does nothing.
    func close() {
        guard !isClosed else { return }
        isClosed = true
        for entry in textCache.values { SDL_DestroyTexture(entry.texture) }
        textCache.removeAll()
        if let frameTexture { SDL_DestroyTexture(frameTexture) }
        frameTexture = nil
        for font in fonts.values { TTF_CloseFont(font) }
        fonts.removeAll()
        if fontPath != nil { TTF_Quit() }
        SDL_DestroyRenderer(renderer)
        SDL_DestroyWindow(window)
        SDL_Quit()
    }

    isolated deinit { close() }

    /// Gives the canvas a new size (a frame of another size arrived) and the window the same.
    func resizeCanvas(width: Int, height: Int) {
        self.width = width
        self.height = height
        SDL_RenderSetLogicalSize(renderer, Int32(width), Int32(height))
        SDL_SetWindowSize(window, Int32(width), Int32(height))
    }

    static var lastError: String { String(cString: SDL_GetError()) }

    /// Whether text can be drawn (a font was found and opens).
    var canDrawText: Bool { font(size: 16) != nil }

    // MARK: Drawing

    func clear(_ color: (UInt8, UInt8, UInt8)) {
        SDL_SetRenderDrawColor(renderer, color.0, color.1, color.2, 255)
        SDL_RenderClear(renderer)
    }

    func fill(_ rect: PixelRect, _ color: (UInt8, UInt8, UInt8)) {
        guard rect.width > 0, rect.height > 0 else { return }
        var sdlRect = SDL_Rect(x: Int32(rect.x), y: Int32(rect.y), w: Int32(rect.width), h: Int32(rect.height))
        SDL_SetRenderDrawColor(renderer, color.0, color.1, color.2, 255)
        SDL_RenderFillRect(renderer, &sdlRect)
    }

    /// A frame scaled into `rect`, uploaded as planar YUV 4:2:0 (an IYUV texture): the gray as its Y plane
    /// and `chroma` as its U and V, or neutral planes for a gray frame. The renderer converts to RGB (on
    /// the GPU where there is one), so showing colour costs no conversion here, and the upload is three
    /// plane copies. An RGB image is split into its gray and colour first.
    func draw(_ image: ByteImage, chroma: ChromaPlanes?, in rect: PixelRect) {
        let luma = image.grayscale()
        let planes = image.channels == 3 ? ChromaPlanes(rgb: image) : chroma ?? neutralChroma(lumaWidth: luma.width, lumaHeight: luma.height)
        guard planes.lumaWidth == luma.width, planes.lumaHeight == luma.height else { return }
        if frameTexture == nil || frameTextureSize != (luma.width, luma.height) {
            if let frameTexture { SDL_DestroyTexture(frameTexture) }
            frameTexture = SDL_CreateTexture(renderer, CSDL2_PIXELFORMAT_IYUV, Int32(SDL_TEXTUREACCESS_STREAMING.rawValue),
                                             Int32(luma.width), Int32(luma.height))
            frameTextureSize = (luma.width, luma.height)
        }
        guard let frameTexture else { return }
        let uploaded = luma.pixels.withUnsafeBufferPointer { y in
            planes.u.withUnsafeBufferPointer { u in
                planes.v.withUnsafeBufferPointer { v in
                    SDL_UpdateYUVTexture(frameTexture, nil, y.baseAddress, Int32(luma.width), u.baseAddress, Int32(planes.width),
                                         v.baseAddress, Int32(planes.width))
                }
            }
        }
        guard uploaded == 0 else { return }
        var destination = SDL_Rect(x: Int32(rect.x), y: Int32(rect.y), w: Int32(rect.width), h: Int32(rect.height))
        SDL_RenderCopy(renderer, frameTexture, nil, &destination)
    }

    /// Gray frames' U and V (all 128), kept for the frame size.
    private func neutralChroma(lumaWidth: Int, lumaHeight: Int) -> ChromaPlanes {
        if let neutral, neutral.lumaWidth == lumaWidth, neutral.lumaHeight == lumaHeight { return neutral }
        let planes = ChromaPlanes.neutral(lumaWidth: lumaWidth, lumaHeight: lumaHeight)
        neutral = planes
        return planes
    }

    /// Text with its top-left at (x, y), vertically centered in `height` when given; returns its width.
    @discardableResult
    func text(_ string: String, x: Int, y: Int, size: Int32, color: (UInt8, UInt8, UInt8), centeredIn height: Int?,
              alignRight: Bool) -> Int {
        guard !string.isEmpty, let rendered = textTexture(string, size: size, color: color) else { return 0 }
        let top = height.map { y + ($0 - Int(rendered.height)) / 2 } ?? y
        let left = alignRight ? x - Int(rendered.width) : x
        var destination = SDL_Rect(x: Int32(left), y: Int32(top), w: rendered.width, h: rendered.height)
        SDL_RenderCopy(renderer, rendered.texture, nil, &destination)
        return Int(rendered.width)
    }

    /// The canvas as drawn so far (call before `present`), as RGB at the window's pixel size.
    func readPixels() throws(WindowError) -> ByteImage {
        var outputWidth: Int32 = 0, outputHeight: Int32 = 0
        var viewport = SDL_Rect()
        SDL_RenderGetViewport(renderer, &viewport)
        guard SDL_GetRendererOutputSize(renderer, &outputWidth, &outputHeight) == 0 else {
            throw WindowError("cannot read the window: \(Self.lastError)")
        }
        let width = Int(outputWidth), height = Int(outputHeight)
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        // Read the whole output: the logical viewport would crop the letterbox bars of a resized window.
        SDL_RenderSetViewport(renderer, nil)
        let status = pixels.withUnsafeMutableBytes {
            SDL_RenderReadPixels(renderer, nil, CSDL2_PIXELFORMAT_RGB24, $0.baseAddress, Int32(width * 3))
        }
        SDL_RenderSetViewport(renderer, &viewport)
        guard status == 0 else { throw WindowError("cannot read the window: \(Self.lastError)") }
        return ByteImage(width: width, height: height, channels: 3, pixels: pixels)
    }

    func present() { SDL_RenderPresent(renderer) }

    // MARK: Events

    /// What the user asked for since the last call (does not wait).
    func pendingInput() -> [Input] {
        var inputs: [Input] = []
        var event = SDL_Event()
        while SDL_PollEvent(&event) == 1 {
            switch event.type {
            case SDL_QUIT.rawValue: inputs.append(.quit)
            case SDL_WINDOWEVENT.rawValue: inputs.append(.exposed)
            case SDL_KEYDOWN.rawValue:
                switch event.key.keysym.sym {
                case Int32(SDLK_q.rawValue), Int32(SDLK_ESCAPE.rawValue): inputs.append(.quit)
                case Int32(SDLK_SPACE.rawValue): inputs.append(.togglePause)
                case Int32(SDLK_s.rawValue): inputs.append(.screenshot)
                case Int32(SDLK_r.rawValue): inputs.append(.toggleRecording)
                default: break
                }
            default: break
            }
        }
        return inputs
    }

    // MARK: Private

    private func font(size: Int32) -> OpaquePointer? {
        if let font = fonts[size] { return font }
        guard let fontPath, let font = TTF_OpenFont(fontPath, size) else { return nil }
        fonts[size] = font
        return font
    }

    private func textTexture(_ string: String, size: Int32, color: (UInt8, UInt8, UInt8)) -> (texture: OpaquePointer, width: Int32, height: Int32)? {
        let key = "\(size)|\(color.0),\(color.1),\(color.2)|\(string)"
        if let cached = textCache[key] { return cached }
        guard let font = font(size: size),
              let surface = TTF_RenderUTF8_Blended(font, string, SDL_Color(r: color.0, g: color.1, b: color.2, a: 255)) else { return nil }
        defer { SDL_FreeSurface(surface) }
        guard let texture = SDL_CreateTextureFromSurface(renderer, surface) else { return nil }
        if textCache.count > 512 {
            for entry in textCache.values { SDL_DestroyTexture(entry.texture) }
            textCache.removeAll()
        }
        let entry = (texture, surface.pointee.w, surface.pointee.h)
        textCache[key] = entry
        return entry
    }
}
