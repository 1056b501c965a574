import CV4L2
import FERVision
import Foundation

/// An in-memory V4L2 capture driver, for testing capture without hardware. Test support only: it lives
/// outside the FERVision product, and the shipped binary never links it.
///
/// It behaves like a driver as the V4L2 specification describes one: it answers QUERYCAP, ENUM_FMT,
/// ENUM_FRAMESIZES, S_FMT (adjusting the size to the nearest it has), S_PARM/G_PARM, REQBUFS, QUERYBUF,
/// mmap, QBUF/DQBUF (EAGAIN when nothing is ready) and STREAMON/STREAMOFF, and fills buffers with the
/// frames it is given in the negotiated format, stamped with the monotonic clock. It checks what a client
/// does against the protocol (call order, arguments, buffer ownership) and lists every breach in
/// `violations`. `faults` make chosen calls fail with an errno; `unplug(afterFrames:)` makes the device
/// vanish mid-stream as an unplugged USB camera does (ENODEV, poll error).
public final class SimulatedCamera: VideoDeviceSystem {
    /// The calls a client can make, for fault injection and the call log.
    public enum Call: String, Sendable {
        case open, close, map, unmap, poll
        case queryCapability, enumerateFormats, enumerateFrameSizes, getFormat, setFormat, getParameters, setParameters
        case requestBuffers, queryBuffer, queueBuffer, dequeueBuffer, streamOn, streamOff
    }

    /// Makes the `occurrence`-th call of a kind (counting from 1) and the `count - 1` after it fail.
    public struct Fault: Sendable {
        public let call: Call, occurrence: Int, code: Int32, count: Int
        public init(_ call: Call, occurrence: Int = 1, code: Int32, count: Int = 1) {
            self.call = call
            self.occurrence = occurrence
            self.code = code
            self.count = count
        }
    }

    /// A format the driver offers, with its discrete frame sizes.
    public struct Format: Sendable {
        public let pixelFormat: PixelFormat
        public let sizes: [(width: Int, height: Int)]
        public init(_ pixelFormat: PixelFormat, sizes: [(width: Int, height: Int)]) {
            self.pixelFormat = pixelFormat
            self.sizes = sizes
        }
    }

    public let path: String
    public var card = "fer-live simulated camera"
    public var driver = "fer-live-sim"
    public var canCapture = true, canStream = true
    public var formats: [Format]
    /// Whether the driver has frame-rate control (S_PARM); the rate it runs at is capped at `maxFrameRate`.
    public var hasFrameRateControl = true
    public var maxFrameRate = 30.0
    /// Most buffers REQBUFS grants.
    public var maxBuffers = 8
    /// Release frames at the frame rate in real time (a camera) rather than whenever asked (a test).
    public var paced = false
    /// Marks the n-th delivered frame (from 0) as corrupt (V4L2_BUF_FLAG_ERROR).
    public var corruptFrames: Set<Int> = []
    public var faults: [Fault] = []

    /// Every call in order.
    public private(set) var calls: [Call] = []
    /// Every breach of the capture protocol seen.
    public private(set) var violations: [String] = []
    /// Frames handed out by DQBUF.
    public private(set) var deliveredFrames = 0

    private let frameSource: (_ index: Int, _ width: Int, _ height: Int) -> ByteImage?
    private let clock: () -> Double
    private var counts: [Call: Int] = [:]
    private var descriptor: Int32?
    private var current: (format: PixelFormat, width: Int, height: Int)
    private var frameRate: Double
    private var buffers: [SimulatedBuffer] = []
    private var retired: [SimulatedBuffer] = []
    private var upcoming: (index: Int, image: ByteImage)?
    private var streaming = false
    private var nextFrameTime = 0.0
    private var unplugAfter: Int?
    private var isUnplugged = false
    private static let pageSize = 4096

    private final class SimulatedBuffer {
        let memory: UnsafeMutableRawPointer
        let length: Int
        var mapped = false, queued = false
        init(length: Int) {
            self.length = length
            memory = .allocate(byteCount: length, alignment: 64)
        }
        deinit { memory.deallocate() }
    }

    /// - Parameter frames: the frame to deliver as the `index`-th (from 0), at the negotiated size; nil
    ///   when there are no more (the driver then has nothing to deliver, as a camera with its lens covered).
    public init(path: String = "/dev/video0",
                formats: [Format] = [Format(.yuv420, sizes: [(640, 480), (320, 240), (1280, 720)])],
                clock: @escaping () -> Double = MonotonicClock.seconds,
                frames: @escaping (_ index: Int, _ width: Int, _ height: Int) -> ByteImage?) {
        self.path = path
        self.formats = formats
        self.clock = clock
        self.frameSource = frames
        let first = formats.first
        current = (first?.pixelFormat ?? .yuv420, first?.sizes.first?.width ?? 640, first?.sizes.first?.height ?? 480)
        frameRate = maxFrameRate
    }

    /// After `count` more frames the device is gone: every call fails with ENODEV and poll reports an error.
    public func unplug(afterFrames count: Int) { unplugAfter = deliveredFrames + count }

    // MARK: VideoDeviceSystem

    public func open(_ path: String) throws(SystemCallError) -> Int32 {
        try enter(.open)
        guard path == self.path else { throw SystemCallError(ENOENT) }
        guard descriptor == nil else { throw SystemCallError(EBUSY) }   // one client at a time, like most cameras
        descriptor = 42
        return 42
    }

    public func close(_ descriptor: Int32) {
        calls.append(.close)
        guard descriptor == self.descriptor else { return violation("close of descriptor \(descriptor), which is not open") }
        let mapped = buffers.filter(\.mapped).count
        if mapped > 0 { violation("closed with \(mapped) buffers still mapped") }
        streaming = false
        self.descriptor = nil
        // Closing frees the buffers (one still mapped by a careless client stays alive, as the kernel keeps it).
        retired += buffers.filter(\.mapped)
        buffers = []
    }

    public func map(_ descriptor: Int32, length: Int, offset: Int) throws(SystemCallError) -> UnsafeMutableRawPointer {
        try enter(.map, descriptor)
        guard offset % Self.pageSize == 0, offset / Self.pageSize < buffers.count else {
            violation("mmap at offset \(offset), which VIDIOC_QUERYBUF never returned")
            throw SystemCallError(EINVAL)
        }
        let buffer = buffers[offset / Self.pageSize]
        guard length == buffer.length else {
            violation("mmap of \(length) bytes for a buffer of \(buffer.length)")
            throw SystemCallError(EINVAL)
        }
        buffer.mapped = true
        return buffer.memory
    }

    public func unmap(_ address: UnsafeMutableRawPointer, length: Int) {
        calls.append(.unmap)
        guard let buffer = buffers.first(where: { $0.memory == address && $0.mapped }) else {
            return violation("munmap of an address that is not a mapped buffer")
        }
        if length != buffer.length { violation("munmap of \(length) bytes for a buffer of \(buffer.length)") }
        buffer.mapped = false
    }

    public func poll(_ descriptor: Int32, timeout: Double) throws(SystemCallError) -> PollOutcome {
        try enter(.poll, descriptor)
        guard streaming, !isUnplugged else { return .failed }
        guard buffers.contains(where: \.queued), frameAvailable else {
            if paced { Thread.sleep(forTimeInterval: timeout) }
            return .timedOut
        }
        if paced {
            let wait = nextFrameTime - clock()
            if wait > timeout {
                Thread.sleep(forTimeInterval: timeout)
                return .timedOut
            }
            if wait > 0 { Thread.sleep(forTimeInterval: wait) }
        }
        return .readable
    }

    public func deviceNodes() -> [String] { isUnplugged ? [] : [path] }

    public func ioctl(_ descriptor: Int32, _ request: UInt, _ argument: UnsafeMutableRawPointer) throws(SystemCallError) {
        switch request {
        case CV4L2_VIDIOC_QUERYCAP: try queryCapability(descriptor, argument.assumingMemoryBound(to: v4l2_capability.self))
        case CV4L2_VIDIOC_ENUM_FMT: try enumerateFormats(descriptor, argument.assumingMemoryBound(to: v4l2_fmtdesc.self))
        case CV4L2_VIDIOC_ENUM_FRAMESIZES:
            try enumerateFrameSizes(descriptor, argument.assumingMemoryBound(to: v4l2_frmsizeenum.self))
        case CV4L2_VIDIOC_G_FMT:
            try enter(.getFormat, descriptor)
            try fill(argument.assumingMemoryBound(to: v4l2_format.self))
        case CV4L2_VIDIOC_S_FMT: try setFormat(descriptor, argument.assumingMemoryBound(to: v4l2_format.self))
        case CV4L2_VIDIOC_G_PARM, CV4L2_VIDIOC_S_PARM:
            try parameters(descriptor, argument.assumingMemoryBound(to: v4l2_streamparm.self), set: request == CV4L2_VIDIOC_S_PARM)
        case CV4L2_VIDIOC_REQBUFS: try requestBuffers(descriptor, argument.assumingMemoryBound(to: v4l2_requestbuffers.self))
        case CV4L2_VIDIOC_QUERYBUF: try queryBuffer(descriptor, argument.assumingMemoryBound(to: v4l2_buffer.self))
        case CV4L2_VIDIOC_QBUF: try queueBuffer(descriptor, argument.assumingMemoryBound(to: v4l2_buffer.self))
        case CV4L2_VIDIOC_DQBUF: try dequeueBuffer(descriptor, argument.assumingMemoryBound(to: v4l2_buffer.self))
        case CV4L2_VIDIOC_STREAMON, CV4L2_VIDIOC_STREAMOFF:
            try stream(descriptor, argument.assumingMemoryBound(to: Int32.self), on: request == CV4L2_VIDIOC_STREAMON)
        default:
            violation("unexpected ioctl request \(String(request, radix: 16))")
            throw SystemCallError(ENOTTY)
        }
    }

    // MARK: Requests

    private func queryCapability(_ descriptor: Int32, _ capability: UnsafeMutablePointer<v4l2_capability>) throws(SystemCallError) {
        try enter(.queryCapability, descriptor)
        capability.pointee = v4l2_capability()
        Self.copy(driver, into: &capability.pointee.driver)
        Self.copy(card, into: &capability.pointee.card)
        Self.copy("platform:\(driver)", into: &capability.pointee.bus_info)
        var caps: UInt32 = 0
        if canCapture { caps |= UInt32(V4L2_CAP_VIDEO_CAPTURE) }
        if canStream { caps |= UInt32(V4L2_CAP_STREAMING) }
        capability.pointee.device_caps = caps
        capability.pointee.capabilities = caps | UInt32(V4L2_CAP_DEVICE_CAPS)
    }

    private func enumerateFormats(_ descriptor: Int32, _ description: UnsafeMutablePointer<v4l2_fmtdesc>) throws(SystemCallError) {
        try enter(.enumerateFormats, descriptor)
        try expectCaptureType(description.pointee.type, "VIDIOC_ENUM_FMT")
        let index = Int(description.pointee.index)
        guard index < formats.count else { throw SystemCallError(EINVAL) }
        description.pointee.pixelformat = formats[index].pixelFormat.code
        description.pointee.flags = 0
        Self.copy("simulated \(formats[index].pixelFormat)", into: &description.pointee.description)
    }

    private func enumerateFrameSizes(_ descriptor: Int32, _ size: UnsafeMutablePointer<v4l2_frmsizeenum>) throws(SystemCallError) {
        try enter(.enumerateFrameSizes, descriptor)
        guard let format = formats.first(where: { $0.pixelFormat.code == size.pointee.pixel_format }),
              Int(size.pointee.index) < format.sizes.count else { throw SystemCallError(EINVAL) }
        let chosen = format.sizes[Int(size.pointee.index)]
        size.pointee.type = V4L2_FRMSIZE_TYPE_DISCRETE.rawValue
        size.pointee.discrete = v4l2_frmsize_discrete(width: UInt32(chosen.width), height: UInt32(chosen.height))
    }

    private func setFormat(_ descriptor: Int32, _ format: UnsafeMutablePointer<v4l2_format>) throws(SystemCallError) {
        try enter(.setFormat, descriptor)
        try expectCaptureType(format.pointee.type, "VIDIOC_S_FMT")
        guard buffers.isEmpty else { throw SystemCallError(EBUSY) }   // the spec: no format change with buffers allocated
        // Like a real driver, S_FMT never refuses: it adjusts to the nearest format and size it has.
        let requested = format.pointee.fmt.pix
        guard let chosen = formats.first(where: { $0.pixelFormat.code == requested.pixelformat }) ?? formats.first else {
            throw SystemCallError(EINVAL)
        }
        let size = chosen.sizes.min { lhs, rhs in
            abs(lhs.width * lhs.height - Int(requested.width) * Int(requested.height))
                < abs(rhs.width * rhs.height - Int(requested.width) * Int(requested.height))
        } ?? (640, 480)
        current = (chosen.pixelFormat, size.width, size.height)
        try fill(format)
    }

    private func fill(_ format: UnsafeMutablePointer<v4l2_format>) throws(SystemCallError) {
        try expectCaptureType(format.pointee.type, "VIDIOC_G_FMT")
        var pix = v4l2_pix_format()
        pix.width = UInt32(current.width)
        pix.height = UInt32(current.height)
        pix.pixelformat = current.format.code
        pix.field = V4L2_FIELD_NONE.rawValue
        pix.bytesperline = UInt32(bytesPerLine)
        pix.sizeimage = UInt32(imageSize)
        format.pointee.fmt.pix = pix
    }

    private func parameters(_ descriptor: Int32, _ parameters: UnsafeMutablePointer<v4l2_streamparm>, set: Bool) throws(SystemCallError) {
        try enter(set ? .setParameters : .getParameters, descriptor)
        try expectCaptureType(parameters.pointee.type, set ? "VIDIOC_S_PARM" : "VIDIOC_G_PARM")
        guard hasFrameRateControl else { throw SystemCallError(ENOTTY) }
        if set {
            let period = parameters.pointee.parm.capture.timeperframe
            guard period.numerator > 0, period.denominator > 0 else { throw SystemCallError(EINVAL) }
            frameRate = min(maxFrameRate, max(1, (Double(period.denominator) / Double(period.numerator)).rounded()))
        }
        parameters.pointee.parm.capture.capability = UInt32(V4L2_CAP_TIMEPERFRAME)
        parameters.pointee.parm.capture.timeperframe = v4l2_fract(numerator: 1, denominator: UInt32(frameRate))
    }

    private func requestBuffers(_ descriptor: Int32, _ request: UnsafeMutablePointer<v4l2_requestbuffers>) throws(SystemCallError) {
        try enter(.requestBuffers, descriptor)
        try expectCaptureType(request.pointee.type, "VIDIOC_REQBUFS")
        guard request.pointee.memory == V4L2_MEMORY_MMAP.rawValue else { throw SystemCallError(EINVAL) }
        guard !streaming, !buffers.contains(where: \.mapped) else { throw SystemCallError(EBUSY) }
        let count = request.pointee.count == 0 ? 0 : min(max(Int(request.pointee.count), 2), maxBuffers)
        buffers = (0..<count).map { _ in SimulatedBuffer(length: imageSize) }
        request.pointee.count = UInt32(count)
    }

    private func queryBuffer(_ descriptor: Int32, _ buffer: UnsafeMutablePointer<v4l2_buffer>) throws(SystemCallError) {
        try enter(.queryBuffer, descriptor)
        let entry = try checkedBuffer(buffer, "VIDIOC_QUERYBUF")
        buffer.pointee.length = UInt32(entry.length)
        buffer.pointee.m.offset = UInt32(Int(buffer.pointee.index) * Self.pageSize)
        buffer.pointee.flags = (entry.mapped ? UInt32(V4L2_BUF_FLAG_MAPPED) : 0) | (entry.queued ? UInt32(V4L2_BUF_FLAG_QUEUED) : 0)
    }

    private func queueBuffer(_ descriptor: Int32, _ buffer: UnsafeMutablePointer<v4l2_buffer>) throws(SystemCallError) {
        try enter(.queueBuffer, descriptor)
        let entry = try checkedBuffer(buffer, "VIDIOC_QBUF")
        guard !entry.queued else {
            violation("VIDIOC_QBUF of buffer \(buffer.pointee.index), which is already queued")
            throw SystemCallError(EINVAL)
        }
        if !entry.mapped { violation("VIDIOC_QBUF of buffer \(buffer.pointee.index) before mapping it") }
        entry.queued = true
    }

    private func dequeueBuffer(_ descriptor: Int32, _ buffer: UnsafeMutablePointer<v4l2_buffer>) throws(SystemCallError) {
        try enter(.dequeueBuffer, descriptor)
        try expectCaptureType(buffer.pointee.type, "VIDIOC_DQBUF")
        guard buffer.pointee.memory == V4L2_MEMORY_MMAP.rawValue else { throw SystemCallError(EINVAL) }
        guard streaming else {
            violation("VIDIOC_DQBUF while not streaming")
            throw SystemCallError(EINVAL)
        }
        guard let index = buffers.firstIndex(where: \.queued), frameAvailable, !paced || clock() >= nextFrameTime else {
            throw SystemCallError(EAGAIN)
        }
        guard let image = nextImage else { throw SystemCallError(EAGAIN) }
        let entry = buffers[index]
        entry.queued = false
        write(image, into: entry.memory)
        let now = clock()
        var filled = v4l2_buffer()
        filled.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        filled.memory = V4L2_MEMORY_MMAP.rawValue
        filled.index = UInt32(index)
        filled.bytesused = UInt32(imageSize)
        filled.field = V4L2_FIELD_NONE.rawValue
        filled.sequence = UInt32(deliveredFrames)
        filled.flags = UInt32(V4L2_BUF_FLAG_MAPPED) | UInt32(V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC)
            | (corruptFrames.contains(deliveredFrames) ? UInt32(V4L2_BUF_FLAG_ERROR) : 0)
        filled.timestamp = timeval(tv_sec: Int(now), tv_usec: Int((now - now.rounded(.down)) * 1e6))
        buffer.pointee = filled
        deliveredFrames += 1
        nextFrameTime = max(nextFrameTime + 1 / frameRate, now)
        if let unplugAfter, deliveredFrames >= unplugAfter { isUnplugged = true }
    }

    private func stream(_ descriptor: Int32, _ type: UnsafeMutablePointer<Int32>, on: Bool) throws(SystemCallError) {
        try enter(on ? .streamOn : .streamOff, descriptor)
        try expectCaptureType(UInt32(bitPattern: type.pointee), on ? "VIDIOC_STREAMON" : "VIDIOC_STREAMOFF")
        if on {
            guard !buffers.isEmpty else {
                violation("VIDIOC_STREAMON before VIDIOC_REQBUFS")
                throw SystemCallError(EINVAL)
            }
            if !buffers.contains(where: \.queued) { violation("VIDIOC_STREAMON with no buffer queued") }
            streaming = true
            nextFrameTime = clock()
        } else {
            // The spec: STREAMOFF returns every buffer to the application.
            streaming = false
            buffers.forEach { $0.queued = false }
        }
    }

    // MARK: Helpers

    /// Counts the call, applies the unplugged state and injected faults, and checks the descriptor.
    private func enter(_ call: Call, _ descriptor: Int32? = nil) throws(SystemCallError) {
        calls.append(call)
        let occurrence = (counts[call] ?? 0) + 1
        counts[call] = occurrence
        if isUnplugged { throw SystemCallError(call == .open ? ENOENT : ENODEV) }
        if let fault = faults.first(where: { $0.call == call && (($0.occurrence)..<($0.occurrence + $0.count)).contains(occurrence) }) {
            throw SystemCallError(fault.code)
        }
        if let descriptor, descriptor != self.descriptor {
            violation("\(call.rawValue) on descriptor \(descriptor), which is not open")
            throw SystemCallError(EBADF)
        }
    }

    private func expectCaptureType(_ type: UInt32, _ request: String) throws(SystemCallError) {
        guard type == V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue else {
            violation("\(request) with buffer type \(type), not VIDEO_CAPTURE")
            throw SystemCallError(EINVAL)
        }
    }

    private func checkedBuffer(_ buffer: UnsafeMutablePointer<v4l2_buffer>, _ request: String) throws(SystemCallError) -> SimulatedBuffer {
        try expectCaptureType(buffer.pointee.type, request)
        guard buffer.pointee.memory == V4L2_MEMORY_MMAP.rawValue else {
            violation("\(request) with memory \(buffer.pointee.memory), not MMAP")
            throw SystemCallError(EINVAL)
        }
        guard Int(buffer.pointee.index) < buffers.count else {
            violation("\(request) of buffer \(buffer.pointee.index); only \(buffers.count) exist")
            throw SystemCallError(EINVAL)
        }
        return buffers[Int(buffer.pointee.index)]
    }

    private var frameAvailable: Bool { nextImage != nil }

    /// The frame DQBUF delivers next, asked of the frame source once.
    private var nextImage: ByteImage? {
        if let upcoming, upcoming.index == deliveredFrames { return upcoming.image }
        guard let image = frameSource(deliveredFrames, current.width, current.height) else { return nil }
        upcoming = (deliveredFrames, image)
        return image
    }

    private var bytesPerLine: Int {
        switch current.format {
        case .yuyv: return current.width * 2
        case .rgb24: return current.width * 3
        default: return current.width
        }
    }

    private var imageSize: Int {
        current.format == .yuv420 ? current.width * current.height * 3 / 2 : bytesPerLine * current.height
    }

    /// The gray frame in the negotiated format (chroma neutral), scaled to the negotiated size if needed.
    private func write(_ frame: ByteImage, into memory: UnsafeMutableRawPointer) {
        let (width, height) = (current.width, current.height)
        let gray = frame.grayscale()
        let out = memory.bindMemory(to: UInt8.self, capacity: imageSize)
        for y in 0..<height {
            for x in 0..<width {
                let value = gray.pixels[(y * gray.height / height) * gray.width + x * gray.width / width]
                switch current.format {
                case .yuyv:
                    out[y * bytesPerLine + 2 * x] = value
                    out[y * bytesPerLine + 2 * x + 1] = 128
                case .rgb24:
                    for c in 0..<3 { out[y * bytesPerLine + 3 * x + c] = value }
                default: out[y * bytesPerLine + x] = value
                }
            }
        }
        if current.format == .yuv420 { (out + width * height).update(repeating: 128, count: width * height / 2) }
    }

    private func violation(_ text: String) { violations.append(text) }

    private static func copy<T>(_ text: String, into field: inout T) {
        withUnsafeMutableBytes(of: &field) { bytes in
            bytes.initializeMemory(as: UInt8.self, repeating: 0)
            for (i, byte) in text.utf8.prefix(bytes.count - 1).enumerated() { bytes[i] = byte }
        }
    }
}
